"""Functions that take lists, tuples and dicts of arrays (pytrees), for tests/api/test_pytrees.py."""

import numpy as np

import symdiff as sd


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


# Gradients of pytree functions called inside another (a learned optimizer's meta-gradient):
# the inner derivative is built for the structure it is called with.

Y = np.linspace(-1.0, 1.0, 5)


def dict_net_loss(params, x):
    pred = np.tanh(x @ params["w"] + params["b"])
    return np.sum((pred - Y) ** 2)


def mlp_loss(params, x):
    h = x
    for W, b in params:
        h = np.tanh(h @ W + b)
    return np.mean((h[:, 0] - Y) ** 2)


DICT_GRAD = sd.grad(dict_net_loss)
MLP_GRAD = sd.grad(mlp_loss)


def sgd_on_a_dict(params, x):
    """Three steps of SGD on a dict of parameters, by a dict comprehension, then the loss."""
    for _ in range(3):
        g = DICT_GRAD(params, x)
        params = {k: params[k] - 0.1 * g[k] for k in params}
    return dict_net_loss(params, x)


def sgd_learning_rate(lr, x):
    """The meta-gradient with respect to the learning rate, through two SGD steps of an MLP."""
    params = [
        (np.outer(np.ones(3), np.linspace(0.1, 0.4, 4)), np.full(4, 0.1)),
        (np.linspace(-0.5, 0.5, 4)[:, None], np.zeros(1)),
    ]
    for _ in range(2):
        grads = MLP_GRAD(params, x)
        params = [(W - lr * dW, b - lr * db) for (W, b), (dW, db) in zip(params, grads)]
    return mlp_loss(params, x)


def profile_slope(data):
    """autograd's negative_binomial_maxlike pattern: grad called inside a lambda that is differentiated."""
    loglike = lambda r, p: np.sum(np.log(p) * r + np.log1p(-p) * data)
    best_p = lambda r: r / (r + np.mean(data))
    return lambda r: sd.grad(loglike)(r, best_p(r))
