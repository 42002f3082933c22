"""A learner's JupyterLab set-up: their own copy of the chapters, and the course's settings.

    python -m course_lib.lab            # copy new chapters into work/, install the settings
    python -m course_lib.lab --root DIR --prefix ENV

`work/` is the learner's: git ignores it, so autosave never touches a file `git pull` updates.
A chapter is its notebook and the .py jupytext pairs with it, copied together. A chapter already
in `work/` is never overwritten; a chapter whose notebook is missing there (new in `chapters/`, or
renamed by the learner to take an updated version) is copied in. A paired .py left behind by such a
rename holds the learner's answers: it is kept under another name (`NN_topic.old.py`), never
overwritten and never left to pair with the new notebook (jupytext refuses to open a notebook
whose paired .py differs from it and is older).
The settings (binder/jupyterlab-settings.json: no news pop-up, kernels start on their own, widget
state saved with the notebook, .py files open as notebooks) become this environment's JupyterLab
defaults (`<sys.prefix>/share/jupyter/lab/settings/overrides.json`), as on Binder.

Widget state and saving: JupyterLab saves the state of the widgets whose kernel is alive. A
notebook reopened later shows its widgets from the saved state, but their kernel is gone, so the
next save (without Run All) would write no state at all, and the notebook after that shows
"Error displaying widget: model not found". `keep_widget_state`, a save hook this module installs
for the Jupyter server (in `<sys.prefix>/etc/jupyter/jupyter_server_config.json`),
carries the saved state of every widget still shown over from the file being replaced.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

SETTINGS = Path("binder") / "jupyterlab-settings.json"
WORK = "work"
SERVER_CONFIG = "jupyter_server_config.json"  # in <prefix>/etc/jupyter/
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def _free_name(folder: Path, stem: str, suffix: str) -> Path:
    """`folder/stem.old.py`, or `stem.old2.py`, ...: the first name not taken."""
    for number in range(1, 1000):
        candidate = folder / f"{stem}.old{number if number > 1 else ''}{suffix}"
        if not candidate.exists():
            return candidate
    raise FileExistsError(f"{folder} has {stem}.old ... .old999{suffix}: tidy work/ up first")


def copy_new_chapters(root: Path) -> list[Path]:
    """Copy each chapter (`chapters/NN_*.ipynb` and its paired .py) whose notebook is missing
    from `work/`; return the files copied. A learner's .py in the way is set aside first
    (see `update_work`); nothing of the learner's is overwritten."""
    return [copied for copied, _ in update_work(root)[0]]


def update_work(root: Path) -> tuple[list[tuple[Path, Path]], list[tuple[Path, Path]]]:
    """Copy in the chapters whose notebook `work/` lacks. Return (copied, set_aside): pairs of
    (file in work/, its source in chapters/) and (learner's file, the name it was moved to)."""
    chapters = root / "chapters"
    if not chapters.is_dir():
        raise FileNotFoundError(f"{chapters} does not exist; run this from the course folder")
    work = root / WORK
    work.mkdir(exist_ok=True)
    copied: list[tuple[Path, Path]] = []
    set_aside: list[tuple[Path, Path]] = []
    for notebook in sorted(chapters.glob("[0-9][0-9]_*.ipynb")):
        if (work / notebook.name).exists():
            continue  # the learner's copy; its .py (if any) is theirs too
        sources = [notebook, notebook.with_suffix(".py")]
        for source in sources:
            target = work / source.name
            if target.exists():  # the .py of a notebook the learner renamed or removed
                kept = _free_name(work, target.stem, target.suffix)
                target.rename(kept)
                set_aside.append((target, kept))
        for source in sources:
            if source.exists():
                shutil.copy2(source, work / source.name)
                copied.append((work / source.name, source))
    return copied, set_aside


def count_notebooks(root: Path) -> tuple[list[str], list[str]]:
    """(chapters, others): the names of work/'s notebooks that are course chapters (named as in
    chapters/), and of every other notebook there (a learner's renamed copy, say)."""
    names = {p.name for p in (root / "chapters").glob("[0-9][0-9]_*.ipynb")}
    present = sorted(p.name for p in (root / WORK).glob("*.ipynb"))
    return [n for n in present if n in names], [n for n in present if n not in names]


def install_settings(root: Path, prefix: Path | None = None) -> Path:
    """Copy the course's JupyterLab settings to `prefix` (default: this Python's environment)."""
    settings = Path(prefix or sys.prefix) / "share" / "jupyter" / "lab" / "settings"
    settings.mkdir(parents=True, exist_ok=True)
    target = settings / "overrides.json"
    shutil.copyfile(root / SETTINGS, target)
    return target


def install_server_config(prefix: Path | None = None) -> Path:
    """Make the Jupyter server of `prefix` (default: this Python's environment) run
    `keep_widget_state` before each save: the `ContentsManager.pre_save_hook` of
    `etc/jupyter/jupyter_server_config.json` there (the file's other settings are kept)."""
    folder = Path(prefix or sys.prefix) / "etc" / "jupyter"
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / SERVER_CONFIG
    try:
        config = json.loads(target.read_text(encoding="utf-8"))
    except FileNotFoundError:
        config = {}
    except ValueError as error:
        raise ValueError(f"{target} is not JSON ({error}): fix or remove it, then rerun") from None
    config.setdefault("ContentsManager", {})["pre_save_hook"] = f"{__name__}.keep_widget_state"
    target.write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    return target


def _widget_state(notebook: dict) -> dict:
    return notebook.get("metadata", {}).get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})


def _shown_widgets(notebook: dict) -> list[str]:
    """The model ids of the widgets the notebook's outputs display, in order."""
    shown = []
    for cell in notebook.get("cells", []):
        for output in cell.get("outputs", []) or []:
            view = (output.get("data") or {}).get(WIDGET_VIEW)
            if isinstance(view, dict) and view.get("model_id"):
                shown.append(view["model_id"])
    return shown


def merge_widget_state(notebook: dict, previous: dict) -> list[str]:
    """Copy into `notebook` (a notebook about to be saved) the state, kept in `previous` (the
    file it replaces), of each widget its outputs show but its own state lacks, with every model
    that state refers to (layouts, styles, children). Return the model ids copied."""
    old = _widget_state(previous)
    state = dict(_widget_state(notebook))
    wanted = [i for i in _shown_widgets(notebook) if i not in state and i in old]
    copied = []
    while wanted:
        model_id = wanted.pop()
        if model_id in state or model_id not in old:
            continue
        state[model_id] = old[model_id]
        copied.append(model_id)
        text = json.dumps(old[model_id].get("state", {}))
        for part in text.split("IPY_MODEL_")[1:]:
            wanted.append(part.split('"', 1)[0])
    if copied:
        saved = previous["metadata"]["widgets"][WIDGET_STATE]
        widgets = notebook.setdefault("metadata", {}).setdefault("widgets", {})
        entry = dict(widgets.get(WIDGET_STATE) or {})
        entry.setdefault("version_major", saved.get("version_major", 2))
        entry.setdefault("version_minor", saved.get("version_minor", 0))
        entry["state"] = state
        widgets[WIDGET_STATE] = entry
    return copied


def keep_widget_state(model: dict, path: str, contents_manager: Any, **kwargs: Any) -> None:
    """Jupyter server pre-save hook: a notebook saved while its widgets' kernel is gone keeps
    their saved state (`merge_widget_state` with the file on disk); anything else is untouched."""
    if model.get("type") != "notebook" or not str(path).endswith(".ipynb"):
        return
    root = getattr(contents_manager, "root_dir", "")
    os_path = Path(root, str(path).strip("/"))
    try:
        previous = json.loads(os_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return  # a new file, or one that is not JSON: nothing to keep
    copied = merge_widget_state(model["content"], previous)
    if copied and hasattr(contents_manager, "log"):
        contents_manager.log.info(
            "%s: kept the saved state of %d widget models", os.path.basename(path), len(copied)
        )


def main(argv: list[str] | None = None) -> int:
    """Command line: copy new chapters into work/ and install the JupyterLab settings."""
    parser = argparse.ArgumentParser(prog="python -m course_lib.lab", description=__doc__)
    parser.add_argument("--root", type=Path, default=Path.cwd(), help="course folder (default: .)")
    parser.add_argument(
        "--prefix",
        type=Path,
        default=Path(sys.prefix),
        help="environment that gets the settings and the save hook (default: this Python's)",
    )
    args = parser.parse_args(argv)
    root = args.root.resolve()
    try:
        copied, set_aside = update_work(root)
    except (FileNotFoundError, FileExistsError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    for old, kept in set_aside:
        print(
            f"{old.relative_to(root)}: yours (paired with a notebook no longer there), "
            f"kept as {kept.relative_to(root)}"
        )
    for path, source in copied:
        print(f"{path.relative_to(root)}: new copy of {source.relative_to(root)}")
    chapters, others = count_notebooks(root)
    count = f"{len(chapters)} chapter{'s' if len(chapters) != 1 else ''}"
    line = f"work/: {count}, your own copies ({len(copied)} files new)"
    if others:
        line += f"; other notebooks of yours: {', '.join(others)}"
    print(line + ".")
    if (root / SETTINGS).exists():
        print(f"JupyterLab settings: {install_settings(root, args.prefix)}")
    try:
        hook = install_server_config(args.prefix)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"Jupyter server save hook (keeps widget state): {hook}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
