"""Values that exist only while lowering: Python-level lists, tuples and keyword mappings.

The IR sees atoms (`Var`, `Const`); a tuple literal, `*args`, the items of a
list the loop unrolls over, or the `**kwargs` a call passed on are known item
by item when the derivative is built, and live here until an op needs them as
one array (`Lowering.as_array`) or a tuple atom (`Lowering.atom`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Pack:
    """A tuple known at lowering time (a tuple literal, `*args`, a multi-value return)."""

    items: tuple


@dataclass(frozen=True)
class Keywords:
    """A `**kwargs` mapping known at lowering time (what a call passed to a `**kwargs` parameter)."""

    items: tuple[tuple[str, Any], ...]


@dataclass(frozen=True, eq=False)
class LocalFunction:
    """A `def` or `lambda` inside the function being lowered, and the scope it closes over.

    Calling it inlines `node`'s body; names it does not define are read from `scope` (the
    enclosing lowering) as they are at the call, as Python's closures do.
    """

    node: Any  # ast.FunctionDef (a lambda is given one)
    scope: Any  # the enclosing Lowering
