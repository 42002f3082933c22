"""A learner's function seen from the grader: calls go into the kernel, plain data comes back.

`RemoteFunction` is a `course_lib.checks.Remote`: a check calls it like the learner's function.
The arguments travel as wire data (`course_lib.checks.wire`), the kernel calls the function that
the notebook bound to that name, and sends back the result and the arguments as they are after the
call (so a check sees an input changed in place). What comes back is data, decoded here: nothing
the kernel sends can run code in the grader.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from course_lib.checks import LearnerRaised, Raised, Remote, wire
from course_lib.grading.kernel import (
    MAX_MESSAGE_BYTES,
    MAX_REPLY_CHARS,
    RESULT_MIME,
    KernelSession,
    decode_result,
)

__all__ = ["HARNESS", "RemoteFunction", "RemoteStopped", "kernel_prelude"]

WIRE_MODULE = "_course_wire"  # the wire format's module inside the kernel (see `kernel_prelude`)
HIDDEN_NOTE = "the checks are not available while grading"


def kernel_prelude(hidden: tuple[str, ...]) -> str:
    """Kernel code run first in every grading kernel: the wire format as a module of its own,
    built from the source of `course_lib.checks.wire` (the kernel cannot import the checks), and
    an import hook that refuses the modules in `hidden`. Under bubblewrap the check modules are
    not in the kernel's file system at all; without it the hook is a courtesy (a notebook can
    remove it)."""
    from pathlib import Path

    source = Path(wire.__file__).read_text(encoding="utf-8")
    return f"""
def _course_prelude(source, hidden):
    import sys, types

    module = types.ModuleType({WIRE_MODULE!r})
    sys.modules[{WIRE_MODULE!r}] = module
    exec(compile(source, "<course wire>", "exec"), module.__dict__)

    class CourseHiddenModules:
        @staticmethod
        def find_spec(name, path=None, target=None):
            if any(name == h or name.startswith(h + ".") for h in hidden):
                raise ModuleNotFoundError(f"No module named {{name!r}} ({HIDDEN_NOTE})", name=name)
            return None

    sys.meta_path.insert(0, CourseHiddenModules)

_course_prelude({source!r}, {tuple(hidden)!r})
del _course_prelude
"""


# Sent into the kernel with every call (not imported from a module a notebook could have
# patched beforehand). It may still be tampered with from inside: then the data it sends back is
# wrong, which is no more than a wrong function could do; the comparison happens in the grader.
# `kept` names the functions as they were when an exercise's check passed (its hidden tests run
# on those, after every public check of the chapter).
HARNESS = f"""
def _course_call(name, payload, kept=None):
    import json
    import sys
    import numpy
    from IPython import get_ipython
    from IPython.display import publish_display_data

    def send(reply):
        publish_display_data({{{RESULT_MIME!r}: json.dumps(reply)}})

    wire = sys.modules.get({WIRE_MODULE!r})
    if wire is None:
        return send({{"wire_error": "the grading kernel lost its wire module"}})
    names = get_ipython().user_ns
    if kept is not None:
        names = names.get("_course_kept", {{}}).get(kept, {{}})
    fn = names.get(name)
    if not callable(fn):
        return send({{"missing": name}})
    decoder = wire._Decoder()
    try:
        args, kwargs = decoder(json.loads(payload))
    except Exception as error:
        return send({{"wire_error": "the check's inputs could not be rebuilt: " + str(error)}})
    ids = {{id(obj): number for number, obj in decoder.seen.items()}}
    try:
        with numpy.errstate(all="ignore"):
            result = fn(*args, **kwargs)
    except NotImplementedError:
        return send({{"not_done": True}})
    except Exception as error:
        lines = str(error).strip().splitlines()
        bases = [c.__name__ for c in type(error).__mro__]
        return send({{"raised": [type(error).__name__, lines[0][:300] if lines else "", bases]}})
    try:
        data = wire.encode_reply(args, kwargs, result, ids, name)
    except wire.WireError as error:
        return send({{"wire_error": str(error)}})
    send({{"ok": data}})
"""


MAX_REPLY_ITEMS = 200_000  # list and dict items in one reply (hints loop over them)


class RemoteStopped(Exception):
    """The call did not finish: it timed out, or the kernel died or exited during it."""

    def __init__(self, status: str, message: str) -> None:
        super().__init__(message)
        self.status = status


class RemoteFunction(Remote):
    """The function bound to `name` in the learner's kernel.

    `timeout` is the seconds a call may take, or a function giving them at the time of the call
    (what is left of the learner's total); at 0 the call is not made. Every reply is hostile
    data: anything the decoder does not expect is a `WireError` (a failed check with a hint),
    never an error of the grader. `said` collects the texts of the learner's exceptions, which
    feedback leaves out; `sent` the strings this function was called with.
    """

    def __init__(
        self,
        session: KernelSession,
        name: str,
        timeout: float | Callable[[], float],
        kept: str | None = None,
    ) -> None:
        self.session = session
        self.__name__ = name
        self.timeout = timeout
        self.kept = kept  # call the function as kept when this exercise's check passed
        self.calls = 0
        self.said: list[str] = []
        self.sent: list[str] = []

    def _seconds(self) -> float:
        return float(self.timeout()) if callable(self.timeout) else float(self.timeout)

    def call(self, args: tuple, kwargs: dict[str, Any]) -> Any:
        seconds = self._seconds()
        if seconds <= 0:
            raise RemoteStopped("timeout", "the learner's time (--timeout) ran out")
        self.calls += 1
        data, ids, objects = wire.encode_call(args, kwargs)
        self.sent.extend(_strings(data))
        call = f"_course_call({self.__name__!r}, {json.dumps(data)!r}, {self.kept!r})"
        code = f"{HARNESS}\n{call}\n"
        execution = self.session.run(code, seconds)
        if execution.status in ("timeout", "died", "exit"):
            raise RemoteStopped(execution.status, execution.evalue or execution.status)
        if execution.oversized:
            raise wire.WireError(
                f"the value it returned is larger than {MAX_REPLY_CHARS // 2**20} MB as data"
            )
        if not execution.results and execution.status in ("ok", "error") and execution.flooded:
            raise wire.WireError(
                f"its answer never arrived (a message larger than {MAX_MESSAGE_BYTES // 2**20} MB?)"
            )
        if not execution.results and execution.status == "ok":
            # No answer and no sign of why: this kernel cannot be trusted to answer; the next
            # step starts a fresh one.
            self.session.stop()
            raise wire.WireError(
                f"its answer never arrived (a message larger than {MAX_MESSAGE_BYTES // 2**20} MB?)"
            )
        if not execution.results:
            # The harness never answered: the call raised something it does not catch
            # (SystemExit, KeyboardInterrupt), the notebook broke the kernel's display, or the
            # reply was larger than the wire allows.
            self.said.append(execution.evalue)
            raise LearnerRaised(Raised(execution.ename or "Error", execution.evalue))
        try:
            return self._read(execution.results[-1], ids, objects)
        except (LearnerRaised, NotImplementedError, wire.WireError):
            raise
        except Exception as error:  # noqa: BLE001 - a reply the decoder did not expect
            raise wire.WireError(
                f"the kernel's answer could not be read ({type(error).__name__})"
            ) from None

    def _read(self, payload: str, ids: dict[int, int], objects: list[Any]) -> Any:
        reply = decode_result(payload)
        if "ok" in reply:
            into = {ids[id(obj)]: obj for obj in objects}
            try:
                _, _, result = wire.decode(reply["ok"], into=into, max_items=MAX_REPLY_ITEMS)
            except (ValueError, TypeError, KeyError, OverflowError) as error:
                raise wire.WireError(
                    f"the result could not be read ({type(error).__name__})"
                ) from None
            return result
        if reply.get("not_done") is True:
            raise NotImplementedError(self.__name__)
        if "raised" in reply:
            type_name, message, bases = reply["raised"]
            if not (isinstance(type_name, str) and isinstance(message, str)):
                raise wire.WireError("the kernel's answer was not readable")
            if not isinstance(bases, list) or not all(isinstance(b, str) for b in bases):
                raise wire.WireError("the kernel's answer was not readable")
            message = message[:300]
            self.said.append(message)
            raise LearnerRaised(
                Raised(type_name[:100], message, tuple(b[:100] for b in bases[:50]))
            )
        if "missing" in reply:
            raise LearnerRaised(
                Raised("NameError", f"the notebook has no function named {self.__name__!r}")
            )
        reason = reply.get("wire_error")
        raise wire.WireError(
            reason[:300] if isinstance(reason, str) else "the kernel's answer was not readable"
        )


def _strings(data: Any, depth: int = 0) -> list[str]:
    """The strings in wire data (the inputs a test sent), for leaving them out of feedback."""
    if isinstance(data, str):
        return [data] if len(data) >= 3 else []
    if depth > wire.MAX_DEPTH:
        return []
    if isinstance(data, dict):
        if "array" in data or "scalar" in data or "float" in data:
            return []
        return [t for value in data.values() for t in _strings(value, depth + 1)]
    if isinstance(data, list):
        return [t for value in data for t in _strings(value, depth + 1)]
    return []
