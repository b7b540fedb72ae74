"""Fixture for tests/test_check.py: functions `symdiff check` finds inputs for and differentiates."""

import numpy as np
from coverage_helpers import imported_helper  # noqa: F401 - imported, so not checked here

SCALE = 0.5


def tanh_loss(w):
    return np.sum(np.tanh(w) ** 2)


def power(a, n):
    for _ in range(n):
        a = a * 1.5
    return a


def with_default(x, shift=0.25):
    return np.sum((x - shift) ** 2)


def from_dict(params):
    return params["a"] * params["b"] + SCALE


def vector_output(x):
    return np.sin(x[:2]) * SCALE


def two_outputs(a):
    return a * a, np.exp(a)


squared = lambda v: np.sum(v * v)  # module-level lambdas are checked too


def noisy(x):
    return np.sum(x) + np.random.normal()


def no_floats(n):
    return float(n)
