"""Independent oracles for derivatives: central finite differences in float64."""

from __future__ import annotations

import numpy as np


def numeric_grad(f, args, k, eps=1e-6):
    """d f(*args) / d args[k] by central differences (f must return a scalar)."""
    args = list(args)
    x = np.asarray(args[k], dtype=np.float64)
    scalar = np.ndim(args[k]) == 0
    grad = np.zeros_like(x, dtype=np.float64)
    for i in np.ndindex(x.shape):
        plus, minus = x.copy(), x.copy()
        plus[i] += eps
        minus[i] -= eps
        args[k] = float(plus) if scalar else plus
        f_plus = f(*args)
        args[k] = float(minus) if scalar else minus
        f_minus = f(*args)
        grad[i] = (f_plus - f_minus) / (2 * eps)
    return float(grad) if scalar else grad


def numeric_vjp(f, args, k, seed, eps=1e-6):
    """The gradient of sum(seed * f(*args)) with respect to args[k]."""
    return numeric_grad(lambda *a: np.sum(seed * f(*a)), args, k, eps)
