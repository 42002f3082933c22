"""Writing files atomically: the file at the path is either the old one or the complete new one,
and no temporary file is left behind - after an exception, and after a real SIGTERM mid-write.

Oracle: the bytes of the old file, and the folder's listing.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from course_lib.files import check_writable, write_atomically


def test_a_complete_write_replaces_the_file(tmp_path: Path) -> None:
    path = tmp_path / "out.bin"
    path.write_bytes(b"old")
    write_atomically(path, lambda file: file.write(b"new"))
    assert path.read_bytes() == b"new"
    assert [p.name for p in tmp_path.iterdir()] == ["out.bin"]


def test_an_exception_mid_write_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    path = tmp_path / "out.bin"
    path.write_bytes(b"old")

    def half_then_fail(file: object) -> None:
        file.write(b"x" * 1000)  # type: ignore[attr-defined]
        raise UnicodeEncodeError("utf-8", "\ud800", 0, 1, "surrogates not allowed")

    with pytest.raises(UnicodeEncodeError):
        write_atomically(path, half_then_fail)
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.bin"]


WRITER = """
import sys, time
from course_lib.files import write_atomically

def slow(file):
    file.write(b"x" * 2_000_000)
    file.flush()
    print("writing", flush=True)
    time.sleep(60)  # SIGTERM arrives here

write_atomically(sys.argv[1], slow)
"""


def test_sigterm_mid_write_removes_the_temporary_file_and_keeps_the_old(tmp_path: Path) -> None:
    path = tmp_path / "model.ckpt.npz"
    path.write_bytes(b"the good old checkpoint")
    process = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None and process.stdout.readline() == "writing\n"
    assert len(list(tmp_path.iterdir())) == 2  # the temporary file is there now
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=60)
    assert process.returncode == -signal.SIGTERM  # still ends the way SIGTERM ends a process
    assert [p.name for p in tmp_path.iterdir()] == ["model.ckpt.npz"]
    assert path.read_bytes() == b"the good old checkpoint"


def test_check_writable_names_a_folder_that_does_not_exist(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="the folder .*missing does not exist"):
        check_writable(tmp_path / "missing" / "out.npz")


def test_check_writable_leaves_nothing_behind(tmp_path: Path) -> None:
    check_writable(tmp_path / "out.npz")
    assert list(tmp_path.iterdir()) == []
