"""An older NumPy training step against this tree's, in one process, batch by batch.

    git archive <commit> course_lib | tar -x -C /tmp/old
    python benchmarks/ab_step.py /tmp/old --batch-size 1 --rounds 6

Separate processes on a busy machine see the load change between them: a 3% change hides in
that noise. Here both steps run in the same process on the same batches (the reference-shaped
texts of `bench_speed.py`, in length buckets), alternating after every batch and swapping which
goes first every round, so the load falls on both alike. The older tree's `course_lib` is copied
under another name (`course_lib_ab_old`, imports rewritten) so that the two can be imported
together. It prints the median CPU time per step of each, the median of the per-batch ratios,
and whether the two models end with the same weights bit for bit (a change meant only to be
faster must say yes; `benchmarks/fingerprint.py` checks every other path).
"""

from __future__ import annotations

import argparse
import importlib
import re
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
OLD_NAME = "course_lib_ab_old"


def import_old(tree: Path, folder: Path) -> object:
    """`tree`/course_lib copied into `folder` as `course_lib_ab_old`, imported."""
    source = tree / "course_lib"
    if not (source / "__init__.py").is_file():
        raise SystemExit(f"{tree} holds no course_lib/ (make one with git archive, see --help)")
    target = folder / OLD_NAME
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
    for path in target.rglob("*.py"):
        path.write_text(re.sub(r"\bcourse_lib\b", OLD_NAME, path.read_text()))
    sys.path.insert(0, str(folder))
    return importlib.import_module(f"{OLD_NAME}.numpy")


def main(argv: list[str] | None = None) -> int:
    """Alternate the two steps; print medians, the ratio and whether the weights agree."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("old", type=Path, help="a folder holding an older course_lib/")
    parser.add_argument("--batch-size", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=6, help="passes over the batches")
    args = parser.parse_args(argv)

    import numpy as np  # loaded before threadpoolctl: it limits only a BLAS already loaded
    from threadpoolctl import threadpool_limits

    sys.path.insert(0, str(HERE))
    import bench_speed

    from course_lib import numpy as new
    from course_lib.batching import bucketed_batches
    from course_lib.config import ModelConfig

    with tempfile.TemporaryDirectory() as folder, threadpool_limits(limits=1, user_api="blas"):
        old = import_old(args.old.resolve(), Path(folder))
        old_config = importlib.import_module(f"{OLD_NAME}.config").ModelConfig
        rng = np.random.default_rng(0)
        batches = [
            batch
            for texts in bench_speed.texts()
            for batch in bucketed_batches(texts, args.batch_size, rng=rng)
        ]
        steps = {}
        for name, lib, config in (("old", old, old_config), ("new", new, ModelConfig)):
            model = lib.LLM(config(vocab_size=bench_speed.VOCAB), seed=0)
            steps[name] = (lib, model, lib.Adam(model, lr=5e-4))
        times: dict[str, list[float]] = {"old": [], "new": []}
        for round_ in range(args.rounds):
            order = ["old", "new"] if round_ % 2 == 0 else ["new", "old"]
            for x, y, m in batches:
                for name in order:
                    lib, model, optimizer = steps[name]
                    start = time.thread_time()
                    lib.train_step(model, optimizer, x, y, m)
                    times[name].append(time.thread_time() - start)
        same = all(
            np.array_equal(a, b)
            for a, b in zip(
                steps["old"][1].state_dict().values(),
                steps["new"][1].state_dict().values(),
                strict=True,
            )
        )
    ratios = [n / o for o, n in zip(times["old"], times["new"], strict=True)]
    print(f"batch {args.batch_size}, {len(ratios)} steps each, CPU time of this thread:")
    for name in ("old", "new"):
        print(f"  {name}: median {statistics.median(times[name]) * 1e3:.3f} ms per step")
    print(f"  new / old, median of the per-batch ratios: {statistics.median(ratios):.3f}")
    print(f"  same weights at the end, bit for bit: {same}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
