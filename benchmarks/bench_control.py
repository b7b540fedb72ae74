"""An LSTM's gradient: symdiff (NumPy backend) against a hand-written backward pass, side by side.

Run from the repository root:

    python benchmarks/bench_control.py             # full run (about half a minute)
    python benchmarks/bench_control.py --quick     # few repeats: a smoke test, not a measurement
    python benchmarks/bench_control.py --profile   # also: where the generated gradient spends its time

Workload (issue 3): an LSTM unrolled over T=20 steps, batch 32, hidden 64,
input 16, with its four gates computed by a `sigmoid()` helper inside a `for`
loop; the loss is the mean of the final hidden state squared and the gradient
is taken with respect to wx, wh and b. symdiff differentiates the loop as a
loop, saving per-step values on tapes; the contender is backpropagation
through time written by hand in NumPy, the way one writes it for a course:
the same forward statements, each step's gates kept in a list, the steps
walked backwards with the gate derivatives written into one preallocated
array.

The script first checks that the two gradients agree, then times forward,
symdiff gradient and hand-written gradient with the shared method of
benchmarks/method.py: interleaved in an order that rotates from sample to
sample, after a warm-up, median and interquartile range.
Target (issue 3): symdiff / by hand <= 1.2.

Where the remaining time goes (measured by A/B variants of the generated
source, each against the same build): the gradient cannot know shapes, so it
keeps `sum_to` calls that are no-ops for these shapes (about 4% before
`sum_to` read `x.shape` directly, less since), saves the shapes of the two
matrix products for them, which also keeps those products alive until the
next step (about 1.5%), and computes tanh's derivative as
`(1 - t) * (1 + t)`, the form STYLE.md keeps, instead of `1 - t * t` (one
more pass per tanh, about 3%). The gate cotangent starts unfilled
(`scatter_into_empty`) since its four slices are provably all written, as
the hand-written code's one reused array is.

On a busy machine, multi-threaded BLAS stalls on these small matrices and
swamps both contenders: compare runs with OPENBLAS_NUM_THREADS=1 (the BLAS
line of the header says what was used).

`--profile` instruments every statement of the generated source with a clock
and prints the statements that cost the most time per call (the timer's own
overhead is included, so read the ranking, not the absolute figures).
"""

from __future__ import annotations

import argparse
import ast
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

import symdiff as sd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks import method

T, BATCH, HIDDEN, INPUT = 20, 32, 64, 16


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def lstm_loss(wx, wh, b, xs, h0, c0):
    """Mean squared final hidden state of an LSTM run over xs (T, batch, input)."""
    h = h0
    c = c0
    n = h0.shape[-1]
    for t in range(xs.shape[0]):
        z = xs[t] @ wx + h @ wh + b
        i = sigmoid(z[:, :n])
        f = sigmoid(z[:, n : 2 * n])
        o = sigmoid(z[:, 2 * n : 3 * n])
        g = np.tanh(z[:, 3 * n :])
        c = f * c + i * g
        h = o * np.tanh(c)
    return np.mean(h**2)


def lstm_grad_by_hand(wx, wh, b, xs, h0, c0):
    """Backpropagation through time, written by hand: gradients with respect to wx, wh, b."""
    n = h0.shape[-1]
    h, c = h0, c0
    saved = []
    for t in range(xs.shape[0]):
        z = xs[t] @ wx + h @ wh + b
        i = sigmoid(z[:, :n])
        f = sigmoid(z[:, n : 2 * n])
        o = sigmoid(z[:, 2 * n : 3 * n])
        g = np.tanh(z[:, 3 * n :])
        c_prev, h_prev = c, h
        c = f * c + i * g
        tanh_c = np.tanh(c)
        h = o * tanh_c
        saved.append((h_prev, c_prev, i, f, o, g, tanh_c))
    dh = 2.0 * h / h.size
    dc = np.zeros_like(c)
    dwx, dwh, db = np.zeros_like(wx), np.zeros_like(wh), np.zeros_like(b)
    dz = np.empty((h.shape[0], 4 * n))
    for t in reversed(range(xs.shape[0])):
        h_prev, c_prev, i, f, o, g, tanh_c = saved[t]
        dc = dc + dh * o * (1.0 - tanh_c * tanh_c)
        dz[:, :n] = dc * g * i * (1.0 - i)
        dz[:, n : 2 * n] = dc * c_prev * f * (1.0 - f)
        dz[:, 2 * n : 3 * n] = dh * tanh_c * o * (1.0 - o)
        dz[:, 3 * n :] = dc * i * (1.0 - g * g)
        dc = dc * f
        dwx += xs[t].T @ dz
        dwh += h_prev.T @ dz
        db += dz.sum(axis=0)
        dh = dz @ wh.T
    return dwx, dwh, db


def lstm_data(rng):
    wx = rng.normal(size=(INPUT, 4 * HIDDEN)) / np.sqrt(INPUT)
    wh = rng.normal(size=(HIDDEN, 4 * HIDDEN)) / np.sqrt(HIDDEN)
    b = 0.1 * rng.normal(size=4 * HIDDEN)
    xs = rng.normal(size=(T, BATCH, INPUT))
    h0 = 0.1 * rng.normal(size=(BATCH, HIDDEN))
    c0 = 0.1 * rng.normal(size=(BATCH, HIDDEN))
    return wx, wh, b, xs, h0, c0


# -- measurement (the same protocol as bench_core.py) -------------------------------


# -- per-statement cost of a generated function -----------------------------------------


class _Clocked(ast.NodeTransformer):
    """Wraps every simple statement in `_t = _clock(); stmt; _cost[line] += _clock() - _t`."""

    def _wrap(self, body):
        out = []
        for stmt in body:
            if isinstance(stmt, (ast.FunctionDef, ast.For, ast.While, ast.If)):
                self.generic_visit(stmt)
                out.append(stmt)
                continue
            start = ast.parse("_t = _clock()").body[0]
            stop = ast.parse(f"_cost[{stmt.lineno}] += _clock() - _t").body[0]
            if isinstance(stmt, ast.Return):
                keep = ast.Assign(targets=[ast.Name("_returned", ast.Store())], value=stmt.value, lineno=0)
                out += [start, keep, stop, ast.Return(ast.Name("_returned", ast.Load()))]
            else:
                out += [start, stmt, stop]
        return out

    def generic_visit(self, node):
        for field in ("body", "orelse"):
            if isinstance(getattr(node, field, None), list):
                setattr(node, field, self._wrap(getattr(node, field)))
        return node


def statement_costs(derivative, args, calls=20):
    """Seconds per call spent in each line of `derivative.source`, from an instrumented copy of it.

    Each line's figure is its minimum over `calls` calls (summed over loop
    iterations within a call), which discounts noise from other processes.
    """
    source, namespace, _, name = derivative.__symdiff_source__
    tree = _Clocked().visit(ast.parse(source))
    ast.fix_missing_locations(tree)
    scope = {**namespace, "_clock": time.perf_counter}
    exec(compile(tree, "<instrumented>", "exec"), scope)  # noqa: S102 - symdiff's own generated code
    best = {}
    for _ in range(calls + 1):  # the first call warms up
        scope["_cost"] = cost = defaultdict(float)
        scope[name](*args)
        for line, seconds in cost.items():
            best[line] = min(best.get(line, float("inf")), seconds)
    return best


def print_costly_statements(derivative, args, top=12):
    """The `top` most expensive statements of a generated function, with their share of its time."""
    costs = statement_costs(derivative, args)
    lines = derivative.__symdiff_source__[0].splitlines()
    total = sum(costs.values())
    print(f"most expensive statements of {derivative.__symdiff_source__[3]} (instrumented, per call):")
    for line, seconds in sorted(costs.items(), key=lambda item: -item[1])[:top]:
        print(f"  {seconds * 1e6:9.1f} us {100 * seconds / total:5.1f}%  line {line:4d}: {lines[line - 1].strip()}")


# -- main ---------------------------------------------------------------------------------


FIRST_BUILD = """
import time
import symdiff as sd
from benchmarks import bench_control
start = time.perf_counter()
sd.grad(bench_control.lstm_loss, wrt=(0, 1, 2))
print(time.perf_counter() - start)
"""


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="few repeats: a smoke test, not a measurement")
    parser.add_argument("--repeats", type=int, default=None, help="timing samples per contender (default 40)")
    parser.add_argument("--profile", action="store_true", help="print the costliest generated statements")
    options = parser.parse_args(argv)
    repeats = options.repeats or (3 if options.quick else 40)

    method.print_machine()
    print(f"LSTM T={T}, batch {BATCH}, hidden {HIDDEN}, input {INPUT}; gradient with respect to wx, wh, b")
    print(f"median and IQR of {repeats} interleaved samples of ~50 ms each (rotating order, after warm-up)")
    args = lstm_data(np.random.default_rng(0))
    build = method.fresh_process_seconds(FIRST_BUILD)
    symdiff_grad = sd.grad(lstm_loss, wrt=(0, 1, 2))
    error = method.cross_check({"by hand": lstm_grad_by_hand(*args), "symdiff": symdiff_grad(*args)}, label="LSTM")
    stats = method.interleaved(
        {"forward": lstm_loss, "symdiff": symdiff_grad, "by hand": lstm_grad_by_hand}, args, repeats
    )
    best = {name: s.median for name, s in stats.items()}

    ms = 1e3
    print()
    print(f"{'':<22}{'forward':>10}{'symdiff':>10}{'by hand':>10}{'symdiff/':>10}{'symdiff/':>10}{'by hand/':>10}")
    print(f"{'(median ms)':<22}{'ms':>10}{'ms':>10}{'ms':>10}{'by hand':>10}{'forward':>10}{'forward':>10}")
    ratio = best["symdiff"] / best["by hand"]
    print(
        f"{'LSTM gradient':<22}{best['forward'] * ms:>10.3f}{best['symdiff'] * ms:>10.3f}{best['by hand'] * ms:>10.3f}"
        f"{ratio:>10.2f}{best['symdiff'] / best['forward']:>10.2f}{best['by hand'] / best['forward']:>10.2f}"
    )
    print()
    spread = ", ".join(f"{name} ±{s.spread() * 50:.0f}%" for name, s in stats.items())
    print(f"spread (IQR/2 over the median): {spread}")
    print(f"agreement with the hand-written gradient: max |difference| {error['symdiff']:.1e}")
    print(f"gradient construction (source -> callable, first build in a fresh process): {build * ms:.0f} ms")
    print(f"generated source: {len(symdiff_grad.source.splitlines())} lines")
    print(f"target (issue 3): symdiff/by hand <= 1.20: {'ok' if ratio <= 1.2 else 'MISSED'} ({ratio:.2f})")
    if options.profile:
        print()
        print_costly_statements(symdiff_grad, args)


if __name__ == "__main__":
    main()
