"""A learner's own copy of the chapters (work/) and the course's JupyterLab settings.

Oracles: the files in chapters/ (byte copies), a learner's edit that must survive, git's own
answer to whether work/ is ignored.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from course_lib import lab

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture()
def course(tmp_path: Path) -> Path:
    """A course folder with two chapters (a notebook and its .py each) and the settings file."""
    root = tmp_path / "course"
    (root / "chapters").mkdir(parents=True)
    for name in ("01_a.ipynb", "01_a.py", "02_b.ipynb", "02_b.py"):
        (root / "chapters" / name).write_text(f"course version of {name}\n")
    (root / "binder").mkdir()
    shutil.copy(ROOT / lab.SETTINGS, root / lab.SETTINGS)
    return root


def test_first_run_copies_every_chapter_into_work(course: Path) -> None:
    copied = lab.copy_new_chapters(course)
    assert [p.name for p in copied] == ["01_a.ipynb", "01_a.py", "02_b.ipynb", "02_b.py"]
    for path in copied:
        assert path.read_bytes() == (course / "chapters" / path.name).read_bytes()


def test_a_learners_copy_is_never_overwritten(course: Path) -> None:
    lab.copy_new_chapters(course)
    (course / "work" / "01_a.ipynb").write_text("my answers\n")
    (course / "chapters" / "01_a.ipynb").write_text("updated by git pull\n")
    assert lab.copy_new_chapters(course) == []
    assert (course / "work" / "01_a.ipynb").read_text() == "my answers\n"


def test_a_chapter_new_in_the_course_is_copied_in(course: Path) -> None:
    lab.copy_new_chapters(course)
    (course / "chapters" / "03_c.ipynb").write_text("a new chapter\n")
    assert [p.name for p in lab.copy_new_chapters(course)] == ["03_c.ipynb"]


def test_a_learners_notebook_without_its_py_gets_no_course_py(course: Path) -> None:
    # jupytext would read the inputs from a .py newer than the notebook: the course's, not theirs.
    lab.copy_new_chapters(course)
    (course / "work" / "01_a.py").unlink()
    assert lab.copy_new_chapters(course) == []
    assert not (course / "work" / "01_a.py").exists()


def test_renaming_a_chapter_takes_the_update_and_sets_the_old_py_aside(course: Path, capsys):
    # What the README says to do: rename your copy, run `make work`, get the new version beside it.
    lab.copy_new_chapters(course)
    work = course / "work"
    (work / "01_a.ipynb").write_text("my answers (notebook)\n")
    (work / "01_a.py").write_text("my answers (paired py)\n")
    (work / "01_a.ipynb").rename(work / "01_a.mine.ipynb")
    for name in ("01_a.ipynb", "01_a.py"):
        (course / "chapters" / name).write_text(f"updated {name}\n")

    assert lab.main(["--root", str(course), "--prefix", str(course / "env")]) == 0

    assert (work / "01_a.ipynb").read_text() == "updated 01_a.ipynb\n"
    assert (work / "01_a.py").read_text() == "updated 01_a.py\n"
    assert (work / "01_a.old.py").read_text() == "my answers (paired py)\n"
    assert (work / "01_a.mine.ipynb").read_text() == "my answers (notebook)\n"
    out = capsys.readouterr().out
    assert "work/01_a.py: yours (paired with a notebook no longer there), kept as" in out
    assert "work/: 2 chapters, your own copies (2 files new); " in out
    assert "other notebooks of yours: 01_a.mine.ipynb." in out


def test_a_set_aside_py_never_overwrites_an_earlier_one(course: Path) -> None:
    lab.copy_new_chapters(course)
    work = course / "work"
    for round_ in (1, 2):
        (work / "01_a.py").write_text(f"answers of round {round_}\n")
        (work / "01_a.ipynb").unlink()
        lab.copy_new_chapters(course)
    assert (work / "01_a.old.py").read_text() == "answers of round 1\n"
    assert (work / "01_a.old2.py").read_text() == "answers of round 2\n"


def test_the_updated_chapter_opens_in_jupytext_after_a_rename(tmp_path: Path) -> None:
    # Oracle: jupytext's own contents manager (what JupyterLab opens notebooks with). It refuses
    # a notebook older than its paired .py ("... is more recent than ..."): that must not happen
    # to the copy taken after the learner renamed theirs, nor to the renamed notebook itself.
    jupytext = pytest.importorskip("jupytext")
    from jupyter_server.services.contents.largefilemanager import LargeFileManager

    root = tmp_path / "course"
    (root / "chapters").mkdir(parents=True)
    name = "03_transformer_block"
    for suffix in (".ipynb", ".py"):
        shutil.copy(ROOT / "chapters" / f"{name}{suffix}", root / "chapters" / f"{name}{suffix}")
    shutil.copy(ROOT / "jupytext.toml", root / "jupytext.toml")
    work = root / "work"
    lab.copy_new_chapters(root)
    with (work / f"{name}.py").open("a") as paired:  # the learner's answers, saved by jupytext
        paired.write("\n# %%\nmy_answer = 42\n")
    saved, pulled = 1_700_000_000, 1_700_100_000  # the learner's last save, then a git pull
    for path in work.iterdir():
        os.utime(path, (saved, saved))
    for path in (root / "chapters").iterdir():
        os.utime(path, (pulled, pulled))
    (work / f"{name}.ipynb").rename(work / f"{name}.mine.ipynb")

    lab.copy_new_chapters(root)

    manager_class = jupytext.build_sync_jupytext_contents_manager_class(LargeFileManager)
    manager = manager_class(root_dir=str(work))
    for notebook in (f"{name}.ipynb", f"{name}.mine.ipynb", f"{name}.old.py"):
        model = manager.get(notebook)
        assert model["type"] == "notebook" and model["content"]["cells"], notebook
    sources = [
        "".join(cell["source"]) for cell in manager.get(f"{name}.old.py")["content"]["cells"]
    ]
    assert "my_answer = 42" in sources
    sources = ["".join(cell["source"]) for cell in manager.get(f"{name}.ipynb")["content"]["cells"]]
    assert "my_answer = 42" not in sources


def _widget_notebook(shown: list[str], state: dict) -> dict:
    """A notebook whose outputs display the widgets `shown`, saved with widget `state`."""
    outputs = [
        {
            "output_type": "display_data",
            "metadata": {},
            "data": {
                "text/plain": "VBox()",
                lab.WIDGET_VIEW: {"version_major": 2, "version_minor": 0, "model_id": model_id},
            },
        }
        for model_id in shown
    ]
    cell = {"cell_type": "code", "execution_count": 1, "id": "c1", "metadata": {}}
    return {
        "cells": [{**cell, "source": "inspector", "outputs": outputs}],
        "metadata": {
            "widgets": {lab.WIDGET_STATE: {"version_major": 2, "version_minor": 0, "state": state}}
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }


# A box (shown) with a child and a layout, and a model no output shows any more.
SAVED_STATE = {
    "box": {"model_name": "VBoxModel", "state": {"children": ["IPY_MODEL_child"]}},
    "child": {"model_name": "HTMLModel", "state": {"layout": "IPY_MODEL_layout", "value": "hi"}},
    "layout": {"model_name": "LayoutModel", "state": {}},
    "gone": {"model_name": "HTMLModel", "state": {"value": "an old run"}},
}


def test_a_save_without_the_kernel_keeps_the_state_of_the_widgets_shown() -> None:
    # Oracle: the state saved before, model by model. JupyterLab saves only the widgets of a
    # running kernel, so a reopened notebook saved again comes with an empty state.
    notebook = _widget_notebook(["box"], {})
    previous = _widget_notebook(["box"], SAVED_STATE)
    assert sorted(lab.merge_widget_state(notebook, previous)) == ["box", "child", "layout"]
    state = notebook["metadata"]["widgets"][lab.WIDGET_STATE]["state"]
    assert state == {k: SAVED_STATE[k] for k in ("box", "child", "layout")}


def test_a_save_with_the_kernel_running_is_left_as_it_is() -> None:
    live = {"box2": {"model_name": "VBoxModel", "state": {}}}
    notebook = _widget_notebook(["box2"], live)
    before = json.dumps(notebook, sort_keys=True)
    assert lab.merge_widget_state(notebook, _widget_notebook(["box"], SAVED_STATE)) == []
    assert json.dumps(notebook, sort_keys=True) == before


def test_the_save_hook_keeps_widget_state_over_any_number_of_saves(tmp_path: Path) -> None:
    # Oracle: the file the Jupyter server itself writes, with the hook as the config names it.
    from jupyter_server.services.contents.largefilemanager import LargeFileManager
    from traitlets.config import Config

    config = Config(json.loads(lab.install_server_config(tmp_path / "env").read_text()))
    manager = LargeFileManager(root_dir=str(tmp_path), config=config)
    assert manager.pre_save_hook is lab.keep_widget_state
    manager.save({"type": "notebook", "content": _widget_notebook(["box"], SAVED_STATE)}, "n.ipynb")
    for _ in range(3):  # reopened, saved again without running: the frontend sends no state
        manager.save({"type": "notebook", "content": _widget_notebook(["box"], {})}, "n.ipynb")
        saved = json.loads((tmp_path / "n.ipynb").read_text())
        assert sorted(saved["metadata"]["widgets"][lab.WIDGET_STATE]["state"]) == [
            "box",
            "child",
            "layout",
        ]


def test_the_server_config_keeps_what_else_the_file_says(tmp_path: Path) -> None:
    target = tmp_path / "env" / "etc" / "jupyter" / "jupyter_server_config.json"
    target.parent.mkdir(parents=True)
    target.write_text('{"ServerApp": {"port": 9999}}')
    assert lab.install_server_config(tmp_path / "env") == target
    assert json.loads(target.read_text()) == {
        "ServerApp": {"port": 9999},
        "ContentsManager": {"pre_save_hook": "course_lib.lab.keep_widget_state"},
    }


def test_settings_become_the_environments_jupyterlab_overrides(course: Path, tmp_path: Path):
    target = lab.install_settings(course, prefix=tmp_path / "env")
    assert target == tmp_path / "env" / "share" / "jupyter" / "lab" / "settings" / "overrides.json"
    assert json.loads(target.read_text()) == json.loads((ROOT / lab.SETTINGS).read_text())


def test_outside_a_course_folder_it_says_where_to_run(tmp_path: Path, capsys) -> None:
    assert lab.main(["--root", str(tmp_path)]) == 2
    assert "run this from the course folder" in capsys.readouterr().err


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_git_ignores_work_so_autosave_never_blocks_a_pull() -> None:
    if not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    run = ["git", "check-ignore", "-q", "work/01_vocabulary.ipynb"]
    assert subprocess.run(run, cwd=ROOT, timeout=60).returncode == 0
