"""The vectorisable exp, expm1, log, log1p and tanh of the Numba backend agree with NumPy."""

from __future__ import annotations

import re

import numba
import numpy as np
import pytest

from symdiff.backends.numba import math as numba_math

_SPECIAL = [0.0, -0.0, np.inf, -np.inf, np.nan, 5e-324, -5e-324, 1e-310, 2.2250738585072014e-308, 1e-300, 0.5,
            -0.5, 0.4999999999999999, 1.0, -1.0, 2.0, 22.0, -22.0, 709.78, 709.79, -708.4, -745.1, -745.2, 1e308]  # fmt: skip


def _arguments(domain: str) -> np.ndarray:
    rng = np.random.default_rng(0)
    scales = (1e-300, 1e-20, 1e-8, 1e-3, 0.3, 1.0, 3.0, 30.0, 300.0)
    x = np.concatenate([rng.normal(size=20000) * s for s in scales] + [np.array(_SPECIAL)])
    if domain == "positive":
        return np.abs(x)
    if domain == "above -1":
        return np.concatenate([np.abs(x) - 1.0, np.abs(x[:1000]) * 1e-3 - 1.0, [-1.0, -2.0]])
    return np.concatenate([x, -x])


@pytest.mark.parametrize(
    ("ours", "theirs", "domain"),
    [
        (numba_math.vexp, np.exp, "all"),
        (numba_math.vexpm1, np.expm1, "all"),
        (numba_math.vlog, np.log, "positive"),
        (numba_math.vlog1p, np.log1p, "above -1"),
        (numba_math.vtanh, np.tanh, "all"),
    ],
    ids=lambda v: getattr(v, "__name__", v),
)
def test_agrees_with_numpy_to_a_few_ulp(ours, theirs, domain):
    x = _arguments(domain)
    with np.errstate(all="ignore"):
        got, want = ours(x), theirs(x)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    finite = np.isfinite(want) & ~np.isnan(got)
    np.testing.assert_array_equal(got[~finite & ~np.isnan(want)], want[~finite & ~np.isnan(want)])
    np.testing.assert_allclose(got[finite], want[finite], rtol=2e-15, atol=1e-320)
    assert np.array_equal(np.signbit(got[x == 0.0]), np.signbit(want[x == 0.0]))  # signed zeros


def test_float32_and_scalars_work():
    np.testing.assert_allclose(numba_math.vtanh(np.ones(3, np.float32)), np.tanh(1.0), rtol=1e-15)
    assert numba_math.vexp(1.0) == pytest.approx(np.e, rel=1e-15)


@numba.njit(error_model="numpy")
def _tanh_times(x):
    return numba_math.vtanh(x) * x


def test_an_array_expression_with_them_vectorises():
    numba_math.compile_generously(_tanh_times)
    x = np.linspace(-3.0, 3.0, 1000)
    np.testing.assert_allclose(_tanh_times(x), np.tanh(x) * x, rtol=1e-15)
    llvm = _tanh_times.inspect_llvm(_tanh_times.signatures[0])
    assert re.search(r"<\d+ x double>", llvm)  # SIMD: no call to the C library per element
