"""Calls of Python's own machinery while lowering, and of symdiff's derivatives inside code.

`isinstance` and `map` over what is known item by item, `list.append`, `symdiff.misc.flatten`,
symdiff's operators (`grad(f)` run while building) and derivatives built per argument structure
(`grad(loss)(params, x)` with `params` a list or dict). `PythonCalls` is a mixin of `Lowering`;
`Calls.apply` sends these calls here.
"""

from __future__ import annotations

import ast
import inspect
from typing import Any

import numpy as np

from symdiff.errors import SymdiffError
from symdiff.frontend.calls import _label
from symdiff.frontend.values import (
    Keywords,
    LocalFunction,
    Pack,
    Record,
    Rows,
    rebuild_value,
    value_leaves,
    value_structure,
)
from symdiff.ir.nodes import Const, Var
from symdiff.structured import StructuredCalls


class PythonCalls:
    """Mixin for `Lowering`: Python built-ins, list methods and symdiff's operators and derivatives."""

    def static_isinstance(self, value: Any, types: Any, node: ast.AST) -> Const | None:
        """`isinstance(x, list)` known while building: lists, tuples and dicts are known item by
        item, and nothing else the code computes is one (None: leave it to run as written)."""
        kinds = types.value if isinstance(types, Const) else types
        kinds = tuple(k.value if isinstance(k, Const) else k for k in kinds.items) if isinstance(kinds, Pack) else kinds
        if not all(isinstance(k, type) for k in (kinds if isinstance(kinds, tuple) else (kinds,))):
            return None
        if isinstance(value, Pack):
            return Const(issubclass(value.kind, kinds))
        if isinstance(value, Record):
            return Const(issubclass(dict, kinds))
        if isinstance(value, Const):
            return Const(isinstance(value.value, kinds))
        containers = all(k in (list, tuple, dict) for k in (kinds if isinstance(kinds, tuple) else (kinds,)))
        if isinstance(value, Var) and containers:
            if self.plain and (value in self.initial.values() or value.name in self.maybe_lists):
                error = self.fail("whether this argument is a list is known only from a call", node)
                error.needs_structure = True  # built for the call's structure
                raise error
            return Const(False)
        return None

    def flatten_value(self, value: Any, node: ast.Call, name) -> Pack:
        """`symdiff.misc.flatten(params)` inside: the leaves ravelled and joined (dict keys sorted,
        as flatten does); its `unflatten` needs the leaves' shapes, so it is None here."""
        if isinstance(value, Var) and self.plain and (value in self.initial.values() or value.name in self.maybe_lists):
            error = self.fail("flatten() of an argument that may be a list is built for the call's structure", node)
            error.needs_structure = True
            raise error
        parts = [self.apply(np.ravel, [leaf], {}, node, None) for leaf in _sorted_leaves(value)]
        if not parts:
            return Pack((self.apply(np.zeros, [Const(0)], {}, node, name), Const(None)))
        return Pack((self.apply(np.concatenate, [Pack(tuple(parts))], {}, node, name), Const(None)))

    def grow_list(self, func: ast.Attribute, items: Pack, node: ast.Call) -> None:
        """`out.append(v)` / `out.extend(vs)` on a list known item by item, where the list is one name's
        value (another name for the same list would not see the new item, so it is refused)."""
        if not isinstance(func.value, ast.Name) or len(node.args) != 1 or node.keywords:
            raise self.fail(f"list.{func.attr} takes one argument, on a list's name", node)
        name = func.value.id
        if any(value is items for key, value in self.env.items() if key != name):
            raise self.fail(f"this list has a second name, which would not see list.{func.attr}", node)
        added = self._expr(node.args[0], None)
        if func.attr == "extend":
            if not isinstance(added, Pack):
                raise self.fail("list.extend takes a list or tuple known item by item", node.args[0])
            added_items = added.items
        else:
            added_items = (added,)
        self.env[name] = Pack(items.items + added_items, list)

    def known_items(self, value: Any, node: ast.AST) -> tuple:
        if isinstance(value, Pack):
            return value.items
        if isinstance(value, Record):
            return tuple(Const(k) for k, _ in value.items)
        error = self.fail("map() is supported over lists and tuples known when the derivative is built", node)
        error.needs_structure = isinstance(value, Var) and (
            value in self.initial.values() or value.name in self.maybe_lists
        )  # an argument that may be a list: built for the call's structure
        raise error

    def operator_call(self, operator: Any, args: list, kwargs: dict, node: ast.Call) -> Any:
        """`grad(loglike)` inside the function being differentiated: the derivative is built now,
        from a function known while building, and calling it is then inlined like any other."""
        values = [self.known_value(a, node) for a in args]
        options = {k: self.known_value(v, node) for k, v in kwargs.items()}
        try:
            return operator(*values, **options)
        except SymdiffError as error:
            raise error.located(self.where(node)) from None

    def known_value(self, value: Any, node: ast.AST) -> Any:
        if isinstance(value, Const):
            return value.value
        if isinstance(value, Pack):
            return tuple(self.known_value(item, node) for item in value.items)
        if isinstance(value, (Var, Record, Rows, Keywords, LocalFunction)):
            raise self.fail(
                "a symdiff operator called here takes a function known before differentiating, "
                "not one defined inside the function being differentiated",
                node,
                "define the function outside (at module level, or in an enclosing function)",
            )
        return value

    def inline_structured(self, callee: StructuredCalls, args: list, kwargs: dict, node: ast.Call, name):
        """Call a derivative built for containers (`grad(loss)` of a dict of parameters) inside: the
        code built for these arguments' structure is inlined with their leaves, and its flat
        gradients are put back into the arguments' containers, as the call would return them."""
        seed = args[-1:] if callee.mode == "vjp" else []
        try:
            bound = inspect.signature(callee.primal).bind(*args[: len(args) - len(seed)], **kwargs)
        except TypeError as error:
            raise self.fail(f"{_label(callee.primal)}: {error}", node) from None
        bound.apply_defaults()
        values = list(bound.arguments.values())
        shapes = tuple(value_structure(v) for v in values)
        flat = [leaf for v in values for leaf in value_leaves(v)]
        leaf_shapes = None
        if callee.by_shape and self.known is not None:  # built for shapes: this build knows them
            leaf_shapes = tuple(self.known.of(self.atom(leaf, node)) for leaf in flat)
        try:
            derivative = callee.for_structures(shapes, leaf_shapes)
        except SymdiffError as error:
            if self.plain and any(isinstance(v, Var) for v in values):
                error.needs_structure = True  # an argument passed on may be a dict: built for the call's
            raise error.located(self.where(node)) from None
        result = self.inline(derivative, flat + seed, {}, node, None)
        value = None
        if callee.mode == "value_and_grad":
            value, result = result.items
        leaves = list(result.items) if isinstance(result, Pack) else [result]
        if self.plain and any(isinstance(v, Var) and v.name in self.maybe_lists for v in values):
            # gradients of an argument that may be a list when called: lists too, built for the call
            self.maybe_lists.update(leaf.name for leaf in leaves if isinstance(leaf, Var))
        params = list(bound.arguments)
        grads = [rebuild_value(shapes[params.index(w)], leaves) for w in callee.wrt]
        grads = Pack(tuple(grads)) if callee.several else grads[0]
        return Pack((value, grads)) if callee.mode == "value_and_grad" else grads


def _sorted_leaves(value: Any) -> list:
    """The leaves of a lowering-time value in `symdiff.misc.flatten`'s order (dict keys sorted)."""
    if isinstance(value, Pack):
        return [leaf for item in value.items for leaf in _sorted_leaves(item)]
    if isinstance(value, Record):
        return [leaf for _, item in sorted(value.items, key=lambda kv: kv[0]) for leaf in _sorted_leaves(item)]
    return [value]
