"""The solved chapter's step times in a file (`--measured FILE`): measured once, read by later
runs on the same machine kind, e.g. when Gradescope builds its image rather than once per
submission."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from course_lib.grading.chapter import Chapter

__all__ = ["read_measured", "write_measured"]


def read_measured(path: Path, chapter: Chapter) -> dict[str, float] | None:
    """The step times in `path`, or None when there is no such file or it was measured on other
    solutions (a warning then: the chapter is measured again)."""
    from course_lib.grading.chapter import chapter_fingerprint

    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        timings = {str(k): float(v) for k, v in data["timings"].items()}
        fingerprint = data["fingerprint"]
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
        print(f"warning: {path} is not a file of step times ({error}); measuring", file=sys.stderr)
        return None
    if fingerprint != chapter_fingerprint(chapter):
        print(f"warning: {path} was measured on other solutions; measuring", file=sys.stderr)
        return None
    return timings


def write_measured(path: Path, chapter: Chapter, timings: dict[str, float]) -> None:
    """Write the step times of the solved chapter to `path`."""
    from course_lib.grading.chapter import chapter_fingerprint
    from course_lib.grading.report import write_atomically

    data = {"chapter": chapter.name, "fingerprint": chapter_fingerprint(chapter)}
    data["timings"] = dict(sorted(timings.items()))
    write_atomically(path, json.dumps(data, indent=1, sort_keys=True) + "\n")
