"""The supported subset, as an allow-list over `ast` node types.

`check_subset(source)` walks a function once before lowering and rejects the
first construct outside the subset with an `UnsupportedSyntax` error that
names the construct and points at it. Semantic checks (unknown names,
mutation of arguments, calls without rules) happen during lowering.
"""

from __future__ import annotations

import ast

from symdiff.errors import UnsupportedSyntax
from symdiff.frontend.source import FunctionSource

_REJECTED: dict[type, tuple[str, str]] = {
    ast.ClassDef: ("class definitions", "define classes outside the differentiated function"),
    ast.Try: ("try/except", "remove the try block; symdiff differentiates straight-line code"),
    ast.With: ("with statements", "move the with block outside the differentiated function"),
    ast.AsyncWith: ("async with statements", ""),
    ast.SetComp: ("set comprehensions", ""),
    ast.Set: ("set literals", ""),
    ast.Global: ("global statements", "pass the value as an argument instead"),
    ast.Nonlocal: ("nonlocal statements", "pass the value as an argument instead"),
    ast.Yield: ("yield (generators)", "return a value instead"),
    ast.YieldFrom: ("yield from (generators)", ""),
    ast.Await: ("await", ""),
    ast.Raise: ("raise statements", ""),
    ast.Assert: ("assert statements", ""),
    ast.Delete: ("del statements", ""),
    ast.Import: ("import statements", "import at module level"),
    ast.ImportFrom: ("import statements", "import at module level"),
    ast.AsyncFunctionDef: ("async functions", ""),
    ast.NamedExpr: ("assignment expressions (:=)", ""),
    ast.Match: ("match statements", "use if/elif/else"),
    ast.AnnAssign: ("annotated assignments", "drop the annotation"),
}


def check_subset(source: FunctionSource, called: bool = False, generator: bool = False) -> None:
    """Raise `UnsupportedSyntax` at the first construct outside the subset.

    A function differentiated from a call (`called`) may take `*args`, `**kwargs` and keyword-only
    parameters, which the call fills in at build time (a decorator's wrapper passes them on).
    """
    args = source.node.args
    if args.posonlyargs or not called and (args.vararg or args.kwarg or args.kwonlyargs):
        raise UnsupportedSyntax(
            "only plain positional parameters (with defaults) are supported",
            source.location(source.node),
        )
    for statement in source.node.body:
        for node in ast.walk(statement):
            rejected = _REJECTED.get(type(node))
            if generator and isinstance(node, ast.Yield):  # a generator a for loop walks: see lower_for
                continue
            if rejected is not None:
                what, hint = rejected
                raise UnsupportedSyntax(f"{what} are not supported", source.location(node), hint or None)
