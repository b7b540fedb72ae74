"""Whole programs with control flow, subroutines and array writes (issue 3)."""

import numpy as np


def branchy(x, y):
    if x > 0:
        z = np.sin(x) * y
    elif x > -1:
        z = x * x * y
    else:
        return np.exp(x) + y
    return z * y


def array_branch(w, x):
    s = np.sum(x @ w)
    if s > 0 and np.max(w) < 3.0:
        out = np.tanh(x @ w)
    else:
        out = (x @ w) ** 2
    return np.sum(out * out)


def overwrite_loop(x, n):
    s = 0.0
    for i in range(n):
        s = s + np.sin(x * i)
        x = x * 1.1
    return np.sum(s)


def stepped_loop(x, start, stop):
    acc = x
    for k in range(start, stop, 2):
        acc = acc * np.cos(acc) + k
    return np.sum(acc)


def sqrt_newton(a):
    # Newton iterations for sqrt(a), run until converged: a while loop.
    x = a
    err = 1.0
    while err > 1e-12:
        x_new = 0.5 * (x + a / x)
        err = np.abs(x_new - x)
        x = x_new
    return x


def layer(x, w, b):
    return np.tanh(x @ w + b)


def two_layer(w, b, x):
    h = layer(x, w, b)
    out = layer(h, w, b)
    return np.sum(out**2)


def rnn(w, u, xs, h0):
    h = h0
    T = xs.shape[0]
    hs = np.zeros((T, h0.shape[0]))
    for t in range(T):
        h = np.tanh(xs[t] @ w + h @ u)
        hs[t] = h
    return np.sum(hs**2)


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def lstm(wx, wh, b, xs, h0, c0):
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


def early_return(x, y):
    if x < 0:
        return -x * y
    z = x * y
    if z > 1:
        return np.sqrt(z)
    return z * z


def flagged(x, square):
    if square:
        return np.sum(x * x)
    return np.sum(x)


def hundred_steps(x):
    for i in range(100):
        x = x - 0.01 * np.sin(x)
    return np.sum(x)


def two_steps(x):
    for i in range(2):
        x = x - 0.01 * np.sin(x)
    return np.sum(x)


def column_writes(a):
    out = np.zeros((3, 2))
    out[:, 0] = a * 2.0
    out[:, 1] = np.sin(a)
    out[1, 1] = out[1, 1] * 3.0
    return np.sum(out * out)


def nested_loops(x, n):
    total = 0.0
    for i in range(n):
        y = x
        for j in range(3):
            y = np.sin(y) + i
        total = total + np.sum(y * y)
    return total


def loop_with_branch(x):
    for i in range(4):
        if np.sum(x) > 0:
            x = x * 0.5
        else:
            x = x * x
    return np.sum(x)


def grow_until(s):
    # The condition computes something: it is re-evaluated before every iteration.
    steps = 0.0
    while np.sum(s * s) < 10.0:
        s = s * 1.5 + 0.1
        steps = steps + 1.0
    return np.sum(s) + steps


def list_index(x):
    # A list in an index picks elements (an integer-array index), possibly repeated.
    return np.sum(x[[0, 2, 2]] ** 2) + np.sum(x[:, [1]] * 3.0)


def rows_from_negative_start(x):
    hs = np.zeros((3, 3))
    h = x
    for t in range(-2, 2):  # t = -2 and t = 1 both write row 1
        h = np.sin(h) * 1.5
        hs[t] = h
    return np.sum(hs**2)


def rows_from_argument_start(x, start):
    hs = np.zeros((3, 3))
    h = x
    for t in range(start, start + 4):
        h = np.sin(h) * 1.5
        hs[t] = h
    return np.sum(hs**2)


def recurrent_rows(x):
    hs = np.zeros((4, 3))
    hs[0] = x
    for t in range(1, 4):
        hs[t] = np.sin(hs[t - 1]) * 1.5
    return np.sum(hs**2)


def seeded_rows(x):
    hs = np.ones((3, 3)) * x
    h = x
    for t in range(2):
        h = np.sin(h)
        hs[t] = h * 2.0
    return np.sum(hs**2)


def weighted_running(x, w):
    hs = np.zeros((3, 3))
    h = x
    total = 0.0
    for t in range(3):
        total = total + np.sum(hs * w)  # reads every row, those later steps write included
        h = np.sin(h) * 1.5
        hs[t] = h
    return total


def transposed_each_step(x):
    hs = np.zeros((4, 3)) + x
    total = 0.0
    for t in range(1, 3):
        hs[::2] = np.sin(x[0] * 2.0)
        hs[t] = np.sin(x * 1.5)
        view = hs.T  # saved for the backward pass; the next step writes into hs again
        total = total + np.sum(np.sin(view))
    return total + np.sum(hs * hs)


def filter_1d(a, x):
    y = np.zeros(x.shape[0])
    y[0] = x[0]
    for t in range(1, x.shape[0]):
        y[t] = a * y[t - 1] + x[t]
    return np.sum(y * y)


def filter_rows(a, x):
    y = np.zeros((x.shape[0], 3))
    for t in range(1, x.shape[0]):
        y[t] = a * y[t - 1] + x[t]  # a row: a view of y, kept by the tape
    return np.sum(y * y)
