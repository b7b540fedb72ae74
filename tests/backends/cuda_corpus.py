"""Functions the CUDA backend must differentiate exactly as the NumPy backend does.

Sizes are tiny: the tests run on Numba's CUDA simulator, which executes a few
thousand threads per second. Some shapes are chosen to reach particular
kernel paths: rows longer than `REDUCE_CHUNK` (8 on the simulator) take the
atomic, multi-block reduction path; transposed and sliced operands take the
strided-read path.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from tests.models import logistic_loss, mlp_loss


def tanh_sum(x):
    return np.sum(np.tanh(x) * x)


def reductions(x):
    a = np.sum(x * x, axis=0)
    b = np.mean(np.exp(x), axis=1, keepdims=True)
    c = np.max(x, axis=0, keepdims=True)
    d = np.min(x, axis=1)
    e = np.prod(x[:, :2] + 2.0, axis=1)
    return np.sum(a) + np.sum(b * x) + np.sum(c) + np.sum(d) + np.sum(e) + np.mean(x.T @ x)


def shape_ops(x, w):
    a = x[1:, ::2] + x[0, ::2]
    b = np.concatenate([x, x * 2], axis=0)
    s = np.stack([x, x * x], axis=1)
    r = np.reshape(x, (-1,))
    e = np.expand_dims(w, 0)
    return np.sum(a) + np.sum(b * b) + np.sum(s**2) + np.sum(r * r) + np.sum(x.T @ x) + np.sum(np.squeeze(e) * w)


def elementwise(x, y):
    a = np.where(np.logical_and(x > 0, y < 1.0), x, 0.1 * x) * np.sign(y)
    b = np.clip(y, -0.5, 0.5)
    c = np.maximum(x, y) + np.minimum(x, 0.2)
    d = np.logaddexp(x, y) + np.abs(x) + np.sqrt(y * y + 1.0) + np.power(np.abs(x) + 1.0, 1.5)
    e = np.sin(x) * np.cos(y) + np.arctan(x) + np.log1p(y * y) + np.expm1(x * 0.1) + x / (1.0 + y * y)
    return np.sum(a * b + c + d + e) + np.mean(x > 0.5)  # the mask is written as data: a bool store


def broadcasting(x, b, c, s):
    h = np.tanh(x * s + b[None, :] + c[:, None])
    return np.sum(h * h) + np.sum(b * c[0]) * s


def constructors(x, b, n):
    head = x[:n] ** 2 + np.zeros(n) + np.full((n,), 2.0) * np.ones_like(x[:n])
    return np.sum(head) + np.sum(np.outer(x, b) ** 2) + np.sum(np.swapaxes(np.outer(b, x), 0, 1) * (np.eye(5) @ x)[:, None])


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


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
    err = h @ wy - y
    return np.mean(err * err)


@dataclass(frozen=True)
class Case:
    """A function, what to differentiate it with respect to, and its arguments."""

    function: Callable
    wrt: int | tuple[int, ...]
    arguments: Callable[[np.random.Generator], tuple]

    @property
    def name(self) -> str:
        return self.function.__name__


def _mlp(rng):
    params = (rng.normal(size=(5, 6)), rng.normal(size=6), rng.normal(size=(6, 3)), rng.normal(size=3))
    return (*params, rng.normal(size=(8, 5)), np.eye(3)[rng.integers(0, 3, 8)])


def _lstm(rng):
    inputs, hidden, batch = 3, 2, 2
    return (
        rng.normal(size=(inputs, 4 * hidden)),
        rng.normal(size=(hidden, 4 * hidden)),
        rng.normal(size=4 * hidden),
        rng.normal(size=(hidden, 1)),
        rng.normal(size=(2, batch, inputs)),
        rng.normal(size=(batch, hidden)),
        rng.normal(size=(batch, hidden)),
        rng.normal(size=(batch, 1)),
    )


CASES = [
    Case(tanh_sum, 0, lambda rng: (rng.normal(size=(3, 4)),)),
    Case(logistic_loss, 0, lambda rng: (rng.normal(size=4), rng.normal(size=(12, 4)), rng.integers(0, 2, 12) * 1.0)),
    Case(mlp_loss, (0, 1, 2, 3), _mlp),
    Case(reductions, 0, lambda rng: (rng.normal(size=(9, 4)),)),
    Case(shape_ops, (0, 1), lambda rng: (rng.normal(size=(5, 4)), rng.normal(size=3))),
    Case(elementwise, (0, 1), lambda rng: (rng.normal(size=(3, 4)), rng.normal(size=(3, 4)))),
    Case(
        broadcasting, (0, 1, 2, 3), lambda rng: (rng.normal(size=(3, 4)), rng.normal(size=4), rng.normal(size=3), 0.7)
    ),
    Case(constructors, (0, 1), lambda rng: (rng.normal(size=5), rng.normal(size=3), 3)),
    Case(lstm_loss, (0, 1, 2, 3, 5, 6), _lstm),
]
