"""Loops over sequences, nested functions, lambdas and closures differentiate exactly, on both CPU backends."""

import numpy as np
import pytest

import symdiff as sd
from tests.frontend import python_forms as p
from tests.oracles import numeric_grad

V = np.array([0.5, -1.2, 2.0])
M = np.array([[0.5, -1.2], [2.0, 0.3]])
CASES = [
    (p.over_list, (V,)),
    (p.over_tuple_of_pairs, (V,)),
    (p.over_rows, (M,)),
    (p.over_zip, (V, V + 1.0)),
    (p.over_zip_of_list_and_rows, (M,)),
    (p.over_enumerate, (V,)),
    (p.over_reversed_list, (V,)),
    (p.last_row_after_loop, (M,)),
    (p.with_lambda, (V,)),
    (p.with_closure, (V, 0.7)),
    (p.late_binding, (V,)),
    (p.passes_a_function, (V,)),
    (p.printing, (V,)),
    (p.closure_loss, (np.array([0.3, -0.7]),)),
    (p.lambda_loss, (np.array([0.3, -0.7]), np.array([1.5, 0.2]))),
    (p.list_comprehension, (V,)),
    (p.comprehension_with_condition, (np.array([0.5, -1.2, 2.0, 0.3]),)),
    (p.nested_generators, (V,)),
    (p.loss, (V,)),
    (p.with_break, (1.7,)),
    (p.with_continue, (V,)),
    (p.while_with_break, (0.3,)),
    (p.return_inside_loop, (0.5,)),
    (p.return_inside_loop, (0.01,)),
    (p.return_from_endless_loop, (0.7,)),
    (p.return_array_from_endless_loop, (V,)),
    (p.network_from_a_generator, (np.linspace(-1.0, 1.0, 13),)),
    (p.generator_with_continue, (np.array([0.2, 0.9, 0.3]),)),
    (p.partials_and_map, (V,)),
    (p.tuple_then_list_in_a_loop, (V,)),
    (p.module_array_and_a_value_of_its_name, (M,)),
    (p.module_values_named_like_generated_code, (M,)),
    (p.loop_variable_after_the_loop, (V,)),
    (p.first_assigned_in_a_constant_loop, (V,)),
    (p.closure_after_an_early_return, (V,)),
    (p.transposed_view_carried_and_saved, (np.array([[-0.62], [0.33]]), np.array([[0.78, 0.1], [-0.005, 0.3]]))),
    (p.rnn_outputs, (np.array([[0.5, -0.3], [0.2, 0.8]]), np.array([[0.1, -0.4], [0.7, 0.3], [-0.5, 0.2]]))),
    (p.rows_unpacked_then_differentiated_through_a_quotient, (np.array([[0.3], [0.8]]), np.array([[-0.2], [0.5]]))),
    (p.list_grown_in_an_unrolled_loop, (V,)),
    (p.zip_of_a_starred_tuple, (np.array([0.5, -1.2, 2.0, 0.3]),)),
    (p.total_of_pair, (V, np.array([0.5, 1.0, 1.5]))),
    (p.total_of_pair, (-V, np.array([0.5, 1.0, 1.5]))),
    (p.break_in_nested_loop, (V,)),
    (p.return_from_nested_loop, (V,)),
    (p.return_from_nested_loop, (np.array([0.5, 0.2, 0.3]),)),
]


@pytest.mark.parametrize("backend", ["numpy", "numba"])
@pytest.mark.parametrize(("f", "args"), CASES, ids=lambda v: getattr(v, "__name__", ""))
def test_gradient_matches_finite_differences(f, args, backend):
    for k in range(len(args)):
        got = sd.grad(f, wrt=k, backend=backend)(*args)
        np.testing.assert_allclose(got, numeric_grad(f, args, k), rtol=1e-6, atol=1e-7)


def test_loop_variable_is_named_in_the_generated_code():
    source = sd.grad(p.over_zip).source
    assert "a = x[index]" in source and "b = w[index]" in source


def test_lambda_gradient_is_named_after_its_variable():
    assert sd.grad(p.lambda_loss).source.startswith("def lambda_loss_grad(w, b):")


def test_two_lambdas_with_the_same_parameters_on_one_line_are_refused():
    pair = (lambda x: x * x, lambda x: x * x * x)
    with pytest.raises(sd.SymdiffError, match="cannot tell which"):
        sd.grad(pair[0])


def test_comprehension_over_a_list_argument():
    params = [(np.ones((2, 2)), np.array([1.0, 2.0])), (2.0 * np.ones((2, 2)), np.array([3.0, -1.0]))]
    grads = sd.grad(p.comprehension_over_params)(params, V)
    np.testing.assert_array_equal(grads[0][0], 2.0 * params[0][0])
    np.testing.assert_array_equal(grads[0][1], [1.0, 1.0])  # max picks the first layer's sum (3 > 2)
    np.testing.assert_array_equal(grads[1][1], [0.0, 0.0])


REFUSED_AT_BUILD = [
    (p.loop_variable_after_a_running_loop, "loop variable 'i'"),
    (p.first_assigned_in_a_running_loop, "first assigned inside the loop"),
    (p.function_chosen_by_an_if, "defines on one path, or differently"),
    (p.data_dependent_filter, "condition must be known"),
    (p.list_appended_under_a_condition, "another length on each path"),
    (p.list_appended_twice_per_iteration, "changes length"),
]


@pytest.mark.parametrize(("f", "message"), REFUSED_AT_BUILD, ids=lambda v: getattr(v, "__name__", ""))
def test_refused_when_built_at_the_users_line(f, message):
    with pytest.raises(sd.SymdiffError, match=message) as caught:
        sd.grad(f)
    assert caught.value.location.file.endswith("python_forms.py")


@pytest.mark.parametrize("backend", ["numpy", "numba"])
@pytest.mark.parametrize("n", [0, 1, 3])
def test_a_list_started_with_an_item_grown_in_a_running_loop(n, backend):
    got = sd.grad(p.list_grown_in_a_running_loop, backend=backend)(V, n)
    np.testing.assert_allclose(got, numeric_grad(p.list_grown_in_a_running_loop, (V, n), 0), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_list_items_of_two_shapes_raise_rather_than_broadcast(backend):
    with pytest.raises(ValueError, match="items need one shape"):
        sd.grad(p.list_items_of_two_shapes, backend=backend)(V, 2)


def test_a_list_read_and_rebound_to_one_item_in_a_loop():
    got = sd.grad(p.list_read_and_rebound_in_the_loop)(V, 3)
    np.testing.assert_allclose(got, numeric_grad(p.list_read_and_rebound_in_the_loop, (V, 3), 0), rtol=1e-6)


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_a_list_read_in_the_loop_that_grows_it(backend):
    W = np.array([[0.5, -0.3], [0.2, 0.8]])
    got = sd.grad(p.states_from_the_last_state, backend=backend)(W, 3)
    np.testing.assert_allclose(got, numeric_grad(p.states_from_the_last_state, (W, 3), 0), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize(("f", "args"), [
    (p.list_filled_by_append, (V,)), (p.gmm_clusters, (M, np.array([[0.1, 0.4], [-0.3, 0.9], [1.2, -0.5]]))),
])  # fmt: skip
def test_a_list_started_empty_and_grown_in_a_loop(f, args):
    got = sd.grad(f)(*args)
    np.testing.assert_allclose(got, numeric_grad(f, args, 0), rtol=1e-6, atol=1e-7)
    with pytest.raises(sd.SymdiffError, match="starts empty and grows by append") as caught:  # its rank: unknown
        sd.grad(f, backend="numba")
    assert caught.value.location.file.endswith("python_forms.py")


def test_a_composite_refused_by_numba_points_at_the_users_line():
    with pytest.raises(sd.SymdiffError) as caught:
        sd.grad(p.composite_on_numba, backend="numba")
    assert caught.value.location.file.endswith("python_forms.py")


@pytest.mark.parametrize("i", [0, 1, 2, -1])
def test_tuple_indexed_by_a_variable_takes_that_item(i):
    got = sd.grad(p.tuple_indexed_by_a_variable, wrt=(0, 1, 2))(1.0, 2.0, 3.0, i)
    want = [0.0, 0.0, 0.0]
    want[i] = 2.0 * (1.0, 2.0, 3.0)[i]
    np.testing.assert_allclose(np.array(got, dtype=float), want)


def test_dict_call_is_a_dict_known_key_by_key():
    args = (2.0, 3.0)
    got = sd.grad(p.dict_call, wrt=(0, 1))(*args)
    np.testing.assert_allclose(got, [numeric_grad(p.dict_call, args, k) for k in (0, 1)], rtol=1e-6)


def test_a_yield_inside_a_loop_known_only_when_running_is_refused_at_the_yield():
    with pytest.raises(sd.SymdiffError, match="a yield inside a loop or if") as info:
        sd.grad(p.generator_over_a_runtime_range)
    assert "yield x[k]" in str(info.value)


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_recursion_over_a_list_argument_ends_while_building(backend):
    params = (np.log(np.array([0.4, 0.6])), np.log(np.array([[0.7, 0.3], [0.2, 0.8]])))
    data = [np.array([0.1, -0.3, 0.2]), np.array([0.5, 0.4])]
    got = sd.grad(p.log_partition, backend=backend)(params, data)
    for k in range(2):
        want = numeric_grad(
            lambda leaf, k=k: p.log_partition(params[:k] + (leaf,) + params[k + 1 :], data), (params[k],), 0
        )
        np.testing.assert_allclose(got[k], want, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_recursion_that_ends_on_a_shape_is_built_for_each_shape(backend):
    grad = sd.grad(p.diagonal_product, backend=backend)
    for n in (1, 3, 4):
        A = np.random.default_rng(n).random((n, n)) + 0.5
        np.testing.assert_allclose(grad(A), numeric_grad(p.diagonal_product, (A,), 0), rtol=1e-6, atol=1e-8)
        assert f"Built for A {(n, n)} only." in grad.source  # the code holds the shape as a constant
        assert "np.shape(" not in grad.source  # every shape the backward pass asks for is one too
    assert len(grad.structured().built) == 3  # one build per shape, reused after


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_recursion_through_np_delete_in_a_loop(backend):
    x = np.array([0.3, -0.7, 1.1, 0.4])
    got = sd.grad(p.leave_one_out, backend=backend)(x)
    np.testing.assert_allclose(got, numeric_grad(p.leave_one_out, (x,), 0), rtol=1e-6, atol=1e-8)


def test_recursion_whose_depth_is_known_only_when_running_is_refused_when_building():
    with pytest.raises(sd.SymdiffError, match="recursive call to halving") as info:
        sd.grad(p.halving)
    assert "return halving(x * 0.5)" in str(info.value)


def test_recursion_that_the_shapes_do_not_end_is_refused_at_the_first_call():
    grad = sd.grad(p.never_shrinks)  # it reads a shape: built at the call, for the arguments' shapes
    with pytest.raises(sd.SymdiffError, match="the arguments' shapes do not decide it") as info:
        grad(np.ones(3))
    assert "np.sum(x) + never_shrinks(x)" in str(info.value)
