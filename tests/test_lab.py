"""A learner's own copy of the chapters (work/) and the course's JupyterLab settings.

Oracles: the files in chapters/ (byte copies), a learner's edit that must survive, git's own
answer to whether work/ is ignored.
"""

from __future__ import annotations

import json
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
    assert subprocess.run(run, cwd=ROOT).returncode == 0
