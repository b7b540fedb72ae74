"""Numba implementations of the helpers generated code calls.

The shape helpers of `symdiff.rules.shapes` (`sum_to`, `keepdims_shape`,
`grad_seed`, `matmul_adjoint_a/b`, `scatter_add`, `axis_slice`, `axis_pad`,
`inverse_axes`, `concat_offset`) are written for NumPy and branch on ranks and
Python types at run time, which Numba cannot compile. Each gets a
`numba.extending.overload` here that makes the same decisions at compile
time, when Numba knows every argument's type and rank. The generated module
imports the *same* function objects (re-exported here), so one name means the
same thing under Python and under Numba.

This module also holds what Numba lacks (`reshape_to` of scalars, and to
the shape `()` as a scalar rather than a 0-d array,
`array_ndim`, `squeeze_axis`, and `shape_of`/`size_of`: Numba's `np.shape`
and `np.size` of a scalar allocate a 0-d array, a cost that adds up in a
scalar loop) and the primitives of fused loop kernels (`kernels`): `common_size` (the
element count when every array operand has one shape, else -1), `flat` (a
1-D view to read from) and `at` (element `i`, or the scalar itself), and
`row_count`, `row_length`, `row_of` to write into any view, strided or not,
one row of its last axis at a time. It re-exports SciPy's special functions
from `special` (`gammaln`, `digamma`, `erf`, `expit`, `ndtr`,
`log_ndtr`), under the helpers' names. It re-exports `matmul_of` (`blas`:
`a @ b`, a matrix times a vector through NumPy's BLAS). Importing this module
registers every overload.
"""

from __future__ import annotations

import numpy as np
from numba import literal_unroll, njit, types
from numba.core.errors import TypingError
from numba.cpython.unsafe.tuple import tuple_setitem
from numba.extending import overload
from numba.np.unsafe.ndarray import to_fixed_tuple

from symdiff.backends.numba.arrays import (
    add_into,
    added_at,
    broadcast_to_of,
    contiguous,
    divide32,
    empty_like_of,
    full_like_of,
    index_update,
    masked_assign,
    masked_of,
    ones_like_of,
    range_length,
    stack_of,
    weak32,
    write_at,
    written_values,
    zeros_like_of,
)
from symdiff.backends.numba.blas import batched_adjoints, matmul_of
from symdiff.backends.numba.helper_cache import CACHED
from symdiff.backends.numba.math import power_of, vexp, vexpm1, vlog, vlog1p, vtanh
from symdiff.backends.numba.reductions import (
    axis_error,
    axis_refusal,
    check_axes,
    loop_nest,
    loop_shape,
    loop_strides,
    padded_shape,
    reduce_max,
    reduce_mean,
    reduce_min,
    reduce_prod,
    reduce_sum,
    reduced_result,
    summed_result,
    unit_step,
    zero_of,
    zeros_for,
)
from symdiff.backends.numba.special import digamma, erf, expit, gammaln, log_ndtr, ndtr
from symdiff.errors import NonScalarOutput
from symdiff.rules.shapes import (
    append_row,
    atleast_shape,
    axis_pad,
    axis_slice,
    concat_offset,
    diag_adjoint,
    grad_seed,
    hstack_shape,
    inverse_axes,
    keepdims_shape,
    matmul_adjoint_a,
    matmul_adjoint_b,
    nbytes_of,
    revolve_next,
    revolve_snapshots,
    scatter_add,
    scatter_into_empty,
    sum_to,
    undelete,
)

_SCALAR = (types.Number, types.Boolean)


def _is_scalar(typ) -> bool:
    return isinstance(typ, _SCALAR)


def reshape_to(a, shape):
    """`np.reshape(a, shape)`, also for Python scalars (which Numba cannot reshape)."""
    return np.reshape(a, shape)


def float_of(a):
    """`float(a)`, also of a bool and of a 0-d array (Numba's float() takes numbers only)."""
    return float(a)


def expand_dims_of(a, axis):
    """`np.expand_dims(a, axis)`, also of a scalar (Numba expands arrays only)."""
    return np.expand_dims(a, axis)


def clip_of(a, a_min, a_max):
    """`np.clip(a, a_min, a_max)`, also of a scalar (Numba clips arrays only)."""
    return np.clip(a, a_min, a_max)


def delete_of(arr, obj, axis=None):
    """`np.delete(arr, obj, axis)` (Numba's np.delete takes no axis)."""
    return np.delete(arr, obj, axis=axis)


def linspace_of(start, stop, num=50, endpoint=True, dtype=None):
    """`np.linspace`, also between arrays and with `endpoint=` (Numba's takes two scalars and `num`)."""
    return np.linspace(start, stop, num, endpoint=endpoint, dtype=dtype)


def ravel_of(a):
    """`np.ravel(a)`, also of a scalar (a vector of one; Numba ravels arrays only)."""
    return np.ravel(a)


def as_value(a):
    """`a`, a 0-d array as the scalar it holds, an array of another layout as a C-contiguous one:
    where values meet in one variable (if arms, loop steps) they must be one type for Numba."""
    return a


def dot_of(a, b):
    """`np.dot(a, b)`, also with a scalar operand (a product; Numba's np.dot takes arrays only)."""
    return np.dot(a, b)


def transpose_of(a, axes=None):
    """`np.transpose(a, axes)`, also of a scalar (itself; Numba transposes arrays only)."""
    return np.transpose(a, axes)


def array_ndim(a):
    """`np.ndim(a)` (unsupported by Numba)."""
    return np.ndim(a)


def shape_of(a):
    """`np.shape(a)`; `()` for a scalar without making an array of it."""
    return np.shape(a)


def size_of(a):
    """`np.size(a)`; 1 for a scalar without making an array of it."""
    return np.size(a)


def squeeze_axis(a, axis):
    """`np.squeeze(a, axis)` with a constant `axis` (the result's rank must be known)."""
    return np.squeeze(a, axis)


def flat(a):
    """A 1-D view of array `a` in C order (1-D arrays as they are, copies of strided arrays of higher rank)."""
    return np.ravel(a) if np.ndim(a) else a


def row_length(a):
    """The length of `a`'s last axis."""
    return a.shape[-1]


def row_count(a):
    """How many rows (1-D slices along the last axis) `a` has."""
    return a.size // a.shape[-1] if a.shape[-1] else int(np.prod(a.shape[:-1]))


def row_of(a, r):
    """Row `r` of `a` in C order: a 1-D view, writable when `a` is."""
    return a[np.unravel_index(r, a.shape[:-1])] if a.ndim > 1 else a


def at(a, i):
    """Element `i` of a `flat` view, or the scalar itself."""
    return a[i] if np.ndim(a) else a


def common_size(*operands):
    """Element count shared by every array operand, 1 for scalars only, -1 if shapes differ."""
    arrays = [np.shape(a) for a in operands if np.ndim(a)]
    if any(s != arrays[0] for s in arrays):
        return -1
    return int(np.prod(arrays[0])) if arrays else 1


# -- compile-time dispatch ------------------------------------------------------


@overload(reshape_to, jit_options=CACHED)
def _reshape_to(a, shape):
    to_scalar = isinstance(shape, types.BaseTuple) and len(shape) == 0
    if _is_scalar(a):
        if to_scalar:
            return lambda a, shape: a
        return lambda a, shape: np.full(1, a).reshape(shape)  # a -1 in shape stands for 1 here
    if to_scalar:  # a scalar, not a 0-d array: the backend's helpers and loops take scalars (issue "Trust" 2)
        return lambda a, shape: np.ascontiguousarray(a).reshape(())[()]
    return lambda a, shape: np.ascontiguousarray(a).reshape(shape)


@overload(atleast_shape, prefer_literal=True, jit_options=CACHED)
def _atleast_shape(shape, ndim):
    if not isinstance(ndim, types.IntegerLiteral) or not isinstance(shape, types.BaseTuple):
        raise TypingError("atleast_shape needs a constant rank")
    want, have = ndim.literal_value, len(shape)
    if have >= want:
        return lambda shape, ndim: shape
    if want == 3 and have == 2:
        return lambda shape, ndim: shape + (1,)
    if want == 3 and have == 1:
        return lambda shape, ndim: (1,) + shape + (1,)
    pad = (1,) * (want - have)
    return lambda shape, ndim: pad + shape


@overload(append_row, jit_options=CACHED)
def _append_row(rows, item):
    # Numba types a variable once: the rows must have one axis more than the item (a list that
    # started empty is refused when the gradient is built, support.py).
    rank = item.ndim if isinstance(item, types.Array) else 0
    if not isinstance(rows, types.Array) or rows.ndim != rank + 1:
        raise TypingError(f"append_row: rows of rank {getattr(rows, 'ndim', 0)} and an item of rank {rank}")
    if rank == 0:

        def scalar(rows, item):
            count = rows.shape[0]
            out = np.empty(count + 1)
            out[:count] = rows
            out[count] = item
            return out

        return scalar

    def impl(rows, item):
        count = rows.shape[0]
        if rows.shape[1:] != item.shape:  # `out[count] = item` would broadcast it
            raise ValueError("a list grown by append in a loop is held as an array, so its items need one shape")
        out = np.empty((count + 1,) + item.shape)
        out[:count] = rows
        out[count] = item
        return out

    return impl


@overload(diag_adjoint, jit_options=CACHED)
def _diag_adjoint(g, shape, k):
    if len(shape) == 1:
        return lambda g, shape, k: np.diag(g, k)

    def impl(g, shape, k):
        out = np.zeros(shape, dtype=g.dtype)
        first_row, first_column = max(-k, 0), max(k, 0)
        for i in range(g.shape[0]):
            out[first_row + i, first_column + i] = g[i]
        return out

    return impl


@overload(hstack_shape, jit_options=CACHED)
def _hstack_shape(joined, first):
    if len(first) < 2:
        return lambda joined, first: joined[1:]
    return lambda joined, first: joined


@overload(float_of, jit_options=CACHED)
def _float_of(a):
    if isinstance(a, types.Boolean):
        return lambda a: 1.0 if a else 0.0
    if isinstance(a, types.Array):
        return lambda a: float(a.item())
    return lambda a: float(a)


@overload(expand_dims_of, jit_options=CACHED)
def _expand_dims_of(a, axis):
    if _is_scalar(a) and isinstance(axis, types.Integer):
        return lambda a, axis: np.full(1, a)
    return lambda a, axis: np.expand_dims(a, axis)


@overload(clip_of, jit_options=CACHED)
def _clip_of(a, a_min, a_max):
    if not _is_scalar(a):
        return lambda a, a_min, a_max: np.clip(a, a_min, a_max)
    if isinstance(a_min, types.NoneType):
        return lambda a, a_min, a_max: np.minimum(a, a_max)
    if isinstance(a_max, types.NoneType):
        return lambda a, a_min, a_max: np.maximum(a, a_min)
    return lambda a, a_min, a_max: np.minimum(np.maximum(a, a_min), a_max)


@overload(ravel_of, jit_options=CACHED)
def _ravel_of(a):
    if _is_scalar(a):
        return lambda a: np.full(1, a)
    return lambda a: np.ravel(a)


@overload(as_value, jit_options=CACHED)
def _as_value(a):
    if isinstance(a, types.Array) and a.ndim == 0:
        return lambda a: a[()]
    if isinstance(a, types.Array) and a.layout != "C":
        # A transposed view (layout F) meeting a fresh array (C) in one variable would make it
        # layout A, for which Numba cannot allocate the results of arithmetic: joined values are C.
        return lambda a: np.ascontiguousarray(a)
    return lambda a: a


def _zero_d(t) -> bool:
    return isinstance(t, types.Array) and t.ndim == 0


@overload(dot_of, jit_options=CACHED)
def _dot_of(a, b):
    if _is_scalar(a) or _is_scalar(b):
        return lambda a, b: a * b
    zero_d = [_zero_d(a), _zero_d(b)]
    if all(zero_d):  # np.dot with a 0-d array multiplies, as with a number (Numba's np.dot has no 0-d case)
        return lambda a, b: a[()] * b[()]
    if zero_d[0]:
        return lambda a, b: a[()] * b
    if zero_d[1]:
        return lambda a, b: a * b[()]
    return lambda a, b: np.dot(a, b)


@overload(transpose_of, jit_options=CACHED)
def _transpose_of(a, axes=None):
    if _is_scalar(a):
        return lambda a, axes=None: a
    if axes is None or isinstance(axes, types.NoneType):
        return lambda a, axes=None: np.transpose(a)
    return lambda a, axes=None: np.transpose(a, axes)


@overload(array_ndim, jit_options=CACHED)
def _array_ndim(a):
    ndim = a.ndim if isinstance(a, types.Array) else 0
    return lambda a: ndim


@overload(shape_of, jit_options=CACHED)
def _shape_of(a):
    if isinstance(a, types.Array):
        return lambda a: a.shape
    if _is_scalar(a):
        return lambda a: ()
    return lambda a: np.shape(a)  # tuples and lists


@overload(size_of, jit_options=CACHED)
def _size_of(a):
    if isinstance(a, types.Array):
        return lambda a: a.size
    if _is_scalar(a):
        return lambda a: 1
    return lambda a: np.size(a)


@overload(squeeze_axis, prefer_literal=True, jit_options=CACHED)
def _squeeze_axis(a, axis):
    ndim = a.ndim if isinstance(a, types.Array) else 0
    refusal = axis_refusal(axis, ndim)
    if refusal is not None:  # an axis NumPy refuses: fail as it does, not modulo the rank
        bad, rank = refusal

        def refuse(a, axis):
            axis_error(bad, rank)
            return a

        return refuse
    if ndim == 0:
        return lambda a, axis: a
    count = 1 if isinstance(axis, types.Integer) else len(axis)
    out_ndim = a.ndim - count

    def impl(a, axis):
        axes = np.array(axis, dtype=np.int64).reshape(-1)
        check_axes(axes, a.ndim)
        axes = axes % a.ndim
        shape = np.empty(out_ndim, dtype=np.int64)
        j = 0
        for k in range(a.ndim):
            if np.any(axes == k):
                if a.shape[k] != 1:
                    raise ValueError("cannot select an axis to squeeze out which has size not equal to one")
            else:
                shape[j] = a.shape[k]
                j += 1
        return np.ascontiguousarray(a).reshape(to_fixed_tuple(shape, out_ndim))

    return impl


@overload(flat, jit_options=CACHED)
def _flat(a):
    if isinstance(a, types.Array) and a.ndim == 1:
        return lambda a: a  # indexing follows its stride: no copy
    if isinstance(a, types.Array):
        return lambda a: np.ascontiguousarray(a).reshape(a.size)
    return lambda a: a


@overload(row_length, inline="always")
def _row_length(a):
    return lambda a: a.shape[-1]


@overload(row_count, inline="always")
def _row_count(a):
    def impl(a):
        count = 1
        for k in range(a.ndim - 1):
            count *= a.shape[k]
        return count

    return impl


@overload(row_of, inline="always")
def _row_of(a, r):
    if a.ndim == 1:
        return lambda a, r: a
    if a.ndim == 2:
        return lambda a, r: a[r]
    lead = a.ndim - 1

    def impl(a, r):
        index = np.empty(lead, dtype=np.int64)
        for k in range(lead - 1, -1, -1):
            index[k] = r % a.shape[k]
            r //= a.shape[k]
        return a[to_fixed_tuple(index, lead)]

    return impl


# A called overload, not `inline="always"`: Numba inlines such an overload's IR at every call site
# (three to a leaf in each loop kernel), which cost a kernel's compile more than LLVM's inlining of
# the call; the machine code (and run time) is the same.
@overload(at, jit_options=CACHED)
def _at(a, i):
    if isinstance(a, types.Array):
        return lambda a, i: a[np.uint64(i)]  # kernels' offsets are never negative: no wraparound check
    return lambda a, i: a


@overload(common_size)
def _common_size(*operands):
    # Which operands are arrays is known now, so the check is straight-line code.
    arrays = [k for k, typ in enumerate(operands) if isinstance(typ, types.Array)]
    if not arrays:
        return lambda *operands: 1
    lines = ["def impl(*operands):", f"    shape = operands[{arrays[0]}].shape"]
    lines += [f"    if operands[{k}].shape != shape:\n        return -1" for k in arrays[1:]]
    lines.append(f"    return operands[{arrays[0]}].size")
    scope: dict = {}
    exec(compile("\n".join(lines), "<common_size>", "exec"), scope)  # noqa: S102 - our own template
    return scope["impl"]


# -- symdiff.rules.shapes ------------------------------------------------------


@overload(sum_to, jit_options=CACHED)
def _sum_to(x, shape):
    if _is_scalar(x):
        return lambda x, shape: x
    target = len(shape)
    if target == 0:  # a full sum to a scalar: `np.sum` gives a scalar where `reshape(())` gives a 0-d array
        return lambda x, shape: np.sum(x)
    if target != x.ndim:  # an identity return would have another rank than the reduced array
        return lambda x, shape: _summed_to(x, shape)

    def impl(x, shape):
        if x.shape == shape:
            return x
        return _summed_to(x, shape)

    return impl


@njit(cache=True)
def _summed_to(x, shape):
    """`x` summed over its leading axes and over the axes `shape` has as 1."""
    target = len(shape)
    lead = x.ndim - target
    kept = np.ascontiguousarray(x)
    for axis in range(x.ndim):
        if axis < lead or (shape[axis - lead] == 1 and x.shape[axis] != 1):
            kept = reduce_sum(kept, axis, True)
    return kept.reshape(shape)


@overload(keepdims_shape, prefer_literal=True, jit_options=CACHED)
def _keepdims_shape(shape, axis):
    empty = isinstance(shape, types.BaseTuple) and len(shape) == 0
    if axis is None or isinstance(axis, (types.NoneType, types.Omitted)):
        return (lambda shape, axis: shape) if empty else (lambda shape, axis: _all_ones(shape))
    refusal = axis_refusal(axis, len(shape)) if isinstance(shape, types.BaseTuple) else None
    if refusal is not None:  # the axis the forward reduction refuses: fail as it does
        bad, rank = refusal

        def refuse(shape, axis):
            axis_error(bad, rank)
            return shape

        return refuse
    if empty:  # a scalar's shape, reduced along axis 0 or -1: nothing to keep
        return lambda shape, axis: shape

    def impl(shape, axis):
        axes = np.array(axis, dtype=np.int64).reshape(-1)
        check_axes(axes, len(shape))
        axes = axes % len(shape)
        for k in range(axes.size):
            shape = tuple_setitem(shape, axes[k], 1)
        return shape

    return impl


@njit(cache=True)
def _all_ones(shape):
    for k in range(len(shape)):
        shape = tuple_setitem(shape, k, 1)
    return shape


@overload(grad_seed, jit_options=CACHED)
def _grad_seed(y):
    # The seed takes the output's dtype as NumPy's `np.result_type(y, 1.0)`: float32 for a float32
    # output (the float32 twin's seed, which would otherwise widen every cotangent after it).
    single = (y.dtype if isinstance(y, types.Array) else y) == types.float32
    if _is_scalar(y) or (isinstance(y, types.Array) and y.ndim == 0):
        return (lambda y: np.float32(1.0)) if single else (lambda y: 1.0)
    dtype = np.float32 if single else np.float64

    def impl(y):  # an array of one element has the cotangent ones of its shape, as autograd takes it
        if y.size != 1:
            raise NonScalarOutput("grad needs a scalar output; use vjp for non-scalar outputs, or jacobian")
        return np.ones(y.shape, dtype)

    return impl


def _ranks(a, b) -> tuple[int, int]:
    ranks = tuple(t.ndim if isinstance(t, types.Array) else 0 for t in (a, b))
    if min(ranks) == 0:
        raise TypingError(f"the numba backend supports matmul of arrays only, got ranks {ranks}")
    return ranks


# The cotangent of a (first table) and of b (second) in `a @ b`: where the other operand is a 0-d
# array or a number (np.dot's product), then by the ranks of two arrays of rank 1 or 2. As NumPy's
# helpers, they take the cotangent `g` of the product or of an elementwise result it broadcast
# into, and sum it to the product's shape first (a no-op test where it has that shape).
_MATMUL_ADJOINTS = (
    {
        "0-d": lambda g, a, b: sum_to(g * b[()], shape_of(a)),
        "number": lambda g, a, b: sum_to(g * b, shape_of(a)),
        (2, 2): lambda g, a, b: matmul_of(sum_to(g, (a.shape[0], b.shape[1])), b.T),
        (2, 1): lambda g, a, b: np.outer(sum_to(g, (a.shape[0],)), b),
        (1, 2): lambda g, a, b: matmul_of(b, sum_to(g, (b.shape[1],))),
        (1, 1): lambda g, a, b: sum_to(g, ()) * b,
    },
    {
        "0-d": lambda g, a, b: sum_to(g * a[()], shape_of(b)),
        "number": lambda g, a, b: sum_to(g * a, shape_of(b)),
        (2, 2): lambda g, a, b: matmul_of(a.T, sum_to(g, (a.shape[0], b.shape[1]))),
        (2, 1): lambda g, a, b: matmul_of(a.T, sum_to(g, (a.shape[0],))),
        (1, 2): lambda g, a, b: np.outer(a, sum_to(g, (b.shape[1],))),
        (1, 1): lambda g, a, b: sum_to(g, ()) * a,
    },
)


@njit(cache=True)
def _row_times_stack_shape(a, b):
    return b.shape[:-2] + b.shape[-1:]


@njit(cache=True)
def _stack_times_column_shape(a, b):
    return a.shape[:-1]


@njit(cache=True)
def _stack_times_stack_shape(a, b):
    return np.broadcast_shapes(a.shape[:-2], b.shape[:-2]) + (a.shape[-2], b.shape[-1])


def _stack_product_shape(ranks: tuple[int, int]):
    """Compiled `(a, b) -> np.shape(a @ b)` for these ranks, one of them 3 or more."""
    if ranks[0] == 1:
        return _row_times_stack_shape
    if ranks[1] == 1:
        return _stack_times_column_shape
    return _stack_times_stack_shape


def _matmul_adjoint(a, b, which: int):
    """The implementation of `matmul_adjoint_a` (`which` 0) or `matmul_adjoint_b` (1) for these types."""
    own, other = (a, b) if which == 0 else (b, a)
    table = _MATMUL_ADJOINTS[which]
    if _zero_d(other):
        return table["0-d"]
    if not isinstance(a, types.Array) or not isinstance(b, types.Array) or own.ndim == 0:
        return table["number"]
    ranks = _ranks(a, b)
    if max(ranks) <= 2:
        return table[ranks]
    adjoint = batched_adjoints(ranks)[which]  # stacks of matrices
    product = _stack_product_shape(ranks)
    if which == 0:
        return lambda g, a, b: sum_to(adjoint(sum_to(g, product(a, b)), a, b), a.shape)
    return lambda g, a, b: sum_to(adjoint(sum_to(g, product(a, b)), a, b), b.shape)


overload(matmul_adjoint_a, jit_options=CACHED)(lambda g, a, b: _matmul_adjoint(a, b, 0))
overload(matmul_adjoint_b, jit_options=CACHED)(lambda g, a, b: _matmul_adjoint(a, b, 1))


@overload(scatter_add, jit_options=CACHED)
def _scatter_add(g, shape, index):
    def impl(g, shape, index):
        out = np.zeros(shape, dtype=np.asarray(g).dtype)  # g's dtype, as the NumPy helper's buffer
        add_into(out, g, index)  # its overload picks the loop for the index's kind (and refuses copies)
        return out

    return impl


@overload(scatter_into_empty, jit_options=CACHED)
def _scatter_into_empty(g, shape, index):
    def impl(g, shape, index):
        out = np.empty(shape)
        out[index] = g
        return out

    return impl


@overload(axis_slice, jit_options=CACHED)
def _axis_slice(x, start, stop, axis):
    return lambda x, start, stop, axis: np.swapaxes(np.swapaxes(x, 0, axis)[start:stop], 0, axis)


@overload(axis_pad, jit_options=CACHED)
def _axis_pad(x, start, total, axis):
    def impl(x, start, total, axis):
        out = np.zeros(tuple_setitem(x.shape, axis, total), dtype=x.dtype)
        np.swapaxes(out, 0, axis)[start : start + x.shape[axis]] = np.swapaxes(x, 0, axis)
        return out

    return impl


def _no_axis(axis) -> bool:
    return axis is None or isinstance(axis, (types.NoneType, types.Omitted))


def kept_mask(length, obj):
    """True where `np.delete(np.arange(length), obj)` keeps an element."""
    keep = np.ones(length, dtype=bool)
    keep[obj] = False
    return keep


@overload(kept_mask, jit_options=CACHED)
def _kept_mask(length, obj):
    if isinstance(obj, types.BaseTuple):  # `np.delete(x, [0, 2])`: the list is a tuple constant here

        def each(length, obj):
            keep = np.ones(length, dtype=np.bool_)
            for k in literal_unroll(obj):
                keep[k] = False
            return keep

        return each

    def impl(length, obj):
        keep = np.ones(length, dtype=np.bool_)
        keep[obj] = False
        return keep

    return impl


@overload(delete_of, jit_options=CACHED)
def _delete_of(arr, obj, axis=None):
    if _no_axis(axis):
        return lambda arr, obj, axis=None: np.ravel(arr)[kept_mask(arr.size, obj)]

    def impl(arr, obj, axis=None):
        moved = np.swapaxes(arr, 0, axis)
        keep = kept_mask(moved.shape[0], obj)
        return np.ascontiguousarray(np.swapaxes(moved[keep], 0, axis))

    return impl


@overload(linspace_of, jit_options=CACHED)
def _linspace_of(start, stop, num=50, endpoint=True, dtype=None):
    if not _no_axis(dtype) and not (isinstance(dtype, types.NumberClass) and dtype.dtype == types.float64):
        raise TypingError("linspace_of: only float64 samples on the numba backend")
    if _is_scalar(start) and _is_scalar(stop):

        def scalars(start, stop, num=50, endpoint=True, dtype=None):
            count = num - 1 if endpoint else num
            step = (stop - start) / count if count > 0 else 0.0
            out = np.empty(num)
            for k in range(num):
                out[k] = k * step + start  # NumPy's order of operations
            if endpoint and num > 1:
                out[num - 1] = stop
            return out

        return scalars

    def arrays(start, stop, num=50, endpoint=True, dtype=None):
        first = np.asarray(start) + np.zeros_like(np.asarray(stop) + 0.0)  # broadcast: the samples' shape
        delta = np.asarray(stop) - first
        count = num - 1 if endpoint else num
        step = delta / count if count > 0 else delta * 0.0
        out = np.empty((num,) + first.shape)
        for k in range(num):
            out[k] = k * step + first  # NumPy's order of operations
        if endpoint and num > 1:
            out[num - 1] = first + delta
        return out

    return arrays


# The binomial checkpointing schedule (transforms/checkpoint.py) is integer arithmetic Numba
# compiles as it is written.
overload(revolve_next)(lambda position, end, stop, held, snapshots: revolve_next)
overload(revolve_snapshots)(lambda trips, snapshots, memory, state_bytes: revolve_snapshots)


@overload(nbytes_of, jit_options=CACHED)
def _nbytes_of(x):
    if isinstance(x, types.Array):
        return lambda x: x.nbytes
    return lambda x: 8


@overload(undelete, jit_options=CACHED)
def _undelete(g, obj, shape, axis):
    if _no_axis(axis):

        def flat(g, obj, shape, axis):
            size = 1
            for n in shape:
                size *= n
            out = np.zeros(size, dtype=g.dtype)
            out[kept_mask(size, obj)] = np.ravel(g)
            return out.reshape(shape)

        return flat

    def impl(g, obj, shape, axis):
        out = np.zeros(shape, dtype=g.dtype)
        moved = np.swapaxes(out, 0, axis)
        kept = np.nonzero(kept_mask(moved.shape[0], obj))[0]
        rows = np.swapaxes(g, 0, axis)
        for k in range(kept.shape[0]):
            moved[kept[k]] = rows[k]
        return out

    return impl


@overload(concat_offset, jit_options=CACHED)
def _concat_offset(k, axis, *arrays):
    def impl(k, axis, *arrays):
        total = 0
        position = 0
        for a in literal_unroll(arrays):
            if position < k:
                total += a.shape[axis]
            position += 1  # noqa: SIM113 - Numba cannot enumerate a literal_unroll
        return total

    return impl


@overload(inverse_axes, jit_options=CACHED)
def _inverse_axes(axes, ndim):
    if axes is None or isinstance(axes, types.NoneType):
        raise TypingError("inverse_axes(None, ndim) has a run-time length; the numba lowering prints np.transpose(g)")
    count = len(axes)

    def impl(axes, ndim):
        order = np.argsort(np.array(axes, dtype=np.int64) % ndim)
        return to_fixed_tuple(order, count)

    return impl


__all__ = [
    "add_into",
    "added_at",
    "append_row",
    "array_ndim",
    "as_value",
    "at",
    "atleast_shape",
    "axis_pad",
    "axis_slice",
    "broadcast_to_of",
    "clip_of",
    "common_size",
    "concat_offset",
    "contiguous",
    "delete_of",
    "diag_adjoint",
    "digamma",
    "divide32",
    "dot_of",
    "empty_like_of",
    "erf",
    "expand_dims_of",
    "expit",
    "flat",
    "float_of",
    "full_like_of",
    "gammaln",
    "grad_seed",
    "hstack_shape",
    "index_update",
    "inverse_axes",
    "keepdims_shape",
    "linspace_of",
    "log_ndtr",
    "loop_nest",
    "loop_shape",
    "loop_strides",
    "masked_assign",
    "masked_of",
    "matmul_adjoint_a",
    "matmul_adjoint_b",
    "matmul_of",
    "nbytes_of",
    "ndtr",
    "ones_like_of",
    "padded_shape",
    "power_of",
    "range_length",
    "ravel_of",
    "reduce_max",
    "reduce_mean",
    "reduce_min",
    "reduce_prod",
    "reduce_sum",
    "reduced_result",
    "reshape_to",
    "revolve_next",
    "revolve_snapshots",
    "row_count",
    "row_length",
    "row_of",
    "scatter_add",
    "scatter_into_empty",
    "shape_of",
    "size_of",
    "squeeze_axis",
    "stack_of",
    "sum_to",
    "summed_result",
    "transpose_of",
    "undelete",
    "unit_step",
    "vexp",
    "vexpm1",
    "vlog",
    "vlog1p",
    "vtanh",
    "weak32",
    "write_at",
    "written_values",
    "zero_of",
    "zeros_for",
    "zeros_like_of",
]  # fmt: skip
