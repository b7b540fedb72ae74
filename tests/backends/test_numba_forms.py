"""The Numba backend on the audit corpus (numba_forms.py): same gradients, or refused when built.

Compiling costs 1-5 s a function, so CI compiles a sample: every form that
once failed only at the first call or gave a wrong answer, and a few
neighbours. `SYMDIFF_NUMBA_AUDIT=1` runs the whole corpus (about 175
functions, several minutes). Refusals and call-time errors compile nothing
or little and always run.
"""

from __future__ import annotations

import os
import re

import numpy as np
import pytest

import symdiff as sd
from symdiff.backends.numba import NumbaCompileError
from symdiff.errors import BackendError
from tests.backends import numba_forms as forms

# Forms the audit found failing at the first call or giving a wrong answer, now supported.
FIXED = (
    "broadcast_scalar", "max_subtracted", "loop_module_array", "loop_module_scalar", "ellipsis_write",
    "two_integer_arrays", "integer_array_index", "integer_array_rows", "boolean_mask",
    "array_of_scalars", "pow_zero", "pow_variable", "mean_axis", "batched_matmul", "batched_times_matrix",
    "batched_vector", "boolean_mask_2d", "mask_2d_write", "matrix_of_scalars", "list_plus_array",
    "repeated_rows_write", "repeated_coordinates_write", "if_in_loop", "if_expression_in_loop", "dot_with_0d",
)  # fmt: skip
AUDIT = os.environ.get("SYMDIFF_NUMBA_AUDIT", "").strip() not in ("", "0")
SAMPLE = [f for f in forms.supported() if AUDIT or f.__name__ in FIXED]


def numerical_gradient(function, args, h=1e-6):
    """Central differences of `function` in its first argument."""
    x = np.array(args[0], dtype=np.float64)
    grad = np.zeros_like(x)
    for k in np.ndindex(x.shape):
        up, down = x.copy(), x.copy()
        up[k] += h
        down[k] -= h
        grad[k] = (function(up, *args[1:]) - function(down, *args[1:])) / (2 * h)
    return grad if np.ndim(args[0]) else float(grad)


@pytest.mark.parametrize("function", SAMPLE, ids=lambda f: f.__name__)
def test_gradient_matches_numpy_backend_and_finite_differences(function):
    args = forms.arguments(function)
    want = sd.grad(function)(*args)
    got = sd.grad(function, backend="numba")(*args)
    assert np.shape(got) == np.shape(want)
    np.testing.assert_allclose(got, want, rtol=1e-5 if function.__name__.startswith("float32") else 1e-10, atol=1e-12)
    if not function.__name__.startswith("float32"):
        np.testing.assert_allclose(got, numerical_gradient(function, args), rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("name", forms.REFUSED)
def test_unsupported_forms_are_refused_when_built_at_the_users_line(name):
    function = getattr(forms, name)
    sd.grad(function)(*forms.arguments(function))  # the NumPy backend takes it
    with pytest.raises(BackendError) as error:
        sd.grad(function, backend="numba")
    line = function.__code__.co_firstlineno + 1  # each refused form is a one-line body
    assert f"numba_forms.py:{line}:" in str(error.value)
    assert "hint:" in str(error.value)


def test_a_loop_variable_the_ir_shows_becoming_an_array_is_refused_at_the_loop():
    function = forms.loop_scalar_becomes_constructed_array
    with pytest.raises(BackendError, match="starts as the scalar 0.0") as error:
        sd.grad(function, backend="numba")
    assert f"numba_forms.py:{function.__code__.co_firstlineno + 2}:" in str(error.value)


def test_a_repeated_integer_index_keeps_numpys_last_write():
    x = np.array([1.0, 2.0, 3.0, 0.0, 0.0])
    got = sd.grad(forms.repeated_index_write, backend="numba")(x)
    np.testing.assert_array_equal(got, [0.0, 1.0, 3.0, 0.0, 0.0])
    np.testing.assert_array_equal(got, sd.grad(forms.repeated_index_write)(x))


def test_power_of_zero_at_zero_is_zero_not_an_exception():
    x = np.array([0.0, 1.5, -2.0])
    got = sd.grad(forms.pow_zero, backend="numba")(x)
    np.testing.assert_array_equal(got, sd.grad(forms.pow_zero)(x))
    with np.errstate(all="ignore"):
        want = sd.grad(forms.pow_variable)(x, 0)
        got = sd.grad(forms.pow_variable, backend="numba")(x, 0)  # 0.0 ** -1 is inf in NumPy, not ZeroDivisionError
    np.testing.assert_array_equal(got, want)


def test_two_integer_arrays_scatter_into_the_gradient():
    got = sd.grad(forms.two_integer_arrays, backend="numba")(np.ones((2, 2)))
    np.testing.assert_array_equal(got, [[0.0, 1.0], [2.0, 3.0]])


def test_one_integer_array_among_slices_scatters_into_the_gradient():
    T = np.arange(24.0).reshape(2, 3, 4) / 7
    rows = np.array([0, 1, 1])
    got = sd.grad(forms.one_integer_array_among_slices, backend="numba")(T, rows)
    want = numerical_gradient(lambda t: forms.one_integer_array_among_slices(t, rows), (T,))
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-8)


def test_types_decided_at_the_call_give_a_complete_message():
    function = forms.loop_scalar_becomes_array
    with pytest.raises(NumbaCompileError) as error:
        sd.grad(function, backend="numba")(*forms.arguments(function))
    message = str(error.value)
    assert "is float64 before an iteration and array(float64" in message
    assert not re.search(r"found for signature:\s*$", message.splitlines()[0])
    assert "numba_forms.py:" in message


def test_a_loop_variable_that_changes_type_names_the_variable_and_its_loop():
    function = forms.loop_starts_from_zero_scalar
    with pytest.raises(NumbaCompileError, match="the loop variable 'acc' is float64") as error:
        sd.grad(function, backend="numba")(*forms.arguments(function))
    assert "numba_forms.py:" in str(error.value)
