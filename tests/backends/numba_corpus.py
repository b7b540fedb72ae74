"""Functions the Numba backend must differentiate exactly as the NumPy backend does.

Each `Case` names a function, the arguments to differentiate with respect to,
and a factory for its arguments (fixed seeds, small sizes so that compiling
dominates nothing but the first call).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from tests.models import logistic_loss, mlp_loss


def rosenbrock(x):
    return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


def tanh_dot(x):
    return np.sum(np.tanh(x) * x)


def bias_add(x, w, b):
    return np.sum(np.sin(x @ w + b) ** 2)


def reductions(a):
    kept = np.sum(a * a, axis=1, keepdims=True)
    rows = np.max(a, axis=0)
    cols = np.mean(np.exp(a), axis=(0, 2))
    low = np.min(a - kept, axis=-1, keepdims=True)
    return np.sum(rows) + np.sum(cols * cols) + np.sum(low) + np.prod(a[0, 0] + 2.0)


def broadcast_sum(a, b):
    return np.sum(np.tanh(a) * b + a)


def scalar_chain(x, y):
    a = np.sin(x) * np.cos(y) + x**2
    b = np.exp(-a) + np.log1p(y * y)
    return a * b - np.tanh(x / (1.0 + y * y))


def scalar_math(x, y):
    u = np.sqrt(x * x + y * y)
    return np.arctan2(y, x) * u + np.maximum(x, y) - np.abs(x - 2.0 * y) + np.logaddexp(x, y)


def where_clip(x):
    return np.sum(np.where(x > 0.0, x * x, -x) + np.clip(x, -0.5, 0.5))


def transposed(a, b):
    return np.sum((a.T @ b) ** 2) + np.sum(np.swapaxes(a, 0, 1) * 3.0)


@dataclass(frozen=True)
class Case:
    """A function, what to differentiate, and its arguments."""

    function: Callable
    wrt: int | tuple[int, ...]
    arguments: Callable[[np.random.Generator], tuple]

    @property
    def name(self) -> str:
        return self.function.__name__


def _mlp_args(rng):
    x, labels = rng.normal(size=(8, 5)), rng.integers(0, 3, 8)
    return (rng.normal(size=(5, 6)), rng.normal(size=6), rng.normal(size=(6, 3)), rng.normal(size=3), x, np.eye(3)[labels])


CASES = [
    Case(logistic_loss, 0, lambda rng: (rng.normal(size=4), rng.normal(size=(30, 4)), rng.integers(0, 2, 30) * 1.0)),
    Case(mlp_loss, (0, 1, 2, 3), _mlp_args),
    Case(rosenbrock, 0, lambda rng: (rng.normal(size=10),)),
    Case(tanh_dot, 0, lambda rng: (rng.normal(size=(6, 7)),)),
    Case(bias_add, (0, 1, 2), lambda rng: (rng.normal(size=(5, 3)), rng.normal(size=(3, 4)), rng.normal(size=4))),
    Case(reductions, 0, lambda rng: (rng.normal(size=(3, 4, 5)),)),
    Case(broadcast_sum, (0, 1), lambda rng: (rng.normal(size=(3, 1)), rng.normal(size=4))),
    Case(scalar_chain, (0, 1), lambda rng: (0.3, 0.7)),
    Case(scalar_math, (0, 1), lambda rng: (0.4, -1.3)),
    Case(where_clip, 0, lambda rng: (rng.normal(size=9),)),
    Case(transposed, (0, 1), lambda rng: (rng.normal(size=(3, 4)), rng.normal(size=(3, 2)))),
]


# -- control flow -------------------------------------------------------------------


def nested_saved_loops(A):
    """Loops in loops whose Hessian-vector product has a forward loop that two backward loops pop."""
    total = 0.0
    for j in range(3):
        minor = A[1:] * A[0, j]
        s = 0.0
        for k in range(2):
            s = s + np.sum(minor[1:] * minor[0, k]) * minor[0, k]
        total = total + A[0, j] * s
    return total


def saved_writes(x):
    """Writes into an array the backward pass also saves each iteration: the write must copy."""
    acc = np.zeros(3)
    total = 0.0
    for i in range(3):
        acc[i] = x * (i + 1.0)
        total = total + np.sum(np.sin(acc) * acc)
    return total


def scalar_loop(x, y):
    """The issue's 100-step scalar loop."""
    for i in range(100):
        x = x - 0.01 * np.sin(x) * np.cos(y)
    return x * x


@dataclass(frozen=True)
class ControlCase:
    """A function with control flow, what to differentiate, and argument tuples that take different paths."""

    function: Callable
    wrt: int | tuple[int, ...]
    calls: tuple[tuple, ...]

    @property
    def name(self) -> str:
        return self.function.__name__


def control_cases() -> list[ControlCase]:
    """tests/transforms/programs.py and the loops above, with fixed arguments."""
    from tests.transforms import programs as p

    rng = np.random.default_rng(5)
    n, d, batch, steps = 3, 2, 4, 5
    lstm_args = (
        0.5 * rng.normal(size=(d, 4 * n)), 0.5 * rng.normal(size=(n, 4 * n)), 0.1 * rng.normal(size=4 * n),
        rng.normal(size=(steps, batch, d)), rng.normal(size=(batch, n)), rng.normal(size=(batch, n)),
    )  # fmt: skip
    w, x = np.abs(rng.normal(size=3)), np.abs(rng.normal(size=(4, 3)))
    rnn_args = (rng.normal(size=(3, 4)), 0.5 * rng.normal(size=(4, 4)), rng.normal(size=(6, 3)), rng.normal(size=4))
    return [
        ControlCase(p.branchy, (0, 1), ((0.5, 1.3), (-0.5, 1.3), (-2.0, 1.3))),
        ControlCase(p.array_branch, 0, ((w, x), (-w, x))),
        ControlCase(p.overwrite_loop, 0, ((0.3, 5), (0.3, 0))),
        ControlCase(p.stepped_loop, 0, ((np.array([0.1, 0.7]), 1, 8), (np.array([0.1, 0.7]), 8, 1))),
        ControlCase(p.sqrt_newton, 0, ((2.0,), (9.0,))),
        ControlCase(p.two_layer, (0, 1), ((rng.normal(size=(3, 3)), rng.normal(size=3), rng.normal(size=(5, 3))),)),
        ControlCase(p.rnn, (0, 1, 3), (rnn_args,)),
        ControlCase(p.lstm, (0, 1, 2), (lstm_args,)),
        ControlCase(p.early_return, (0, 1), ((-1.0, 2.0), (0.5, 3.0), (0.5, 1.0))),
        ControlCase(p.flagged, 0, ((rng.normal(size=4), True), (rng.normal(size=4), False))),
        ControlCase(p.column_writes, 0, ((rng.normal(size=3),),)),
        ControlCase(p.nested_loops, 0, ((rng.normal(size=3), 3),)),
        ControlCase(p.loop_with_branch, 0, ((rng.normal(size=3) ** 2,), (-(rng.normal(size=3) ** 2),))),
        ControlCase(p.hundred_steps, 0, ((0.5,),)),
        ControlCase(saved_writes, 0, ((0.7,),)),
        ControlCase(scalar_loop, (0, 1), ((0.7, 0.3),)),
    ]


def unit_axis_broadcast(a):
    """Broadcasts a (3, 1) array against a (3, 4) one: Numba's parallel array expressions cannot."""
    return np.sum(np.tanh(a - np.max(a, axis=1, keepdims=True)))
