"""Array helpers for control flow in Numba-compiled gradients.

- `zeros_like_of`, `ones_like_of`, `empty_like_of`, `full_like_of`: NumPy's
  `*_like` constructors, except that a scalar argument gives a scalar. Numba's
  `np.zeros_like(1.5)` is a 0-d array, and a loop that starts an accumulator
  at a 0-d array and adds floats to it changes the variable's type between
  iterations, which Numba cannot compile; the NumPy backend's 0-d array and
  this scalar hold the same value.
- `broadcast_to_of(x, shape)`: `np.broadcast_to`, also of a scalar to the
  empty shape `()` (the cotangent of a scalar loop's `np.sum(x)`), which
  Numba's own `np.broadcast_to` fails to compile; to `()` it gives a scalar,
  never a 0-d array, as `zeros_like_of` does.
- `contiguous(x)`: `x` itself unless it is an array of rank 2 or more that
  Numba does not know to be C-contiguous (a slice `z[:, :n]`), which it
  copies: Numba's array expressions do not vectorise over such strided
  operands, and run several times slower than the copy costs.
- `add_into(x, g, index)` adds `g` into `x[index]` in place (repeated
  integer indices add up, as `np.add.at`), for basic indexes, an integer
  array, a boolean mask, one integer array per axis (`M[r, c]`) and `...`;
  mixing integer arrays with slices is a typing error, because Numba's
  `x[index]` is then a copy that the addition would be lost in; `added_at` is its functional form
  on a copy. They accumulate slice cotangents (`rewrites`).
- `masked_of(x, mask)` and `masked_assign(x, value, mask)`: `x[mask]` and
  `x[mask] = value`, printed where the index is a boolean mask the function
  computes, for masks of any rank (Numba mistypes `x[mask]` and fails on
  `x[mask] = value` for a mask of rank 2 or more; the flattened array and
  mask select the same elements).
- `written_values(g, index)`: `g[index]` with zeros at the writes of a
  repeated integer index that NumPy did not keep (the cotangent of `v` in
  `x[index] = v`; `symdiff.rules.shapes.written_values`, re-exported), for a
  1-D integer array (on an array of any rank) or one per axis: the ids
  `0, 1, ...` are written in the index's order, as the assignment wrote the
  values, and an element is kept where its id is the one that stayed.
- `write_at(x, value, index)`: `x[index] = value` in place. Where `value` is an
  array, the write is `_write_array`, a function of its own compiled with
  `cache=True`: Numba's slice assignment compiles an error message that formats
  both shapes (`str` of integers, `join`, f-strings: over a second on its own
  the first time in a process), which the on-disk cache then serves to every
  gradient and process instead of compiling it into each one. A scalar value
  is written inline.
- `index_update(x, value, index)`: the functional element write
  (`symdiff.rules.shapes.index_update`, re-exported), a copy of `x` with
  `x[index] = value`, for writes that cannot happen in place.
- `stack_of(items, axis)`: `np.stack`, also of scalars (`np.array([0, 2])`
  used as an index lowers to a stack of integers) and of nested tuples of
  constants (`np.array([[1.0, 2.0], [3.0, 4.0]])`).
- `range_length(start, stop, step)`: `len(range(start, stop, step))`, which
  reversed loops with a non-constant step count down from.

Each is a plain function (so the module also runs without the JIT) with a
`numba.extending.overload`. Imports only NumPy, Numba and the shape helpers.
"""

from __future__ import annotations

import numpy as np
from numba import literal_unroll, njit, types
from numba.core.errors import TypingError
from numba.extending import overload
from numba.np.numpy_support import as_dtype

from symdiff.backends.numba.helper_cache import CACHED
from symdiff.rules.shapes import index_update, written_values


def zeros_like_of(x):
    """`np.zeros_like(x)`; a scalar for a scalar."""
    return np.zeros_like(x) if np.ndim(x) else type(x)(0)


def ones_like_of(x):
    """`np.ones_like(x)`; a scalar for a scalar."""
    return np.ones_like(x) if np.ndim(x) else type(x)(1)


def empty_like_of(x):
    """`np.empty_like(x)`; a scalar for a scalar."""
    return np.empty_like(x) if np.ndim(x) else type(x)(0)


def full_like_of(x, fill_value, dtype=None):
    """`np.full_like(x, fill_value)`; a scalar for a scalar."""
    return np.full_like(x, fill_value, dtype=dtype) if np.ndim(x) else type(x)(fill_value)


def broadcast_to_of(x, shape):
    """`np.broadcast_to(x, shape)`, with `x` itself for a scalar and the shape `()`."""
    return x if np.ndim(x) == 0 and len(shape) == 0 else np.broadcast_to(x, shape)


@njit(cache=True)
def range_length(start, stop, step):
    """`len(range(start, stop, step))`."""
    if step > 0:
        return max(0, (stop - start + step - 1) // step)
    return max(0, (start - stop - step - 1) // -step)


def _scalar_constructor(x, value: float):
    """An implementation returning `value` in `x`'s scalar type, or None for arrays."""
    if isinstance(x, types.Boolean):
        flag = bool(value)
        return lambda x: flag
    if isinstance(x, types.Integer):
        whole = int(value)
        return lambda x: whole
    if isinstance(x, types.Float):  # float32 zeros of a float32 scalar
        real = as_dtype(x).type(value)
        return lambda x: real
    if isinstance(x, types.Number):
        real = float(value)
        return lambda x: real
    return None


def weak32(x):
    """In a float32 module: a scalar as float32, as a weak Python number meets float32 in NumPy
    (Numba types `np.float32(1.0) / count` as float64); an array as it is. See `single.py`."""
    return x


@overload(weak32, jit_options=CACHED)
def _weak32(x):
    if isinstance(x, (types.Integer, types.Float)) and not isinstance(x, types.Boolean):
        return lambda x: np.float32(x)
    return lambda x: x


def divide32(a, b):
    """In a float32 module: `a / b`, where an integer or float64 scalar meets a float32 value as a
    weak Python number does in NumPy (NEP 50), as float32. Numba types `float32 / int64` as float64:
    the mean's cotangent `g / count` would widen every value after it. See `single.py`."""
    return a / b


def _float32_valued(t) -> bool:
    return t == types.float32 or (isinstance(t, types.Array) and t.dtype == types.float32)


def _weak_scalar(t) -> bool:
    return isinstance(t, (types.Integer, types.Float)) and not isinstance(t, types.Boolean) and t != types.float32


@overload(divide32, jit_options=CACHED)
def _divide32(a, b):
    if _float32_valued(a) and _weak_scalar(b):
        return lambda a, b: a / np.float32(b)
    if _weak_scalar(a) and _float32_valued(b):
        return lambda a, b: np.float32(a) / b
    return lambda a, b: a / b


@overload(zeros_like_of, jit_options=CACHED)
def _zeros_like_of(x):
    return _scalar_constructor(x, 0.0) or (lambda x: np.zeros_like(x))


@overload(ones_like_of, jit_options=CACHED)
def _ones_like_of(x):
    return _scalar_constructor(x, 1.0) or (lambda x: np.ones_like(x))


@overload(empty_like_of, jit_options=CACHED)
def _empty_like_of(x):
    return _scalar_constructor(x, 0.0) or (lambda x: np.empty_like(x))


@overload(full_like_of, jit_options=CACHED)
def _full_like_of(x, fill_value, dtype=None):
    if not (dtype is None or isinstance(dtype, (types.NoneType, types.Omitted))):
        raise TypingError("full_like_of: dtype= is not supported on the numba backend")
    if isinstance(x, types.Number):
        return lambda x, fill_value, dtype=None: fill_value * (x * 0 + 1)
    return lambda x, fill_value, dtype=None: np.full_like(x, fill_value)


@overload(broadcast_to_of, jit_options=CACHED)
def _broadcast_to_of(x, shape):
    if isinstance(shape, types.BaseTuple) and len(shape) == 0:
        if isinstance(x, types.Array):
            return lambda x, shape: np.ascontiguousarray(x).reshape(())[()]
        return lambda x, shape: x
    return lambda x, shape: np.broadcast_to(x, shape)


def contiguous(x):
    """`x`, or a C-contiguous copy of a strided array."""
    return np.ascontiguousarray(x) if np.ndim(x) else x


@overload(contiguous, jit_options=CACHED)
def _contiguous(x):
    if isinstance(x, types.Array) and x.layout != "C" and x.ndim >= 2:
        return lambda x: np.ascontiguousarray(x)
    return lambda x: x


def add_into(x, g, index):
    """`x[index] += g`, with repeated integer indices adding up; returns None."""
    np.add.at(x, index, g)


def added_at(x, g, index):
    """A copy of `x` with `g` added at `index`."""
    out = np.array(x, dtype=np.result_type(x, g), copy=True)
    np.add.at(out, index, g)
    return out


@overload(add_into)
def _add_into(x, g, index):
    items = tuple(index) if isinstance(index, types.BaseTuple) else (index,)
    arrays = [isinstance(item, types.Array) for item in items]
    if isinstance(index, types.Array) and isinstance(index.dtype, types.Boolean):
        if index.ndim != x.ndim:
            raise TypingError("the numba backend indexes with boolean masks of the array's own shape only")
        return _add_at_mask
    if isinstance(index, types.Array) and (index.ndim != 1 or not isinstance(index.dtype, types.Integer)):
        raise TypingError("the numba backend indexes with 1-D integer arrays only")
    if all(arrays) and len(items) > 1:
        if len(items) != x.ndim or not all(isinstance(item.dtype, types.Integer) for item in items):
            raise TypingError(
                "the numba backend indexes with a tuple of integer arrays only when there is one per axis"
            )
        return _add_at_coordinates
    if any(arrays) and len(items) > 1:  # a copy, not a view: add each of the array's entries in turn
        return _add_at_one_array(items, g)
    if isinstance(index, types.Array):

        def gather_impl(x, g, index):
            for k in range(index.size):
                x[index[k]] += g[k]

        return gather_impl
    if isinstance(index, types.EllipsisType):

        def whole_impl(x, g, index):
            x += g  # Numba has no `x[...]` to read

        return whole_impl
    if all(isinstance(item, types.Integer) for item in items):
        if isinstance(g, types.Array) and g.ndim == 0:  # a 0-d cotangent of one element

            def element_of_0d_impl(x, g, index):
                x[index] += g[()]

            return element_of_0d_impl

        def element_impl(x, g, index):
            x[index] += g

        return element_impl

    integers = [k for k, item in enumerate(items) if isinstance(item, types.Integer)]
    rest_is_ellipsis = all(isinstance(items[k], types.EllipsisType) for k in range(len(items)) if k not in integers)
    if isinstance(x, types.Array) and len(integers) == x.ndim and rest_is_ellipsis:
        # (..., k) picks one element, which Numba returns as a number, not a view to add into.
        return _element_through_ellipsis(integers, g)

    def view_impl(x, g, index):
        view = x[index]  # adding into the view is one pass; `x[index] += g` would also copy it back
        view += g

    return view_impl


def _element_through_ellipsis(positions: list[int], g):
    """`x[index] += g` for an index of integers and `...` that reaches one element."""
    take = "g[()]" if isinstance(g, types.Array) and g.ndim == 0 else "g"
    items = ", ".join(f"index[{k}]" for k in positions)
    namespace: dict = {}
    exec(f"def impl(x, g, index):\n    x[{items},] += {take}\n", namespace)  # noqa: S102 - built from ints
    return namespace["impl"]


def _add_at_one_array(items: tuple, g):
    """`x[index] += g` (repeats adding up) for an index of one 1-D integer array among slices and
    integers, as `x[rows, :]` reads: NumPy puts the array's axis where the array and the integers
    stand if they are side by side, else first; `g` has that axis, walked one entry at a time."""
    arrays = [k for k, item in enumerate(items) if isinstance(item, types.Array)]
    if len(arrays) != 1 or items[arrays[0]].ndim != 1 or not isinstance(items[arrays[0]].dtype, types.Integer):
        raise TypingError("the numba backend mixes slices or integers with one 1-D integer array per index only")
    if not all(isinstance(item, (types.Array, types.Integer, types.SliceType)) for item in items):
        raise TypingError("the numba backend mixes integer arrays with slices and integers only")
    advanced = [k for k, item in enumerate(items) if not isinstance(item, types.SliceType)]
    side_by_side = advanced == list(range(advanced[0], advanced[-1] + 1))
    axis = sum(isinstance(items[k], types.SliceType) for k in range(advanced[0])) if side_by_side else 0
    at = arrays[0]
    x_items = ", ".join("rows[k]" if j == at else f"index[{j}]" for j in range(len(items)))
    g_items = ", ".join([":"] * axis + ["k"])
    take = f"g[{g_items}]" if isinstance(g, types.Array) else "g"
    namespace: dict = {}
    source = f"def impl(x, g, index):\n    rows = index[{at}]\n    for k in range(rows.size):\n        x[{x_items},] += {take}\n"
    exec(source, namespace)  # noqa: S102 - built from ints
    return namespace["impl"]


def masked_of(x, mask):
    """`x[mask]` for a boolean array `mask`, the selected elements in C order."""
    return x[mask]


@overload(masked_of, jit_options=CACHED)
def _masked_of(x, mask):
    if not (isinstance(x, types.Array) and isinstance(mask, types.Array) and mask.ndim >= 2):
        return lambda x, mask: x[mask]
    if mask.ndim != x.ndim:
        raise TypingError("the numba backend indexes with boolean masks of the array's own shape only")
    # Numba types x[mask] with the wrong rank for a mask of rank 2 or more; both flattened, it is 1-D.
    return lambda x, mask: np.ascontiguousarray(x).ravel()[np.ascontiguousarray(mask).ravel()]


def masked_assign(x, value, mask):
    """`x[mask] = value` for a boolean array `mask`; returns None."""
    x[mask] = value


@overload(masked_assign, jit_options=CACHED)
def _masked_assign(x, value, mask):
    if not (isinstance(mask, types.Array) and mask.ndim >= 2):

        def assign_impl(x, value, mask):
            x[mask] = value

        return assign_impl
    if mask.ndim != x.ndim:
        raise TypingError("the numba backend indexes with boolean masks of the array's own shape only")
    scalar = not isinstance(value, types.Array)

    def flat_impl(x, value, mask):  # Numba's x[mask] = value fails for a mask of rank 2 or more
        selected = np.ascontiguousarray(mask).ravel()
        values = np.ascontiguousarray(np.asarray(value)).ravel()
        k = 0
        for j in range(selected.size):
            if selected[j]:
                x.flat[j] = values[0] if scalar else values[k]
                k += 1

    return flat_impl


def _add_at_mask(x, g, index):
    """`x[index] += g` for a boolean mask `index` of `x`'s shape (`g` holds the selected elements, in order)."""
    selected = index.ravel()
    k = 0
    for j in range(selected.size):
        if selected[j]:
            x.flat[j] += g[k]
            k += 1


def _add_at_coordinates(x, g, index):
    """`x[index] += g` for a tuple of integer arrays, one per axis of `x` (repeated elements add up)."""
    count = index[0].size
    for axis in range(len(index)):
        if index[axis].size != count:
            raise ValueError("the numba backend needs integer index arrays of one shape (no broadcasting)")
    values = g.ravel()
    for k in range(count):
        j = 0
        for axis in range(len(index)):
            i = index[axis].flat[k]
            j = j * x.shape[axis] + (i + x.shape[axis] if i < 0 else i)
        x.flat[j] += values[k]


@overload(added_at, jit_options=CACHED)
def _added_at(x, g, index):
    def impl(x, g, index):
        out = x.copy()
        add_into(out, g, index)
        return out

    return impl


@overload(written_values, jit_options=CACHED)
def _written_values(g, index):
    items = tuple(index) if isinstance(index, types.BaseTuple) else (index,)
    arrays = [item for item in items if isinstance(item, types.Array)]
    if isinstance(index, types.Array) and isinstance(index.dtype, types.Boolean):
        return lambda g, index: masked_of(g, index)  # a mask writes each element at most once
    if not arrays:
        return lambda g, index: g[index]  # so do basic indexes
    if not all(a.ndim == 1 and isinstance(a.dtype, types.Integer) for a in arrays):
        raise TypingError("the numba backend writes through 1-D integer arrays only")
    if isinstance(index, types.Array):
        return _kept_rows
    if len(arrays) == len(items) == g.ndim:
        return _kept_elements
    raise TypingError("the numba backend writes through a tuple of integer arrays only when there is one per axis")


def _kept_rows(g, index):
    """`g[index]` for a 1-D integer array, with the rows of all but the last write of each repeated index zeroed."""
    count = g.shape[0]
    slots = np.empty(count, dtype=np.int64)
    for k in range(index.size):
        slots[index[k] + count if index[k] < 0 else index[k]] = k
    picked = g[index]
    for k in range(index.size):
        if slots[index[k] + count if index[k] < 0 else index[k]] != k:
            picked[k] = 0
    return picked


def _kept_elements(g, index):
    """`g[index]` for one integer array per axis, zero at every write but the last to each element."""
    count = index[0].size
    for axis in range(len(index)):
        if index[axis].size != count:
            raise ValueError("the numba backend needs integer index arrays of one shape (no broadcasting)")
    flat_g = np.ascontiguousarray(g).ravel()
    positions = np.empty(count, dtype=np.int64)
    for k in range(count):
        j = 0
        for axis in range(len(index)):
            i = index[axis][k]
            j = j * g.shape[axis] + (i + g.shape[axis] if i < 0 else i)
        positions[k] = j
    slots = np.empty(flat_g.size, dtype=np.int64)
    for k in range(count):
        slots[positions[k]] = k
    picked = np.empty(count, dtype=g.dtype)
    for k in range(count):
        picked[k] = flat_g[positions[k]] if slots[positions[k]] == k else 0
    return picked


def stack_of(items, axis):
    """`np.stack(items, axis)`, also of scalars (`np.array([0, 2])`), which Numba's `np.stack` rejects."""
    return np.stack(items, axis)


def _numbers(items) -> bool:
    """Whether a tuple type holds numbers only, or equally long tuples of them (nested constants)."""
    members = tuple(items)
    if members and all(isinstance(item, (types.Number, types.Boolean)) for item in members):
        return True
    nested = members and all(isinstance(item, types.BaseTuple) and _numbers(item) for item in members)
    return bool(nested) and len({len(item) for item in members}) == 1


def _row_like(item) -> bool:
    if isinstance(item, types.Array):
        return item.ndim == 1
    return (
        isinstance(item, types.BaseTuple)
        and len(item) > 0
        and _numbers(item)
        and not isinstance(item[0], types.BaseTuple)
    )


def _number_like(item) -> bool:
    return isinstance(item, (types.Number, types.Boolean)) or isinstance(item, types.Array) and item.ndim == 0


@overload(stack_of, jit_options=CACHED)
def _stack_of(items, axis):
    if isinstance(items, types.BaseTuple) and _numbers(items):  # `np.array([[1.0, 2.0], [3.0, 4.0]])` too
        return lambda items, axis: np.array(items)
    if isinstance(items, types.BaseTuple) and len(items) and all(_number_like(item) for item in items):
        size = len(items)  # numbers and NumPy's 0-d arrays (a full reduction with keepdims of a scalar)

        def impl(items, axis):
            out = np.empty(size)
            k = 0
            for item in literal_unroll(items):
                out[k] = np.asarray(item).item()
                k += 1  # noqa: SIM113 - Numba cannot enumerate a literal_unroll
            return out

        return impl
    if isinstance(items, types.BaseTuple) and len(items) and all(_row_like(item) for item in items):
        size = len(items)  # vectors and tuples of numbers: `np.array([[1.0, w], [2.0, 3.0]])` with w a float

        def rows(items, axis):
            width = len(items[0])
            out = np.empty((size, width))
            k = 0
            for item in literal_unroll(items):
                out[k] = np.asarray(item)
                k += 1  # noqa: SIM113 - Numba cannot enumerate a literal_unroll
            return out if axis == 0 else np.ascontiguousarray(out.T)

        return rows
    return lambda items, axis: np.stack(items, axis)


def write_at(x, value, index):
    """`x[index] = value`, in place."""
    x[index] = value


@njit(cache=True)
def _write_array(x, value, index):
    x[index] = value


@overload(write_at, inline="always")
def _write_at(x, value, index):
    if isinstance(x, types.Array) and isinstance(value, types.Array):
        return lambda x, value, index: _write_array(x, value, index)

    def impl(x, value, index):
        x[index] = value

    return impl


@overload(index_update, jit_options=CACHED)
def _index_update(x, value, index):
    if not isinstance(x, types.Array):
        return None
    widen = isinstance(value, types.Float) and not isinstance(x.dtype, types.Float)

    def impl(x, value, index):
        out = x.astype(np.float64) if widen else x.copy()
        masked_assign(out, value, index)  # `out[index] = value`, also for a mask of rank 2
        return out

    return impl


__all__ = [
    "add_into", "added_at", "broadcast_to_of", "contiguous", "divide32", "empty_like_of", "full_like_of", "index_update", "masked_assign", "masked_of", "ones_like_of",
    "range_length", "stack_of", "weak32", "write_at", "written_values", "zeros_like_of",
]  # fmt: skip
