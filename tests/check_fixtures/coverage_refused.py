"""Fixture for tests/test_check.py: a function outside symdiff's subset."""

import numpy as np


def guarded(x):
    try:
        y = np.log(x)
    except ValueError:
        y = x
    return np.sum(y)
