"""Special functions: erf, expit, gammaln (with digamma and polygamma, so every order
has a rule), ndtr and log_ndtr (the normal CDF and its log, which scipy.stats.norm's
cdf, sf, logcdf and logsf need accurate in the tails), logsumexp and multigammaln.

The primitives are the SciPy wrappers of `rules/shapes.py`, which generated code
calls, so a standalone module needs SciPy only when it uses one. Users write
`scipy.special.erf`, `math.erf`, `scipy.special.gammaln`, `math.lgamma`, ...;
the SciPy spellings are registered when scipy.special has been imported
(`registry.register_later`: `import symdiff` does not import SciPy), so
when SciPy is not installed only the `math` spellings are known.
`logsumexp` and `multigammaln` are composites; the scipy.stats densities are in
`rules/stats.py`.
"""

from __future__ import annotations

import math

import numpy as np

from symdiff.rules.registry import add_aliases, register_composite, register_derivative, register_later
from symdiff.rules.shapes import digamma, erf, expit, gammaln, log_ndtr, ndtr, polygamma


@register_derivative(erf, elementwise=True, helper=True, aliases=(math.erf,))
def erf_vjp(g, out, x):
    return g * (1.1283791670955126 * np.exp(-x * x))  # 2 / sqrt(pi)


@register_derivative(ndtr, elementwise=True, helper=True)
def ndtr_vjp(g, out, x):
    return g * (0.3989422804014327 * np.exp(-0.5 * x * x))  # the normal density: 1 / sqrt(2 pi)


@register_derivative(log_ndtr, elementwise=True, helper=True)
def log_ndtr_vjp(g, out, x):
    # pdf(x) / cdf(x) as one exp: neither factor under- or overflows alone in the lower tail. Below
    # -30 the exponent cancels (x * x / 2 and -out agree to 1e-16 of their size: inf * 0 = nan at
    # x = -1e10), so there it is the asymptotic -x / (1 - 1/x^2 + 3/x^4 - ... - 945/x^10).
    tail = np.minimum(x, -30.0)
    u = 1.0 / (tail * tail)
    mills = -tail / (1.0 - u * (1.0 - 3.0 * u * (1.0 - 5.0 * u * (1.0 - 7.0 * u * (1.0 - 9.0 * u)))))
    near = 0.3989422804014327 * np.exp(np.minimum(-0.5 * x * x - out, 700.0))
    return g * np.where(x < -30.0, mills, near)


@register_derivative(expit, elementwise=True, helper=True)
def expit_vjp(g, out, x):
    return g * (out * (1.0 - out))


@register_derivative(gammaln, elementwise=True, helper=True, aliases=(math.lgamma,))
def gammaln_vjp(g, out, x):
    return g * digamma(x)


@register_derivative(digamma, elementwise=True, helper=True)
def digamma_vjp(g, out, x):
    return g * polygamma(1, x)


@register_derivative(polygamma, elementwise=True, helper=True)
def polygamma_vjp(g, out, n, x):
    # The order n is an integer: no cotangent.
    return None, g * polygamma(n + 1, x)


def logsumexp_composite(a, axis=None, keepdims=False):
    # Shifted by the maximum so exp never overflows; the shift's own cotangent cancels.
    peak = np.max(a, axis=axis, keepdims=True)
    total = np.sum(np.exp(a - peak), axis=axis, keepdims=keepdims)
    return np.log(total) + np.reshape(peak, np.shape(total))


def multigammaln_composite(a, d):
    # log Gamma_d(a) = d (d - 1) / 4 log(pi) + sum_{j=1..d} gammaln(a + (1 - j) / 2)
    steps = (1.0 - np.arange(1, d + 1)) / 2.0
    return np.sum(gammaln(np.expand_dims(a, -1) + steps), axis=-1) + d * (d - 1) / 4.0 * 1.1447298858494002


def register_scipy_special() -> None:
    """SciPy's spellings of the rules above, once scipy.special is imported."""
    import scipy.special

    for op, names in (
        ("erf", ("erf",)),
        ("ndtr", ("ndtr",)),
        ("log_ndtr", ("log_ndtr",)),
        ("expit", ("expit",)),
        ("gammaln", ("gammaln",)),
        ("digamma", ("digamma", "psi")),
        ("polygamma", ("polygamma",)),
    ):
        add_aliases(op, *(getattr(scipy.special, name) for name in names))
    register_composite(scipy.special.logsumexp)(logsumexp_composite)
    register_composite(scipy.special.multigammaln)(multigammaln_composite)


register_later("scipy.special", register_scipy_special)
