"""Values that exist only while lowering: Python-level lists, tuples and keyword mappings.

The IR sees atoms (`Var`, `Const`); a tuple literal, `*args`, the items of a
list the loop unrolls over, or the `**kwargs` a call passed on are known item
by item when the derivative is built, and live here until an op needs them as
one array (`Lowering.as_array`) or a tuple atom (`Lowering.atom`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from symdiff.ir.nodes import Const, Var


@dataclass(frozen=True)
class Pack:
    """A tuple or list known at lowering time (a literal, `*args`, a multi-value return, a list
    argument's items); `kind` answers `isinstance` while building."""

    items: tuple
    kind: type = field(default=tuple, compare=False)


@dataclass(frozen=True)
class Rows:
    """A list made by a comprehension over an array's rows (`[f(r) for r in x]`), held as the array
    of its items stacked. NumPy functions take it as that array; Python's list operations
    (`+` joins, `*` repeats) would mean something else, so it cannot be used as a value."""

    array: Var


class GrowRows:
    """What `out.append(item)` calls once rewritten in a loop that runs as a loop
    (`ControlFlow.rows_for_appends`): the rows of `out` with `item` added, as a `Rows`."""


GROW_ROWS = GrowRows()


@dataclass(frozen=True)
class Splat:
    """`*shape` in a call, with `shape` a tuple known only when running: only a call that runs
    as it is (`rs.randn(*x.shape)`) takes it, passing it on as written."""

    value: Var
    node: Any  # the `*shape` argument, where a refusal points


@dataclass(frozen=True)
class Keywords:
    """A `**kwargs` mapping known at lowering time (what a call passed to a `**kwargs` parameter)."""

    items: tuple[tuple[str, Any], ...]


@dataclass(frozen=True, eq=False)
class Partial:
    """`functools.partial(f, a, k=v)` made while lowering: calling it calls `f` with these first."""

    func: Any
    args: tuple
    keywords: tuple[tuple[str, Any], ...]


@dataclass(frozen=True, eq=False)
class LocalFunction:
    """A `def` or `lambda` inside the function being lowered, and the scope it closes over.

    Calling it inlines `node`'s body; names it does not define are read from `scope` (the
    enclosing lowering) as they are at the call, as Python's closures do.
    """

    node: Any  # ast.FunctionDef (a lambda is given one)
    scope: Any  # the enclosing Lowering


@dataclass(frozen=True)
class Record:
    """A dict known at lowering time, key by key (a dict argument: `params["w"]`)."""

    items: tuple[tuple[Any, Any], ...]

    def get(self, key: Any) -> tuple[bool, Any]:
        for k, value in self.items:
            if k == key and type(k) is type(key):
                return True, value
        return False, None


def as_value(result: Any) -> Any:
    """A shape folded to a constant (a build for known shapes) as a tuple the code can index and unpack."""
    if isinstance(result, Const) and isinstance(result.value, tuple):
        return Pack(tuple(Const(n) for n in result.value))
    return result


def structured_value(structure: Any, stem: str, fresh) -> tuple[Any, list[Var]]:
    """The lowering-time value of an argument of `structure` (see `symdiff.structured`), and
    its leaves in order (`params_0_w`, ...): each leaf becomes a parameter of the IR."""
    if structure is None:
        leaf = Var(fresh(stem))
        return leaf, [leaf]
    kind, keys, children = structure
    if kind is type(None):
        return Const(None), []
    labels = keys if kind is dict else range(len(children))
    values, leaves = [], []
    for position, (label, child) in enumerate(zip(labels, children)):
        part = str(label) if str(label).isidentifier() else str(position)
        value, inner = structured_value(child, f"{stem}_{part}", fresh)
        values.append(value)
        leaves += inner
    if kind is dict:
        return Record(tuple(zip(keys, values))), leaves
    return Pack(tuple(values), kind), leaves


def value_structure(value: Any) -> Any:
    """The `symdiff.structured` structure of a lowering-time value: what a derivative built for
    containers (`Deferred`) is built for when it is called inside a function being lowered."""
    if value is None or (isinstance(value, Const) and value.value is None):
        return (type(None), None, ())
    if isinstance(value, Record):
        return (dict, tuple(k for k, _ in value.items), tuple(value_structure(v) for _, v in value.items))
    if isinstance(value, Pack):
        return (value.kind, None, tuple(value_structure(v) for v in value.items))
    return None


def value_leaves(value: Any) -> list:
    """The leaves of a lowering-time value in the order `value_structure` lists them."""
    structure = value_structure(value)
    if structure is None:
        return [value]
    items = value.items if isinstance(value, Pack) else [v for _, v in value.items] if isinstance(value, Record) else []
    return [leaf for item in items for leaf in value_leaves(item)]


def rebuild_value(structure: Any, leaves: list) -> Any:
    """The lowering-time container of `structure` holding `leaves` (consumed from the front)."""
    if structure is None:
        return leaves.pop(0)
    kind, keys, children = structure
    if kind is type(None):
        return Const(None)
    items = tuple(rebuild_value(child, leaves) for child in children)
    return Record(tuple(zip(keys, items))) if kind is dict else Pack(items, kind)
