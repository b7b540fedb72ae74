"""The scipy.stats composites (symdiff/rules/stats.py) beyond the table's finite differences.

tests/rules/cases.py checks every differentiable argument of each one, with
broadcasting, against finite differences to first and second order. Here:
their values against SciPy's own, at the edges of each support and far into
the normal's tails; exact second derivatives of norm.cdf and norm.logpdf;
zero (not nan) gradients outside a support; the multivariate normal's shapes
and covariance gradient; and what is refused when the derivative is built.
"""

from __future__ import annotations

import mpmath
import numpy as np
import pytest
import scipy.special
import scipy.stats
from scipy.stats import multivariate_normal, norm

import symdiff as sd
from symdiff.errors import UnsupportedSyntax
from symdiff.rules import stats
from tests.oracles import numeric_grad

INF = np.inf
EDGES = np.array([-INF, -40.0, -12.0, -3.0, -0.5, 0.0, 0.7, 4.0, 12.0, 40.0, INF])
X = np.array([-1.5, -0.2, 0.0, 0.3, 1.0, 1.2, 2.5])  # below, at and inside the supports of gamma and beta


# -- values: each composite body, run directly in NumPy, against SciPy ------------------------------------------
VALUE_CASES = {
    "norm.logpdf": (stats.norm_logpdf_composite, scipy.stats.norm.logpdf, (EDGES[1:-1], 0.3, 1.7)),
    "norm.pdf": (stats.norm_pdf_composite, scipy.stats.norm.pdf, (EDGES, 0.3, 1.7)),
    "norm.cdf": (stats.norm_cdf_composite, scipy.stats.norm.cdf, (EDGES, -0.4, 0.8)),
    "norm.logcdf": (stats.norm_logcdf_composite, scipy.stats.norm.logcdf, (EDGES, -0.4, 0.8)),
    "norm.sf": (stats.norm_sf_composite, scipy.stats.norm.sf, (EDGES, 0.2, 2.5)),
    "norm.logsf": (stats.norm_logsf_composite, scipy.stats.norm.logsf, (EDGES, 0.2, 2.5)),
    "t.logpdf": (stats.t_logpdf_composite, scipy.stats.t.logpdf, (EDGES[1:-1], np.array([[0.7], [3.0], [40.0]]), 0.1, 1.3)),
    "t.pdf": (stats.t_pdf_composite, scipy.stats.t.pdf, (EDGES[1:-1], 2.5, -0.3, 0.6)),
    "gamma.logpdf": (stats.gamma_logpdf_composite, scipy.stats.gamma.logpdf, (X, np.array([[0.5], [1.0], [2.5]]))),
    "gamma.logpdf shifted": (stats.gamma_logpdf_composite, scipy.stats.gamma.logpdf, (X, 1.7, 0.3, 2.0)),
    "gamma.pdf": (stats.gamma_pdf_composite, scipy.stats.gamma.pdf, (X, np.array([[0.5], [1.0], [2.5]]), -0.2, 0.7)),
    "beta.logpdf": (stats.beta_logpdf_composite, scipy.stats.beta.logpdf,
                    (X, np.array([[0.5], [1.0], [2.5]]), np.array([0.6, 1.0, 3.0, 1.0, 2.0, 0.5, 1.0]))),
    "beta.logpdf shifted": (stats.beta_logpdf_composite, scipy.stats.beta.logpdf, (X, 2.0, 0.7, -0.5, 2.0)),
    "beta.pdf": (stats.beta_pdf_composite, scipy.stats.beta.pdf, (X, np.array([[0.5], [1.0], [2.5]]), 1.5)),
    "poisson.logpmf": (stats.poisson_logpmf_composite, scipy.stats.poisson.logpmf,
                       (np.array([-1.0, 0.0, 1.0, 2.5, 3.0, 7.0]), np.array([[0.0], [0.4], [3.0]]))),
    "poisson.pmf": (stats.poisson_pmf_composite, scipy.stats.poisson.pmf, (np.array([0, 1, 2, 5]), 1.3, 1)),
}  # fmt: skip


@pytest.mark.parametrize("name", VALUE_CASES)
def test_value_matches_scipy(name: str) -> None:
    composite, reference, args = VALUE_CASES[name]
    with np.errstate(divide="raise", invalid="raise"):  # no log(0) or 0 * inf hidden in an untaken branch
        got = composite(*args)
    want = reference(*args)
    assert np.shape(got) == np.shape(want)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-300)


def norm_family(x, loc, scale):
    return (
        np.sum(norm.logpdf(x, loc, scale)) + np.sum(norm.pdf(x, loc, scale)) + np.sum(norm.cdf(x, loc, scale))
        + np.sum(norm.logcdf(x, loc, scale)) + np.sum(norm.sf(x, loc, scale)) + np.sum(norm.logsf(x, loc, scale))
    )  # fmt: skip


def shaped_family(x, y, a, b):
    return (
        np.sum(scipy.stats.t.logpdf(x, a, 0.2, b)) + np.sum(scipy.stats.t.pdf(x, b))
        + np.sum(scipy.stats.gamma.logpdf(y, a, scale=b)) + np.sum(scipy.stats.gamma.pdf(y, b))
        + np.sum(scipy.stats.beta.logpdf(y / 4.0, a, b)) + np.sum(scipy.stats.beta.pdf(y / 4.0, b, a))
    )  # fmt: skip


def test_generated_code_computes_scipys_values() -> None:
    """value_and_grad's value comes from the generated code, not from SciPy."""
    rng = np.random.default_rng(11)
    x, loc, scale = rng.normal(size=(3, 4)), rng.normal(size=4), rng.uniform(0.5, 2.0, size=(3, 1))
    value, _ = sd.value_and_grad(norm_family, wrt=(0, 1, 2))(x, loc, scale)
    assert value == pytest.approx(norm_family(x, loc, scale), rel=1e-13)
    y, a, b = rng.uniform(0.2, 3.5, size=5), rng.uniform(0.5, 3.0, size=5), 1.7
    value, _ = sd.value_and_grad(shaped_family, wrt=(0, 1, 2, 3))(x[0, :1], y, a, b)
    assert value == pytest.approx(shaped_family(x[0, :1], y, a, b), rel=1e-13)


# -- second derivatives of norm.cdf and norm.logpdf, exactly ----------------------------------------------------
def cdf_scalar(z):
    return norm.cdf(z)


def logpdf_scalar(x, loc, scale):
    return scipy.stats.norm.logpdf(x, loc=loc, scale=scale)


def logcdf_scalar(z):
    return norm.logcdf(z)


@pytest.mark.parametrize("z", [-7.0, -1.3, 0.0, 0.4, 2.2])
def test_grad_of_grad_of_norm_cdf(z: float) -> None:
    first, second = sd.grad(cdf_scalar), sd.grad(sd.grad(cdf_scalar))
    density = np.exp(-0.5 * z * z) / np.sqrt(2.0 * np.pi)
    assert first(z) == pytest.approx(density, rel=1e-14)
    assert second(z) == pytest.approx(-z * density, rel=1e-13, abs=1e-300)
    assert second(z) == pytest.approx(numeric_grad(first, (z,), 0), rel=1e-6, abs=1e-9)


@pytest.mark.parametrize(("x", "loc", "scale"), [(0.7, -0.2, 1.5), (-2.0, 0.3, 0.6)])
def test_hessian_of_norm_logpdf_in_x_loc_and_scale(x: float, loc: float, scale: float) -> None:
    # With r = x - loc: d/dx = -r / s^2, d/dloc = r / s^2, d/ds = r^2 / s^3 - 1 / s.
    r = x - loc
    want = np.array([
        [-1 / scale**2, 1 / scale**2, 2 * r / scale**3],
        [1 / scale**2, -1 / scale**2, -2 * r / scale**3],
        [2 * r / scale**3, -2 * r / scale**3, -3 * r**2 / scale**4 + 1 / scale**2],
    ])  # fmt: skip
    for k in range(3):
        row = sd.grad(sd.grad(logpdf_scalar, wrt=k), wrt=(0, 1, 2))(x, loc, scale)
        np.testing.assert_allclose(row, want[k], rtol=1e-13, atol=1e-15)


def test_logcdf_gradients_stay_finite_far_into_the_tail() -> None:
    """pdf / cdf where both underflow: the rule never divides them."""
    first, second = sd.grad(logcdf_scalar), sd.grad(sd.grad(logcdf_scalar))
    for z in (-40.0, -200.0):
        with mpmath.workdps(50):
            ratio = mpmath.npdf(z) / mpmath.ncdf(z)  # d/dz log cdf, and its derivative -z ratio - ratio^2
            slope = -z * ratio - ratio**2
        # exp(-z^2 / 2 - log cdf(z)): two terms near z^2 / 2 whose rounding exp turns into relative error.
        assert first(z) == pytest.approx(float(ratio), rel=1e-11)
        assert second(z) == pytest.approx(float(slope), rel=1e-6)
    assert sd.grad(logcdf_scalar)(40.0) == 0.0


# -- outside a support the gradient is zero, not nan ------------------------------------------------------------
def gamma_total(x, a, scale):
    return np.sum(np.exp(scipy.stats.gamma.logpdf(x, a, scale=scale)))


def beta_total(x, a, b):
    return np.sum(scipy.stats.beta.pdf(x, a, b))


def poisson_total(mu):
    return np.sum(scipy.stats.poisson.pmf(np.array([-1.0, 0.0, 2.0, 2.5]), mu))


def poisson_total_at_zero(mu):
    return np.sum(scipy.stats.poisson.logpmf(0, mu))


def test_gradients_outside_a_support_are_zero() -> None:
    with np.errstate(divide="raise", invalid="raise"):
        gx, ga, gs = sd.grad(gamma_total, wrt=(0, 1, 2))(np.array([-1.0, 0.5, 2.0]), 2.5, 1.5)
        assert gx[0] == 0.0 and np.all(np.isfinite([*gx, ga, gs]))
        want = numeric_grad(lambda a: gamma_total(np.array([0.5, 2.0]), a, 1.5), (2.5,), 0)
        assert ga == pytest.approx(want, rel=1e-6)
        gx, ga, gb = sd.grad(beta_total, wrt=(0, 1, 2))(np.array([-0.5, 0.4, 1.5]), 2.0, 3.0)
        assert gx[0] == 0.0 and gx[2] == 0.0 and np.all(np.isfinite([*gx, ga, gb]))
        mu = np.array([[0.7], [2.0]])
        want = sum(scipy.stats.poisson.pmf(k, mu) * (k / mu - 1.0) for k in (0, 2))
        np.testing.assert_allclose(sd.grad(poisson_total)(mu), want, rtol=1e-13)
    assert sd.grad(poisson_total_at_zero)(0.0) == -1.0  # log pmf(0; mu) = -mu, also at mu = 0


# -- the multivariate normal ------------------------------------------------------------------------------------
def mvn_total(x, mean, cov):
    return np.sum(multivariate_normal.logpdf(x, mean, cov))


def mvn_values(x, mean, cov):
    return multivariate_normal.logpdf(x, mean=mean, cov=cov)


def _spd(rng: np.random.Generator, d: int) -> np.ndarray:
    factor = rng.normal(size=(d, d))
    return factor @ factor.T + d * np.eye(d)


@pytest.mark.parametrize("shape", [(3,), (1, 3), (5, 3)])
def test_mvn_shapes_and_values_match_scipy(shape: tuple[int, ...]) -> None:
    rng = np.random.default_rng(len(shape) * 10 + shape[0])
    x, mean, cov = rng.normal(size=shape), rng.normal(size=3), _spd(rng, 3)
    want = scipy.stats.multivariate_normal.logpdf(x, mean, cov)
    got = stats.multivariate_normal_logpdf_composite(x, mean, cov)
    assert np.shape(got) == np.shape(want)  # SciPy squeezes (1, d) to a scalar
    np.testing.assert_allclose(got, want, rtol=1e-12)
    value, _ = sd.value_and_grad(mvn_total)(x, mean, cov)
    assert value == pytest.approx(np.sum(want), rel=1e-12)
    seed = rng.normal(size=np.shape(want))
    assert np.shape(sd.vjp(mvn_values)(x, mean, cov, seed)) == shape


def test_mvn_cov_gradient_is_the_symmetric_one() -> None:
    """d/dC of sum_i log N(x_i; m, C) = -1/2 sum_i (C^-1 - C^-1 r_i r_i^T C^-1), as autograd gives."""
    rng = np.random.default_rng(5)
    x, mean, cov = rng.normal(size=(4, 3)), rng.normal(size=3), _spd(rng, 3)
    inverse = np.linalg.inv(cov)
    solved = (x - mean) @ inverse
    want = -0.5 * (4 * inverse - solved.T @ solved)
    got = sd.grad(mvn_total, wrt=2)(x, mean, cov)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(got, got.T, rtol=1e-14, atol=1e-15)


def mvn_without_mean(x):
    return np.sum(multivariate_normal.logpdf(x, cov=np.eye(2)))


def mvn_scalar_cov(x):
    return np.sum(multivariate_normal.logpdf(x, np.zeros(2), 2.0))


def mvn_allow_singular(x):
    return np.sum(multivariate_normal.logpdf(x, np.zeros(2), np.eye(2), allow_singular=True))


@pytest.mark.parametrize(
    ("func", "message"),
    [(mvn_without_mean, "needs its mean"), (mvn_scalar_cov, r"needs cov as a \(d, d\) matrix"),
     (mvn_allow_singular, "allow_singular is not supported")],
)  # fmt: skip
def test_mvn_forms_not_covered_are_refused_when_built(func, message: str) -> None:
    with pytest.raises(UnsupportedSyntax, match=message) as caught:
        sd.grad(func)
    assert f"test_stats.py:{func.__code__.co_firstlineno + 1}:" in str(caught.value)


# -- Numba: the value of ndtr too (symdiff/backends/numba/special.py) --------------------------------------------
def cdf_total(z):
    return np.sum(norm.cdf(z))


def test_numba_computes_the_value_of_norm_cdf() -> None:
    z = np.array([-3.0, -0.2, 0.0, 1.5])
    value, gradient = sd.value_and_grad(cdf_total, backend="numba")(z)
    assert value == pytest.approx(np.sum(scipy.stats.norm.cdf(z)), rel=1e-14)
    np.testing.assert_allclose(gradient, scipy.stats.norm.pdf(z), rtol=1e-14)


def test_scipy_special_spellings_of_the_new_primitives() -> None:
    assert scipy.special.ndtr(0.3) == pytest.approx(stats.norm_cdf_composite(0.3))
    assert scipy.special.log_ndtr(-50.0) == stats.norm_logcdf_composite(-50.0)
