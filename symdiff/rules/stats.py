"""scipy.stats densities: norm, t, gamma, beta, poisson and multivariate_normal, as composites.

Each is a method of a SciPy distribution object (`scipy.stats.norm.cdf` is a
bound method of the `norm_gen` instance `scipy.stats.norm`), registered as a
composite keyed by that bound method: `norm.cdf(z)` after `from scipy.stats
import norm` and `scipy.stats.norm.cdf(x, loc, scale)` resolve alike. The
bodies are in the supported subset and use only ops with rules (gammaln,
ndtr, log_ndtr, slogdet, solve, ...), so every derivative of every order
comes from the table. Arguments are positional or keyword, under SciPy's
names, and broadcast as SciPy broadcasts them.

Outside a distribution's support the value is SciPy's (`-inf` for a log
density, 0 for a density, the boundary values of `xlogy`) and the gradient is
zero: `np.where` keeps `log` away from non-positive arguments, so no `nan`
from the untaken branch reaches a gradient. Known gaps: `t` with `df=inf`
gives nan (SciPy: the normal density), and a non-positive `scale` is not
checked (SciPy: nan). `multivariate_normal` without a mean, with a scalar
cov or with `allow_singular` is refused when the derivative is built.
"""

from __future__ import annotations

import numpy as np

from symdiff.errors import UnsupportedSyntax
from symdiff.rules.registry import register_composite, register_later
from symdiff.rules.shapes import gammaln, log_ndtr, ndtr

scipy = None  # bound to the scipy package by `register_scipy_stats`: the composites' bodies call scipy.stats

LOG_SQRT_2PI = 0.9189385332046727  # log(sqrt(2 pi))
INV_SQRT_2PI = 0.3989422804014327  # 1 / sqrt(2 pi)
LOG_SQRT_PI = 0.5723649429247001  # log(sqrt(pi))


def xlogy_nonnegative(c, y):
    """`scipy.special.xlogy(c, y)` for y >= 0: c log(y), with 0 log 0 = 0 and c log 0 = -inf c otherwise.

    `log` sees only positive numbers, so where y <= 0 the gradient is zero rather than nan.
    """
    positive = np.where(y > 0.0, y, 1.0)
    # `0.0 * positive`, not 0.0: a where of two Python floats would make float32 operands float64.
    at_zero = np.where(c > 0.0, -np.inf, np.where(c < 0.0, np.inf, 0.0 * positive))
    return c * np.log(positive) + np.where(y == 0.0, at_zero, 0.0)


# -- the normal distribution -------------------------------------------------------------------------------------
def norm_logpdf_composite(x, loc=0.0, scale=1.0):
    z = (x - loc) / scale
    return -0.5 * z * z - np.log(scale) - LOG_SQRT_2PI


def norm_pdf_composite(x, loc=0.0, scale=1.0):
    z = (x - loc) / scale
    return INV_SQRT_2PI * np.exp(-0.5 * z * z) / scale


def norm_cdf_composite(x, loc=0.0, scale=1.0):
    return ndtr((x - loc) / scale)


def norm_logcdf_composite(x, loc=0.0, scale=1.0):
    return log_ndtr((x - loc) / scale)


def norm_sf_composite(x, loc=0.0, scale=1.0):
    # 1 - cdf(x) loses every digit in the upper tail; the reflected cdf keeps them.
    return ndtr((loc - x) / scale)


def norm_logsf_composite(x, loc=0.0, scale=1.0):
    return log_ndtr((loc - x) / scale)


# -- Student's t -------------------------------------------------------------------------------------------------
def t_logpdf_composite(x, df, loc=0.0, scale=1.0):
    z = (x - loc) / scale
    half = 0.5 * (df + 1.0)
    normalizer = gammaln(half) - gammaln(0.5 * df) - 0.5 * np.log(df) - np.log(scale) - LOG_SQRT_PI
    return normalizer - half * np.log1p(z * z / df)


def t_pdf_composite(x, df, loc=0.0, scale=1.0):
    return np.exp(scipy.stats.t.logpdf(x, df, loc, scale))


# -- gamma and beta: supported on [loc, loc + scale * ...] ------------------------------------------------------
def gamma_logpdf_composite(x, a, loc=0.0, scale=1.0):
    y = (x - loc) / scale
    inside = xlogy_nonnegative(a - 1.0, y) - y - gammaln(a) - np.log(scale)
    return np.where(y >= 0.0, inside, -np.inf)


def gamma_pdf_composite(x, a, loc=0.0, scale=1.0):
    return np.exp(scipy.stats.gamma.logpdf(x, a, loc, scale))


def beta_logpdf_composite(x, a, b, loc=0.0, scale=1.0):
    y = (x - loc) / scale
    betaln = gammaln(a) + gammaln(b) - gammaln(a + b)
    inside = xlogy_nonnegative(a - 1.0, y) + xlogy_nonnegative(b - 1.0, 1.0 - y) - betaln - np.log(scale)
    return np.where(np.logical_and(y >= 0.0, y <= 1.0), inside, -np.inf)


def beta_pdf_composite(x, a, b, loc=0.0, scale=1.0):
    return np.exp(scipy.stats.beta.logpdf(x, a, b, loc, scale))


# -- Poisson: differentiable in mu (k is a count) ---------------------------------------------------------------
def poisson_logpmf_composite(k, mu, loc=0):
    n = k - loc
    count = np.logical_and(n >= 0, n == np.floor(n))
    inside = xlogy_nonnegative(n, mu) - mu - gammaln(np.where(count, n, 0.0) + 1.0)
    return np.where(count, inside, -np.inf)


def poisson_pmf_composite(k, mu, loc=0):
    return np.exp(scipy.stats.poisson.logpmf(k, mu, loc))


# -- the multivariate normal: x of shape (d,) or (n, d), cov (d, d) ---------------------------------------------
def check_multivariate_normal(arguments: dict) -> None:
    """A mean and a (d, d) cov, given; SciPy's defaults (zero mean, identity) and allow_singular are not covered."""
    name = "scipy.stats.multivariate_normal.logpdf"
    if "mean" not in arguments or getattr(arguments["mean"], "value", 0) is None:
        raise UnsupportedSyntax(f"{name} needs its mean here", hint="pass mean=np.zeros(d) for a zero mean")
    if "cov" not in arguments or isinstance(getattr(arguments["cov"], "value", None), (int, float)):
        raise UnsupportedSyntax(
            f"{name} needs cov as a (d, d) matrix here",
            hint="pass cov=s * np.eye(d) for a variance s in every direction",
        )
    allow_singular = arguments.get("allow_singular")
    if allow_singular is not None and getattr(allow_singular, "value", None) is not False:
        raise UnsupportedSyntax(
            f"{name} with allow_singular is not supported", hint="add eps * np.eye(d) to cov instead"
        )


def multivariate_normal_logpdf_composite(x, mean=None, cov=1, allow_singular=False):
    deviation = x - mean
    solved = np.linalg.solve(cov, deviation.T)  # (d,) or (d, n): one column per point
    _, logdet = np.linalg.slogdet(cov)
    mahalanobis = np.sum(deviation.T * solved, axis=0)
    # SciPy squeezes its result: one point of shape (1, d) gives a scalar.
    return np.squeeze(-0.5 * mahalanobis - 0.5 * logdet - np.shape(cov)[0] * LOG_SQRT_2PI)


def register_scipy_stats() -> None:
    """The composites above, keyed by SciPy's bound methods, once scipy.stats is imported
    (`registry.register_later`: `import symdiff` does not import SciPy)."""
    global scipy
    import scipy.stats

    composites = {
        scipy.stats.norm.logpdf: norm_logpdf_composite,
        scipy.stats.norm.pdf: norm_pdf_composite,
        scipy.stats.norm.cdf: norm_cdf_composite,
        scipy.stats.norm.logcdf: norm_logcdf_composite,
        scipy.stats.norm.sf: norm_sf_composite,
        scipy.stats.norm.logsf: norm_logsf_composite,
        scipy.stats.t.logpdf: t_logpdf_composite,
        scipy.stats.t.pdf: t_pdf_composite,
        scipy.stats.gamma.logpdf: gamma_logpdf_composite,
        scipy.stats.gamma.pdf: gamma_pdf_composite,
        scipy.stats.beta.logpdf: beta_logpdf_composite,
        scipy.stats.beta.pdf: beta_pdf_composite,
        scipy.stats.poisson.logpmf: poisson_logpmf_composite,
        scipy.stats.poisson.pmf: poisson_pmf_composite,
    }
    for method, composite in composites.items():
        register_composite(method)(composite)
    # A composite's body calls the others through their registration, so that what it lowers to is
    # located at the user's call (a plain function called from a composite would be located here).
    register_composite(xlogy_nonnegative)(xlogy_nonnegative)
    register_composite(scipy.stats.multivariate_normal.logpdf, check=check_multivariate_normal)(
        multivariate_normal_logpdf_composite
    )


register_later("scipy.stats", register_scipy_stats)
