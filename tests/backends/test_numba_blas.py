"""Matrix-vector products of the Numba backend go through NumPy's BLAS (numba_blas)."""

from __future__ import annotations

import numba
import numpy as np
import pytest

import symdiff as sd
from symdiff.backends.numba import blas as numba_blas
from symdiff.backends.numba import helpers
from symdiff.backends.numba.blas import matmul_of, uses_numpy_blas
from symdiff.rules import shapes


@numba.njit
def _product(a, b):
    return matmul_of(a, b)


def _assert_numpy_result(got, want):
    """NumPy's own answer: bit for bit when both use NumPy's BLAS, else to rounding."""
    assert np.shape(got) == np.shape(want)
    if uses_numpy_blas():
        np.testing.assert_array_equal(got, want)
    else:
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-13)


def _matrix_vector_cases():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(37, 23))
    u, v = rng.normal(size=37), rng.normal(size=23)
    return [
        ("C matrix @ vector", a, v), ("F matrix @ vector", a.T, u), ("vector @ C matrix", u, a),
        ("vector @ F matrix", v, a.T), ("Fortran-ordered copy @ vector", np.asfortranarray(a), v),
    ]  # fmt: skip


@pytest.mark.parametrize("case", _matrix_vector_cases(), ids=lambda c: c[0])
def test_matrix_vector_products_are_numpys(case):
    _, a, b = case
    _assert_numpy_result(_product(a, b), a @ b)


def _fallback_cases():
    rng = np.random.default_rng(1)
    a = rng.normal(size=(8, 6))
    v = rng.normal(size=6)
    return [
        ("strided matrix", a[:, ::2], v[:3]), ("strided vector", a[::2], v), ("float32", a.astype(np.float32), v.astype(np.float32)),
        ("no rows", np.zeros((0, 6)), v), ("no columns", np.zeros((4, 0)), np.zeros(0)),
        ("empty vector @ matrix", np.zeros(0), np.zeros((0, 3))), ("matrix @ matrix", a, a.T), ("vector @ vector", v, v),
    ]  # fmt: skip


@pytest.mark.filterwarnings("ignore::numba.core.errors.NumbaPerformanceWarning")  # Numba's, on strided operands
@pytest.mark.parametrize("case", _fallback_cases(), ids=lambda c: c[0])
def test_other_products_are_numbas_own(case):
    _, a, b = case
    got, want = _product(a, b), a @ b
    assert np.shape(got) == np.shape(want) and np.result_type(got) == np.result_type(want)
    np.testing.assert_allclose(got, want, rtol=1e-6 if want.dtype == np.float32 else 1e-12)


def test_mismatched_shapes_raise_like_numba():
    with pytest.raises(ValueError, match="incompatible array sizes"):
        _product(np.ones((3, 4)), np.ones(3))


def test_without_numpys_blas_compiled_code_falls_back_at_run_time():
    """Cached machine code reads the BLAS address at run time: an empty slot means Numba's own product."""
    rng = np.random.default_rng(2)
    a, v = rng.normal(size=(9, 5)), rng.normal(size=9)
    _product(a.T, v)  # compiled while the slot holds whatever this process found
    saved = numba_blas._slot.value
    numba_blas._slot.value = None
    try:
        assert not uses_numpy_blas()
        np.testing.assert_allclose(_product(a.T, v), a.T @ v, rtol=1e-12)
        np.testing.assert_allclose(_product(v, a), v @ a, rtol=1e-12)
    finally:
        numba_blas._slot.value = saved


def test_the_slot_holds_what_the_lookup_finds():
    assert uses_numpy_blas() == (numba_blas.numpy_dgemv_address() is not None)


def _least_squares(w, x, y):
    return np.sum((x @ w - y) ** 2)


def test_linear_model_gradient_is_the_numpy_backends_bit_for_bit():
    rng = np.random.default_rng(3)
    w, x, y = rng.normal(size=20), rng.normal(size=(300, 20)), rng.normal(size=300)
    got = sd.grad(_least_squares, backend="numba")(w, x, y)
    _assert_numpy_result(got, sd.grad(_least_squares)(w, x, y))


@numba.njit
def _three_products(a, b):
    return matmul_of(a, b), matmul_of(a.T, a), matmul_of(b.T, a.T)


def test_matrix_products_compile_once_into_numbas_cache():
    # Through `_matrix_product` (cache=True): its compiled product is kept on disk for every
    # gradient and process, not compiled into each gradient; the results are Numba's own `@`.
    a, b = np.random.default_rng(3).normal(size=(3, 4)), np.random.default_rng(4).normal(size=(4, 2))
    got = _three_products(a, b)
    for ours, theirs in zip(got, (a @ b, a.T @ a, b.T @ a.T)):
        np.testing.assert_allclose(ours, theirs, rtol=1e-13)
    assert numba_blas._matrix_product._cache.__class__.__name__ == "FunctionCache"
    # Which implementation matmul_of picks, asked of its typing function: once the overloads are in
    # Numba's disk cache too, a new process links them without compiling _matrix_product again, so
    # the dispatcher's in-process signatures cannot tell.
    for layouts in (("C", "C"), ("F", "C"), ("F", "F"), ("C", "F")):
        operand_types = [numba.types.Array(numba.types.float64, 2, layout) for layout in layouts]
        chosen = numba_blas._matmul_of(*operand_types)
        assert "_matrix_product" in chosen.__code__.co_names, layouts


@numba.njit
def _adjoints(g, a, b):
    return helpers.matmul_adjoint_a(g, a, b), helpers.matmul_adjoint_b(g, a, b)


def _adjoint_cases():
    rng = np.random.default_rng(2)
    shapes = [((3, 4), (4, 5)), ((3, 4), (4,)), ((4,), (4, 5)), ((4,), (4,)), ((2, 3, 4), (4, 5)), ((4,), (2, 4, 5))]
    cases = [(f"{sa} @ {sb}", rng.normal(size=sa), rng.normal(size=sb)) for sa, sb in shapes]
    cases += [
        ("0-d @ matrix", np.array(1.5), rng.normal(size=(2, 3))),
        ("matrix . 0-d", rng.normal(size=(2, 3)), np.array(-0.5)),
    ]
    cases += [("number . matrix", 2.5, rng.normal(size=(2, 3))), ("matrix . number", rng.normal(size=(2, 3)), -1.25)]
    return cases  # fmt: skip


@pytest.mark.filterwarnings("ignore::numba.core.errors.NumbaPerformanceWarning")  # transposed operands
@pytest.mark.parametrize("case", _adjoint_cases(), ids=lambda c: c[0])
def test_matmul_adjoints_are_numpys_rule(case):
    """Both cotangents of `a @ b` (np.dot's product for a 0-d array or a number) as the NumPy
    backend's rule computes them, for every case the overload tells apart."""
    _, a, b = case
    g = np.random.default_rng(3).normal(size=np.shape(np.dot(a, b) if np.ndim(a) * np.ndim(b) == 0 else a @ b))
    got_a, got_b = _adjoints(g, a, b)
    np.testing.assert_allclose(got_a, shapes.matmul_adjoint_a(g, a, b), rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(got_b, shapes.matmul_adjoint_b(g, a, b), rtol=1e-12, atol=1e-13)
    assert np.shape(got_a) == np.shape(a) and np.shape(got_b) == np.shape(b)


def _stack_cases():
    # (a's shape, b's shape): stacks broadcast against each other, against a plain matrix, with
    # length-1 stack axes, with one-column and one-row matrices, and with products past the
    # small-matrix loop (which go through np.dot).
    return [
        ((5, 3, 4), (7, 5, 4, 2)), ((3, 4), (6, 4, 2)), ((6, 3, 4), (4, 2)), ((2, 1, 3, 4), (1, 5, 4, 2)),
        ((1, 3, 4), (6, 4, 2)), ((4, 3, 4), (4, 4, 2)), ((3, 10, 10), (20, 3, 10, 1)), ((2, 1, 6), (3, 2, 6, 7)),
        ((2, 30, 40), (3, 2, 40, 20)), ((0, 3, 4), (2, 1, 4, 2)), ((3, 5), (0, 1, 5, 1)),
    ]  # fmt: skip


def _summed_to(x, shape):
    """The reference cotangent of a broadcast operand: the full product, then summed over the broadcast axes."""
    x = np.sum(x, axis=tuple(range(x.ndim - len(shape))))
    return np.sum(x, axis=tuple(i for i, n in enumerate(shape) if n == 1 and x.shape[i] != 1), keepdims=True)


@pytest.mark.parametrize("shapes", _stack_cases(), ids=str)
def test_stacked_products_and_their_cotangents_sum_the_broadcast_stack(shapes):
    """`@` of stacks and the cotangents of its broadcast operands, NumPy's rule and the Numba kernels,
    against the full product summed afterwards (which they no longer materialise)."""
    from symdiff.rules.shapes import matmul_adjoint_a, matmul_adjoint_b

    rng = np.random.default_rng(5)
    a, b = rng.normal(size=shapes[0]), rng.normal(size=shapes[1])
    g = rng.normal(size=(a @ b).shape)
    want_a = _summed_to(g @ np.swapaxes(b, -1, -2), a.shape)
    want_b = _summed_to(np.swapaxes(a, -1, -2) @ g, b.shape)
    adjoint_a, adjoint_b = numba_blas.batched_adjoints((a.ndim, b.ndim))
    for got, want in ((matmul_adjoint_a(g, a, b), want_a), (adjoint_a(g, a, b), want_a),
                      (matmul_adjoint_b(g, a, b), want_b), (adjoint_b(g, a, b), want_b)):  # fmt: skip
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(_product(a, b), a @ b, rtol=1e-12, atol=1e-12)
