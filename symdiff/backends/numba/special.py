"""SciPy's special functions for the Numba backend, which cannot call `scipy.special`.

Generated Numba code calls these under the names of the helpers in
`symdiff.rules.shapes` (`gammaln`, `digamma`, `erf`, `expit`, `ndtr`,
`log_ndtr`), so one rule table serves both backends. Each is a
`numba.vectorize` ufunc: it takes a number or an array, as the NumPy helper
does, and computes in float64. `math.lgamma`, `math.erf` and `math.erfc` are
the C library's; `digamma` and the lower tail of `log_ndtr` are series,
within a few float64 ulps of SciPy's (`tests/backends/test_numba_special.py`).
`polygamma` has no implementation here and stays refused when a gradient is
built.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from symdiff.backends.numba import helper_cache  # noqa: F401 - its locator, before the cache=True functions below

_SQRT_HALF = 0.7071067811865476
_HALF_LOG_2PI = 0.9189385332046728


@numba.vectorize(cache=True)
def gammaln(x):
    """`scipy.special.gammaln`, log|Gamma(x)|."""
    x = np.float64(x)
    if x == -math.inf:
        return -math.inf  # as SciPy
    return math.lgamma(x)


@numba.vectorize(cache=True)
def digamma(x):
    """`scipy.special.digamma`: the recurrence psi(x) = psi(x + 1) - 1/x up to x >= 10, then the
    asymptotic series (its first omitted term is below 1e-15 there); below 0 the reflection
    psi(x) = psi(1 - x) - pi / tan(pi x)."""
    x = np.float64(x)
    if math.isnan(x) or x == -math.inf:
        return math.nan
    if x == math.inf:
        return math.inf
    if x == 0.0:
        return -math.copysign(math.inf, x)  # as SciPy: -inf at +0, +inf at -0
    result = 0.0
    if x < 0.0:
        if x == math.floor(x):
            return math.nan  # a pole
        result = -math.pi / math.tan(math.pi * (x - math.floor(x + 0.5)))  # tan has period pi: an exact reduction
        x = 1.0 - x
    while x < 10.0:
        result -= 1.0 / x
        x += 1.0
    f = 1.0 / (x * x)
    series = f * (1.0 / 12 - f * (1.0 / 120 - f * (1.0 / 252 - f * (1.0 / 240 - f * (1.0 / 132 - f * 691.0 / 32760)))))
    return result + math.log(x) - 0.5 / x - series


@numba.vectorize(cache=True)
def erf(x):
    """`scipy.special.erf`."""
    return math.erf(np.float64(x))


@numba.vectorize(cache=True)
def expit(x):
    """`scipy.special.expit`, 1 / (1 + exp(-x)), without overflow for large |x|."""
    x = np.float64(x)
    if x >= 0.0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


@numba.vectorize(cache=True)
def ndtr(x):
    """`scipy.special.ndtr`, the standard normal CDF: erfc keeps the lower tail's relative accuracy."""
    return 0.5 * math.erfc(-np.float64(x) * _SQRT_HALF)


@numba.vectorize(cache=True)
def log_ndtr(x):
    """`scipy.special.log_ndtr`: log(1 - Q) by log1p above 0, log of erfc down to -30, then the
    asymptotic series of the lower tail (its first omitted term is below 2e-14 at -30)."""
    x = np.float64(x)
    if x > 0.0:
        return math.log1p(-0.5 * math.erfc(x * _SQRT_HALF))
    if x > -30.0:
        return math.log(0.5 * math.erfc(-x * _SQRT_HALF))
    f = 1.0 / (x * x)
    tail = 1.0 - f * (1.0 - f * (3.0 - f * (15.0 - f * (105.0 - f * 945.0))))
    return -0.5 * x * x - math.log(-x) - _HALF_LOG_2PI + math.log(tail)
