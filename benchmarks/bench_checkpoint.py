"""Checkpointed loops against plain reverse mode: time and peak memory, side by side.

Run from the repository root:

    python benchmarks/bench_checkpoint.py            # the issue's sizes (a few minutes)
    python benchmarks/bench_checkpoint.py --quick    # smaller loops, for a smoke test

Two loops: a scalar recurrence of 100,000 steps, and a recurrence over a
2000-element state for 2,000 steps. For each backend the plain gradient and
the `checkpoint="auto"` one are first checked to agree (bit for bit on
NumPy), then timed interleaved (median of the repeats) with peak memory
from `tracemalloc`, which sees NumPy's arrays and Python's lists but not the
Numba runtime's own allocations: the Numba rows report time only.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
import tracemalloc

import numpy as np

import symdiff as sd


def scalar_recurrence(x, n):
    h = x
    total = 0.0
    for t in range(n):
        h = np.tanh(h * 1.1 + 0.1 * np.sin(t * 0.01))
        total = total + h * h
    return total


def array_recurrence(x, n):
    h = x
    for t in range(n):
        h = np.tanh(h * 0.9 + 0.01 * t)
    return np.sum(h * h)


def _timed(gradient, call_args) -> tuple[float, int]:
    tracemalloc.start()
    start = time.perf_counter()
    gradient(*call_args)
    seconds = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return seconds, peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    scale = 10 if args.quick else 1
    print(f"CPU: {platform.processor() or platform.machine()}, {os.cpu_count()} threads, numpy {np.__version__}")
    cases = [
        ("scalar loop", scalar_recurrence, (0.3, 100_000 // scale)),
        ("2000-vector loop", array_recurrence, (np.linspace(-1.0, 1.0, 2000), 2_000 // scale)),
    ]
    print(f"{'workload':18} {'backend':8} {'steps':>7} {'plain s':>9} {'auto s':>9} {'time x':>7} "
          f"{'plain MB':>9} {'auto MB':>9} {'memory x':>9}")  # fmt: skip
    for label, f, call_args in cases:
        for backend in ("numpy", "numba"):
            plain, auto = sd.grad(f, backend=backend), sd.grad(f, backend=backend, checkpoint="auto")
            small = (call_args[0], 3)
            plain(*small), auto(*small)  # compiled before timing
            a, b = plain(*call_args), auto(*call_args)
            same = np.array_equal(a, b) if backend == "numpy" else np.allclose(a, b, rtol=1e-12)
            assert same, f"{label} on {backend}: the checkpointed gradient differs"
            runs = {"plain": [], "auto": []}
            for _ in range(args.repeats):  # interleaved: a noisy stretch hits both
                runs["plain"].append(_timed(plain, call_args))
                runs["auto"].append(_timed(auto, call_args))
            t_plain = statistics.median(r[0] for r in runs["plain"])
            t_auto = statistics.median(r[0] for r in runs["auto"])
            m_plain = max(r[1] for r in runs["plain"]) / 1e6
            m_auto = max(r[1] for r in runs["auto"]) / 1e6
            memory = f"{m_plain:9.2f} {m_auto:9.2f} {m_plain / max(m_auto, 1e-9):9.1f}"
            if backend == "numba":
                memory = f"{'-':>9} {'-':>9} {'-':>9}"  # the Numba runtime's allocations are not traced
            print(f"{label:18} {backend:8} {call_args[1]:>7} {t_plain:9.3f} {t_auto:9.3f} "
                  f"{t_auto / t_plain:7.2f} {memory}")  # fmt: skip


if __name__ == "__main__":
    main()
