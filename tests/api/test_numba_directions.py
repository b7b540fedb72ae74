"""Issue 16: Jacobians and Hessians on the Numba backend take every direction in one compiled call.

`symdiff/backends/numba/batched.py` loops over the directions in machine code
around the compiled product (a Hessian-vector product, a jvp's tangent, a
vjp). Checked here against central finite differences of the gradient or of
the function (the oracle), and against the NumPy backend's batched pass.
"""

from __future__ import annotations

import numpy as np
import pytest

import symdiff as sd
from symdiff.higher import Directions

RNG = np.random.default_rng(16)
A = RNG.standard_normal((12, 12)) / 4
WIDE = RNG.standard_normal((5, 12)) / 4
X = RNG.uniform(-1.0, 1.0, 12)
STEP = 1e-6


def rosenbrock(x):
    return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


def log_sum_exp(a, x):
    return np.log(np.sum(np.exp(a @ x)))


def squashed(a, x):
    return np.tanh(a @ x) * x


def scaled(a, x):
    return np.tanh(a @ x) * np.sum(x**2)


def _columns(f, args, position):
    """Central differences of `f` in argument `position`, one column per unit direction."""
    x = np.asarray(args[position], dtype=float)
    columns = []
    for j in range(x.size):
        plus, minus = list(args), list(args)
        step = np.zeros(x.size)
        step[j] = STEP
        plus[position], minus[position] = x + step.reshape(x.shape), x - step.reshape(x.shape)
        columns.append(np.ravel((np.asarray(f(*plus)) - np.asarray(f(*minus))) / (2 * STEP)))
    return np.array(columns).T


@pytest.fixture(scope="module")
def hessians():
    """The Numba Hessians, built and compiled once for the module."""
    return {
        "rosenbrock": sd.hessian(rosenbrock, backend="numba", sparsity=False),
        "rosenbrock_sparse": sd.hessian(rosenbrock, backend="numba"),
        "log_sum_exp": sd.hessian(log_sum_exp, 1, backend="numba", sparsity=False),
    }


@pytest.mark.parametrize(
    "name, f, args, position",
    [
        ("rosenbrock", rosenbrock, (X,), 0),
        ("rosenbrock_sparse", rosenbrock, (X,), 0),
        ("log_sum_exp", log_sum_exp, (A, X), 1),
    ],
)
def test_a_numba_hessian_matches_differences_of_the_gradient(hessians, name, f, args, position):
    hessian = hessians[name]
    expected = _columns(sd.grad(f, position), args, position)
    for got in _both_ways(hessian, args):
        np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(got, sd.hessian(f, position, sparsity=False)(*args), rtol=1e-12, atol=1e-12)


def _both_ways(derivative, args) -> list:
    """Three calls: the first runs the NumPy batched pass, the next two the compiled loop (see
    `Directions`), so both are checked; after them the loop has run."""
    results = [derivative(*args) for _ in range(3)]
    wide = getattr(derivative, "reverse_rows", None) and np.size(derivative.primal(*args)) < np.size(args[-1])
    directions = derivative.reverse_rows() if wide else derivative.inner
    assert directions._loop.jitted.signatures, "the compiled loop never ran"
    return results


def test_the_directions_run_in_one_compiled_call(hessians):
    """No Python between directions: the loop is one Numba dispatcher, compiled once for these
    types, and the batched pass never falls back to one product per direction."""
    hessian = hessians["rosenbrock"]
    directions = hessian.inner
    assert isinstance(directions, Directions)
    for scale in (1.0, 0.5, 0.25):
        hessian(X * scale)
    assert directions._compiles
    assert len(directions._loop.jitted.signatures) == 1
    assert "def over_directions(" in hessian.source and "for i in range(1, count):" in hessian.source


def test_the_faster_of_the_loop_and_the_numpy_batched_pass_runs_after_both_were_timed():
    """Each does the other's job faster somewhere (docs/higher-order.md): both are timed on the
    first calls for a shape, then the faster one runs, with the same numbers either way."""
    hessian = sd.hessian(rosenbrock, backend="numba", sparsity=False)
    directions = hessian.inner
    expected = _columns(sd.grad(rosenbrock), (X,), 0)
    results = [hessian(X) for _ in range(4)]  # the batched pass, the loop (compiling), the loop timed, the choice
    (choice,) = directions.chosen.values()
    assert choice in ("loop", "batched")
    for got in results:
        np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(got, results[0], rtol=1e-13, atol=1e-12)
    assert len(directions._loop.jitted.signatures) == 1  # the loop ran
    hessian(np.concatenate([X, X]))  # a new shape is timed anew
    assert len(directions.chosen) == 1


@pytest.mark.parametrize(
    "f, a",
    [(squashed, A), (scaled, WIDE)],
    ids=["square: one forward pass per column", "wide: one vjp per row"],
)
def test_a_numba_jacobian_matches_differences_of_the_function(f, a):
    jacobian = sd.jacobian(f, 1, backend="numba", sparsity=False)
    for got in _both_ways(jacobian, (a, X)):
        np.testing.assert_allclose(got, _columns(f, (a, X), 1), rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(got, sd.jacobian(f, 1, sparsity=False)(a, X), rtol=1e-12, atol=1e-12)
        assert got.flags.c_contiguous and got.flags.writeable


def test_arguments_the_loop_does_not_take_get_one_product_per_direction(hessians):
    """float32 data takes the NumPy batched pass, which converts it: the same numbers to float32's
    precision, and the loop stays compiled for the float64 calls."""
    hessian = hessians["log_sum_exp"]
    expected = hessian(A, X)
    single = hessian(A.astype(np.float32), X)
    np.testing.assert_allclose(single, expected, rtol=1e-5, atol=1e-5)
    assert hessian.inner._compiles
