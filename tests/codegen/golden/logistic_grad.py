

import numpy as np


class NonScalarOutput(ValueError):
    """grad was applied to a function whose output is not a scalar."""


def sum_to(x, shape):
    """Sum `x` down to `shape`, undoing NumPy broadcasting."""
    if np.shape(x) == tuple(shape):
        return x
    lead = np.ndim(x) - len(shape)
    axes = tuple(range(lead)) + tuple(
        lead + i for i, n in enumerate(shape) if n == 1 and np.shape(x)[lead + i] != 1
    )
    total = np.sum(x, axis=axes, keepdims=False)
    return np.reshape(total, shape)


def grad_seed(y):
    """The cotangent 1 for a scalar output; `grad` needs a scalar."""
    if np.ndim(y) != 0:
        raise NonScalarOutput(
            f"grad needs a scalar output, got shape {np.shape(y)}; "
            "use vjp for non-scalar outputs, or jacobian for the full matrix"
        )
    return np.ones((), dtype=np.result_type(y, 1.0))[()]


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
    """Cotangent of `b` in `a @ b` given the output cotangent `g` (any ranks)."""
    if np.ndim(a) == 2 and np.ndim(b) <= 2:
        return a.T @ g
    a2, _, g2 = _promote(a, b, g)
    b_bar = np.swapaxes(a2, -1, -2) @ g2
    if np.ndim(b) == 1:
        b_bar = b_bar[..., 0]
    return sum_to(b_bar, np.shape(b))


def logistic_loss_grad(w, x, y):
    """Gradient of logistic_loss with respect to w."""
    p_3 = np.exp(-(x @ w))
    p_4 = 1.0 + p_3
    p = 1.0 / p_4
    logistic_loss_1 = np.log(p)
    logistic_loss_2 = y * logistic_loss_1
    logistic_loss_3 = 1 - y
    logistic_loss_4 = 1 - p
    logistic_loss_5 = np.log(logistic_loss_4)
    logistic_loss_6 = logistic_loss_3 * logistic_loss_5
    logistic_loss_7 = logistic_loss_2 + logistic_loss_6
    logistic_loss_8 = np.mean(logistic_loss_7)
    logistic_loss = -logistic_loss_8
    logistic_loss_bar = grad_seed(logistic_loss)

    # grad of: return -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))
    logistic_loss_8_bar = -logistic_loss_bar
    share = logistic_loss_8_bar / (np.size(logistic_loss_7) / np.size(logistic_loss_8))
    logistic_loss_7_bar = np.broadcast_to(share, np.shape(logistic_loss_7))
    logistic_loss_2_bar = sum_to(logistic_loss_7_bar, np.shape(logistic_loss_2))
    logistic_loss_6_bar = sum_to(logistic_loss_7_bar, np.shape(logistic_loss_6))
    logistic_loss_5_bar = logistic_loss_6_bar * logistic_loss_3
    logistic_loss_5_bar = sum_to(logistic_loss_5_bar, np.shape(logistic_loss_5))
    logistic_loss_4_bar = logistic_loss_5_bar / logistic_loss_4
    p_bar = -logistic_loss_4_bar
    logistic_loss_1_bar = logistic_loss_2_bar * y
    logistic_loss_1_bar = sum_to(logistic_loss_1_bar, np.shape(logistic_loss_1))
    p_bar_2 = logistic_loss_1_bar / p
    p_bar = p_bar + p_bar_2

    # grad of: p = 1.0 / (1.0 + np.exp(-(x @ w)))
    p_4_bar = -p_bar * p / p_4
    p_2_bar = p_4_bar * p_3
    p_1_bar = -p_2_bar
    w_bar = matmul_adjoint_b(p_1_bar, x, w)
    return w_bar
