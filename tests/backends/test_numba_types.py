"""Numba types a variable once: NumPy's 0-d arrays, scalars and float32 scalars must still give
NumPy's gradient, never an error at the first call."""

import numpy as np
import pytest

import symdiff as sd
from tests.backends import numba_type_forms as forms
from tests.oracles import numeric_grad

POSITIVE = np.array([1.3, 0.04, 1.26])
MIXED = np.array([-1.3, -0.04, 1.26])


@pytest.mark.parametrize(
    "f",
    [forms.arms_scalar_and_zero_d, forms.ravel_of_a_number, forms.dot_and_transpose_of_numbers,
     forms.steps_of_zero_d_arrays, forms.float_of_a_comparison, forms.expand_dims_of_a_number],
    ids=lambda f: f.__name__,
)  # fmt: skip
@pytest.mark.parametrize("x", [POSITIVE, MIXED], ids=["positive", "mixed"])
def test_numba_matches_finite_differences(f, x):
    np.testing.assert_allclose(sd.grad(f, backend="numba")(x), numeric_grad(f, (x,), 0), rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_a_float32_scalar_argument_gets_a_float32_gradient(backend):
    x, y = MIXED.astype(np.float32), np.float32(-1.25)
    gx, gy = sd.grad(forms.float32_scalar_argument, wrt=(0, 1), backend=backend)(x, y)
    assert gx.dtype == np.float32 and type(gy) is np.float32
    np.testing.assert_allclose(gy, np.sum(np.sin(x)), rtol=1e-5)  # float32 sums, rounded in either order


@pytest.mark.parametrize("x", [0.3, np.float64(-0.7)], ids=["float", "numpy-float"])
def test_an_array_of_a_number_and_a_zero_d_array(x):
    f = forms.array_of_a_number_and_a_kept_sum
    np.testing.assert_allclose(sd.grad(f, backend="numba")(x), numeric_grad(f, (float(x),), 0), rtol=1e-6)


def test_float32_arguments_are_computed_in_float32_on_numba():
    x = MIXED.astype(np.float32)
    gradient = sd.grad(forms.float32_loop, backend="numba")
    assert gradient._mixed(x).dtype == np.float32  # the float32 twin ran (backends/numba/single.py)
    got = gradient(x)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, sd.grad(forms.float32_loop)(x), rtol=1e-5)


def test_a_mean_divides_float32_by_its_count_in_float32():
    """The mean's cotangent `g / count` divides by an int64 in Numba, which Numba types as float64:
    the twin divides through `divide32`, so every value after it stays float32 (the logistic
    regression's backward product no longer widens a copy of the matrix), and the gradient still
    matches central differences in float64 at float32's tolerance."""
    rng = np.random.default_rng(3)
    w, x, y = rng.normal(size=4), rng.normal(size=(30, 4)), np.sign(rng.normal(size=30))
    single = tuple(a.astype(np.float32) for a in (w, x, y))
    gradient = sd.grad(forms.logistic_mean, backend="numba")
    assert gradient._mixed(*single).dtype == np.float32  # the twin's own result, before any cast back
    want = numeric_grad(forms.logistic_mean, tuple(a.astype(np.float64) for a in single), 0)
    np.testing.assert_allclose(gradient(*single), want, rtol=1e-5, atol=1e-6)
    m = rng.normal(size=(6, 3))
    spread = sd.grad(forms.variance_and_spread, backend="numba")
    assert spread._mixed(m.astype(np.float32)).dtype == np.float32
    want = numeric_grad(forms.variance_and_spread, (m.astype(np.float32).astype(np.float64),), 0)
    np.testing.assert_allclose(spread(m.astype(np.float32)), want, rtol=1e-4, atol=1e-5)


def test_divide32_takes_a_scalar_as_numpy_takes_a_weak_one():
    from numba import njit, types

    from symdiff.backends.numba.helpers import divide32
    from symdiff.backends.numba.single import in_float32

    divide = njit(lambda a, b: divide32(a, b))

    def scalar_type(a, b):  # Numba returns a float32 scalar as a Python float: ask its signature
        divide(a, b)
        return divide.nopython_signatures[-1].return_type

    v = np.array([1.0, 3.0], dtype=np.float32)
    assert divide(v, 3).dtype == np.float32 and scalar_type(np.float32(2.0), 3) == types.float32
    assert divide(3, v).dtype == np.float32 and divide(v, 3.0).dtype == np.float32
    np.testing.assert_array_equal(divide(v, 3), v / 3)  # NumPy's float32 result, bit for bit
    assert scalar_type(7, 2) == types.float64 and divide(7, 2) == 3.5  # no float32 operand: Python's division
    assert divide(np.arange(3), 2).dtype == np.float64  # an integer array meets no float32: as NumPy
    assert divide(v.astype(np.float64), 3).dtype == np.float64
    twin = in_float32("import numpy as np\n\n\ndef f(g, count):\n    return g / count\n")
    assert "from symdiff.backends.numba.helpers import divide32\n" in twin and "return divide32(g, count)" in twin


def test_a_float32_call_the_twin_cannot_type_runs_the_float64_module():
    """`g * i` of a float32 scalar and the loop counter is a float64 in Numba, which the twin's
    float32 array cannot take: the call runs the float64 module on widened copies, and the
    gradient is still right and float32."""
    x = MIXED.astype(np.float32)
    got = sd.grad(forms.float32_counter_loop, backend="numba")(x, 1.3)
    assert got.dtype == np.float32
    want = numeric_grad(forms.float32_counter_loop, (MIXED, 1.3), 0)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


def test_a_nested_list_of_numbers_and_a_variable():
    f = forms.nested_list_of_a_number
    np.testing.assert_allclose(sd.grad(f, backend="numba")(0.3), numeric_grad(f, (0.3,), 0), rtol=1e-6)


@pytest.mark.parametrize("x", [0.3, 0.9], ids=["inside", "clipped"])
def test_clip_and_reshape_of_a_number(x):
    f = forms.clip_and_reshape_of_a_number
    np.testing.assert_allclose(sd.grad(f, backend="numba")(x), numeric_grad(f, (x,), 0), rtol=1e-6)
