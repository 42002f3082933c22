"""`import course_lib.widgets` stays light; each name loads its module on first use.

Oracle: `sys.modules` of a fresh interpreter.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

HEAVY = ["ipywidgets", "matplotlib", "sklearn", "torch", "umap"]


def loaded_after(code: str) -> set[str]:
    script = f"import sys\n{code}\nprint(' '.join(sorted(sys.modules)))"
    run = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=300
    )
    return set(run.stdout.split())


def test_importing_the_package_loads_no_heavy_library() -> None:
    loaded = loaded_after("import course_lib.widgets")
    assert not loaded & set(HEAVY)


def test_a_name_loads_only_what_it_needs() -> None:
    loaded = loaded_after("from course_lib.widgets import EmbeddingInspector")
    assert "course_lib.widgets.embedding_inspector" in loaded
    assert not loaded & {"sklearn", "torch", "umap", "course_lib.widgets.chat_box"}


def test_unknown_names_raise_attribute_error() -> None:
    import course_lib.widgets as widgets

    with pytest.raises(AttributeError, match="no attribute 'Inspector'"):
        widgets.Inspector  # noqa: B018
    assert "ChatBox" in dir(widgets)
