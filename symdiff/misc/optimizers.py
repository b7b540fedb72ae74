"""Stochastic optimizers over parameters of any pytree structure, with autograd's signatures.

Each takes `grad(params, i)` (the gradient at iteration `i`, e.g. `symdiff.grad(objective)` of
`objective(params, i)`), the starting parameters, an optional `callback(params, i, g)`, and
runs `num_iters` steps on the flattened parameters; the result has the parameters' structure.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from symdiff.misc.flatten import flatten


def sgd(grad: Callable, x0: Any, callback: Callable | None = None, num_iters: int = 200,
        step_size: float = 0.1, mass: float = 0.9) -> Any:  # fmt: skip
    """Gradient descent with momentum `mass`."""
    x, unflatten, gradient, report = _flat(grad, x0, callback)
    velocity = np.zeros(len(x))
    for i in range(num_iters):
        g = gradient(x, i)
        report(x, i, g)
        velocity = mass * velocity - (1.0 - mass) * g
        x = x + step_size * velocity
    return unflatten(x)


def rmsprop(grad: Callable, x0: Any, callback: Callable | None = None, num_iters: int = 100,
            step_size: float = 0.1, gamma: float = 0.9, eps: float = 1e-8) -> Any:  # fmt: skip
    """Steps scaled by a running root mean square of the gradient."""
    x, unflatten, gradient, report = _flat(grad, x0, callback)
    mean_square = np.ones(len(x))
    for i in range(num_iters):
        g = gradient(x, i)
        report(x, i, g)
        mean_square = gamma * mean_square + (1.0 - gamma) * g**2
        x = x - step_size * g / (np.sqrt(mean_square) + eps)
    return unflatten(x)


def adam(grad: Callable, x0: Any, callback: Callable | None = None, num_iters: int = 100,
         step_size: float = 0.001, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8) -> Any:  # fmt: skip
    """Adam (Kingma and Ba, 2015): moment estimates of the gradient, bias-corrected."""
    x, unflatten, gradient, report = _flat(grad, x0, callback)
    m, v = np.zeros(len(x)), np.zeros(len(x))
    for i in range(num_iters):
        g = gradient(x, i)
        report(x, i, g)
        m = b1 * m + (1.0 - b1) * g
        v = b2 * v + (1.0 - b2) * g**2
        m_hat, v_hat = m / (1.0 - b1 ** (i + 1)), v / (1.0 - b2 ** (i + 1))
        x = x - step_size * m_hat / (np.sqrt(v_hat) + eps)
    return unflatten(x)


def _flat(grad: Callable, x0: Any, callback: Callable | None):
    """The optimizers' view: a vector, the way back, the gradient as a vector, the callback."""
    x, unflatten = flatten(x0)

    def gradient(flat: np.ndarray, i: int) -> np.ndarray:
        return flatten(grad(unflatten(flat), i))[0]

    def report(flat: np.ndarray, i: int, g: np.ndarray) -> None:
        if callback is not None:
            callback(unflatten(flat), i, unflatten(g))

    return x, unflatten, gradient, report
