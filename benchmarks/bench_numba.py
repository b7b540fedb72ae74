"""symdiff's Numba backend against its NumPy backend, hand-written NumPy, JAX and autograd.

Run from the repository root (JAX and autograd are optional: `pip install -e .[bench]`):

    python benchmarks/bench_numba.py            # full run
    python benchmarks/bench_numba.py --quick    # fewer repeats, smaller big cases

For each workload the gradients are first checked against the NumPy backend,
then timed with min-of-N repeats, contenders interleaved within each repeat so
that a noisy stretch hits them all alike. The table gives microseconds per
gradient call and the Numba backend's time as a fraction of the others'
(< 1 means the Numba backend is faster). "compile" is the first call of a
freshly built Numba gradient in a fresh cache directory (code generation plus
JIT); "reload" is building and calling the same gradient in a new process that
finds the cache on disk (imports excluded).

The scalar case is an unrolled chain of 100 scalar operations
(`x = x - 0.01 * sin(x) * cos(y)` 25 times): the Numba backend does not
compile loops yet, so it stands in for the issue's 100-step scalar loop.
JAX runs with float64 enabled, like the others.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

import symdiff as sd

# -- workloads -----------------------------------------------------------------


def scalar_chain(x, y):
    x = x - 0.01 * np.sin(x) * np.cos(y)
    x = x - 0.01 * np.sin(x) * np.cos(y)
    x = x - 0.01 * np.sin(x) * np.cos(y)
    x = x - 0.01 * np.sin(x) * np.cos(y)
    x = x - 0.01 * np.sin(x) * np.cos(y)
    x = x - 0.01 * np.sin(x) * np.cos(y)
    x = x - 0.01 * np.sin(x) * np.cos(y)
    x = x - 0.01 * np.sin(x) * np.cos(y)
    x = x - 0.01 * np.sin(x) * np.cos(y)
    x = x - 0.01 * np.sin(x) * np.cos(y)
    x = x - 0.01 * np.sin(x) * np.cos(y)
    x = x - 0.01 * np.sin(x) * np.cos(y)
    x = x - 0.01 * np.sin(x) * np.cos(y)
    x = x - 0.01 * np.sin(x) * np.cos(y)
    x = x - 0.01 * np.sin(x) * np.cos(y)
    x = x - 0.01 * np.sin(x) * np.cos(y)
    x = x - 0.01 * np.sin(x) * np.cos(y)
    x = x - 0.01 * np.sin(x) * np.cos(y)
    x = x - 0.01 * np.sin(x) * np.cos(y)
    x = x - 0.01 * np.sin(x) * np.cos(y)
    x = x - 0.01 * np.sin(x) * np.cos(y)
    x = x - 0.01 * np.sin(x) * np.cos(y)
    x = x - 0.01 * np.sin(x) * np.cos(y)
    x = x - 0.01 * np.sin(x) * np.cos(y)
    x = x - 0.01 * np.sin(x) * np.cos(y)
    return x * x


def scalar_chain_by_hand(x, y):
    dx, dy = 1.0, 0.0
    cy, sy = np.cos(y), np.sin(y)
    for _ in range(25):
        s, c = np.sin(x), np.cos(x)
        dx, dy = dx * (1.0 - 0.01 * c * cy), dy * (1.0 - 0.01 * c * cy) + 0.01 * s * sy
        x = x - 0.01 * s * cy
    return 2.0 * x * dx, 2.0 * x * dy


def rosenbrock(x):
    return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


def rosenbrock_by_hand(x):
    inner = x[1:] - x[:-1] ** 2
    grad = np.zeros_like(x)
    grad[:-1] = -400.0 * inner * x[:-1] - 2.0 * (1.0 - x[:-1])
    grad[1:] += 200.0 * inner
    return grad


def logistic_loss(w, x, y):
    p = 1.0 / (1.0 + np.exp(-(x @ w)))
    return -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))


def logistic_by_hand(w, x, y):
    p = 1.0 / (1.0 + np.exp(-(x @ w)))
    return x.T @ (p - y) / y.shape[0]


def mlp_loss(w1, b1, w2, b2, x, y):
    h = np.tanh(x @ w1 + b1)
    logits = h @ w2 + b2
    z = logits - np.max(logits, axis=1, keepdims=True)
    log_probs = z - np.log(np.sum(np.exp(z), axis=1, keepdims=True))
    return -np.mean(np.sum(y * log_probs, axis=1))


def mlp_by_hand(w1, b1, w2, b2, x, y):
    h = np.tanh(x @ w1 + b1)
    logits = h @ w2 + b2
    z = logits - np.max(logits, axis=1, keepdims=True)
    p = np.exp(z) / np.sum(np.exp(z), axis=1, keepdims=True)
    d_logits = (p - y) / x.shape[0]
    d_h = (d_logits @ w2.T) * (1.0 - h * h)
    return x.T @ d_h, d_h.sum(0), h.T @ d_logits, d_logits.sum(0)


def tanh_dot(x):
    return np.sum(np.tanh(x) * x)


def tanh_dot_by_hand(x):
    t = np.tanh(x)
    return t + x * (1.0 - t * t)


def _mlp_args(rng):
    x, labels = rng.normal(size=(256, 784)), rng.integers(0, 10, 256)
    return (rng.normal(size=(784, 256)) * 0.05, np.zeros(256), rng.normal(size=(256, 10)) * 0.05, np.zeros(10), x, np.eye(10)[labels])


def workloads(quick: bool) -> list[tuple]:
    """(label, function, wrt, hand-written gradient, argument factory)."""
    big = 10**5 if quick else 10**6
    huge = 10**6 if quick else 10**7
    return [
        ("scalar chain, 100 ops", scalar_chain, (0, 1), None, lambda rng: (0.7, 0.3)),
        ("Rosenbrock n=10", rosenbrock, 0, rosenbrock_by_hand, lambda rng: (rng.normal(size=10),)),
        (f"Rosenbrock n={big:.0e}", rosenbrock, 0, rosenbrock_by_hand, lambda rng: (rng.normal(size=big),)),
        ("logistic 10000x100", logistic_loss, 0, logistic_by_hand,
         lambda rng: (rng.normal(size=100) * 0.1, rng.normal(size=(10000, 100)), rng.integers(0, 2, 10000) * 1.0)),
        ("MLP 784-256-10, batch 256", mlp_loss, (0, 1, 2, 3), mlp_by_hand, _mlp_args),
        (f"sum(tanh(x)*x), n={huge:.0e}", tanh_dot, 0, tanh_dot_by_hand, lambda rng: (rng.normal(size=huge),)),
    ]  # fmt: skip


# -- optional contenders -----------------------------------------------------------


def jax_gradient(function, wrt):
    """`jax.jit(jax.grad(f))` of the same source run on jax.numpy, or None without JAX."""
    try:
        import jax
        import jax.numpy as jnp
    except ImportError:
        return None
    jax.config.update("jax_enable_x64", True)
    import types

    clone = types.FunctionType(function.__code__, {**function.__globals__, "np": jnp}, function.__name__)
    compiled = jax.jit(jax.grad(clone, argnums=wrt))
    return lambda *args: jax.block_until_ready(compiled(*args))


def autograd_gradient(function, wrt):
    """`autograd.grad(f)` of the same source run on autograd.numpy, or None without autograd."""
    try:
        import autograd
        import autograd.numpy as anp
    except ImportError:
        return None
    import types

    clone = types.FunctionType(function.__code__, {**function.__globals__, "np": anp}, function.__name__)
    return autograd.grad(clone, argnum=wrt)


# -- measurement ----------------------------------------------------------------------


def best_time(calls: dict, repeats: int, budget: float = 0.2) -> dict:
    """Min-of-`repeats` seconds per call for each contender, interleaved."""
    numbers = {}
    for name, call in calls.items():
        start = time.perf_counter()
        call()
        once = max(time.perf_counter() - start, 1e-7)
        numbers[name] = max(1, min(10000, int(budget / repeats / once)))
    best = {name: float("inf") for name in calls}
    for _ in range(repeats):
        for name, call in calls.items():
            start = time.perf_counter()
            for _ in range(numbers[name]):
                call()
            best[name] = min(best[name], (time.perf_counter() - start) / numbers[name])
    return best


def _check(got, want, label):
    for g, w in zip(got if isinstance(got, tuple) else (got,), want if isinstance(want, tuple) else (want,)):
        if not np.allclose(g, w, rtol=1e-8, atol=1e-10):
            raise SystemExit(f"{label}: the Numba backend disagrees with the NumPy backend")


_RELOAD = """
import sys, time, json
sys.path.insert(0, sys.argv[1])
import numpy as np, symdiff, bench_numba
label = sys.argv[2]
case = next(c for c in bench_numba.workloads(sys.argv[3] == "quick") if c[0] == label)
args = case[4](np.random.default_rng(0))
start = time.perf_counter()
symdiff.grad(case[1], wrt=case[2], backend="numba")(*args)
print(json.dumps(time.perf_counter() - start))
"""


def reload_seconds(label: str, quick: bool) -> float:
    """Build + first call of the gradient in a fresh process that finds the on-disk cache."""
    here = os.path.dirname(os.path.abspath(__file__))
    command = [sys.executable, "-c", _RELOAD, here, label, "quick" if quick else "full"]
    out = subprocess.run(command, capture_output=True, text=True, check=True, env=dict(os.environ))
    return json.loads(out.stdout.strip().splitlines()[-1])


def measure(case, quick: bool, repeats: int) -> dict:
    label, function, wrt, by_hand, make_args = case
    args = make_args(np.random.default_rng(0))
    numpy_grad = sd.grad(function, wrt=wrt)
    start = time.perf_counter()
    numba_grad = sd.grad(function, wrt=wrt, backend="numba")
    _check(numba_grad(*args), numpy_grad(*args), label)
    compile_s = time.perf_counter() - start
    calls = {"numpy": lambda: numpy_grad(*args), "numba": lambda: numba_grad(*args)}
    if by_hand is not None:
        calls["hand"] = lambda: by_hand(*args)
    for name, make in (("jax", jax_gradient), ("autograd", autograd_gradient)):
        contender = make(function, wrt)
        if contender is not None:
            calls[name] = lambda contender=contender: contender(*args)
            calls[name]()  # compile outside the timing
    times = best_time(calls, repeats)
    times["compile"], times["reload"] = compile_s, reload_seconds(label, quick)
    return times


def _cell(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    return f"{seconds * 1e6:,.1f}" if seconds < 0.1 else f"{seconds * 1e6:,.0f}"


def table(rows: list[tuple[str, dict]]) -> str:
    head = ["workload", "numpy us", "numba us", "hand us", "jax us", "autograd us",
            "numba/numpy", "numba/jax", "numba/hand", "compile s", "reload s"]  # fmt: skip
    lines = [" | ".join(head), " | ".join("---" for _ in head)]
    for label, t in rows:
        def ratio(other, t=t):
            return f"{t['numba'] / t[other]:.2f}" if other in t else "-"

        lines.append(" | ".join([
            label, _cell(t["numpy"]), _cell(t["numba"]), _cell(t.get("hand")), _cell(t.get("jax")),
            _cell(t.get("autograd")), ratio("numpy"), ratio("jax"), ratio("hand"),
            f"{t['compile']:.2f}", f"{t['reload']:.2f}",
        ]))  # fmt: skip
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats, smaller big arrays")
    parser.add_argument("--keep-cache", action="store_true", help="reuse SYMDIFF_CACHE_DIR instead of a fresh one")
    options = parser.parse_args()
    if not options.keep_cache:
        os.environ["SYMDIFF_CACHE_DIR"] = tempfile.mkdtemp(prefix="symdiff-bench-")
    repeats = 3 if options.quick else 7
    rows = []
    for case in workloads(options.quick):
        rows.append((case[0], measure(case, options.quick, repeats)))
        print(f"measured {case[0]}", file=sys.stderr)
    print(f"# symdiff numba backend benchmark ({os.cpu_count()} CPUs, numba threads: default)")
    print(table(rows))


if __name__ == "__main__":
    main()
