

import numpy as np


def sum_to(x, shape):
    """Sum `x` down to `shape`, undoing NumPy broadcasting."""
    # Most calls are no-ops; reading the attribute is 4x faster than np.shape.
    have = x.shape if type(x) is np.ndarray else np.shape(x)
    if have == shape:
        return x
    shape = tuple(shape)
    if have == shape:
        return x
    lead = len(have) - len(shape)
    kept = tuple(lead + i for i, n in enumerate(shape) if n == 1 and have[lead + i] != 1)
    total = np.add.reduce(x, axis=tuple(range(lead)) + kept)
    return np.reshape(total, shape) if kept else total


def _promote(a, b, g):
    """2-D views of matmul operands and cotangent, so one formula covers 1-D cases."""
    a2 = a[np.newaxis, :] if np.ndim(a) == 1 else a
    b2 = b[:, np.newaxis] if np.ndim(b) == 1 else b
    g2 = g
    if np.ndim(b) == 1:
        g2 = np.expand_dims(g2, -1)
    if np.ndim(a) == 1:
        g2 = np.expand_dims(g2, -2)
    return a2, b2, g2


def matmul_adjoint_b(g, a, b):
    """Cotangent of `b` in `a @ b` given the output cotangent `g` (any ranks; a scalar operand,
    which only `np.dot` takes, makes the product `a * b`)."""
    if np.ndim(a) == 0 or np.ndim(b) == 0:
        return sum_to(g * a, np.shape(b))
    if np.ndim(a) == 2 and np.ndim(b) <= 2:
        return a.T @ g
    a2, _, g2 = _promote(a, b, g)
    b_bar = np.swapaxes(a2, -1, -2) @ g2
    if np.ndim(b) == 1:
        b_bar = b_bar[..., 0]
    return sum_to(b_bar, np.shape(b))


def logistic_loss_grad(w, x, y):
    """Gradient of logistic_loss with respect to w."""
    p_1 = x @ w
    p = 1.0 / (1.0 + np.exp(-p_1))

    # grad of: p = 1.0 / (1.0 + np.exp(-(x @ w)))
    p_1_bar = y - p
    w_bar = matmul_adjoint_b(sum_to(-1.0 / np.size(p_1_bar) * p_1_bar, np.shape(p_1)), x, w)
    return w_bar
