"""Control flow on the Numba backend: branches, loops, tapes and element writes.

Every program of tests/transforms/programs.py (and a few more) must give the
NumPy backend's gradient to 1e-12, on every path its arguments take. Each
gradient is compiled once per session (symdiff caches built derivatives, the
session shares one on-disk cache, tests/backends/conftest.py).
"""

from __future__ import annotations

import re

import numpy as np
import pytest

import symdiff as sd
from symdiff.errors import BackendError
from tests.backends import numba_corpus as corpus
from tests.backends.test_numba import assert_same
from tests.codegen.test_readable import recurrence as element_recurrence
from tests.oracles import numeric_grad
from tests.transforms import programs as p

CASES = corpus.control_cases()


def numba_grad(case):
    return sd.grad(case.function, wrt=case.wrt, backend="numba")


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_gradient_matches_numpy_backend_on_every_path(case):
    for args in case.calls:
        assert_same(numba_grad(case)(*args), sd.grad(case.function, wrt=case.wrt)(*args))


def test_a_write_into_a_saved_array_copies_it():
    gradient = sd.grad(corpus.saved_writes, backend="numba")
    assert "index_update(" in gradient.source  # the tape holds the array: writing in place would change it
    assert gradient(0.7) == pytest.approx(numeric_grad(corpus.saved_writes, (0.7,), 0), rel=1e-7)


def test_collected_states_are_written_in_place():
    source = sd.grad(p.rnn, wrt=(0, 1, 3), backend="numba").source
    forward = source.split("@numba.njit")[1].split("# grad of:")[0]
    assert re.search(r"\n\s+write_at\(hs, h, t\)\n", forward), forward  # `hs[t] = h`, in place
    assert "index_update" not in forward


def test_a_backward_loop_zeroes_an_owned_cotangent_in_place():
    """`y_bar[t] = 0.0` of the backward loop: `y_bar[t]` of the 1-D `y_bar` is read out as a scalar
    (a copy), so nothing else sees the buffer, and the write happens in place instead of an
    `index_update` copy of the whole cotangent per step."""
    gradient = sd.grad(element_recurrence, wrt=(0, 1), backend="numba")
    backward = gradient.source.split("# grad of: for t in range")[1]
    assert "index_update" not in backward, backward
    assert re.search(r"\n\s+write_at\(y_bar, 0\.0, t\w*\)\n", backward), backward
    x = np.random.default_rng(5).normal(size=7)
    got = gradient(0.8, x)
    np.testing.assert_allclose(got[0], numeric_grad(element_recurrence, (0.8, x), 0), rtol=1e-7)
    np.testing.assert_allclose(got[1], numeric_grad(element_recurrence, (0.8, x), 1), rtol=1e-7, atol=1e-9)
    assert_same(got, sd.grad(element_recurrence, wrt=(0, 1))(0.8, x))


def test_loops_print_as_native_loops():
    newton = sd.grad(p.sqrt_newton, backend="numba").source
    assert "while err > 1e-12:" in newton
    steps = sd.grad(p.hundred_steps, backend="numba").source
    assert "for i in range(100):" in steps and "range(99, -1, -1)" in steps
    assert re.search(r"(\w+_tape) = \[\]", steps) and ".append(" in steps and ".pop()" in steps
    stepped = sd.grad(p.stepped_loop, backend="numba").source
    assert "range_length(start, stop, 2)" in stepped  # a reversed range with a step counts down


def test_a_loop_variable_that_changes_type_is_named_with_its_loop():
    gradient = sd.grad(p.overwrite_loop, backend="numba")
    with pytest.raises(BackendError) as raised:
        gradient(np.array([0.2, -0.4]), 3)  # s = 0.0 becomes an array in the loop
    message = str(raised.value)
    assert "'s'" in message and "programs.py" in message and "for i in range(n):" in message


def test_a_loop_saves_its_values_on_one_tape():
    source = sd.grad(corpus.scalar_loop, wrt=(0, 1), backend="numba").source
    assert source.count(" = []") == 1 and source.count(".append(") == 1 and source.count(".pop()") == 1
    assert "np.broadcast_to" not in source


def test_merging_tapes_keeps_every_tape_a_later_loop_pops():
    # Merging one loop's tapes with two partner loops renumbers its carried values between the two
    # merges; reading the old positions dropped a tape still popped (an internal KeyError).
    from symdiff.backends.numba.rewrites import numba_rewrites
    from symdiff.ir.verify import verify

    verify(numba_rewrites(sd.hvp(corpus.nested_saved_loops).inner.function))


def test_printed_names_avoid_numbas_renaming_of_loop_variables():
    from symdiff.backends.numba.names import _Chooser

    chooser = _Chooser(set())
    assert chooser.pick("h", several=True) == "h"  # assigned before and inside a loop: Numba versions it h.1, h.2
    assert chooser.pick("h_1", several=False) == "h1"  # h_1 would collide with Numba's h.1 once dots become _
    assert chooser.pick("h_1", several=False) == "h1v2"  # h_1_2 would read as h.1.2
