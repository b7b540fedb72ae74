"""A matrix product whose result broadcasts into a wider elementwise result (issue 19).

`matmul_adjoint_a/b` sum their cotangent to the product's shape themselves, so
the simplifier drops the `sum_to(g, np.shape(x @ w))` between `x @ w + c` and
the product's adjoints. These cases make the cotangent wider than the product
(more leading axes, or a length-1 axis of the product broadcast), on both CPU
backends, and differentiate the generated gradient again (`hessian` runs the
helpers' own rules, and their batched tangents), all against central
differences.
"""

from __future__ import annotations

import numpy as np
import pytest

import symdiff as sd
from tests.oracles import numeric_grad


def affine(x, w, c):
    return np.sum(np.tanh(x @ w + c) ** 2)


def vector_affine(v, w, c):
    return np.sum(np.sin(v @ w + c) ** 2)


def column_affine(x, u, c):
    return np.sum(np.cos(x @ u + c) ** 2)


CASES = {
    "leading axes": (affine, ((4, 3), (3, 2), (5, 4, 2))),
    "a row broadcast": (affine, ((1, 3), (3, 2), (6, 2))),
    "a column broadcast": (affine, ((4, 3), (3, 1), (4, 5))),
    "a vector times a matrix": (vector_affine, ((3,), (3, 2), (4, 2))),
    "a matrix times a vector": (column_affine, ((4, 3), (3,), (2, 4))),
}


def _arguments(shapes, seed=0):
    rng = np.random.default_rng(seed)
    return tuple(0.5 * rng.normal(size=shape) for shape in shapes)


@pytest.mark.parametrize("backend", ["numpy", "numba"])
@pytest.mark.parametrize("case", CASES)
def test_gradient_through_a_wider_cotangent(case, backend):
    f, shapes = CASES[case]
    args = _arguments(shapes)
    derivative = sd.grad(f, wrt=(0, 1, 2), backend=backend)
    assert "matmul_adjoint_b(sum_to(" not in derivative.source  # the sum is the helper's
    for k, got in enumerate(derivative(*args)):
        np.testing.assert_allclose(got, numeric_grad(f, args, k), rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("case", CASES)
def test_hessian_through_a_wider_cotangent(case):
    f, shapes = CASES[case]
    args = _arguments(shapes, seed=1)
    gradient = sd.grad(f, wrt="w" if f is not column_affine else "u")
    hessian = np.reshape(sd.hessian(f, wrt=1)(*args), (args[1].size, args[1].size))
    for j in range(args[1].size):
        row = numeric_grad(lambda *a, j=j: np.ravel(gradient(*a))[j], args, 1)
        np.testing.assert_allclose(hessian[j], np.ravel(row), rtol=1e-5, atol=1e-7)
