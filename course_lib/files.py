"""Writing a file so that it is either all there or not changed at all.

`write_atomically(path, write)` calls `write(file)` on a temporary file in the same folder, flushes
it to disk and only then renames it over `path`: a crash, an exception or a SIGTERM in the middle
leaves the old file as it was, and the temporary file is removed.
"""

from __future__ import annotations

import contextlib
import os
import signal
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

__all__ = ["check_writable", "write_atomically"]


class _Terminated(BaseException):
    """SIGTERM arrived while a file was being written."""


@contextlib.contextmanager
def _sigterm_raises() -> Iterator[None]:
    """Turn SIGTERM into an exception while writing, so the temporary file is cleaned up; the
    signal's default action (the process ends) follows once the file is gone."""
    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread may set signal handlers
        return

    def handler(signum: int, frame: Any) -> None:
        raise _Terminated

    if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        yield  # someone else handles SIGTERM (or ignores it): leave that alone
        return
    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    except _Terminated:
        signal.signal(signal.SIGTERM, previous)
        os.kill(os.getpid(), signal.SIGTERM)  # what the process would have done
        raise SystemExit(128 + signal.SIGTERM) from None
    finally:
        signal.signal(signal.SIGTERM, previous)


def write_atomically(path: str | Path, write: Callable[[IO[bytes]], Any]) -> Path:
    """Call `write(file)` on a temporary file next to `path`, then rename it to `path`."""
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise FileNotFoundError(f"cannot write {path}: the folder {folder} does not exist")
    if path.is_dir():
        raise IsADirectoryError(f"cannot write {path}: it is a folder; give a file name")
    with _sigterm_raises():
        handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
        try:
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(temporary, 0o666 & ~umask)  # mkstemp makes it private; ours need not be
            with os.fdopen(handle, "wb") as file:
                write(file)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise
    return path


def check_writable(path: str | Path) -> None:
    """Raise an OSError that names `path` unless a file can be written there now (by creating and
    removing a temporary file in its folder); run it before work whose result goes to `path`."""
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise IsADirectoryError(f"{path} is a folder; give a file name such as {path / 'out'}")
    if not folder.is_dir():
        raise FileNotFoundError(f"cannot write {path}: the folder {folder} does not exist")
    try:
        handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
        os.close(handle)
        os.unlink(temporary)
    except OSError as error:
        reason = error.strerror or type(error).__name__
        raise type(error)(f"cannot write in the folder {folder} ({reason})") from None
    if path.exists() and not os.access(path, os.W_OK):
        raise PermissionError(f"cannot replace {path}: the file is write-protected")
