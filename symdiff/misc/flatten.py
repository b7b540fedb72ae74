"""One vector for a nested list/tuple/dict of arrays and numbers, and the way back.

Leaves are ravelled in order (dict keys sorted, as autograd does), so a
vector optimizer can run on structured parameters.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import numpy as np

from symdiff.compose import SourceFunction, fresh_param


def flatten(value: Any) -> tuple[np.ndarray, Callable[[np.ndarray], Any]]:
    """`(vector, unflatten)`: the leaves of `value` ravelled into one float vector, and a function
    that puts a vector of that length back into `value`'s structure and leaf shapes."""
    parts: list[np.ndarray] = []
    layout = _layout(value, parts)
    vector = np.concatenate(parts) if parts else np.zeros(0)

    def unflatten(flat: np.ndarray) -> Any:
        flat = np.asarray(flat)
        if flat.shape != vector.shape:
            raise ValueError(f"unflatten takes a vector of {vector.size} numbers, not of shape {flat.shape}")
        return _rebuild(layout, flat, [0])

    return vector, unflatten


def flatten_func(func: Callable, example: Any) -> tuple[Callable, Callable, np.ndarray]:
    """`func` taking a vector in place of its first argument's structure (that of `example`):
    `(flat_func, unflatten, flat_example)`, flat_func returning its result ravelled.

    flat_func is generated source (the unflattening written out as slices of the vector), so
    symdiff can differentiate it: `grad(flat_func)` as autograd's gmm example takes it.
    """
    flat_example, unflatten = flatten(example)
    parts: list[np.ndarray] = []
    names = _other_parameters(func)
    flat, numpy, inner = (fresh_param(names, wanted) for wanted in ("flat", "np", "func"))
    rest = "".join(", " + name for name in names)
    unflattened = _unflatten_text(_layout(example, parts), [0], flat)
    text = f"def flat_func({flat}{rest}):\n    return {numpy}.ravel({inner}({unflattened}{rest}))\n"
    return _FlatFunction(text, {numpy: np, inner: func}, func, unflatten), unflatten, flat_example


class _FlatFunction(SourceFunction):
    """Runs as autograd's (a result of lists, tuples or dicts is flattened too); differentiated
    through its source, which ravels an array or number result."""

    def __init__(self, text: str, namespace: dict, func: Callable, unflatten: Callable):
        super().__init__(text, namespace, "flat_func")
        self._func, self._unflatten = func, unflatten

    def __call__(self, flat: np.ndarray, *args: Any) -> np.ndarray:
        return flatten(self._func(self._unflatten(flat), *args))[0]


def _other_parameters(func: Callable) -> list[str]:
    """The names of `func`'s positional parameters after the first (the flattened one)."""
    try:
        params = list(inspect.signature(func).parameters.values())[1:]
    except (TypeError, ValueError):
        return []
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return [p.name for p in params if p.kind in kinds]


def _unflatten_text(layout: Any, at: list[int], flat: str) -> str:
    """The expression that rebuilds `layout` from the vector named `flat`, its leaves from `at[0]` on."""
    if isinstance(layout, tuple) and len(layout) == 3 and layout[0] in (list, tuple, dict):
        kind, keys, children = layout
        items = [_unflatten_text(child, at, flat) for child in children]
        if kind is dict:
            return "{" + ", ".join(f"{key!r}: {item}" for key, item in zip(keys, items)) + "}"
        return f"[{', '.join(items)}]" if kind is list else f"({''.join(item + ', ' for item in items)})"
    size = int(np.prod(layout))
    start, at[0] = at[0], at[0] + size
    return f"{flat}[{start}]" if layout == () else f"{flat}[{start}:{start + size}].reshape({layout!r})"


def _layout(value: Any, parts: list) -> Any:
    """The structure of `value` (kind, keys, children; or a leaf's shape), appending its leaves."""
    kind = type(value)
    if kind in (list, tuple):
        return (kind, None, [_layout(item, parts) for item in value])
    if kind is dict:
        keys = sorted(value)
        return (dict, keys, [_layout(value[key], parts) for key in keys])
    leaf = np.asarray(value, dtype=float)
    parts.append(leaf.ravel())
    return leaf.shape


def _rebuild(layout: Any, flat: np.ndarray, at: list[int]) -> Any:
    if isinstance(layout, tuple) and len(layout) == 3 and layout[0] in (list, tuple, dict):
        kind, keys, children = layout
        items = [_rebuild(child, flat, at) for child in children]
        return dict(zip(keys, items)) if kind is dict else kind(items)
    size = int(np.prod(layout))
    leaf = flat[at[0] : at[0] + size].reshape(layout)
    at[0] += size
    return leaf[()] if layout == () else leaf  # a number comes back as a NumPy number
