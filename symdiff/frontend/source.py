"""Reading a function's source: the only module that uses `inspect`.

`read_source(func)` returns the parsed `ast.FunctionDef` together with what
is needed to resolve its names (globals, closure) and to locate errors in the
user's file (file name, line and column offsets). Objects that carry their own
source, such as symdiff's generated gradients, expose `__symdiff_source__`.
"""

from __future__ import annotations

import ast
import builtins
import inspect
import textwrap
from dataclasses import dataclass, field
from typing import Any

from symdiff.errors import Location, SourceUnavailable, UnsupportedSyntax


@dataclass(frozen=True)
class FunctionSource:
    """A parsed function and the context its names resolve in."""

    name: str
    node: ast.FunctionDef
    file: str
    lines: tuple[str, ...]  # the dedented source lines, as parsed
    line_offset: int  # added to ast line numbers to get file line numbers
    col_offset: int  # removed indentation, added back to ast columns
    namespace: dict[str, Any] = field(repr=False, compare=False)
    closure: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

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
        """Resolve a free name: closure, then module globals, then builtins."""
        for scope in (self.closure, self.namespace, vars(builtins)):
            if name in scope:
                return True, scope[name]
        return False, None


def _segment(lines: tuple[str, ...], node: ast.AST) -> str:
    """The source text of `node`, as `ast.get_source_segment` gives it, without joining the whole source."""
    end_line, end_col = getattr(node, "end_lineno", None), getattr(node, "end_col_offset", None)
    if end_line is None or end_col is None or not 0 < node.lineno <= end_line <= len(lines):
        return ""
    chunk = [line.encode() for line in lines[node.lineno - 1 : end_line]]  # ast columns count UTF-8 bytes
    chunk[-1] = chunk[-1][:end_col]
    chunk[0] = chunk[0][node.col_offset :]
    return b"\n".join(chunk).decode()


def read_source(func: Any) -> FunctionSource:
    """Parse `func`'s source; raise `SourceUnavailable` if it cannot be read."""
    provided = getattr(func, "__symdiff_source__", None)
    if provided is not None:
        text, namespace, file, name = provided
        return _parse(text, namespace, {}, file, 0, name)
    target = inspect.unwrap(func)
    name = getattr(target, "__name__", repr(target))
    if not inspect.isfunction(target):
        raise SourceUnavailable(f"cannot read the source of {name!r}: it is not a Python function")
    if target.__name__ == "<lambda>":
        raise UnsupportedSyntax(
            "lambda functions cannot be differentiated",
            _code_location(target),
            hint="define the function with `def`",
        )
    try:
        lines, first = inspect.getsourcelines(target)
    except (OSError, TypeError) as error:
        raise SourceUnavailable(f"cannot read the source of {name!r}: {error}") from None
    closure = inspect.getclosurevars(target).nonlocals if target.__closure__ else {}
    file = inspect.getsourcefile(target) or target.__code__.co_filename
    return _parse("".join(lines), target.__globals__, dict(closure), file, max(first - 1, 0), name)


def _code_location(func: Any) -> Location:
    code = func.__code__
    return Location(code.co_filename, code.co_firstlineno, 0)


def _parse(text: str, namespace, closure, file: str, line_offset: int, name: str) -> FunctionSource:
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
        closure=closure,
    )
