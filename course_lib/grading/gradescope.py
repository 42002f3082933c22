"""Gradescope: the autograder zip, and what its `run_autograder` does in Gradescope's container.

`python -m course_lib.grade --gradescope-bundle ch05.zip --chapter 05` writes a zip with
`setup.sh` (installs the course from the sources in the zip, with pip, into a virtual
environment), `run_autograder`, the course's sources, the chapter's solution notebook (never
shown to learners: it stays in /autograder/source), the private tests (`--tests`) and the
grading limits. For each submission `run_autograder` runs `python -m course_lib.grading.gradescope`,
which finds the learner's notebook in /autograder/submission, grades it with
`python -m course_lib.grade --single NOTEBOOK --json ...` and writes
/autograder/results/results.json in Gradescope's format.

Inside Gradescope's container there is no bubblewrap: the container, made for this one
submission and thrown away after it, is the sandbox, so the grade runs with `--no-sandbox`.

Visibility follows the two tiers of `tiers`: an exercise's public check is a `visible` test;
an exercise with hidden properties also has a test holding its final points and one per hidden
property (by name, its result only), all `after_due_date`. While any test is hidden, Gradescope
does not show the learner their total. The top-level score is the local grader's score.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

from course_lib.grading.chapter import Chapter, GradingError, solution_file

__all__ = ["RESULTS_KEYS", "TEST_KEYS", "VISIBILITIES", "results_json", "run", "write_bundle"]

VISIBILITIES = ("hidden", "after_due_date", "after_published", "visible")
RESULTS_KEYS = {
    "score", "execution_time", "output", "visibility", "stdout_visibility", "extra_data",
    "tests", "leaderboard",
}  # fmt: skip
TEST_KEYS = {
    "score", "max_score", "name", "number", "output", "tags", "visibility", "extra_data",
}  # fmt: skip
TORCH_PIN = "torch==2.13.0"  # a CPU wheel: any other resolves to several GB of CUDA packages
TORCH_INDEX = "https://download.pytorch.org/whl/cpu"
MEASURED = "measured.json"  # in source/: the solved chapter's step times, from setup.sh

SETUP = """#!/usr/bin/env bash
# Gradescope runs this once, when it builds the autograder's image.
set -euo pipefail
if ! command -v python3 >/dev/null || ! python3 -m venv --help >/dev/null 2>&1; then
    apt-get update && apt-get install -y python3 python3-venv python3-pip
fi
python3 -m venv /autograder/venv
/autograder/venv/bin/pip install --upgrade pip
/autograder/venv/bin/pip install {torch} --index-url {index}
/autograder/venv/bin/pip install "/autograder/source/course[grader]"
# The solved chapter's step times, measured once here instead of for every submission.
cd /autograder
PYTHONPATH="/autograder/source/course:/autograder/source/extra" \\
    /autograder/venv/bin/python -m course_lib.grading.gradescope --measure /autograder
"""

RUN = """#!/usr/bin/env bash
# Gradescope runs this for each submission, in /autograder.
# COURSE_PYTHON: another Python with the course's requirements (to try the zip elsewhere).
cd /autograder
export PYTHONPATH="/autograder/source/course:/autograder/source/extra"
exec "${COURSE_PYTHON:-/autograder/venv/bin/python}" -m course_lib.grading.gradescope /autograder
"""


def _course_root() -> Path:
    import course_lib

    return Path(course_lib.__file__).resolve().parents[1]


def _skip(path: Path) -> bool:
    return "__pycache__" in path.parts or path.suffix in (".pyc", ".pyo")


def write_bundle(
    target: Path,
    chapter: Chapter,
    number: str,
    solutions: Path,
    tests: Path | None,
    limits: dict[str, float],
) -> list[str]:
    """Write the autograder zip to `target`; the names it holds."""
    root = _course_root()
    package = root / "course_lib"
    files: dict[str, bytes] = {}
    for path in sorted(package.rglob("*")):
        if path.is_file() and not _skip(path.relative_to(root)):
            files[f"course/{path.relative_to(root).as_posix()}"] = path.read_bytes()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        if (root / name).is_file():
            files[f"course/{name}"] = (root / name).read_bytes()
    if "course/pyproject.toml" not in files:
        raise GradingError(f"{root} has no pyproject.toml: cannot bundle the course to install.")
    source = solution_file(solutions, number)
    files[f"solutions/{source.name}"] = source.read_bytes()
    if tests is not None:
        for path in sorted(tests.glob("*.py")):
            files[f"tests/{path.name}"] = path.read_bytes()
    files.update(_outside_check_modules(chapter))  # the grader imports them; the kernel never
    config = {
        "chapter": number,
        "written": [w.grade_id for w in chapter.written],
        "tests": tests is not None,
        **limits,
    }
    files["config.json"] = (json.dumps(config, indent=1, sort_keys=True) + "\n").encode()
    files["extra/.keep"] = b""
    scripts = {
        "setup.sh": SETUP.format(torch=TORCH_PIN, index=TORCH_INDEX).encode(),
        "run_autograder": RUN.encode(),
    }
    target.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in scripts.items():
            info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
            info.external_attr = (stat.S_IFREG | 0o755) << 16
            archive.writestr(info, data, zipfile.ZIP_DEFLATED)
        for name, data in sorted(files.items()):
            info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
            info.external_attr = (stat.S_IFREG | 0o644) << 16
            archive.writestr(info, data, zipfile.ZIP_DEFLATED)
    return [*scripts, *sorted(files)]


def find_notebook(folder: Path, number: str) -> tuple[Path | None, str]:
    """The learner's notebook in the submission folder, or None and why not. Links are not
    followed here (the grader refuses a linked notebook by name)."""
    found = sorted(
        p
        for p in folder.rglob("*.ipynb")
        if ".ipynb_checkpoints" not in p.relative_to(folder).parts
    )
    if len(found) > 1:
        found = [p for p in found if p.name.startswith(f"{number}_")] or found
    if len(found) == 1:
        return found[0], ""
    if not found:
        return None, "no notebook (.ipynb) in the submission: upload your chapter's notebook."
    names = ", ".join(p.name for p in found[:5])
    return None, f"several notebooks in the submission ({names}): upload one, {number}_....ipynb."


def _mistake_line(exercise: dict[str, Any]) -> str:
    mistake = exercise.get("mistake")
    return f"\nmistake: {mistake}" if mistake else ""


def results_json(data: dict[str, Any], written: list[str], seconds: float) -> dict[str, Any]:
    """Gradescope's results.json from the grader's learner JSON (`report.learner_json`)."""
    tests: list[dict[str, Any]] = []
    known = {"grade_id", "points", "max_points", "status", "hint", "visibility", "public"}
    known |= {"hidden", "mistake"}
    for e in data["exercises"]:
        grade_id, extra = e["grade_id"], {k: v for k, v in e.items() if k not in known}
        if grade_id in written:
            continue  # marked by hand on Gradescope, not by the autograder
        public = e["public"]
        shown = f"public checks: {public['status']}"
        if public["hint"]:
            shown += f"\n{public['hint']}"
        if public["status"] != "pass":
            shown += _mistake_line(e)
        test: dict[str, Any] = {"name": f"{grade_id}: public checks", "output": shown}
        if not e["hidden"]:
            test.update(score=float(e["points"]), max_score=float(e["max_points"]))
        else:
            test["output"] += (
                f"\n{len(e['hidden'])} hidden properties pending (results after the due date)"
            )
        test["visibility"] = "visible"
        if extra:
            test["extra_data"] = extra
        tests.append(test)
        if e["hidden"]:
            final = f"final: {e['status']}"
            if e["status"] != "pass" and e["hint"]:
                final += f"\n{e['hint']}"
            if public["status"] == "pass":
                final += _mistake_line(e)
            tests.append(
                {
                    "name": f"{grade_id}: final points",
                    "score": float(e["points"]),
                    "max_score": float(e["max_points"]),
                    "output": final,
                    "visibility": "after_due_date",
                }
            )
            for prop in e["hidden"]:
                tests.append(
                    {"name": prop["name"], "output": prop["status"], "visibility": "after_due_date"}
                )
    output = f"chapter {data['chapter']}: run {data['status']}"
    if data["other_errors"]:
        output += "\n" + "\n".join(f"- {text}" for text in data["other_errors"][:10])
    return {
        "score": float(data["score"]),
        "execution_time": round(seconds),
        "output": output,
        "stdout_visibility": "hidden",
        "tests": tests,
    }


def _failure(why: str, seconds: float) -> dict[str, Any]:
    return {
        "score": 0.0,
        "execution_time": round(seconds),
        "output": f"not graded: {why}",
        "stdout_visibility": "hidden",
        "tests": [],
    }


def run(root: Path) -> int:
    """Grade the one submission in `root`/submission; write `root`/results/results.json."""
    began = time.monotonic()
    source = root / "source"
    config = json.loads((source / "config.json").read_text(encoding="utf-8"))
    number = config["chapter"]
    results_path = root / "results" / "results.json"
    results_path.parent.mkdir(parents=True, exist_ok=True)
    notebook, why = find_notebook(root / "submission", number)
    if notebook is None:
        results = _failure(why, time.monotonic() - began)
    else:
        work = Path(tempfile.mkdtemp(prefix="course-gradescope-"))
        try:
            results = _grade(notebook, source, config, work, began)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    results_path.write_text(json.dumps(results, indent=1, ensure_ascii=False) + "\n")
    print(f"wrote {results_path}: score {results['score']:g}")
    return 0


def _grade(
    notebook: Path, source: Path, config: dict[str, Any], work: Path, began: float
) -> dict[str, Any]:
    learner = work / "learner.json"
    command = [
        sys.executable, "-m", "course_lib.grade", "--single", str(notebook),
        "--json", str(learner), "--chapter", config["chapter"],
        "--solutions", str(source / "solutions"), "--no-sandbox", "--quiet",
        "--out", str(work / "grades.csv"),
        "--timeout", str(config["timeout"]), "--cell-timeout", str(config["cell_timeout"]),
        "--memory", str(int(config["memory"])),
    ]  # fmt: skip
    if config.get("tests"):
        command += ["--tests", str(source / "tests")]
    if (source / MEASURED).is_file():
        command += ["--measured", str(source / MEASURED)]
    try:
        done = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=float(config["timeout"]) * 3 + 600,  # the solution is measured once first
            check=False,
            cwd=work,
        )
    except subprocess.TimeoutExpired:
        return _failure("the grader ran out of time", time.monotonic() - began)
    sys.stdout.write(done.stderr[-20_000:])  # for the instructor (stdout is hidden)
    if not learner.is_file():
        return _failure(
            "the grader could not run (see the instructor's log)", time.monotonic() - began
        )
    data = json.loads(learner.read_text(encoding="utf-8"))
    if data.get("flags"):  # for the instructor only: stdout is not shown to learners
        print("flags:\n" + "\n".join(f"- {f}" for f in data["flags"]))
    return results_json(data, config.get("written", []), time.monotonic() - began)


def measure(root: Path) -> int:
    """Time the solved chapter once (setup.sh, while the image is built) into source/MEASURED,
    so that each submission's grading skips that run."""
    from course_lib.grading.chapter import load_chapter
    from course_lib.grading.prepare import make_sandbox, measure_solution
    from course_lib.grading.runner import GradeOptions

    source = root / "source"
    config = json.loads((source / "config.json").read_text(encoding="utf-8"))
    tests = source / "tests" if config.get("tests") else None
    chapter = load_chapter(source / "solutions", config["chapter"], tests)
    sandbox = make_sandbox(chapter, use=False)
    options = GradeOptions(
        float(config["cell_timeout"]), float(config["timeout"]), max(1, os.cpu_count() or 1)
    )
    measure_solution(chapter, sandbox, options, True, source / MEASURED)
    return 0 if (source / MEASURED).is_file() else 1


def main(argv: list[str] | None = None) -> int:
    """`python -m course_lib.grading.gradescope ROOT` (what `run_autograder` runs);
    `... --measure ROOT` (what setup.sh runs)."""
    argv = sys.argv[1:] if argv is None else argv
    os.environ.setdefault("MPLBACKEND", "agg")
    if argv[:1] == ["--measure"]:
        return measure(Path(argv[1]) if len(argv) > 1 else Path("/autograder"))
    root = Path(argv[0]) if argv else Path("/autograder")
    return run(root)


if __name__ == "__main__":
    raise SystemExit(main())


def _outside_check_modules(chapter: Chapter) -> dict[str, bytes]:
    """The chapter's check modules that live outside course_lib, as bundle files under extra/
    (a module file, or a package folder whole)."""
    import importlib.util

    files: dict[str, bytes] = {}
    for top in sorted({g.check_module.split(".")[0] for g in chapter.graded} - {"course_lib"}):
        spec = importlib.util.find_spec(top)
        if spec is None or spec.origin is None:
            raise GradingError(f"the check module {top!r} cannot be found to bundle it.")
        origin = Path(spec.origin)
        if origin.name != "__init__.py":
            files[f"extra/{origin.name}"] = origin.read_bytes()
            continue
        for path in sorted(origin.parent.rglob("*")):
            relative = path.relative_to(origin.parent.parent)
            if path.is_file() and not _skip(relative):
                files[f"extra/{relative.as_posix()}"] = path.read_bytes()
    return files
