"""Host side of the CUDA backend: device values as strided views, transfers, launches.

Every device value the generated host code handles is a `View`: a 1-D
contiguous device buffer plus a shape, element strides and an offset, like a
NumPy array over a flat buffer. Transposes, broadcasts, reshapes of
contiguous data and basic indexing are therefore free: they change the view,
and the kernels read operands through the strides (`kernels.operand_offset`).
Fresh results are always contiguous.

Generated modules carry a verbatim copy of everything below the imports, so
this file uses only NumPy, `numba.cuda` and the names `kernels` defines;
the `symdiff.errors` import is replaced there by a stand-in with the same names.
"""

from __future__ import annotations

import math
import os

import numpy as np
from numba import cuda

from symdiff.backends.cuda.kernels import MAX_BLOCKS, SIMULATOR, THREADS, strided_copy_kernel
from symdiff.errors import BackendError, NonScalarOutput


def contiguous_strides(shape: tuple) -> tuple:
    """Element strides of a C-contiguous array of `shape`."""
    strides, step = [], 1
    for extent in reversed(shape):
        strides.append(step)
        step *= extent
    return tuple(reversed(strides))


class View:
    """A strided view of a 1-D device buffer: the host's handle on a device value."""

    __slots__ = ("base", "offset", "shape", "strides", "weak")

    def __init__(self, base, shape: tuple, strides: tuple | None = None, offset: int = 0, weak: bool = False):
        self.base = base
        self.shape = tuple(int(n) for n in shape)
        self.strides = contiguous_strides(self.shape) if strides is None else tuple(int(s) for s in strides)
        self.offset = int(offset)
        self.weak = weak  # made from a Python number: its dtype yields to the other operands' (NumPy's rule)

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    @property
    def dtype(self) -> np.dtype:
        return self.base.dtype

    def __len__(self) -> int:
        if not self.shape:
            raise TypeError("len() of a 0-d array")
        return self.shape[0]

    def __repr__(self) -> str:
        return f"View(shape={self.shape}, strides={self.strides}, offset={self.offset}, dtype={self.dtype})"

    def is_contiguous(self) -> bool:
        """True when the elements are C-contiguous (strides of length-1 axes do not matter)."""
        expected = contiguous_strides(self.shape)
        return all(n == 1 or s == e for n, s, e in zip(self.shape, self.strides, expected))

    def is_uniform(self) -> bool:
        """True when every element is the same buffer element (a broadcast scalar)."""
        return all(n == 1 or s == 0 for n, s in zip(self.shape, self.strides))

    def with_layout(self, shape: tuple, strides: tuple, offset: int | None = None) -> View:
        """The same buffer seen with another shape and strides."""
        return View(self.base, shape, strides, self.offset if offset is None else offset, self.weak)


def empty(shape: tuple, dtype, weak: bool = False) -> View:
    """A fresh contiguous device value (uninitialised)."""
    return View(cuda.device_array(max(math.prod(shape), 1), dtype=dtype), shape, weak=weak)


def empty_result(shape: tuple, *operands: View) -> View:
    """A fresh contiguous value for a result computed from `operands` (dtype by NumPy promotion)."""
    return empty(shape, result_dtype(*operands), weak=all(v.weak for v in operands))


def launch_config(n: int) -> tuple[int, int]:
    """(blocks, threads) of a grid-stride launch over `n` elements."""
    return max(1, min(MAX_BLOCKS, -(-n // THREADS))), THREADS


def is_device_array(x) -> bool:
    """True for Numba device arrays and objects exposing `__cuda_array_interface__`."""
    return cuda.devicearray.is_cuda_ndarray(x) or hasattr(x, "__cuda_array_interface__")


def to_device(x) -> View:
    """`x` as a device `View`: NumPy data and Python numbers are copied in, device arrays used in place."""
    if isinstance(x, View):
        return x
    if is_device_array(x):
        return device_view(x if cuda.devicearray.is_cuda_ndarray(x) else imported(x))
    host = np.asarray(x)
    if host.dtype.kind not in "biuf":
        raise BackendError(f"the cuda backend cannot take an argument of dtype {host.dtype}")
    flat = np.ascontiguousarray(host).reshape(-1)
    weak = type(x) in (bool, int, float)  # NumPy scalars (np.float64, ...) are strong, as in NumPy 2
    return View(cuda.to_device(flat if flat.size else np.zeros(1, host.dtype)), host.shape, weak=weak)


def imported(x):
    """A Numba device array over the memory of `x` (cupy, PyTorch, ...: `__cuda_array_interface__`), no copy.

    Kernels run on the CUDA default stream. Work that `x`'s producer queued
    on the legacy or per-thread default stream (interface streams 1 and 2:
    cupy's null stream) is ordered before them, so the host does not wait
    for it; on another stream it does, as the interface asks.
    """
    interface = x.__cuda_array_interface__
    stream = interface.get("stream")
    if stream is not None and stream not in (1, 2):
        cuda.external_stream(stream).synchronize()
    return cuda.from_cuda_array_interface(dict(interface, stream=None), owner=x, sync=False)


def flat_buffer(array, span: int):
    """A 1-D device array of `span` elements from `array`'s first element on, sharing its memory."""
    step = (array.dtype.itemsize,)
    if SIMULATOR:  # the simulator's device arrays wrap NumPy arrays
        return cuda.devicearray.FakeCUDAArray(np.lib.stride_tricks.as_strided(array._ary, (span,), step))
    return cuda.devicearray.DeviceNDArray((span,), step, array.dtype, gpu_data=array.gpu_data)


def device_view(array) -> View:
    """A Numba device array as a `View` of its own memory: no copy, whatever its (non-negative) strides,
    so a transposed or sliced device argument is read in place."""
    if not array.size:
        return View(cuda.device_array(1, array.dtype), array.shape)
    if array.is_c_contiguous():
        return View(array.reshape(array.size), array.shape)
    itemsize = array.dtype.itemsize
    if any(s < 0 or s % itemsize for s in array.strides):  # rare: through the host
        return to_device(np.ascontiguousarray(array.copy_to_host()))
    strides = tuple(s // itemsize for s in array.strides)
    span = 1 + sum((n - 1) * s for n, s in zip(array.shape, strides))
    return View(flat_buffer(array, span), array.shape, strides)


def contiguous(view: View) -> View:
    """`view` itself when its elements are contiguous, else a contiguous copy."""
    if view.is_contiguous():
        return view
    out = empty_result(view.shape, view)
    copy_into(out, view)
    return out


def copy_into(dest: View, src: View) -> None:
    """Write `src` (broadcast to dest's shape) into the elements of `dest`."""
    src = broadcast_view(src, dest.shape)
    n = dest.size
    if n:
        blocks, threads = launch_config(n)
        strided_copy_kernel[blocks, threads](n, layout_for(dest.shape, (dest, src)), dest.base, src.base)


def to_host(value, device_results: bool = False):
    """A result as the caller gets it: NumPy by default, a Numba device array on request (tuples recursively)."""
    if isinstance(value, tuple):
        return tuple(to_host(item, device_results) for item in value)
    if not isinstance(value, View):
        return value
    view = contiguous(value)
    flat = view.base[view.offset : view.offset + max(view.size, 1)]
    if device_results:
        return flat.reshape(view.shape) if view.size else cuda.device_array(view.shape, view.dtype)
    host = flat.copy_to_host()[: view.size].reshape(view.shape)
    return host[()] if view.shape == () else host


def grad_seed(y) -> float:
    """The cotangent 1.0 of a scalar output (reads only the shape: no copy from the device)."""
    if np.ndim(y) != 0:
        raise NonScalarOutput(
            f"grad needs a scalar output, got shape {np.shape(y)}; "
            "use vjp for non-scalar outputs, or jacobian for the full matrix"
        )
    return 1.0


def broadcast_view(view: View, shape: tuple) -> View:
    """`view` read as an array of `shape` (NumPy broadcasting: stride 0 on stretched axes)."""
    if view.shape == tuple(shape):
        return view
    lead = len(shape) - view.ndim
    if lead < 0:
        raise ValueError(f"cannot broadcast an array of shape {view.shape} to shape {tuple(shape)}")
    strides = [0] * lead
    for n, s, target in zip(view.shape, view.strides, shape[lead:]):
        if n != target and n != 1:
            raise ValueError(f"cannot broadcast an array of shape {view.shape} to shape {tuple(shape)}")
        strides.append(s if n == target else 0)
    return view.with_layout(shape, strides)


_LAYOUTS: dict[tuple, object] = {}


def layout_for(shape: tuple, views) -> object:
    """The int64 layout array (see kernels.py) of `views` over index space `shape`, cached on the device."""
    rows = [(0, 0, *shape)]
    dense = contiguous_strides(shape)
    for view in views:
        view = broadcast_view(view, shape)
        is_dense = all(n == 1 or s == d for n, s, d in zip(shape, view.strides, dense))
        rows.append((view.offset, int(is_dense), *view.strides))
    key = tuple(rows)
    layout = _LAYOUTS.get(key)
    if layout is None:
        if len(_LAYOUTS) > 4096:
            _LAYOUTS.clear()
        layout = _LAYOUTS[key] = cuda.to_device(np.array(rows, dtype=np.int64).reshape(len(rows), 2 + len(shape)))
    return layout


def result_dtype(*values: View) -> np.dtype:
    """The floating dtype of a computation over `values`: NumPy promotion, Python numbers weak."""
    strong = [v for v in values if not v.weak] or list(values)
    return np.result_type(*(v.dtype for v in strong), 0.0)


def elementwise(kernel, arrays: tuple, *, scalars: tuple = (), writes: tuple):
    """Launch a generated elementwise kernel over the broadcast shape of `arrays`.

    The kernel's parameters are `(n, layout, *outputs, *arrays, *scalars)`.
    `writes[k]` lists the positions in `arrays` whose broadcast shape is
    output k's shape (an output may be smaller than the index space).
    Returns the fresh contiguous outputs (one value, or a tuple).
    """
    views = [to_device(a) for a in arrays]
    shape = np.broadcast_shapes(*(v.shape for v in views))
    results = [empty_result(np.broadcast_shapes(*(views[k].shape for k in sources)), *views) for sources in writes]
    n = math.prod(shape)
    if n:
        blocks, threads = launch_config(n)
        layout = layout_for(shape, results + views)
        kernel[blocks, threads](n, layout, *(r.base for r in results), *(v.base for v in views), *scalars)
    return results[0] if len(results) == 1 else tuple(results)


def enable_disk_cache(namespace: dict) -> None:
    """Let Numba keep the machine code of the kernels in `namespace` (a module's globals) on disk.

    Only for a module that is a real file: symdiff's content-addressed cache
    file, or one written by `symdiff.emit` and imported. Numba keys the cache
    on that file (its path and modification time, which symdiff never
    changes) and on the kernel's signature, the CUDA runtime version and the
    GPU's compute capability, so a later process on the same machine loads
    each kernel instead of compiling it. Under the simulator, for source run
    with `exec`, or where Numba finds nowhere to write, kernels compile on
    first call as before.
    """
    path = namespace.get("__file__")
    if SIMULATOR or not isinstance(path, str) or not os.path.isfile(path):
        return
    for value in list(namespace.values()):
        options = getattr(value, "targetoptions", None)
        if hasattr(value, "enable_caching") and isinstance(options, dict) and not options.get("device"):
            try:
                value.enable_caching()
            except RuntimeError:  # Numba found no writable place for its cache
                return
