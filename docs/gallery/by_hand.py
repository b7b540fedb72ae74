"""Hand-written derivatives of the gallery's functions (docs/gallery/functions.py), plain NumPy.

Each is what a person would write for the same result as the generated code:
same arguments, same return value. tests/test_gallery.py checks each against the
generated derivative and against finite differences, and compares line counts.
"""

from __future__ import annotations

import numpy as np
from functions import sigmoid


def rosen_grad(x):
    """scipy.optimize.rosen_der: each x[i] is the `a` of one term and the `b` of the one before."""
    a, b = x[:-1], x[1:]
    x_bar = np.zeros_like(x)
    x_bar[:-1] = -400.0 * a * (b - a**2) - 2.0 * (1.0 - a)
    x_bar[1:] = x_bar[1:] + 200.0 * (b - a**2)
    return x_bar


def logistic_grad(w, x, y):
    """The residual p - y pulled back through x @ w."""
    p = 1.0 / (1.0 + np.exp(-(x @ w)))
    return x.T @ (p - y) / y.shape[0]


def softmax_ce_grad(logits, labels):
    """(softmax - labels) / batch, as each row of labels sums to 1."""
    e = np.exp(logits - np.max(logits, axis=1, keepdims=True))
    probs = e / np.sum(e, axis=1, keepdims=True)
    return (probs - labels) / logits.shape[0]


def mlp_grad(w1, b1, w2, b2, x, y):
    """Backpropagation through two layers."""
    h = np.tanh(x @ w1 + b1)
    out = h @ w2 + b2
    out_bar = 2.0 * (out - y) / out.size
    z_bar = (out_bar @ w2.T) * (1.0 - h**2)
    return x.T @ z_bar, np.sum(z_bar, axis=0), h.T @ out_bar, np.sum(out_bar, axis=0)


def lstm_cell_grad(wx, wh, b, x, h, c):
    """The gates' pre-activation adjoints, side by side as z is, pulled back to the weights."""
    n = h.shape[1]
    z = x @ wx + h @ wh + b
    i = sigmoid(z[:, :n])
    f = sigmoid(z[:, n : 2 * n])
    o = sigmoid(z[:, 2 * n : 3 * n])
    g = np.tanh(z[:, 3 * n :])
    c_next = f * c + i * g
    tanh_c = np.tanh(c_next)
    h_bar = 2.0 * o * tanh_c
    c_bar = 2.0 * c_next + h_bar * o * (1.0 - tanh_c**2)
    zi_bar = c_bar * g * i * (1.0 - i)
    zf_bar = c_bar * c * f * (1.0 - f)
    zo_bar = h_bar * tanh_c * o * (1.0 - o)
    zg_bar = c_bar * i * (1.0 - g**2)
    z_bar = np.concatenate([zi_bar, zf_bar, zo_bar, zg_bar], axis=1)
    return x.T @ z_bar, h.T @ z_bar, np.sum(z_bar, axis=0)


def shrink_grad(x, tol):
    """Keep every iterate, then apply the chain rule from the last step back to the first."""
    ys = []
    y = x
    while np.max(np.abs(y)) > tol:
        ys.append(y)
        y = 0.5 * np.sin(y)
    y_bar = 2.0 * y
    for y in reversed(ys):
        y_bar = y_bar * 0.5 * np.cos(y)
    return y_bar


def recurrence_grad(a, x):
    """The filter run forwards, then its adjoint run backwards; y[t]'s adjoint is x[t]'s."""
    y = np.zeros(x.shape[0])
    y[0] = x[0]
    for t in range(1, x.shape[0]):
        y[t] = a * y[t - 1] + x[t]
    y_bar = 2.0 * y
    a_bar = 0.0
    for t in reversed(range(1, x.shape[0])):
        a_bar = a_bar + y_bar[t] * y[t - 1]
        y_bar[t - 1] = y_bar[t - 1] + a * y_bar[t]
    return a_bar, y_bar


def rosen_hvp(x, v):
    """scipy.optimize.rosen_hess_prod: the tridiagonal Hessian times v, without forming it."""
    a, b = x[:-1], x[1:]
    hv = np.zeros_like(x)
    hv[:-1] = (1200.0 * a**2 - 400.0 * b + 2.0) * v[:-1] - 400.0 * a * v[1:]
    hv[1:] = hv[1:] + 200.0 * v[1:] - 400.0 * a * v[:-1]
    return hv


def softmax_jvp(z, z_dot):
    """J @ z_dot = p * (z_dot - p . z_dot), as J = diag(p) - p p^T."""
    e = np.exp(z - np.max(z))
    p = e / np.sum(e)
    return p, p * (z_dot - np.sum(p * z_dot))


def unrolled_grad(scale, log_step, w0, a, b, steps):
    """Run the steps keeping (g, s, w), then back: g = a^T (a w - b) has Jacobian a^T a."""
    lr = np.exp(log_step)
    w, tape = w0, []
    for _ in range(steps):
        g = a.T @ (a @ w - b)
        s = np.tanh(scale * g)
        w = w - lr * s
        tape.append((g, s, w))
    w_bar = np.zeros_like(w0)
    scale_bar, log_step_bar = 0.0, 0.0
    for g, s, w in reversed(tape):
        w_bar = w_bar + a.T @ (a @ w - b) / steps
        u = -lr * w_bar * (1.0 - s**2)
        scale_bar = scale_bar + np.sum(u * g)
        log_step_bar = log_step_bar - lr * np.sum(w_bar * s)
        w_bar = w_bar + a.T @ (a @ (scale * u))
    return scale_bar, log_step_bar
