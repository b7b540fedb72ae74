"""The CUDA backend's runtime: no-GPU refusal, the disk cache of kernels, cuBLAS, device arrays, the benchmark.

Most tests run on Numba's CUDA simulator (tests/conftest.py turns it on).
Those marked `needs_gpu` run only where a real GPU answers (and, for cuBLAS,
cupy is importable): they are skipped in CI and on machines without one.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from numba import cuda

import symdiff as sd
from symdiff import cli
from symdiff.backends import cuda as cuda_backend
from symdiff.errors import BackendError

ROOT = Path(__file__).resolve().parents[2]


def _real_gpu() -> bool:
    """Whether a real GPU answers in a process without the simulator (asked in a subprocess:
    this one runs the simulator)."""
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="0")
    probe = "from numba import cuda; print(cuda.is_available())"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, check=False)
    return done.stdout.strip().endswith("True")


REAL_GPU = _real_gpu()
needs_gpu = pytest.mark.skipif(not REAL_GPU, reason="needs an NVIDIA GPU with a working driver")


def tanh_loss(w, x):
    return np.sum(np.tanh(x @ w) ** 2)


# -- no GPU, no simulator ---------------------------------------------------------


@pytest.fixture
def no_device(monkeypatch):
    """This process as it would be on a machine with neither a GPU nor the simulator."""
    monkeypatch.setattr(cuda_backend, "_AVAILABLE", [False])


def _fresh_function(directory: Path, name: str):
    """A function defined in a new file, so no cache of an earlier build answers."""
    path = directory / f"{name}_module.py"
    path.write_text(f"import numpy as np\n\n\ndef {name}(w, x):\n    return np.sum(np.tanh(x @ w) ** 2)\n")
    spec = importlib.util.spec_from_file_location(f"{name}_module", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return getattr(module, name)


def test_no_gpu_refuses_at_build_time(no_device, tmp_path):
    with pytest.raises(BackendError, match="no NVIDIA GPU") as caught:
        sd.grad(_fresh_function(tmp_path, "no_gpu_loss"), backend="cuda")
    assert "NUMBA_ENABLE_CUDASIM=1" in str(caught.value) and "emit" in str(caught.value)
    with pytest.raises(BackendError, match="no NVIDIA GPU"):
        sd.value_and_grad(tanh_loss, backend="cuda")  # a derivative built earlier is refused too


def test_a_numba_cuda_that_cannot_compile_with_this_numpy_refuses_at_build_time(monkeypatch, tmp_path):
    """On an H200 with NumPy 2.5, numba-cuda 0.30's typing registries import np.row_stack, which is gone:
    the first kernel compile raised AttributeError from inside Numba. Now the build says so."""

    def broken_refresh():
        raise AttributeError("module 'numpy' has no attribute 'row_stack'")

    # the GPU target's descriptor, as that install had it (this process runs the simulator's numba.cuda)
    target = SimpleNamespace(typing_context=SimpleNamespace(refresh=broken_refresh))
    monkeypatch.setitem(sys.modules, "numba.cuda.descriptor", SimpleNamespace(cuda_target=target))
    monkeypatch.setattr(cuda_backend, "_AVAILABLE", [True])  # a GPU answers
    monkeypatch.setattr(cuda_backend.kernels, "SIMULATOR", False)
    monkeypatch.setattr(cuda_backend, "_COMPILER_CHECKED", [])
    function = _fresh_function(tmp_path, "old_numba_cuda_loss")
    with pytest.raises(BackendError, match=r"numba-cuda \S+ cannot compile kernels with NumPy .*row_stack"):
        sd.grad(function, backend="cuda")
    assert "@cuda.jit" in sd.emit(function, str(tmp_path / "emitted.py"), backend="cuda")  # emitting still works


def test_no_gpu_still_emits_the_module(no_device, tmp_path):
    function = _fresh_function(tmp_path, "emitted_loss")
    text = sd.emit(function, str(tmp_path / "emitted.py"), backend="cuda")
    assert "@cuda.jit\ndef emitted_loss_grad_kernel_" in text
    assert (tmp_path / "emitted.py").read_text() == text
    with pytest.raises(BackendError, match="no NVIDIA GPU"):  # emitting it did not make it runnable
        sd.grad(function, backend="cuda")


def test_no_gpu_cli_writes_the_module(no_device, tmp_path, monkeypatch):
    (tmp_path / "model.py").write_text(
        "import numpy as np\n\n\ndef loss(w, x):\n    return np.sum(np.tanh(x @ w) ** 2)\n"
    )
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "loss_grad_cuda.py"
    assert cli.main(["grad", "model.py:loss", "--backend", "cuda", "--out", str(out)]) == 0
    assert "def loss_grad(w, x, *, device_results=False):" in out.read_text()


# -- the disk cache of kernels ---------------------------------------------------------


@pytest.fixture
def cache_on(tmp_path, monkeypatch) -> Path:
    """The build cache on, in a directory of this test's own."""
    directory = tmp_path / "cache"
    monkeypatch.setenv("SYMDIFF_CACHE_DIR", str(directory))
    monkeypatch.setenv("SYMDIFF_BUILD_CACHE", "1")
    return directory


def test_module_runs_from_the_cache_directory(cache_on, tmp_path):
    loss = _fresh_function(tmp_path, "cached_loss")
    gradient = sd.grad(loss, backend="cuda")
    files = list(cache_on.glob("cached_loss_grad_*.py"))
    assert len(files) == 1 and files[0].read_text() == gradient.source
    assert cuda_backend.host_function(gradient).__globals__["__file__"] == str(files[0])
    rng = np.random.default_rng(3)
    w, x = rng.normal(size=(4, 3)), rng.normal(size=(5, 4))
    np.testing.assert_allclose(gradient(w, x), sd.grad(loss)(w, x), rtol=1e-12, atol=1e-13)


def test_no_module_file_with_the_build_cache_off(cache_on, tmp_path, monkeypatch):
    monkeypatch.setenv("SYMDIFF_BUILD_CACHE", "0")
    gradient = sd.grad(_fresh_function(tmp_path, "uncached_loss"), backend="cuda")
    assert not list(cache_on.glob("uncached_loss_grad_*.py"))
    assert "__file__" not in cuda_backend.host_function(gradient).__globals__


def test_a_later_process_skips_the_build_too(cache_on, tmp_path, monkeypatch):
    """The build cache (symdiff/build_cache.py) holds CUDA derivatives as well: a hit has no IR until
    asked for, runs from the same module file, and `on_device` needs no IR."""
    from symdiff import api
    from symdiff.rules.registry import RULES

    for name in [name for name, rule in RULES.items() if rule.user]:  # one turns the build cache off
        monkeypatch.delitem(RULES, name)
    loss = _fresh_function(tmp_path, "stored_loss")
    first = sd.grad(loss, backend="cuda")
    monkeypatch.setattr(api, "_CACHE", {})  # as in a new process
    api._lowered.cache_clear()
    second = sd.grad(loss, backend="cuda")
    assert second._function is None and second.source == first.source
    rng = np.random.default_rng(6)
    w, x = rng.normal(size=(4, 3)), rng.normal(size=(5, 4))
    with monkeypatch.context() as numpy_only:
        numpy_only.setenv("SYMDIFF_BUILD_CACHE", "0")  # the reference stores nothing
        want = sd.grad(loss)(w, x)
    np.testing.assert_allclose(second(w, x), want, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(cuda_backend.on_device(second)(w, x).copy_to_host(), want, rtol=1e-12, atol=1e-13)
    assert second._function is None
    assert len(list(cache_on.glob("stored_loss_build_*.json"))) == 1
    assert len(list(cache_on.glob("stored_loss_grad_*.py"))) == 1


_CACHE_PROBE = textwrap.dedent(
    """
    import json, sys, time

    import numpy as np

    import symdiff as sd
    from symdiff.backends import cuda as cuda_backend, source_only


    def tanh_loss(w, x):
        return np.sum(np.tanh(x @ w) ** 2)


    if sys.argv[1] == "build":  # only what the build sets up: no GPU needed
        with source_only():
            gradient = sd.grad(tanh_loss, backend="cuda")
    else:
        gradient = sd.grad(tanh_loss, backend="cuda")
    kernels = {
        name: value for name, value in cuda_backend.host_function(gradient).__globals__.items()
        if hasattr(value, "enable_caching") and not value.targetoptions.get("device")
    }
    report = {"caches": sorted({type(k._cache).__name__ for k in kernels.values()})}
    report["paths"] = sorted({str(getattr(k._cache, "cache_path", "")) for k in kernels.values()})
    if sys.argv[1] == "call":
        rng = np.random.default_rng(0)
        start = time.perf_counter()
        gradient(rng.normal(size=(64, 32)), rng.normal(size=(128, 64)))
        report["seconds"] = time.perf_counter() - start
        report["hits"] = sum(sum(k.stats.cache_hits.values()) for k in kernels.values())
        report["misses"] = sum(sum(k.stats.cache_misses.values()) for k in kernels.values())
    print(json.dumps(report))
    """
)


def _probe(directory: Path, what: str, build_cache: str = "1") -> dict:
    """Run `_CACHE_PROBE` in a fresh process without the simulator; its report."""
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="0", SYMDIFF_CACHE_DIR=str(directory), SYMDIFF_BUILD_CACHE=build_cache)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    script = directory.parent / "cache_probe.py"
    script.write_text(_CACHE_PROBE)
    command = [sys.executable, str(script), what]
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_kernels_are_set_to_cache_next_to_the_module(tmp_path):
    """Without the simulator, and without a GPU: each kernel (not a device function) gets Numba's
    CUDA disk cache, in the cache directory's __pycache__; with the build cache off, none does."""
    directory = tmp_path / "cache"
    report = _probe(directory, "build")
    assert report["caches"] == ["CUDACache"] and report["paths"] == [str(directory / "__pycache__")]
    assert _probe(tmp_path / "off", "build", build_cache="0")["caches"] == ["NullCache"]


@needs_gpu
def test_a_second_process_loads_the_kernels_instead_of_compiling(tmp_path):
    directory = tmp_path / "cache"
    first = _probe(directory, "call")
    assert first["misses"] > 0 and first["hits"] == 0
    assert list((directory / "__pycache__").glob("tanh_loss_grad_*.nbi"))  # Numba's index files
    second = _probe(directory, "call")
    assert second["hits"] == first["misses"] and second["misses"] == 0, (first, second)
    print(f"first call: compiling {first['seconds']:.2f} s, loading {second['seconds']:.2f} s")


# -- matrix products through cuBLAS (cupy) -------------------------------------------------


def products(w, v, x):
    h = np.tanh(x @ w)  # 2-D @ 2-D; the backward pass multiplies transposed views
    return np.sum(np.sin(h @ v)) + 0.1 * np.sum((x.T @ x) * (x.T @ x))  # matrix @ vector, x.T read in place


class _Product(np.ndarray):
    """A product `_FakeCupy` made: what a cupy array would be, with the interface the runtime reads."""

    @property
    def __cuda_array_interface__(self) -> dict:
        return {"shape": self.shape, "typestr": self.dtype.str, "data": (0, False), "version": 3}


class _FakeCupy:
    """NumPy standing in for cupy over the simulator's device arrays (whose memory is a NumPy array):
    checks what `matmul_cublas` hands to cupy and takes back (offsets, strides, dtypes, shapes)."""

    def __init__(self):
        self.products = 0
        self.lib = SimpleNamespace(stride_tricks=SimpleNamespace(as_strided=np.lib.stride_tricks.as_strided))
        self.cuda = SimpleNamespace(Stream=SimpleNamespace(null=contextlib.nullcontext()))

    def asarray(self, array):
        return array._ary  # the simulator's device memory, not a copy

    def matmul(self, a, b):
        self.products += 1
        return np.matmul(a, b)

    def ascontiguousarray(self, a):
        return np.ascontiguousarray(a).view(_Product)


def test_matrix_products_go_through_cupy_when_it_is_there(monkeypatch):
    rng = np.random.default_rng(4)
    args = (rng.normal(size=(4, 3)), rng.normal(size=3), rng.normal(size=(5, 4)))
    gradient = sd.grad(products, wrt=(0, 1, 2), backend="cuda")
    fallback = gradient(*args)  # the simulator: no cupy, the tiled kernel
    fake = _FakeCupy()
    namespace = cuda_backend.host_function(gradient).__globals__
    monkeypatch.setitem(namespace, "_CUPY", [fake])

    def imported(interface, owner, sync):
        assert interface["stream"] is None and sync is False  # ordered by the default stream, no host wait
        return cuda.to_device(np.asarray(owner))

    monkeypatch.setattr(cuda, "from_cuda_array_interface", imported, raising=False)
    got = gradient(*args)
    assert fake.products >= 5  # forward x @ w, h @ v, x.T @ x; and their cotangents
    want = sd.grad(products, wrt=(0, 1, 2))(*args)
    for g, f, r in zip(got, fallback, want, strict=True):
        np.testing.assert_allclose(g, r, rtol=1e-12, atol=1e-13)
        np.testing.assert_allclose(f, r, rtol=1e-12, atol=1e-13)


def test_cublas_is_off_in_the_simulator_and_by_switch(monkeypatch):
    namespace = cuda_backend.host_function(sd.grad(products, wrt=(0, 1, 2), backend="cuda")).__globals__
    fake = _FakeCupy()
    monkeypatch.setitem(sys.modules, "cupy", fake)  # importable, as on a GPU machine with cupy
    monkeypatch.setitem(namespace, "_CUPY", [])
    assert namespace["cublas"]() is None  # the simulator runs no cuBLAS
    monkeypatch.setitem(namespace, "SIMULATOR", False)
    for switch, want in (("0", None), ("off", None), ("1", fake)):
        monkeypatch.setitem(namespace, "_CUPY", [])
        monkeypatch.setenv("SYMDIFF_CUDA_CUBLAS", switch)
        assert namespace["cublas"]() is want


# -- device-resident data --------------------------------------------------------------


def test_strided_device_arguments_are_read_in_place():
    rng = np.random.default_rng(5)
    w, x = rng.normal(size=(4, 3)), rng.normal(size=(5, 4))
    gradient = sd.grad(products, wrt=(0, 1, 2), backend="cuda")
    v = rng.normal(size=3)
    want = sd.grad(products, wrt=(0, 1, 2))(w, v, x)
    w_t = cuda.to_device(np.ascontiguousarray(w.T)).T  # a transposed device array
    wide = cuda.to_device(np.stack([v, -v], axis=1))
    x_big = cuda.to_device(np.pad(x, ((1, 0), (0, 3))))
    strided = (w_t, wide[:, 0], x_big[1:, :4])  # a column, and a sliced block
    to_device = cuda_backend.host_function(gradient).__globals__["to_device"]
    for array in strided:
        view = to_device(array)
        assert not array.is_c_contiguous() and np.shares_memory(view.base._ary, array._ary)  # no copy
        np.testing.assert_array_equal(
            np.lib.stride_tricks.as_strided(view.base._ary[view.offset :], view.shape, [s * 8 for s in view.strides]),
            array.copy_to_host(),
        )
    got = gradient(*strided)
    for g, r in zip(got, want, strict=True):
        np.testing.assert_allclose(g, r, rtol=1e-12, atol=1e-13)
    kept = cuda_backend.on_device(gradient)(*strided)
    assert all(cuda.devicearray.is_cuda_ndarray(k) for k in kept)
    assert [k.shape for k in kept] == [(4, 3), (3,), (5, 4)]


_GPU_PROBE = textwrap.dedent(
    """
    import json, sys

    import numpy as np
    from numba import cuda

    import symdiff as sd
    from symdiff.backends import cuda as cuda_backend


    def products(w, v, x):
        h = np.tanh(x @ w)
        return np.sum(np.sin(h @ v)) + 0.1 * np.sum((x.T @ x) * (x.T @ x))


    def worst(got, want):
        return max(float(np.max(np.abs(np.asarray(g) - r)) / np.max(np.abs(r))) for g, r in zip(got, want))


    rng = np.random.default_rng(0)
    w, v, x = rng.normal(size=(64, 48)), rng.normal(size=48), rng.normal(size=(80, 64))
    want = sd.grad(products, wrt=(0, 1, 2))(w, v, x)
    gradient = sd.grad(products, wrt=(0, 1, 2), backend="cuda")
    namespace = cuda_backend.host_function(gradient).__globals__
    on_device = cuda_backend.on_device(gradient)
    report = {}
    if sys.argv[1] == "numba":
        namespace["_CUPY"][:] = [None]  # the tiled kernel, whether or not cupy is installed
        report["host"] = worst(gradient(w, v, x), want)
        strided = (cuda.to_device(np.ascontiguousarray(w.T)).T, cuda.to_device(np.stack([v, v], axis=1))[:, 0], x)
        report["strided"] = worst(gradient(*strided), want)
        kept = on_device(*strided)
        report["kept"] = worst([k.copy_to_host() for k in kept], want)
        report["kept_types"] = sorted({type(k).__name__ for k in kept})
    else:
        import cupy

        calls = []
        matmul = cupy.matmul
        cupy.matmul = lambda *a, **k: calls.append(1) or matmul(*a, **k)
        report["host"] = worst(gradient(w, v, x), want)
        report["cublas_products"] = len(calls)
        device = (cupy.asarray(np.ascontiguousarray(w.T)).T, cupy.asarray(v), cupy.asarray(x))
        kept = on_device(*device)
        report["cupy_in"] = worst([k.copy_to_host() for k in kept], want)
        as_cupy = [cupy.asarray(k) for k in kept]
        report["zero_copy"] = all(
            c.data.ptr == k.__cuda_array_interface__["data"][0] for c, k in zip(as_cupy, kept)
        )
        report["cupy_out"] = worst([cupy.asnumpy(c) for c in as_cupy], want)
        w32, v32, x32 = (a.astype(np.float32) for a in (w, v, x))
        report["float32"] = worst(gradient(w32, v32, x32), want)
        report["float32_dtypes"] = sorted({str(g.dtype) for g in gradient(w32, v32, x32)})
    print(json.dumps(report))
    """
)


def _gpu_probe(tmp_path: Path, what: str) -> dict:
    script = tmp_path / "gpu_probe.py"
    script.write_text(_GPU_PROBE)
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="0", SYMDIFF_BUILD_CACHE="0")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    done = subprocess.run(
        [sys.executable, str(script), what], capture_output=True, text=True, env=env, timeout=600, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@needs_gpu
def test_on_a_gpu_device_arrays_in_and_out(tmp_path):
    report = _gpu_probe(tmp_path, "numba")
    assert report["host"] < 1e-12 and report["strided"] < 1e-12 and report["kept"] < 1e-12, report
    assert report["kept_types"] == ["DeviceNDArray"]


def _cupy_importable() -> bool:
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="0")
    done = subprocess.run([sys.executable, "-c", "import cupy"], capture_output=True, env=env, check=False)
    return done.returncode == 0


@needs_gpu
@pytest.mark.skipif(not REAL_GPU or not _cupy_importable(), reason="needs cupy on an NVIDIA GPU")
def test_on_a_gpu_cublas_products_and_cupy_arrays(tmp_path):
    report = _gpu_probe(tmp_path, "cupy")
    assert report["cublas_products"] >= 5, report  # x @ w, h @ v, x.T @ x and their cotangents
    assert report["host"] < 1e-12 and report["cupy_in"] < 1e-12 and report["cupy_out"] < 1e-12, report
    assert report["zero_copy"], report  # cupy.asarray(result) is the result's own memory
    assert report["float32"] < 1e-4 and report["float32_dtypes"] == ["float32"], report


# -- the GPU benchmark, as a smoke test on the simulator ---------------------------------------------


def test_gpu_benchmark_runs_end_to_end_on_the_simulator():
    command = [sys.executable, str(ROOT / "benchmarks" / "bench_cuda.py"), "--simulate", "--repeats", "1"]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    for row in ("MLP 8x6-5-3", "LSTM 4 steps b2 in3 h2", "rosen n=64"):
        assert row in done.stdout, done.stdout
    assert "CUDA simulator (smoke test, not a measurement)" in done.stdout and "max rel diff" in done.stdout


def test_gpu_benchmark_first_calls_in_fresh_processes():
    from benchmarks import bench_cuda

    times = bench_cuda.first_calls("rosen", (64,), "float32", with_jax=False)
    assert set(times) == {"symdiff, empty cache", "symdiff, cached"} and all(t > 0 for t in times.values())
