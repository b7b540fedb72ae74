"""symdiff's Numba backend against its NumPy backend, hand-written NumPy, JAX and autograd.

Run from the repository root (JAX and autograd are optional: `pip install -e .[bench]`):

    python benchmarks/bench_numba.py            # full run
    python benchmarks/bench_numba.py --quick    # fewer repeats, smaller big cases
    python benchmarks/bench_numba.py --only lstm --only logistic

For each workload the gradients are first checked against the NumPy backend,
then timed with the shared method (benchmarks/method.py): every contender
checked against the NumPy backend, interleaved in one process in a rotating
order after a warm-up call, the median of the samples, JAX given device
arrays (`--isolate` runs each contender alone in a process of its own
instead; see `measure`). The table gives median microseconds per
gradient call and the Numba backend's time as a fraction of the others'
(< 1 means the Numba backend is faster). "compile" is building and first calling the Numba gradient
in a fresh process with an empty cache directory (code generation plus JIT,
imports excluded), so it does not depend on what ran before; "reload" is building and calling the same gradient in a new process that
finds the cache on disk, imports excluded (NumPy, Numba, symdiff, and SymPy,
which symdiff imports lazily at the first build that simplifies an adjoint:
about 0.35 s once per process); "process" is that whole new process's wall
time, from interpreter start to the first gradient.

The scalar loop is the issue's `for i in range(100): x = x - 0.01 * sin(x) *
cos(y)`, a real loop in the source (JAX and autograd trace it unrolled). JAX
runs with float64 enabled, like the others. `SYMDIFF_NUMBA_PARALLEL=1` and
`SYMDIFF_NUMBA_FASTMATH=1` time the Numba backend with those options.

Arrays of a million elements or more are dominated by page faults: glibc
returns big freed blocks to the system, so every temporary is fresh memory,
while JAX keeps its buffers. `GLIBC_TUNABLES=glibc.malloc.trim_threshold=
1073741824:glibc.malloc.mmap_threshold=1073741824` keeps freed memory for
reuse (NumPy and Numba alike) and shows the compute-bound times;
`GLIBC_TUNABLES=glibc.malloc.hugetlb=1` gives Numba's arrays the huge pages
NumPy already asks for.

Timings on a small shared machine vary by tens of percent from run to run
(any other busy process competes with the BLAS worker threads): compare
ratios from one run, and repeat a run before trusting a change.
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

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchmarks import method

# -- workloads -----------------------------------------------------------------


def scalar_loop(x, y):
    for i in range(100):
        x = x - 0.01 * np.sin(x) * np.cos(y)
    return x * x


def scalar_loop_by_hand(x, y):
    dx, dy = 1.0, 0.0
    cy, sy = np.cos(y), np.sin(y)
    for _ in range(100):
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


def lstm_loss(wx, wh, b, xs, h0, c0):
    h = h0
    c = c0
    n = h0.shape[-1]
    for t in range(xs.shape[0]):
        z = xs[t] @ wx + h @ wh + b
        i = 1.0 / (1.0 + np.exp(-z[:, :n]))
        f = 1.0 / (1.0 + np.exp(-z[:, n : 2 * n]))
        o = 1.0 / (1.0 + np.exp(-z[:, 2 * n : 3 * n]))
        g = np.tanh(z[:, 3 * n :])
        c = f * c + i * g
        h = o * np.tanh(c)
    return np.mean(h**2)


def _lstm_args(rng, steps=20, batch=32, inputs=32, hidden=64):
    return (
        0.1 * rng.normal(size=(inputs, 4 * hidden)), 0.1 * rng.normal(size=(hidden, 4 * hidden)),
        0.1 * rng.normal(size=4 * hidden), rng.normal(size=(steps, batch, inputs)),
        rng.normal(size=(batch, hidden)), rng.normal(size=(batch, hidden)),
    )  # fmt: skip


def tanh_dot(x):
    return np.sum(np.tanh(x) * x)


def tanh_dot_by_hand(x):
    t = np.tanh(x)
    return t + x * (1.0 - t * t)


def _mlp_args(rng):
    x, labels = rng.normal(size=(256, 784)), rng.integers(0, 10, 256)
    return (
        rng.normal(size=(784, 256)) * 0.05,
        np.zeros(256),
        rng.normal(size=(256, 10)) * 0.05,
        np.zeros(10),
        x,
        np.eye(10)[labels],
    )


def workloads(quick: bool) -> list[tuple]:
    """(label, function, wrt, hand-written gradient, argument factory)."""
    big = 10**5 if quick else 10**6
    huge = 10**6 if quick else 10**7
    return [
        ("scalar loop, 100 steps", scalar_loop, (0, 1), scalar_loop_by_hand, lambda rng: (0.7, 0.3)),
        ("Rosenbrock n=10", rosenbrock, 0, rosenbrock_by_hand, lambda rng: (rng.normal(size=10),)),
        (f"Rosenbrock n={big:.0e}", rosenbrock, 0, rosenbrock_by_hand, lambda rng: (rng.normal(size=big),)),
        ("logistic 10000x100", logistic_loss, 0, logistic_by_hand,
         lambda rng: (rng.normal(size=100) * 0.1, rng.normal(size=(10000, 100)), rng.integers(0, 2, 10000) * 1.0)),
        ("MLP 784-256-10, batch 256", mlp_loss, (0, 1, 2, 3), mlp_by_hand, _mlp_args),
        ("LSTM T=20, batch 32, hidden 64", lstm_loss, (0, 1, 2), None, _lstm_args),
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


def best_time(calls: dict, repeats: int, budget: float = 0.2, pause: float = 0.3) -> dict:
    """Median seconds per call for each contender, interleaved in a rotating order (benchmarks/method.py).

    Each block of calls starts after `pause` seconds of idling: NumPy and Numba
    link two different OpenBLAS builds (SciPy's, for Numba's matrix-matrix
    products; the Numba backend sends matrix-vector products to NumPy's), and
    each keeps its worker threads spinning for a while after a product, which
    on a small machine would slow down whichever contender runs next.
    Every contender has already been called once (`contenders`: the warm-up).
    """
    numbers = {}
    for name, call in calls.items():
        start = time.perf_counter()
        call()
        once = max(time.perf_counter() - start, 1e-7)
        numbers[name] = max(1, min(10000, int(budget / repeats / once)))
    samples = {name: [] for name in calls}
    names = list(calls)
    for repeat in range(repeats):
        shift = repeat % len(names)
        for name in names[shift:] + names[:shift]:
            time.sleep(pause)
            start = time.perf_counter()
            for _ in range(numbers[name]):
                calls[name]()
            samples[name].append((time.perf_counter() - start) / numbers[name])
    return {name: method.Stats(samples[name]).median for name in names}


def _check(got, want, label):
    for g, w in zip(got if isinstance(got, tuple) else (got,), want if isinstance(want, tuple) else (want,)):
        if not np.allclose(g, w, rtol=1e-8, atol=1e-10):
            raise SystemExit(f"{label}: the Numba backend disagrees with the NumPy backend")


_RELOAD = """
import sys, time, json
sys.path.insert(0, sys.argv[1])
import numpy as np, symdiff, sympy, bench_numba
label = sys.argv[2]
case = next(c for c in bench_numba.workloads(sys.argv[3] == "quick") if c[0] == label)
args = case[4](np.random.default_rng(0))
start = time.perf_counter()
symdiff.grad(case[1], wrt=case[2], backend="numba")(*args)
print(json.dumps(time.perf_counter() - start))
"""


def reload_seconds(label: str, quick: bool) -> tuple[float, float]:
    """(build + first call, whole process) for the gradient in a fresh process that finds the on-disk cache.

    The first figure leaves out the imports (NumPy, Numba, symdiff and SymPy,
    which symdiff imports on the first build that simplifies an adjoint); the
    second is the wall time of the whole process, interpreter start included.
    """
    here = os.path.dirname(os.path.abspath(__file__))
    command = [sys.executable, "-c", _RELOAD, here, label, "quick" if quick else "full"]
    start = time.perf_counter()
    out = subprocess.run(command, capture_output=True, text=True, check=True, env=dict(os.environ))
    process = time.perf_counter() - start
    return json.loads(out.stdout.strip().splitlines()[-1]), process


def contenders(function, wrt, by_hand, args) -> dict:
    """Zero-argument callables for every available contender, each called once (JIT outside timing)."""
    numpy_grad = sd.grad(function, wrt=wrt)
    numba_grad = sd.grad(function, wrt=wrt, backend="numba")
    calls = {"numpy": lambda: numpy_grad(*args), "numba": lambda: numba_grad(*args)}
    if by_hand is not None:
        calls["hand"] = lambda: by_hand(*args)
    for name, make in (("jax", jax_gradient), ("autograd", autograd_gradient)):
        contender = make(function, wrt)
        if contender is not None:
            # JAX gets device arrays, made once: converting NumPy arrays on every call is not JAX's cost.
            own = method.jax_args(args) if name == "jax" else args
            calls[name] = lambda contender=contender, own=own: contender(*own)
    # The warm-up call of each, and every contender's gradient checked against the NumPy backend's.
    method.cross_check({name: call() for name, call in calls.items()}, rtol=1e-8, atol=1e-10, label=function.__name__)
    return calls


def _find(label: str, quick: bool) -> tuple:
    return next(c for c in workloads(quick) if c[0] == label)


def time_alone(label: str, name: str, repeats: int, quick: bool) -> float | None:
    """Seconds per call of one contender (run in a process of its own by `measure`)."""
    _, function, wrt, by_hand, make_args = _find(label, quick)
    calls = contenders(function, wrt, by_hand, make_args(np.random.default_rng(0)))
    return best_time({name: calls[name]}, repeats, pause=0.0)[name] if name in calls else None


_TIME_ALONE = """
import sys, json
sys.path.insert(0, sys.argv[1])
import bench_numba
print(json.dumps(bench_numba.time_alone(sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5] == "quick")))
"""


def _in_own_process(label: str, name: str, repeats: int, quick: bool) -> float | None:
    here = os.path.dirname(os.path.abspath(__file__))
    command = [sys.executable, "-c", _TIME_ALONE, here, label, name, str(repeats), "quick" if quick else "full"]
    out = subprocess.run(command, capture_output=True, text=True, check=True, env=dict(os.environ))
    return json.loads(out.stdout.strip().splitlines()[-1])


def measure(case, quick: bool, repeats: int, isolate: bool) -> dict:
    """Check the Numba gradient, time its first build, then time every contender.

    With `isolate`, each contender runs alone in a fresh process: in one
    process, the worker threads of JAX's runtime and of the two OpenBLAS
    builds (NumPy's, and SciPy's for Numba) keep spinning after their own calls
    and slow down whoever runs next on a small machine.
    """
    label, function, wrt, by_hand, make_args = case
    args = make_args(np.random.default_rng(0))
    compile_s, _ = reload_seconds(label, quick)  # a fresh process, an empty cache: it compiles
    numba_grad = sd.grad(function, wrt=wrt, backend="numba")
    _check(numba_grad(*args), sd.grad(function, wrt=wrt)(*args), label)
    if isolate:
        times = {}
        for _ in range(1 if quick else 2):  # alternate the processes, keep each contender's best
            for name in ("numpy", "numba", "hand", "jax", "autograd"):
                seconds = _in_own_process(label, name, repeats, quick)
                if seconds is not None:
                    times[name] = min(seconds, times.get(name, seconds))
    else:
        times = best_time(contenders(function, wrt, by_hand, args), repeats)
    times["compile"] = compile_s
    times["reload"], times["process"] = reload_seconds(label, quick)
    return times


def _cell(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    return f"{seconds * 1e6:,.1f}" if seconds < 0.1 else f"{seconds * 1e6:,.0f}"


def table(rows: list[tuple[str, dict]]) -> str:
    head = ["workload", "numpy us", "numba us", "hand us", "jax us", "autograd us",
            "numba/numpy", "numba/jax", "numba/hand", "compile s", "reload s", "process s"]  # fmt: skip
    lines = [" | ".join(head), " | ".join("---" for _ in head)]
    for label, t in rows:

        def ratio(other, t=t):
            return f"{t['numba'] / t[other]:.2f}" if other in t else "-"

        lines.append(" | ".join([
            label, _cell(t["numpy"]), _cell(t["numba"]), _cell(t.get("hand")), _cell(t.get("jax")),
            _cell(t.get("autograd")), ratio("numpy"), ratio("jax"), ratio("hand"),
            f"{t['compile']:.2f}", f"{t['reload']:.2f}", f"{t['process']:.2f}",
        ]))  # fmt: skip
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats, smaller big arrays")
    parser.add_argument("--keep-cache", action="store_true", help="reuse SYMDIFF_CACHE_DIR instead of a fresh one")
    parser.add_argument(
        "--only", action="append", default=[], help="run workloads whose label contains this (any case)"
    )
    parser.add_argument("--isolate", action="store_true", help="time each contender alone in a process of its own")
    options = parser.parse_args()
    if not options.keep_cache:
        os.environ["SYMDIFF_CACHE_DIR"] = tempfile.mkdtemp(prefix="symdiff-bench-")
    repeats = 3 if options.quick else 7
    rows = []
    for case in workloads(options.quick):
        if options.only and not any(word.lower() in case[0].lower() for word in options.only):
            continue
        rows.append((case[0], measure(case, options.quick, repeats, isolate=options.isolate)))
        print(f"measured {case[0]}", file=sys.stderr)
    import numba

    from symdiff.backends import numba as numba_backend

    settings = numba_backend.Settings.from_env()
    method.print_machine()
    print(
        f"# symdiff numba backend benchmark ({os.cpu_count()} CPUs, numba threads: {numba.config.NUMBA_NUM_THREADS}, "
        f"parallel={settings.parallel}, fastmath={settings.fastmath})"
    )
    print(table(rows))


if __name__ == "__main__":
    main()
