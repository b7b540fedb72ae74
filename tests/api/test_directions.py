"""`symdiff.directions.Units`: the identity seed of dense Jacobians and Hessians.

Every use must give exactly what `np.eye(n)` gives; matrix products by it are
skipped, and must still return new arrays of the product's dtype.
"""

from __future__ import annotations

import numpy as np
import pytest

import symdiff as sd
from symdiff.directions import Units, unit_directions

N = 4
RNG = np.random.default_rng(0)
OPERANDS = [
    RNG.normal(size=N),
    RNG.normal(size=(N, 3)),
    RNG.normal(size=(2, N, N)),
    RNG.normal(size=(N, N)).astype(np.float32),
    np.arange(N * 2).reshape(N, 2),
    RNG.normal(size=N) + 1j * RNG.normal(size=N),
]


def _same(got, want):
    got = np.asarray(got)
    assert got.shape == want.shape and got.dtype == want.dtype
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("operand", OPERANDS, ids=lambda a: f"{a.dtype}{a.shape}")
def test_a_product_by_the_identity_is_numpys_on_either_side(operand):
    units, eye = Units(N), np.eye(N)
    _same(units @ operand, eye @ operand)
    _same(np.matmul(units, operand), eye @ operand)
    flipped = np.swapaxes(operand, -1, -2) if operand.ndim > 1 else operand
    _same(flipped @ units, flipped @ eye)


def test_a_product_is_a_new_array_that_may_be_written():
    operand = RNG.normal(size=(N, 3))
    product = Units(N) @ operand
    assert product is not operand and not np.shares_memory(product, operand)
    product[0, 0] = 7.0  # generated code may write into a product it owns
    assert operand[0, 0] != 7.0


def test_shapes_that_do_not_multiply_raise_numpys_error():
    with pytest.raises(ValueError):
        Units(N) @ np.ones((N + 1, 2))
    with pytest.raises(ValueError):
        np.ones((2, N + 1)) @ Units(N)


@pytest.mark.parametrize(
    "use",
    [
        lambda u: u * np.arange(N),
        lambda u: np.sin(u) + 1.0,
        lambda u: u[1:],
        lambda u: np.reshape(u, (N, N, 1)),
        lambda u: np.reshape(u, (N, N)),
        lambda u: np.transpose(u),
        lambda u: np.sum(u, axis=0),
        lambda u: np.broadcast_to(u, (2, N, N)),
        lambda u: np.stack([u, u]),
        lambda u: u.T,
        lambda u: np.shape(u),
        lambda u: np.ndim(u),
        lambda u: np.size(u),
        lambda u: np.asarray(u, dtype=np.float32),
    ],
)
def test_every_other_use_sees_the_identity(use):
    np.testing.assert_array_equal(np.asarray(use(Units(N))), np.asarray(use(np.eye(N))))


def test_the_shared_identity_cannot_be_written():
    with pytest.raises(ValueError):
        np.asarray(Units(N))[0, 0] = 2.0


def test_unit_directions_of_a_matrix_are_the_reshaped_identity():
    assert isinstance(unit_directions((N,)), Units)
    _same(unit_directions((2, 3)), np.eye(6).reshape(6, 2, 3))


def _layer(x, a):
    return np.tanh(a @ x) * x


def _wide(x, a):
    return np.tanh(a @ x) * np.sum(x**2)


@pytest.mark.parametrize(("f", "rows"), [(_layer, 5), (_wide, 3)], ids=["columns", "rows"])
def test_dense_jacobians_through_units_match_finite_differences_and_may_be_written(f, rows):
    rng = np.random.default_rng(1)
    x, a = rng.normal(size=5), rng.normal(size=(rows, 5))
    jacobian = sd.jacobian(f, sparsity=False)(x, a)
    eps = 1e-6
    columns = [(f(x + eps * e, a) - f(x - eps * e, a)) / (2 * eps) for e in np.eye(5)]
    np.testing.assert_allclose(jacobian, np.stack(columns, axis=-1), rtol=1e-7, atol=1e-8)
    assert jacobian.flags.writeable and jacobian.flags.c_contiguous
