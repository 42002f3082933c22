"""What the course costs to run: every notebook's wall time and kernel peak memory, and import time.

    python benchmarks/budget.py                      # every notebook in chapters/ and solutions/
    python benchmarks/budget.py --threads 1 chapters # as on Binder: one thread
    python benchmarks/budget.py --readme             # also write the table into README.md

Each notebook runs in a fresh kernel, in a scratch copy (nothing in the repo changes). The kernel's
peak resident memory is read inside the kernel at the end (`getrusage`), so it is exact.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README_START = "<!-- budget:start -->"
README_END = "<!-- budget:end -->"
BUDGET_SECONDS = {2: 60.0, 1: 120.0}
BUDGET_MB = 1536.0

PEAK_CELL = """\
import resource as _resource, sys as _sys
_peak_mb = _resource.getrusage(_resource.RUSAGE_SELF).ru_maxrss / 1024
_threads = _sys.modules["torch"].get_num_threads() if "torch" in _sys.modules else None
print("__budget__", _peak_mb, _threads)
"""


def thread_env(threads: int | None) -> dict[str, str]:
    """Environment variables that cap BLAS, OpenMP and torch at `threads` threads."""
    if threads is None:
        return {}
    names = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS")
    return {name: str(threads) for name in names}


def run_notebook(path: Path, threads: int | None, timeout: float) -> dict:
    """Execute one notebook in a scratch directory; return its wall time and kernel peak memory."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError

    nb = nbformat.read(path, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(PEAK_CELL))
    env_before = dict(os.environ)
    os.environ.update(thread_env(threads))
    os.environ.setdefault("MPLBACKEND", "agg")
    row = {"notebook": str(path.relative_to(ROOT)), "status": "ok"}
    try:
        with tempfile.TemporaryDirectory(prefix="budget-") as scratch:
            shutil.copy2(path, Path(scratch) / path.name)
            client = NotebookClient(
                nb,
                timeout=timeout,
                kernel_name="python3",
                resources={"metadata": {"path": scratch}},
            )
            start = time.perf_counter()
            try:
                client.execute()
            except CellTimeoutError:
                row["status"] = "timeout"
            except CellExecutionError as error:
                row["status"] = "error: " + str(error).strip().splitlines()[-1][:120]
            row["seconds"] = time.perf_counter() - start
    finally:
        os.environ.clear()
        os.environ.update(env_before)
    for output in nb.cells[-1].get("outputs", []):
        text = output.get("text", "")
        if text.startswith("__budget__"):
            _, peak, torch_threads = text.split()
            row["peak_mb"] = float(peak)
            row["torch_threads"] = None if torch_threads == "None" else int(torch_threads)
    return row


def import_seconds(statement: str, repeats: int = 7) -> float:
    """Median wall time of `statement` in a fresh interpreter (interpreter start-up excluded)."""
    code = "import time; t = time.perf_counter(); " + statement + "; print(time.perf_counter() - t)"
    times = []
    for _ in range(repeats):
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        )
        times.append(float(out.stdout.strip()))
    return statistics.median(times)


def notebooks(folders: list[str]) -> list[Path]:
    """The .ipynb files of the given folders, in chapter order."""
    found = []
    for folder in folders:
        found += sorted((ROOT / folder).glob("[0-9][0-9]_*.ipynb"))
    return found


def table(rows: list[dict], threads: int | None, imports: dict[str, float]) -> str:
    """A Markdown table of the figures, with the budget each is held to."""
    limit = BUDGET_SECONDS[1 if threads == 1 else 2]
    lines = [
        f"| notebook | wall time (s) | kernel peak (MB) | within {limit:.0f} s and "
        f"{BUDGET_MB / 1024:.1f} GB |",
        "|---|---:|---:|---|",
    ]
    for row in rows:
        ok = (
            row["status"] == "ok"
            and row.get("seconds", 1e9) < limit
            and row.get("peak_mb", 1e9) < BUDGET_MB
        )
        verdict = "yes" if ok else f"**no** ({row['status']})"
        peak = f"{row['peak_mb']:.0f}" if "peak_mb" in row else "?"
        lines.append(f"| `{row['notebook']}` | {row.get('seconds', 0):.1f} | {peak} | {verdict} |")
    lines.append("")
    for name, seconds in imports.items():
        lines.append(f"- `{name}`: {seconds * 1000:.0f} ms (median of 7 fresh interpreters)")
    return "\n".join(lines)


def write_readme(text: str, header: str) -> None:
    """Replace the budget block of README.md with `text`."""
    readme = ROOT / "README.md"
    content = readme.read_text()
    if README_START not in content or README_END not in content:
        raise SystemExit(f"README.md has no {README_START} ... {README_END} block to fill")
    before, rest = content.split(README_START, 1)
    _, after = rest.split(README_END, 1)
    readme.write_text(f"{before}{README_START}\n{header}\n\n{text}\n{README_END}{after}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="*", default=["chapters", "solutions"])
    parser.add_argument("--threads", type=int, default=None, help="cap BLAS/torch threads")
    parser.add_argument("--timeout", type=float, default=300, help="per-cell timeout (s)")
    parser.add_argument("--json", type=Path, help="also write the figures as JSON here")
    parser.add_argument("--readme", action="store_true", help="write the table into README.md")
    args = parser.parse_args(argv)

    rows = []
    for path in notebooks(args.folders):
        row = run_notebook(path, args.threads, args.timeout)
        print(
            f"{row['notebook']:<40} {row.get('seconds', 0):6.1f} s "
            f"{row.get('peak_mb', float('nan')):7.0f} MB  {row['status']}",
            flush=True,
        )
        rows.append(row)
    imports = {
        "import course_lib; from course_lib import numpy": import_seconds(
            "import course_lib; from course_lib import numpy"
        ),
        "from course_lib import torch": import_seconds("from course_lib import torch"),
    }
    text = table(rows, args.threads, imports)
    load = os.getloadavg()[0]
    cpus = os.cpu_count()
    flags = f" --threads {args.threads}" if args.threads else ""
    header = (
        f"Measured by `python benchmarks/budget.py{flags}` on {cpus} cores"
        f" (load average {load:.1f} at the end)."
    )
    print()
    print(header)
    print(text)
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "imports": imports}, indent=2))
    if args.readme:
        write_readme(text, header)
    failed = [r for r in rows if r["status"] != "ok"]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
