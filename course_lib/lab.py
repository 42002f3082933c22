"""A learner's JupyterLab set-up: their own copy of the chapters, and the course's settings.

    python -m course_lib.lab            # copy new chapters into work/, install the settings
    python -m course_lib.lab --root DIR

`work/` is the learner's: git ignores it, so autosave never touches a file `git pull` updates.
A chapter already in `work/` is never overwritten; a chapter new in `chapters/` is copied in.
The settings (binder/jupyterlab-settings.json: no news pop-up, kernels start on their own, widget
state saved with the notebook, .py files open as notebooks) become this environment's JupyterLab
defaults (`<sys.prefix>/share/jupyter/lab/settings/overrides.json`), as on Binder.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

SETTINGS = Path("binder") / "jupyterlab-settings.json"
WORK = "work"


def copy_new_chapters(root: Path) -> list[Path]:
    """Copy each `chapters/NN_*` notebook and its paired .py missing from `work/`; return them."""
    chapters = root / "chapters"
    if not chapters.is_dir():
        raise FileNotFoundError(f"{chapters} does not exist; run this from the course folder")
    work = root / WORK
    work.mkdir(exist_ok=True)
    copied = []
    for source in sorted(chapters.glob("[0-9][0-9]_*")):
        if source.suffix not in (".ipynb", ".py"):
            continue
        target = work / source.name
        if not target.exists():
            shutil.copy2(source, target)
            copied.append(target)
    return copied


def install_settings(root: Path, prefix: Path | None = None) -> Path:
    """Copy the course's JupyterLab settings to `prefix` (default: this Python's environment)."""
    settings = Path(prefix or sys.prefix) / "share" / "jupyter" / "lab" / "settings"
    settings.mkdir(parents=True, exist_ok=True)
    target = settings / "overrides.json"
    shutil.copyfile(root / SETTINGS, target)
    return target


def main(argv: list[str] | None = None) -> int:
    """Command line: copy new chapters into work/ and install the JupyterLab settings."""
    parser = argparse.ArgumentParser(prog="python -m course_lib.lab", description=__doc__)
    parser.add_argument("--root", type=Path, default=Path.cwd(), help="course folder (default: .)")
    args = parser.parse_args(argv)
    root = args.root.resolve()
    try:
        copied = copy_new_chapters(root)
    except FileNotFoundError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    for path in copied:
        print(f"{path.relative_to(root)}: new copy of chapters/{path.name}")
    kept = len(list((root / WORK).glob("[0-9][0-9]_*.ipynb")))
    print(f"work/: {kept} chapters, your own copies ({len(copied)} files new).")
    if (root / SETTINGS).exists():
        print(f"JupyterLab settings: {install_settings(root)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
