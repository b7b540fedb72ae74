"""A gradient fails where its function fails, even when the reverse pass reads only shapes.

The cotangent of `np.sum(np.sum(x * y, axis=2))` is a spread 1.0: once simplified, neither the
forward reduction nor its axis reaches the gradient, which returned ones for 2-D arguments
while the function raised AxisError. Numba's reductions took a literal axis modulo the rank, so
`np.max(x, axis=1)` of a vector was a wrong value too. Each case here raises the function's own
exception on both CPU backends and CUDA (device axes were taken modulo the rank too), and the same forms with valid shapes match finite differences.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

import symdiff as sd
from symdiff.errors import SymdiffError
from tests.oracles import numeric_grad
from tests.test_programs import _load

FUZZ = os.environ.get("SYMDIFF_FUZZ") == "1"

BACKENDS = ["numpy", pytest.param("numba", marks=pytest.mark.filterwarnings("ignore"))]
WITH_CUDA = [*BACKENDS, pytest.param("cuda", marks=pytest.mark.filterwarnings("ignore"))]  # the simulator in CI


def sum_of_sum_axis2(x, y):
    return np.sum(np.sum(x * y, axis=2))


def mean_axis_minus3(x):
    return np.sum(np.mean(x, axis=-3))


def max_axis1(x):
    return np.sum(np.max(x, axis=1))


def repeated_axis(x):
    return np.sum(np.sum(x, axis=(0, 0)))


def mean_of_row_sums(x):
    return np.mean(np.sum(x**2, axis=2))


def variance_axis3(x):
    return np.sum(np.var(x, axis=3))


def norm_axis2(x):
    return np.sum(np.linalg.norm(x, axis=2))


def reshaped_to_five(x):
    return np.sum(np.reshape(x, (5,)))


def squeezed_axis0(x):
    return np.sum(np.squeeze(x, axis=0))


def expanded_axis3(x):
    return np.sum(np.expand_dims(x, 3))


def broadcast_to_four(x):
    return np.sum(np.broadcast_to(x, (4,)))  # the cotangent, summed to x's shape (6,), cannot be


BAD = [
    (sum_of_sum_axis2, (np.ones((2, 3)), np.ones((2, 3)))),
    (mean_axis_minus3, (np.ones((2, 3)),)),
    (max_axis1, (np.arange(3.0),)),
    (repeated_axis, (np.ones((2, 3)),)),
    (mean_of_row_sums, (np.ones((2, 3)),)),
    (variance_axis3, (np.ones((2, 3)),)),
    (norm_axis2, (np.ones((2, 3)),)),
    (reshaped_to_five, (np.arange(6.0),)),
    (squeezed_axis0, (np.ones((2, 3)),)),
    (expanded_axis3, (np.arange(6.0),)),
    (broadcast_to_four, (np.arange(6.0),)),
]


def mean_of_a_scalar(x, y):
    """Numba fuzz seed 112000031: keepdims_shape((), None) of a float's shape failed to compile."""
    t2 = np.std(x, axis=(0, 1)) + np.mean(np.tanh(y))
    t5 = (np.maximum(t2, y - x) - t2) / (1.0 + x * x) + np.mean(np.where(y != 0, np.sin(y) / y, 1.0))
    return np.sum(np.sin(t5)) + t2


GOOD = [
    (sum_of_sum_axis2, (np.linspace(0.1, 1.2, 24).reshape(2, 3, 4), np.linspace(-1, 1, 24).reshape(2, 3, 4))),
    (mean_axis_minus3, (np.linspace(0.1, 1.2, 24).reshape(2, 3, 4),)),
    (max_axis1, (np.array([[0.3, 0.9, 0.1], [0.5, -0.2, 0.4]]),)),
    (mean_of_row_sums, (np.linspace(0.1, 1.2, 24).reshape(2, 3, 4),)),
    (reshaped_to_five, (np.linspace(0.1, 1.0, 5),)),
    (squeezed_axis0, (np.linspace(0.1, 1.0, 3).reshape(1, 3),)),
    (expanded_axis3, (np.linspace(0.1, 1.2, 6).reshape(1, 2, 3),)),
]


def _error_of(call):
    try:
        call()
    except Exception as error:  # noqa: BLE001 - the type is what is compared
        return type(error)
    return None


@pytest.mark.parametrize("backend", WITH_CUDA)
@pytest.mark.parametrize(("f", "args"), BAD, ids=[f.__name__ for f, _ in BAD])
def test_the_gradient_raises_where_the_function_raises(f, args, backend):
    expected = _error_of(lambda: f(*args))
    assert expected is not None, "the case must be one the function refuses"
    gradient = sd.grad(f, backend=backend)  # the shapes are only known at the call
    got = _error_of(lambda: gradient(*args))
    assert got is not None, "a gradient returned where the function raises"
    # NumPy's AxisError is both a ValueError and an IndexError; Numba's own checks raise one of those.
    assert issubclass(got, expected) or issubclass(expected, got), (got, expected)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(("f", "args"), GOOD, ids=[f.__name__ for f, _ in GOOD])
def test_the_same_forms_with_valid_shapes_match_finite_differences(f, args, backend):
    got = sd.grad(f, backend=backend)(*args)
    np.testing.assert_allclose(got, numeric_grad(f, args, 0), rtol=1e-6, atol=1e-8)
    assert np.shape(got) == np.shape(args[0])


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_mean_of_a_float_keeps_no_axis(backend):
    x, y = np.array([[-0.77, 0.22, -1.42], [-0.3, 1.45, 1.36]]), -0.35
    got = sd.grad(mean_of_a_scalar, wrt=("x", "y"), backend=backend)(x, y)
    want = (numeric_grad(mean_of_a_scalar, (x, y), 0), numeric_grad(mean_of_a_scalar, (x, y), 1))
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-6, atol=1e-8)


@pytest.fixture(scope="module")
def directory(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("shape_programs")


def test_the_kept_check_is_named_for_what_it_does():
    source = sd.emit(sum_of_sum_axis2)
    assert "axis_check = keepdims_shape(" in source


# -- property: random chains of axis and shape ops raise in the gradient exactly when in the function --

STEPS = [
    "np.sum(v, axis={a})",
    "np.mean(v, axis={a})",
    "np.max(v, axis={a})",
    "np.sum(v, axis=({a}, {b}))",
    "np.squeeze(v, axis={a})",
    "np.expand_dims(v, {a})",
    "np.reshape(v, (-1,))",
    "np.reshape(v, ({n},))",
    "np.transpose(v)",
    "np.sin(v) * v",
    "v * w",
]


@st.composite
def shape_programs(draw: st.DrawFn) -> tuple[str, tuple[int, ...]]:
    lines = []
    for _ in range(draw(st.integers(1, 3))):
        step = draw(st.sampled_from(STEPS))
        axes = draw(st.lists(st.integers(-4, 3), min_size=2, max_size=2))
        lines.append("    v = " + step.format(a=axes[0], b=axes[1], n=draw(st.sampled_from([2, 6, 12]))))
    shape = tuple(draw(st.lists(st.sampled_from([1, 2, 3]), min_size=0, max_size=3)))
    body = "\n".join(lines)
    result = draw(st.sampled_from(["np.sum(v)", "np.mean(v)", "np.sum(v * v)"]))  # a spread seed, or not
    return f"import numpy as np\n\n\ndef program(x, w):\n    v = x\n{body}\n    return {result}\n", shape


def _agrees(directory: Path, case, backend: str) -> None:
    source, shape = case
    note(f"{source}\nx.shape = {shape}")
    f = _load(directory, source).program
    x = np.linspace(0.2, 1.1, int(np.prod(shape))).reshape(shape)
    w = 0.7
    expected = _error_of(lambda: f(x, w))
    try:
        gradient = sd.grad(f, backend=backend)
    except SymdiffError:
        return  # refused at build time, with a location
    if expected is not None:
        got = _error_of(lambda: gradient(x, w))
        assert got is not None, "a gradient returned where the function raises"
        assert issubclass(got, expected) or issubclass(expected, got) or backend == "numba", (got, expected)
        return
    np.testing.assert_allclose(gradient(x, w), numeric_grad(f, (x, w), 0), rtol=1e-6, atol=1e-8)


def _examples(default: int) -> int:
    return int(os.environ.get("SYMDIFF_FUZZ_EXAMPLES", "2000")) if FUZZ else default


_SETTINGS = {
    "deadline": None,
    "derandomize": not FUZZ,
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
}


@settings(max_examples=_examples(150), **_SETTINGS)
@given(case=shape_programs())
def test_random_shape_programs_fail_in_the_gradient_exactly_when_they_fail(directory: Path, case) -> None:
    _agrees(directory, case, "numpy")


@pytest.mark.filterwarnings("ignore")
@settings(max_examples=_examples(20), **_SETTINGS)
@given(case=shape_programs())
def test_random_shape_programs_on_numba(directory: Path, case) -> None:
    """Numba may fail with an error of its own (a compile error at the first call), but it fails."""
    _agrees(directory, case, "numba")
