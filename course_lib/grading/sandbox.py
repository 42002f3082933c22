"""The box a learner's kernel runs in: bubblewrap where it works, else nothing (with a warning).

With bubblewrap (`bwrap`, Debian's `bubblewrap`) each kernel gets its own PID namespace that dies
with the grader (`--die-with-parent`: every process the notebook starts, detached or not, goes
with it), no network, no capabilities, and a file system holding only the system libraries, the
Python installation, the course package (read-only) and a fresh home of its own: no solutions,
no other submissions, no grader output paths. Its environment is built from a short allowlist, and
resource limits (address space, file size, processes) are set before it starts.
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

__all__ = ["Limits", "Sandbox", "bwrap_works", "kernel_environment"]

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
    processes: int = 512  # per user; root ignores it


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


def _flags() -> list[str]:
    flags = ["--unshare-all", "--die-with-parent", "--new-session", "--hostname", "grading"]
    if os.geteuid() == 0:
        flags += ["--cap-drop", "ALL"]
    return flags


@dataclass
class Sandbox:
    """How to start one learner's kernel: inside bwrap, or (`kind="none"`) as a plain process."""

    kind: str  # "bwrap" or "none"
    package: Path  # the `course_lib` package folder
    extra_paths: tuple[Path, ...] = ()  # more import folders the chapter's checks need
    limits: Limits = field(default_factory=Limits)

    def command(self, argv: list[str], home: Path, comm: Path) -> list[str]:
        """The command line that runs `argv` in the box; `home` and `comm` are writable."""
        if self.kind == "none":
            return argv
        cmd = ["bwrap", *_flags(), "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp"]
        for path in SYSTEM:
            cmd += ["--ro-bind-try", path, path]
        for name in ETC:
            cmd += ["--ro-bind-try", f"/etc/{name}", f"/etc/{name}"]
        prefixes = {Path(sys.base_prefix).resolve(), Path(sys.prefix)}
        for prefix in sorted(prefixes):
            cmd += ["--ro-bind", str(prefix), str(prefix)]
        real = Path(sys.prefix).resolve()
        if real != Path(sys.prefix):
            cmd += ["--ro-bind", str(real), str(real)]
        # Only the package, at a neutral place: not the repository around it (solutions/).
        cmd += ["--ro-bind", str(self.package), f"{INSIDE}/course_lib"]
        for path in self.extra_paths:
            cmd += ["--ro-bind", str(path), str(path)]
        cmd += ["--bind", str(home), str(home), "--bind", str(comm), str(comm)]
        cmd += ["--chdir", str(home / "work")]
        return cmd + ["--", *argv]

    def python_path(self) -> list[str]:
        """The kernel's import folders, as the kernel sees them."""
        root = INSIDE if self.kind == "bwrap" else str(self.package.parent)
        return [root, *(str(p) for p in self.extra_paths)]

    def popen(
        self, argv: list[str], home: Path, comm: Path, env: dict[str, str]
    ) -> subprocess.Popen:
        """Start `argv` in the box with `env` and the limits; output is discarded."""
        return subprocess.Popen(
            self.command(argv, home, comm),
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
            return (
                "each learner in a bubblewrap sandbox: own PID namespace, no network, no other "
                f"files, {self.limits.memory_mb} MB address space"
            )
        return "NOT sandboxed: a submission runs with your rights and can read your files"
