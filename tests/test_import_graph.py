"""The package's import graph: no cycle, the checkpoint file format without a backend, the
widgets imported by nobody else, the checks imported only by the checks and the grader, and the
torch backend taking from the NumPy backend only its weight initialisation.

Oracle: the import statements themselves, read with `ast` - those at the top of a module and
those inside functions alike, so a lazy import cannot hide a cycle - and, for the checkpoint
module, `sys.modules` after importing it in a fresh interpreter.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import course_lib

PACKAGE = Path(course_lib.__file__).parent

# What course_lib/torch/ may import from course_lib/numpy/: the modules whose code draws the
# initial weights (each layer's own, and `as_rng`, which turns a seed into the one generator
# they all draw from), so both backends start from the same numbers. CONTRIBUTING.md says so.
WEIGHT_INITIALISATION = {
    "course_lib.numpy.attention",
    "course_lib.numpy.embeddings",
    "course_lib.numpy.feedforward",
    "course_lib.numpy.linear",
    "course_lib.numpy.module",
    "course_lib.numpy.output",
}


def module_names(root: Path) -> dict[str, Path]:
    """Every module below `root` (a package folder) by its dotted name."""
    names = {}
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        names[".".join(parts)] = path
    return names


def import_graph(root: Path) -> dict[str, set[str]]:
    """Module -> the package's modules it imports, anywhere in its text (functions included).

    ``from a import b`` counts as importing the module ``a.b`` when there is one, else ``a``."""
    modules = module_names(root)

    def known(name: str) -> str | None:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        targets: set[str | None] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets.update(known(alias.name) for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:  # relative: up from this module's package
                    up = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join(up + ([base] if base else []))
                for alias in node.names:
                    full = f"{base}.{alias.name}"
                    targets.add(full if full in modules else known(base))
        graph[name] = {t for t in targets if t is not None and t != name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The groups of modules that import each other, directly or round a loop (Tarjan)."""
    order: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        order[v] = low[v] = len(order)
        stack.append(v)
        for w in sorted(graph.get(v, ())):
            if w not in order:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], order[w])
        if low[v] == order[v]:
            group = []
            while True:
                w = stack.pop()
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for v in sorted(graph):
        if v not in order:
            visit(v)
    return found


def test_the_package_has_no_import_cycle_even_through_imports_inside_functions() -> None:
    assert cycles(import_graph(PACKAGE)) == []


def old_checkpoint_cycle(root: Path, lazy_import: bool) -> Path:
    """A package shaped like the old checkpoint cycle: the backend imports the file format at
    the top, and the file format imports the backend inside its load function (if asked)."""
    package = root / "pkg"
    (package / "backend").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "backend" / "__init__.py").write_text(
        "from pkg.backend.train import train\n\nclass Model: ...\n"
    )
    (package / "backend" / "train.py").write_text(
        "from pkg import checkpoint\n\ndef train(): ...\n"
    )
    load = (
        "    from pkg.backend import Model\n\n    return Model()\n" if lazy_import else "    ...\n"
    )
    (package / "checkpoint.py").write_text(f"def load(path):\n{load}")
    return package


def test_a_cycle_made_by_an_import_inside_a_function_is_found(tmp_path: Path) -> None:
    package = old_checkpoint_cycle(tmp_path, lazy_import=True)
    assert cycles(import_graph(package)) == [["pkg.backend", "pkg.backend.train", "pkg.checkpoint"]]


def test_without_that_import_the_same_package_has_no_cycle(tmp_path: Path) -> None:
    assert cycles(import_graph(old_checkpoint_cycle(tmp_path, lazy_import=False))) == []


def test_importing_the_checkpoint_module_imports_no_backend() -> None:
    script = (
        "import sys, course_lib.checkpoint\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'torch'\n"
        "             or m.startswith(('course_lib.numpy', 'course_lib.torch'))))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True
    )
    assert result.stdout.strip() == "[]"


def test_the_checkpoint_module_imports_no_backend_anywhere_in_it() -> None:
    backends = ("course_lib.numpy", "course_lib.torch")
    assert not [m for m in import_graph(PACKAGE)["course_lib.checkpoint"] if m.startswith(backends)]


def test_no_module_outside_the_widgets_imports_a_widget() -> None:
    widgets = "course_lib.widgets"
    found = [
        f"{module} imports {target}"
        for module, targets in sorted(import_graph(PACKAGE).items())
        if not module.startswith(widgets)
        for target in sorted(targets)
        if target.startswith(widgets)
    ]
    assert found == []


def test_only_the_checks_and_the_grader_import_the_checks() -> None:
    # The grading kernel runs the library with `course_lib/checks` hidden: a library module that
    # imported the checks would break every chapter there.
    checks = "course_lib.checks"
    found = [
        f"{module} imports {target}"
        for module, targets in sorted(import_graph(PACKAGE).items())
        if not module.startswith((checks, "course_lib.grading", "course_lib.grade"))
        for target in sorted(targets)
        if target.startswith(checks)
    ]
    assert found == []


def test_the_torch_backend_takes_only_the_weight_initialisation_from_the_numpy_backend() -> None:
    graph = import_graph(PACKAGE)
    taken = {
        target
        for module, targets in graph.items()
        if module.startswith("course_lib.torch")
        for target in targets
        if target.startswith("course_lib.numpy")
    }
    assert taken == WEIGHT_INITIALISATION
