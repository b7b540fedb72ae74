"""Slice writes into a fresh cotangent: assignments only where no earlier write reached those elements.

Where those assignments and the first write together reach every element,
the cotangent starts unfilled (`scatter_into_empty`) instead of as zeros.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

import symdiff as sd
from tests.oracles import numeric_grad


def gates(z, h):
    n = h.shape[-1]
    i = np.tanh(z[:, :n])
    f = np.sin(z[:, n : 2 * n])
    o = np.cos(z[:, 2 * n : 3 * n])
    g = np.exp(z[:, 3 * n :])
    return np.sum(i * f + o * g * h)


def split_at(x, k):
    return np.sum(np.sin(x[:k])) + np.sum(np.cos(x[k:]) ** 2)


def negative_ends(x):
    return np.sum(np.sin(x[:-1])) + np.sum(x[-1:] ** 3)


def overlapping(x):
    return np.sum(np.sin(x[1:3])) + np.sum(np.cos(x[2:4]))


def unordered_argument(x, k):
    return np.sum(np.sin(x[: 2 * k])) + np.sum(np.cos(x[k:]))


def strided(x):
    return np.sum(np.sin(x[::2])) + np.sum(np.cos(x[1::2]))


def shape_bounds_out_of_order(x):
    n = x.shape[0] // 4
    return np.sum(np.sin(x[3 * n :])) + np.sum(np.cos(x[n : 2 * n])) + np.sum(np.tan(x[: 2 * n]))


def with_gap(x):
    return np.sum(np.sin(x[:2])) + np.sum(np.cos(x[3:]))


def _writes(source: str) -> tuple[int, int]:
    """(assignments, additions) into slices of a `_bar` array."""
    assigned = len(re.findall(r"_bar\[[^\]]*\] = ", source))
    added = len(re.findall(r"_bar\[[^\]]*\] \+= ", source))
    return assigned, added


RNG = np.random.default_rng(11)
CASES = [
    # function, arguments, wrt, (assignments, additions) expected in the source, starts unfilled
    (gates, (RNG.normal(size=(3, 8)), RNG.normal(size=(3, 2))), 0, (3, 0), True),
    (split_at, (RNG.normal(size=6), 2), 0, (1, 0), True),
    (split_at, (RNG.normal(size=6), -2), 0, (1, 0), True),
    (split_at, (RNG.normal(size=6), 9), 0, (1, 0), True),
    (negative_ends, (RNG.normal(size=5),), 0, (1, 0), True),
    (overlapping, (RNG.normal(size=5),), 0, (0, 1), False),
    (unordered_argument, (RNG.normal(size=7), 2), 0, (0, 1), False),
    (unordered_argument, (RNG.normal(size=7), -2), 0, (0, 1), False),
    (strided, (RNG.normal(size=7),), 0, (0, 1), False),
    (shape_bounds_out_of_order, (RNG.normal(size=9),), 0, (1, 1), False),
    (with_gap, (RNG.normal(size=6),), 0, (1, 0), False),
]


@pytest.mark.parametrize("function, args, wrt, writes, unfilled", CASES, ids=lambda v: getattr(v, "__name__", None))
def test_slice_writes_are_assignments_only_when_provably_disjoint(function, args, wrt, writes, unfilled):
    derivative = sd.grad(function, wrt=wrt)
    assert _writes(derivative.source) == writes, derivative.source
    assert ("scatter_into_empty(" in derivative.source) is unfilled, derivative.source
    want = numeric_grad(lambda x: function(x, *args[1:]), (args[0],), 0)
    np.testing.assert_allclose(derivative(*args), want, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_an_unfilled_cotangent_differentiates_again(backend):
    """The generated code, `scatter_into_empty` included, is differentiated again (Hessian-vector product)."""
    x, h = RNG.normal(size=(3, 8)), RNG.normal(size=(3, 2))
    first = sd.grad(gates)
    assert "scatter_into_empty(" in first.source

    def along(z, v):
        return np.sum(first(z, h) * v)

    v = RNG.normal(size=x.shape)
    got = sd.grad(along, backend=backend)(x, v)
    want = numeric_grad(lambda z: along(z, v), (x,), 0)
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)
