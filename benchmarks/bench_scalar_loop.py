"""A scalar loop's gradient on the NumPy backend: time per step and tape per step (issue 19).

Run from the repository root:

    OPENBLAS_NUM_THREADS=1 python benchmarks/bench_scalar_loop.py
    python benchmarks/bench_scalar_loop.py --quick    # few repeats: a smoke test, not a measurement

Workload: the issue's `for i in range(100): x = x - 0.01 * np.sin(x) * np.cos(y)`
on Python floats, differentiated with respect to x and y. Issue 19's targets:
the gradient takes at most 3x the forward's time per step, and its tapes hold
at most 16 B per step. Contenders (interleaved, after a cross-check of the two
gradients, by benchmarks/method.py): the forward function itself, symdiff's
gradient, and a gradient written by hand (forward-mode, no tape).

Tape per step is measured with tracemalloc: the peak memory Python allocates
during a gradient call of 1,100 steps less that of 100 steps, over the 1,000
extra steps (everything a step keeps alive until the backward pass: list
slots and the float objects in them).
"""

from __future__ import annotations

import argparse
import sys
import tracemalloc
from pathlib import Path

import numpy as np

import symdiff as sd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks import method
from benchmarks.bench_numba import scalar_loop_by_hand  # the same hand-written gradient bench_numba times

STEPS = 100


def scalar_loop(x, y):
    for i in range(100):
        x = x - 0.01 * np.sin(x) * np.cos(y)
    return x * x


def scalar_loop_steps(x, y, n):
    for i in range(n):
        x = x - 0.01 * np.sin(x) * np.cos(y)
    return x * x


def tape_bytes_per_step(grad) -> float:
    """Peak Python allocation of a 1,100-step gradient call less a 100-step one, per extra step."""
    peaks = []
    for n in (100, 1100):
        grad(0.7, 0.3, n)  # warm: nothing first-call-only in the measurement
        tracemalloc.start()
        grad(0.7, 0.3, n)
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
    return (peaks[1] - peaks[0]) / 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="few repeats: a smoke test")
    options = parser.parse_args()
    method.print_machine()
    grad = sd.grad(scalar_loop, wrt=(0, 1))
    contenders = {"forward": scalar_loop, "symdiff gradient": grad, "by hand": scalar_loop_by_hand}
    method.cross_check({"symdiff gradient": grad(0.7, 0.3), "by hand": scalar_loop_by_hand(0.7, 0.3)})
    stats = method.interleaved(contenders, (0.7, 0.3), repeats=3 if options.quick else 15)
    forward = stats["forward"].median
    print(f"\n{STEPS} steps, Python floats; per step (median, ±IQR/2):")
    for name, stat in stats.items():
        print(f"  {name:18s} {stat.median / STEPS * 1e6:8.2f} us   {stat.median / forward:5.2f} x forward")
    per_step = tape_bytes_per_step(sd.grad(scalar_loop_steps, wrt=(0, 1)))
    print(f"\ntape per step (tracemalloc): {per_step:.0f} B   (target: <= 16 B; gradient <= 3x forward)")


if __name__ == "__main__":
    main()
