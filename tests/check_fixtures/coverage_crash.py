"""Fixture for tests/test_check.py: a user rule whose build-time check raises a plain exception.

A rule's `check` should raise a SymdiffError to refuse; any other exception
escapes symdiff, which is what `symdiff check` reports as a crash.
"""

import numpy as np

import symdiff


def scale(x, factor):
    return x * factor


def _reject(static):
    raise RuntimeError("not a SymdiffError")


@symdiff.register_derivative(scale, static=("factor",), check=_reject, override=True)
def scale_vjp(g, out, x, factor):
    return g * factor


def uses_scale(x):
    return np.sum(scale(x, 3.0))
