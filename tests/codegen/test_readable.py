"""Generated code a person would write (issue 19): seeds that vanish, counts read off values,
returned gradients named after their parameters, float32 kept float32. Each case also checks
the derivative against central differences, so a shorter form is never a wrong one."""

import numpy as np
import pytest

import symdiff as sd
from symdiff.rules import registry
from tests.oracles import numeric_grad


def tanh_dot(x):
    return np.sum(np.tanh(x) * x)


def stencil(x):
    return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


def squared_error(w, x, y):
    return np.mean((np.tanh(x @ w) - y) ** 2)


def broadcast_mean(a, b):
    return np.mean(np.sin(a) * b)


def recurrence(a, x):
    y = np.zeros(x.shape[0])
    y[0] = x[0]
    for t in range(1, x.shape[0]):
        y[t] = a * y[t - 1] + x[t]
    return np.sum(y**2)


def rows_recurrence(a, x):
    """x of rank 2: each step's shapes are a row's, (3,), decided by x and the counter alone."""
    s = 0.0
    for t in range(x.shape[0]):
        s = s + np.sum(np.tanh(a * x[t]) * x[t - 1])
    return s


def scalar_total(w, steps):
    total = 0.0
    for k in range(steps):
        w = w * 0.9
        total = total + np.sum(w**2)
    return total


def decaying(w, log_rate, steps):
    for k in range(steps):
        w = w - np.exp(log_rate) * np.tanh(w)
    return np.sum(w**2)


def shrink(x, tol):
    y = x
    while np.max(np.abs(y)) > tol:
        y = 0.5 * np.sin(y)
    return np.sum(y**2)


def soft_abs(x):
    return np.log(np.cosh(x))


def total_soft_abs(x):
    return np.sum(soft_abs(x))


def soft_abs_vjp(g, out, x):
    return g * np.tanh(x)


@pytest.fixture
def soft_abs_rule():
    """soft_abs's rule, registered for one test and removed after it."""
    saved = dict(registry.RULES), dict(registry._BY_FUNC)
    sd.register_derivative(soft_abs, elementwise=True)(soft_abs_vjp)
    yield
    registry.RULES.clear()
    registry.RULES.update(saved[0])
    registry._BY_FUNC.clear()
    registry._BY_FUNC.update(saved[1])
    sd.api._CACHE.clear()


def _check(f, args, wrt=0, **options):
    derivative = sd.grad(f, wrt=wrt, **options)
    np.testing.assert_allclose(derivative(*args), numeric_grad(f, args, wrt), rtol=1e-6, atol=1e-8)
    return derivative.source


def test_the_seed_of_a_sum_vanishes():
    source = _check(tanh_dot, (np.linspace(-1.0, 1.0, 5),))
    assert "broadcast_to" not in source and "1.0 *" not in source


def test_shifted_slices_need_no_sum_to():
    """x[1:] and x[:-1] have one shape, so the terms of the Rosenbrock sum need no unbroadcasting."""
    source = _check(stencil, (np.linspace(-1.0, 1.5, 6),))
    assert "sum_to" not in source and "broadcast" not in source


def test_a_mean_counts_a_value_it_computes_anyway():
    rng = np.random.default_rng(0)
    source = _check(squared_error, (rng.normal(size=3), rng.normal(size=(5, 3)), rng.normal(size=5)))
    assert "np.size(squared_error_3)" in source and "broadcast_to" not in source


def test_a_mean_of_no_elements_gives_an_empty_gradient():
    """NumPy's mean of nothing is nan; its gradient has no elements, not a ZeroDivisionError."""
    w, x, y = np.ones(3), np.ones((0, 3)), np.ones(0)
    source = _check(squared_error, (np.ones(3), np.ones((4, 3)), np.zeros(4)))
    assert "1.0 / np.size" not in source
    assert sd.grad(squared_error)(w, x, y).shape == (3,)


def test_a_mean_over_a_broadcast_keeps_its_count_exact():
    """`sin(a) * b` broadcasts (3, 1) against (4,): the count is 12 whichever operand is kept."""
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(3, 1)), rng.normal(size=4)
    _check(broadcast_mean, (a, b), 0)
    _check(broadcast_mean, (a, b), 1)


def test_a_loop_keeps_no_tape_of_a_scalar_shape():
    """`np.shape(total)` and `np.shape(np.sum(...))` are (): nothing to save per step."""
    source = _check(scalar_total, (np.linspace(-1.0, 1.0, 4), 3))
    assert "shape_tape" not in source and "np.shape(total" not in source


@pytest.mark.parametrize("f, args", [
    (recurrence, (0.7, np.linspace(-1.0, 1.0, 5))),
    (rows_recurrence, (0.7, np.linspace(-1.0, 1.0, 12).reshape(4, 3))),
])  # fmt: skip
def test_a_loop_computes_shapes_again_instead_of_taping_them(f, args):
    """The shape of `x[t]` (and of `a * y[t - 1] + x[t]`) follows from x, a and the counter."""
    for wrt in (0, 1):
        source = _check(f, args, wrt=wrt)
        assert "shape_tape" not in source, source


def test_a_loop_invariant_value_is_computed_once_and_not_taped():
    """`np.exp(log_rate)` is one value for every step: computed before the loop, never taped."""
    for wrt in (0, 1):
        source = _check(decaying, (np.linspace(-1.0, 1.0, 4), -0.5, 3), wrt=wrt)
        code = "\n".join(line for line in source.splitlines() if not line.strip().startswith("#"))
        assert code.count("np.exp(log_rate)") == 1 and "w_1_tape" not in code
        assert "np.exp(log_rate)" in code.split("for k in range")[0]


def test_a_value_carried_through_a_loop_is_still_taped():
    """The y each step reads changes from step to step: the backward loop pops every one."""
    source = _check(shrink, (np.array([0.5, -1.2, 2.0]), 0.1))
    assert ".pop()" in source and "np.cos(y)" in source.split("reversed(")[1]


def test_a_returned_gradient_is_named_after_its_parameter(soft_abs_rule):
    """A rule's temporary that ends up returned (`g * tanh(x)` with g = 1) is called x_bar."""
    source = _check(total_soft_abs, (np.array([0.5, -2.0, 8.0]),))
    assert "x_bar = np.tanh(x)" in source and "return x_bar" in source


def _raw(derivative):
    """The generated function as the derivative calls it for arguments that are not float64,
    before the result is cast to the argument's dtype (Numba: its float32 twin)."""
    return derivative._mixed or derivative._compiled


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_float32_stays_float32_inside_the_generated_code(backend):
    """The raw generated function, before the result's dtype is restored, computes in float32."""
    x = np.linspace(-1.0, 1.5, 6).astype(np.float32)
    derivative = sd.grad(stencil, backend=backend)
    raw = _raw(derivative)(x)
    assert raw.dtype == np.float32
    np.testing.assert_allclose(raw, numeric_grad(stencil, (x.astype(np.float64),), 0), rtol=1e-4, atol=1e-3)


def written_again_after(a, x):
    """y[t - 1] is read behind the write y[t]; after the loop y[0] is written again."""
    y = np.zeros(x.shape[0])
    y[0] = x[0]
    for t in range(1, x.shape[0]):
        y[t] = a * y[t - 1] + x[t]
    s = np.sum(y**2)
    y[0] = 3.0 * s
    return s + np.sum(np.sin(y))


def reads_ahead(a, x):
    """y[t + 1] is read before the step that writes it: the final y holds another value there."""
    y = np.copy(x)
    for t in range(x.shape[0] - 1):
        y[t] = a * y[t + 1] * y[t] + x[t]
    return np.sum(y**2)


def rows_two_behind(a, x):
    """Rows of a 2-D array, each made from the row two steps behind."""
    y = np.zeros(x.shape)
    y[0] = x[0]
    y[1] = x[1]
    for t in range(2, x.shape[0]):
        y[t] = a * y[t - 2] + x[t]
    return np.sum(y**2)


@pytest.mark.parametrize("backend", ["numpy", "numba"])
@pytest.mark.parametrize("f, args, taped", [
    (recurrence, (0.7, np.linspace(-1.0, 1.0, 5)), False),
    (written_again_after, (0.7, np.linspace(-1.0, 1.0, 5)), False),
    (reads_ahead, (0.7, np.linspace(-1.0, 1.0, 5)), True),
    (rows_two_behind, (0.7, np.linspace(-1.0, 1.0, 12).reshape(6, 2)), False),
])  # fmt: skip
def test_an_element_read_behind_the_loops_writes_is_read_from_the_final_array(f, args, taped, backend):
    """`y[t - 1]` is never written again after the step that reads it: the backward loop reads it
    from the final `y`, with no tape; `y[t + 1]` is written later, so it stays taped."""
    for wrt in (0, 1):
        source = _check(f, args, wrt=wrt, backend=backend)
        assert (".pop()" in source) == taped, source


def clipped_sum(x, y):
    return np.sum(np.clip(y, -0.5, 0.5)) + np.sum(x * x)


def test_a_mask_times_one_stays_a_float_array():
    """The seed 1.0 times clip's mask `(out == y)` is a float array, not the boolean mask (NumPy fuzz
    seed 1912000012 got a bool gradient)."""
    args = (np.array([0.3, -2.0]), np.array([[-0.65], [0.2]]))
    derivative = sd.grad(clipped_sum, wrt=(0, 1))
    for k, got in enumerate(derivative(*args)):
        assert got.dtype == np.float64, derivative.source
        np.testing.assert_allclose(got, numeric_grad(clipped_sum, args, k), rtol=1e-6, atol=1e-8)
