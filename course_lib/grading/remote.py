"""A learner's function seen from the grader: calls go into the kernel, plain data comes back.

`RemoteFunction` is a `course_lib.checks.Remote`: a check calls it like the learner's function.
The arguments travel as wire data (`course_lib.checks.wire`), the kernel calls the function that
the notebook bound to that name, and sends back the result and the arguments as they are after the
call (so a check sees an input changed in place). What comes back is data, decoded here: nothing
the kernel sends can run code in the grader.
"""

from __future__ import annotations

import json
from typing import Any

from course_lib.checks import LearnerRaised, Raised, Remote, wire
from course_lib.grading.kernel import RESULT_MIME, KernelSession, decode_result

__all__ = ["HARNESS", "RemoteFunction", "RemoteStopped"]

# Sent into the kernel with every call (not imported from a module a notebook could have
# patched beforehand). It may still be tampered with from inside: then the data it sends back is
# wrong, which is no more than a wrong function could do; the comparison happens in the grader.
HARNESS = f"""
def _course_call(name, payload):
    import json
    import numpy
    from IPython import get_ipython
    from IPython.display import publish_display_data
    from course_lib.checks import Raised, wire

    def send(reply):
        publish_display_data({{{RESULT_MIME!r}: json.dumps(reply)}})

    fn = get_ipython().user_ns.get(name)
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
        found = Raised.from_exception(error)
        return send({{"raised": [found.type_name, found.message, list(found.bases)]}})
    try:
        data = wire.encode_reply(args, kwargs, result, ids, name)
    except wire.WireError as error:
        return send({{"wire_error": str(error)}})
    send({{"ok": data}})
"""


class RemoteStopped(Exception):
    """The call did not finish: it timed out, or the kernel died or exited during it."""

    def __init__(self, status: str, message: str) -> None:
        super().__init__(message)
        self.status = status


class RemoteFunction(Remote):
    """The function bound to `name` in the learner's kernel."""

    def __init__(self, session: KernelSession, name: str, timeout: float) -> None:
        self.session = session
        self.__name__ = name
        self.timeout = timeout
        self.calls = 0

    def call(self, args: tuple, kwargs: dict[str, Any]) -> Any:
        self.calls += 1
        data, ids, objects = wire.encode_call(args, kwargs)
        code = HARNESS + f"\n_course_call({self.__name__!r}, {json.dumps(data)!r})\n"
        execution = self.session.run(code, self.timeout)
        if execution.status in ("timeout", "died", "exit"):
            raise RemoteStopped(execution.status, execution.evalue or execution.status)
        if not execution.results:
            # The harness never answered: the call raised something it does not catch
            # (SystemExit, KeyboardInterrupt) or the notebook broke the kernel's display.
            raise LearnerRaised(Raised(execution.ename or "Error", execution.evalue))
        reply = decode_result(execution.results[-1])
        if "ok" in reply:
            into = {ids[id(obj)]: obj for obj in objects}
            try:
                _, _, result = wire.decode(reply["ok"], into=into)
            except (ValueError, TypeError, KeyError) as error:
                raise wire.WireError(f"the result could not be read: {error}") from None
            return result
        if reply.get("not_done"):
            raise NotImplementedError(self.__name__)
        if "raised" in reply:
            type_name, message, bases = reply["raised"]
            raise LearnerRaised(Raised(str(type_name), str(message)[:300], tuple(map(str, bases))))
        if "missing" in reply:
            raise LearnerRaised(
                Raised("NameError", f"the notebook has no function named {self.__name__!r}")
            )
        raise wire.WireError(str(reply.get("wire_error", "the kernel's answer was not readable")))
