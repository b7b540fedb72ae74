"""Checkpointed loops against plain reverse mode: time and peak memory, side by side.

Run from the repository root:

    python benchmarks/bench_checkpoint.py            # the issue's sizes (a few minutes)
    python benchmarks/bench_checkpoint.py --quick    # smaller loops, for a smoke test

Two loops: a scalar recurrence of 100,000 steps, and a recurrence over a
2000-element state for 2,000 steps. For each backend the plain gradient and
the checkpointed ones (`checkpoint="auto"`: square-root segments;
`"binomial"` and `Binomial(snapshots=20)`: Griewank's revolve schedule) are
first checked to agree (bit for bit on NumPy), then timed interleaved
(median of the repeats), and their peak memory taken in one more run each
under `tracemalloc` (not timed: tracing slows allocation), which sees
NumPy's arrays and Python's lists but not the Numba runtime's own
allocations: the Numba rows report time only. "time x" is the time over the
plain gradient's, "memory /" the plain gradient's peak over this one's.

Last, element-write recurrences into an array the function made, `y[t] =
a * y[t - 1] + x[t]` on a 1-D `y` and the same over the rows of a (T, 4)
array, plain gradient on NumPy, at lengths 10^4 to 1.6 * 10^5 (quick: a
tenth): the time per step and peak memory per step stay flat when element
writes and their adjoints run in place; a copy of `y` per step would grow
them with the length.
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


def filled_recurrence(a, x):
    y = np.zeros(x.shape[0])
    y[0] = x[0]
    for t in range(1, x.shape[0]):
        y[t] = a * y[t - 1] + x[t]
    return np.sum(y * y)


def filled_rows(a, x):
    y = np.zeros((x.shape[0], 4))
    for t in range(1, x.shape[0]):
        y[t] = np.tanh(a * y[t - 1] + x[t])  # a row of y: a view the tape keeps a copy of
    return np.sum(y * y)


def run_filled(scale: int, repeats: int) -> None:
    print()
    header = f"{'element-write recurrence (numpy)':34} {'steps':>8} {'s':>8} {'us / step':>10} {'MB':>8}"
    print(f"{header} {'bytes / step':>13}")
    for label, f in (("y[t] = a*y[t-1] + x[t], 1-D", filled_recurrence), ("rows of a (T, 4) array", filled_rows)):
        gradient = sd.grad(f, wrt=(0, 1))
        x = np.linspace(-1.0, 1.0, 200)
        a_bar, x_bar = gradient(0.7, x)
        eps = 1e-6  # one coordinate of each gradient against central differences, before timing
        a_fd = (f(0.7 + eps, x) - f(0.7 - eps, x)) / (2 * eps)
        e = np.zeros_like(x)
        e[100] = eps
        x_fd = (f(0.7, x + e) - f(0.7, x - e)) / (2 * eps)
        assert np.isclose(a_bar, a_fd, rtol=1e-6) and np.isclose(x_bar[100], x_fd, rtol=1e-6), f"{label} disagrees"
        for length in (10_000 // scale, 40_000 // scale, 160_000 // scale):
            x = np.linspace(-1.0, 1.0, length)
            seconds = statistics.median(_seconds(gradient, (0.7, x)) for _ in range(repeats))
            peak = _peak(gradient, (0.7, x))
            row = f"{label:34} {length:>8} {seconds:8.3f} {1e6 * seconds / length:10.2f} {peak / 1e6:8.2f}"
            print(f"{row} {peak / length:13.1f}")


def _seconds(gradient, call_args) -> float:
    start = time.perf_counter()
    gradient(*call_args)
    return time.perf_counter() - start


def _peak(gradient, call_args) -> int:
    """Peak traced memory of one call (a run of its own: tracing slows every allocation)."""
    tracemalloc.start()
    gradient(*call_args)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


CONTENDERS = {  # label: checkpoint=
    "plain": None,
    "auto (sqrt segments)": "auto",
    "binomial": "binomial",
    "binomial, 20 states": sd.Binomial(snapshots=20),
}


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
    print(f"{'workload':17} {'backend':7} {'steps':>7} {'checkpoint':21} {'s':>8} {'time x':>7} {'MB':>8} "
          f"{'memory /':>9}")  # fmt: skip
    for label, f, call_args in cases:
        for backend in ("numpy", "numba"):
            gradients = {name: sd.grad(f, backend=backend, checkpoint=c) for name, c in CONTENDERS.items()}
            for gradient in gradients.values():
                gradient(call_args[0], 3)  # compiled before timing
            reference = gradients["plain"](*call_args)
            for name, gradient in gradients.items():
                got = gradient(*call_args)
                same = np.array_equal(got, reference) if backend == "numpy" else np.allclose(got, reference, rtol=1e-12)
                assert same, f"{label} on {backend}: the {name} gradient differs"
            runs: dict[str, list] = {name: [] for name in gradients}
            for _ in range(args.repeats):  # interleaved: a noisy stretch hits every contender
                for name, gradient in gradients.items():
                    runs[name].append(_seconds(gradient, call_args))
            peaks = {name: _peak(gradient, call_args) / 1e6 for name, gradient in gradients.items()}
            t_plain = statistics.median(runs["plain"])
            m_plain = peaks["plain"]
            for name in gradients:
                seconds = statistics.median(runs[name])
                peak = peaks[name]
                memory = f"{peak:8.2f} {m_plain / max(peak, 1e-9):9.1f}"
                if backend == "numba":
                    memory = f"{'-':>8} {'-':>9}"  # the Numba runtime's allocations are not traced
                print(f"{label:17} {backend:7} {call_args[1]:>7} {name:21} {seconds:8.3f} {seconds / t_plain:7.2f} "
                      f"{memory}")  # fmt: skip
    run_filled(scale, args.repeats)


if __name__ == "__main__":
    main()
