"""Reductions with `axis` and `keepdims` that Numba can compile.

Numba's `np.sum` takes an integer `axis` but no `keepdims`, and `np.max`,
`np.min`, `np.prod` and `np.mean` take no `axis` at all. The generated code
calls `reduce_sum(a, axis, keepdims)` (and `reduce_mean`, `reduce_max`,
`reduce_min`, `reduce_prod`) instead. Each is a plain NumPy function (so the
module also runs without Numba's JIT) with a `numba.extending.overload` that
picks an implementation when the argument types are known:

- a scalar operand is returned as it is (NumPy's reductions of a 0-d value);
- `axis=None` reduces everything with Numba's own full reduction, but a sum
  (or mean) of a C-contiguous float array, which `_lane_sum` adds in eight
  partial sums as NumPy's pairwise sum does (vectorised, and as accurate);
- an integer or a tuple of integers reduces one axis at a time on a
  C-contiguous copy viewed as `(outer, n, inner)`, a loop nest that LLVM
  vectorises, keeping the axis as length 1; `keepdims=False` then drops the
  reduced axes, whose number is known at compile time;
- `np.mean` divides by its count through `divide32` (arrays.py): Numba's
  `float32 / int64` is a float64, NumPy's mean of float32 values a float32.

`axis` and `keepdims` must be compile-time constants, as they are in
generated code. Imports only NumPy, Numba and `arrays.divide32`.
"""

from __future__ import annotations

import operator

import numpy as np
from numba import njit, types
from numba.core.errors import TypingError
from numba.cpython.unsafe.tuple import tuple_setitem
from numba.extending import overload
from numba.np.numpy_support import as_dtype
from numba.np.unsafe.ndarray import to_fixed_tuple

from symdiff.backends.numba import helper_cache  # noqa: F401 - its locator, before the cache=True functions below
from symdiff.backends.numba.arrays import divide32
from symdiff.backends.numba.helper_cache import CACHED


def reduce_sum(a, axis=None, keepdims=False):
    """`np.sum(a, axis=axis, keepdims=keepdims)`; compiled by Numba through an overload."""
    return np.sum(a, axis=axis, keepdims=keepdims)


def reduce_mean(a, axis=None, keepdims=False):
    """`np.mean(a, axis=axis, keepdims=keepdims)`."""
    return np.mean(a, axis=axis, keepdims=keepdims)


def reduce_prod(a, axis=None, keepdims=False):
    """`np.prod(a, axis=axis, keepdims=keepdims)`."""
    return np.prod(a, axis=axis, keepdims=keepdims)


def reduce_max(a, axis=None, keepdims=False):
    """`np.max(a, axis=axis, keepdims=keepdims)`."""
    return np.max(a, axis=axis, keepdims=keepdims)


def reduce_min(a, axis=None, keepdims=False):
    """`np.min(a, axis=axis, keepdims=keepdims)`."""
    return np.min(a, axis=axis, keepdims=keepdims)


# -- loop kernels over a C-contiguous (outer, n, inner) view -------------------


@njit(cache=True)
def _split(shape, axis):
    outer, inner = 1, 1
    for k in range(len(shape)):
        if k < axis:
            outer *= shape[k]
        elif k > axis:
            inner *= shape[k]
    return outer, shape[axis], inner


def _fold_axis(start: float, combine):
    """The `np.sum` (`start=0`, `operator.add`) or `np.prod` (`1`, `operator.mul`) kernel along one axis.

    `a` folded over `axis`, which is kept with length 1. Built once per fold at
    import time, as the extremum kernels below are.
    """

    @njit(cache=True)
    def fold_axis(a, axis):
        a = np.ascontiguousarray(a)
        outer, n, inner = _split(a.shape, axis)
        view = a.reshape((outer, n, inner))
        out = np.full((outer, inner), start, dtype=a.dtype)
        for i in range(outer):
            for k in range(n):
                for j in range(inner):
                    out[i, j] = combine(out[i, j], view[i, k, j])
        return out.reshape(tuple_setitem(a.shape, axis, 1))

    return fold_axis


_sum_axis = _fold_axis(0, operator.add)
_prod_axis = _fold_axis(1, operator.mul)


def _extremum_axis(name: str, replaces):
    """The `np.max` (`replaces=operator.gt`) or `np.min` (`operator.lt`) kernel along one axis.

    Built once per comparison at import time: Numba reads `name` and
    `replaces` as compile-time constants of the closure (and keys its cache on
    them). As in NumPy, a NaN wins over every number.
    """
    empty = f"zero-size array to reduction operation {name} which has no identity"

    @njit(cache=True)
    def extremum_axis(a, axis):
        a = np.ascontiguousarray(a)
        outer, n, inner = _split(a.shape, axis)
        if n == 0:
            raise ValueError(empty)
        view = a.reshape((outer, n, inner))
        out = view[:, 0, :].copy()
        for i in range(outer):
            for k in range(1, n):
                for j in range(inner):
                    if replaces(view[i, k, j], out[i, j]) or np.isnan(view[i, k, j]):
                        out[i, j] = view[i, k, j]
        return out.reshape(tuple_setitem(a.shape, axis, 1))

    return extremum_axis


_max_axis = _extremum_axis("maximum", operator.gt)
_min_axis = _extremum_axis("minimum", operator.lt)


_AXIS_KERNELS = {"sum": _sum_axis, "mean": _sum_axis, "prod": _prod_axis, "max": _max_axis, "min": _min_axis}
_FULL = {"sum": np.sum, "mean": np.sum, "prod": np.prod, "max": np.max, "min": np.min}


def _constant_keepdims(keepdims) -> bool:
    if keepdims is None or isinstance(keepdims, (types.Omitted, types.NoneType)):
        return bool(getattr(keepdims, "value", False))
    if isinstance(keepdims, types.BooleanLiteral):
        return keepdims.literal_value
    if isinstance(keepdims, bool):
        return keepdims
    raise TypingError("symdiff's numba backend needs keepdims to be a constant True or False")


def _axis_count(axis, ndim: int) -> int | None:
    """How many axes `axis` names (None for all), checked at compile time."""
    if axis is None or isinstance(axis, (types.NoneType, types.Omitted)):
        return None
    if isinstance(axis, types.Integer):
        return 1
    if isinstance(axis, types.BaseTuple) and all(isinstance(t, types.Integer) for t in axis):
        return len(axis)
    raise TypingError(f"axis must be None, an integer or a tuple of integers, got {axis}")


@njit(cache=True)
def _lane_sum(a):
    """`np.sum` of a C-contiguous float array in eight partial sums of its dtype, added as NumPy's
    pairwise sum adds its eight: independent additions LLVM vectorises, where Numba's `np.sum`
    keeps one running total that waits on each addition."""
    flat = a.reshape(a.size)
    n = flat.size
    whole = n - n % 8
    lanes = np.zeros(8, dtype=a.dtype)
    for block in range(0, whole, 8):
        for lane in range(8):
            lanes[lane] += flat[block + lane]
    total = ((lanes[0] + lanes[1]) + (lanes[2] + lanes[3])) + ((lanes[4] + lanes[5]) + (lanes[6] + lanes[7]))
    for i in range(whole, n):
        total += flat[i]
    return total


def _full_impl(kind: str, ndim: int, keep: bool, lanes: bool = False):
    full = _lane_sum if lanes and kind in ("sum", "mean") else _FULL[kind]
    ones = (1,) * ndim

    def impl(a, axis=None, keepdims=False):
        total = full(a)
        if kind == "mean":
            total = divide32(total, a.size)  # float32 stays float32, as NumPy's mean of float32
        if keep:
            return np.full(ones, total)
        return total

    return impl


def _axes_impl(kind: str, ndim: int, count: int, keep: bool):
    kernel = _AXIS_KERNELS[kind]
    out_ndim = ndim - count

    def impl(a, axis=None, keepdims=False):
        axes = np.array(axis, dtype=np.int64).reshape(-1)
        check_axes(axes, ndim)
        axes = axes % ndim
        kept = kernel(a, axes[0])
        for k in range(1, axes.size):
            kept = kernel(kept, axes[k])
        if kind == "mean":
            kept = divide32(kept, a.size // max(kept.size, 1) if kept.size else 1)
        if keep:
            return kept
        shape = np.empty(out_ndim, dtype=np.int64)
        j = 0
        for k in range(ndim):
            if not np.any(axes == k):
                shape[j] = kept.shape[k]
                j += 1
        return kept.reshape(to_fixed_tuple(shape, out_ndim))

    return impl


def _literal_axes(axis, ndim: int) -> tuple[int, ...] | None:
    """The axes, normalised, when `axis` is a literal integer or a tuple of them (as in generated code)."""
    items = axis.types if isinstance(axis, types.BaseTuple) else (axis,)
    if not all(isinstance(t, types.IntegerLiteral) for t in items):
        return None
    return tuple(t.literal_value % ndim for t in items)


def _literal_axes_of(axis) -> list[int]:
    items = axis.types if isinstance(axis, types.BaseTuple) else (axis,)
    return [getattr(t, "literal_value", 0) for t in items]


def axis_refusal(axis, ndim: int) -> tuple[int, int] | None:
    """`(axis, ndim)` for NumPy's error when reducing an array of rank `ndim` along the literal
    `axis` fails (an axis out of range; a repeated one is `(ndim, ndim)` with a duplicate), or None.

    Decided at compile time, so that an axis NumPy refuses fails as it does instead of being
    taken modulo the rank (a wrong value, and a wrong gradient where only shapes are read).
    None also when `axis` is not literal: `check_axes` then checks it at run time.
    """
    if axis is None or isinstance(axis, (types.NoneType, types.Omitted)):
        return None
    items = axis.types if isinstance(axis, types.BaseTuple) else (axis,)
    if not all(isinstance(t, types.IntegerLiteral) for t in items):
        return None
    values = [t.literal_value for t in items]
    if ndim == 0 and not isinstance(axis, types.BaseTuple) and values[0] in (0, -1):
        return None  # NumPy reduces a 0-d array along axis 0 or -1
    for value in values:
        if not -ndim <= value < ndim:
            return value, ndim
    if len({v % ndim for v in values}) != len(values):
        return -1, -1
    return None


@njit(cache=True)
def axis_error(axis, ndim):
    """Raise NumPy's error for `axis` on a rank-`ndim` array; `(-1, -1)` stands for a repeated axis.

    Called, not inlined as a `raise`, so Numba still types the code after the call."""
    if ndim < 0:
        raise ValueError("duplicate value in 'axis'")
    raise np.exceptions.AxisError(axis, ndim)


def raising(refusal: tuple[int, int], out_ndim: int, scalar: bool = False):
    """A reduction's implementation that raises NumPy's error for `refusal` (see `axis_refusal`).

    Typed as returning what the reduction would return (an array of rank `out_ndim`, a scalar
    for 0, the operand itself for a `scalar` one), so the code after it still compiles."""
    bad, ndim = refusal
    if scalar:

        def impl(a, axis=None, keepdims=False):
            axis_error(bad, ndim)
            return a

        return impl
    if out_ndim == 0:

        def impl(a, axis=None, keepdims=False):
            axis_error(bad, ndim)
            return a.ravel()[0]

        return impl
    empty = (0,) * out_ndim

    def impl(a, axis=None, keepdims=False):
        axis_error(bad, ndim)
        return np.empty(empty, a.dtype)

    return impl


@njit(cache=True)
def check_axes(axes, ndim):
    """Raise NumPy's AxisError for an axis out of range, at run time (axes not known at compile time)."""
    for k in range(axes.size):
        if axes[k] < -ndim or axes[k] >= ndim:
            axis_error(axes[k], ndim)
        for j in range(k):
            if (axes[j] - axes[k]) % ndim == 0:
                axis_error(-1, -1)


def _constant_axes_impl(kind: str, ndim: int, axes: tuple[int, ...], keep: bool):
    """`_axes_impl` for axes known at compile time: the same kernels in the same order, but no array
    of axes, no loop over them and no shape built at run time, which made the reduction the costliest
    helper to compile (np.array, np.any, np.empty and to_fixed_tuple each compiled for it)."""
    lines = ["def impl(a, axis=None, keepdims=False):", "    kept = a"]
    lines += [f"    kept = kernel(kept, {k})" for k in axes]
    if kind == "mean":
        lines.append("    kept = divide32(kept, a.size // max(kept.size, 1) if kept.size else 1)")
    if keep:
        lines.append("    return kept")
    else:
        shape = "".join(f"kept.shape[{k}], " for k in range(ndim) if k not in axes)
        lines.append(f"    return kept.reshape(({shape}))")
    namespace = {"kernel": _AXIS_KERNELS[kind], "divide32": divide32}
    exec("\n".join(lines), namespace)  # noqa: S102 - our own text, from integers
    return namespace["impl"]


def _as_integers(impl):
    # NumPy sums booleans as integers (e.g. counting ties in max's derivative).
    def counted(a, axis=None, keepdims=False):
        return impl(a.astype(np.int64), axis, keepdims)

    return counted


def _reduction_overload(kind: str):
    def typer(a, axis=None, keepdims=False):
        keep = _constant_keepdims(keepdims)
        ndim = a.ndim if isinstance(a, types.Array) else 0
        refusal = axis_refusal(axis, ndim)
        if refusal is None and ndim == 0 and kind == "mean" and _axis_count(axis, 0) is not None:
            refusal = _literal_axes_of(axis)[0], 0  # np.mean takes no axis of a 0-d value, unlike np.sum
        if refusal is not None:
            out_ndim = ndim if keep else max(ndim - (_axis_count(axis, ndim) or 0), 0)
            return raising(refusal, out_ndim, scalar=not isinstance(a, types.Array))
        if isinstance(a, (types.Number, types.Boolean)):
            return lambda a, axis=None, keepdims=False: a
        if not isinstance(a, types.Array):
            return None
        count = _axis_count(axis, a.ndim)
        axes = None if count is None or a.ndim == 0 else _literal_axes(axis, a.ndim)
        if count is None or a.ndim == 0:
            lanes = a.ndim > 0 and a.layout == "C" and isinstance(a.dtype, types.Float)
            impl = _full_impl(kind, a.ndim, keep, lanes)
        elif axes is not None:
            impl = _constant_axes_impl(kind, a.ndim, axes, keep)
        else:
            impl = _axes_impl(kind, a.ndim, count, keep)
        if isinstance(a.dtype, types.Boolean) and kind in ("sum", "prod", "mean"):
            return _as_integers(njit(impl))
        return impl

    return typer


for _kind, _stub in (
    ("sum", reduce_sum), ("mean", reduce_mean), ("prod", reduce_prod), ("max", reduce_max), ("min", reduce_min),
):  # fmt: skip
    overload(_stub, prefer_literal=True)(_reduction_overload(_kind))


# -- loop kernels over a broadcast -----------------------------------------------
#
# An axis reduction (`np.sum(e, axis)`, `np.mean(e, axis)`, `sum_to(e, shape)`) of an inlined
# elementwise expression `e` whose operands broadcast against each other is printed as one loop
# over the broadcast shape (`kernels.KernelPrinter.axis_reduction_kernel`): each operand is read
# through a flat view at an offset that advances by its own element strides, zero along the axes
# it is broadcast over, and the output, allocated with the reduced axes kept as 1, has stride
# zero along those. So `np.sum((p[:, None, :] - c[None, :, :]) ** 2, axis=2)` never stores the
# (n, k, d) difference. The helpers below are those loops' shapes and strides; ranks are known
# only when Numba compiles them, so each decides there.


def loop_shape(*operands):
    """The broadcast shape of the operands (arrays, scalars, and shapes: tuples), at least 1-D
    (`(1,)` when all are scalars)."""
    return np.broadcast_shapes(*(a if isinstance(a, tuple) else np.shape(a) for a in operands)) or (1,)


def loop_strides(a, shape):
    """`a`'s element strides (C order) seen broadcast to `shape`: 0 along axes it is broadcast over."""
    have = np.shape(a)
    strides, step = [0] * len(shape), 1
    for k in range(1, len(have) + 1):
        if have[-k] != 1:
            strides[-k] = step
        step *= have[-k]
    return tuple(strides)


def padded_shape(target, shape):
    """`target` with leading 1s to the rank of `shape` (the loop's): where `sum_to` sums the leading axes."""
    padded = (1,) * (len(shape) - len(target)) + tuple(target)
    if any(t not in (1, n) for t, n in zip(padded, shape, strict=True)):
        raise ValueError("sum_to: the target shape does not broadcast to the summed one")
    return padded


def unit_step(a, step):
    """Whether a kernel may read `a` at consecutive offsets: an array whose step is 1, or a scalar."""
    return step == 1 or not np.ndim(a)


@overload(unit_step, jit_options=CACHED)  # called, not inlined by Numba: see `helpers._at`
def _unit_step(a, step):
    if isinstance(a, types.Array):
        return lambda a, step: step == 1
    return lambda a, step: True


def zero_of(a):
    """A zero of `a`'s element type (an array's), or the scalar `a` itself: the operands of a probe
    that types an inlined expression without reading any element."""
    return a.dtype.type(0) if np.ndim(a) else a


def zeros_for(shape, probe):
    """Zeros of `shape` to sum values of `probe`'s type into (integers and booleans sum as int64)."""
    kind = np.asarray(probe).dtype
    return np.zeros(shape, dtype=np.int64 if kind.kind in "biu" else kind)


def reduced_result(out, axis, keepdims, *operands):
    """`np.sum(e, axis, keepdims)` from `out`, the sums with the reduced axes kept as 1."""
    rank = max((len(a) if isinstance(a, tuple) else np.ndim(a) for a in operands), default=0)
    if rank == 0:
        return out.reshape(out.size)[0]
    if keepdims:
        return out
    axes = tuple(a % rank for a in (axis if isinstance(axis, tuple) else (axis,)))
    kept = tuple(n for k, n in enumerate(out.shape) if k not in axes)
    return out.reshape(kept) if kept else out.reshape(out.size)[0]


def summed_result(out, target):
    """`sum_to(e, target)` from `out`, the sums in `target`'s shape with leading 1s."""
    return out.reshape(target) if len(target) else out.reshape(out.size)[0]


def _arrays(operands) -> list[int]:
    """The positions of the operands with a shape: arrays, and shapes (tuples) themselves."""
    return [k for k, typ in enumerate(operands) if isinstance(typ, (types.Array, types.BaseTuple))]


def _rank(typ) -> int:
    return len(typ) if isinstance(typ, types.BaseTuple) else typ.ndim


def _shape_text(operands, k: int) -> str:
    return f"operands[{k}]" if isinstance(operands[k], types.BaseTuple) else f"operands[{k}].shape"


def _compiled(lines: list[str], scope: dict | None = None):
    scope = dict(scope or {})
    exec(compile("\n".join(lines), "<symdiff loop kernel helper>", "exec"), scope)  # noqa: S102 - our own text
    return scope["impl"]


@overload(loop_shape)
def _loop_shape(*operands):
    arrays = _arrays(operands)
    rank = max((_rank(operands[k]) for k in arrays), default=0)
    if rank == 0:
        return lambda *operands: (1,)
    lines = ["def impl(*operands):"]
    for axis in range(rank):
        lines.append(f"    n{axis} = 1")
        for k in arrays:
            j = axis - (rank - _rank(operands[k]))
            if j < 0:
                continue
            lines += [
                f"    m = {_shape_text(operands, k)}[{j}]",
                "    if m != 1:",
                f"        if n{axis} != 1 and n{axis} != m:",
                "            raise ValueError('operands could not be broadcast together')",
                f"        n{axis} = m",
            ]
    lines.append(f"    return ({''.join(f'n{axis}, ' for axis in range(rank))})")
    return _compiled(lines)


@overload(loop_strides, jit_options=CACHED)
def _loop_strides(a, shape):
    rank = len(shape)
    ndim = a.ndim if isinstance(a, types.Array) else 0
    if ndim > rank:
        raise TypingError(f"an operand of rank {ndim} in a loop of rank {rank}")

    def impl(a, shape):
        strides = shape
        step = 1
        for k in range(rank - 1, -1, -1):
            j = k - (rank - ndim)
            if j >= 0 and a.shape[j] != 1:
                strides = tuple_setitem(strides, k, step)
            else:
                strides = tuple_setitem(strides, k, 0)
            if j >= 0:
                step *= a.shape[j]
        return strides

    if ndim == 0:

        def impl(a, shape):
            strides = shape
            for k in range(rank):
                strides = tuple_setitem(strides, k, 0)
            return strides

    return impl


@overload(padded_shape)
def _padded_shape(target, shape):
    have, rank = len(target), len(shape)
    if have > rank:
        raise TypingError(f"sum_to a shape of rank {have} from a loop of rank {rank}")
    lead = rank - have
    lines = ["def impl(target, shape):", "    padded = shape"]
    for k in range(have):  # NumPy's sum_to cannot make an axis longer either
        lines += [
            f"    if target[{k}] != 1 and target[{k}] != shape[{lead + k}]:",
            "        raise ValueError('sum_to: the target shape does not broadcast to the summed one')",
        ]
    lines += [
        f"    padded = tuple_setitem(padded, {k}, {1 if k < lead else f'target[{k - lead}]'})" for k in range(rank)
    ]
    lines.append("    return padded")
    return _compiled([*lines], {"tuple_setitem": tuple_setitem})


@overload(zero_of, jit_options=CACHED)
def _zero_of(a):
    if isinstance(a, types.Array):
        kind = a.dtype
        return lambda a: kind(0)
    return lambda a: a


@overload(zeros_for, jit_options=CACHED)
def _zeros_for(shape, probe):
    if isinstance(probe, (types.Boolean, types.Integer)):
        return lambda shape, probe: np.zeros(shape, np.int64)
    kind = as_dtype(probe).type
    return lambda shape, probe: np.zeros(shape, kind)


@overload(reduced_result, prefer_literal=True)
def _reduced_result(out, axis, keepdims, *operands):
    rank = max((_rank(operands[k]) for k in _arrays(operands)), default=0)
    keep = _constant_keepdims(keepdims)
    if rank == 0:
        return lambda out, axis, keepdims, *operands: out.reshape(out.size)[0]
    axes = _literal_axes(axis, rank)
    if axes is None:
        raise TypingError("a fused axis reduction needs a constant axis")
    refusal = axis_refusal(axis, rank)
    if refusal is not None:  # NumPy's error at the call, as the function raises it, not a compile error
        bad, ndim = refusal
        items = axis.types if isinstance(axis, types.BaseTuple) else (axis,)
        out_ndim = rank if keep else max(rank - len(items), 0)
        if out_ndim == 0:

            def refuse_scalar(out, axis, keepdims, *operands):
                axis_error(bad, ndim)
                return out.reshape(out.size)[0]

            return refuse_scalar
        empty = (0,) * out_ndim

        def refuse(out, axis, keepdims, *operands):
            axis_error(bad, ndim)
            return np.empty(empty, out.dtype)

        return refuse
    if keep:
        return lambda out, axis, keepdims, *operands: out
    kept = [k for k in range(rank) if k not in axes]
    if not kept:
        return lambda out, axis, keepdims, *operands: out.reshape(out.size)[0]
    shape = "".join(f"out.shape[{k}], " for k in kept)
    return _compiled(["def impl(out, axis, keepdims, *operands):", f"    return out.reshape(({shape}))"])


@overload(summed_result, jit_options=CACHED)
def _summed_result(out, target):
    if len(target) == 0:
        return lambda out, target: out.reshape(out.size)[0]
    return lambda out, target: out.reshape(target)


@njit(cache=True)
def loop_nest(shape, strides):
    """The loop nest over `shape` for operands of element `strides` (one row per operand, as
    `loop_strides` gives them): axes of length 1 dropped, neighbours merged where every operand
    steps through them as through one axis, and leading axes of length 1 added up to three, so a
    kernel runs three nested loops (the last one innermost) inside a short odometer over the rest.
    Returns the lengths (int64, at least 3) and the strides (operands x axes)."""
    rank = len(shape)
    count = len(strides)
    table = np.zeros((count, rank), dtype=np.int64)
    for row in range(count):
        for k in range(rank):
            table[row, k] = strides[row][k]
    lengths = np.empty(rank, dtype=np.int64)
    steps = np.empty((count, rank), dtype=np.int64)
    kept = 0
    for k in range(rank):
        if shape[k] == 1:
            continue
        if kept > 0:
            merge = True
            for row in range(count):
                if steps[row, kept - 1] != table[row, k] * shape[k]:
                    merge = False
                    break
            if merge:
                lengths[kept - 1] *= shape[k]
                for row in range(count):
                    steps[row, kept - 1] = table[row, k]
                continue
        lengths[kept] = shape[k]
        for row in range(count):
            steps[row, kept] = table[row, k]
        kept += 1
    axes = max(kept, 3)
    pad = axes - kept
    out_lengths = np.ones(axes, dtype=np.int64)
    out_steps = np.zeros((count, axes), dtype=np.int64)
    for k in range(kept):
        out_lengths[pad + k] = lengths[k]
        for row in range(count):
            out_steps[row, pad + k] = steps[row, k]
    return out_lengths, out_steps
