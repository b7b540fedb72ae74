"""Control flow, subroutines and array writes against finite differences (issue 3)."""

import numpy as np
import pytest

import symdiff as sd
from symdiff.errors import BadWrt
from tests.oracles import numeric_grad
from tests.transforms import programs as p

RTOL, ATOL = 1e-6, 1e-8


def check(f, args, wrt):
    grads = sd.grad(f, wrt=wrt)(*args)
    wrt = wrt if isinstance(wrt, tuple) else (wrt,)
    grads = grads if len(wrt) > 1 else (grads,)
    for k, g in zip(wrt, grads):
        np.testing.assert_allclose(g, numeric_grad(f, args, k), rtol=RTOL, atol=ATOL)


def test_branchy_function_hits_every_branch():
    rng = np.random.default_rng(0)
    xs = np.concatenate([rng.uniform(-3, 3, 30), [0.5, -0.5, -2.0]])
    hit = set()
    for x in xs:
        if abs(x) < 1e-3 or abs(x + 1) < 1e-3:
            continue
        check(p.branchy, (float(x), 1.3), (0, 1))
        hit.add(0 if x > 0 else 1 if x > -1 else 2)
    assert hit == {0, 1, 2}


def test_data_dependent_branch_on_arrays():
    rng = np.random.default_rng(1)
    for scale in (1.0, -1.0):
        w, x = scale * np.abs(rng.normal(size=3)), np.abs(rng.normal(size=(4, 3)))
        check(p.array_branch, (w, x), 0)


def test_loop_with_overwrites():
    check(p.overwrite_loop, (0.3, 5), 0)
    check(p.overwrite_loop, (np.array([0.2, -0.4]), 3), 0)


def test_range_with_start_stop_step():
    check(p.stepped_loop, (np.array([0.1, 0.7]), 1, 8), 0)


def test_while_loop_to_convergence():
    for a in (2.0, 9.0, 0.3):
        assert sd.grad(p.sqrt_newton)(a) == pytest.approx(0.5 / np.sqrt(a), rel=1e-8)


def test_helper_called_twice_with_shared_weights():
    rng = np.random.default_rng(2)
    check(p.two_layer, (rng.normal(size=(3, 3)), rng.normal(size=3), rng.normal(size=(5, 3))), (0, 1))


def test_rnn_collects_states_with_item_writes():
    rng = np.random.default_rng(3)
    args = (rng.normal(size=(3, 4)), 0.5 * rng.normal(size=(4, 4)), rng.normal(size=(6, 3)), rng.normal(size=4))
    check(p.rnn, args, (0, 1, 3))


def test_lstm_with_sigmoid_helper():
    rng = np.random.default_rng(4)
    n, d, batch, steps = 3, 2, 4, 5
    args = (
        0.5 * rng.normal(size=(d, 4 * n)), 0.5 * rng.normal(size=(n, 4 * n)), 0.1 * rng.normal(size=4 * n),
        rng.normal(size=(steps, batch, d)), rng.normal(size=(batch, n)), rng.normal(size=(batch, n)),
    )  # fmt: skip
    check(p.lstm, args, (0, 1, 2))


def test_early_returns():
    for x, y in [(-1.0, 2.0), (0.5, 3.0), (0.5, 1.0)]:
        check(p.early_return, (x, y), (0, 1))


def test_bool_flag_passes_through():
    x = np.array([0.5, -1.5, 2.0])
    np.testing.assert_allclose(sd.grad(p.flagged)(x, True), 2 * x)
    np.testing.assert_allclose(sd.grad(p.flagged)(x, False), np.ones(3))


def test_gradient_with_respect_to_an_integer_argument_is_rejected():
    with pytest.raises(BadWrt, match="integer"):
        sd.grad(p.overwrite_loop, wrt="n")(0.3, 5)


def test_loops_are_not_unrolled():
    long, short = sd.grad(p.hundred_steps).source, sd.grad(p.two_steps).source
    assert len(long.splitlines()) == len(short.splitlines())
    assert "for i in range(100):" in long
    check(p.hundred_steps, (np.array([0.3, 1.2]),), 0)


def test_writes_into_columns_and_overwriting_an_element():
    check(p.column_writes, (np.array([0.3, -0.2, 0.9]),), 0)


def test_nested_loops():
    check(p.nested_loops, (np.array([0.3, -0.2]), 3), 0)


def test_branch_inside_loop():
    check(p.loop_with_branch, (np.array([0.3, 0.2]),), 0)
    check(p.loop_with_branch, (np.array([-0.9, 0.2]),), 0)


def test_forward_loop_reads_like_the_input():
    source = sd.grad(p.rnn, wrt=(0, 1)).source
    assert "h = np.tanh(" in source
    assert "hs[t] = h" in source
    assert "for t in reversed(range(T)):" in source


def example_args(name):
    """Small arguments for each program, shared with the higher-order tests."""
    rng = np.random.default_rng(11)
    n, d, batch, steps = 3, 2, 4, 5
    return {
        "rnn": (rng.normal(size=(3, 4)), 0.5 * rng.normal(size=(4, 4)), rng.normal(size=(6, 3)), rng.normal(size=4)),
        "lstm": (
            0.5 * rng.normal(size=(d, 4 * n)),
            0.5 * rng.normal(size=(n, 4 * n)),
            0.1 * rng.normal(size=4 * n),
            rng.normal(size=(steps, batch, d)),
            rng.normal(size=(batch, n)),
            rng.normal(size=(batch, n)),
        ),
        "sqrt_newton": (2.5,),
        "branchy": (0.7, 1.3),
        "nested_loops": (np.array([0.3, -0.2]), 3),
        "loop_with_branch": (np.array([0.3, 0.2]),),
        "column_writes": (np.array([0.3, -0.2, 0.9]),),
        "two_layer": (rng.normal(size=(3, 3)), rng.normal(size=3), rng.normal(size=(5, 3))),
    }[name]


def test_while_condition_that_computes():
    check(p.grow_until, (np.array([0.3, 0.5]),), 0)
    assert "while np.sum(s * s) < 10.0:" in sd.grad(p.grow_until).source


def test_a_list_index_is_an_integer_array_index():
    x = np.arange(9.0).reshape(3, 3) / 7.0
    assert p.list_index(x) == pytest.approx(np.sum(x[[0, 2, 2]] ** 2) + np.sum(x[:, [1]] * 3.0))
    check(p.list_index, (x,), 0)


def test_backward_of_collected_states_does_not_copy_the_array_every_step():
    """`hs[t] = h` in a range loop from 0: no element is written twice, so its adjoint copies nothing."""
    source = sd.grad(p.rnn, wrt=(0, 1)).source
    assert "index_update(hs_bar" not in source
    assert "hs_bar[t]" in source


@pytest.mark.parametrize(
    "function, args",
    [
        (p.rows_from_negative_start, (np.array([0.3, -0.7, 1.1]),)),
        (p.rows_from_argument_start, (np.array([0.3, -0.7, 1.1]), -2)),
        (p.recurrent_rows, (np.array([0.3, -0.7, 1.1]),)),
        (p.seeded_rows, (np.array([0.3, -0.7, 1.1]),)),
    ],
    ids=lambda v: getattr(v, "__name__", ""),
)
def test_element_writes_that_a_later_read_can_see_keep_their_adjoint(function, args):
    """Rows written twice (negative counters), rows read by a later step, or a start that depends on x."""
    source = sd.grad(function).source
    assert "index_update(hs_bar, 0.0, t)" in source or "hs_bar[t] = 0.0" in source  # the adjoint write kept
    check(function, args, 0)


def test_an_array_saved_for_the_backward_pass_is_not_then_written_in_place():
    """The loop saves `hs` before writing row t: the write copies, or every saved step would see the last rows."""
    rng = np.random.default_rng(5)
    x, w = rng.normal(size=3), rng.normal(size=(3, 3))
    source = sd.grad(p.weighted_running, wrt=(0, 1)).source
    assert "hs_tape.append(hs)" in source and "hs = index_update(hs, h, t)" in source
    check(p.weighted_running, (x, w), (0, 1))


def test_an_array_saved_in_one_step_is_not_written_in_place_by_the_next():
    """The tape keeps `hs.T` from step 1; writing step 2's rows in place would change it (a wrong gradient, found by
    tests/frontend/test_views_random.py)."""
    x = np.random.default_rng(6).normal(size=3)
    source = sd.grad(p.transposed_each_step).source
    assert "index_update(hs" in source
    check(p.transposed_each_step, (x,), 0)


def test_a_1d_recurrence_writes_in_place_forward_and_backward():
    """`y[t] = a * y[t - 1] + x[t]`: `y[t - 1]` is a scalar copy, so nothing the tape keeps is a view of y,
    and the adjoint's zeroing and adding back run in place: linear in the length, not quadratic."""
    x = np.linspace(-0.5, 0.9, 9)
    source = sd.grad(p.filter_1d, wrt=(0, 1)).source
    assert "    y[t] = " in source and "index_update(y" not in source, source
    assert "y_bar[t] = 0.0" in source and "scatter_add(y_2_bar" not in source, source
    check(p.filter_1d, (0.8, x), (0, 1))
    numba = sd.grad(p.filter_1d, wrt=(0, 1), backend="numba")(0.8, x)
    for ours, theirs in zip(numba, sd.grad(p.filter_1d, wrt=(0, 1))(0.8, x)):
        np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-12)


def test_a_recurrence_over_rows_copies_rows_not_the_array():
    """`y[t - 1]` is a row, a view that no later step writes: the backward loop reads it from the final `y`
    (optimize/recompute.py), and the cotangent row is copied before `y_bar[t] = 0.0`, so both writes run in
    place. Written in place without the copy, the adjoint write zeroed the row's cotangent it had just read (a
    wrong gradient seen while making the 1-D case linear)."""
    x = np.linspace(-0.5, 0.9, 7)
    source = sd.grad(p.filter_rows, wrt=(0, 1)).source
    assert "    y[t] = " in source and "index_update(y" not in source, source
    assert "np.copy(y_bar[t])" in source and "y_bar[t] = 0.0" in source, source
    check(p.filter_rows, (0.8, x), (0, 1))
    numba = sd.grad(p.filter_rows, wrt=(0, 1), backend="numba")(0.8, x)
    for ours, theirs in zip(numba, sd.grad(p.filter_rows, wrt=(0, 1))(0.8, x)):
        np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-12)
