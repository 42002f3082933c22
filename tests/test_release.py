"""The release files agree: one version in the package, pyproject, change log and citation.

Oracle: `course_lib.__version__`, compared with the text of each file.
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_package_version_is_the_one_in_pyproject_and_the_changelog() -> None:
    import course_lib

    pyproject = (ROOT / "pyproject.toml").read_text()
    assert f'version = "{course_lib.__version__}"' in pyproject
    assert f"## {course_lib.__version__} - " in (ROOT / "CHANGELOG.md").read_text()
    assert f"version: {course_lib.__version__}" in (ROOT / "CITATION.cff").read_text()


def test_the_license_file_is_the_one_pyproject_names() -> None:
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert 'license = "MIT"' in pyproject and 'license-files = ["LICENSE"]' in pyproject
    assert (ROOT / "LICENSE").read_text().startswith("MIT License")
