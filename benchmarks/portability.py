"""Every notebook under every floating-point path this machine can produce, and what each claimed.

A path is an OpenBLAS core type (`OPENBLAS_CORETYPE`; each picks other matrix-product kernels and
so other last bits) and a thread count. Each notebook runs in a fresh kernel per path (nbclient,
errors allowed), with ``COURSE_CLAIMS_LOG`` set so that every band a chapter checks
(`course_lib.claims.within`) records its value. Prints two tables:

- each band: the values measured on each path, the band, and its smallest margin;
- each claim cell ("checked against this run"): on which paths it passed.

and exits 1 if any cell failed on any path. Two paths run at a time (one per core).

    python benchmarks/portability.py                      # the whole matrix, both folders
    python benchmarks/portability.py --paths native Prescott --notebooks solutions/05*.ipynb
    python benchmarks/portability.py --readme             # also rewrite the README's table
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# name -> (OPENBLAS_CORETYPE or None for the machine's own choice, BLAS threads)
PATHS: dict[str, tuple[str | None, int]] = {
    "native": (None, 2),
    "Haswell": ("Haswell", 2),
    "Sandybridge": ("Sandybridge", 2),
    "Nehalem": ("Nehalem", 2),
    "Prescott-1t": ("Prescott", 1),
}
CLAIM_HEADER = re.compile(r"# The text (above|below|around this cell)\b[^\n]*checked")
README_START = "<!-- portability table: benchmarks/portability.py --readme -->"
README_END = "<!-- end of portability table -->"


def second_path(
    environ: dict[str, str] | None = None, machine: str | None = None
) -> dict[str, str]:
    """The variables that put a run on a path other than the environment's own.

    On x86-64, OpenBLAS's oldest kernels (Prescott; Nehalem where the environment already chose
    Prescott), which every x86-64 CPU runs; elsewhere core types have other names, so only the
    thread count changes. One thread in either case.
    """
    import platform

    environ = os.environ if environ is None else environ
    machine = (machine or platform.machine()).lower()
    assignments = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    if machine in ("x86_64", "amd64"):
        current = environ.get("OPENBLAS_CORETYPE", "").lower()
        assignments["OPENBLAS_CORETYPE"] = "Nehalem" if current == "prescott" else "Prescott"
    return assignments


def path_env(path: str) -> dict[str, str]:
    coretype, threads = PATHS[path]
    env = dict(os.environ, MPLBACKEND="agg", PYTHONPATH=str(ROOT))
    env.pop("OPENBLAS_CORETYPE", None)
    if coretype:
        env["OPENBLAS_CORETYPE"] = coretype
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"):
        env[name] = str(threads)
    return env


def run_notebook(notebook: str, log: str, timeout: int) -> dict:
    """Worker side: execute one notebook, return its claim cells' outcomes and its errors."""
    import nbformat
    import numpy as np
    from nbclient import NotebookClient
    from threadpoolctl import threadpool_info

    np.ones((2, 2)) @ np.ones((2, 2))  # load the BLAS so that threadpoolctl sees it
    architecture = next((i.get("architecture") for i in threadpool_info()), "?")
    nb = nbformat.read(notebook, as_version=4)
    os.environ["COURSE_CLAIMS_LOG"] = log
    client = NotebookClient(
        nb,
        timeout=timeout,
        startup_timeout=120,
        kernel_name="python3",
        allow_errors=True,
        resources={"metadata": {"path": str(Path(notebook).parent)}},
    )
    client.execute()
    cells, errors = [], []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        error = next((o for o in cell.get("outputs", []) if o.get("output_type") == "error"), None)
        first = cell.source.splitlines()[0] if cell.source else ""
        if CLAIM_HEADER.match(cell.source):
            cells.append({"cell": index, "claim": first, "ok": error is None})
        if error is not None:
            errors.append(f"cell {index} ({first[:60]}): {error['ename']}: {error['evalue'][:200]}")
    return {"architecture": architecture, "claims": cells, "errors": errors}


def train_chapter05(seed: int) -> dict:
    """Worker side: chapter 05's schedule with `seed` for the weights and the batch order."""
    from course_lib import numpy as cl
    from course_lib.config import ModelConfig
    from course_lib.corpus import chat_texts, pretraining_texts
    from course_lib.vocab import Vocab

    facts, chat = pretraining_texts(), chat_texts()
    vocab = Vocab.build(facts + chat)
    model = cl.LLM(ModelConfig(vocab_size=len(vocab)), seed=seed)
    optimizer = cl.Adam(model, lr=3e-3)
    common = dict(batch_size=8, optimizer=optimizer, progress=False)
    pre = cl.train(model, vocab, facts, epochs=50, lr=3e-3, seed=seed, **common)
    tuned = cl.train(model, vocab, chat, epochs=40, lr=2.5e-3, seed=seed + 1, **common)
    prompts = [text.split("Assistant:", 1)[0] + "Assistant:" for text in chat]
    trained = [
        vocab.decode(vocab.encode(text.split("Assistant:", 1)[1].replace("</s>", "")))
        for text in chat
    ]
    answers = cl.generate_batch(model, vocab, prompts)
    matches = sum(a == t for a, t in zip(answers, trained, strict=True))
    return {
        "ch05.pretrain_loss": pre[-1],
        "ch05.chat_loss": tuned[-1],
        "ch05.pretrain_lowest_loss": min(pre),
        "ch05.training_questions_answered": matches,
    }


def seed_spread(path: str, seeds: int) -> dict[str, list[float]]:
    """Chapter 05's training under `path` with seeds 0 .. seeds-1: each figure's values."""
    found: dict[str, list[float]] = {}
    for seed in range(seeds):
        done = subprocess.run(
            [sys.executable, __file__, "--train-worker", str(seed)],
            env=path_env(path),
            capture_output=True,
            text=True,
            timeout=3600,
            cwd=ROOT,
        )
        if done.returncode != 0:
            raise RuntimeError(f"{path}, seed {seed}: {done.stderr[-800:]}")
        for name, value in json.loads(done.stdout.strip().splitlines()[-1]).items():
            found.setdefault(name, []).append(value)
        print(f"  {path:12s} chapter 05 training, seed {seed}: done", flush=True)
    return found


def run_path(path: str, notebooks: list[str], timeout: int) -> dict:
    """Run every notebook under `path` in a subprocess whose environment selects the path."""
    results = {}
    for notebook in notebooks:
        with tempfile.TemporaryDirectory() as tmp:
            log = os.path.join(tmp, "claims.jsonl")
            command = [sys.executable, __file__, "--worker", notebook, log, str(timeout)]
            done = subprocess.run(
                command,
                env=path_env(path),
                capture_output=True,
                text=True,
                timeout=timeout * 4,
                cwd=ROOT,
            )
            if done.returncode != 0:
                results[notebook] = {
                    "architecture": "?",
                    "claims": [],
                    "values": [],
                    "errors": [f"worker failed: {done.stderr[-500:]}"],
                }
                continue
            outcome = json.loads(done.stdout.strip().splitlines()[-1])
            lines = Path(log).read_text().splitlines() if os.path.exists(log) else []
            outcome["values"] = [json.loads(line) for line in lines]
            results[notebook] = outcome
        print(f"  {path:12s} {notebook}: {len(results[notebook]['errors'])} errors", flush=True)
    return results


def band_table(results: dict[str, dict]) -> list[str]:
    from course_lib.claims import BANDS, Band

    paths = list(results)
    seen: dict[str, dict[str, list[float]]] = {}
    for path, by_notebook in results.items():
        for outcome in by_notebook.values():
            for entry in outcome["values"]:
                seen.setdefault(entry["name"], {}).setdefault(path, []).append(entry["value"])
    lines = ["| band | " + " | ".join(paths) + " | band | margin |"]
    lines.append("|---" * (len(paths) + 3) + "|")
    for name in sorted(seen):
        cells = []
        for path in paths:
            values = seen[name].get(path, [])
            if not values:
                cells.append("-")
            elif min(values) == max(values):
                cells.append(f"{values[0]:.4g}")
            else:
                cells.append(f"{min(values):.4g}-{max(values):.4g}")
        every = [v for values in seen[name].values() for v in values]
        band = BANDS.get(name)
        if band is None:
            lines.append(f"| {name} | " + " | ".join(cells) + " | (none) | |")
            continue
        try:  # the margin as the band itself counts it (an edge on a limit needs none)
            seen_band = Band(band.low, band.high, band.what, (min(every), max(every)), band.limits)
            margin = f"{seen_band.margin:.0%}"
        except ValueError:
            margin = "**outside**"
        lines.append(
            f"| {name} | " + " | ".join(cells) + f" | {band.low:g} to {band.high:g} | {margin} |"
        )
    return lines


def claim_table(results: dict[str, dict]) -> tuple[list[str], int]:
    paths = list(results)
    rows: dict[tuple[str, int], dict[str, bool]] = {}
    labels: dict[tuple[str, int], str] = {}
    for path, by_notebook in results.items():
        for notebook, outcome in by_notebook.items():
            for claim in outcome["claims"]:
                key = (notebook, claim["cell"])
                rows.setdefault(key, {})[path] = claim["ok"]
                labels[key] = claim["claim"]
    lines = ["| notebook | claim cell | " + " | ".join(paths) + " |"]
    lines.append("|---" * (len(paths) + 2) + "|")
    failed = 0
    for key in sorted(rows):
        notebook, cell = key
        label = labels[key].removeprefix("# The text ").rstrip(".")
        marks = []
        for path in paths:
            ok = rows[key].get(path)
            marks.append("-" if ok is None else ("pass" if ok else "**FAIL**"))
            failed += ok is False
        lines.append(f"| {notebook} | {cell}: {label[:60]} | " + " | ".join(marks) + " |")
    return lines, failed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--worker", nargs=3, metavar=("NOTEBOOK", "LOG", "TIMEOUT"), help=argparse.SUPPRESS
    )
    parser.add_argument("--paths", nargs="+", choices=list(PATHS), default=list(PATHS))
    parser.add_argument("--notebooks", nargs="+", help="default: chapters/ and solutions/")
    parser.add_argument("--timeout", type=int, default=600, help="seconds per cell")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--readme", action="store_true", help="rewrite the README's table")
    parser.add_argument("--json", help="also write every result to this file")
    parser.add_argument("--train-worker", type=int, help=argparse.SUPPRESS)
    parser.add_argument(
        "--seeds",
        type=int,
        default=0,
        help="also train chapter 05's model with this many seeds on each path",
    )
    parser.add_argument(
        "--second-path",
        action="store_true",
        help="print the VAR=value assignments of `make notebooks`' second path",
    )
    args = parser.parse_args(argv)
    if args.second_path:
        print(" ".join(f"{name}={value}" for name, value in second_path().items()))
        return 0
    if args.train_worker is not None:
        print(json.dumps(train_chapter05(args.train_worker)))
        return 0
    if args.seeds:
        with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
            futures = {p: pool.submit(seed_spread, p, args.seeds) for p in args.paths}
            spreads = {path: future.result() for path, future in futures.items()}
        print(f"\nchapter 05's training, seeds 0-{args.seeds - 1}, per path (min-max):")
        names = sorted({name for spread in spreads.values() for name in spread})
        print("| figure | " + " | ".join(spreads) + " | all |")
        print("|---" * (len(spreads) + 2) + "|")
        for name in names:
            every = [v for spread in spreads.values() for v in spread[name]]
            cells = [f"{min(s[name]):.4g}-{max(s[name]):.4g}" for s in spreads.values()]
            print(f"| {name} | " + " | ".join(cells) + f" | {min(every):.4g}-{max(every):.4g} |")
        if not args.notebooks:
            return 0
    if args.worker:
        notebook, log, timeout = args.worker
        print(json.dumps(run_notebook(notebook, log, int(timeout))))
        return 0
    notebooks = args.notebooks or sorted(
        str(p.relative_to(ROOT)) for p in (ROOT / "solutions").glob("0*.ipynb")
    ) + sorted(str(p.relative_to(ROOT)) for p in (ROOT / "chapters").glob("0*.ipynb"))
    with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
        futures = {
            path: pool.submit(run_path, path, notebooks, args.timeout) for path in args.paths
        }
        results = {path: future.result() for path, future in futures.items()}
    architectures = {
        path: sorted({o["architecture"] for o in by_notebook.values()})
        for path, by_notebook in results.items()
    }
    print("\nOpenBLAS kernels per path:", {p: "/".join(a) for p, a in architectures.items()})
    bands = band_table(results)
    claims, failed = claim_table(results)
    print("\n" + "\n".join(bands) + "\n\n" + "\n".join(claims))
    for path, by_notebook in results.items():
        for notebook, outcome in by_notebook.items():
            for error in outcome["errors"]:
                print(f"{path} {notebook}: {error}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    if args.readme:
        readme = ROOT / "README.md"
        text = readme.read_text()
        start, end = text.index(README_START), text.index(README_END)
        kernels = ", ".join(f"{p}: {'/'.join(a)}" for p, a in architectures.items())
        table = "\n".join([README_START, "", f"Kernels: {kernels}.", "", *bands, ""])
        readme.write_text(text[:start] + table + text[end:])
    errors = sum(len(o["errors"]) for by_nb in results.values() for o in by_nb.values())
    print(f"\n{failed} claim cells failed, {errors} cells raised, over {len(results)} paths")
    return 1 if failed or errors else 0


if __name__ == "__main__":
    sys.exit(main())
