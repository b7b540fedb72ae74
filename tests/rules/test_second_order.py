"""Hessians through the generated code of the matrix and special-function rules.

`sd.hessian` differentiates the generated gradient again, so every call in the
rules of inv, det, cholesky, eigh and logsumexp must itself have a rule. The
dense Hessian is compared against central differences of the gradient.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.special

import symdiff as sd
from tests.oracles import numeric_grad

SHIFT = 3.0 * np.eye(3)


def inverse_sum(x):
    return np.sum(np.linalg.inv(x + SHIFT) * np.cos(x))


def determinant(x):
    return np.linalg.det(x) * np.sum(x)


def cholesky_logdet(x):
    return np.sum(np.sin(np.linalg.cholesky(x @ x.T + SHIFT)))


def eigenvalues(x):
    w, v = np.linalg.eigh(x + x.T)
    return np.sum(w * w * w) + np.sum(v[0] * v[0])


def log_partition(x):
    return np.sum(scipy.special.logsumexp(x, axis=0) ** 2)


@pytest.mark.parametrize("f", [inverse_sum, determinant, cholesky_logdet, eigenvalues, log_partition])
def test_hessian_matches_differences_of_the_gradient(f) -> None:
    x = np.random.default_rng(3).uniform(-1.0, 1.0, size=(3, 3))
    hessian = sd.hessian(f)(x)
    gradient = sd.grad(f)
    want = np.stack([numeric_grad(lambda y, i=i: gradient(y)[np.unravel_index(i, x.shape)], (x,), 0) for i in range(9)])
    np.testing.assert_allclose(hessian.reshape(9, 9), want.reshape(9, 9), rtol=1e-5, atol=1e-7)


def test_hvp_of_logsumexp() -> None:
    x = np.random.default_rng(4).normal(size=(4, 3))
    v = np.random.default_rng(5).normal(size=(4, 3))
    got = sd.hvp(log_partition)(x, v)
    np.testing.assert_allclose(got, np.tensordot(sd.hessian(log_partition)(x), v, axes=2), rtol=1e-10, atol=1e-12)
