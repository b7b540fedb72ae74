"""Reading a function's source: the only module that uses `inspect`.

`read_source(func)` returns the parsed `ast.FunctionDef` together with what
is needed to resolve its names (globals, closure) and to locate errors in the
user's file (file name, line and column offsets). Objects that carry their own
source, such as symdiff's generated gradients, expose `__symdiff_source__`.

Two guarantees keep a derivative tied to the code that runs (the "Trust" issue):

- the text `inspect` reads is compiled again and compared with the function's
  code object; a source file edited after the import raises `SourceChanged`
  instead of differentiating text that does not run;
- `snapshot(lower)` runs a lowering and records what the free names of every
  source it read resolve to (module constants folded into the generated
  code, arrays, callees), so a cache can tell when a derivative built earlier
  no longer describes the function. It is the one place where module
  globals and closure values are captured at build time; both it and the
  lowering read a free name through `FunctionSource.lookup`.
"""

from __future__ import annotations
import __future__

import ast
import builtins
import dis
import functools
import inspect
import linecache
import re
import textwrap
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import CellType, CodeType
from typing import Any, TypeVar

import numpy as np

from symdiff.errors import Location, SourceChanged, SourceUnavailable, UnsupportedSyntax


@dataclass(frozen=True)
class FunctionSource:
    """A parsed function and the context its names resolve in."""

    name: str
    node: ast.FunctionDef
    file: str
    lines: tuple[str, ...]  # the dedented source lines, as parsed
    line_offset: int  # added to ast line numbers to get file line numbers
    col_offset: int  # removed indentation, added back to ast columns
    namespace: dict[str, Any] = field(repr=False, compare=False)  # the module's globals (the live dict)
    cells: dict[str, CellType] = field(default_factory=dict, repr=False, compare=False)  # the live closure

    def location(self, node: ast.AST, statement: ast.AST | None = None) -> Location:
        """The user-facing location of `node`; `statement` supplies the quoted text."""
        line = getattr(node, "lineno", 1)
        text_line = self.lines[line - 1] if 0 < line <= len(self.lines) else ""
        end_col = getattr(node, "end_col_offset", None) if getattr(node, "end_lineno", line) == line else None
        quoted = ""
        if statement is not None:
            segment = _segment(self.lines, statement)
            if isinstance(statement, (ast.If, ast.For, ast.While)):
                segment = segment.splitlines()[0] if segment else ""
            quoted = " ".join(part.strip() for part in segment.splitlines())
        return Location(
            file=self.file,
            line=line + self.line_offset,
            col=getattr(node, "col_offset", 0) + self.col_offset,
            source_line=" " * self.col_offset + text_line,
            end_col=None if end_col is None else end_col + self.col_offset,
            text=quoted,
        )

    def lookup(self, name: str) -> tuple[bool, Any]:
        """Resolve a free name as the function would now: closure, then module globals, then builtins.

        The one way a free name is read, by the lowering and by `snapshot` alike, so that the
        values a derivative was built from are the values its cache entry is checked against.
        """
        cell = self.cells.get(name)
        if cell is not None:
            try:
                return True, cell.cell_contents
            except ValueError:  # an empty cell: the enclosing function has not assigned it yet
                pass
        for scope in (self.namespace, vars(builtins)):
            if name in scope:
                return True, scope[name]
        return False, None

    def evaluate(self, node: ast.expr) -> Any:
        """The value of an expression of free names (a default such as `-np.inf`) in the
        function's scope, as `lookup` resolves its names; what it raises, it raises."""
        names = {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}
        scope = {name: value for name in names for found, value in [self.lookup(name)] if found}
        return eval(compile(ast.Expression(node), self.file, "eval"), {"__builtins__": {}}, scope)

    def return_location(self) -> Location:
        """Where the function returns (its first `return` statement), for errors about its output."""
        returns = [node for node in ast.walk(self.node) if isinstance(node, ast.Return)]
        first = min(returns, key=lambda node: (node.lineno, node.col_offset), default=self.node)
        return self.location(first, first)


def _segment(lines: tuple[str, ...], node: ast.AST) -> str:
    """The source text of `node`, as `ast.get_source_segment` gives it, without joining the whole source."""
    end_line, end_col = getattr(node, "end_lineno", None), getattr(node, "end_col_offset", None)
    if end_line is None or end_col is None or not 0 < node.lineno <= end_line <= len(lines):
        return ""
    chunk = [line.encode() for line in lines[node.lineno - 1 : end_line]]  # ast columns count UTF-8 bytes
    chunk[-1] = chunk[-1][:end_col]
    chunk[0] = chunk[0][node.col_offset :]
    return b"\n".join(chunk).decode()


_DEF_LINE = re.compile(r"^(\s*def\s)|(\s*async\s+def\s)|(.*(?<!\w)lambda(:|\s))|^(\s*@)")  # as inspect's


def _source_lines(function: Any) -> tuple[list[str], int]:
    """`inspect.getsourcelines(function.__code__)`, without its `inspect.getmodule`: that scans every
    module in `sys.modules` (a realpath each) the first time, 0.1 s of a first build with SciPy loaded.
    The module's globals that `linecache` may need (a loader's source) are the function's own."""
    code = function.__code__
    file = inspect.getsourcefile(function)
    lines = []
    if file and not (file.startswith("<") and file.endswith(">")):
        linecache.checkcache(file)
        lines = linecache.getlines(file, function.__globals__)
    if not lines or not 0 < code.co_firstlineno <= len(lines):
        return inspect.getsourcelines(code)  # the function itself: getsourcelines unwraps
    number = code.co_firstlineno - 1
    while number > 0 and not _DEF_LINE.match(lines[number]):
        number -= 1
    return inspect.getblock(lines[number:]), number + 1


def read_source(func: Any) -> FunctionSource:
    """Parse `func`'s source; raise `SourceUnavailable` if it cannot be read."""
    provided = getattr(func, "__symdiff_source__", None)
    if provided is not None:
        text, namespace, file, name = provided
        return _parse(text, namespace, file, 0, name)
    target = _unwrap_cache(func)  # other wrappers are what runs: their own source is read
    name = getattr(target, "__name__", repr(target))
    if not inspect.isfunction(target):
        raise SourceUnavailable(f"cannot read the source of {name!r}: it is not a Python function")
    try:
        lines, first = _source_lines(target)
    except (OSError, TypeError) as error:
        raise SourceUnavailable(f"cannot read the source of {name!r}: {error}") from None
    file = inspect.getsourcefile(target) or target.__code__.co_filename
    cells = dict(zip(target.__code__.co_freevars, target.__closure__ or ()))
    if target.__name__ == "<lambda>":
        source = _lambda_source(lines, target, file, max(first - 1, 0), cells)
        for sources in _RECORDERS:
            sources.append(source)
        return source
    if compiles_to(lines, target.__code__) is False:
        raise SourceChanged(
            f"the source file changed after {name}() was imported: symdiff would differentiate "
            "the edited text, not the function that runs",
            _code_location(target),
        )
    source = _parse("".join(lines), target.__globals__, file, max(first - 1, 0), name, cells)
    for sources in _RECORDERS:
        sources.append(source)
    return source


def _lambda_source(lines: list[str], func: Any, file: str, line_offset: int, cells: dict):
    """A lambda as a function named after what it is assigned to (`loss = lambda w: ...` -> `loss`).

    The lambda is found among those on its lines by its parameter names; when several match, or the
    lines do not parse on their own, symdiff asks for a `def` instead.
    """
    code = func.__code__
    where = _code_location(func)
    text = textwrap.dedent("".join(lines))
    indent = len(lines[0]) - len(lines[0].lstrip()) if lines else 0
    try:
        module = ast.parse(text)
    except SyntaxError:
        raise UnsupportedSyntax(
            "the lines of this lambda cannot be read on their own", where, hint="define the function with `def`"
        ) from None
    params = list(code.co_varnames[: code.co_argcount])
    found = [n for n in ast.walk(module) if isinstance(n, ast.Lambda) and [a.arg for a in n.args.args] == params]
    if len(found) != 1:
        raise UnsupportedSyntax(
            f"{len(found) or 'no'} lambdas on these lines take ({', '.join(params)}): symdiff cannot tell which runs",
            where,
            hint="define the function with `def`",
        )
    lam = found[0]
    if not code.co_freevars and not _same_lambda(_segment(tuple(text.splitlines()), lam), code, file):
        raise SourceChanged(
            "the source file changed after this lambda was imported: symdiff would differentiate "
            "the edited text, not the function that runs",
            where,
        )
    name = _assigned_name(module, lam) or "anonymous"
    body = [ast.copy_location(ast.Return(lam.body), lam.body)]
    node = ast.copy_location(ast.FunctionDef(name=name, args=lam.args, body=body, decorator_list=[]), lam)
    return FunctionSource(
        name=name,
        node=node,
        file=file,
        lines=tuple(text.splitlines()),
        line_offset=line_offset,
        col_offset=indent,
        namespace=func.__globals__,
        cells=cells,
    )


def _same_lambda(segment: str, code: CodeType, file: str) -> bool:
    """Whether the lambda's text compiles to `code` (tried as `compiles_to` tries a def's)."""
    for imported in (_imported_receivers(code, locals_too=False), set()):
        header = "".join(f"import symdiff_stand_in as {name}\n" for name in sorted(imported))
        try:
            module = compile(f"{header}_ = {segment}\n", file, "exec", flags=code.co_flags & _FUTURE_FLAGS)
        except (SyntaxError, ValueError):
            return False
        compiled = next((c for c in module.co_consts if isinstance(c, CodeType) and c.co_name == "<lambda>"), None)
        if compiled is not None and _same_code(compiled, code):
            return True
    return False


def _assigned_name(module: ast.Module, lam: ast.Lambda) -> str | None:
    for node in ast.walk(module):
        if isinstance(node, ast.Assign) and node.value is lam and isinstance(node.targets[0], ast.Name):
            return node.targets[0].id
    return None


def _unwrap_cache(func: Any) -> Any:
    """`functools.cache`/`lru_cache` return what the function returns: differentiate the function."""
    while isinstance(func, functools._lru_cache_wrapper):
        func = func.__wrapped__
    return func


def _code_location(func: Any) -> Location:
    code = func.__code__
    return Location(code.co_filename, code.co_firstlineno, 0)


# -- the source read is the code that runs ----------------------------------------

_FUTURE_FLAGS = 0
for _feature in __future__.all_feature_names:
    _FUTURE_FLAGS |= getattr(__future__, _feature).compiler_flag


def compiles_to(lines: list[str], code: CodeType) -> bool | None:
    """Whether `lines` (a `def` as `inspect.getsourcelines` returns it) compile to `code`.

    The text is compiled in a stand-in for its original scope: inside a
    function that binds its free variables (so they compile to closure reads,
    as they did) and inside a class of the same name for a method (private
    name mangling, `super()`). The original indentation is kept, so multi-line
    strings are not changed by dedenting. None means the check cannot be
    made (a scope it cannot rebuild); False that the text compiles to other
    code: the file was edited since the import.
    """
    text = "".join(lines)
    if not text.endswith("\n"):
        text += "\n"
    scoped = _in_scope(text, code)
    if scoped is None:
        return None
    wrapped, qualname = scoped
    # CPython compiles `np.exp(x)` differently when `np` was bound by a module-level
    # import (LOAD_ATTR instead of LOAD_METHOD). Which names were is read off the
    # bytecode; the reading can be fooled by `f(*args)` calls, so each guess is tried.
    guesses = [_imported_receivers(code, locals_too=False), set(), _imported_receivers(code, locals_too=True)]
    tried = []
    for imported in guesses:
        if imported in tried:
            continue
        tried.append(imported)
        header = "".join(f"import symdiff_stand_in as {name}\n" for name in sorted(imported))
        try:
            flags = code.co_flags & _FUTURE_FLAGS
            module = compile(header + wrapped, code.co_filename, "exec", flags=flags, dont_inherit=True)
        except (SyntaxError, ValueError):
            return False
        compiled = _find_code(module, qualname)
        if compiled is not None and _same_code(compiled, code):
            return True
    return False


def _in_scope(text: str, code: CodeType) -> tuple[str, str] | None:
    """`text` inside a stand-in for its scope, and the qualified name the function gets there."""
    indent = text[: len(text) - len(text.lstrip(" \t"))]
    parts = code.co_qualname.split(".")
    name = parts[-1]
    if not indent:
        return text, name
    if len(parts) == 1:  # a module-level function under an `if` or `try`
        return "if True:\n" + text, name
    in_class = parts[-2] != "<locals>"
    free = [name for name in code.co_freevars if name != "__class__"]
    head = []
    inner = indent
    qualname = name
    if in_class:
        qualname = f"{parts[-2]}.{name}"
    if free or not in_class:
        head.append("def _symdiff_scope():")
        qualname = f"_symdiff_scope.<locals>.{qualname}"
        if in_class:
            if len(indent) < 2:
                return None
            inner = indent[:1]
        head += [f"{inner}{variable} = None" for variable in free]
    if in_class:
        head.append(f"{inner if free else ''}class {parts[-2]}:")
    return "\n".join(head) + "\n" + text, qualname


def _imported_receivers(code: CodeType, locals_too: bool) -> set[str]:
    """Names whose methods `code` seems to call as names bound by a module-level import.

    CPython marks such a call by pushing the NULL before the receiver
    (`LOAD_GLOBAL (NULL + np)`, or `PUSH_NULL` then a local of the same name)
    and loading the method with `LOAD_ATTR`.
    """
    found: set[str] = set()
    instructions = list(dis.get_instructions(code))
    for k in range(1, len(instructions)):
        receiver = instructions[k - 1]
        if instructions[k].opname != "LOAD_ATTR":
            continue
        if receiver.opname == "LOAD_GLOBAL" and receiver.arg is not None and receiver.arg & 1:
            found.add(receiver.argval)
        if locals_too and receiver.opname in ("LOAD_FAST", "LOAD_DEREF") and instructions[k - 2].opname == "PUSH_NULL":
            found.add(receiver.argval)
    for const in code.co_consts:
        if isinstance(const, CodeType):
            found |= _imported_receivers(const, locals_too)
    return found


def _find_code(module: CodeType, qualname: str) -> CodeType | None:
    """The code object of the function called `qualname` among `module`'s nested code objects."""
    level = [module]
    while level:
        level = [c for code in level for c in code.co_consts if isinstance(c, CodeType)]
        for candidate in level:
            if candidate.co_qualname == qualname:
                return candidate
    return None


def _same_code(a: CodeType, b: CodeType) -> bool:
    return (
        a.co_code == b.co_code
        and a.co_names == b.co_names
        and a.co_varnames == b.co_varnames
        and a.co_freevars == b.co_freevars
        and a.co_cellvars == b.co_cellvars
        and (a.co_argcount, a.co_posonlyargcount, a.co_kwonlyargcount)
        == (b.co_argcount, b.co_posonlyargcount, b.co_kwonlyargcount)
        and len(a.co_consts) == len(b.co_consts)
        and all(_same_value(x, y) for x, y in zip(a.co_consts, b.co_consts))
    )


def _same_value(a: Any, b: Any) -> bool:
    """Equal constants, told apart by type, sign of zero and nan (`repr`), recursively."""
    if a is b:
        return True
    if type(a) is not type(b):
        return False
    if isinstance(a, CodeType):
        return _same_code(a, b)
    if isinstance(a, tuple):
        return len(a) == len(b) and all(_same_value(x, y) for x, y in zip(a, b))
    if isinstance(a, (float, complex, np.generic)):
        return repr(a) == repr(b)
    if isinstance(a, (int, str, bytes, frozenset, type(None), type(Ellipsis))):
        return a == b
    return False


# -- what a lowered function read: free names and what they resolved to ------------

_RECORDERS: list[list[FunctionSource]] = []
_MISSING = object()


@contextmanager
def recording() -> Iterator[list[FunctionSource]]:
    """Collect every `FunctionSource` that `read_source` returns inside the block."""
    sources: list[FunctionSource] = []
    _RECORDERS.append(sources)
    try:
        yield sources
    finally:  # by identity: nested recorders may hold equal lists
        del _RECORDERS[next(k for k, r in enumerate(_RECORDERS) if r is sources)]


@dataclass(frozen=True)
class Dependency:
    """A free name (or dotted path, `config.scale`) a function read, and the value it had.

    Scalars compare by value (they are folded into generated code as
    constants); arrays, modules and functions by identity (arrays are
    referenced, so changes in place are seen; a rebinding is not).
    """

    source: FunctionSource = field(repr=False)
    path: tuple[str, ...]
    value: Any = field(repr=False)

    def unchanged(self) -> bool:
        """Whether the path still resolves to the same value."""
        return _same_value_or_object(_resolve(self.source, self.path), self.value)


T = TypeVar("T")


def snapshot(lower: Callable[[], T]) -> tuple[T, tuple[Dependency, ...]]:
    """Run `lower` (a lowering) and return what it returns with what the free names of every
    source it read (the function, its callees, rule bodies) resolve to when it is done."""
    with recording() as sources:
        result = lower()
    return result, dependencies(sources)


def dependencies(sources: list[FunctionSource]) -> tuple[Dependency, ...]:
    """What the free names of `sources` resolve to now: a snapshot to compare later."""
    found: dict[tuple[int, tuple[str, ...]], Dependency] = {}
    for source in sources:
        for path in _free_paths(source.node):
            key = (id(source), path)
            if key not in found:
                found[key] = Dependency(source, path, _resolve(source, path))
    return tuple(found.values())


def _free_paths(node: ast.FunctionDef) -> list[tuple[str, ...]]:
    """Dotted names read in `node` (`np.linalg.norm`, `scale`) whose root is not local."""
    local = {a.arg for a in ast.walk(node.args) if isinstance(a, ast.arg)}
    local |= {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and not isinstance(n.ctx, ast.Load)}
    inner = {id(n.value) for n in ast.walk(node) if isinstance(n, ast.Attribute)}
    parts = [*node.body, *node.args.defaults, *(d for d in node.args.kw_defaults if d is not None)]
    paths = []
    for top in parts:
        for n in ast.walk(top):
            if id(n) in inner or not isinstance(n, (ast.Name, ast.Attribute)):
                continue
            attrs = []
            while isinstance(n, ast.Attribute):
                attrs.append(n.attr)
                n = n.value
            if isinstance(n, ast.Name) and n.id not in local:
                paths.append((n.id, *reversed(attrs)))
    return paths


def _resolve(source: FunctionSource, path: tuple[str, ...]) -> Any:
    found, value = source.lookup(path[0])
    if not found:
        return _MISSING
    for attr in path[1:]:
        if isinstance(value, np.ndarray):  # `W.shape`, `W.T`: operations on the array, not reads
            break
        try:
            value = getattr(value, attr)
        except Exception:  # noqa: BLE001 - a property may raise anything; the lowering reports it
            return _MISSING
    return value


def _same_value_or_object(a: Any, b: Any) -> bool:
    if a is b:
        return True
    if type(a) is not type(b) or isinstance(a, np.ndarray):
        return False
    return _same_value(a, b)


def _parse(text: str, namespace, file: str, line_offset: int, name: str, cells: dict | None = None) -> FunctionSource:
    dedented = textwrap.dedent(text)
    first = next((ln for ln in text.splitlines() if ln.strip()), "")
    indent = len(first) - len(first.lstrip())
    try:
        module = ast.parse(dedented)
    except SyntaxError as error:
        raise SourceUnavailable(f"cannot parse the source of {name!r}: {error.msg}") from None
    defs = [node for node in module.body if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))]
    node = next((d for d in defs if d.name == name), defs[0] if defs else None)
    if node is None:
        raise SourceUnavailable(f"no function definition found in the source of {name!r}")
    if isinstance(node, ast.AsyncFunctionDef):
        raise UnsupportedSyntax("async functions cannot be differentiated")
    return FunctionSource(
        name=node.name,
        node=node,
        file=file,
        lines=tuple(dedented.splitlines()),
        line_offset=line_offset,
        col_offset=indent,
        namespace=namespace,
        cells=cells or {},
    )
