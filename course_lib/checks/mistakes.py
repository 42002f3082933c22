"""Stable names for the mistakes the checks find, read from the checks' own source code.

A check's hint is an f-string holding the learner's values: "softmax returned shape (3, 4),
expected (3, 5): ...". When a `CheckFailed` is made, `where_made()` keeps where (code and
instruction of its frame and the callers'); when its mistake is wanted, `locate()` finds the
line of the checks that made the hint (the `expect(...)` or `CheckFailed(...)` call; the frames
of `expect` itself are skipped) and reads the hint's expression there from the file's syntax
tree (once per place in the code). That gives

- a *template*: the hint with every formatted value shown as "…" ("softmax returned shape …,
  expected …: ..."), value-free, so it reads the same for every learner. A hint built elsewhere
  (a parameter, a variable, a helper that returns one of several texts) is followed there, and
  the template is the course's text the hint matches;
- a *site*: module, function and the hint's own text (its constants), the same in every process
  and on every Python version.

`mistake_id(grade_id, found)` joins them into "<grade_id>/<first words>-<6 hex>", e.g.
"ch03_softmax/softmax-returned-shape-expected-one-7fcbc2". An author may name a mistake instead
(`expect(cond, hint, mistake="wrong-axis")`), and the outcomes that are not a hint have fixed
names (`FIXED`: not done, the learner's function raised, a timeout, a hidden test failed, ...).

Nothing here reads a learner's text: the template's words come only from the files of imported
modules (the course's checks, an instructor's own), never from code a notebook ran from a cell
(a hint made there gets the generic name "unlocated"), and a formatted value stays a hole
unless it comes from that code's own text.
"""

from __future__ import annotations

import ast
import builtins
import functools
import hashlib
import itertools
import re
import string
import sys
from dataclasses import dataclass, field
from pathlib import Path
from types import CodeType, FrameType

__all__ = [
    "FIXED",
    "HOLE",
    "Found",
    "Site",
    "fixed_template",
    "hint_sites",
    "locate",
    "where_made",
    "mistake_id",
    "raised_name",
    "slug",
    "template_matches",
]

HOLE = "…"  # a formatted value in a template
PACKAGE = Path(__file__).resolve().parent  # the course's checks (`hint_sites` reads them all)
NAME = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*|raised-[A-Za-z_]\w*")  # a mistake's own name
MAX_CANDIDATES = 400  # texts one hint expression may resolve to; beyond, a value is a hole
MAX_DEPTH = 12  # how far a hint is followed through parameters, variables and helpers
SLUG_WORDS = 5

# Outcomes that are not a check's hint, by their fixed name (after "<grade_id>/").
FIXED: dict[str, str] = {
    "not-done": "not done yet (the function still raises NotImplementedError)",
    "raised": "your function raised an exception",
    "not-plain-data": "your function returned something that is not plain data",
    "timeout": "your function or a cell ran out of time",
    "kernel-died": "the notebook's kernel died",
    "exit": "the notebook called exit()",
    "hidden-test": "a hidden test failed",
    "private-test": "a private test failed",
    "unreadable-result": "your function's result could not be checked",
    "not-defined": "the answer cell does not define the function itself",
    "unlocated": "a hint made outside the course's checks",
}


def fixed_template(name: str) -> str:
    """The template of a fixed or author-given mistake name ('raised-ValueError' included)."""
    if name.startswith("raised-"):
        return f"{FIXED['raised']} ({name.removeprefix('raised-')})"
    return FIXED.get(name, name.replace("-", " "))


def raised_name(type_name: str, bases: tuple[str, ...] = ()) -> str:
    """'raised-<Type>' for a learner's exception: the first of its type and bases that is a
    built-in exception (a class the learner defined, or a name a kernel sent, is never used)."""
    for name in (type_name, *bases):
        value = getattr(builtins, name, None) if name.isidentifier() else None
        if isinstance(value, type) and issubclass(value, BaseException):
            return f"raised-{name}"
    return "raised-Exception"


@dataclass(frozen=True)
class Site:
    """Where a hint is made: the checks' module, the function (dotted) and the hint's own text
    (its string constants, every value a hole), with its number among the hints of that
    function with the same text (0 for the first)."""

    module: str
    function: str
    source: str
    ordinal: int = 0

    @property
    def key(self) -> str:
        return f"{self.module}:{self.function}:{self.source}#{self.ordinal}"


@dataclass(frozen=True)
class Found:
    """A located hint: its site and template, or an author's name for it."""

    site: Site | None
    template: str
    name: str = ""  # an author's or a fixed name; '' when the id comes from the site

    @property
    def generic(self) -> bool:
        """True when the hint could not be read from the course's code."""
        return self.name == "unlocated" or (not self.name and self.site is None)


def slug(template: str, words: int = SLUG_WORDS) -> str:
    """The first `words` words of a template, lowercase, joined by '-' ('hint' when none)."""
    found = re.findall(r"[a-z0-9]+", re.sub(r"'s\b", "", template.replace(HOLE, " ")).lower())
    return "-".join(found[:words])[:48].strip("-") or "hint"


def mistake_id(grade_id: str, found: Found) -> str:
    """'<grade_id>/<name>' for a named mistake, else '<grade_id>/<slug>-<6 hex>': the hash of
    the site and the template, the same in every process and for every learner."""
    if found.name:
        return f"{grade_id}/{found.name}"
    if found.site is None:
        return f"{grade_id}/unlocated"
    digest = hashlib.sha256(f"{found.site.key}\n{found.template}".encode()).hexdigest()[:6]
    return f"{grade_id}/{slug(found.template)}-{digest}"


def template_matches(template: str, message: str) -> bool:
    """True when `message` is `template` with each "…" standing for any text."""
    return _fits(_parts_of(template), message)


# ----------------------------------------------------------------------------- source


@dataclass
class _File:
    module: str
    tree: ast.Module
    calls: dict[tuple[int, int, int, int], ast.Call]
    parents: dict[ast.AST, ast.AST]
    functions: dict[str, ast.FunctionDef]  # module-level functions by name
    constants: dict[str, ast.expr]  # module-level NAME = value
    owner: dict[ast.AST, ast.AST | None]  # node -> the innermost function or class around it
    inside: dict[ast.AST, list[ast.AST]]  # function -> the nodes it owns (not a nested def's)
    definitions: dict[ast.AST, dict[str, list[tuple[str, ast.expr]]]] = field(
        default_factory=dict
    )  # filled by `_definitions`
    plain: dict[ast.Call, str] = field(default_factory=dict)  # filled by `_plain_text`


def _module_at(path: Path) -> str | None:
    """The name of the imported module whose file is `path` (None when none is)."""
    for name, module in list(sys.modules.items()):
        where = getattr(module, "__file__", None)
        if where and where.endswith(path.name):
            try:
                if Path(where).resolve() == path:
                    return name
            except OSError:
                continue
    return None


@functools.lru_cache(maxsize=64)
def _file(path: str) -> _File | None:
    """The parsed module at `path`: a file of an imported module (the course's checks, or an
    instructor's own), never code a notebook ran from a cell."""
    try:
        resolved = Path(path).resolve()
    except (OSError, ValueError):
        return None
    if resolved.suffix != ".py":
        return None
    if resolved.parent == PACKAGE:  # the course's checks: named by their place, always the same
        module = __package__ if resolved.stem == "__init__" else f"{__package__}.{resolved.stem}"
    else:
        module = _module_at(resolved)
    if module is None:
        return None
    try:
        tree = ast.parse(resolved.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, UnicodeDecodeError):
        return None
    calls, parents = {}, {}
    for node in ast.walk(tree):
        for child in ast.iter_child_nodes(node):
            parents[child] = node
        if isinstance(node, ast.Call):
            span = (node.lineno, node.end_lineno or 0, node.col_offset, node.end_col_offset or 0)
            calls[span] = node
    functions = {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}
    constants: dict[str, ast.expr] = {}
    for n in tree.body:
        if isinstance(n, ast.Assign) and len(n.targets) == 1 and isinstance(n.targets[0], ast.Name):
            constants[n.targets[0].id] = n.value
        elif isinstance(n, ast.AnnAssign) and isinstance(n.target, ast.Name) and n.value:
            constants[n.target.id] = n.value
    owner: dict[ast.AST, ast.AST | None] = {}
    inside: dict[ast.AST, list[ast.AST]] = {}
    for node in ast.walk(tree):
        scopes = _enclosing(node, parents)
        owner[node] = scopes[0] if scopes else None
        if scopes:
            inside.setdefault(scopes[0], []).append(node)
    return _File(module, tree, calls, parents, functions, constants, owner, inside)


def _called_name(call: ast.Call) -> str:
    func = call.func
    if isinstance(func, ast.Name):
        return func.id
    return func.attr if isinstance(func, ast.Attribute) else ""


def hint_of(call: ast.Call) -> ast.expr | None:
    """The hint argument of an `expect(condition, hint)` or `CheckFailed(hint)` call."""
    name = _called_name(call)
    position = {"expect": 1, "CheckFailed": 0}.get(name)
    if position is None:
        return None
    if len(call.args) > position and not isinstance(call.args[position], ast.Starred):
        return call.args[position]
    return next((k.value for k in call.keywords if k.arg == "hint"), None)


def _enclosing(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> list[ast.AST]:
    """The functions (and classes) around `node`, innermost first."""
    found = []
    while node in parents:
        node = parents[node]
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            found.append(node)
    return found


def _dotted(scopes: list[ast.AST]) -> str:
    names = [getattr(s, "name", "<lambda>") for s in reversed(scopes)]
    return ".".join(names) or "<module>"


def _plain_text(file: _File, call: ast.Call) -> str:
    """The hint of `call` read from its own function alone (a parameter is a hole): built from
    the code's string constants only, so the same on every Python version and formatting."""
    if call not in file.plain:
        hint = hint_of(call)
        context = _Context(file, _function_of(call, file), None, {}, ())
        file.plain[call] = _text(_plain(_candidates(hint, context, 0))) if hint else ""
    return file.plain[call]


def _site(file: _File, call: ast.Call) -> Site | None:
    if hint_of(call) is None:
        return None
    scopes = _enclosing(call, file.parents)
    source = _plain_text(file, call)
    outer = scopes[0] if scopes else file.tree
    earlier = [
        c
        for c in ast.walk(outer)
        if isinstance(c, ast.Call)
        and (c.lineno, c.col_offset) < (call.lineno, call.col_offset)
        and hint_of(c) is not None
        and file.owner.get(c) is (scopes[0] if scopes else None)
        and _plain_text(file, c) == source
    ]
    return Site(file.module, _dotted(scopes), source, len(earlier))


def hint_sites() -> list[tuple[Site, str]]:
    """Every `expect`/`CheckFailed` call of the checks package with a hint: its site and its
    plain template (the hint's own text, every value a hole)."""
    found = []
    for path in sorted(PACKAGE.glob("*.py")):
        file = _file(str(path))
        if file is None:
            continue
        for call in sorted(file.calls.values(), key=lambda c: (c.lineno, c.col_offset)):
            site = _site(file, call)
            if site is not None:
                found.append((site, site.source))
    return found


# ----------------------------------------------------------------------------- templates

Parts = tuple[str, ...]  # literal texts and HOLEs, never two holes or two texts in a row


def _join(*pieces: Parts) -> Parts:
    out: list[str] = []
    for piece in pieces:
        for part in piece:
            if not part:
                continue
            if out and (part == HOLE) == (out[-1] == HOLE):
                if part != HOLE:
                    out[-1] += part
                continue
            out.append(part)
    return tuple(out)


_HOLE: Parts = (HOLE,)


def _text(parts: Parts) -> str:
    return "".join(parts)


def _parts_of(template: str) -> Parts:
    pieces = template.split(HOLE)
    return _join(
        *[
            ((p,) if p else ()) + (_HOLE if n < len(pieces) - 1 else ())
            for n, p in enumerate(pieces)
        ]
    )


def _fits(parts: Parts, message: str) -> bool:
    """`message` matches `parts` (holes match any text): leftmost placement of each literal."""
    if not parts:
        return message == ""
    first, last = parts[0], parts[-1]
    if first != HOLE and not message.startswith(first):
        return False
    if len(parts) == 1:
        return first == HOLE or message == first
    if last != HOLE and not message.endswith(last):
        return False
    start = len(first) if first != HOLE else 0
    end = len(message) - (len(last) if last != HOLE else 0)
    if start > end:
        return False
    for part in parts[1:-1]:
        if part == HOLE:
            continue
        where = message.find(part, start, end)
        if where < 0:
            return False
        start = where + len(part)
    return True


def _weight(parts: Parts) -> int:
    return sum(len(p) for p in parts if p != HOLE)


@dataclass(frozen=True)
class _Context:
    """Where an expression is read: its file and function, the live frames outside it (to
    follow a parameter to the caller's argument) or static bindings of a helper's parameters."""

    file: _File
    function: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda | None
    frames: Where | None  # the callers (code, instruction, line), innermost first
    bindings: dict[str, tuple[ast.expr, _Context]]
    seen: tuple[int, ...]

    def __hash__(self) -> int:
        return id(self)


def _function_of(node: ast.AST, file: _File) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
    for scope in _enclosing(node, file.parents):
        if isinstance(scope, (ast.FunctionDef, ast.AsyncFunctionDef)):
            return scope
    return None


def _limit(found: list[Parts]) -> list[Parts]:
    unique = list(dict.fromkeys(found))
    return unique if len(unique) <= MAX_CANDIDATES else [_HOLE]


def _product(groups: list[list[Parts]]) -> list[Parts]:
    total = 1
    for group in groups:
        total *= max(1, len(group))
    if total > MAX_CANDIDATES:  # keep the most literal text of each group instead
        groups = [[max(g, key=_weight)] for g in groups]
    return _limit([_join(*combo) for combo in itertools.product(*groups)])


def _format_fields(parts: Parts) -> Parts:
    """`str.format` fields ({name}, {0:.2f}) in the literal parts as holes."""
    out: list[Parts] = []
    for part in parts:
        if part == HOLE:
            out.append(_HOLE)
            continue
        try:
            pieces = list(string.Formatter().parse(part))
        except ValueError:
            out.append((part,))
            continue
        for literal, name, _, _ in pieces:
            out.append(((literal,) if literal else ()) + (_HOLE if name is not None else ()))
    return _join(*out)


def _candidates(
    node: ast.AST, ctx: _Context, depth: int, pool: bool = False, inner: bool = False
) -> list[Parts]:
    """The texts `node` may evaluate to, as parts; `pool` also takes every text inside a
    container (a list of (result, hint) pairs, a dict of hints). `inner`: a value formatted
    into a hint, followed only to the course's hint texts (a parameter's argument, a variable's
    text, a helper that returns a sentence), never to the cases a check tries."""
    if depth > MAX_DEPTH or id(node) in ctx.seen:
        return [_HOLE]
    if isinstance(node, ast.Constant):
        return [(node.value,)] if isinstance(node.value, str) else [_HOLE]
    if isinstance(node, ast.JoinedStr):
        groups = []
        for value in node.values:
            if isinstance(value, ast.Constant):
                groups.append([(str(value.value),)])
            elif (
                isinstance(value, ast.FormattedValue)
                and value.conversion == -1
                and value.format_spec is None
                and isinstance(value.value, (ast.Name, ast.Call))
            ):
                groups.append(_formatted(value.value, ctx, depth + 1))
            else:
                groups.append([_HOLE])
        return _product(groups)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return _product(
            [
                _candidates(node.left, ctx, depth + 1, inner=inner),
                _candidates(node.right, ctx, depth + 1, inner=inner),
            ]
        )
    if isinstance(node, ast.IfExp):
        return _limit(
            _candidates(node.body, ctx, depth + 1, pool, inner)
            + _candidates(node.orelse, ctx, depth + 1, pool, inner)
        )
    if isinstance(node, ast.Name):
        return _name(node.id, ctx, depth, pool, inner)
    if isinstance(node, ast.Call):
        return _call(node, ctx, depth, pool, inner)
    if (
        pool
        and not inner
        and isinstance(node, (ast.List, ast.Tuple, ast.Set, ast.Dict, ast.ListComp))
    ):
        found: list[Parts] = []
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.Constant, ast.JoinedStr, ast.BinOp, ast.IfExp, ast.Name)):
                found += _candidates(child, ctx, depth + 1, pool)
            elif isinstance(child, (ast.List, ast.Tuple, ast.Set, ast.Dict)):
                found += _candidates(child, ctx, depth + 1, pool)
            elif isinstance(child, ast.expr):
                found += _candidates(child, ctx, depth + 1, pool)
        return _limit(found or [_HOLE])
    return [_HOLE]


MIN_SENTENCE = 12  # literal characters a helper's text needs to count as a hint's words
# ... and a text from a loop's list formatted into a hint (a list of (value, hint) pairs): so
# that the cases a check loops over (short words, numbers) stay holes.
MIN_POOLED = 40


def _formatted(node: ast.expr, ctx: _Context, depth: int) -> list[Parts]:
    """A value formatted into a hint: the course's text it comes from, or a hole. A helper's
    result counts only when it is a sentence (not a value shown with '...' cut off), and it may
    always be a hole too."""
    found = _candidates(node, ctx, depth, inner=True)
    if isinstance(node, ast.Call):
        if max(map(_weight, found), default=0) < MIN_SENTENCE:
            return [_HOLE]
        return _limit([*found, _HOLE])
    return found


def _definitions(file: _File, function: ast.AST) -> dict[str, list[tuple[str, ast.expr]]]:
    """Name -> how `function` gives it a value: ("value", the assigned expression), ("loop",
    the iterable of a for loop or comprehension over it), ("added", what a list gets)."""
    if function in file.definitions:
        return file.definitions[function]
    found: dict[str, list[tuple[str, ast.expr]]] = {}
    for node in file.inside.get(function, []):
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    found.setdefault(target.id, []).append(("value", node.value))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            if node.value is not None:
                found.setdefault(node.target.id, []).append(("value", node.value))
        elif isinstance(node, (ast.For, ast.comprehension)):
            for target in ast.walk(node.target):
                if isinstance(target, ast.Name):
                    found.setdefault(target.id, []).append(("loop", node.iter))
        elif isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Name):
            found.setdefault(node.target.id, []).append(("added", node.value))
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in ("append", "extend", "insert")
            and isinstance(node.func.value, ast.Name)
        ):
            for arg in node.args:
                found.setdefault(node.func.value.id, []).append(("added", arg))
    file.definitions[function] = found
    return found


def _name(name: str, ctx: _Context, depth: int, pool: bool, inner: bool) -> list[Parts]:
    if name in ctx.bindings:
        expr, where = ctx.bindings[name]
        return _candidates(expr, where, depth + 1, pool, inner)
    function = ctx.function
    if function is not None:
        params = [a.arg for a in (*function.args.posonlyargs, *function.args.args)]
        params += [a.arg for a in function.args.kwonlyargs]
        if name in params:
            return _parameter(name, ctx, depth, pool, inner)
        found: list[Parts] = []
        for kind, expr in _definitions(ctx.file, function).get(name, ()):
            if kind == "value":
                found += _candidates(expr, ctx, depth + 1, pool, inner)
            elif kind == "loop":
                items = _candidates(expr, ctx, depth + 1, pool=True)
                found += (
                    [p for p in items if _weight(p) >= MIN_POOLED] + [_HOLE] if inner else items
                )
            elif pool:  # added to a list: `name += [...]`, `name.append(...)`
                found += _candidates(expr, ctx, depth + 1, pool)
        if found:
            return _limit(found)
    if name in ctx.file.constants:
        where = _Context(ctx.file, None, None, {}, ctx.seen)
        return _candidates(ctx.file.constants[name], where, depth + 1, pool, inner)
    return [_HOLE]


def _parameter(name: str, ctx: _Context, depth: int, pool: bool, inner: bool) -> list[Parts]:
    """A parameter of the function running in the innermost frame: the caller's argument."""
    if not ctx.frames or ctx.function is None or isinstance(ctx.function, ast.Lambda):
        return [_HOLE]
    code, lasti, line = ctx.frames[0]
    file = _file(code.co_filename)
    call = _call_at(code, lasti, line, file, (ctx.function.name,))
    if file is None or call is None or _called_name(call) != ctx.function.name:
        return [_HOLE]
    argument = _argument(call, ctx.function, name)
    if argument is None:
        return [_HOLE]
    function = _function_of(call, file)
    outside = _outside(function, code, ctx.frames[1:])
    caller = _Context(file, function, outside, {}, ctx.seen)
    return _candidates(argument, caller, depth + 1, pool, inner)


def _outside(function: ast.AST | None, code: CodeType, callers: Where) -> Where:
    """The frames that called `function`, when `code` runs it (or a comprehension inside it,
    which has a frame of its own: those frames up to the function's are skipped)."""
    name = getattr(function, "name", None)
    if name is None or code.co_name == name:
        return callers
    for n, (outer, _, _) in enumerate(callers):
        if outer.co_name == name:
            return callers[n + 1 :]
    return ()


def _argument(
    call: ast.Call, function: ast.FunctionDef | ast.AsyncFunctionDef, name: str
) -> ast.expr | None:
    """The expression `call` passes for parameter `name` of `function` (or its default)."""
    positional = [a.arg for a in (*function.args.posonlyargs, *function.args.args)]
    for keyword in call.keywords:
        if keyword.arg == name:
            return keyword.value
    if name in positional:
        index = positional.index(name)
        if any(isinstance(a, ast.Starred) for a in call.args[: index + 1]):
            return None
        if index < len(call.args):
            return call.args[index]
        defaults = function.args.defaults
        first_default = len(positional) - len(defaults)
        return defaults[index - first_default] if index >= first_default else None
    kwonly = [a.arg for a in function.args.kwonlyargs]
    if name in kwonly:
        return function.args.kw_defaults[kwonly.index(name)]
    return None


def _call(node: ast.Call, ctx: _Context, depth: int, pool: bool, inner: bool) -> list[Parts]:
    func = node.func
    if isinstance(func, ast.Attribute) and func.attr == "format":
        found = _candidates(func.value, ctx, depth + 1, inner=inner)
        return _limit([_format_fields(p) for p in found])
    if isinstance(func, ast.Attribute) and func.attr in ("items", "values") and pool:
        return _candidates(func.value, ctx, depth + 1, pool)
    if not isinstance(func, ast.Name) or func.id not in ctx.file.functions:
        return [_HOLE]
    helper = ctx.file.functions[func.id]
    bindings = {}
    for arg in (*helper.args.posonlyargs, *helper.args.args, *helper.args.kwonlyargs):
        expr = _argument(node, helper, arg.arg)
        if expr is not None:
            bindings[arg.arg] = (expr, ctx)
    helper_ctx = _Context(ctx.file, helper, None, bindings, (*ctx.seen, id(node)))
    found: list[Parts] = []
    for child in ctx.file.inside.get(helper, []):
        if isinstance(child, ast.Return) and child.value is not None:
            found += _candidates(child.value, helper_ctx, depth + 1, pool, inner)
    return _limit(found or [_HOLE])


def _plain(found: list[Parts]) -> Parts:
    return max(found, key=_weight) if found else _HOLE


# ----------------------------------------------------------------------------- at run time


@functools.lru_cache(maxsize=4096)
def _positions(code: CodeType) -> tuple[tuple[int | None, ...], ...]:
    return tuple(code.co_positions())


def _call_at(
    code: CodeType, lasti: int, line: int, file: _File | None, names: tuple[str, ...]
) -> ast.Call | None:
    """The call being made at instruction `lasti` (on line `line`) of `code`, from the file's
    syntax tree. Python 3.11 and later give each instruction's columns: the call is exact. On
    3.10, the innermost call of a function in `names` whose lines hold `line`."""
    if file is None or lasti < 0:
        return None
    if hasattr(code, "co_positions"):
        positions = _positions(code)
        index = lasti // 2
        if index >= len(positions) or None in positions[index]:
            return None
        return file.calls.get(positions[index])  # type: ignore[arg-type]
    around = [
        c
        for c in file.calls.values()
        if c.lineno <= line <= (c.end_lineno or c.lineno) and _called_name(c) in names
    ]
    return min(
        around,
        key=lambda c: ((c.end_lineno or 0) - c.lineno, (c.end_col_offset or 0) - c.col_offset),
        default=None,
    )


def _skip(code: CodeType) -> bool:
    """Frames that pass a hint on rather than make it: `expect` and `CheckFailed` itself."""
    return code.co_filename == str(PACKAGE / "__init__.py") and code.co_name in (
        "expect",
        "__init__",
    )


# (code, instruction, line) of the hint's frame and of its callers
Where = tuple[tuple[CodeType, int, int], ...]


def where_made(frame: FrameType | None) -> Where:
    """The hint's frame (`frame` or a caller, past `expect` and `CheckFailed`) and its callers,
    as code and instruction: cheap to keep until the hint's template is wanted."""
    while frame is not None and _skip(frame.f_code):
        frame = frame.f_back
    chain: list[tuple[CodeType, int, int]] = []
    while frame is not None and len(chain) < 16:
        chain.append((frame.f_code, frame.f_lasti, frame.f_lineno or 0))
        frame = frame.f_back
    return tuple(chain)


def locate(where: Where, message: str) -> Found:
    """The hint `message`, made at `where`: its site and template, read from the checks' code
    (the course's text that `message` matches). A hint made elsewhere is "unlocated"."""
    located = _at(where)
    if located is None:
        return Found(None, fixed_template("unlocated"), "unlocated")
    site, found = located
    fitting = [parts for parts in found if _fits(parts, message)]
    best = max(fitting, key=_weight) if fitting else _plain(found)
    return Found(site, _text(best) or HOLE)


@functools.lru_cache(maxsize=2048)
def _at(where: Where) -> tuple[Site, list[Parts]] | None:
    """The site and the candidate templates of the hint made at `where` (cached per place)."""
    if not where:
        return None
    (code, lasti, line), callers = where[0], where[1:]
    file = _file(code.co_filename)
    call = _call_at(code, lasti, line, file, ("expect", "CheckFailed"))
    if file is None or call is None:
        return None
    site = _site(file, call)
    hint = hint_of(call)
    if site is None or hint is None:
        return None
    function = _function_of(call, file)
    context = _Context(file, function, _outside(function, code, callers), {}, ())
    return site, _candidates(hint, context, 0)
