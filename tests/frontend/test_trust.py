"""Forms that once gave a wrong derivative without an error now give the right one.

Every case is checked against central finite differences of the user's own
function, at points chosen where each form is most fragile (zeros, repeated
indices, the falsy side of `or`).
"""

import numpy as np
import pytest

import symdiff as sd
from tests.frontend import trust_cases as t
from tests.oracles import numeric_grad

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")  # the untaken np.where arms compute nan

V = np.array([0.7, -1.3])
CASES = [
    (t.sum_of_list, (1.5,)),
    (t.max_of_tuple, (1.5,)),
    (t.mean_of_list, (1.5,)),
    (t.prod_of_list, (1.5,)),
    (t.dot_of_lists, (1.5,)),
    (t.list_plus_array, (V,)),
    (t.nested_array, (1.5,)),
    (t.nested_array_of_rows, (V,)),
    (t.joined_lists, (1.5,)),
    (t.write_a_tuple, (1.5,)),
    (t.repeated_write, (1.5,)),
    (t.repeated_write_of_values, (np.array([0.5, -2.0, 1.5]),)),
    (t.or_value, (1.5, 2.0)),
    (t.or_value, (0.0, 2.0)),
    (t.and_value, (1.5, 2.0)),
    (t.and_value, (0.0, 2.0)),
    (t.chained_or, (0.0, 0.0, 2.0)),
    (t.chained_or, (0.0, 0.5, 2.0)),
    (t.or_of_comparisons, (1.5,)),
    (t.or_of_comparisons, (0.5,)),
    (t.conditional_expression, (0.7, 1.0)),
    (t.conditional_expression, (0.7, -1.0)),
    (t.conditional_on_data, (np.array([1.0, -3.0]),)),
    (t.conditional_on_data, (np.array([1.0, 3.0]),)),
    (t.power_zero, (np.array([0.0, 1.0, -2.0]),)),
    (t.where_sqrt, (np.array([-1.0, 4.0, 0.5]),)),
    (t.where_log_in_else, (np.array([-1.0, 4.0, 0.5]), 1.5)),
    (t.where_two_sided, (np.array([-1.5, 0.3, 2.0]),)),
    (t.fill_from_argument, (np.array([0.3, 0.5, 0.7]),)),
    (t.write_after_saving, (-0.3,)),
    (t.where_in_branch, (np.array([1.5, 0.3, -0.5]),)),
    (t.where_in_loop, (np.array([1.5, 0.3, -0.5]),)),
    (t.spread_of_one_element, (np.array([1.0, 2.0]),)),
    (t.norm_of_zero, (np.array([1.0, 2.0]),)),
    (t.loop_local_in_an_arm, (np.array([1.0, 0.2]),)),
    (t.loop_local_in_an_arm, (np.array([0.1, 0.2]),)),
    (t.second_name_of_an_unpacked_value, (1.338,)),
    (t.mean_of_a_scalar, (np.array([1.0, 2.0]), -0.57)),
    (
        t.narrow_and_wide_terms,
        (np.array([-1.1956, -0.7282, -0.3597]), np.array([[-0.4155, 1.101, 0.6709], [-0.5625, -1.0331, 1.451]])),
    ),
    (t.power_of_variable, (np.array([0.5, 1.0, 2.0]), 3.0)),
    (t.filled_with_a_value, (np.array([[0.5, 1.0, 2.0], [0.1, -0.4, 0.9]]), 0.7)),
    (t.grid_up_to, (np.array([0.5, 1.0, 2.0]), 0.7)),
]


@pytest.mark.parametrize("backend", ["numpy", "numba"])
@pytest.mark.parametrize(("f", "args"), CASES, ids=lambda v: getattr(v, "__name__", ""))
def test_gradient_matches_finite_differences(f, args, backend):
    for k, arg in enumerate(args):
        if isinstance(arg, float) and f in (t.or_value, t.and_value, t.chained_or) and arg == 0.0:
            continue  # a falsy operand sits on the jump of `or`/`and`: no derivative there
        got = sd.grad(f, wrt=k, backend=backend)(*args)
        np.testing.assert_allclose(got, numeric_grad(f, args, k), rtol=1e-6, atol=1e-7)


def test_values_made_whole_by_a_dtype_have_no_derivative():
    # numpy only: the numba backend refuses full_like's dtype= when building (its helper has none)
    assert sd.grad(t.filled_with_whole_numbers)(2.7) == pytest.approx(
        numeric_grad(t.filled_with_whole_numbers, (2.7,), 0)
    )
    assert sd.grad(t.filled_with_whole_numbers)(2.7) == pytest.approx(6.0)  # the sum of np.full(3, 2) is 6


def test_arange_from_a_differentiated_start_is_refused_at_build():
    with pytest.raises(sd.SymdiffError, match="np.arange's values come from its arguments") as info:
        sd.grad(t.counted_from)
    assert "np.arange(s, s + 3.0)" in str(info.value)


def test_list_times_a_variable_is_refused_at_build():
    # [a, b] * n repeats the list when n is an int and multiplies elementwise when it is an array.
    with pytest.raises(sd.SymdiffError, match=r"trust_cases.py:\d+:\d+"):
        sd.grad(t.list_times_array)


def test_falsy_or_operand_passes_the_other_operand_through():
    # y = a or x with a == 0.0 is x: the derivative with respect to x is 2x, with respect to a zero.
    assert sd.grad(t.or_value, wrt=1)(0.0, 2.0) == pytest.approx(4.0)
    assert sd.grad(t.or_value, wrt=0)(0.0, 2.0) == 0.0


def test_power_zero_has_zero_derivative_at_zero():
    grad = sd.grad(t.power_zero)(np.zeros(3))
    assert np.all(grad == 0.0)


def test_untaken_where_arm_does_not_poison_the_gradient():
    with np.errstate(invalid="ignore"):
        grad = sd.grad(t.where_sqrt)(np.array([-1.0, 4.0]))
    np.testing.assert_array_equal(grad, [0.0, 0.25])


def test_a_value_also_read_outside_the_arm_is_not_masked():
    # root is read outside the where too, so its cotangent is not all the arm's: nan stays (it is the true
    # derivative of root * 0.0 at x = -1 in IEEE arithmetic), and no mask hides the other use.
    with np.errstate(invalid="ignore"):
        grad = sd.grad(t.where_value_used_twice)(np.array([-1.0, 4.0]))
    assert np.isnan(grad[0]) and grad[1] == pytest.approx(0.25)


def test_decorated_function_differentiates_its_wrapper():
    grad = sd.grad(t.decorated)
    assert grad(1.5) == pytest.approx(9.0)  # d/dx 3x^2
    assert grad.wrt == ("x",)


def test_decorated_helper_inside_a_function():
    assert sd.grad(t.calls_decorated)(0.4) == pytest.approx(3.0 * np.cos(0.4) + 1.0)


def test_a_decorator_object_is_refused_not_ignored():
    with pytest.raises(sd.SymdiffError, match="not a Python function"):
        sd.grad(t.wrapped_by_an_object)


def test_a_cached_function_is_the_function():
    assert sd.grad(t.cached)(2.0) == pytest.approx(12.0)


def test_repeated_index_gives_the_kept_write_its_cotangent():
    # NumPy keeps the second write to out[0], so x[0] gets no cotangent.
    grad = sd.grad(t.repeated_write_vector)
    np.testing.assert_array_equal(grad(np.array([1.0, 2.0, 3.0])), [0.0, 1.0, 3.0])
    assert "written_values" in grad.source


def test_plain_index_writes_print_as_subscripts():
    # Basic indexes cannot repeat, so the generated code reads the cotangent directly.
    source = sd.grad(t.write_a_tuple).source
    assert "written_values" not in source


def test_dot_with_a_scalar_operand_is_a_product():
    w = np.array([1.0, 2.0])
    assert sd.grad(t.dot_with_a_scalar)(0.3, w) == pytest.approx(3.0)
    np.testing.assert_allclose(sd.grad(t.dot_with_a_scalar, wrt=1)(0.3, w), [0.3, 0.3])


@pytest.mark.parametrize("backend", ["numpy", "numba"])
@pytest.mark.parametrize("f", [t.mean_of_no_rows, t.joined_shapes], ids=lambda f: f.__name__)
def test_empty_means_and_joined_shapes(f, backend):
    x = np.array([[0.3, -0.7, 1.2], [0.5, 0.1, -0.4]])
    np.testing.assert_allclose(sd.grad(f, backend=backend)(x), numeric_grad(f, (x,), 0), rtol=1e-6, atol=1e-8)
