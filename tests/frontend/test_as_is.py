"""Calls that run as they are, `.astype`, expression defaults, None arguments and writes into an
argument through its own name, each checked against finite differences of the plain function."""

import numpy as np
import pytest

import symdiff as sd
from symdiff.errors import BackendError, UnsupportedSyntax
from tests.frontend import as_is_forms as a
from tests.oracles import numeric_grad

V = np.array([0.3, -0.7, 1.2])


def _fd(f, *args):
    return numeric_grad(lambda x, *rest: f(np.copy(x), *rest), args, 0)


@pytest.mark.parametrize(
    "f, args",
    [
        (a.seeded_draws, (V,)),
        (a.grid, (np.array([[0.3, -0.7, 1.2], [0.5, 0.1, -0.4]]),)),
        (a.type_test, (V, 1.0)),
        (a.cell_weights, (np.array([0.3, 1.7, -2.2]),)),
        (a.max_or_default, (V,)),
        (a.simulate, (V, 3)),
        (a.project, (V,)),
        (a.scale_first, (V,)),
        (a.write_then_use, (V,)),
    ],
    ids=lambda v: getattr(v, "__name__", ""),
)
def test_gradient_matches_finite_differences_and_leaves_the_arguments_unchanged(f, args):
    x = args[0].copy()
    got = sd.grad(f)(x, *args[1:])
    np.testing.assert_allclose(got, _fd(f, *args), rtol=1e-6, atol=1e-8)
    np.testing.assert_array_equal(x, args[0])  # symdiff's gradient does not write into the caller's array


def test_a_draw_from_a_captured_generator_is_the_one_the_function_takes():
    params = np.array([0.3, -0.7, 1.2, 0.1, -0.2, 0.4])
    state = a.rs.get_state()
    got = sd.grad(a.reparametrised)(params)
    a.rs.set_state(state)  # the same draw, again, for the oracle
    z = a.rs.randn(3)
    samples = z * np.exp(params[3:]) + params[:3]
    np.testing.assert_allclose(got, np.concatenate([2 * samples, 2 * samples * z * np.exp(params[3:])]))


def test_a_draw_through_a_module_alias_runs_as_written():
    np.random.seed(3)
    got = sd.grad(a.draw_from_module)(V)
    np.random.seed(3)
    noise = np.random.normal(0.0, 1.0, 3)
    np.testing.assert_allclose(got, 2 * (V - noise))
    assert "npr.normal(0.0, 1.0, 3)" in sd.grad(a.draw_from_module).source


def test_a_draw_of_a_shape_known_when_running_unpacks_it_as_written():
    mean, log_std = np.array([[0.3, -0.7], [1.2, 0.1]]), np.array([[0.2, -0.1], [0.0, 0.4]])
    state = a.rs.get_state()
    grad = sd.grad(a.draw_shaped_like)
    got = grad(mean, log_std)
    a.rs.set_state(state)
    z = a.rs.randn(2, 2)
    np.testing.assert_allclose(got, 2 * (z * np.exp(log_std) + mean))
    assert "rs.randn(*" in grad.source  # printed as written
    with pytest.raises(UnsupportedSyntax, match="only tuples known at build time can be unpacked") as info:
        sd.grad(a.zeros_shaped_like)  # a function with a rule takes no run-time *shape
    assert "*x.shape" in str(info.value)


def test_a_draw_whose_argument_is_differentiated_is_refused_where_it_is_called():
    with pytest.raises(UnsupportedSyntax, match=r"rs.normal\(\) runs as it is, with no derivative") as caught:
        sd.grad(a.draw_with_differentiated_mean)
    assert caught.value.location.line == _line(a.draw_with_differentiated_mean, "rs.normal")


def test_numba_refuses_a_random_draw_when_building():
    with pytest.raises(BackendError, match="run as it is only by the numpy backend") as caught:
        sd.grad(a.seeded_draws, backend="numba")
    assert caught.value.location.line == _line(a.seeded_draws, "RandomState")


def test_a_standalone_module_cannot_hold_a_generator_object():
    with pytest.raises(UnsupportedSyntax, match="RandomState object"):
        sd.emit(a.reparametrised)
    text = sd.emit(a.draw_from_module)
    assert "import numpy.random as npr" in text


def test_second_derivatives_see_the_same_draws():
    r = np.random.RandomState(0)
    first = r.randn(3)
    np.testing.assert_allclose(sd.hessian(a.seeded_draws)(V), np.diag(-np.sin(V) * first), atol=1e-12)


def test_a_none_argument_leaves_out_the_code_it_guards():
    g = sd.grad(a.simulate)
    np.testing.assert_allclose(g(V, 3), _fd(a.simulate, V, 3), rtol=1e-6)
    np.testing.assert_allclose(g(V, 2, None), _fd(a.simulate, V, 2), rtol=1e-6)


@pytest.mark.parametrize("f", [a.scale_first, a.write_then_use], ids=lambda f: f.__name__)
def test_writes_into_an_argument_on_numba(f):
    x = V.copy()
    np.testing.assert_allclose(sd.grad(f, backend="numba")(x), _fd(f, V), rtol=1e-6, atol=1e-8)
    np.testing.assert_array_equal(x, V)


@pytest.mark.parametrize(
    "f, message",
    [
        (a.write_in_a_loop, "writes into argument 'x'"),
        (a.write_through_second_name, "through the name 'y'"),
    ],
    ids=lambda v: getattr(v, "__name__", ""),
)
def test_writes_into_an_argument_other_than_through_its_name_are_refused(f, message):
    with pytest.raises(UnsupportedSyntax, match=message):
        sd.grad(f)


def _line(function, text: str) -> int:
    import inspect

    lines, first = inspect.getsourcelines(function)
    return next(first + k for k, line in enumerate(lines) if text in line)


def test_vjp_of_a_function_with_a_none_argument():
    seed = np.array([1.0, -2.0, 0.5])
    got = sd.vjp(a.simulate_field)(V, 2, seed)
    expected = numeric_grad(lambda x: np.sum(seed * a.simulate_field(x, 2)), (V,), 0)
    np.testing.assert_allclose(got, expected, rtol=1e-6)


def test_vjp_of_a_function_with_a_default_takes_the_cotangent_last():
    seed = np.array([1.0, -2.0, 0.5])
    np.testing.assert_allclose(sd.vjp(a.scaled_sine)(V, 3.0, seed), 3.0 * np.cos(V) * seed)


@pytest.mark.parametrize("backend", ["numpy", "numba"])
@pytest.mark.parametrize("f", [a.scaled_rows, a.rows_then_array, a.generator_of_rows], ids=lambda f: f.__name__)
@pytest.mark.parametrize("x", [V, np.array([[0.3, -0.7], [1.2, 0.4], [0.1, 0.9]])], ids=["vector", "matrix"])
def test_a_comprehension_over_an_array_s_rows(f, x, backend):
    def total(x):
        return np.sum(f(x))

    np.testing.assert_allclose(sd.grad(total, backend=backend)(x), numeric_grad(total, (x,), 0), rtol=1e-6, atol=1e-8)


def test_a_list_of_rows_used_as_a_python_list_is_refused():
    with pytest.raises(UnsupportedSyntax, match="comprehension over an array's rows can only be passed"):
        sd.grad(a.rows_joined_as_lists)(V)  # built at the first call: `x` could have been a list


def test_a_refusal_where_the_none_default_is_none_comes_when_building():
    with pytest.raises(BackendError, match="np.roll"):
        sd.grad(a.simulate_rolled, backend="numba")


@pytest.mark.parametrize("backend", ["numpy", "numba"])
@pytest.mark.parametrize(
    "f, rest",
    [
        (a.weighted, ()),
        (a.weighted, (2.0,)),
        (a.weighted, (None, 0.5)),
        (a.weighted, (np.array([1.0, -2.0, 0.5]), 0.5)),
        (a.masked, (None,)),
        (a.masked, (np.array([1.0, 0.0, 2.0]),)),
    ],
    ids=lambda v: getattr(v, "__name__", repr(v)),
)
def test_is_none_on_an_argument_follows_each_call(f, rest, backend):
    g = sd.grad(f, backend=backend)
    np.testing.assert_allclose(g(V, *rest), _fd(f, V, *rest), rtol=1e-6, atol=1e-8)


def test_is_none_where_the_value_is_none_on_some_paths_is_refused_where_it_is_tested():
    with pytest.raises(UnsupportedSyntax, match="None on some paths") as info:
        sd.grad(a.best_of)
    assert info.value.location.line == _line(a.best_of, "if best is None")


def test_is_between_two_values_is_refused():
    with pytest.raises(UnsupportedSyntax, match="object identity"):
        sd.grad(a.same_object)


def test_an_f_string_is_refused_only_where_it_is_lowered():
    np.testing.assert_allclose(sd.grad(a.plot_step)(V, 2.0), 2.0 * np.cos(V))
    with pytest.raises(UnsupportedSyntax, match="f-strings are not supported") as info:
        sd.grad(a.labelled)
    assert info.value.location.line == _line(a.labelled, 'label = f"')


def test_a_helper_called_as_a_statement_that_does_nothing_is_left_out():
    np.testing.assert_allclose(sd.grad(a.simulate_and_draw)(V, 3), _fd(a.simulate_and_draw, V, 3), rtol=1e-6)


def test_a_helper_called_as_a_statement_that_computes_is_refused_not_dropped():
    with pytest.raises(UnsupportedSyntax, match="a call used as a statement has no effect"):
        sd.grad(a.scaled_through_a_helper)
