"""SymPy simplification of adjoint expressions (transforms/algebra.py), against finite differences.

Each test checks both that the simplified form is what a person would write
(the point of the pass) and that the gradient is still right, including at
the shapes where lifting a `sum_to` would be wrong.
"""

import numpy as np
import pytest

import symdiff as sd
from symdiff.testing import check_derivative


def logistic(w, x, y):
    p = 1.0 / (1.0 + np.exp(-(x @ w)))
    return -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def weighted_sigmoid(z, c):
    return np.sum(sigmoid(z) * c)


def sigmoid_loop(z, c, n):
    s = z
    for _ in range(n):
        s = sigmoid(s) * c
    return np.sum(s)


def shifted_chain(x):
    u = 2.0 * x + 3.0
    v = 1.0 / u
    return np.sum(v * u * x)


def backward_code(f) -> str:
    """The generated backward statements, without the `# grad of:` comments that quote the forward."""
    source = sd.grad(f).source
    backward = source[source.index("# grad of") :]
    return "\n".join(line for line in backward.splitlines() if not line.strip().startswith("#"))


def test_logistic_gradient_is_the_hand_written_formula():
    backward = backward_code(logistic)
    assert "(y - p)" in backward
    for needle in ("np.log", "/ p", "1 - p"):
        assert needle not in backward, needle
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(20, 3)), (rng.uniform(size=20) > 0.5).astype(float)
    check_derivative(logistic, (0.3 * rng.normal(size=3), x, y), wrt=0, order=2)


@pytest.mark.parametrize("y_shape", [(20,), (4, 20), (1,), ()])
def test_logistic_with_labels_that_broadcast(y_shape):
    """The lifted sum_to must still reduce when y is wider than p (or a scalar)."""
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(20, 3)), rng.uniform(0.1, 0.9, size=y_shape)
    check_derivative(logistic, (0.3 * rng.normal(size=3), x, y), wrt=0)


def test_sigmoid_backward_reads_only_its_output():
    backward = backward_code(weighted_sigmoid)
    assert "np.exp" not in backward and "(1.0 - " in backward
    rng = np.random.default_rng(2)
    check_derivative(weighted_sigmoid, (rng.normal(size=(3, 4)), rng.normal(size=4)), wrt=(0, 1), order=2)


def test_sigmoid_in_a_loop_saves_one_array_per_iteration():
    source = sd.grad(sigmoid_loop).source
    assert source.count("_tape = []") == 1, source
    rng = np.random.default_rng(3)
    check_derivative(sigmoid_loop, (rng.normal(size=(2, 3)), rng.normal(size=3), 4), wrt=(0, 1), order=2)


def test_saturated_sigmoid_gradient_is_finite():
    with np.errstate(over="ignore"):  # the forward's own exp(800)
        g = sd.grad(weighted_sigmoid)(np.array([-800.0, -40.0, 0.0, 40.0, 800.0]), np.ones(5))
    assert np.all(np.isfinite(g))
    np.testing.assert_allclose(g, [0.0, np.exp(-40.0), 0.25, np.exp(-40.0), 0.0], rtol=1e-6, atol=1e-17)


def test_affine_chains_are_rewritten_only_when_cheaper():
    rng = np.random.default_rng(4)
    check_derivative(shifted_chain, (rng.uniform(0.5, 2.0, size=5),), order=2)


def test_float32_stays_float32():
    w = np.ones(3, dtype=np.float32)
    x = np.ones((4, 3), dtype=np.float32)
    y = np.ones(4, dtype=np.float32)
    assert sd.grad(logistic)(w, x, y).dtype == np.float32
