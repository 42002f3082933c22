"""A check's reference function as source code a grading kernel runs without the checks.

The grading kernel cannot import `course_lib.checks` (nor a chapter's own check module). When an
exercise does not pass, the grader binds that exercise's reference in the kernel from code built
here: the function's own source and, found from its bytecode, everything it needs: other
functions of the check modules (their source too), modules and library functions (imported by
name), constants (by value). Nothing else of the check module is sent, so only that reference and
the helpers it calls exist in the kernel; they live in a namespace of their own, not the
notebook's.
"""

from __future__ import annotations

import ast
import builtins
import dis
import importlib
import inspect
import textwrap
import types
from collections.abc import Callable
from typing import Any

__all__ = [
    "HIDDEN_PACKAGE",
    "UnshippableReference",
    "binding_code",
    "is_hidden",
    "reference_binding",
    "reference_source",
]

HIDDEN_PACKAGE = "course_lib.checks"
_GLOBAL_OPS = {"LOAD_GLOBAL", "LOAD_NAME", "STORE_GLOBAL", "DELETE_GLOBAL", "STORE_NAME"}
_LITERALS = (int, float, complex, str, bytes, bool, type(None), tuple, frozenset, list, dict, set)


class UnshippableReference(ValueError):
    """A reference needs something that cannot be rebuilt from source in the kernel."""


def is_hidden(module: str, hidden: tuple[str, ...]) -> bool:
    """True when `module` is one of `hidden` or inside one of them (a package)."""
    return any(module == h or module.startswith(h + ".") for h in hidden)


def _code_objects(code: types.CodeType) -> list[types.CodeType]:
    found = [code]
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            found.extend(_code_objects(const))
    return found


def _globals_used(fn: types.FunctionType) -> tuple[list[str], list[tuple[str, int]]]:
    """The global names `fn` (and the functions defined in it) read or write, and the modules
    its code imports (name, level)."""
    names: list[str] = []
    imports: list[tuple[str, int]] = []
    for code in _code_objects(fn.__code__):
        previous: list[Any] = []
        for instruction in dis.get_instructions(code):
            if instruction.opname in _GLOBAL_OPS and instruction.argval not in names:
                names.append(str(instruction.argval))
            if instruction.opname == "IMPORT_NAME":
                level = previous[-2].argval if len(previous) >= 2 else 0
                imports.append((str(instruction.argval), int(level or 0)))
            previous.append(instruction)
    return names, imports


def _literal(value: Any) -> bool:
    if not isinstance(value, _LITERALS):
        return False
    try:
        return ast.literal_eval(repr(value)) == value
    except (ValueError, SyntaxError, TypeError, RecursionError):
        return False


def reference_source(fn: Callable[..., Any], hidden: tuple[str, ...]) -> str:
    """Python source that defines `fn` under its own `__name__`, runnable where the modules in
    `hidden` (and `course_lib.checks`) cannot be imported. Raises `UnshippableReference` naming
    what stands in the way."""
    hidden = (HIDDEN_PACKAGE, *hidden)
    where = getattr(fn, "__qualname__", repr(fn))
    lines: list[str] = ["from __future__ import annotations"]
    functions: list[str] = []
    defined: dict[str, Any] = {}

    def need(name: str, value: Any) -> None:
        if name in defined:
            if defined[name] is not value:
                raise UnshippableReference(f"{where}: two different objects are named {name!r}")
            return
        defined[name] = value
        if inspect.ismodule(value):
            if is_hidden(value.__name__, hidden):
                raise UnshippableReference(f"{where} uses the check module {value.__name__}")
            lines.append(f"import {value.__name__} as {name}")
            return
        module = getattr(value, "__module__", None)
        if isinstance(value, types.FunctionType) and is_hidden(str(module), hidden):
            ship(value, name)
            return
        if callable(value) and isinstance(module, str) and not is_hidden(module, hidden):
            qualname = str(getattr(value, "__qualname__", ""))
            if qualname and "." not in qualname and "<" not in qualname:
                try:
                    same = getattr(importlib.import_module(module), qualname, None) is value
                except ImportError:
                    same = False
                if same:
                    lines.append(f"from {module} import {qualname} as {name}")
                    return
        if _literal(value):
            lines.append(f"{name} = {value!r}")
            return
        raise UnshippableReference(
            f"{where} needs {name!r} ({type(value).__name__}), which cannot be rebuilt from source"
        )

    def ship(function: types.FunctionType, name: str) -> None:
        if function.__closure__:
            raise UnshippableReference(f"{function.__qualname__} is a closure")
        try:
            source = textwrap.dedent(inspect.getsource(function))
        except (OSError, TypeError) as error:
            raise UnshippableReference(f"no source for {function.__qualname__}: {error}") from None
        tree = ast.parse(source)
        node = tree.body[0] if len(tree.body) == 1 else None
        if not isinstance(node, ast.FunctionDef) or node.decorator_list:
            raise UnshippableReference(f"{function.__qualname__} is not a plain function")
        functions.append(source if node.name == name else f"{source}\n{name} = {node.name}\n")
        names, imports = _globals_used(function)
        for module, level in imports:
            if level or is_hidden(module, hidden):
                raise UnshippableReference(f"{function.__qualname__} imports {module}")
        for used in names:
            if used in function.__globals__:
                need(used, function.__globals__[used])
            elif not hasattr(builtins, used):
                raise UnshippableReference(f"{function.__qualname__} uses an unknown {used!r}")

    if not isinstance(fn, types.FunctionType):
        raise UnshippableReference(f"{where} is not a Python function")
    ship(fn, fn.__name__)
    return "\n".join(lines) + "\n\n" + "\n\n".join(functions)


def binding_code(target: str, fn: Callable[..., Any], hidden: tuple[str, ...]) -> str:
    """One line of kernel code that binds `target` to a copy of `fn` built from its source (see
    `reference_source`), its helpers in a namespace of their own."""
    source = reference_source(fn, hidden)
    return (
        f"{target} = (lambda _ns: (exec(compile({source!r}, {f'<reference {fn.__name__}>'!r}, "
        f"'exec'), _ns), _ns[{fn.__name__!r}])[1])({{'__name__': 'course_reference'}})"
    )


def reference_binding(target: str, fn: Callable[..., Any], hidden: tuple[str, ...]) -> str:
    """Kernel code binding `target` to the reference `fn`: a library function by an import of
    its module (the kernel can see the library), one of the check modules from its source."""
    module = str(getattr(fn, "__module__", ""))
    if is_hidden(module, (HIDDEN_PACKAGE, *hidden)):
        return binding_code(target, fn, hidden)
    qualname = str(getattr(fn, "__qualname__", ""))
    try:
        same = getattr(importlib.import_module(module), qualname, None) is fn
    except ImportError:
        same = False
    if not same or "." in qualname:
        raise UnshippableReference(f"{module}.{qualname} cannot be imported by its name")
    return f"from {module} import {qualname} as {target}"
