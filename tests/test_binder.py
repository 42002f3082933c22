"""The Binder configuration is one repo2docker accepts, and it builds what the course needs.

Oracle: `repo2docker --no-build --debug` prints the Dockerfile mybinder.org would build; its
text depends on the user running it (`COPY --chown=<uid>:<gid>`), so nothing here matches that.
The dependency lists are checked against pyproject.toml and constraints.txt, their sources.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

# Python 3.10 has no tomllib; the tests that read pyproject.toml skip there.
tomllib = pytest.importorskip("tomllib", reason="reading pyproject.toml needs Python 3.11+")

ROOT = Path(__file__).resolve().parents[1]
REPO2DOCKER = Path(sys.executable).with_name("repo2docker")
needs_repo2docker = pytest.mark.skipif(
    not REPO2DOCKER.exists(), reason="jupyter-repo2docker is not installed (make test installs it)"
)
# The whole repository copied into the image; `<uid>:<gid>` depends on who runs repo2docker.
COPY_REPOSITORY = re.compile(r"^COPY --chown=\S+ src/ \$\{REPO_DIR\}/?$", re.MULTILINE)
INSTALL_REQUIREMENTS = re.compile(r'pip install --no-cache-dir -r "?binder/requirements\.txt"?')


def package_name(requirement: str) -> str:
    """`scikit-learn>=1.3` -> `scikit-learn` (normalised: lower case, '-' for '_' and '.')."""
    name = re.match(r"[A-Za-z0-9._-]+", requirement.strip()).group(0)
    return re.sub(r"[-_.]+", "-", name).lower()


def pinned(lines: list[str]) -> dict[str, str]:
    """name -> version of every `name==version` line (comments and markers dropped)."""
    pins = {}
    for line in lines:
        entry = line.split("#")[0].split(";")[0].strip()
        if "==" in entry:
            name, version = entry.split("==", 1)
            pins[package_name(name)] = version.strip()
    return pins


def course_requirements() -> set[str]:
    """The names of everything `pip install course_lib[course]` needs (self-references resolved)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    names, todo, seen = set(), ["course"], set()
    for requirement in project["dependencies"]:
        names.add(package_name(requirement))
    while todo:
        extra = todo.pop()
        seen.add(extra)
        for requirement in extras[extra]:
            if package_name(requirement) == "course-lib":
                inner = re.search(r"\[(.*)\]", requirement).group(1).split(",")
                todo += [e.strip() for e in inner if e.strip() not in seen]
            else:
                names.add(package_name(requirement))
    return names


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
    built = re.search(r"python=(\d+\.\d+)", output)
    if not runtime.exists():
        problems.append("binder/runtime.txt is missing: Binder would pick its own Python")
    else:
        wanted = runtime.read_text().strip().removeprefix("python-")
        if built is None or built.group(1) != wanted:
            found = built.group(1) if built else "none"
            problems.append(f"Binder builds Python {found}, binder/runtime.txt asks for {wanted}")

    requirements = binder / "requirements.txt"
    lines = requirements.read_text().splitlines() if requirements.exists() else []
    entries = [line.split("#")[0].strip() for line in lines]
    if any(re.match(r"(-e\s+)?\.(/|\[|$)", entry) for entry in entries):
        problems.append(
            "binder/requirements.txt installs the repository itself, which turns off "
            "repo2docker's cached requirements layer: install it --no-deps in postBuild"
        )
    listed = {package_name(entry) for entry in entries if entry and not entry.startswith("-")}
    missing = sorted(course_requirements() - listed)
    if missing:
        problems.append(f"binder/requirements.txt misses the course's dependencies {missing}")
    if not any(re.match(r"torch==", entry) for entry in entries):
        problems.append("binder/requirements.txt does not pin torch")
    if not any("download.pytorch.org/whl/cpu" in entry for entry in entries):
        problems.append("binder/requirements.txt does not use PyTorch's CPU wheel index")

    install = INSTALL_REQUIREMENTS.search(output)
    copy = COPY_REPOSITORY.search(output)
    if install is None:
        problems.append("the Dockerfile does not install binder/requirements.txt")
    elif copy is None or copy.start() < install.start():
        problems.append(
            "requirements are installed after the repository is copied in (no cached layer)"
        )

    post_build = binder / "postBuild"
    if "RUN ./binder/postBuild" not in output:
        problems.append("the Dockerfile does not run binder/postBuild")
    elif not re.search(r"pip install .*--no-deps.* -e \.", post_build.read_text()):
        problems.append("binder/postBuild does not install the course (pip install --no-deps -e .)")
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


@needs_repo2docker
def test_binder_configuration_is_accepted_and_complete():
    assert binder_problems(ROOT) == []


@needs_repo2docker
def test_check_fails_when_requirements_install_the_repository(tmp_path):
    repo = copy_of_repo(tmp_path)
    requirements = repo / "binder" / "requirements.txt"
    requirements.write_text(requirements.read_text() + "-e .\n")
    problems = binder_problems(repo)
    assert any("turns off repo2docker's cached requirements layer" in p for p in problems)
    assert any("installed after the repository is copied in" in p for p in problems), problems


@needs_repo2docker
def test_check_fails_when_requirements_miss_a_dependency(tmp_path):
    repo = copy_of_repo(tmp_path)
    requirements = repo / "binder" / "requirements.txt"
    kept = [line for line in requirements.read_text().splitlines() if "scikit-learn" not in line]
    requirements.write_text("\n".join(kept) + "\n")
    problems = binder_problems(repo)
    assert any("misses the course's dependencies ['scikit-learn']" in p for p in problems)


@needs_repo2docker
def test_check_fails_without_runtime_txt(tmp_path):
    repo = copy_of_repo(tmp_path)
    (repo / "binder" / "runtime.txt").unlink()
    problems = binder_problems(repo)
    assert any("runtime.txt is missing" in p for p in problems), problems


@needs_repo2docker
def test_check_fails_without_post_build(tmp_path):
    repo = copy_of_repo(tmp_path)
    (repo / "binder" / "postBuild").unlink()
    problems = binder_problems(repo)
    assert any("does not run binder/postBuild" in p for p in problems), problems


def test_post_build_is_executable():
    assert (ROOT / "binder" / "postBuild").stat().st_mode & 0o111


def test_binder_python_is_one_the_package_supports():
    runtime = (ROOT / "binder" / "runtime.txt").read_text().strip()
    minor = int(runtime.removeprefix("python-3."))
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    lowest = int(re.fullmatch(r">=3\.(\d+)", requires).group(1))
    assert minor >= lowest, f"Binder builds Python 3.{minor}; the package asks for {requires}"


def test_binder_pins_the_torch_the_makefile_installs():
    makefile = (ROOT / "Makefile").read_text()
    version = re.search(r"^TORCH_VERSION \?= (\S+)", makefile, re.MULTILINE).group(1)
    assert f"torch=={version}" in (ROOT / "binder" / "requirements.txt").read_text().split()


def test_binder_pins_are_the_tested_versions():
    binder = pinned((ROOT / "binder" / "requirements.txt").read_text().splitlines())
    tested = pinned((ROOT / "constraints.txt").read_text().splitlines())
    assert binder, "binder/requirements.txt pins nothing"
    assert {name: tested.get(name) for name in binder} == binder


def test_jupyterlab_settings_turn_off_news_start_kernels_and_keep_widget_state():
    settings = json.loads((ROOT / "binder" / "jupyterlab-settings.json").read_text())
    notification = settings["@jupyterlab/apputils-extension:notification"]
    assert notification["fetchNews"] == "false" and notification["checkForUpdates"] is False
    assert settings["@jupyterlab/notebook-extension:tracker"]["autoStartDefaultKernel"] is True
    # Saved notebooks keep their widgets' state: reopened, a widget shows instead of
    # "Error displaying widget: model not found".
    assert settings["@jupyter-widgets/jupyterlab-manager:plugin"]["saveState"] is True
    viewers = settings["@jupyterlab/docmanager-extension:plugin"]["defaultViewers"]
    assert viewers == {"python": "Jupytext Notebook"}


def test_binder_and_make_lab_both_prepare_the_learners_lab():
    # course_lib.lab copies chapters/ to work/ and installs the settings (tests/test_lab.py).
    assert "python -m course_lib.lab" in (ROOT / "binder" / "postBuild").read_text()
    assert re.search(
        r"^work: .*\n\t\$\(BIN\)/python -m course_lib.lab$", (ROOT / "Makefile").read_text(), re.M
    )


def test_binder_links_open_an_existing_notebook_in_lab():
    readme = (ROOT / "README.md").read_text()
    links = re.findall(r"https://mybinder\.org/v2/[^)\s]+", readme)
    assert links, "the README has no Binder link"
    for link in links:
        target = re.search(r"[?&]urlpath=lab/tree/([^&]+)", link)
        assert target, f"{link} does not open JupyterLab on a file (urlpath=lab/tree/...)"
        path = target.group(1)
        # work/ is made by binder/postBuild from chapters/.
        source = ROOT / (
            "chapters/" + path.removeprefix("work/") if path.startswith("work/") else path
        )
        assert source.exists(), f"{link} opens {path}, which does not exist"
