"""How gradient construction time grows with the length of the program.

Run from the repository root:

    python benchmarks/bench_build.py            # chain of 10..320 steps and a 1000-statement function
    python benchmarks/bench_build.py --quick    # 10..80 steps and 200 statements: a smoke test
    python benchmarks/bench_build.py --steps 10 20 40 --statements 100   # any lengths

Workloads (the issue: "building must be near-linear in program length"):
  - a residual chain of N unrolled statements `h = h + np.tanh(h * w)` returning
    `np.sum(h)`, gradient with respect to `h` and `w`. Every step reads `h` twice,
    so any walk over the forward definitions that is not memoised is exponential
    in N (it was: 20 steps took 7 s, 22 steps 27 s);
  - a straight-line function of 1000 statements cycling through ten kinds
    (elementwise arithmetic and functions, a matrix product, a full reduction
    and a reduction along an axis), gradient with respect to all four arguments.

symdiff reads source from files, so the functions are written to a temporary
module at run time. Each build is of a fresh function object, so symdiff's
cache of derivatives never answers; the SymPy results of
`transforms/algebra.py` are cleared before every build (the chain's steps are
identical, so within one build SymPy's caches still help, as they would for a
user). Time is the wall time of `symdiff.grad(f, wrt=...)`: lowering,
reverse transform, simplification, optimisation, code generation and
compiling the generated source; the gradient is not called (a 2-step chain
is built first, untimed, so that importing SymPy and parsing the rules once
per process do not count against the first row). The table's ratio column
divides the time per step (per statement for the mixed function) by the
first chain's time per step: flat all the way down means linear growth.

Before timing, each gradient is checked against central finite differences
in float64 along a random direction.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import platform
import sys
import tempfile
import time

import numpy as np

import symdiff as sd
import symdiff.api
from symdiff.transforms import algebra

# One statement of each kind, cycled to make a long straight-line function of
# x, y (3 x 4), w (4,) and m (4 x 4). Every kind keeps values bounded, so the
# finite-difference check stays meaningful after a thousand statements.
MIXED = (
    "y = np.tanh(x * w) + 0.5 * y",
    "x = x + 0.1 * np.sin(y)",
    "s = np.sum(x * y) / 12.0",
    "y = y - 0.01 * s * x",
    "x = 0.5 * np.cos(x @ m) + 0.5 * x",
    "y = y / (1.0 + x * x)",
    "x = np.exp(-0.5 * y * y) * x",
    "y = np.sqrt(1.0 + y * y) - 1.0 + 0.1 * y",
    "x = x - 0.1 * np.mean(x, axis=0)",
    "y = 0.9 * y + np.log(1.0 + x * x)",
)


def chain_source(steps: int, name: str) -> str:
    """A function of `steps` unrolled residual statements."""
    body = ["    h = h + np.tanh(h * w)"] * steps
    return "\n".join([f"def {name}(h, w):", *body, "    return np.sum(h)", ""])


def mixed_source(statements: int, name: str) -> str:
    """A straight-line function of `statements` statements cycling through `MIXED`."""
    body = [f"    {MIXED[k % len(MIXED)]}" for k in range(statements)]
    return "\n".join([f"def {name}(x, y, w, m):", "    s = 0.0", *body, "    return np.sum(x * y) + s", ""])


def load(sources: dict[str, str], folder: str):
    """Write the functions to one module in `folder` and import it."""
    path = os.path.join(folder, "bench_build_functions.py")
    with open(path, "w") as file:
        file.write("import numpy as np\n\n\n" + "\n\n".join(sources.values()))
    spec = importlib.util.spec_from_file_location("bench_build_functions", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def build_seconds(func, wrt) -> tuple[float, float, object]:
    """Wall and CPU time of one build of `func`'s gradient, SymPy caches cleared first."""
    symdiff.api._lowered.cache_clear()
    algebra._cancelled.cache_clear()
    algebra._factored.cache_clear()
    start, cpu = time.perf_counter(), time.process_time()
    gradient = sd.grad(func, wrt=wrt)
    return time.perf_counter() - start, time.process_time() - cpu, gradient


def finite_difference_error(func, gradient, args, seed=0) -> float:
    """Relative difference of the gradient along a random direction from a central difference."""
    rng = np.random.default_rng(seed)
    direction = [rng.normal(size=np.shape(a)) for a in args]
    eps = 1e-6
    plus = func(*[a + eps * d for a, d in zip(args, direction)])
    minus = func(*[a - eps * d for a, d in zip(args, direction)])
    numeric = (plus - minus) / (2 * eps)
    analytic = sum(float(np.sum(g * d)) for g, d in zip(gradient(*args), direction))
    return abs(numeric - analytic) / max(1.0, abs(numeric))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="shorter programs: a smoke test")
    parser.add_argument("--steps", type=int, nargs="+", help="chain lengths (the first is the reference)")
    parser.add_argument("--statements", type=int, help="length of the mixed function")
    options = parser.parse_args()
    steps = options.steps or ((10, 20, 40, 80) if options.quick else (10, 20, 40, 80, 160, 320))
    statements = options.statements or (200 if options.quick else 1000)
    print(f"symdiff {sd.__version__}, numpy {np.__version__}, python {platform.python_version()}, "
          f"{os.cpu_count()} CPUs, {platform.machine()}")  # fmt: skip
    if hasattr(os, "getloadavg"):
        print("load average {:.1f}, {:.1f}, {:.1f} (timings on a busy machine are not comparable)".format(
            *os.getloadavg()))  # fmt: skip
    sys.setrecursionlimit(1000)  # the default: building must not need more
    rng = np.random.default_rng(1)
    with tempfile.TemporaryDirectory() as folder:
        sources = {n: chain_source(n, f"chain_{n}") for n in steps}
        sources[-1] = mixed_source(statements, "mixed")
        sources[-2] = chain_source(2, "warm_up")
        module = load(sources, folder)
        build_seconds(module.warm_up, (0, 1))  # imports SymPy and parses the rules' source once
        print(f"\n{'workload':<34}{'build s':>10}{'cpu s':>8}{'ms/step':>10}{f'/ {steps[0]}-step':>11}{'fd error':>10}")
        reference = None
        for n in steps:
            seconds, cpu, gradient = build_seconds(getattr(module, f"chain_{n}"), (0, 1))
            per_step = seconds / n
            reference = reference or per_step
            args = (0.1 * rng.normal(size=(3, 4)), 0.1 * rng.normal(size=4))
            error = finite_difference_error(getattr(module, f"chain_{n}"), gradient, args)
            print(f"{f'residual chain, {n} steps':<34}{seconds:>10.3f}{cpu:>8.2f}{1e3 * per_step:>10.2f}"
                  f"{per_step / reference:>11.2f}{error:>10.1e}")  # fmt: skip
        seconds, cpu, gradient = build_seconds(module.mixed, (0, 1, 2, 3))
        per_step = seconds / statements
        args = (rng.normal(size=(3, 4)), rng.normal(size=(3, 4)), rng.normal(size=4), 0.5 * rng.normal(size=(4, 4)))
        error = finite_difference_error(module.mixed, gradient, args)
        print(f"{f'mixed, {statements} statements':<34}{seconds:>10.3f}{cpu:>8.2f}{1e3 * per_step:>10.2f}"
              f"{per_step / reference:>11.2f}{error:>10.1e}")  # fmt: skip


if __name__ == "__main__":
    main()
