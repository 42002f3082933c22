"""One learner's kernel: start it in its sandbox, run code with a time limit, read what comes back.

The kernel talks to the grader over ZeroMQ on Unix sockets in a folder both can see (the sandbox
has no network, not even loopback). Output is counted as it streams: at most `keep` characters of
it are kept per execution, and a cell that floods more than `flood` characters is interrupted.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from queue import Empty
from typing import Any

from course_lib.grading.sandbox import Sandbox, kernel_environment

__all__ = ["Execution", "KernelDied", "KernelSession", "RESULT_MIME", "RUN_FOLDER"]

RESULT_MIME = "application/vnd.course-lib.wire+json"
KEEP_CHARS = 20_000  # output kept per execution
FLOOD_CHARS = 5_000_000  # output after which a cell is interrupted
RECOVER_SECONDS = 3.0  # how long an interrupted kernel gets to answer again
START_SECONDS = 60.0
MAX_BASE_CHARS = 60  # longer temporary folders would make the kernel's socket paths too long
RUN_FOLDER = "COURSE_GRADE_RUN_FOLDER"  # environment variable: where sessions make their folders
MAX_MESSAGE_BYTES = 16 * 2**20  # one message from the kernel; larger ones are dropped unread
WIRE_BUDGET = 512 * 2**20  # characters one learner's kernel may send in all
MAX_REPLY_CHARS = 12 * 2**20  # one reply of the harness (a function's result) at most
IDLE_AFTER_REPLY = 2.0  # seconds to wait for the idle status once the reply is in


class KernelDied(RuntimeError):
    """The kernel is gone (os._exit, a crash, out of memory, exit()) or no longer answers."""


@dataclass
class Execution:
    """What one piece of code did in the kernel."""

    status: str  # "ok", "error", "timeout", "died", "exit"
    ename: str = ""
    evalue: str = ""
    output: str = ""  # the first KEEP_CHARS characters of stream and text output
    results: list[str] = field(default_factory=list)  # RESULT_MIME payloads, in order
    flooded: bool = False
    oversized: bool = False  # a reply larger than MAX_REPLY_CHARS came (and was dropped)


def _font_cache() -> Path | None:
    """A matplotlib font cache built once by the grader, copied into each learner's home."""
    folder = Path(tempfile.gettempdir()) / f"course-lib-fonts-{os.getuid()}"
    if not any(folder.glob("fontlist-*.json")):
        try:
            import subprocess

            env = {**os.environ, "MPLCONFIGDIR": str(folder), "MPLBACKEND": "agg"}
            subprocess.run(
                [sys.executable, "-c", "import matplotlib.font_manager"],
                env=env,
                capture_output=True,
                timeout=120,
                check=False,
            )
        except Exception:  # a missing cache only costs the kernel time
            return None
    return folder if any(folder.glob("fontlist-*.json")) else None


class KernelSession:
    """A kernel in a sandbox of its own; `execute` runs code, `restart` starts it afresh."""

    def __init__(
        self, sandbox: Sandbox, threads: int | None = None, budget: int = WIRE_BUDGET
    ) -> None:
        self.sandbox = sandbox
        self.threads = threads
        # Inside the run's own folder when there is one (`RUN_FOLDER`): the run removes it at the
        # end, even when a worker that held this session was killed.
        base = os.environ.get(RUN_FOLDER) or tempfile.gettempdir()
        if len(base) > MAX_BASE_CHARS:  # a socket's path has at most 107 bytes
            base = "/tmp"
        self.root = Path(tempfile.mkdtemp(prefix="course-grade-", dir=base))
        self.process: Any = None
        self.client: Any = None
        self.budget = budget  # characters the kernel may send in all, over every execution
        self.received = 0
        self.over_budget = False

    # ------------------------------------------------------------------ life cycle

    def start(self, timeout: float = START_SECONDS) -> None:
        import zmq
        from jupyter_client import BlockingKernelClient
        from jupyter_client.connect import write_connection_file

        self.stop()
        for name in ("home", "comm"):
            shutil.rmtree(self.root / name, ignore_errors=True)
        home, comm = self.root / "home", self.root / "comm"
        for folder in (home / "work", home / "tmp", home / ".ipython", comm):
            folder.mkdir(parents=True)
        fonts = _font_cache()
        boxed = self.sandbox.kind == "bwrap"
        if fonts is not None and not boxed:  # in the sandbox, home is a tmpfs it copies into
            shutil.copytree(fonts, home / ".matplotlib")
        connection, _ = write_connection_file(
            str(comm / "kernel.json"), transport="ipc", ip=str(comm / "k")
        )
        self.sandbox.prepare(comm)
        argv = [sys.executable, "-m", "ipykernel_launcher", "-f", connection, "--quiet"]
        env = kernel_environment(home, self.sandbox.python_path(), self.threads)
        self.process = self.sandbox.popen(argv, home, comm, env, fonts if boxed else None)
        # Every socket refuses a message larger than MAX_MESSAGE_BYTES before it is read into
        # memory: a reply can never make the grader hold more than that at once.
        context = zmq.Context()
        context.setsockopt(zmq.MAXMSGSIZE, MAX_MESSAGE_BYTES)
        context.setsockopt(zmq.LINGER, 0)
        self.context = context
        client = BlockingKernelClient(connection_file=connection, context=context)
        client.load_connection_file()
        client.start_channels()
        self.client = client
        self._watch_iopub()
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise KernelDied(f"the kernel did not start (exit code {self.process.returncode})")
            try:
                client.wait_for_ready(timeout=1)
                break
            except RuntimeError:
                if time.monotonic() > deadline:
                    raise KernelDied(f"the kernel did not start within {timeout:.0f} s") from None
        self.sandbox.seal(comm)  # its sockets exist: the kernel writes nothing more on the host

    def _watch_iopub(self) -> None:
        """Watch the output channel: a message over the size limit disconnects it."""
        import zmq

        self.monitor = self.client.iopub_channel.socket.get_monitor_socket(zmq.EVENT_DISCONNECTED)

    def _iopub_lost(self) -> bool:
        """True (and the output channel connected afresh) when an oversized message cut it."""
        import zmq

        monitor = getattr(self, "monitor", None)
        if monitor is None or not monitor.poll(0, zmq.POLLIN):
            return False
        while monitor.poll(0, zmq.POLLIN):
            monitor.recv_multipart()
        client = self.client
        try:
            client.iopub_channel.socket.disable_monitor()
        except zmq.ZMQError:
            pass
        monitor.close(linger=0)
        client.iopub_channel.stop()
        client._iopub_channel = None  # the next access connects a new socket
        client.iopub_channel.start()
        self._watch_iopub()
        time.sleep(0.2)  # a new subscriber misses what the kernel publishes before it joins
        return True

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self) -> None:
        """Kill the kernel and everything it started (the sandbox's whole PID namespace)."""
        monitor = getattr(self, "monitor", None)
        if monitor is not None:
            monitor.close(linger=0)
            self.monitor = None
        if self.client is not None:
            try:
                self.client.stop_channels()
            except Exception:  # channels of a dead kernel may already be closed
                pass
            self.client = None
        context = getattr(self, "context", None)
        if context is not None:
            context.destroy(linger=0)
            self.context = None
        if self.process is not None:
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            try:
                self.process.kill()
            except ProcessLookupError:
                pass
            self.process.wait()
            self.process = None

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> KernelSession:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ running code

    def interrupt(self) -> None:
        """Ask the kernel to raise KeyboardInterrupt (over its control channel)."""
        if self.client is None:
            return
        msg = self.client.session.msg("interrupt_request", {})
        self.client.control_channel.send(msg)

    def execute(self, code: str, timeout: float) -> Execution:
        """Run `code`; at `timeout` seconds interrupt it, and kill a kernel that does not stop."""
        if not self.alive():
            return Execution("died", evalue="the kernel is not running")
        client = self.client
        msg_id = client.execute(code, store_history=False, allow_stdin=False)
        deadline = time.monotonic() + timeout
        result = Execution("ok")
        kept: list[str] = []
        size = 0
        reply: dict[str, Any] | None = None
        idle = False
        interrupted_at: float | None = None
        replied_at: float | None = None
        while not (idle and reply is not None):
            now = time.monotonic()
            if replied_at is not None and now - replied_at > IDLE_AFTER_REPLY and not idle:
                break  # the idle status was lost (a dropped oversized message): the reply counts
            if interrupted_at is None and now > deadline:
                result.status, result.ename = "timeout", "Timeout"
                result.evalue = f"the cell ran longer than {timeout:g} s"
                self.interrupt()
                interrupted_at = now
            if interrupted_at is not None and now - interrupted_at > RECOVER_SECONDS:
                self.stop()
                result.status = "timeout" if result.status == "timeout" else "died"
                raise _Stopped(result)
            if not self.alive():
                result.status = "died"
                raise _Stopped(result)
            if self._iopub_lost():
                result.flooded = True  # part of its output was dropped unread
                if interrupted_at is None:
                    self.interrupt()
                    interrupted_at = time.monotonic()
            try:
                msg = client.iopub_channel.get_msg(timeout=0.05)
            except Empty:
                msg = None
            if not _well_formed(msg):
                msg = None  # a message the kernel's own code forged: not ours to read
            if msg is not None and msg["parent_header"].get("msg_id") == msg_id:
                kind, content = msg["msg_type"], msg["content"]
                text = ""
                if kind == "stream":
                    text = str(content.get("text", ""))
                elif kind in ("display_data", "execute_result", "update_display_data"):
                    data = content.get("data", {})
                    data = data if isinstance(data, dict) else {}
                    if RESULT_MIME in data:
                        payload = str(data[RESULT_MIME])
                        self.received += len(payload)
                        result.oversized = len(payload) > MAX_REPLY_CHARS
                        # Only the last reply is ever read, and only one of a bounded size.
                        result.results[:] = [] if result.oversized else [payload]
                        del payload
                    text = str(data.get("text/plain", ""))
                elif kind == "error":
                    text = f"{content.get('ename', '')}: {content.get('evalue', '')}\n"
                elif kind == "status" and content.get("execution_state") == "idle":
                    idle = True
                size += len(text)
                self.received += len(text)
                if size - len(text) <= KEEP_CHARS:
                    kept.append(text[: KEEP_CHARS + 1])
                if self.received > self.budget:
                    self.over_budget = True
                    result.status, result.ename = "died", "TooMuchData"
                    result.evalue = f"the kernel sent more than {self.budget // 2**20} MB in all"
                    self.stop()
                    raise _Stopped(result)
                if size > FLOOD_CHARS and interrupted_at is None:
                    result.flooded = True
                    self.interrupt()
                    interrupted_at = time.monotonic()
            if reply is None:
                try:
                    shell = client.shell_channel.get_msg(timeout=0)
                except Empty:
                    shell = None
                if _well_formed(shell) and shell["parent_header"].get("msg_id") == msg_id:
                    reply = shell["content"]
                    replied_at = time.monotonic()
        result.output = "".join(kept)[:KEEP_CHARS]
        if result.status == "ok" and reply.get("status") == "error":
            result.status = "error"
            result.ename = str(reply.get("ename", ""))
            result.evalue = _first_line(str(reply.get("evalue", "")))
        if result.flooded and result.status != "timeout":
            result.status, result.ename = "error", "TooMuchOutput"
            result.evalue = f"the cell printed more than {FLOOD_CHARS:,} characters"
        payload = reply.get("payload", [])
        payload = payload if isinstance(payload, list) else []
        if any(isinstance(p, dict) and p.get("source") == "ask_exit" for p in payload):
            result.status, result.ename = "exit", "exit"
            result.evalue = "exit() or quit() stopped the notebook here"
        return result

    def run(self, code: str, timeout: float) -> Execution:
        """`execute`, but a kernel that died or was killed comes back as a status, not a raise."""
        try:
            execution = self.execute(code, timeout)
        except _Stopped as stopped:
            return stopped.execution
        if execution.status == "exit":
            self.stop()  # the kernel is shutting down; make it so now
        return execution


def _well_formed(msg: Any) -> bool:
    """A Jupyter message with the parts `execute` reads, of the types it reads them as."""
    return (
        isinstance(msg, dict)
        and isinstance(msg.get("parent_header"), dict)
        and isinstance(msg.get("msg_type"), str)
        and isinstance(msg.get("content"), dict)
    )


class _Stopped(Exception):
    def __init__(self, execution: Execution) -> None:
        super().__init__(execution.status)
        self.execution = execution


def _first_line(text: str) -> str:
    lines = text.strip().splitlines()
    return lines[0][:300] if lines else ""


def decode_result(payload: str) -> dict[str, Any]:
    """A harness payload as a dict (an unreadable one says so)."""
    try:
        value = json.loads(payload)
    except ValueError:
        return {"wire_error": "the kernel sent back something that is not JSON"}
    return value if isinstance(value, dict) else {"wire_error": "the kernel sent back a non-dict"}
