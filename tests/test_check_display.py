"""What a learner sees when a check fails in a notebook: the hint first, and no traceback into
`course_lib` (every frame of it would be the checks' own code). The cell still ends in an error,
so Run All stops at it, and the names the chapter goes on with are the library's references
(the README's "the chapter goes on with the reference").

Oracle: a real kernel running a small notebook through nbclient, as Jupyter's Run All does.
"""

from __future__ import annotations

import re

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

WRONG_SOFTMAX = [
    "import numpy as np\nfrom course_lib.checks import ch03 as check",
    "def softmax(x, axis=-1):\n    return np.exp(x)  # the rows do not sum to 1",
    "softmax = check.softmax(softmax)",
    "print('after the check:', softmax is check.softmax.reference)",
]
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def run(cells: list[str], allow_errors: bool) -> tuple[nbformat.NotebookNode, bool]:
    """The notebook after running `cells` in a fresh kernel, and whether execution stopped."""
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    client = NotebookClient(  # each cell, and the kernel's start, within two minutes
        nb, timeout=120, startup_timeout=120, kernel_name="python3", allow_errors=allow_errors
    )
    try:
        client.execute()
    except CellExecutionError:
        return nb, True
    return nb, False


def error_text(cell: nbformat.NotebookNode) -> str:
    (error,) = [o for o in cell.outputs if o.output_type == "error"]
    return ANSI.sub("", "\n".join(error.traceback))


def test_a_failing_check_shows_its_hint_first_and_no_traceback_into_the_library() -> None:
    nb, _ = run(WRONG_SOFTMAX, allow_errors=True)
    text = error_text(nb.cells[2])
    assert text.startswith("✗ ch03_softmax: the rows do not sum to 1"), text
    assert "Traceback" not in text and ".py" not in text and "File " not in text, text
    assert "(Until this check passes, the cells below use the library's" in text


def test_a_failing_check_still_stops_run_all_and_the_chapter_goes_on_with_the_reference() -> None:
    nb, stopped = run(WRONG_SOFTMAX, allow_errors=False)
    assert stopped
    assert nb.cells[3].execution_count is None and nb.cells[3].outputs == []
    nb, stopped = run(WRONG_SOFTMAX, allow_errors=True)  # running on past it, cell by cell
    assert not stopped
    assert "after the check: True" in nb.cells[3].outputs[0].text
