"""The CUDA backend: the gradient as `numba.cuda` kernels plus a host function that drives them.

This file is the package's public face: `compile_function` (what
`symdiff.backends.load("cuda")` hands to `api`), `check_runnable` (which
`api.build` calls first: no GPU and no simulator is a `BackendError` at
build time, unless only the source is wanted), `on_device` and
`host_function`. The other modules are private to the backend.

`compile_function(function, filename)`:

1. refuses at build time, with a located `BackendError`, ops the GPU cannot
   run (einsum, indexes computed on the GPU, ...); control flow runs on the host;
2. plans placement and fusion (`planning.py`): elementwise chains, forward
   and backward, become one kernel each; reductions, matrix products and
   shape ops call the runtime library;
3. prints one standalone module (`standalone.py`, kernels and host function
   by `emit.py`), which is what `.source` shows: the generated kernels and
   host function first, then a verbatim copy of the runtime library
   (`kernels.py`, `runtime.py`, `device_ops.py`, `device_index.py`), so the
   file runs where symdiff is not installed (it imports only NumPy and Numba);
4. executes it: from the content-addressed cache file when the build cache
   is on, so Numba keeps the kernels' machine code on disk beside it
   (`runtime.enable_disk_cache`) and a later process loads it; else from
   memory. Kernels compile on first call, per argument types.

Calling convention: arguments may be NumPy arrays, Python numbers or device
arrays (Numba device arrays, or anything with `__cuda_array_interface__`,
used in place whatever their strides). Matrix products go through cuBLAS
when cupy is importable on a real GPU (`device_ops.cublas`). Intermediates stay on the GPU. Results come back as NumPy
arrays (NumPy scalars for 0-d results); `on_device(derivative)` returns a
variant whose results stay on the GPU as Numba device arrays, so they can
feed the next call without a round trip. Without a GPU, set
`NUMBA_ENABLE_CUDASIM=1` before Numba is imported to run the same code on
Numba's CUDA simulator (slow: a few thousand threads per second).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from symdiff.backends import building_source_only, cache
from symdiff.backends.cuda import kernels
from symdiff.backends.cuda.emit import DEVICE_RESULTS
from symdiff.backends.cuda.planning import plan
from symdiff.backends.cuda.standalone import module_source
from symdiff.backends.numpy import Compiled, compile_source
from symdiff.errors import BackendError
from symdiff.ir.nodes import Function
from symdiff.version import __version__


def compile_function(function: Function, filename: str) -> Compiled:
    """Build the CUDA version of `function`: check, plan, print, execute. See the module docstring."""
    the_plan = plan(function)
    source = module_source(function, the_plan)
    host, namespace = _execute(function.name, source, filename)
    return Compiled(_needing_a_device(host), source, namespace)


def build_options() -> dict[str, Any]:
    """The settings that change what a build prints (a key part for symdiff/build_cache.py): none."""
    return {}


def compile_stored(stored: Any, filename: str) -> Compiled:
    """Run the module a build printed earlier (`build_cache.Stored`) as `compile_function` runs a new
    one, so a new process skips the build and, from the kernel cache, the compiles."""
    host, namespace = _execute(stored.name, stored.source, filename)
    return Compiled(_needing_a_device(host), stored.source, namespace)


_NO_DEVICE_HINT = (
    "run on a machine with one, set NUMBA_ENABLE_CUDASIM=1 before Numba is imported to use the simulator, "
    "use backend='numba', or write the module without running it (symdiff.emit(f, path, backend='cuda') or "
    "`symdiff grad MODULE:FUNCTION --backend cuda --out FILE.py`)"
)
_AVAILABLE: list[bool] = []


def device_available() -> bool:
    """Whether kernels can run here: Numba's CUDA simulator is on, or a GPU with a working driver
    answers (asked once per process; `cuda.is_available()` initialises the driver)."""
    if not _AVAILABLE:
        from numba import cuda

        try:
            _AVAILABLE.append(kernels.SIMULATOR or bool(cuda.is_available()))
        except Exception:  # noqa: BLE001 - a driver that fails to load is no GPU to run on
            _AVAILABLE.append(False)
    return _AVAILABLE[0]


def check_runnable() -> None:
    """Refuse, with a `BackendError`, to build a derivative that could not run on this machine
    (no GPU and no simulator); `api.build` calls this first. A build that only prints the source
    (`symdiff.emit`, the CLI's `--out`: `backends.source_only()`) needs no GPU and passes."""
    if building_source_only():
        return
    if not device_available():
        raise BackendError("the cuda backend found no NVIDIA GPU with a working driver to run on", hint=_NO_DEVICE_HINT)
    if not kernels.SIMULATOR:
        _check_compiler()


_COMPILER_CHECKED: list[bool] = []


def _check_compiler() -> None:
    """Load the CUDA target's typing registries, as the first kernel compile would (once per process).

    A numba-cuda that cannot work with the installed NumPy fails there: numba-cuda 0.30 with NumPy 2.5,
    whose `np.row_stack` is gone, raised AttributeError from inside Numba at the first call on an H200.
    Here that is a `BackendError` at build time that names both versions.
    """
    if _COMPILER_CHECKED:
        return
    try:
        from numba.cuda.descriptor import cuda_target
    except ImportError:  # another layout of the CUDA target: its first compile reports for itself
        _COMPILER_CHECKED.append(True)
        return
    try:
        cuda_target.typing_context.refresh()
    except Exception as error:  # any failure here is an install that cannot compile kernels
        import numpy as np

        raise BackendError(
            f"numba-cuda {_versions()[2]} cannot compile kernels with NumPy {np.__version__} "
            f"({type(error).__name__}: {error})",
            hint="install a NumPy release that this numba-cuda supports, or a numba-cuda that supports this NumPy; "
            "the source can still be written (symdiff.emit(f, path, backend='cuda'))",
        ) from error
    _COMPILER_CHECKED.append(True)


def _versions() -> tuple[str, ...]:
    """What a cached module's name hashes besides its source (which holds the runtime library)."""
    import numba

    try:
        from numba_cuda import __version__ as numba_cuda_version
    except ImportError:  # the CUDA target bundled with older Numba releases
        numba_cuda_version = "bundled"
    return (__version__, numba.__version__, numba_cuda_version, sys.version)


def _execute(name: str, source: str, filename: str) -> tuple[Callable, dict[str, Any]]:
    """Run the module `source` and return its function `name` and its globals.

    With the build cache on (`SYMDIFF_BUILD_CACHE`, default on), the module
    is written to the content-addressed cache directory (`backends/cache.py`,
    shared with the Numba backend) and imported from there, so that Numba
    can keep its kernels' machine code next to it (`runtime.enable_disk_cache`)
    and a later process loads them instead of compiling them. Otherwise, or
    where the directory is refused or not writable, it runs from memory and
    its kernels compile in every process, as on the NumPy backend.
    """
    if cache.enabled():
        try:
            path = cache.store(name, source, cache.content_key(source, *_versions()))
            module = cache.import_file(path, source)
            return getattr(module, name), vars(module)
        except BackendError:
            pass
    namespace: dict[str, Any] = {"__name__": "symdiff_generated_cuda"}
    return compile_source(source, name, namespace, filename), namespace


def _needing_a_device(host: Callable) -> Callable:
    """`host`, which first says in one line that there is no GPU to run on, where there is none:
    a derivative built only for its source (`check_runnable`) can still be called by mistake."""
    checked: list[bool] = []

    def run(*args: Any, **kwargs: Any) -> Any:
        if not checked:
            if not device_available():
                raise BackendError(
                    "the cuda backend found no NVIDIA GPU with a working driver to run on", hint=_NO_DEVICE_HINT
                )
            checked.append(True)
        return host(*args, **kwargs)

    run.__name__, run.__wrapped__ = host.__name__, host
    return run


def host_function(derivative: Any) -> Callable:
    """The generated host function behind a `backend="cuda"` derivative; its `__globals__` hold the kernels."""
    host = getattr(getattr(derivative, "_compiled", None), "__wrapped__", None)  # see _needing_a_device
    if getattr(derivative, "backend", None) != "cuda" or host is None:
        raise BackendError("expected a derivative built with backend='cuda'")
    return host


def on_device(derivative: Any) -> Callable:
    """A variant of a `backend="cuda"` derivative whose results stay on the GPU (Numba device arrays).

    It takes every argument positionally and skips the derivative's argument
    checks. Example::

        g = symdiff.grad(loss, wrt=(0, 1), backend="cuda")
        dw, db = symdiff.backends.cuda.on_device(g)(w_dev, b_dev, x_dev, y_dev)
    """
    host = host_function(derivative)

    def call(*args: Any) -> Any:
        return host(*args, **{DEVICE_RESULTS: True})

    call.__name__ = f"{host.__name__}_on_device"
    call.__doc__ = f"{host.__name__} with results left on the GPU."
    return call
