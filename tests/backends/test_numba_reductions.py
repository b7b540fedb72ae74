"""The Numba backend's reductions (backends/numba/reductions.py) against NumPy's, compiled.

Generated code passes `axis` and `keepdims` as literals, which take the constant-axes
implementation; an axis held in a variable takes the general one. Both must agree
with NumPy for every kind, rank, axis (negative, tuple) and keepdims.
"""

from __future__ import annotations

import numba
import numpy as np
import pytest

from symdiff.backends.numba.reductions import reduce_max, reduce_mean, reduce_min, reduce_prod, reduce_sum

KINDS = {"sum": (reduce_sum, np.sum), "mean": (reduce_mean, np.mean), "prod": (reduce_prod, np.prod),
         "max": (reduce_max, np.max), "min": (reduce_min, np.min)}  # fmt: skip


@numba.njit
def _literal_axes(a):
    return (
        reduce_sum(a, 1, False), reduce_mean(a, -1, True), reduce_prod(a, (0, 2), False),
        reduce_max(a, (2, 0), True), reduce_min(a, 0, False), reduce_sum(a, (0, 1, 2), False),
    )  # fmt: skip


@numba.njit
def _variable_axis(a, axis):
    return reduce_sum(a, axis, False), reduce_max(a, axis, True)


def test_literal_axes_agree_with_numpy():
    a = np.random.default_rng(0).uniform(0.5, 1.5, size=(3, 4, 5))
    got = _literal_axes(a)
    want = (
        np.sum(a, 1), np.mean(a, -1, keepdims=True), np.prod(a, (0, 2)), np.max(a, (2, 0), keepdims=True),
        np.min(a, 0), np.sum(a, (0, 1, 2)),
    )  # fmt: skip
    for ours, theirs in zip(got, want):
        assert np.shape(ours) == np.shape(theirs)
        np.testing.assert_allclose(ours, theirs, rtol=1e-13)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_each_kind_along_each_literal_axis(kind):
    ours, theirs = KINDS[kind]
    a = np.random.default_rng(1).uniform(0.5, 1.5, size=(2, 3))
    compiled = [
        numba.njit(lambda a, f=ours: f(a, 0, False)), numba.njit(lambda a, f=ours: f(a, 1, True)),
        numba.njit(lambda a, f=ours: f(a, -2, True)),
    ]  # fmt: skip
    wanted = [theirs(a, 0), theirs(a, 1, keepdims=True), theirs(a, -2, keepdims=True)]
    for function, want in zip(compiled, wanted):
        got = function(a)
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=1e-13)


def test_an_axis_in_a_variable_takes_the_general_path():
    a = np.random.default_rng(2).normal(size=(3, 4))
    for axis in (0, 1, -1):
        total, peak = _variable_axis(a, axis)
        np.testing.assert_allclose(total, np.sum(a, axis), rtol=1e-13)
        np.testing.assert_array_equal(peak, np.max(a, axis, keepdims=True))
