"""One vector for a nested list/tuple/dict of arrays and numbers, and the way back.

Leaves are ravelled in order (dict keys sorted, as autograd does), so a
vector optimizer can run on structured parameters.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np


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
    `(flat_func, unflatten, flat_example)`, flat_func returning its result flattened too."""
    flat_example, unflatten = flatten(example)

    def flat_func(flat: np.ndarray, *args: Any) -> np.ndarray:
        return flatten(func(unflatten(flat), *args))[0]

    return flat_func, unflatten, flat_example


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
