"""Device constructors, indexing and joins, called by generated host code.

Constant arrays (`zeros`, `ones_like`, `full`, ...) are uniform views of one
device element, so they cost no memory or bandwidth until written. Basic
indexing (integers, slices, None, Ellipsis) is a view; its transposes
(`scatter_add`, `axis_pad`) and the joins (`concatenate`, `stack`) write
into a fresh zeroed buffer through such views.

An index with integer arrays, lists or boolean masks ("advanced" indexing)
is host data (planning keeps such indexes on the host and refuses, at build
time, one computed on the GPU). The buffer offset of every element it
selects is computed on the host by NumPy's own indexing of the view's
per-axis offsets, so NumPy's rules hold exactly: where the array axes go
beside slices, broadcasting of several arrays, negative and out-of-range
entries, masks. A gather kernel then reads those elements; the transpose
(`scatter_add`, `np.add.at`) adds into them atomically, since an index may
repeat; a write (`x[index] = v`) stores only the write NumPy keeps for an
element written several times, chosen on the host, so no two threads store
to one element. Generated modules carry a verbatim copy of everything below
the imports.
"""

from __future__ import annotations

import numpy as np
from numba import cuda

from symdiff.backends.cuda.device_ops import device_copy, device_expand_dims, device_full, device_ravel
from symdiff.backends.cuda.kernels import fill_kernel, gather_kernel, scatter_add_kernel, scatter_kernel
from symdiff.backends.cuda.runtime import (
    View,
    broadcast_view,
    copy_into,
    empty,
    empty_result,
    imported,
    is_device_array,
    launch_config,
    result_dtype,
    to_device,
)


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


def _index_items(index) -> list:
    """`index` as a list of items; device arrays among them (an index argument may be one) copied to the host."""
    items = list(index) if isinstance(index, tuple) else [index]
    for k, item in enumerate(items):
        if isinstance(item, View):  # planning keeps indexes on the host; this is a guard, not a path
            raise TypeError("an index computed on the GPU reached device_getitem")
        if is_device_array(item):
            items[k] = (item if cuda.devicearray.is_cuda_ndarray(item) else imported(item)).copy_to_host()
    return items


def _is_advanced(items: list) -> bool:
    """Whether the index has an integer array, a list or a boolean (NumPy's advanced indexing)."""
    return any(isinstance(item, (list, np.ndarray, bool, np.bool_)) for item in items)


def _basic_index(items: list, ndim: int) -> list:
    """Basic index `items` (int/slice/None/Ellipsis) with Ellipsis expanded and missing axes filled."""
    for item in items:
        if not (item is None or item is Ellipsis or isinstance(item, (slice, int, np.integer))):
            raise IndexError(
                "only integers, slices (`:`), ellipsis (`...`), numpy.newaxis (`None`) and integer or boolean "
                f"arrays are valid indices, got {type(item).__name__}"
            )
    used = sum(1 for item in items if item is not None and item is not Ellipsis)
    fill = [slice(None)] * (ndim - used)
    if Ellipsis in items:
        at = items.index(Ellipsis)
        return items[:at] + fill + items[at + 1 :]
    return items + fill


def _element_offsets(view: View, items: list) -> np.ndarray:
    """The buffer offset of each element of `view[index]` for an advanced index, in the result's shape.

    NumPy indexes, for each axis, a broadcast (no memory) of that axis's
    offsets over the view's shape; the sum is the offset of each selected
    element. Host work and memory are those of the result, times the rank.
    """
    index = tuple(items)
    offsets = np.array(np.broadcast_to(np.int64(view.offset), view.shape)[index], dtype=np.int64)
    for axis, (extent, stride) in enumerate(zip(view.shape, view.strides)):
        if stride and extent > 1:
            along = (np.arange(extent, dtype=np.int64) * stride).reshape((extent,) + (1,) * (view.ndim - axis - 1))
            offsets += np.broadcast_to(along, view.shape)[index]
    return offsets


def _kept_writes(view: View, items: list, offsets: np.ndarray) -> np.ndarray:
    """`offsets` with -1 at every write of `view[index] = value` that NumPy's assignment overwrites later
    (a repeated index): the same assignment of write numbers on the host shows which write each element keeps."""
    flat = offsets.reshape(-1)
    if np.unique(flat).size == flat.size:
        return offsets
    order = np.arange(flat.size, dtype=np.int64).reshape(offsets.shape)
    slots = np.empty(view.shape, dtype=np.int64)
    slots[tuple(items)] = order
    return np.where(slots[tuple(items)] == order, offsets, -1)


def _gather(a: View, offsets: np.ndarray) -> View:
    """A fresh array of `offsets`' shape holding `a`'s buffer elements at `offsets` (0 where an offset is -1)."""
    out = empty(offsets.shape, a.dtype, a.weak)
    n = offsets.size
    if n:
        gather_kernel[launch_config(n)](n, out.base, a.base, cuda.to_device(offsets.reshape(-1)))
    return out


def _scatter(dest: View, offsets: np.ndarray, value: View, kernel) -> None:
    """Store (`scatter_kernel`) or add (`scatter_add_kernel`) `value`, broadcast to `offsets`' shape, into
    `dest`'s buffer at `offsets`; an offset of -1 is skipped by the store."""
    n = offsets.size
    if not n:
        return
    value = broadcast_view(_fitted(value, offsets.ndim), offsets.shape)
    if value.dtype != dest.dtype or not value.is_contiguous():
        staged = empty(offsets.shape, dest.dtype)
        copy_into(staged, value)
        value = staged
    kernel[launch_config(n)](n, dest.base, cuda.to_device(offsets.reshape(-1)), value.base, value.offset)


def device_getitem(a, index) -> View:
    """`a[index]`: for basic indices a view with a new offset, shape and strides; for advanced ones a gather."""
    a = to_device(a)
    items = _index_items(index)
    if _is_advanced(items):
        return _gather(a, _element_offsets(a, items))
    offset, shape, strides, axis = a.offset, [], [], 0
    for item in _basic_index(items, a.ndim):
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
    """Zeros of `shape` with `x` added at `index` (the transpose of getitem; a repeated integer index adds up)."""
    x = to_device(x)
    out = _zeros_buffer(tuple(shape), x)
    items = _index_items(index)
    if _is_advanced(items):
        _scatter(out, _element_offsets(out, items), x, scatter_add_kernel)
    else:
        copy_into(device_getitem(out, tuple(items)), x)
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


def _write(x: View, value: View, index) -> None:
    """`x[index] = value` into `x`'s elements."""
    items = _index_items(index)
    if _is_advanced(items):
        _scatter(x, _kept_writes(x, items, _element_offsets(x, items)), value, scatter_kernel)
        return
    target = device_getitem(x, tuple(items))
    copy_into(target, _fitted(value, target.ndim))


def device_setitem(x, value, index) -> View:
    """A copy of `x` with `x[index] = value` (symdiff's `index_update`).

    The copy is fresh and contiguous: `x` may be an argument, a value a tape
    holds, or a uniform view of one constant element, none of which may change.
    """
    x, value = to_device(x), to_device(value)
    out = empty_result(x.shape, x, value)
    copy_into(out, x)
    _write(out, value, index)
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
    _write(x, value, index)
    return x


def device_written_values(g, index) -> View:
    """`g[index]`, where `x[index] = value` wrote: the cotangent of `value`. An element written several times
    (a repeated integer index) reads as 0 at every write but the one NumPy keeps."""
    g = to_device(g)
    items = _index_items(index)
    if _is_advanced(items):
        return _gather(g, _kept_writes(g, items, _element_offsets(g, items)))
    return device_getitem(g, tuple(items))


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
