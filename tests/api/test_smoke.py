"""End-to-end smoke tests of @grad on the README example and a tanh MLP."""

import numpy as np
import pytest

import symdiff as sd
from tests.models import logistic_loss, mlp_loss
from tests.oracles import numeric_grad


def test_logistic_regression_matches_finite_differences():
    rng = np.random.default_rng(0)
    x, y, w = rng.normal(size=(30, 4)), rng.integers(0, 2, 30) * 1.0, rng.normal(size=4)
    dw = sd.grad(logistic_loss)(w, x, y)
    np.testing.assert_allclose(dw, numeric_grad(logistic_loss, (w, x, y), 0), rtol=1e-6, atol=1e-9)


def test_mlp_all_parameters():
    rng = np.random.default_rng(1)
    params = [rng.normal(size=(5, 6)), rng.normal(size=6), rng.normal(size=(6, 3)), rng.normal(size=3)]
    x, y = rng.normal(size=(8, 5)), np.eye(3)[rng.integers(0, 3, 8)]
    grads = sd.grad(mlp_loss, wrt=(0, 1, 2, 3))(*params, x, y)
    for k, g in enumerate(grads):
        assert g.shape == params[k].shape
        np.testing.assert_allclose(g, numeric_grad(mlp_loss, (*params, x, y), k), rtol=1e-6, atol=1e-9)


def test_value_and_grad_returns_the_gradients_as_one_tuple():
    rng = np.random.default_rng(2)
    params = [rng.normal(size=(5, 6)), rng.normal(size=6), rng.normal(size=(6, 3)), rng.normal(size=3)]
    x, y = rng.normal(size=(8, 5)), np.eye(3)[rng.integers(0, 3, 8)]
    value, (dw1, db1) = sd.value_and_grad(mlp_loss, wrt=(0, 1))(*params, x, y)
    assert value == mlp_loss(*params, x, y)
    np.testing.assert_allclose(db1, sd.grad(mlp_loss, wrt=1)(*params, x, y))
    np.testing.assert_allclose(dw1, sd.grad(mlp_loss, wrt=0)(*params, x, y))
    value, dw = sd.value_and_grad(logistic_loss)(rng.normal(size=4), rng.normal(size=(9, 4)), np.ones(9))
    assert np.shape(dw) == (4,)


def test_overriding_a_rule_takes_effect_and_duplicates_are_refused():
    from symdiff.errors import DuplicateRule
    from symdiff.rules import RULES
    from symdiff.rules.registry import register_derivative

    with pytest.raises(DuplicateRule, match="override=True"):

        @register_derivative(np.tanh, elementwise=True)
        def tanh_again(g, out, x):
            return g * (1.0 - out * out)

    original = RULES["tanh"]
    try:

        @register_derivative(np.tanh, elementwise=True, override=True)
        def tanh_doubled(g, out, x):
            return 2.0 * g * (1.0 - out * out)

        doubled = sd.grad(tanh_sum)
        assert "2.0" in doubled.source
        x = np.linspace(-1.0, 1.0, 5)
        np.testing.assert_allclose(doubled(x), 2.0 * (1.0 - np.tanh(x) ** 2), rtol=1e-12)
    finally:
        register_derivative(np.tanh, elementwise=True, override=True)(original.vjp)


def tanh_sum(x):
    return np.sum(np.tanh(x))


def test_sizes_name_operands_of_the_rule():
    """`sizes` (operands that stay tuples of sizes, np.full's `shape`) is checked when registered:
    a name that is not an operand would be ignored, and the tuple then made an array."""
    from symdiff.rules import RULES
    from symdiff.rules.registry import register_derivative

    assert RULES["full"].sizes == ("shape",) and sd.grad(full_of_mean)(np.arange(3.0)) == pytest.approx([2.0] * 3)
    with pytest.raises(ValueError, match="sizes=.'dims',. must name operands of tile_vjp"):

        @register_derivative(np.tile, override=True, sizes=("dims",))
        def tile_vjp(g, out, a, reps):
            return None

    assert "tile" in RULES and RULES["tile"].sizes == ()  # the refused registration left the rule as it was


def full_of_mean(x):
    return np.sum(np.full(np.shape(x), np.mean(x)) * 2.0)


def test_gradients_come_in_wrt_order_with_their_own_dtypes():
    rng = np.random.default_rng(4)
    w = rng.normal(size=4).astype(np.float32)
    x, y = rng.normal(size=(9, 4)), np.ones(9)
    dx, dw = sd.grad(logistic_loss, wrt=("x", "w"))(w, x, y)
    assert dx.shape == (9, 4) and dx.dtype == np.float64
    assert dw.shape == (4,) and dw.dtype == np.float32
    (only,) = sd.grad(logistic_loss, wrt=("w",))(w, x, y)
    np.testing.assert_allclose(only, dw)


def scaled_sine(x, w):
    return w * np.sin(x) * x


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_a_numpy_float64_scalar_differentiates_like_a_float(backend):
    # An element of a float64 array (w[j] in a loop over observations, as in GradBench's BA) takes
    # the same unchecked call path as a Python float: the same gradients, of float64 dtype.
    gradient = sd.grad(scaled_sine, wrt=(0, 1), backend=backend)
    for got, want in zip(gradient(np.float64(0.4), np.float64(1.5)), gradient(0.4, 1.5)):
        assert np.asarray(got).dtype == np.float64
        assert got == want
    dx = gradient(0.4, 1.5)[0]
    assert abs(dx - 1.5 * (np.cos(0.4) * 0.4 + np.sin(0.4))) < 1e-14
