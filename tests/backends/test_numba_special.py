"""The Numba backend's special functions agree with SciPy's, and with mpmath where SciPy is loose.

`symdiff/backends/numba/special.py` implements what generated Numba code
calls for `scipy.special` (Numba cannot call SciPy). The points cover both
signs, the poles of digamma and gammaln, the tails of the normal CDF and
huge and tiny arguments; the error is measured as |ours - SciPy| / (1 + |SciPy|),
so that a value near a root is judged by its absolute error.
"""

import math

import mpmath
import numpy as np
import pytest
import scipy.special

from symdiff.backends.numba import special as numba_special

RNG = np.random.default_rng(4)
POINTS = np.concatenate([
    RNG.uniform(-30.0, 30.0, 4000), RNG.uniform(-3.0, 3.0, 4000), RNG.uniform(1e-6, 1.0, 500),
    -RNG.uniform(1e-6, 1.0, 500), np.exp(RNG.uniform(-30.0, 30.0, 500)), np.linspace(-60.0, 40.0, 2001),
    [0.5, 1.0, 2.0, 10.0, 100.0, -0.5, -2.5, -7.25],
])  # fmt: skip
NAMES = ["gammaln", "digamma", "erf", "expit", "ndtr", "log_ndtr"]


@pytest.mark.parametrize("name", NAMES)
def test_agrees_with_scipy(name: str) -> None:
    x = POINTS
    if name == "digamma":  # SciPy's digamma loses digits near its poles (mpmath judges those, below)
        x = x[(x > 0) | (np.abs(x - np.round(x)) > 0.05)]
    with np.errstate(all="ignore"):
        ours, theirs = getattr(numba_special, name)(x), getattr(scipy.special, name)(x)
    finite = np.isfinite(theirs)
    np.testing.assert_array_equal(ours[~finite], theirs[~finite])
    error = np.abs(ours[finite] - theirs[finite]) / (1.0 + np.abs(theirs[finite]))
    assert error.max() < 1e-14, f"{name}: {error.max():.2e} at {x[finite][np.argmax(error)]}"


NEAR_POLES = [-0.999999999, -1.999999999, -3.000000001, -20.99894569533181, -10.9989, -0.5, -2.5, 0.25, 7.5]


@pytest.mark.parametrize("x", NEAR_POLES + list(np.round(RNG.uniform(-30.0, 0.0, 20), 6)))
def test_digamma_of_negative_numbers_agrees_with_mpmath(x: float) -> None:
    want = float(mpmath.digamma(mpmath.mpf(x)))
    assert abs(numba_special.digamma(x) - want) <= 4e-15 * (1.0 + abs(want))


def test_values_at_the_edges_are_scipys() -> None:
    edges = np.array([0.0, -0.0, -1.0, math.inf, -math.inf, math.nan])
    with np.errstate(all="ignore"):
        for name in NAMES:
            ours, theirs = getattr(numba_special, name)(edges), getattr(scipy.special, name)(edges)
            np.testing.assert_allclose(ours, theirs, rtol=1e-15, atol=0.0, equal_nan=True, err_msg=name)
            signed = ~np.isnan(theirs)  # the sign of a zero or an infinity, not of a nan
            np.testing.assert_array_equal(np.signbit(ours[signed]), np.signbit(theirs[signed]), err_msg=name)
