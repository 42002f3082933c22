"""The Binder configuration is one repo2docker accepts, and it builds what the course needs.

Oracle: `repo2docker --no-build --debug` prints the Dockerfile mybinder.org would build.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
REPO2DOCKER = Path(sys.executable).with_name("repo2docker")

pytestmark = pytest.mark.skipif(
    not REPO2DOCKER.exists(), reason="jupyter-repo2docker is not installed (make test installs it)"
)


def binder_problems(repo: Path) -> list[str]:
    """Everything wrong with `repo`'s Binder set-up, as sentences; empty when it is right."""
    run = subprocess.run(
        [str(REPO2DOCKER), "--no-build", "--debug", str(repo)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    output = run.stdout + run.stderr
    if run.returncode != 0:
        return [f"repo2docker rejected the repository (exit {run.returncode}):\n{output[-2000:]}"]

    problems = []
    binder = repo / "binder"
    runtime = binder / "runtime.txt"
    tested = f"{sys.version_info.major}.{sys.version_info.minor}"
    built = re.search(r"python=(\d+\.\d+)", output)
    if not runtime.exists():
        problems.append("binder/runtime.txt is missing: Binder would pick its own Python")
    if built is None or built.group(1) != tested:
        found = built.group(1) if built else "none"
        problems.append(f"Binder builds Python {found}, the tests run on {tested}")

    requirements = binder / "requirements.txt"
    lines = requirements.read_text().splitlines() if requirements.exists() else []
    entries = [line.split("#")[0].strip() for line in lines]
    if not any(entry in ("-e .", ".", "-e ./", "./") for entry in entries):
        problems.append("binder/requirements.txt does not install the course package (add `-e .`)")
    if not any(re.match(r"torch\b", entry) for entry in entries):
        problems.append("binder/requirements.txt does not pin torch")
    if not any("download.pytorch.org/whl/cpu" in entry for entry in entries):
        problems.append("binder/requirements.txt does not use PyTorch's CPU wheel index")
    install = output.find('pip install --no-cache-dir -r "binder/requirements.txt"')
    copy = output.find("COPY --chown=0:0 src/ ${REPO_DIR}/")
    if install < 0:
        problems.append("the Dockerfile does not install binder/requirements.txt")
    elif copy < 0 or copy > install:
        problems.append("requirements are installed before the repository is copied in")

    if "RUN ./binder/postBuild" not in output:
        problems.append("the Dockerfile does not run binder/postBuild")
    return problems


def copy_of_repo(tmp_path: Path) -> Path:
    """The files repo2docker looks at, copied so a test can break them."""
    copy = tmp_path / "repo"
    copy.mkdir()
    for name in ("binder", "course_lib", "chapters"):
        if (ROOT / name).exists():
            shutil.copytree(ROOT / name, copy / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, copy / name)
    return copy


def test_binder_configuration_is_accepted_and_complete():
    assert binder_problems(ROOT) == []


def test_check_fails_when_requirements_miss_the_package(tmp_path):
    repo = copy_of_repo(tmp_path)
    requirements = repo / "binder" / "requirements.txt"
    kept = [line for line in requirements.read_text().splitlines() if line.strip() != "-e ."]
    requirements.write_text("\n".join(kept) + "\n")
    problems = binder_problems(repo)
    assert any("does not install the course package" in p for p in problems), problems


def test_check_fails_without_runtime_txt(tmp_path):
    repo = copy_of_repo(tmp_path)
    (repo / "binder" / "runtime.txt").unlink()
    problems = binder_problems(repo)
    assert any("runtime.txt is missing" in p for p in problems), problems


def test_check_fails_without_post_build(tmp_path):
    repo = copy_of_repo(tmp_path)
    (repo / "binder" / "postBuild").unlink()
    problems = binder_problems(repo)
    assert any("does not run binder/postBuild" in p for p in problems), problems


def test_post_build_is_executable():
    assert (ROOT / "binder" / "postBuild").stat().st_mode & 0o111


def test_binder_pins_the_torch_the_makefile_installs():
    makefile = (ROOT / "Makefile").read_text()
    pinned = re.search(r"^TORCH \?= (\S+)", makefile, re.MULTILINE).group(1)
    assert pinned in (ROOT / "binder" / "requirements.txt").read_text().split()
