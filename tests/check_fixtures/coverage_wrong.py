"""Fixture for tests/test_check.py: a user rule that is deliberately wrong, so its callers' gradients are."""

import numpy as np

import symdiff


def wobble(x):
    return np.sin(x)


@symdiff.register_derivative(wobble, override=True)
def wobble_vjp(g, out, x):
    return 2.0 * g * np.cos(x)  # twice the derivative


def uses_wobble(x):
    return np.sum(wobble(x) ** 2)
