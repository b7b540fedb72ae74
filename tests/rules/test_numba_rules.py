"""The rules of the coverage issue on the Numba backend: each runs, or is refused when built.

Primitives Numba has no lowering for (np.linalg, scans, sort, flip, roll,
repeat, tile, triangles, polygamma, and so the composites built on them)
must raise `BackendError` when the gradient is built, at the user's line,
never at the first call. SciPy's special functions
(`symdiff/backends/numba/special.py`) and the composites written with ops
Numba lowers (logsumexp, multigammaln, the scipy.stats densities,
atleast_*d, diff, cross) must run and agree with the NumPy backend. Compiling costs a few
seconds per function, so the set is small and shares one cache directory.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

import symdiff as sd
from symdiff.errors import BackendError
from tests.rules import cases
from tests.rules.cases import Case, a, inputs

REFUSED = [
    Case("inv", cases.inv, (a(3, 3),)), Case("solve", cases.solve, (a(3, 3), a(3))), Case("det", cases.det, (a(3, 3),)),
    Case("cholesky", cases.cholesky, (a(3, 3),)), Case("cumsum", cases.cumsum, (a(3, 4),)),
    Case("cumprod", cases.cumprod, (a(3, 4),)), Case("sort", cases.sort, (a(3, 4),)), Case("flip", cases.flip, (a(3, 4),)),
    Case("roll", cases.roll, (a(3, 4),)), Case("repeat", cases.repeat, (a(3, 2),)), Case("tile", cases.tile, (a(3),)),
    Case("tril", cases.tril, (a(3, 4),)), Case("trace", cases.trace, (a(3, 4),)),
    Case("polygamma", cases.digamma_, (a(3, lo=0.5),)),  # digamma's derivative is polygamma(1, x)
]  # fmt: skip
# Composites over primitives Numba does not lower: refused when built, but at the composite's line.
REFUSED_INSIDE = [
    Case("slogdet_packed", cases.slogdet, (a(3, 3),)), Case("eigh_packed", cases.eigh, (a(3, 3),)),
    Case("qr_packed", cases.qr, (a(4, 3),)), Case("split", cases.split, (a(3, 4),)), Case("kron", cases.kron, (a(2), a(3))),
]  # fmt: skip
# scipy.stats composites whose VJP needs solve or slogdet: refused when built, at the user's call
# (each case is a one-line def, so the call is on the def's line).
STATS_REFUSED = [
    Case("mvn_logpdf", cases.mvn_logpdf, (a(5, 3), a(3), a(3, 3))),
]  # fmt: skip
RUNS = [
    # SciPy's special functions (symdiff/backends/numba/special.py) and the composites over them.
    Case("erf", cases.erf, (a(3, 4),)), Case("expit", cases.expit, (a(3, 4),)),
    Case("gammaln", cases.gammaln, (a(3, lo=0.5),)), Case("lgamma", cases.lgamma, (a(lo=0.5),)),
    Case("log_ndtr", cases.log_ndtr, (a(3, 4),)), Case("multigammaln", cases.multigammaln, (a(4, lo=1.5, hi=4.0),)),
    Case("log_ndtr", cases.norm_logcdf, (a(5), a(), a(lo=0.5))), Case("log_ndtr", cases.norm_logsf, (a(5), a(), a(lo=0.5))),
    Case("t_logpdf", cases.t_logpdf_standard, (a(5), a(lo=1.0, hi=5.0))),
    Case("t_pdf", cases.t_pdf, (a(5), a(lo=1.0, hi=5.0), a(lo=0.5))),
    Case("gamma_logpdf", cases.gamma_logpdf, (a(5, lo=0.5), a(lo=0.5), a(lo=-0.4, hi=0.4), a(lo=0.5))),
    Case("gamma_pdf", cases.gamma_pdf, (a(5, lo=0.5), a(lo=0.5), a(lo=0.5))),
    Case("beta_logpdf", cases.beta_logpdf, (a(5, lo=0.1, hi=0.9), a(lo=0.5), a(lo=0.5))),
    Case("beta_pdf", cases.beta_pdf, (a(5, lo=0.1, hi=0.9), a(lo=0.5), a(lo=0.5))),
    Case("poisson_pmf", cases.poisson_pmf, (a(3, 1, lo=0.3),)),
    Case("logsumexp", cases.logsumexp, (a(3, 4),)), Case("norm_logpdf", cases.norm_logpdf_standard, (a(5),)),
    Case("norm_logpdf", cases.norm_logpdf, (a(3, 4), a(4), a(3, 1, lo=0.5))),
    Case("norm_pdf", cases.norm_pdf, (a(3, 4), a(4), a(3, 1, lo=0.5))),
    # A VJP of ndtr needs only the density, not ndtr's value, so it compiles.
    Case("ndtr", cases.ndtr, (a(3, 4),)), Case("ndtr", cases.norm_cdf_standard, (a(5),)),
    Case("ndtr", cases.norm_sf, (a(3, 4), a(), a(3, 1, lo=0.5))),
    Case("poisson_logpmf", cases.poisson_logpmf, (a(4, lo=0.3),)),  # gammaln(k + 1) is a constant: dropped
    Case("atleast_3d", cases.atleast_3d, (a(3),)), Case("diff", cases.diff, (a(3, 4),)),
    Case("cross", cases.cross, (a(2, 3), a(2, 3))),
    # Constructors that take values, and np.delete (with an axis, which Numba's own lacks).
    Case("full", cases.full, (a(),)), Case("full_like", cases.full_like, (a(3),)),
    Case("linspace", cases.linspace, (a(3), a(2, 1))), Case("linspace", cases.linspace_open, (a(), a(2))),
    Case("delete", cases.delete, (a(3, 4),)), Case("delete", cases.delete_flat, (a(2, 4),)),
    Case("delete", cases.delete_rows, (a(4, 2),)),
]  # fmt: skip


@pytest.fixture(scope="module", autouse=True)
def cache_dir(tmp_path_factory: pytest.TempPathFactory):
    previous = os.environ.get("SYMDIFF_CACHE_DIR")
    os.environ["SYMDIFF_CACHE_DIR"] = str(tmp_path_factory.mktemp("numba-rules"))
    yield
    if previous is None:
        os.environ.pop("SYMDIFF_CACHE_DIR", None)
    else:
        os.environ["SYMDIFF_CACHE_DIR"] = previous


def _vjp(case: Case, backend: str):
    args, wrt, rng = inputs(case)
    seed = rng.normal(size=np.shape(case.func(*args)))
    return sd.vjp(case.func, wrt=wrt, backend=backend), args, seed


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id) for c in REFUSED])
def test_primitive_is_refused_when_built_at_the_users_line(case: Case) -> None:
    with pytest.raises(BackendError, match="not supported by the numba backend") as caught:
        _vjp(case, "numba")
    assert f"cases.py:{case.func.__code__.co_firstlineno}:" in str(caught.value)


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id) for c in REFUSED_INSIDE])
def test_composite_over_an_unlowered_primitive_is_refused_when_built(case: Case) -> None:
    with pytest.raises(BackendError, match="not supported by the numba backend"):
        _vjp(case, "numba")


def test_composite_refusal_names_the_users_line() -> None:
    case = REFUSED_INSIDE[0]
    with pytest.raises(BackendError) as caught:
        _vjp(case, "numba")
    assert f"cases.py:{case.func.__code__.co_firstlineno + 1}:" in str(caught.value)  # the call, below the def


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id) for c in STATS_REFUSED])
def test_stats_composite_is_refused_when_built_at_the_users_call(case: Case) -> None:
    with pytest.raises(BackendError, match="not supported by the numba backend") as caught:
        _vjp(case, "numba")
    assert f"cases.py:{case.func.__code__.co_firstlineno}:" in str(caught.value)


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id) for c in RUNS])
def test_composite_runs_and_matches_numpy(case: Case) -> None:
    compiled, args, seed = _vjp(case, "numba")
    reference, _, _ = _vjp(case, "numpy")
    got, want = compiled(*args, seed), reference(*args, seed)
    for g, w in zip(got if isinstance(got, tuple) else (got,), want if isinstance(want, tuple) else (want,)):
        np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-12)


def basic_index(y):
    return y[..., 1] * 2.0


def test_cotangent_through_an_ellipsis_of_a_vector() -> None:
    y = np.array([1.0, 2.0, 3.0])
    np.testing.assert_array_equal(sd.vjp(basic_index, backend="numba")(y, 1.5), [0.0, 3.0, 0.0])
