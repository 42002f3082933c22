"""The box a learner's kernel runs in: bubblewrap where it works, else nothing (with a warning).

With bubblewrap (`bwrap`, Debian's `bubblewrap`) each kernel gets its own PID namespace that dies
with the grader (`--die-with-parent`: every process the notebook starts, detached or not, goes
with it), no network, no capabilities, and a file system holding only the system libraries, the
Python installation, the course package (read-only) without its checks (`course_lib/checks` is an
empty, read-only folder there: no check objects, no check references, no check data) and a fresh
home of its own: no solutions, no other submissions, no grader output paths. Its environment is
built from a short allowlist, and resource limits (address space, file size, processes) are set
before it starts.
"""

from __future__ import annotations

import os
import resource
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

__all__ = ["Limits", "Sandbox", "bwrap_works", "hidden_folders", "kernel_environment"]

# Files of /etc a Python kernel needs (the dynamic linker's cache, users, time zone, fonts).
ETC = (
    "ld.so.cache",
    "ld.so.conf",
    "ld.so.conf.d",
    "passwd",
    "group",
    "nsswitch.conf",
    "localtime",
    "fonts",
    "alternatives",
)
SYSTEM = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
INSIDE = "/opt/course"  # where the course package appears inside the sandbox
FONTS = "/opt/course-fonts"  # the grader's matplotlib font cache, read-only, copied into home
FIRST_UID = 60000  # kernels run as FIRST_UID + (worker pid % 4096) when the grader is root
PASSED_ON = (  # host variables a kernel may see (numerics that must match the machine)
    "LANG",
    "LC_ALL",
    "OPENBLAS_CORETYPE",
    "OPENBLAS_L2_SIZE",
)


@dataclass(frozen=True)
class Limits:
    """Resource limits of one learner's kernel."""

    memory_mb: int = 4096  # address space; torch alone maps ~1 GB
    file_mb: int = 256  # largest file it may write
    processes: int = 512  # per user: holds because the kernel runs as a uid of its own
    tmp_mb: int = 256  # the sandbox's /tmp, a tmpfs of this size
    home_mb: int = 256  # the kernel's home, a tmpfs of this size (nothing on your disk)


def _apply(limits: Limits) -> None:
    """Set the limits in the child, before it runs the sandbox (a preexec_fn)."""
    mb = 2**20
    for name, value in (
        (resource.RLIMIT_AS, limits.memory_mb * mb),
        (resource.RLIMIT_FSIZE, limits.file_mb * mb),
        (resource.RLIMIT_CORE, 0),
        (resource.RLIMIT_NPROC, limits.processes),
    ):
        try:
            _, hard = resource.getrlimit(name)
            cap = value if hard == resource.RLIM_INFINITY else min(value, hard)
            resource.setrlimit(name, (cap, cap))
        except (ValueError, OSError):  # a limit this platform does not know
            pass


def _die_with_parent() -> None:
    """Ask Linux to kill this process when its parent dies (PR_SET_PDEATHSIG), so a kernel
    outside bubblewrap does not outlive a grader worker that was killed."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux: the run's cleanup is all there is
        pass


def _prepare(limits: Limits) -> None:
    _apply(limits)
    _die_with_parent()


def kernel_environment(home: Path, python_path: list[str], threads: int | None) -> dict[str, str]:
    """The kernel's whole environment: an allowlist, never the grader's own variables."""
    env = {
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), "/usr/bin", "/bin"]),
        "HOME": str(home),
        "IPYTHONDIR": str(home / ".ipython"),
        "MPLCONFIGDIR": str(home / ".matplotlib"),
        "MPLBACKEND": "agg",
        "TMPDIR": str(home / "tmp"),
        "PYTHONPATH": os.pathsep.join(python_path),
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYDEVD_DISABLE_FILE_VALIDATION": "1",
        "JUPYTER_PLATFORM_DIRS": "1",
        "TQDM_DISABLE": "1",
    }
    for name in PASSED_ON:
        if name in os.environ:
            env[name] = os.environ[name]
    if threads:
        for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            env[name] = str(threads)
    return env


@lru_cache(maxsize=1)
def bwrap_works() -> str:
    """'' when bubblewrap can start a sandbox here, else the reason it cannot."""
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        return "bubblewrap (bwrap) is not installed"
    probe = [bwrap, *_flags(), "--ro-bind", "/", "/", "true"]
    try:
        done = subprocess.run(probe, capture_output=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"bwrap does not start: {error}"
    if done.returncode != 0:
        first = (done.stderr.decode(errors="replace").strip().splitlines() or ["?"])[0]
        return f"bwrap cannot create a sandbox here ({first})"
    return ""


def _flags(drop_uid: bool = False) -> list[str]:
    """bubblewrap's options. As root with a uid to drop to: every namespace but the user one
    (a uid must exist outside to count against the process limit), and only the capabilities
    `setpriv` needs to become that uid (gone once it has)."""
    if drop_uid:
        spaces = ["--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts"]
        spaces += ["--unshare-cgroup-try"]
    else:
        spaces = ["--unshare-all"]
    flags = [*spaces, "--die-with-parent", "--new-session", "--hostname", "grading"]
    if os.geteuid() == 0:
        flags += ["--cap-drop", "ALL"]
    if drop_uid:
        flags += ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID", "--cap-add", "CAP_SETPCAP"]
    return flags


def hidden_folders(prefixes: set[Path]) -> list[str]:
    """The folders a sandboxed kernel sees empty: the checks of the package it imports, and of any
    copy of `course_lib` installed inside the Python installation (`prefixes`) it can see."""
    found = [f"{INSIDE}/course_lib/checks"]
    for entry in sys.path:
        try:
            folder = Path(entry).resolve() / "course_lib" / "checks"
            inside = any(p == folder or p in folder.parents for p in prefixes)
            if inside and folder.is_dir() and str(folder) not in found:
                found.append(str(folder))
        except (OSError, ValueError):
            continue
    return found


@dataclass
class Sandbox:
    """How to start one learner's kernel: inside bwrap, or (`kind="none"`) as a plain process."""

    kind: str  # "bwrap" or "none"
    package: Path  # the `course_lib` package folder
    extra_paths: tuple[Path, ...] = ()  # more import folders the chapter's checks need
    limits: Limits = field(default_factory=Limits)

    @property
    def uid(self) -> int | None:
        """The uid the kernel runs as when the grader is root: one of its own per worker
        process, so the process limit (ignored for root) holds. None: the caller's uid."""
        if self.kind != "bwrap" or os.geteuid() != 0 or shutil.which("setpriv") is None:
            return None
        return FIRST_UID + os.getpid() % 4096

    def prepare(self, *folders: Path) -> None:
        """Give the kernel's uid the folders it writes on the host (the sockets' folder)."""
        uid = self.uid
        if uid is None:
            return
        for folder in folders:
            for path in [folder, *folder.rglob("*")]:
                os.chown(path, uid, uid, follow_symlinks=False)

    def seal(self, folder: Path) -> None:
        """Once the kernel is up: the sockets' folder and the files in it back to the grader's
        uid and read-only for the kernel (its sockets keep working), so the one host folder it
        could write holds nothing it wrote."""
        if self.uid is None:
            return
        for path in [folder, *folder.iterdir()]:
            os.chown(path, 0, 0, follow_symlinks=False)
            if path.is_dir() and not path.is_symlink():
                os.chmod(path, 0o755)
            elif path.is_file() and not path.is_symlink():
                os.chmod(path, 0o644)

    def command(
        self, argv: list[str], home: Path, comm: Path, fonts: Path | None = None
    ) -> list[str]:
        """The command line that runs `argv` in the box. `home` is a size-limited tmpfs (with a
        copy of `fonts` in it), `comm` (the sockets) the only host folder it can write."""
        if self.kind == "none":
            return argv
        uid = self.uid
        mb = 2**20
        made: set[str] = {"/"}
        cmd = ["bwrap", *_flags(uid is not None), "--dev", "/dev", "--proc", "/proc"]
        cmd += ["--perms", "01777", "--size", str(self.limits.tmp_mb * mb), "--tmpfs", "/tmp"]
        made.add("/tmp")

        def bind(kind: str, source: str, target: str) -> None:
            # Folders above a bound path are made world-readable: the kernel's own uid must
            # get through them (bubblewrap would copy a 0700 /root, say).
            for parent in reversed(Path(target).parents):
                if str(parent) not in made:
                    cmd.extend(["--perms", "0755", "--dir", str(parent)])
                    made.add(str(parent))
            cmd.extend([kind, source, target])
            made.add(target)

        for path in SYSTEM:
            cmd += ["--ro-bind-try", path, path]
            made.add(path)
        for name in ETC:
            cmd += ["--ro-bind-try", f"/etc/{name}", f"/etc/{name}"]
        made.add("/etc")
        prefixes = {Path(sys.base_prefix).resolve(), Path(sys.prefix)}
        real = Path(sys.prefix).resolve()
        for prefix in sorted(prefixes | {real}):
            bind("--ro-bind", str(prefix), str(prefix))
        # Only the package, at a neutral place: not the repository around it (solutions/).
        bind("--ro-bind", str(self.package), f"{INSIDE}/course_lib")
        for folder in hidden_folders(prefixes | {real}):
            cmd += ["--perms", "0555", "--tmpfs", folder, "--remount-ro", folder]
        for path in self.extra_paths:
            bind("--ro-bind", str(path), str(path))
        for parent in reversed(home.parents):
            if str(parent) not in made:
                cmd.extend(["--perms", "0755", "--dir", str(parent)])
                made.add(str(parent))
        cmd += ["--perms", "01777", "--size", str(self.limits.home_mb * mb), "--tmpfs", str(home)]
        for sub in ("work", "tmp", ".ipython"):
            cmd += ["--perms", "01777", "--dir", str(home / sub)]
        made.add(str(home))
        bind("--bind", str(comm), str(comm))
        if fonts is not None:
            bind("--ro-bind", str(fonts), FONTS)
            copy = f'cp -r {FONTS} "$HOME/.matplotlib" 2>/dev/null; exec "$@"'
            argv = ["/bin/sh", "-c", copy, "sh", *argv]
        if uid is not None:
            drop = [f"--reuid={uid}", f"--regid={uid}", "--clear-groups"]
            argv = ["setpriv", *drop, "--inh-caps=-all", "--bounding-set=-all", "--", *argv]
        cmd += ["--chdir", str(home / "work")]
        return cmd + ["--", *argv]

    def python_path(self) -> list[str]:
        """The kernel's import folders, as the kernel sees them."""
        root = INSIDE if self.kind == "bwrap" else str(self.package.parent)
        return [root, *(str(p) for p in self.extra_paths)]

    def popen(
        self,
        argv: list[str],
        home: Path,
        comm: Path,
        env: dict[str, str],
        fonts: Path | None = None,
    ) -> subprocess.Popen:
        """Start `argv` in the box with `env` and the limits; output is discarded."""
        return subprocess.Popen(
            self.command(argv, home, comm, fonts),
            env=env,
            cwd=str(home / "work"),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=lambda: _prepare(self.limits),  # noqa: PLW1509 - limits need a preexec
        )

    def describe(self) -> str:
        """One line for the instructor: what is contained."""
        if self.kind == "bwrap":
            who = (
                f"a uid of its own, at most {self.limits.processes} processes"
                if self.uid
                else ("your uid")
            )
            return (
                "each learner in a bubblewrap sandbox: own PID namespace, no network, no other "
                "files, no course_lib.checks, "
                f"{self.limits.memory_mb} MB address space per process, /tmp and home "
                f"in {self.limits.tmp_mb} + {self.limits.home_mb} MB of memory, {who}"
            )
        return (
            "NOT sandboxed: a submission runs with your rights and can read your files (the "
            "checks too: an import hook only asks it not to)"
        )
