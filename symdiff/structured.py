"""Arguments that are lists, tuples and dicts of arrays (pytrees), as JAX and autograd take them.

`grad(loss)(params, x)` with `params = [(W1, b1), (W2, b2)]` returns gradients in
the same structure. A function's code cannot say which arguments are
containers (`params[0]` reads an array's row as well as a list's item), so
the structure is read off the arguments of a call, as JAX does: each
structure gets its own generated function, built at its first call, whose
parameters are the leaves (`params_0_0, params_0_1, ...`), and is cached.
Errors in building it are raised by that first call, with their location.

A function whose recursion ends at a condition on its arguments' shapes
(expansion by minors, `if A.shape[0] == 1: ...`) is built, the same way, for
each new combination of shapes, as `jax.jit` traces once per shape: each
build knows the shapes, so the recursion unrolls while building.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import numpy as np

from symdiff.errors import SymdiffError, UnsupportedSyntax

CONTAINERS = (list, tuple, dict)


NONE = (type(None), None, ())  # an argument that is None: no leaves, a constant to the code


def structure(value: Any) -> Any:
    """None for a leaf; `(kind, keys, children)` for a list, tuple or dict (hashable); `NONE` for None.

    A None argument (`ax=None`) is a structure with no leaves, as in JAX's pytrees: the code is
    built knowing it is None, so `if ax: plot(ax, ...)` is left out.
    """
    kind = type(value)
    if value is None:
        return NONE
    if kind is dict:
        return (dict, tuple(value), tuple(structure(v) for v in value.values()))
    if kind in (list, tuple):
        return (kind, None, tuple(structure(v) for v in value))
    return None


def leaves(value: Any) -> list:
    """The leaves of `value` in the order `structure` lists them."""
    kind = type(value)
    if value is None:
        return []
    if kind is dict:
        return [leaf for child in value.values() for leaf in leaves(child)]
    if kind in (list, tuple):
        return [leaf for child in value for leaf in leaves(child)]
    return [value]


def rebuild(shape: Any, values: list) -> Any:
    """The container of `shape` holding `values` (consumed from the front)."""
    if shape is None:
        return values.pop(0)
    if shape == NONE:
        return None
    kind, keys, children = shape
    items = [rebuild(child, values) for child in children]
    if kind is dict:
        return dict(zip(keys, items))
    return kind(items)


def count(shape: Any) -> int:
    return 1 if shape is None else sum(count(child) for child in shape[2])


class StructuredCalls:
    """The derivatives of one primal for each structure of its arguments seen so far."""

    def __init__(
        self, primal: Callable, wrt: tuple[str, ...], several: bool, mode: str, backend: str, build, by_shape=False
    ):
        self.primal = primal
        self.wrt = wrt  # the primal's parameter names, in wrt order
        self.several = several  # a tuple wrt gives a tuple of gradients
        self.mode = mode
        self.backend = backend
        self.build = build  # (primal, structures, leaf wrt names, mode, backend) -> Derivative
        self.by_shape = by_shape  # built for the leaves' shapes too (a recursion as deep as a shape)
        self.params = list(inspect.signature(primal).parameters)
        self.built: dict[tuple, Any] = {}
        self.last = None

    def __call__(self, args: tuple) -> Any:
        seed = ()
        if self.mode == "vjp":  # the output's cotangent comes last: an array, not a structure
            args, seed = args[:-1], args[-1:]
        shapes = tuple(structure(a) for a in args)
        flat = [leaf for a in args for leaf in leaves(a)]
        leaf_shapes = tuple(np.shape(leaf) for leaf in flat) if self.by_shape else None
        derivative = self.for_structures(shapes, leaf_shapes)
        self.last = derivative
        result = derivative(*flat, *seed)
        value = None
        if self.mode == "value_and_grad":
            value, result = result
        flat = list(result) if isinstance(result, tuple) else [result]
        grads = tuple(rebuild(shapes[self.params.index(name)], flat) for name in self.wrt)
        grads = grads if self.several else grads[0]
        return (value, grads) if self.mode == "value_and_grad" else grads

    def for_structures(self, shapes: tuple, leaf_shapes: tuple | None = None) -> Any:
        """The derivative built for arguments of `shapes` (one per parameter) and, where it is
        built by shape, leaves of `leaf_shapes`, built now if new: what a call runs, and what a
        function calling this one inside is differentiated through."""
        if self.by_shape and (leaf_shapes is None or None in leaf_shapes):
            error = UnsupportedSyntax(
                f"the derivative of {getattr(self.primal, '__name__', 'f')} is built for its arguments' shapes, "
                "and they are known here only when running"
            )
            error.needs_shapes = True
            raise error
        key = (shapes, leaf_shapes) if self.by_shape else shapes
        derivative = self.built.get(key)
        if derivative is None or not derivative._lowering.current():  # a global it read has changed
            derivative = self.built[key] = self._build(shapes, leaf_shapes)
        return derivative

    def _build(self, shapes: tuple, leaf_shapes: tuple | None = None):
        structures = {name: shape for name, shape in zip(self.params, shapes) if shape is not None}
        if self.by_shape:
            return self.build(self.primal, structures, self.wrt, self.mode, self.backend, shapes=leaf_shapes)
        return self.build(self.primal, structures, self.wrt, self.mode, self.backend)


class Deferred:
    """A derivative whose code depends on its arguments' structure (a function indexing a dict
    argument, `params["w"]`, or one that lowers only where an argument that defaults to None is
    None): each new structure's code is built at its first call."""

    def __init__(
        self, primal: Callable, wrt: tuple[str, ...], several: bool, mode: str, backend: str, build, by_shape=False
    ):
        self.primal = primal
        self.wrt = wrt
        self.mode = mode
        self.backend = backend
        self._calls = StructuredCalls(primal, wrt, several, mode, backend, build, by_shape)
        self._signature = inspect.signature(primal)
        self.__name__ = f"{getattr(primal, '__name__', 'f')}_{mode}"
        self.__doc__ = getattr(primal, "__doc__", None)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        seed = args[-1:] if self.mode == "vjp" else ()
        bound = self._signature.bind(*args[: len(args) - len(seed)], **kwargs)
        bound.apply_defaults()  # a default of None is a structure too
        return self._calls((*bound.arguments.values(), *seed))

    def structured(self) -> StructuredCalls:
        """Its derivatives per structure (what a function calling this one inside uses)."""
        return self._calls

    def build_for_defaults(self) -> None:
        """Build now for a call that leaves the None defaults as they are and passes arrays or
        numbers for the rest, so that its refusals come when the derivative is built; a form
        that needs the arguments' structure (a dict argument) waits for the call."""
        shapes = tuple(NONE if p.default is None else None for p in self._signature.parameters.values())
        try:
            self._calls.built[shapes] = self._calls.last = self._calls._build(shapes)
        except SymdiffError as error:
            if not getattr(error, "needs_structure", False):
                raise

    @property
    def source(self) -> str:
        """The generated source for the structure of the last call."""
        if self._calls.last is None:
            raise SymdiffError(
                f"the derivative of {self.__name__} is generated for its arguments' structure (a dict argument)",
                hint="call it once; .source is then the code generated for that call",
            )
        return self._calls.last.source

    def __repr__(self) -> str:
        return f"<symdiff {self.mode} of {getattr(self.primal, '__name__', '?')} wrt {', '.join(self.wrt)}>"
