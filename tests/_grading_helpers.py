"""Run a check on a function written as source, in this process and through the grader's path.

`through_grader(exercise, source)` defines the function in a real kernel (no sandbox: tests only)
and runs `exercise.run` on a `RemoteFunction`, exactly as `python -m course_lib.grade` does;
`in_process(exercise, source)` runs the same check the way a notebook's check cell does. A check
the learner can trust gives the same `Outcome` both ways.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

import course_lib
from course_lib.checks import Exercise, Outcome
from course_lib.grading.kernel import Execution, KernelSession
from course_lib.grading.remote import RemoteFunction, kernel_prelude
from course_lib.grading.sandbox import Sandbox

PRELUDE = "import numpy as np\nfrom course_lib import numpy as cl\n"


def in_process(exercise: Exercise, source: str) -> Outcome:
    """The check's outcome on the function `source` defines, in this process."""
    namespace: dict[str, Any] = {}
    exec(compile(PRELUDE + source, f"<{exercise.name}>", "exec"), namespace)
    return exercise.run(namespace[exercise.name])


class Grader:
    """One kernel, reused: define a function in it, then check it from outside."""

    def __init__(self) -> None:
        package = Path(course_lib.__file__).resolve().parent
        self.session = KernelSession(Sandbox("none", package))
        self.start()

    def start(self) -> None:
        """A fresh kernel with the grader's prelude (the wire module the harness uses; no module
        hidden: these tests bind references from the check modules themselves)."""
        self.session.start()
        assert self.session.run(kernel_prelude(()), 60).status == "ok"

    def run(self, code: str) -> Execution:
        """Run `code` in the kernel, as the grader runs a cell; a kernel it broke is restarted."""
        done = self.session.run(code, 60)
        if done.status not in ("ok", "error"):
            self.start()
        return done

    def outcome(self, exercise: Exercise, source: str) -> Outcome:
        self.run(f"{PRELUDE}{exercise.name} = None\n{source}")
        return exercise.run(RemoteFunction(self.session, exercise.name, 60))

    def close(self) -> None:
        self.session.close()


FIXTURE_COURSE = Path(__file__).parent / "fixtures" / "course"


@contextmanager
def fixture_course_importable() -> Iterator[None]:
    """The fixture course's check module importable here, in worker processes and in kernels."""
    sys.path.insert(0, str(FIXTURE_COURSE))
    try:
        with pytest.MonkeyPatch.context() as patch:
            parts = [str(FIXTURE_COURSE), os.environ.get("PYTHONPATH", "")]
            patch.setenv("PYTHONPATH", os.pathsep.join(parts))
            yield
    finally:
        sys.path.remove(str(FIXTURE_COURSE))


def copy_of_fixture_course(root: Path) -> Path:
    """The fixture course's solutions copied into `root`, with their notebooks generated."""
    from course_lib import notebooks

    (root / "solutions").mkdir(parents=True)
    for path in (FIXTURE_COURSE / "solutions").iterdir():
        (root / "solutions" / path.name).write_bytes(path.read_bytes())
    notebooks.write(root)
    return root
