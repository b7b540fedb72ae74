"""The Numba backend gives the NumPy backend's gradients, fused, or a clear error.

Compiling dominates the run time, so each gradient is built once per session
(symdiff caches built derivatives) and compiled machine code lands in the
session's cache directory (conftest.py).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import symdiff as sd
from symdiff.backends import numba as numba_backend
from symdiff.errors import BackendError, NonScalarOutput
from tests.backends import numba_corpus as corpus


def assert_same(got, want, rtol=1e-12):
    """Equal structure (nested tuples), shapes, and values to `rtol`."""
    if isinstance(want, tuple):
        assert isinstance(got, tuple) and len(got) == len(want)
        for g, w in zip(got, want, strict=True):
            assert_same(g, w, rtol)
        return
    assert np.shape(got) == np.shape(want)
    np.testing.assert_allclose(got, want, rtol=rtol, atol=1e-13)


@pytest.mark.parametrize("case", corpus.CASES, ids=lambda c: c.name)
def test_gradient_matches_numpy_backend(case):
    args = case.arguments(np.random.default_rng(0))
    got = sd.grad(case.function, wrt=case.wrt, backend="numba")(*args)
    assert_same(got, sd.grad(case.function, wrt=case.wrt)(*args))


def test_second_call_with_new_values_reuses_the_compiled_code():
    rng = np.random.default_rng(1)
    gradient = sd.grad(corpus.tanh_dot, backend="numba")
    for _ in range(3):
        x = rng.normal(size=(6, 7))
        assert_same(gradient(x), sd.grad(corpus.tanh_dot)(x))
    assert len(gradient._compiled.jitted.signatures) == 1


def test_scalar_function_returns_floats():
    dx, dy = sd.grad(corpus.scalar_chain, wrt=(0, 1), backend="numba")(0.3, 0.7)
    assert isinstance(dx, float) and isinstance(dy, float)


def test_value_and_grad_and_vjp_modes():
    rng = np.random.default_rng(2)
    x = rng.normal(size=12)
    assert_same(sd.value_and_grad(corpus.rosenbrock, backend="numba")(x), sd.value_and_grad(corpus.rosenbrock)(x))
    seed = rng.normal(size=(6, 7))
    a = rng.normal(size=(6, 7))
    assert_same(sd.vjp(_tanh_square, backend="numba")(a, seed), sd.vjp(_tanh_square)(a, seed))


def _tanh_square(a):
    return np.tanh(a) * a


def test_source_is_the_numba_module():
    gradient = sd.grad(corpus.tanh_dot, backend="numba")
    assert '@numba.njit(cache=True, error_model="numpy")' in gradient.source
    assert "def tanh_dot_grad(x):" in gradient.source


def test_elementwise_chain_is_one_expression_and_the_sum_one_pass():
    source = sd.value_and_grad(corpus.tanh_dot, backend="numba").source
    assert "np.broadcast_to" not in source  # the cotangent of the sum stays a scalar
    assert "lanes[lane] +=" in source  # sum(tanh(x) * x) accumulates without a temporary
    backward = source.split("# grad of:")[1]
    assert backward.count(" = ") == 1  # the whole backward pass is one fused expression


def test_full_reduction_of_broadcast_operands_takes_the_array_path():
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=(3, 1)), rng.normal(size=(1, 4))
    got = sd.value_and_grad(corpus.broadcast_sum, wrt=(0, 1), backend="numba")(a, b)
    assert_same(got, sd.value_and_grad(corpus.broadcast_sum, wrt=(0, 1))(a, b))


def test_non_scalar_output_is_reported():
    with pytest.raises(NonScalarOutput):
        sd.grad(_tanh_square, backend="numba")(np.ones(3))


def number_then_array_loop(f):
    acc = 0.0
    for i in range(3):
        acc = acc * 0.5 + f * f  # a number before the first step, an array after it when f is one
    return np.sum(acc)


def test_types_numba_cannot_compile_raise_backend_error():
    gradient = sd.grad(number_then_array_loop, backend="numba")
    with pytest.raises(BackendError, match="numba cannot compile number_then_array_loop_grad"):
        gradient(np.ones(3))


def test_a_float32_loop_runs_in_float32():
    f = np.ones(3, dtype=np.float32)
    gradient = sd.grad(corpus_float32_loop, backend="numba")
    assert gradient._mixed(f).dtype == np.float32  # the float32 twin ran (backends/numba/single.py)
    got = gradient(f)
    assert got.dtype == np.float32
    assert_same(got, sd.grad(corpus_float32_loop)(f))


def corpus_float32_loop(f):
    for i in range(3):
        f = f * 0.5 + f * f  # NumPy keeps float32; Numba's 0.5 would make it float64, its twin's np.float32(0.5) not
    return np.sum(f)


def test_matrix_products_of_two_dtypes_promote_as_numpy_does():
    a, b = np.ones((3, 2), dtype=np.float32), np.arange(6.0).reshape(3, 2)
    got = sd.grad(corpus.transposed, wrt=(0, 1), backend="numba")(a, b)
    assert_same(got, sd.grad(corpus.transposed, wrt=(0, 1))(a, b))


def uses_squeeze(x):
    return np.sum(np.squeeze(x) ** 2)


def test_unsupported_construct_names_it_and_its_line():
    with pytest.raises(BackendError) as error:
        sd.grad(uses_squeeze, backend="numba")
    assert "np.squeeze without axis" in str(error.value)
    assert "uses_squeeze" in str(error.value) or "test_numba.py" in str(error.value)


def full_like_with_dtype(x):
    return np.sum(np.full_like(x, 2.7, dtype=np.int64) * x)


def test_a_keyword_numbas_helper_lacks_is_refused_not_dropped():
    # Dropping dtype= would give 2.7 * x where NumPy computes 2 * x.
    with pytest.raises(BackendError, match=r"full_like\(\.\.\., dtype=\.\.\.\)"):
        sd.grad(full_like_with_dtype, backend="numba")
    np.testing.assert_allclose(sd.grad(full_like_with_dtype)(np.ones(3)), np.full(3, 2.0))


def test_fallback_to_numpy_only_when_asked(monkeypatch):
    monkeypatch.setenv("SYMDIFF_NUMBA_FALLBACK", "numpy")
    with pytest.warns(numba_backend.NumbaFallbackWarning):
        gradient = sd.grad(uses_squeeze, wrt=0, backend="numba")
    assert gradient(np.full((1, 2), 3.0)) == pytest.approx(np.full((1, 2), 6.0))


def test_settings_object_overrides_the_environment(monkeypatch):
    monkeypatch.setattr(numba_backend, "settings", numba_backend.Settings(fastmath=True))
    source = numba_backend.numba_source(sd.grad(corpus.rosenbrock).function, _options())
    assert "fastmath=True" in source
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        x = np.random.default_rng(4).normal(size=10)
        compiled = numba_backend.compile_function(sd.grad(corpus.rosenbrock).function, "<test>")
        np.testing.assert_allclose(compiled.function(x), sd.grad(corpus.rosenbrock)(x), rtol=1e-10)


def _options():
    from symdiff.backends.numba.lowering import NumbaOptions

    return NumbaOptions(fastmath=True)


def test_a_numba_gradient_can_be_differentiated_again():
    """The frontend reads the portable NumPy form of a compiled derivative (issue 4 with issue 5)."""
    import symdiff as sd
    from tests.backends import numba_corpus as corpus

    first = sd.grad(corpus.scalar_chain, backend="numba")
    second = sd.grad(first)
    x, y, h = 0.37, -0.8, 1e-5
    expected = (first(x + h, y) - first(x - h, y)) / (2 * h)
    assert second(x, y) == pytest.approx(expected, rel=1e-6)


def test_slice_cotangents_accumulate_into_one_array():
    source = sd.grad(corpus.rosenbrock, backend="numba").source
    body = source.split("def rosenbrock_grad(")[1]
    # One zero array; each slice's cotangent is added into it by a loop, never stored on its own.
    assert body.count("np.zeros(") == 1 and body.count("_add_into") == 2 and " = 200.0 *" not in body
    assert "broadcast_to" not in source and "sum_to" not in source  # x[1:] and x[:-1] are known to agree in shape


def test_parallel_broadcasting_of_unit_axes_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(numba_backend, "settings", numba_backend.Settings(parallel=True))
    gradient = sd.grad(corpus.unit_axis_broadcast, backend="numba")
    with pytest.raises(BackendError, match="broadcasts an axis of length 1"):
        gradient(np.ones((3, 4)))
