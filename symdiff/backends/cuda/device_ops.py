"""Device versions of the non-elementwise primitives, called by generated host code.

Each `device_<op>` takes the same arguments as the NumPy function it stands
for (host numbers and NumPy arrays are copied in by `to_device`) and returns
a `View`. Shape ops (reshape, transpose, broadcast_to, basic indexing, ...)
only change the view; reductions and matrix products launch the kernels of
`kernels`. Generated modules carry a verbatim copy of everything below
the imports.
"""

from __future__ import annotations

import math
import os

import numpy as np
from numba import cuda

from symdiff.backends.cuda.kernels import (
    MAX,
    MAX_BLOCKS,
    MIN,
    PROD,
    REDUCE_CHUNK,
    REDUCE_THREADS,
    SIMULATOR,
    SUM,
    TILE,
    arg_reduce_kernel,
    fill_kernel,
    matmul_kernel,
    reduce_kernel,
    scan_kernel,
)
from symdiff.backends.cuda.runtime import (
    View,
    broadcast_view,
    contiguous,
    copy_into,
    empty,
    empty_result,
    launch_config,
    layout_for,
    result_dtype,
    to_device,
)
from symdiff.errors import BackendError


def normalize_axes(axis, ndim: int) -> tuple:
    """`axis` (None, int or tuple, possibly negative) as sorted non-negative axes.

    Raises NumPy's AxisError (or ValueError for a repeated axis) where NumPy would, instead of
    taking an axis modulo the rank; a 0-d array takes axis 0 or -1, as NumPy's reductions do."""
    if axis is None:
        return tuple(range(ndim))
    if ndim == 0 and not isinstance(axis, (tuple, list)) and int(axis) in (0, -1):
        return (int(axis),)
    axes = tuple(int(a) for a in axis) if isinstance(axis, (tuple, list)) else int(axis)
    return tuple(sorted(np.lib.array_utils.normalize_axis_tuple(axes, ndim)))


def reduce(x, op: int, axis=None, keepdims: bool = False, mean: bool = False) -> View:
    """Reduce `x` over `axis` with reduction `op` on the device (a sum divided by the count when `mean`)."""
    x = to_device(x)
    axes = normalize_axes(axis, x.ndim)
    kept = [d for d in range(x.ndim) if d not in axes]
    order = kept + list(axes)
    rows = math.prod(x.shape[d] for d in kept)
    count = math.prod(x.shape[d] for d in axes)
    out_shape = (
        tuple(1 if d in axes else n for d, n in enumerate(x.shape)) if keepdims else tuple(x.shape[d] for d in kept)
    )
    out = empty_result(out_shape, x)
    if rows == 0:
        return out
    if count == 0:  # an empty reduction is its identity (NumPy gives nan for mean, and refuses max/min)
        fill_kernel[launch_config(rows)](out.base, math.nan if mean else (0.0, 1.0, -math.inf, math.inf)[op])
        return out
    chunk = count if op == PROD else REDUCE_CHUNK
    if count > chunk:
        fill_kernel[launch_config(rows)](out.base, (0.0, 1.0, -math.inf, math.inf)[op])
    scale = 1.0 / count if mean and count else 1.0
    view = x.with_layout(tuple(x.shape[d] for d in order), tuple(x.strides[d] for d in order))
    items = rows * max(1, -(-count // chunk))
    layout = layout_for(view.shape, (view,))
    reduce_kernel[min(items, MAX_BLOCKS), REDUCE_THREADS](out.base, view.base, layout, rows, count, chunk, op, scale)
    return out


def device_sum(a, axis=None, keepdims=False) -> View:
    """`np.sum` on the device."""
    return reduce(a, SUM, axis, keepdims)


def device_mean(a, axis=None, keepdims=False) -> View:
    """`np.mean` on the device."""
    return reduce(a, SUM, axis, keepdims, mean=True)


def device_prod(a, axis=None, keepdims=False) -> View:
    """`np.prod` on the device (one block per output element: there is no atomic product)."""
    return reduce(a, PROD, axis, keepdims)


def device_max(a, axis=None, keepdims=False) -> View:
    """`np.max` on the device."""
    return reduce(a, MAX, axis, keepdims)


def device_min(a, axis=None, keepdims=False) -> View:
    """`np.min` on the device."""
    return reduce(a, MIN, axis, keepdims)


def _moved_last(x: View, axes: tuple) -> tuple[View, int, int]:
    """`x` with `axes` moved last (a view), the number of rows (the other axes) and of elements per row."""
    kept = [d for d in range(x.ndim) if d not in axes]
    order = kept + list(axes)
    view = x.with_layout(tuple(x.shape[d] for d in order), tuple(x.strides[d] for d in order))
    return view, math.prod(x.shape[d] for d in kept), math.prod(x.shape[d] for d in axes)


def arg_reduce(x, axis, keepdims: bool, smallest: bool) -> View:
    """`np.argmax` (`np.argmin` when `smallest`) on the device: int64 positions along `axis`, or flat ones."""
    x = to_device(x)
    if isinstance(axis, (tuple, list)):
        raise TypeError("an integer is required for the axis")
    axes = normalize_axes(axis, x.ndim)
    name = "argmin" if smallest else "argmax"
    view, rows, count = _moved_last(x, axes)
    if count == 0:
        raise ValueError(f"attempt to get {name} of an empty sequence")
    if axis is None:
        shape = (1,) * x.ndim if keepdims else ()
    else:
        shape = tuple(1 if d in axes else n for d, n in enumerate(x.shape) if keepdims or d not in axes)
    out = empty(shape, np.dtype(np.intp))
    if rows:
        arg_reduce_kernel[launch_config(rows)](
            out.base, view.base, layout_for(view.shape, (view,)), rows, count, smallest
        )
    return out


def device_argmax(a, axis=None, keepdims=False) -> View:
    """`np.argmax` on the device (one thread per result: a scan of its row)."""
    return arg_reduce(a, axis, keepdims, smallest=False)


def device_argmin(a, axis=None, keepdims=False) -> View:
    """`np.argmin` on the device."""
    return arg_reduce(a, axis, keepdims, smallest=True)


def device_cumsum(a, axis=None) -> View:
    """`np.cumsum` on the device: one thread per row along `axis` (flattened when None) sums in order."""
    x = to_device(a)
    if axis is None:
        x, axis = device_ravel(x), 0
    dtype = np.cumsum(np.zeros(1, x.dtype)).dtype  # ints and bools sum as the platform integer, as in NumPy
    out = empty(x.shape, dtype, x.weak)
    axes = normalize_axes(axis, x.ndim)
    view, rows, count = _moved_last(x, axes)
    moved, _, _ = _moved_last(out, axes)
    if rows and count:
        layout = layout_for(view.shape, (moved, view))
        scan_kernel[launch_config(rows)](moved.base, view.base, layout, rows, count, dtype.type(0))
    return out


def device_flip(m, axis=None) -> View:
    """`np.flip`: a view with negated strides, copied to a fresh contiguous value (so no other code sees a
    negative stride)."""
    x = to_device(m)
    offset, strides = x.offset, list(x.strides)
    for d in normalize_axes(axis, x.ndim):
        if x.shape[d] > 1:
            offset += (x.shape[d] - 1) * strides[d]
            strides[d] = -strides[d]
    out = empty(x.shape, x.dtype, x.weak)
    copy_into(out, x.with_layout(x.shape, tuple(strides), offset))
    return out


def device_astype(x, dtype) -> View:
    """`x.astype(dtype)` (symdiff's `as_float` and `as_integer`): a copy that converts each element as it
    is stored (a float to an integer truncates toward zero, to a bool tests != 0), as NumPy's cast."""
    x = to_device(x)
    out = empty(x.shape, np.dtype(dtype))
    copy_into(out, x)
    return out


def device_sum_to(x, shape) -> View:
    """Sum `x` down to `shape`, undoing broadcasting (symdiff's `sum_to`)."""
    x = to_device(x)
    shape = tuple(shape)
    if x.shape == shape:
        return x
    lead = x.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(lead + i for i, n in enumerate(shape) if n == 1 and x.shape[lead + i] != 1)
    return device_reshape(reduce(x, SUM, axes), shape)


_CUPY: list = []  # [cupy or None], decided at the first product


def cublas():
    """cupy, whose `matmul` calls cuBLAS, when it is importable and kernels run on a real GPU; else None.

    cupy is optional: without it, under the simulator, or with
    `SYMDIFF_CUDA_CUBLAS=0`, products run `matmul_kernel`.
    """
    if not _CUPY:
        module = None
        switch = os.environ.get("SYMDIFF_CUDA_CUBLAS", "1").strip().lower()
        if not SIMULATOR and switch not in ("0", "false", "no", "off"):
            try:
                import cupy as module
            except Exception:  # noqa: BLE001 - not installed, or built for another CUDA: use the kernel
                module = None
        _CUPY.append(module)
    return _CUPY[0]


def cupy_view(cp, view: View):
    """`view` as a cupy array over the same device memory: no copy (`__cuda_array_interface__`)."""
    base = cp.asarray(view.base)
    strides = tuple(s * base.itemsize for s in view.strides)
    return cp.lib.stride_tricks.as_strided(base[view.offset :], view.shape, strides)


def matmul_cublas(cp, a: View, b: View) -> View:
    """a @ b by cupy (cuBLAS), read in place; the product handed back as a Numba device array.

    Both libraries work on the CUDA default stream (cupy's null stream is
    used explicitly), so the product is ordered after the kernels that
    wrote `a` and `b`, and before those that read it, without a wait on the
    host. The result keeps the cupy array that owns its memory alive.
    """
    dtype = result_dtype(a, b)
    with cp.cuda.Stream.null:
        product = cp.matmul(cupy_view(cp, a).astype(dtype, copy=False), cupy_view(cp, b).astype(dtype, copy=False))
        product = cp.ascontiguousarray(product).reshape(-1)
    interface = dict(product.__cuda_array_interface__, stream=None)  # ordered by the default stream
    flat = cuda.from_cuda_array_interface(interface, owner=product, sync=False)
    return View(flat, (a.shape[0], b.shape[1]), weak=a.weak and b.weak)


def matmul_2d(a: View, b: View) -> View:
    """a (m x k) @ b (k x n): through cuBLAS when cupy is there (`cublas`), else the tiled shared-memory kernel."""
    (rows, inner), (inner_b, cols) = a.shape, b.shape
    if inner != inner_b:
        raise ValueError(f"matmul: shapes {a.shape} and {b.shape} do not align")
    cp = cublas() if rows and cols else None
    if cp is not None:
        return matmul_cublas(cp, a, b)
    c = empty_result((rows, cols), a, b)
    tiles = -(-rows // TILE) * -(-cols // TILE)
    if tiles:
        matmul_kernel[min(max(tiles, 1), MAX_BLOCKS), (TILE, TILE)](
            c.base, a.base, b.base, rows, cols, inner, a.offset, *a.strides, b.offset, *b.strides
        )
    return c


def _as_matrix(a: View, axis: int) -> View:
    """A 1-D operand as a matrix, with a length-1 axis at `axis`; 2-D operands unchanged."""
    return a if a.ndim == 2 else device_expand_dims(a, axis)


def _operands(a, b) -> tuple[View, View]:
    """`a` and `b` on the device, checked to be 1-D or 2-D (batched products are not implemented)."""
    a, b = to_device(a), to_device(b)
    if not (1 <= a.ndim <= 2 and 1 <= b.ndim <= 2):
        raise BackendError(
            f"the cuda backend multiplies 1-D and 2-D arrays only, got shapes {a.shape} and {b.shape}",
            hint="use backend='numpy' or 'numba' for batched matrix products",
        )
    return a, b


def _cotangent_matrix(c, a: View, b: View) -> View:
    """The cotangent of `a @ b` as a matrix: 1-D operands' dropped axes put back."""
    c = to_device(c)
    if b.ndim == 1:
        c = device_expand_dims(c, -1)
    if a.ndim == 1:
        c = device_expand_dims(c, -2)
    return c


def _promoted(a: View, b: View, c: View | None = None) -> tuple:
    """Batched product operands as matrices (np.matmul's rule for a 1-D operand), and the cotangent to match."""
    if c is not None:
        c = device_expand_dims(c, -1) if b.ndim == 1 else c
        c = device_expand_dims(c, -2) if a.ndim == 1 else c
    return (device_expand_dims(a, 0) if a.ndim == 1 else a), (device_expand_dims(b, 1) if b.ndim == 1 else b), c


def _batched(a: View, b: View) -> View:
    """a (..., m, k) @ b (..., k, n), batch axes broadcast: one tiled product per batch element, into one buffer."""
    batch = tuple(np.broadcast_shapes(a.shape[:-2], b.shape[:-2]))
    a, b = broadcast_view(a, batch + a.shape[-2:]), broadcast_view(b, batch + b.shape[-2:])
    out = empty_result(batch + (a.shape[-2], b.shape[-1]), a, b)
    for index in np.ndindex(*batch):
        copy_into(_item(out, index), matmul_2d(_item(a, index), _item(b, index)))
    return out


def _item(view: View, index: tuple) -> View:
    """The matrix at batch position `index` of a batched operand (a view)."""
    offset = view.offset + sum(i * s for i, s in zip(index, view.strides))
    return view.with_layout(view.shape[-2:], view.strides[-2:], offset)


def _batched_matmul(a: View, b: View) -> View:
    """np.matmul with an operand of more than two axes."""
    out = _batched(*_promoted(a, b)[:2])
    if a.ndim == 1:
        out = device_squeeze(out, -2)
    return device_squeeze(out, -1) if b.ndim == 1 else out


def device_matmul(x1, x2) -> View:
    """`x1 @ x2`: tiled products, one per batch element for operands of more than two axes."""
    a, b = to_device(x1), to_device(x2)
    if a.ndim > 2 or b.ndim > 2:
        return _batched_matmul(a, b)
    a, b = _operands(a, b)
    return device_reshape(matmul_2d(_as_matrix(a, 0), _as_matrix(b, 1)), a.shape[:-1] + b.shape[1:])


def _times_0d(a: View, s: View) -> View:
    """`a * s` for a 0-d `s` (np.dot with a 0-d operand), as the product of a column by a 1 x 1 matrix."""
    column = device_reshape(a, (-1, 1))
    return device_reshape(matmul_2d(column, device_reshape(s, (1, 1))), a.shape)


def _flat_dot(x: View, y: View) -> View:
    """The 0-d sum of `x * y` over their elements (same shapes): a row times a column."""
    return device_reshape(matmul_2d(device_reshape(x, (1, -1)), device_reshape(y, (-1, 1))), ())


def device_dot(a, b) -> View:
    """`np.dot`, which equals matmul for 1-D and 2-D operands, and is a product when one operand is 0-d."""
    a, b = to_device(a), to_device(b)
    if a.ndim == 0 or b.ndim == 0:
        return _times_0d(b, a) if a.ndim == 0 else _times_0d(a, b)
    return device_matmul(a, b)


def _product_shape(a: View, b: View) -> tuple:
    """The shape of `a @ b` (operands of rank 1 or more)."""
    if b.ndim == 1:
        return a.shape[:-1]
    if a.ndim == 1:
        return b.shape[:-2] + b.shape[-1:]
    return tuple(np.broadcast_shapes(a.shape[:-2], b.shape[:-2])) + (a.shape[-2], b.shape[-1])


def device_matmul_adjoint_a(c, a, b) -> View:
    """Cotangent of `a` in `a @ b` (symdiff's `matmul_adjoint_a`): c @ b.T (for a 0-d operand, of np.dot: c * b)."""
    a, b, c = to_device(a), to_device(b), to_device(c)
    if a.ndim == 0 or b.ndim == 0:
        return device_sum_to(_times_0d(c, b), a.shape) if b.ndim == 0 else _flat_dot(c, b)
    c = device_sum_to(c, _product_shape(a, b))  # c may be wider: the cotangent of a broadcast result
    if a.ndim > 2 or b.ndim > 2:
        a2, b2, c2 = _promoted(a, b, c)
        a_bar = device_sum_to(_batched(c2, device_swapaxes(b2, -1, -2)), a2.shape)
        return device_reshape(a_bar, a.shape)
    a, b = _operands(a, b)
    return device_reshape(matmul_2d(_cotangent_matrix(c, a, b), device_transpose(_as_matrix(b, 1))), a.shape)


def device_matmul_adjoint_b(c, a, b) -> View:
    """Cotangent of `b` in `a @ b` (symdiff's `matmul_adjoint_b`): a.T @ c (for a 0-d operand, of np.dot: c * a)."""
    a, b, c = to_device(a), to_device(b), to_device(c)
    if a.ndim == 0 or b.ndim == 0:
        return device_sum_to(_times_0d(c, a), b.shape) if a.ndim == 0 else _flat_dot(c, a)
    c = device_sum_to(c, _product_shape(a, b))  # c may be wider: the cotangent of a broadcast result
    if a.ndim > 2 or b.ndim > 2:
        a2, b2, c2 = _promoted(a, b, c)
        b_bar = device_sum_to(_batched(device_swapaxes(a2, -1, -2), c2), b2.shape)
        return device_reshape(b_bar, b.shape)
    a, b = _operands(a, b)
    return device_reshape(matmul_2d(device_transpose(_as_matrix(a, 0)), _cotangent_matrix(c, a, b)), b.shape)


def device_outer(a, b) -> View:
    """`np.outer`: a product with an inner dimension of 1."""
    a, b = device_ravel(a), device_ravel(b)
    return matmul_2d(device_expand_dims(a, 1), device_expand_dims(b, 0))


def device_transpose(a, axes=None) -> View:
    """`np.transpose`: permutes the strides, copies nothing."""
    a = to_device(a)
    axes = tuple(range(a.ndim))[::-1] if axes is None else tuple(int(d) % a.ndim for d in axes)
    return a.with_layout(tuple(a.shape[d] for d in axes), tuple(a.strides[d] for d in axes))


def device_swapaxes(a, axis1, axis2) -> View:
    """`np.swapaxes`."""
    a = to_device(a)
    axes = list(range(a.ndim))
    axes[axis1], axes[axis2] = axes[axis2], axes[axis1]
    return device_transpose(a, axes)


def device_reshape(a, shape) -> View:
    """`np.reshape`: a new view of contiguous or uniform data, else of a contiguous copy."""
    a = to_device(a)
    shape = tuple(shape) if isinstance(shape, (tuple, list)) else (shape,)
    if -1 in shape:
        known = math.prod(n for n in shape if n != -1)
        shape = tuple(a.size // known if n == -1 else n for n in shape)
    if math.prod(shape) != a.size:
        raise ValueError(f"cannot reshape an array of size {a.size} into shape {shape}")
    if a.is_uniform():
        return a.with_layout(shape, (0,) * len(shape))
    a = contiguous(a)
    return View(a.base, shape, None, a.offset)


def device_ravel(a) -> View:
    """`np.ravel`."""
    return device_reshape(a, (-1,))


def device_expand_dims(a, axis) -> View:
    """`np.expand_dims`: inserts length-1 axes."""
    a = to_device(a)
    ndim = a.ndim + (len(axis) if isinstance(axis, (tuple, list)) else 1)
    axes = normalize_axes(axis, ndim)
    shape, strides = list(a.shape), list(a.strides)
    for d in axes:
        shape.insert(d, 1)
        strides.insert(d, 0)
    return a.with_layout(tuple(shape), tuple(strides))


def device_squeeze(a, axis=None) -> View:
    """`np.squeeze`: drops length-1 axes."""
    a = to_device(a)
    axes = [d for d, n in enumerate(a.shape) if n == 1] if axis is None else normalize_axes(axis, a.ndim)
    if any(a.shape[d] != 1 for d in axes):
        raise ValueError("cannot select an axis to squeeze out which has size not equal to one")
    keep = [d for d in range(a.ndim) if d not in axes]
    return a.with_layout(tuple(a.shape[d] for d in keep), tuple(a.strides[d] for d in keep))


def device_broadcast_to(array, shape) -> View:
    """`np.broadcast_to`: stride 0 on stretched axes."""
    return broadcast_view(to_device(array), tuple(shape))


def device_copy(a) -> View:
    """`np.copy`: a fresh contiguous value (results never alias the caller's arrays)."""
    a = to_device(a)
    out = empty_result(a.shape, a)
    copy_into(out, a)
    return out


_UNIFORM: dict[tuple, object] = {}


def device_full(shape, fill_value, dtype=None) -> View:
    """`np.full`: a uniform view of one device element (cached per value and dtype)."""
    shape = tuple(shape) if isinstance(shape, (tuple, list)) else (int(shape),)
    value = np.asarray(fill_value, dtype=dtype if dtype is not None else np.result_type(fill_value, 0.0)).reshape(1)
    key = (value.dtype.str, value.tobytes())
    if key not in _UNIFORM:
        if len(_UNIFORM) > 256:
            _UNIFORM.clear()
        _UNIFORM[key] = cuda.to_device(value)
    return View(_UNIFORM[key], shape, (0,) * len(shape))
