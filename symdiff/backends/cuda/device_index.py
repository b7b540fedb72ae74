"""Device constructors, basic indexing and joins, called by generated host code.

Constant arrays (`zeros`, `ones_like`, `full`, ...) are uniform views of one
device element, so they cost no memory or bandwidth until written. Basic
indexing (integers, slices, None, Ellipsis) is a view; its transposes
(`scatter_add`, `axis_pad`) and the joins (`concatenate`, `stack`) write
into a fresh zeroed buffer through such views. Integer-array ("advanced")
indices raise `BackendError`. Generated modules carry a verbatim copy of
everything below the imports.
"""

from __future__ import annotations

import numpy as np

from symdiff.backends.cuda.device_ops import device_copy, device_expand_dims, device_full, device_ravel
from symdiff.backends.cuda.kernels import fill_kernel
from symdiff.backends.cuda.runtime import View, copy_into, empty_result, launch_config, result_dtype, to_device
from symdiff.errors import BackendError


def device_zeros(shape, dtype=float) -> View:
    """`np.zeros`, and `np.empty`: a uniform view costs no more than uninitialised memory."""
    return device_full(shape, 0, dtype)


def device_ones(shape, dtype=float) -> View:
    """`np.ones` (uniform view)."""
    return device_full(shape, 1, dtype)


def device_full_like(a, fill_value, dtype=None) -> View:
    """`np.full_like` (uniform view)."""
    return device_full(np.shape(a), fill_value, dtype if dtype is not None else _dtype_of(a))


def device_zeros_like(a, dtype=None) -> View:
    """`np.zeros_like`, and `np.empty_like` (uniform view)."""
    return device_full_like(a, 0, dtype)


def device_ones_like(a, dtype=None) -> View:
    """`np.ones_like` (uniform view)."""
    return device_full_like(a, 1, dtype)


def device_arange(*args, **kwargs) -> View:
    """`np.arange`, built on the host and copied in."""
    return to_device(np.arange(*args, **kwargs))


def device_eye(*args, **kwargs) -> View:
    """`np.eye`, built on the host and copied in."""
    return to_device(np.eye(*args, **kwargs))


def device_linspace(*args, **kwargs) -> View:
    """`np.linspace`, built on the host and copied in."""
    return to_device(np.linspace(*args, **kwargs))


def _dtype_of(a) -> np.dtype:
    return a.dtype if isinstance(a, View) else np.asarray(a).dtype


def _basic_index(index, ndim: int) -> list:
    """`index` as a list of int/slice/None items with Ellipsis expanded; rejects advanced indices."""
    items = list(index) if isinstance(index, tuple) else [index]
    for item in items:
        if not (item is None or item is Ellipsis or isinstance(item, (slice, int, np.integer))):
            raise BackendError(
                f"the cuda backend supports basic indexing only (ints, slices, None, ...), got {type(item).__name__}",
                hint="use backend='numpy' for integer-array indexing",
            )
    used = sum(1 for item in items if item is not None and item is not Ellipsis)
    fill = [slice(None)] * (ndim - used)
    if Ellipsis in items:
        at = items.index(Ellipsis)
        return items[:at] + fill + items[at + 1 :]
    return items + fill


def device_getitem(a, index) -> View:
    """`a[index]` for basic indices: a view with a new offset, shape and strides."""
    a = to_device(a)
    offset, shape, strides, axis = a.offset, [], [], 0
    for item in _basic_index(index, a.ndim):
        if item is None:
            shape.append(1)
            strides.append(0)
            continue
        extent, stride = a.shape[axis], a.strides[axis]
        axis += 1
        if isinstance(item, slice):
            start, stop, step = item.indices(extent)
            shape.append(len(range(start, stop, step)))
            strides.append(stride * step)
            offset += start * stride
        else:
            position = int(item) + extent if item < 0 else int(item)
            if not 0 <= position < extent:
                raise IndexError(f"index {item} is out of bounds for axis {axis - 1} with size {extent}")
            offset += position * stride
    return a.with_layout(tuple(shape), tuple(strides), offset)


def _zeros_buffer(shape: tuple, like: View) -> View:
    """A fresh contiguous zeroed device value, with the dtype of `like`."""
    out = empty_result(shape, like)
    fill_kernel[launch_config(out.base.size)](out.base, 0)
    return out


def device_scatter_add(x, shape, index) -> View:
    """Zeros of `shape` with `x` placed at the basic index `index` (the transpose of getitem)."""
    x = to_device(x)
    out = _zeros_buffer(tuple(shape), x)
    copy_into(device_getitem(out, index), x)
    return out


def device_axis_slice(x, start, stop, axis) -> View:
    """`x` restricted to `start:stop` along `axis` (a view)."""
    x = to_device(x)
    index = [slice(None)] * x.ndim
    index[axis] = slice(start, stop)
    return device_getitem(x, tuple(index))


def device_axis_pad(x, start, total, axis) -> View:
    """Zeros of length `total` along `axis` with `x` placed from `start`."""
    x = to_device(x)
    shape = list(x.shape)
    shape[axis] = total
    out = _zeros_buffer(tuple(shape), x)
    copy_into(device_axis_slice(out, start, start + x.shape[axis], axis), x)
    return out


def device_concatenate(arrays, axis=0) -> View:
    """`np.concatenate`: each operand copied into its slice of a fresh buffer."""
    views = [to_device(a) for a in arrays]
    if axis is None:
        views, axis = [device_ravel(v) for v in views], 0
    axis = axis % views[0].ndim
    shape = list(views[0].shape)
    shape[axis] = sum(v.shape[axis] for v in views)
    out = empty_result(tuple(shape), *views)
    start = 0
    for view in views:
        copy_into(device_axis_slice(out, start, start + view.shape[axis], axis), view)
        start += view.shape[axis]
    return out


def device_stack(arrays, axis=0) -> View:
    """`np.stack`: concatenation of the operands with a new length-1 axis."""
    views = [to_device(a) for a in arrays]
    axis = axis % (views[0].ndim + 1)
    return device_concatenate([device_expand_dims(v, axis) for v in views], axis)


def _fitted(value: View, ndim: int) -> View:
    """`value` without the leading length-1 axes that make it longer than `ndim` (NumPy drops them in assignment)."""
    while value.ndim > ndim and value.shape[0] == 1:
        value = value.with_layout(value.shape[1:], value.strides[1:])
    return value


def device_setitem(x, value, index) -> View:
    """A copy of `x` with `x[index] = value` (symdiff's `index_update`), for basic indices.

    The copy is fresh and contiguous: `x` may be an argument, a value a tape
    holds, or a uniform view of one constant element, none of which may change.
    """
    x, value = to_device(x), to_device(value)
    out = empty_result(x.shape, x, value)
    copy_into(out, x)
    target = device_getitem(out, index)
    copy_into(target, _fitted(value, target.ndim))
    return out


def _shares_elements(x: View) -> bool:
    """Whether elements of `x` share memory with each other or with a cached constant: a uniform view of one
    element (`np.zeros` here, and every view of it, has only zero strides), a broadcast, or a 0-d value."""
    return all(s == 0 for s in x.strides) or any(n > 1 and s == 0 for n, s in zip(x.shape, x.strides))


def device_write(x, value, index) -> View:
    """`x[index] = value` in place, returning `x`, where codegen found nothing else reads the old value.

    A copy-then-write (`device_setitem`) instead where `x` is a uniform
    constant or a broadcast (in NumPy these would be fresh or read-only
    arrays) or where the value's dtype would promote `x`'s.
    """
    x, value = to_device(x), to_device(value)
    if _shares_elements(x) or result_dtype(x, value) != x.dtype:
        return device_setitem(x, value, index)
    if value.base is x.base:  # `x[1:] = x[:-1]`: threads would read elements others write
        value = device_copy(value)
    target = device_getitem(x, index)
    copy_into(target, _fitted(value, target.ndim))
    return x


def device_written_values(g, index) -> View:
    """`g[index]`: for basic indices every element is written at most once, so it is the cotangent of the value written."""
    return device_getitem(g, index)


def device_append_row(rows, item) -> View:
    """`rows` with `item` added as its last row (a list grown by append in a loop, held as one array)."""
    rows, item = to_device(rows), to_device(item)
    if rows.shape[0] == 0:
        out = empty_result((1, *item.shape), rows, item)
        copy_into(out, device_expand_dims(item, 0))
        return out
    if rows.shape[1:] != item.shape:
        raise ValueError(
            "a list grown by append in a loop is held as an array, so its items need one shape: "
            f"{rows.shape[1:]}, then {item.shape}"
        )
    return device_concatenate([rows, device_expand_dims(item, 0)], 0)
