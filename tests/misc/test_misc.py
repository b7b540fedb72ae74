"""symdiff.misc: autograd's flatten and optimizers, on pytrees, with symdiff's gradients."""

import numpy as np
import pytest

import symdiff as sd
from symdiff.misc import flatten, flatten_func
from symdiff.misc.fixed_points import fixed_point
from symdiff.misc.optimizers import adam, rmsprop, sgd

PARAMS = {"w": np.arange(6.0).reshape(2, 3), "b": [np.array([-1.0, 2.0]), 1.5]}


def objective(params, i):
    w, (b, c) = params["w"], params["b"]
    return np.sum((w - 2.0) ** 2) + np.sum((b + 1.0) ** 2) + (c - 3.0) ** 2


def test_flatten_sorts_keys_and_round_trips():
    vector, unflatten = flatten(PARAMS)
    np.testing.assert_array_equal(vector, [-1.0, 2.0, 1.5, 0.0, 1.0, 2.0, 3.0, 4.0, 5.0])
    back = unflatten(vector * 2.0)
    assert list(back) == ["b", "w"] and isinstance(back["b"], list)
    np.testing.assert_array_equal(back["w"], PARAMS["w"] * 2.0)
    assert back["b"][1] == 3.0 and np.ndim(back["b"][1]) == 0
    with pytest.raises(ValueError, match="vector of 9 numbers"):
        unflatten(vector[:3])


def test_flatten_func_takes_and_returns_vectors():
    flat_f, unflatten, x = flatten_func(lambda p, k: {"w": p["w"] * k}, PARAMS)
    np.testing.assert_array_equal(flat_f(x, 3.0), PARAMS["w"].ravel() * 3.0)
    assert unflatten(x)["b"][1] == 1.5


@pytest.mark.parametrize(
    "optimizer, options",
    [(sgd, {"num_iters": 400, "step_size": 0.1}), (rmsprop, {"num_iters": 600, "step_size": 0.02}),
     (adam, {"num_iters": 1500, "step_size": 0.05})],
    ids=["sgd", "rmsprop", "adam"],
)  # fmt: skip
def test_optimizers_reach_the_minimum_of_a_pytree_objective(optimizer, options):
    seen = []
    result = optimizer(sd.grad(objective), PARAMS, callback=lambda p, i, g: seen.append(i), **options)
    np.testing.assert_allclose(result["w"], np.full((2, 3), 2.0), atol=1e-2)
    np.testing.assert_allclose(result["b"][0], [-1.0, -1.0], atol=1e-2)
    assert result["b"][1] == pytest.approx(3.0, abs=1e-2)
    assert seen == list(range(options["num_iters"]))


def test_adam_steps_are_adams():
    """One step from a known gradient: m_hat = g, v_hat = g**2, so x moves by step_size * sign(g)."""
    x = adam(lambda p, i: np.array([2.0, -0.5]), np.zeros(2), num_iters=1, step_size=0.1)
    np.testing.assert_allclose(x, [-0.1, 0.1], rtol=1e-6)


def scaled_objective(params, scale):
    w, (b, c) = params["w"], params["b"]
    return scale * (np.sum(np.sin(w) ** 2) + np.sum(b * w[0, :2]) + c**3)


def test_a_flattened_function_is_differentiated_through_its_unflattening():
    """autograd's gmm example: grad and hessian_vector_product of flatten_func's function."""
    from tests.oracles import numeric_grad

    flat_f, _, x = flatten_func(scaled_objective, PARAMS)
    assert flat_f(x, 2.0) == pytest.approx([scaled_objective(PARAMS, 2.0)])
    g = sd.grad(flat_f)
    np.testing.assert_allclose(g(x, 2.0), numeric_grad(lambda v: flat_f(v, 2.0)[0], (x,), 0), rtol=1e-6, atol=1e-8)
    v = np.linspace(-1.0, 1.0, x.size)
    hv = sd.hessian_vector_product(flat_f)(x, 2.0, v)
    np.testing.assert_allclose(hv, numeric_grad(lambda y: g(y, 2.0) @ v, (x,), 0), rtol=1e-5, atol=1e-6)


def penalized(params, x):
    flat, _ = flatten(params)  # inside a differentiated function: the leaves ravelled and joined
    W, b = params["layer"]
    return np.sum(np.tanh(x @ W + b)) - 0.1 * np.sum(flat**2)


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_flatten_inside_a_differentiated_function(backend):
    from tests.oracles import numeric_grad

    rng = np.random.default_rng(0)
    params = {"layer": (rng.normal(size=(2, 3)), rng.normal(size=3)), "extra": 0.5}
    x = rng.normal(size=(4, 2))
    got = sd.grad(penalized, backend=backend)(params, x)
    want_b = numeric_grad(
        lambda b: penalized({"layer": (params["layer"][0], b), "extra": 0.5}, x), (params["layer"][1],), 0
    )
    np.testing.assert_allclose(got["layer"][1], want_b, rtol=1e-6, atol=1e-8)
    assert got["extra"] == pytest.approx(-0.1)


def _halfway_to(a):
    return lambda x: x - 0.05 * (x**2 - a)  # gradient descent on (x^2 - a)^2 / 4: x -> sqrt(a)


def _gap(x, y):
    return np.abs(x - y)


def iterated_sqrt(a):
    return fixed_point(_halfway_to, a, 10.0, _gap, 1e-10)


def test_fixed_point_differentiates_the_iterations_it_ran():
    assert iterated_sqrt(2.0) == pytest.approx(np.sqrt(2.0), rel=1e-8)
    # the iterations converge, so their derivative converges to d sqrt(a)/da = 1 / (2 sqrt(a))
    assert sd.grad(iterated_sqrt)(2.0) == pytest.approx(0.5 / np.sqrt(2.0), rel=1e-6)
    assert sd.grad(sd.grad(iterated_sqrt))(2.0) == pytest.approx(-0.25 * 2.0**-1.5, rel=1e-5)
