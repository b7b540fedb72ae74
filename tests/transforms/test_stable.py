"""The stability pass (transforms/stable.py) against mpmath at 50 digits.

Each rewrite is swept over inputs from -1000 to 1000: the value, and for the
rewrites applied before differentiation the gradient too, must be finite
and within 4 ulp of the exact value wherever that value is a normal double.
The rewrites applied to the finished derivative ("value" stage) leave the
gradient to the algebra pass, which gives `y - p`-style forms, and the
gradient of log-softmax is `c - E[c]` whatever the form: where a gradient
is a difference of terms of size about 1, it is checked within 4 ulp of the
larger of 1 and its exact value (`1 - p` cannot carry the relative accuracy
of a gradient as small as exp(-700)).
"""

from __future__ import annotations

import mpmath as mp
import numpy as np
import pytest

import symdiff as sd
from symdiff.ir.nodes import walk
from symdiff.transforms.stable import REWRITES
from tests.oracles import numeric_grad
from tests.transforms import stable_functions as fns

mp.mp.dps = 50
E, LOG1P = mp.exp, mp.log1p
SLOPES = [mp.mpf(c) for c in fns.SLOPES]


def _softmax_mean(t):
    weights = [E(c * t) for c in SLOPES]
    return sum(c * w for c, w in zip(SLOPES, weights)) / sum(weights)


# name -> (function, exact value, exact derivative); each function is of one float in a 1-vector.
SWEEP = {
    "softplus": (fns.softplus, lambda t: LOG1P(E(t)), lambda t: 1 / (1 + E(-t))),
    "softplus (log1p)": (fns.softplus_log1p, lambda t: LOG1P(E(t)), lambda t: 1 / (1 + E(-t))),
    "log_expit": (fns.log_expit, lambda t: -LOG1P(E(-t)), lambda t: 1 / (1 + E(t))),
    "log_expit (complement)": (fns.log_one_minus_expit, lambda t: -LOG1P(E(t)), lambda t: -1 / (1 + E(-t))),
    "logsumexp": (fns.log_sum_exp, lambda t: mp.log(sum(E(c * t) for c in SLOPES)), _softmax_mean),
    "log_softmax": (
        fns.log_softmax,
        lambda t: SLOPES[1] * t - mp.log(sum(E(c * t) for c in SLOPES)),
        lambda t: SLOPES[1] - _softmax_mean(t),
    ),
    "log_exp": (fns.log_exp, lambda t: t, lambda t: mp.mpf(1)),
    "log_sigmoid": (fns.log_sigmoid, lambda t: -LOG1P(E(-t)), lambda t: 1 / (1 + E(t))),
    "log_sigmoid (complement)": (fns.log_one_minus_sigmoid, lambda t: -LOG1P(E(t)), lambda t: -1 / (1 + E(-t))),
    "log1p": (fns.log_one_plus, lambda t: LOG1P(t), lambda t: 1 / (1 + t)),
    "expm1": (fns.exp_minus_one, lambda t: mp.expm1(t), lambda t: E(t)),
}
STAGE = {rewrite.name: rewrite.stage for rewrite in REWRITES}
POINTS = np.unique(
    np.concatenate([np.linspace(-1000.0, 1000.0, 401), np.geomspace(1e-12, 60.0, 120), -np.geomspace(1e-12, 60.0, 120)])
)


def ulps(got: float, exact) -> float | None:
    """|got - exact| in units of the last place of exact; None where exact is not a normal double."""
    value = float(exact)
    if not np.isfinite(value) or abs(value) < np.finfo(float).tiny:
        return None
    return abs(got - value) / np.spacing(abs(value))


def test_every_rewrite_is_swept():
    assert {name.split(" ")[0] for name in SWEEP} == set(STAGE)


@pytest.mark.parametrize("name", SWEEP)
def test_rewrite_is_finite_and_accurate_from_minus_1000_to_1000(name):
    function, value_of, slope_of = SWEEP[name]
    stage = STAGE[name.split(" ")[0]]
    both = sd.value_and_grad(function)
    assert name == "log_exp" or "# stable: " in both.source  # log(exp(x)) leaves no code to comment
    points = POINTS[POINTS > -1.0] if function is fns.log_one_plus else POINTS
    worst_value = worst_slope = 0.0
    for x in points:
        value, slope = both(np.array([x]))
        exact_value, exact_slope = value_of(mp.mpf(x)), slope_of(mp.mpf(x))
        exact_overflows = not np.isfinite(float(exact_value))
        assert np.isfinite(value) or exact_overflows, (x, value)
        assert np.isfinite(slope[0]) or not np.isfinite(float(exact_slope)), (x, slope)
        worst_value = max(worst_value, ulps(value, exact_value) or 0.0)
        if stage == "derivative" and name != "log_softmax":
            worst_slope = max(worst_slope, ulps(slope[0], exact_slope) or 0.0)
        elif np.isfinite(float(exact_slope)):
            scale = max(1.0, abs(float(exact_slope)))
            worst_slope = max(worst_slope, abs(slope[0] - float(exact_slope)) / np.spacing(scale))
    assert worst_value <= 4.0, worst_value
    assert worst_slope <= 4.0, worst_slope


# The four cases of the issue, on both CPU backends.


def _exact_cross_entropy(z):
    t = [mp.mpf(v) for v in z]
    total = sum(E(v) for v in t)
    return np.array([float(E(v) / total) for v in t]) - np.eye(len(t))[2]


CASES = {
    "softplus at 800": (
        fns.softplus,
        np.array([800.0, 1.0, -800.0]),
        lambda x: [float(1 / (1 + E(-mp.mpf(v)))) for v in x],
    ),
    "cross-entropy, logits to 800": (fns.cross_entropy, np.array([800.0, 1.0, 799.0, -5.0]), _exact_cross_entropy),
    "where(x > 0, sqrt(x), 0)": (fns.where_sqrt, np.array([-1.0, 4.0, 0.25]), lambda x: [0.0, 0.25, 1.0]),
    "norm at 0": (fns.norm, np.zeros(3), lambda x: [0.0, 0.0, 0.0]),
    "sqrt(sum(x * x)) at 0": (fns.norm_by_hand, np.zeros(3), lambda x: [0.0, 0.0, 0.0]),
}


@pytest.mark.parametrize("backend", ["numpy", "numba"])
@pytest.mark.parametrize("case", CASES)
def test_issue_cases_are_finite_and_exact(case, backend):
    function, x, exact = CASES[case]
    got = sd.grad(function, backend=backend)(x)
    assert np.all(np.isfinite(got))
    np.testing.assert_allclose(got, exact(x), rtol=4 * np.finfo(float).eps, atol=0.0)


def test_stable_false_keeps_the_literal_arithmetic():
    with np.errstate(all="ignore"):
        literal = sd.grad(fns.softplus, stable=False)(np.array([800.0]))
    assert np.isnan(literal[0])
    assert "logaddexp" not in sd.grad(fns.softplus, stable=False).source
    assert sd.grad(fns.softplus)(np.array([800.0]))[0] == 1.0


def test_comment_quotes_the_expression_as_written():
    source = sd.grad(fns.softplus).source
    assert "# stable: np.log(1.0 + np.exp(x)) computed as np.logaddexp(0.0, x)" in source


def test_logistic_gradient_keeps_its_hand_written_form_and_its_value_is_finite():
    """log(p) of a sigmoid written as a quotient differentiates to `y - p` (the algebra pass);
    only the value, which value_and_grad still computes, takes the logaddexp form."""
    assert "logaddexp" not in sd.grad(fns.logistic).source
    assert "y - p" in sd.grad(fns.logistic).source
    rng = np.random.default_rng(0)
    x, y = 40.0 * rng.normal(size=(20, 3)), (rng.uniform(size=20) > 0.5).astype(float)
    w = np.array([30.0, -20.0, 10.0])  # logits beyond +-700: exp overflows in the naive form
    with np.errstate(over="ignore"):
        value, slope = sd.value_and_grad(fns.logistic)(w, x, y)
    z = [mp.mpf(v) for v in x @ w]
    exact = -sum(float(-LOG1P(E(-t)) * yi - (1 - yi) * LOG1P(E(t))) for t, yi in zip(z, y)) / len(y)
    assert np.isfinite(value) and value == pytest.approx(exact, rel=1e-14)
    assert np.all(np.isfinite(slope))


def test_log_of_a_sigmoid_used_in_the_gradient_is_stable():
    """The gradient of log(p) * z contains log(p) itself: -inf at z = -800 without the rewrite."""
    z = np.array([-800.0, 0.5, 800.0])
    with np.errstate(over="ignore"):
        got = sd.grad(fns.log_sigmoid_times)(z)
    exact = [float(-LOG1P(E(-t)) + t / (1 + E(t))) for t in map(mp.mpf, z)]
    np.testing.assert_allclose(got, exact, rtol=1e-15)


def test_hand_shifted_softmax_is_not_shifted_again():
    assert "# stable" not in sd.grad(fns.shifted_softmax).source


def test_a_logsumexp_shifted_by_the_global_maximum_is_not_shifted_again():
    gradient = sd.grad(fns.shifted_logsumexp)
    assert "# stable" not in gradient.source  # x - np.max(x) is at most 0: no exp can overflow
    x = np.array([900.0, 899.5, -3.0, 900.0])
    exact = np.exp(x - 900.0) / np.sum(np.exp(x - 900.0))
    np.testing.assert_allclose(gradient(x), exact, rtol=1e-14)


@pytest.mark.parametrize(
    "function, args",
    [
        (fns.shared_exp, (np.array([-3.0, 0.5, 2.0]),)),
        (fns.rows_log_softmax, (np.array([[1.0, -2.0, 0.5], [3.0, 0.0, -1.0]]),)),
        (fns.softplus_in_loop, (np.array([-1.0, 0.3, 2.0]), 3)),
    ],
)
@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_rewritten_gradients_match_finite_differences(function, args, backend):
    derivative = sd.grad(function, backend=backend)
    assert "# stable: " in derivative.source
    np.testing.assert_allclose(derivative(*args), numeric_grad(function, args, 0), rtol=1e-7, atol=1e-9)


def test_second_derivative_through_a_rewrite():
    d2 = sd.grad(sd.grad(lambda_free_softplus))
    for x in (-800.0, -3.0, 0.0, 2.0, 800.0):
        t = mp.mpf(x)
        exact = float(E(-t) / (1 + E(-t)) ** 2) if x > 0 else float(E(t) / (1 + E(t)) ** 2)
        assert d2(x) == pytest.approx(exact, rel=1e-14, abs=1e-300)


def lambda_free_softplus(x):
    return np.log(1.0 + np.exp(x))


@pytest.mark.parametrize("backend", ["numpy", "numba"])
@pytest.mark.parametrize(
    "function, args",
    [
        (fns.where_sqrt, (np.array([-1.0, 4.0, 0.25, -0.5]),)),
        (fns.where_log_other_arm, (np.array([-2.0, -0.1, 0.5, 3.0]),)),
        (fns.where_in_loop, (np.array([-1.0, 0.5, 2.5]), 3)),
    ],
)
def test_untaken_arm_computes_no_nan(function, args, backend):
    """The double-where: what an arm reads from outside it is guarded, so the forward pass
    computes no nan and NumPy does not warn; the gradient is the same with or without."""
    derivative = sd.grad(function, backend=backend)
    assert any(eqn.op == "where" and "_safe" in eqn.out.name for eqn in walk(derivative.function.body))
    with np.errstate(all="raise"):
        got = derivative(*args)
    with np.errstate(all="ignore"):
        literal = sd.grad(function, stable=False, backend=backend)(*args)
    np.testing.assert_array_equal(got, literal)
    np.testing.assert_allclose(got, numeric_grad(function, args, 0), rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_log_ndtr_slope_deep_in_the_lower_tail(backend):
    """pdf / cdf, which is about -x there: its exp form cancels to nan far out (found by the fuzzer,
    seed 100003047, where 0 * that nan poisoned a gradient whose true value was finite)."""
    x = np.array([-1e12, -1e10, -1e3, -100.0, -31.0, -30.0, -29.0, -5.0, 0.0, 3.0, 10.0])
    with np.errstate(all="raise"):
        got = sd.grad(fns.total_log_ndtr, backend=backend)(x)
    exact = [float(mp.npdf(t) / mp.ncdf(t)) for t in map(mp.mpf, x)]
    np.testing.assert_allclose(got, exact, rtol=1e-13, atol=0.0)
