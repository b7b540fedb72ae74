"""Reads that NumPy answers from memory written since are refused; the rest differentiate right.

symdiff differentiates values, NumPy views share memory (docs/limitations.md).
Every accepted program is checked against finite differences of the plain
NumPy function, so a read that silently took the value before a write would
fail here.
"""

import inspect

import numpy as np
import pytest

import symdiff as sd
from symdiff.errors import UnsupportedSyntax
from tests.frontend import views as v
from tests.oracles import numeric_grad

REFUSED = [
    v.row_read_after_its_write,
    v.second_name_read_after_write,
    v.transpose_read_after_write,
    v.reshape_read_after_write,
    v.array_read_after_write_through_view,
    v.array_read_after_augmented_view,
    v.second_name_read_after_augmented_update,
    v.view_read_after_a_branch_wrote,
    v.view_taken_before_a_loop_that_writes,
    v.view_read_after_the_loop,
    v.rows_that_meet_when_the_counter_wraps,
    v.asarray_is_a_second_name,
    v.view_read_after_nested_loops_wrote,
    v.augmented_reshape_then_array_read,
    v.augmented_local_of_unknown_rank_then_view_read,
    v.running_sum_that_rereads_its_element,
    v.one_array_appended_every_step,
    v.listed_row_then_written_in_a_loop,
]

ACCEPTED = [
    v.other_row_read_after_write,
    v.element_of_a_vector_is_a_copy,
    v.previous_row_in_a_recurrence,
    v.next_row_from_zero,
    v.view_carried_to_the_next_step,
    v.slices_that_do_not_meet,
    v.both_arms_write,
    v.copy_before_write,
    v.shape_of_a_stale_name,
    v.augmented_scalar_with_a_second_name,
    v.augmented_view_then_other_rows,
    v.array_is_a_copy,
    v.previous_row_read_after_the_loop,
    v.rows_in_a_while_loop,
    v.rows_rewritten_in_nested_loops,
    v.running_sum_from_an_element,
    v.fresh_array_every_step,
    v.a_fresh_array_appended_every_step,
]


def _marked_line(function, mark: str) -> int:
    lines, first = inspect.getsourcelines(function)
    found = [first + k for k, line in enumerate(lines) if line.rstrip().endswith(f"# {mark}")]
    assert len(found) == 1, f"{function.__name__} needs one `# {mark}` line"
    return found[0]


def _args(function):
    x = np.array([0.3, -0.7])
    return (x, 4) if len(inspect.signature(function).parameters) == 2 else (x,)


@pytest.mark.parametrize("function", REFUSED, ids=lambda f: f.__name__)
def test_a_read_that_would_see_a_later_write_is_refused_where_it_reads(function):
    with pytest.raises(UnsupportedSyntax) as caught:
        sd.grad(function)  # at build time
    error = caught.value
    assert error.location.line == _marked_line(function, "read")
    assert f"before the write at line {_marked_line(function, 'write')}" in error.message
    assert ".copy()" in str(error)


def test_a_returned_view_of_a_written_array_is_refused_at_the_write():
    function = v.view_returned_after_write
    with pytest.raises(UnsupportedSyntax) as caught:
        sd.vjp(function)
    assert "the returned value" in caught.value.message
    assert caught.value.location.line == _marked_line(function, "write")


def test_writing_into_an_argument_through_a_view_is_refused():
    function = v.writes_into_argument_through_view
    with pytest.raises(UnsupportedSyntax) as caught:
        sd.grad(function)
    assert "writes into argument 'x' through a view" in caught.value.message
    assert caught.value.location.line == _marked_line(function, "write")


@pytest.mark.parametrize("function", ACCEPTED, ids=lambda f: f.__name__)
def test_reads_of_elements_no_write_reached_differentiate_like_numpy(function):
    args = _args(function)
    got = sd.grad(function)(*args)
    np.testing.assert_allclose(got, numeric_grad(function, args, 0), rtol=1e-6, atol=1e-8)


def test_a_running_sum_from_a_row_of_a_matrix_is_right_where_numpy_writes_into_the_row():
    function = v.running_sum_from_an_element
    x = np.array([[0.3, -0.7], [0.2, 0.5]])

    def summed(x, n):
        return np.sum(function(x.copy(), n))

    got = sd.grad(summed)(x, 4)
    np.testing.assert_allclose(got, numeric_grad(summed, (x, 4), 0), rtol=1e-6, atol=1e-8)


def test_asarray_of_an_argument_is_the_argument_itself():
    def writes_through_asarray(x):
        y = np.asarray(x)
        y[0] = 1.0
        return np.sum(y)

    with pytest.raises(UnsupportedSyntax, match="argument 'x'"):
        sd.grad(writes_through_asarray)


def test_an_array_made_before_the_loop_is_the_same_array_in_every_step():
    with pytest.raises(UnsupportedSyntax, match="`state` is read here as it was before the write"):
        sd.grad(v.one_array_for_every_step)
