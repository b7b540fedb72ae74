"""symdiff's CUDA backend against JAX on the same GPU: MLP, LSTM and Rosenbrock gradients.

Run from the repository root on a machine with an NVIDIA GPU (JAX with CUDA
and cupy are optional; without JAX-GPU the gradients are checked against
symdiff's NumPy backend and only symdiff is timed):

    python benchmarks/bench_cuda.py                   # float32, full sizes
    python benchmarks/bench_cuda.py --quick           # fewer samples, no fresh-process first calls
    python benchmarks/bench_cuda.py --dtype float64
    python benchmarks/bench_cuda.py --simulate        # tiny sizes on Numba's CUDA simulator

Without a usable GPU (and without `--simulate`) it says so and exits with
status 0. `--simulate` runs tiny shapes on Numba's CUDA simulator (and JAX on
whatever device it has): a smoke test of this script, not a measurement.

Workloads (gradients with respect to every weight, or to x):
  (a) a 784-512-10 tanh MLP with a stable softmax cross-entropy, batch 4096;
  (b) an LSTM unrolled over 4 steps, input 128, hidden 256, batch 1024,
      squared-error readout;
  (c) the Rosenbrock function of n = 10^7 variables.

Method (benchmarks/method.py): every contender's gradient is cross-checked
against a reference before anything is timed (JAX's when JAX sees a GPU,
else symdiff's NumPy backend on the host); then the contenders are timed
interleaved, inputs and results on the GPU: JAX through `jax.device_put`
and `block_until_ready`, symdiff through `on_device` (Numba device arrays)
with `cuda.synchronize()` ending every call. Tables show the median and
±IQR/2. With cupy installed, symdiff's matrix products go through cuBLAS;
the tiled-kernel variant ("symdiff, no cuBLAS") is timed beside it. The first
call (build or trace, plus compile) is timed in fresh processes: symdiff's
with an empty kernel cache and again with the cache the first one left
(docs/backends.md#cuda), JAX's without a persistent cache.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import types
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def parse(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="few samples, no fresh-process first calls")
    parser.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    parser.add_argument("--simulate", action="store_true", help="tiny shapes on the CUDA simulator (smoke test)")
    parser.add_argument("--repeats", type=int, default=None, help="samples per contender (default 15, quick 5)")
    parser.add_argument("--no-first-call", action="store_true", help="skip the fresh-process first-call timings")
    parser.add_argument(
        "--only", nargs="+", choices=("mlp", "lstm", "rosen"), default=("mlp", "lstm", "rosen"), help="workloads"
    )
    return parser.parse_args(argv)


OPTIONS = parse() if __name__ == "__main__" else None
if OPTIONS is not None and OPTIONS.simulate:
    os.environ["NUMBA_ENABLE_CUDASIM"] = "1"  # must precede the first numba import
# JAX takes most of the GPU's memory at start unless told not to; Numba and cupy share the GPU here.
os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")

import numpy as np

from benchmarks.method import cross_check, fresh_process_seconds, interleaved, jax_timed, machine_lines


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def mlp_loss(w1, b1, w2, b2, x, y):
    h = np.tanh(x @ w1 + b1)
    logits = h @ w2 + b2
    z = logits - np.max(logits, axis=1, keepdims=True)
    log_probs = z - np.log(np.sum(np.exp(z), axis=1, keepdims=True))
    return -np.mean(np.sum(y * log_probs, axis=1))


def lstm_cell(wx, wh, b, x, h, c):
    n = h.shape[1]
    gates = x @ wx + h @ wh + b
    i = sigmoid(gates[:, :n])
    f = sigmoid(gates[:, n : 2 * n])
    o = sigmoid(gates[:, 2 * n : 3 * n])
    g = np.tanh(gates[:, 3 * n :])
    c = f * c + i * g
    return o * np.tanh(c), c


def lstm_loss(wx, wh, b, wy, xs, h, c, y):
    h, c = lstm_cell(wx, wh, b, xs[0], h, c)
    h, c = lstm_cell(wx, wh, b, xs[1], h, c)
    h, c = lstm_cell(wx, wh, b, xs[2], h, c)
    h, c = lstm_cell(wx, wh, b, xs[3], h, c)
    err = h @ wy - y
    return np.mean(err * err)


def rosen(x):
    return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


def mlp_data(rng, sizes):
    batch, inputs, hidden, classes = sizes
    return [
        rng.normal(size=(inputs, hidden)) / np.sqrt(inputs),
        np.zeros(hidden),
        rng.normal(size=(hidden, classes)) / np.sqrt(hidden),
        np.zeros(classes),
        rng.normal(size=(batch, inputs)),
        np.eye(classes)[rng.integers(0, classes, batch)],
    ]


def lstm_data(rng, sizes):
    batch, inputs, hidden = sizes
    return [
        rng.normal(size=(inputs, 4 * hidden)) / np.sqrt(inputs),
        rng.normal(size=(hidden, 4 * hidden)) / np.sqrt(hidden),
        np.zeros(4 * hidden),
        rng.normal(size=(hidden, 1)) / np.sqrt(hidden),
        rng.normal(size=(4, batch, inputs)),
        np.zeros((batch, hidden)),
        np.zeros((batch, hidden)),
        rng.normal(size=(batch, 1)),
    ]


def rosen_data(rng, sizes):
    (n,) = sizes
    return [rng.uniform(-1.0, 1.5, size=n)]


# name -> (loss, wrt, data, full sizes, simulator sizes)
WORKLOADS = {
    "mlp": (mlp_loss, (0, 1, 2, 3), mlp_data, (4096, 784, 512, 10), (8, 6, 5, 3)),
    "lstm": (lstm_loss, (0, 1, 2, 3), lstm_data, (1024, 128, 256), (2, 3, 2)),
    "rosen": (rosen, (0,), rosen_data, (10**7,), (64,)),
}
LABELS = {"mlp": "MLP {}x{}-{}-{}", "lstm": "LSTM 4 steps b{} in{} h{}", "rosen": "rosen n={}"}


def arguments(name: str, sizes: tuple, dtype: str) -> list:
    """The workload's inputs (seeded), as host arrays of `dtype`."""
    return [a.astype(dtype) for a in WORKLOADS[name][2](np.random.default_rng(0), sizes)]


# -- devices ------------------------------------------------------------------------------


def gpu_status() -> tuple[bool, str]:
    """(usable, description) of the CUDA device Numba sees."""
    from numba import config, cuda

    if config.ENABLE_CUDASIM:
        return False, "NUMBA_ENABLE_CUDASIM=1: Numba's CUDA simulator, not a GPU"
    try:
        if not cuda.is_available():
            return False, "numba.cuda.is_available() is False (no NVIDIA driver or device)"
        device = cuda.get_current_device()
        runtime = ".".join(map(str, cuda.runtime.get_version()))
        return (
            True,
            f"{device.name.decode() if isinstance(device.name, bytes) else device.name}, CUDA runtime {runtime}",
        )
    except Exception as error:  # noqa: BLE001 - any driver failure means "no GPU"
        return False, f"CUDA unavailable: {error}"


def jax_gpu():
    """JAX when it is installed and sees a GPU, else None."""
    try:
        import jax
    except ImportError:
        return None
    try:
        return jax if jax.devices()[0].platform == "gpu" else None
    except RuntimeError:
        return None


def cupy_version() -> str:
    try:
        import cupy
    except Exception:  # noqa: BLE001 - absent, or built for another CUDA
        return "absent (matrix products by symdiff's tiled kernel)"
    return f"{cupy.__version__} (matrix products through cuBLAS)"


def jax_version(func, jnp):
    """`func` and the module functions it calls, rebound so that `np` means `jax.numpy`."""
    namespace = dict(globals(), np=jnp)
    for name in ("sigmoid", "lstm_cell", "mlp_loss", "lstm_loss", "rosen"):
        namespace[name] = types.FunctionType(globals()[name].__code__, namespace, name)
    return namespace[func.__name__]


# -- one workload -------------------------------------------------------------------------


def contenders_for(name: str, args: list, jax):
    """{contender: (timed callable, its device arguments)} and each one's gradient, copied to the host."""
    from numba import cuda

    import symdiff as sd
    from symdiff.backends.cuda import host_function, on_device

    loss, wrt = WORKLOADS[name][:2]
    gradient = sd.grad(loss, wrt=wrt, backend="cuda")
    ours = on_device(gradient)
    device_args = [cuda.to_device(a) for a in args]

    def synced(*call_args):
        out = ours(*call_args)
        cuda.synchronize()
        return out

    contenders = {"symdiff": (synced, device_args)}
    namespace = host_function(gradient).__globals__
    if namespace["cublas"]() is not None:
        cupy = namespace["_CUPY"][0]

        def without_cublas(*call_args):
            namespace["_CUPY"][:] = [None]
            try:
                return synced(*call_args)
            finally:
                namespace["_CUPY"][:] = [cupy]

        contenders["symdiff, no cuBLAS"] = (without_cublas, device_args)
    if jax is not None:
        jax_args = tuple(jax.block_until_ready(jax.device_put(a)) for a in args)
        contenders["jax"] = (jax_timed(jax.jit(jax.grad(jax_version(loss, jax.numpy), argnums=wrt))), jax_args)
    results = {}
    for contender, (func, call_args) in contenders.items():
        out = func(*call_args)
        results[contender] = [np.asarray(g if isinstance(g, np.ndarray) else _to_host(g)) for g in _tuple(out)]
    return contenders, results, gradient


def _tuple(value) -> tuple:
    return value if isinstance(value, tuple) else (value,)


def _to_host(value):
    copy = getattr(value, "copy_to_host", None)
    return copy() if copy is not None else np.asarray(value)


def check(name: str, args: list, results: dict, dtype: str) -> dict:
    """Cross-check every contender against the reference (JAX-GPU, else symdiff's NumPy backend on the
    host), leaf by leaf with an absolute tolerance scaled to the leaf; returns the largest relative
    difference per contender. Raises before anything is timed if one disagrees."""
    import symdiff as sd

    if "jax" in results:
        reference = results.pop("jax")
        label = "jax"
    else:
        loss, wrt = WORKLOADS[name][:2]
        reference = list(_tuple(sd.grad(loss, wrt=wrt)(*args)))
        label = "numpy backend"
    rtol = 1e-9 if dtype == "float64" else 2e-3
    worst = {}
    for contender, got in results.items():
        worst[contender] = 0.0
        for k, (g, r) in enumerate(zip(got, reference, strict=True)):
            scale = float(np.max(np.abs(r))) or 1.0
            cross_check({label: np.asarray(r), contender: g}, rtol=rtol, atol=rtol * scale, label=f"{name}[{k}]")
            worst[contender] = max(worst[contender], float(np.max(np.abs(g - np.asarray(r)))) / scale)
    if label == "jax":
        results["jax"] = reference
        worst["jax"] = 0.0
    return worst


_FIRST_CALL = """
from benchmarks import bench_cuda
print(bench_cuda.first_call({contender!r}, {name!r}, {sizes!r}, {dtype!r}))
"""


def first_call(contender: str, name: str, sizes: tuple, dtype: str) -> float:
    """Seconds from nothing built to the first gradient on the GPU (run in a fresh process)."""
    args = arguments(name, sizes, dtype)
    loss, wrt = WORKLOADS[name][:2]
    if contender == "jax":
        import jax

        jax.config.update("jax_enable_x64", dtype == "float64")
        device_args = [jax.block_until_ready(jax.device_put(a)) for a in args]
        start = time.perf_counter()
        jax.block_until_ready(jax.jit(jax.grad(jax_version(loss, jax.numpy), argnums=wrt))(*device_args))
        return time.perf_counter() - start
    from numba import cuda

    import symdiff as sd
    from symdiff.backends.cuda import on_device

    device_args = [cuda.to_device(a) for a in args]
    cuda.synchronize()
    start = time.perf_counter()
    on_device(sd.grad(loss, wrt=wrt, backend="cuda"))(*device_args)
    cuda.synchronize()
    return time.perf_counter() - start


def first_calls(name: str, sizes: tuple, dtype: str, with_jax: bool) -> dict:
    """Fresh-process first calls: symdiff with an empty kernel cache, then with the cache it left; JAX."""
    snippet = {
        contender: _FIRST_CALL.format(contender=contender, name=name, sizes=sizes, dtype=dtype)
        for contender in ("symdiff", "jax")
    }
    saved = {key: os.environ.get(key) for key in ("SYMDIFF_CACHE_DIR", "SYMDIFF_BUILD_CACHE", "SYMDIFF_QUIET")}
    times = {}
    with tempfile.TemporaryDirectory(prefix="symdiff_cuda_bench_") as directory:
        os.environ.update(SYMDIFF_CACHE_DIR=directory, SYMDIFF_BUILD_CACHE="1", SYMDIFF_QUIET="1")
        try:
            times["symdiff, empty cache"] = fresh_process_seconds(snippet["symdiff"])
            times["symdiff, cached"] = fresh_process_seconds(snippet["symdiff"])
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
    if with_jax:
        times["jax"] = fresh_process_seconds(snippet["jax"])
    return times


# -- the report ---------------------------------------------------------------------------


def report(rows: list, device: str, options: argparse.Namespace, jax_line: str) -> None:
    for line in machine_lines():
        print(line)
    print(f"GPU: {device}; cupy {cupy_version()}; JAX: {jax_line}")
    print(f"dtype {options.dtype}; times in ms per gradient, median ±IQR/2 of interleaved samples\n")
    names = [c for c in ("symdiff", "symdiff, no cuBLAS", "jax") if any(c in r["stats"] for r in rows)]
    print(f"{'workload':<30}" + "".join(f"{n:>22}" for n in names) + f"{'symdiff/jax':>13}{'max rel diff':>14}")
    for r in rows:
        cells = "".join(f"{r['stats'][n].cell():>22}" if n in r["stats"] else f"{'-':>22}" for n in names)
        ratio = (
            f"{r['stats']['symdiff'].median / r['stats']['jax'].median:>13.2f}" if "jax" in r["stats"] else f"{'-':>13}"
        )
        worst = max(v for k, v in r["worst"].items() if k != "jax")
        print(f"{r['label']:<30}{cells}{ratio}{worst:>14.1e}")
    firsts = [r for r in rows if r["first"]]
    if firsts:
        print("\nfirst call in a fresh process (build or trace + compile + run), s:")
        for r in firsts:
            print(f"  {r['label']:<28}" + "   ".join(f"{k} {v:.2f}" for k, v in r["first"].items()))
    else:
        print("\nfirst calls: not measured (--quick, --no-first-call or --simulate)")


def main(options: argparse.Namespace) -> int:
    usable, device = gpu_status()
    if not usable and not options.simulate:
        print(f"no CUDA GPU: {device}. Nothing to measure; run this on a machine with an NVIDIA GPU.")
        return 0
    tiny = options.simulate
    if options.dtype == "float64":
        try:
            import jax

            jax.config.update("jax_enable_x64", True)
        except ImportError:
            pass
    jax = jax_gpu()
    if jax is None and tiny:
        try:  # the smoke test times JAX wherever it runs, to exercise the whole script
            import jax
        except ImportError:
            jax = None
    jax_line = "absent or without a GPU: gradients checked against symdiff's NumPy backend"
    if jax is not None:
        jax_line = f"{jax.__version__} on {jax.devices()[0].platform}"
    repeats = options.repeats or (2 if tiny else (5 if options.quick else 15))
    rows = []
    for name in options.only:
        sizes = WORKLOADS[name][4 if tiny else 3]
        args = arguments(name, sizes, options.dtype)
        contenders, results, _ = contenders_for(name, args, jax)
        worst = check(name, args, results, options.dtype)
        funcs = {c: f for c, (f, _) in contenders.items()}
        own = {c: a for c, (_, a) in contenders.items()}
        warmup = 0 if tiny else 2  # the simulator's first call compiles nothing; the check above ran each once
        stats = interleaved(funcs, None, repeats, budget=0.01 if tiny else 0.2, warmup=warmup, args_for=own)
        measure_first = not (tiny or options.quick or options.no_first_call)
        first = first_calls(name, sizes, options.dtype, jax is not None) if measure_first else {}
        rows.append({"label": LABELS[name].format(*sizes), "stats": stats, "worst": worst, "first": first})
    simulated = "CUDA simulator (smoke test, not a measurement)"
    report(rows, device if usable else simulated, options, jax_line)
    return 0


if __name__ == "__main__":
    sys.exit(main(OPTIONS))
