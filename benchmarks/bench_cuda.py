"""symdiff's CUDA backend against JAX on the same GPU: MLP and LSTM gradients.

Run from the repository root on a machine with an NVIDIA GPU (and JAX with CUDA):

    python benchmarks/bench_cuda.py                   # float32, full sizes
    python benchmarks/bench_cuda.py --dtype float64
    python benchmarks/bench_cuda.py --quick           # fewer repeats

Without a usable GPU (no driver, or NUMBA_ENABLE_CUDASIM=1) it says so and
exits with status 0. `--simulate` runs tiny shapes on Numba's CUDA simulator
(and JAX on whatever device it has): a smoke test of this script, not a
measurement.

Workloads (gradients with respect to every weight):
  (a) a 784-512-10 tanh MLP with a stable softmax cross-entropy, batch 4096;
  (b) an LSTM unrolled over 4 steps, input 128, hidden 256, batch 1024,
      squared-error readout.

For each: symdiff's gradient is checked against JAX's, then JAX forward
(jit), JAX gradient (jit) and symdiff's CUDA gradient (inputs and results
kept on the GPU) are timed, min of N samples, each sample a burst of calls
followed by a device synchronisation. First-call times (tracing or source
transformation plus kernel compilation) are reported separately.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import types


def parse(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="few repeats: a smoke test, not a measurement")
    parser.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    parser.add_argument("--simulate", action="store_true", help="tiny shapes on the CUDA simulator (smoke test)")
    return parser.parse_args(argv)


OPTIONS = parse() if __name__ == "__main__" else None
if OPTIONS is not None and OPTIONS.simulate:
    os.environ["NUMBA_ENABLE_CUDASIM"] = "1"  # must precede the first numba import

import numpy as np


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


def gpu_status() -> tuple[bool, str]:
    """(usable, description) of the CUDA device Numba sees."""
    from numba import config, cuda

    if config.ENABLE_CUDASIM:
        return False, "NUMBA_ENABLE_CUDASIM=1: Numba's CUDA simulator, not a GPU"
    try:
        if not cuda.is_available():
            return False, "numba.cuda.is_available() is False (no NVIDIA driver or device)"
        return True, str(cuda.get_current_device().name)
    except Exception as error:  # noqa: BLE001 - any driver failure means "no GPU"
        return False, f"CUDA unavailable: {error}"


def jax_version(func, jnp):
    """`func` and the module functions it calls, rebound so that `np` means `jax.numpy`."""
    namespace = dict(globals(), np=jnp)
    for name in ("sigmoid", "lstm_cell", "mlp_loss", "lstm_loss"):
        original = globals()[name]
        namespace[name] = types.FunctionType(original.__code__, namespace, name)
    return namespace[func.__name__]


def best_time(func, args, sync, repeats: int, budget: float = 0.05) -> float:
    """Min over `repeats` samples of seconds per call; each sample is a burst ending in `sync`."""
    start = time.perf_counter()
    sync(func(*args))
    number = max(1, int(budget / max(time.perf_counter() - start, 1e-6)))
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(number):
            out = func(*args)
        sync(out)
        best = min(best, (time.perf_counter() - start) / number)
    return best


def run_workload(name, loss, wrt, args, repeats, tolerance):
    import jax
    from numba import cuda

    import symdiff as sd
    from symdiff.backends.cuda import on_device

    jnp = jax.numpy
    jax_loss = jax_version(loss, jnp)
    jax_args = [jnp.asarray(a) for a in args]
    jax_forward = jax.jit(jax_loss)
    jax_grad = jax.jit(jax.grad(jax_loss, argnums=wrt))
    device_args = [cuda.to_device(a) for a in args]
    ours = on_device(sd.grad(loss, wrt=wrt, backend="cuda"))

    start = time.perf_counter()
    got = [g.copy_to_host() for g in ours(*device_args)]
    ours_first = time.perf_counter() - start
    start = time.perf_counter()
    want = [np.asarray(g) for g in jax.block_until_ready(jax_grad(*jax_args))]
    jax_first = time.perf_counter() - start
    worst = max(float(np.max(np.abs(a - b)) / (np.max(np.abs(b)) + 1e-30)) for a, b in zip(got, want, strict=True))
    if worst > tolerance:
        raise SystemExit(f"{name}: symdiff and JAX gradients disagree (max relative difference {worst:.1e})")

    def cuda_sync(_):
        cuda.synchronize()

    return {
        "name": name,
        "jax forward": best_time(jax_forward, jax_args, jax.block_until_ready, repeats),
        "jax grad": best_time(jax_grad, jax_args, jax.block_until_ready, repeats),
        "symdiff grad": best_time(ours, device_args, cuda_sync, repeats),
        "symdiff first": ours_first,
        "jax first": jax_first,
        "difference": worst,
    }


def report(rows, device: str, dtype: str) -> None:
    ms = 1e3
    print(f"\ndevice: {device}; dtype {dtype}; times in ms (min of samples)\n")
    print(f"{'workload':<28}{'jax fwd':>10}{'jax grad':>10}{'symdiff':>10}{'symdiff/':>10}{'jax grad/':>10}")
    print(f"{'':<28}{'':>10}{'':>10}{'grad':>10}{'jax grad':>10}{'jax fwd':>10}")
    for r in rows:
        print(
            f"{r['name']:<28}{r['jax forward'] * ms:>10.3f}{r['jax grad'] * ms:>10.3f}{r['symdiff grad'] * ms:>10.3f}"
            f"{r['symdiff grad'] / r['jax grad']:>10.2f}{r['jax grad'] / r['jax forward']:>10.2f}"
        )
    print("\nfirst call (build/trace + compile), s:")
    for r in rows:
        first = f"symdiff {r['symdiff first']:.2f}   jax {r['jax first']:.2f}"
        print(f"  {r['name']:<26}{first}   (max rel. diff {r['difference']:.1e})")


def main(options: argparse.Namespace) -> int:
    usable, device = gpu_status()
    if not usable and not options.simulate:
        print(f"no CUDA GPU: {device}. Nothing to measure; run this on a machine with an NVIDIA GPU.")
        return 0
    rng = np.random.default_rng(0)
    dtype = np.dtype(options.dtype)
    if dtype == np.float64:
        import jax

        jax.config.update("jax_enable_x64", True)
    tiny = options.simulate
    mlp_sizes = (8, 6, 5, 3) if tiny else (4096, 784, 512, 10)
    lstm_sizes = (2, 3, 2) if tiny else (1024, 128, 256)
    repeats = 1 if tiny else (3 if options.quick else 20)
    tolerance = 1e-9 if dtype == np.float64 else 1e-3
    rows = []
    for name, loss, wrt, data in (
        ("MLP " + "x".join(map(str, mlp_sizes)), mlp_loss, (0, 1, 2, 3), mlp_data(rng, mlp_sizes)),
        ("LSTM 4 steps " + "x".join(map(str, lstm_sizes)), lstm_loss, (0, 1, 2, 3), lstm_data(rng, lstm_sizes)),
    ):
        args = [a.astype(dtype) for a in data]
        rows.append(run_workload(name, loss, wrt, args, repeats, tolerance))
    report(rows, device if usable else "CUDA simulator (smoke test, not a measurement)", options.dtype)
    return 0


if __name__ == "__main__":
    sys.exit(main(OPTIONS))
