"""Functions that take lists, tuples and dicts of arrays (pytrees), for tests/api/test_pytrees.py."""

import numpy as np


def mlp(params, x):
    h = x
    for W, b in params:
        h = np.tanh(h @ W + b)
    return np.sum(h**2)


def dict_loss(params, x):
    return np.sum((x @ params["w"] + params["b"]) ** 2)


def dict_items(params, x):
    total = 0.0
    for name, value in params.items():
        total = total + np.sum(value * value) * len(name)
    return total


def nested(params, x):
    layer = params["layers"][0]
    return np.sum(np.sin(x @ layer["w"]) * params["scale"])


def data_list(w, data):
    total = 0.0
    for x, y in data:
        total = total + np.sum((x @ w - y) ** 2)
    return total


def indexed_tuple(params, x):
    w, b = params
    return np.sum(np.tanh(x @ w) + b * params[1])


def dict_scaled(params, x):
    return np.sum(x @ params["w"]) * params["scale"]
