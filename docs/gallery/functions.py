"""The gallery's ten functions, written as a user would write them (docs/gallery.md).

Each is differentiated by one symdiff operator in docs/gallery/regenerate.py; the
hand-written derivatives they are compared with are in docs/gallery/by_hand.py.
"""

from __future__ import annotations

import numpy as np

import symdiff as sd


def rosen(x):
    """The Rosenbrock function in n dimensions (scipy.optimize.rosen)."""
    return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


def logistic(w, x, y):
    """Mean cross-entropy of logistic regression with weights w on samples x, labels y in {0, 1}."""
    p = 1.0 / (1.0 + np.exp(-(x @ w)))
    return -np.mean(y * np.log(p) + (1.0 - y) * np.log(1.0 - p))


def softmax_ce(logits, labels):
    """Mean cross-entropy of softmax(logits) against one-hot labels, a row per sample."""
    shifted = logits - np.max(logits, axis=1, keepdims=True)
    log_probs = shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))
    return -np.mean(np.sum(labels * log_probs, axis=1))


def mlp(w1, b1, w2, b2, x, y):
    """Mean squared error of a one-hidden-layer tanh network."""
    h = np.tanh(x @ w1 + b1)
    out = h @ w2 + b2
    return np.mean((out - y) ** 2)


def sigmoid(z):
    """The logistic function."""
    return 1.0 / (1.0 + np.exp(-z))


def lstm_cell(wx, wh, b, x, h, c):
    """One LSTM step (gates stacked as input, forget, output, candidate), then a squared norm."""
    n = h.shape[1]
    z = x @ wx + h @ wh + b
    i = sigmoid(z[:, :n])
    f = sigmoid(z[:, n : 2 * n])
    o = sigmoid(z[:, 2 * n : 3 * n])
    g = np.tanh(z[:, 3 * n :])
    c_next = f * c + i * g
    h_next = o * np.tanh(c_next)
    return np.sum(h_next**2 + c_next**2)


def shrink(x, tol):
    """Apply y -> 0.5 sin(y) until every entry is within tol of zero."""
    y = x
    while np.max(np.abs(y)) > tol:
        y = 0.5 * np.sin(y)
    return np.sum(y**2)


def recurrence(a, x):
    """A first-order linear filter y[t] = a y[t-1] + x[t], written element by element."""
    y = np.zeros(x.shape[0])
    y[0] = x[0]
    for t in range(1, x.shape[0]):
        y[t] = a * y[t - 1] + x[t]
    return np.sum(y**2)


def softmax(z):
    """The softmax of a vector."""
    e = np.exp(z - np.max(z))
    return e / np.sum(e)


def inner_loss(w, a, b):
    """The inner problem of the learned optimizer: least squares."""
    r = a @ w - b
    return 0.5 * np.sum(r**2)


inner_grad = sd.grad(inner_loss)


def rule_step(scale, log_step, g):
    """The learned update rule: a step of exp(log_step) * tanh(scale * g)."""
    return np.exp(log_step) * np.tanh(scale * g)


def unrolled(scale, log_step, w0, a, b, steps):
    """Meta-loss: the mean inner loss along `steps` steps of the learned rule."""
    w = w0
    total = 0.0
    for k in range(steps):
        w = w - rule_step(scale, log_step, inner_grad(w, a, b))
        total = total + inner_loss(w, a, b)
    return total / steps
