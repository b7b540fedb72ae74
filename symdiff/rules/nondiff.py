"""Ops with zero derivative by structure: constructors, shape queries, helpers.

Their outputs never carry an adjoint, so the reverse transform skips them;
they appear in generated code only to build values the backward pass reads.
`make_tuple` and `make_slice` are the IR's way of building index and shape
tuples from variables.
"""

from __future__ import annotations

import numpy as np

from symdiff.errors import UnsupportedSyntax
from symdiff.rules.registry import register_nondiff
from symdiff.rules.shapes import (
    atleast_shape,
    batch_aligned,
    batch_axis,
    batch_index,
    batch_shape,
    batch_sum_axes,
    batch_transposed,
    column_shape,
    concat_offset,
    diagonal_mask,
    einsum_adjoint_subscripts,
    einsum_summed_axes,
    float_tape,
    grad_seed,
    hstack_shape,
    inverse_axes,
    keepdims_shape,
    kron_layout,
    kron_shape,
    nbytes_of,
    negated,
    product_shape,
    revolve_next,
    revolve_snapshots,
    split_shape,
    trace_axes,
    unit_axes,
)


def make_tuple(*items):
    """`(a, b, ...)`: printed as a tuple literal."""
    return items


def tuple_add(a, b):
    """`(n,) + np.shape(x)`: Python's join of two tuples, printed as `a + b`."""
    return tuple(a) + tuple(b)


def make_slice(start, stop, step):
    """`start:stop:step`: printed as a slice inside subscripts."""
    return slice(start, stop, step)


def shaped_like_operand(keywords: dict) -> None:
    """`np.zeros_like(x, shape=s)` has shape `s`: every pass takes a `*_like` result to have `x`'s shape."""
    if "shape" in keywords:
        raise UnsupportedSyntax(
            "the shape= keyword of the *_like functions is not supported",
            hint="use np.zeros(s), np.ones(s), np.full(s, v) or np.empty(s)",
        )


for _func in (
    np.zeros, np.ones, np.empty, np.arange, np.eye, np.shape, np.size, np.ndim, np.argmax,
    np.argmin, np.broadcast_shapes, np.argsort, np.triu_indices, np.tril_indices,
):  # fmt: skip
    register_nondiff(_func)
for _func in (np.zeros_like, np.ones_like, np.empty_like):
    register_nondiff(_func, check=shaped_like_operand)
# np.full, np.full_like and np.linspace take values, not only sizes: rules in shape_ops.py.
# np.arange's values are start + step * k: refused where start or step depends on a
# differentiated argument (transforms/reverse.py), rather than given a zero derivative.
VALUES_FROM_OPERANDS = frozenset({"arange"})
register_nondiff(np.array, op="index_array", path="np.array")
register_nondiff(tuple_add, path="tuple_add")  # x[[0, 2]]: a list used as an index
register_nondiff(len, op="len", path="len")
register_nondiff(range, op="range", path="range")
register_nondiff(make_tuple, op="make_tuple", path="make_tuple")
register_nondiff(make_slice, op="make_slice", path="slice", aliases=(slice,))
for _helper in (
    keepdims_shape,
    concat_offset,
    inverse_axes,
    grad_seed,
    einsum_adjoint_subscripts,
    einsum_summed_axes,
    unit_axes,
    column_shape,
    negated,
    diagonal_mask,
    trace_axes,
    atleast_shape,
    hstack_shape,
    kron_layout,
    kron_shape,
    split_shape,
    nbytes_of,
    revolve_snapshots,
    revolve_next,
    batch_axis,
    batch_shape,
    batch_aligned,
    batch_sum_axes,
    batch_transposed,
    batch_index,
    product_shape,
    float_tape,
):
    register_nondiff(_helper, helper=True)


def tape_new():
    """An empty list that saves loop values for the backward pass: printed `[]`."""
    return []


def tape_push(tape, value):
    """`tape.append(value)`; the IR treats the result as a new tape value."""
    tape.append(value)
    return tape


def tape_pop(tape):
    """`value = tape.pop()`; the IR gets (the tape, the value)."""
    return tape, tape.pop()


for _tape_op in (tape_new, tape_push, tape_pop):
    register_nondiff(_tape_op)

