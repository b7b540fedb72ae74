"""Rules for ops that move data without arithmetic: reshape, indexing, joins,
flips, rolls, repeats, tiles and triangles.

Each is linear, and its rule is its transpose: reshape <-> reshape,
broadcast_to <-> sum_to, getitem <-> scatter_add, axis_slice <-> axis_pad,
flip <-> flip, roll <-> roll back, delete <-> undelete, repeat <-> unrepeat, tile <-> untile;
tril and triu are masks, their own transposes. `atleast_*d`, `split`, `kron`
and `cross` are composites of these.
"""

from __future__ import annotations

import operator

import numpy as np

from symdiff.errors import UnsupportedSyntax
from symdiff.rules.nondiff import shaped_like_operand
from symdiff.rules.registry import register_composite, register_derivative
from symdiff.rules.shapes import (
    append_row,
    atleast_shape,
    axis_pad,
    axis_slice,
    concat_offset,
    diag_adjoint,
    hstack_shape,
    index_update,
    kron_layout,
    kron_shape,
    negated,
    scatter_add,
    scatter_into_empty,
    split_shape,
    sum_to,
    undelete,
    unrepeat,
    untile,
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
    # value's is read first: then nothing reads g after the zeroing write, which can run in place.
    value_bar = sum_to(written_values(g, index), np.shape(value))
    return index_update(g, 0.0, index), value_bar


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


@register_derivative(np.flip, static=("axis",))
def flip_vjp(g, out, m, axis=None):
    return np.flip(g, axis)


# -- constructors that take values -----------------------------------------------------------------------------
@register_derivative(np.full, static=("dtype",), sizes=("shape",))
def full_vjp(g, out, shape, fill_value, dtype=None):
    return None, sum_to(g, np.shape(fill_value))


@register_derivative(np.full_like, static=("dtype",), check=shaped_like_operand)
def full_like_vjp(g, out, a, fill_value, dtype=None):
    return None, sum_to(g, np.shape(fill_value))


def _float_linspace(static: dict) -> None:
    dtype = static.get("dtype")
    if dtype is not None and dtype.value is not None and not np.issubdtype(dtype.value, np.floating):
        raise UnsupportedSyntax(
            f"np.linspace with dtype={dtype.value!r} rounds its values, which then have no derivative",
            hint="write np.floor(np.linspace(start, stop, num)) to round, or leave dtype out",
        )


@register_derivative(np.linspace, static=("num", "endpoint", "dtype"), check=_float_linspace)
def linspace_vjp(g, out, start, stop, num=50, endpoint=True, dtype=None):
    # out[k] = start + (stop - start) * t[k] along the first axis
    t = np.linspace(0.0, 1.0, num, endpoint=endpoint)
    to_stop = np.sum(np.transpose(np.transpose(g) * t), axis=0)  # t weighs the first axis
    to_start = np.sum(g, axis=0) - to_stop
    return sum_to(to_start, np.shape(start)), sum_to(to_stop, np.shape(stop))


@register_derivative(np.delete, static=("axis",))
def delete_vjp(g, out, arr, obj, axis=None):
    return undelete(g, obj, np.shape(arr), axis), None


@register_derivative(undelete, static=("shape", "axis"), helper=True)
def undelete_vjp(h, out, g, obj, shape, axis):
    return np.delete(h, obj, axis=axis), None  # axis=None: of h flattened, as g is


@register_derivative(np.roll, static=("shift", "axis"))
def roll_vjp(g, out, a, shift, axis=None):
    return np.roll(g, negated(shift), axis)


@register_derivative(np.repeat, static=("repeats", "axis"))
def repeat_vjp(g, out, a, repeats, axis=None):
    return unrepeat(g, repeats, axis, np.shape(a))


@register_derivative(unrepeat, static=("repeats", "axis", "shape"), helper=True)
def unrepeat_vjp(h, out, g, repeats, axis, shape):
    return np.reshape(np.repeat(h, repeats, axis), np.shape(g))


@register_derivative(np.tile, static=("reps",))
def tile_vjp(g, out, A, reps):
    return untile(g, reps, np.shape(A))


@register_derivative(untile, static=("reps", "shape"), helper=True)
def untile_vjp(h, out, g, reps, shape):
    return np.reshape(np.tile(h, reps), np.shape(g))


@register_derivative(np.diag, static=("k",))
def diag_vjp(g, out, v, k=0):
    return diag_adjoint(g, np.shape(v), k)


@register_derivative(append_row, helper=True)
def append_row_vjp(g, out, rows, item):
    count = np.shape(rows)[0]
    return np.reshape(axis_slice(g, 0, count, 0), np.shape(rows)), np.reshape(g[count], np.shape(item))


@register_derivative(diag_adjoint, static=("shape", "k"), helper=True)
def diag_adjoint_vjp(h, out, g, shape, k):
    return np.diag(h, k)  # the inverse placement: a vector's diagonal back to a matrix, or out of one


@register_derivative(np.tril, static=("k",))
def tril_vjp(g, out, m, k=0):
    return sum_to(np.tril(g, k), np.shape(m))  # a 1-D m is broadcast over the rows


@register_derivative(np.triu, static=("k",))
def triu_vjp(g, out, m, k=0):
    return sum_to(np.triu(g, k), np.shape(m))  # a 1-D m is broadcast over the rows


@register_composite(np.atleast_1d)
def atleast_1d_composite(ary):
    return np.reshape(ary, atleast_shape(np.shape(ary), 1))


@register_composite(np.atleast_2d)
def atleast_2d_composite(ary):
    return np.reshape(ary, atleast_shape(np.shape(ary), 2))


@register_composite(np.atleast_3d)
def atleast_3d_composite(ary):
    return np.reshape(ary, atleast_shape(np.shape(ary), 3))


@register_composite(np.vstack)
def vstack_composite(tup):
    return np.concatenate([np.atleast_2d(a) for a in tup], axis=0)


@register_composite(np.hstack)
def hstack_composite(tup):
    joined = np.concatenate([np.atleast_2d(a) for a in tup], axis=1)
    return np.reshape(joined, hstack_shape(np.shape(joined), np.shape(tup[0])))


def check_split(arguments: dict) -> None:
    """Equal sections only: a number known when the derivative is built."""
    sections = arguments.get("indices_or_sections")
    if not isinstance(getattr(sections, "value", None), int):
        raise UnsupportedSyntax(
            "np.split is supported with a number of equal sections known when the derivative is built",
            hint="for split points, slice instead: x[:i], x[i:j], x[j:]",
        )


@register_composite(np.split, check=check_split)
def split_composite(ary, indices_or_sections, axis=0):
    # The parts come back stacked on a new first axis: an array that unpacks, indexes and
    # iterates as NumPy's list does.
    first = np.swapaxes(ary, 0, axis)
    parts = np.reshape(first, split_shape(np.shape(ary), indices_or_sections, axis))
    return np.swapaxes(parts, 1, axis % np.ndim(ary) + 1)


@register_composite(np.kron)
def kron_composite(a, b):
    grid = np.reshape(a, kron_layout(np.shape(a), np.shape(b), 0)) * np.reshape(
        b, kron_layout(np.shape(a), np.shape(b), 1)
    )
    return np.reshape(grid, kron_shape(np.shape(a), np.shape(b)))


def check_cross(arguments: dict) -> None:
    """Vectors along the last axis only."""
    for name in ("axisa", "axisb", "axisc", "axis"):
        if name in arguments and getattr(arguments[name], "value", None) not in (-1,):
            raise UnsupportedSyntax(
                f"np.cross with {name}= is not supported (only 3-vectors along the last axis)",
                hint="move the vector axis last with np.swapaxes first",
            )


@register_composite(np.cross, check=check_cross)
def cross_composite(a, b, axisa=-1, axisb=-1, axisc=-1, axis=None):
    # 3-vectors along the last axis; broadcasting does the rest. Basic indexes only, so that
    # the cotangents scatter through views (Numba refuses integer arrays next to an ellipsis).
    a0, a1, a2 = a[..., 0], a[..., 1], a[..., 2]
    b0, b1, b2 = b[..., 0], b[..., 1], b[..., 2]
    return np.stack((a1 * b2 - a2 * b1, a2 * b0 - a0 * b2, a0 * b1 - a1 * b0), axis=-1)
