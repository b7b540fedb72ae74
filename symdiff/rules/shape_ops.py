"""Rules for ops that move data without arithmetic: reshape, indexing, joins.

Each is linear, and its rule is its transpose: reshape <-> reshape,
broadcast_to <-> sum_to, getitem <-> scatter_add, axis_slice <-> axis_pad.
"""

from __future__ import annotations

import operator

import numpy as np

from symdiff.errors import UnsupportedSyntax
from symdiff.rules.registry import register_derivative
from symdiff.rules.shapes import (
    axis_pad,
    axis_slice,
    concat_offset,
    index_update,
    scatter_add,
    scatter_into_empty,
    sum_to,
    written_values,
)


@register_derivative(np.reshape, static=("shape",))
def reshape_vjp(g, out, a, shape):
    return np.reshape(g, np.shape(a))


@register_derivative(np.ravel)
def ravel_vjp(g, out, a):
    return np.reshape(g, np.shape(a))


@register_derivative(np.squeeze, static=("axis",))
def squeeze_vjp(g, out, a, axis=None):
    return np.reshape(g, np.shape(a))


@register_derivative(np.expand_dims, static=("axis",))
def expand_dims_vjp(g, out, a, axis):
    return np.reshape(g, np.shape(a))


@register_derivative(np.broadcast_to, static=("shape",))
def broadcast_to_vjp(g, out, array, shape):
    return sum_to(g, np.shape(array))


@register_derivative(sum_to, static=("shape",), helper=True)
def sum_to_vjp(g, out, x, shape):
    return np.broadcast_to(g, np.shape(x))


@register_derivative(operator.getitem, op="getitem", static=("index",), path="operator.getitem")
def getitem_vjp(g, out, a, index):
    return scatter_add(g, np.shape(a), index)


@register_derivative(scatter_add, static=("shape", "index"), helper=True)
def scatter_add_vjp(g, out, x, shape, index):
    return g[index]


@register_derivative(scatter_into_empty, static=("shape", "index"), helper=True)
def scatter_into_empty_vjp(g, out, x, shape, index):
    return g[index]  # the unset elements hold nothing that depends on x


@register_derivative(index_update, op="setitem", static=("index",), helper=True)
def setitem_vjp(g, out, x, value, index):
    # The overwritten elements of x get no cotangent; value gets what landed there
    # (optimize.indexes prints written_values as g[index] where the index cannot repeat).
    return index_update(g, 0.0, index), sum_to(written_values(g, index), np.shape(value))


@register_derivative(written_values, static=("index",), helper=True)
def written_values_vjp(h, out, g, index):
    # Each element of g is read at most once (the kept write): writing h back is the transpose.
    return index_update(np.zeros_like(g), h, index)


@register_derivative(axis_slice, static=("start", "stop", "axis"), helper=True)
def axis_slice_vjp(g, out, x, start, stop, axis):
    return axis_pad(g, start, np.shape(x)[axis], axis)


@register_derivative(axis_pad, static=("start", "total", "axis"), helper=True)
def axis_pad_vjp(g, out, x, start, total, axis):
    return axis_slice(g, start, start + np.shape(x)[axis], axis)


def check_concatenate(static: dict) -> None:
    """Reject `axis=None` (flattening), which the rule does not cover."""
    if getattr(static["axis"], "value", 0) is None:
        raise UnsupportedSyntax(
            "np.concatenate with axis=None is not supported",
            hint="flatten the operands first: np.concatenate((np.ravel(a), np.ravel(b)))",
        )


@register_derivative(np.concatenate, static=("axis",), each=True, check=check_concatenate)
def concatenate_vjp(g, out, k, *arrays, axis=0):
    start = concat_offset(k, axis, *arrays)
    return axis_slice(g, start, start + np.shape(arrays[k])[axis], axis)


@register_derivative(np.stack, static=("axis",), each=True)
def stack_vjp(g, out, k, *arrays, axis=0):
    return np.reshape(axis_slice(g, k, k + 1, axis), np.shape(arrays[k]))


@register_derivative(np.copy)
def copy_vjp(g, out, a):
    return g
