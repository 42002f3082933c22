"""A check's verdict does not depend on the floating-point path: every answer of the check
corpus gets the same status, points, hint and mistake id on this machine's own OpenBLAS kernels
and on the second path `make notebooks` uses (other kernels, one thread).

Oracle: the same checks, run on the same answers in two fresh processes that differ only in the
environment that picks the path.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("portability", ROOT / "benchmarks/portability.py")
portability = importlib.util.module_from_spec(spec)
spec.loader.exec_module(portability)

VERDICTS = """
import json, sys
sys.path.insert(0, sys.argv[1])
from _grading_helpers import in_process
from check_corpus import corpus, exercises

found = {}
all_exercises = exercises()
for grade_id, answers in sorted(corpus().items()):
    cases = [("valid", n, s) for n, s in answers.valid.items()]
    cases += [("mistake", n, m.source) for n, m in answers.mistakes.items()]
    for kind, name, source in cases:
        outcome = in_process(all_exercises[grade_id], source)
        found[f"{grade_id}/{kind}/{name}"] = [
            outcome.status, outcome.points, outcome.message, outcome.mistake
        ]
print(json.dumps(found))
"""


def verdicts(extra_env: dict[str, str]) -> dict[str, list]:
    done = subprocess.run(
        [sys.executable, "-c", VERDICTS, str(ROOT / "tests")],
        env={**os.environ, "MPLBACKEND": "agg", **extra_env},
        capture_output=True,
        text=True,
        timeout=600,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_every_corpus_answer_gets_the_same_verdict_on_two_paths() -> None:
    here, there = verdicts({}), verdicts(portability.second_path())
    assert len(here) > 300  # the whole corpus ran
    differ = {case: (here[case], there.get(case)) for case in here if here[case] != there.get(case)}
    assert differ == {}
