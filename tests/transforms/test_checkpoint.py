"""Checkpointed loops (`checkpoint=`): the same gradient as without, in less memory.

A checkpointed gradient runs the same operations on the same values as the
plain one, so the two must agree to the last bit on NumPy (and to rounding
on Numba, whose compiler may fuse differently), at every trip count around
the segment length: none, one, a segment and one more, a partial last one.
"""

from __future__ import annotations

import re
import tracemalloc

import numpy as np
import pytest

import symdiff as sd
from tests.oracles import numeric_grad


def recurrence(x, n):
    h = x
    total = 0.0
    for t in range(n):
        h = np.tanh(h * 1.1 + 0.1 * t)
        total = total + np.sum(h * h)
    return total


def filled_rows(x, n):
    out = np.zeros((n, 3))
    h = x
    for t in range(n):
        h = np.sin(h) * 1.5 + 0.1
        out[t] = h * t  # a write into an array the loop carries (and the checkpoint saves)
    return np.sum(out**2)


def loops_and_branches_inside(x, n):
    h = x
    for t in range(n):
        s = 0.0
        for k in range(3):
            s = s + np.sum(np.cos(h * k))
        if s > 1.0:
            h = h * 0.9 + 0.01 * s
        else:
            h = h + 0.2
    return np.sum(h)


def odd_steps(x, n):
    h = x
    for t in range(1, n, 2):
        h = np.tanh(h + t * 0.1)
    return np.sum(h * h)


def two_loops(x, n):
    h = x
    for t in range(n):
        h = np.tanh(h + 0.1)
    g = h
    for t in range(n):
        g = g * h + 0.01
    return np.sum(g)


def until_small(x, tol):
    h = x
    total = 0.0
    while np.sum(h * h) > tol:  # a trip count known only as the loop runs
        h = np.tanh(h) * 0.8
        total = total + np.sum(h)
    return np.sum(h) + total


@pytest.mark.parametrize("tol", [100.0, 10.0, 1e-3])  # none, a few and many iterations
@pytest.mark.parametrize("length", [1, 2, 5])
def test_a_while_loop_is_checkpointed_in_segments_of_a_given_length(tol, length):
    x = np.array([2.0, -1.5, 3.0])
    plain = sd.grad(until_small)(x, tol)
    np.testing.assert_array_equal(sd.grad(until_small, checkpoint=length)(x, tol), plain)
    np.testing.assert_allclose(
        sd.grad(until_small, checkpoint=length, backend="numba")(x, tol), plain, rtol=1e-13, atol=1e-15
    )
    assert "n_segments" in sd.grad(until_small, checkpoint=length).source


@pytest.mark.parametrize("tol", [100.0, 10.0, 1e-3])
@pytest.mark.parametrize("schedule", ["auto", "binomial", sd.Binomial(snapshots=2)], ids=str)
def test_a_while_loop_is_counted_first_then_differentiated_on_a_binomial_schedule(tol, schedule):
    x = np.array([2.0, -1.5, 3.0])
    plain = sd.grad(until_small)(x, tol)
    gradient = sd.grad(until_small, checkpoint=schedule)
    np.testing.assert_array_equal(gradient(x, tol), plain)
    np.testing.assert_allclose(
        sd.grad(until_small, checkpoint=schedule, backend="numba")(x, tol), plain, rtol=1e-13, atol=1e-15
    )
    assert "revolve_next(" in gradient.source and "trips = trips + 1" in gradient.source


def reads_its_test(x, tol):
    h = x
    while np.sum(h * h) > tol:
        h = h - 0.1 * np.sum(h * h) * h  # the same expression as the test: one name once optimised
    return np.sum(h)


def test_a_while_loop_whose_body_reads_its_test_keeps_it_when_counted():
    x = np.array([1.0, -0.5, 0.8])
    plain = sd.grad(reads_its_test)(x, 0.5)
    np.testing.assert_array_equal(sd.grad(reads_its_test, checkpoint=sd.Binomial(snapshots=2))(x, 0.5), plain)
    np.testing.assert_allclose(plain, numeric_grad(reads_its_test, (x, 0.5), 0), rtol=1e-6, atol=1e-8)


RS = np.random.RandomState(0)


def noisy(x, n):
    h = x
    for t in range(n):
        h = np.tanh(h + 0.1 * RS.randn(3))  # a segment run again would draw new numbers
    return np.sum(h * h)


FUNCTIONS = [recurrence, filled_rows, loops_and_branches_inside, odd_steps, two_loops]
X = np.array([0.3, -0.2, 0.5])


@pytest.mark.parametrize("f", FUNCTIONS, ids=lambda f: f.__name__)
@pytest.mark.parametrize("length", [1, 3, "auto"])
def test_the_gradient_is_the_plain_one_bit_for_bit(f, length):
    for n in (0, 1, 2, 3, 4, 10):
        np.testing.assert_array_equal(sd.grad(f, checkpoint=length)(X, n), sd.grad(f)(X, n))
    np.testing.assert_allclose(sd.grad(f, checkpoint=length)(X, 7), numeric_grad(f, (X, 7), 0), rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("f", [recurrence, filled_rows, loops_and_branches_inside], ids=lambda f: f.__name__)
def test_numba_agrees(f):
    got = sd.grad(f, checkpoint=3, backend="numba")(X, 10)
    np.testing.assert_allclose(got, sd.grad(f)(X, 10), rtol=1e-13, atol=1e-15)


def test_the_code_saves_one_state_per_segment_and_runs_the_segment_again():
    source = sd.grad(recurrence, checkpoint=3).source
    assert "for segment in range(segments):" in source and "for segment in reversed(range(segments)):" in source
    assert "h_saved.append(h)" in source and "h = h_saved.pop()" in source


def _peak(call) -> int:
    tracemalloc.start()
    call()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def long_recurrence(x, n):
    h = x
    for t in range(n):
        h = np.tanh(h * 0.9 + 0.01)
    return np.sum(h)


def test_memory_grows_as_the_square_root_of_the_trip_count():
    x = np.linspace(-1.0, 1.0, 2000)  # 16 kB per saved state
    plain, segmented = sd.grad(long_recurrence), sd.grad(long_recurrence, checkpoint="auto")
    plain(x, 2), segmented(x, 2)  # built before measuring
    full = _peak(lambda: plain(x, 400))  # 400 states saved: about 6.4 MB
    saved = _peak(lambda: segmented(x, 400))  # 20 segment states and one segment's 20: about 0.6 MB
    assert saved < full / 5, (saved, full)


def meta_objective(x, n):
    return np.sum(sd.grad(recurrence, checkpoint=2)(x, n) * x)


def test_a_checkpointed_gradient_called_inside_is_differentiated_again():
    np.testing.assert_allclose(
        sd.grad(meta_objective)(X, 6), numeric_grad(meta_objective, (X, 6), 0), rtol=1e-6, atol=1e-8
    )


def test_a_loop_that_draws_random_numbers_is_refused_where_it_draws():
    with pytest.raises(sd.SymdiffError, match="a checkpointed segment, run again") as info:
        sd.grad(noisy, checkpoint=2)
    assert "RS.randn(3)" in str(info.value)


@pytest.mark.parametrize("length", [0, -2, 2.5, True, "sqrt"])
def test_a_segment_length_that_is_not_one_is_refused(length):
    with pytest.raises(ValueError, match="checkpoint must be None, 'none', 'auto', 'binomial'"):
        sd.grad(recurrence, checkpoint=length)


@pytest.mark.parametrize(
    "options", [{"snapshots": 0}, {"memory": -1}, {"snapshots": 2.0}, {"snapshots": 2, "memory": 10}]
)
def test_a_binomial_schedule_without_a_positive_budget_is_refused(options):
    with pytest.raises(ValueError, match="Binomial"):
        sd.Binomial(**options)


def test_none_is_no_checkpointing():
    assert sd.grad(recurrence, checkpoint="none").source == sd.grad(recurrence).source


# -- binomial checkpointing (Griewank's revolve) -----------------------------------------

BINOMIAL = [sd.Binomial(snapshots=1), sd.Binomial(snapshots=2), sd.Binomial(snapshots=5), "binomial"]


@pytest.mark.parametrize("f", FUNCTIONS, ids=lambda f: f.__name__)
@pytest.mark.parametrize("schedule", BINOMIAL, ids=str)
def test_a_binomial_schedule_gives_the_plain_gradient_bit_for_bit(f, schedule):
    for n in (0, 1, 2, 3, 4, 10, 23):
        np.testing.assert_array_equal(sd.grad(f, checkpoint=schedule)(X, n), sd.grad(f)(X, n))


@pytest.mark.parametrize("f", [recurrence, filled_rows, loops_and_branches_inside, odd_steps], ids=lambda f: f.__name__)
def test_numba_agrees_under_a_binomial_schedule(f):
    for n in (0, 5, 13):
        got = sd.grad(f, checkpoint=sd.Binomial(snapshots=3), backend="numba")(X, n)
        np.testing.assert_allclose(got, sd.grad(f)(X, n), rtol=1e-13, atol=1e-15)


def test_a_memory_budget_sets_the_number_of_saved_states():
    x = np.linspace(-1.0, 1.0, 2000)  # 16 kB per saved state
    budget = sd.grad(long_recurrence, checkpoint=sd.Binomial(memory=100_000))  # six states
    plain = sd.grad(long_recurrence)
    np.testing.assert_array_equal(budget(x, 300), plain(x, 300))
    assert "revolve_snapshots(trips, 0, 100000, " in budget.source
    full = _peak(lambda: plain(x, 300))  # 300 states: about 4.8 MB
    held = _peak(lambda: budget(x, 300))  # six states and one iteration's values
    assert held < 300_000 and full > 4_000_000, (held, full)


def _schedule_runs(trips: int, snapshots: int) -> tuple[np.ndarray, int]:
    """Run the schedule as generated code does; how often each iteration runs forwards, and
    the most states kept at once."""
    from symdiff.rules.shapes import revolve_next

    runs = np.zeros(trips, dtype=int)
    stack: list[int] = []

    def run_to(position: int, end: int, stop: int) -> None:
        while position < stop:
            stack.append(position)
            until = revolve_next(position, end, stop, len(stack) - 1, snapshots)
            assert position < until <= stop
            runs[position:until] += 1
            position = until

    run_to(0, trips, trips)  # the forward pass
    most = len(stack)
    for k in reversed(range(trips)):
        first = stack.pop()
        assert first <= k
        run_to(first, k + 1, k)
        most = max(most, len(stack))
        runs[k] += 1  # iteration k again, saving what its backward body reads
    return runs, most


@pytest.mark.parametrize("trips", [1, 2, 7, 100, 1000, 5000])
@pytest.mark.parametrize("snapshots", [1, 2, 3, 10, 40])
def test_the_schedule_keeps_its_budget_and_runs_each_iteration_as_revolve_does(trips, snapshots):
    from math import comb

    runs, most = _schedule_runs(trips, snapshots)
    assert most <= snapshots
    r = 0  # Griewank: with s states, r runs again reverse at most C(s + r, s) iterations
    while comb(snapshots + r, snapshots) < trips:
        r += 1
    assert runs.max() <= r + 2  # the forward pass, at most r runs again (one per level), iteration k itself
    optimum = r * trips - comb(snapshots + r, r - 1) if r > 0 else 0  # revolve's fewest repeated steps
    repeated = int(runs.sum()) - 2 * trips
    assert repeated <= 1.1 * optimum + trips // 50 + 1, (repeated, optimum)


def binomial_meta_objective(x, n):
    return np.sum(sd.grad(recurrence, checkpoint=sd.Binomial(snapshots=2))(x, n) * x)


def test_a_binomially_checkpointed_gradient_is_differentiated_again():
    expected = numeric_grad(binomial_meta_objective, (X, 7), 0)
    np.testing.assert_allclose(sd.grad(binomial_meta_objective)(X, 7), expected, rtol=1e-6, atol=1e-8)
    np.testing.assert_array_equal(
        sd.grad(binomial_meta_objective, checkpoint="binomial")(X, 7), sd.grad(binomial_meta_objective)(X, 7)
    )


def test_random_programs_with_loops_get_the_same_gradient(tmp_path):
    """The fuzzer's programs (tests/fuzz) that have loops, plain and checkpointed: bit for bit."""
    import warnings

    from tests.fuzz.check import _copies, _float64, _load
    from tests.fuzz.programs import generate

    compared = 0
    for seed in range(107_000_000, 107_000_060):
        program = generate(seed)
        if "for " not in program.source:
            continue
        _, f = _load(tmp_path, program.source)
        args = [_float64(a) for a in program.args]
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                plain = sd.grad(f, wrt=program.wrt)(*_copies(args))
            except sd.SymdiffError:
                continue  # refused without checkpointing too
            segmented = sd.grad(f, wrt=program.wrt, checkpoint=2)(*_copies(args))
            # the iteration run again is code the stability pass sees whole: exact without it
            literal = sd.grad(f, wrt=program.wrt, stable=False)(*_copies(args))
            binomial = sd.grad(f, wrt=program.wrt, checkpoint=sd.Binomial(snapshots=2), stable=False)(*_copies(args))
        for expected, got in ((plain, segmented), (literal, binomial)):
            for a, b in zip(
                expected if isinstance(expected, tuple) else (expected,), got if isinstance(got, tuple) else (got,)
            ):
                np.testing.assert_array_equal(a, b, err_msg=f"program {seed}")
        compared += 1
    assert compared >= 30


# -- the per-loop form: symdiff.checkpointed(range(...), schedule) ---------------------------


def epochs(x, n):
    h = x
    total = 0.0
    for e in range(3):  # a loop around the marked one: each epoch's inner loop keeps its own states
        for t in sd.checkpointed(range(n), sd.Binomial(snapshots=2)):
            h = np.tanh(h * 1.1 + 0.1 * t + 0.01 * e)
            total = total + np.sum(h * h)
        h = h * 0.5
    return total


def marked_in_a_branch(x, n):
    h = x
    if np.sum(x) > 0:
        for t in sd.checkpointed(range(n), 2):
            h = np.cos(h) + 0.1 * t
    else:
        h = h * 2.0
    return np.sum(h)


def one_of_two_marked(x, n):
    h = x
    for t in sd.checkpointed(range(n)):  # "auto"
        h = np.tanh(h + 0.1)
    g = h
    for t in range(n):  # not marked: taped as usual
        g = g * h + 0.01
    return np.sum(g)


@pytest.mark.parametrize("f", [epochs, marked_in_a_branch, one_of_two_marked], ids=lambda f: f.__name__)
def test_a_loop_marked_checkpointed_is_checkpointed_wherever_it_is(f):
    for x in (X, -X):
        for n in (0, 1, 4, 9):
            np.testing.assert_allclose(sd.grad(f)(x, n), numeric_grad(f, (x, n), 0), rtol=1e-6, atol=1e-8)
    got = sd.grad(f, backend="numba")(X, 9)
    np.testing.assert_allclose(got, sd.grad(f)(X, 9), rtol=1e-13, atol=1e-15)
    assert f(X, 9) == f(X, 9)  # run as plain Python, checkpointed() is its range


def test_only_the_marked_loop_is_checkpointed():
    source = sd.grad(one_of_two_marked).source
    assert source.count("for segment in reversed(range(segments)):") == 1 and "h_tape" in source
    assert "revolve_next(" in sd.grad(epochs).source


@pytest.mark.parametrize(
    "body, words",
    [
        ("for t in sd.checkpointed(range(n), 0):", "segment length >= 1"),
        ("for t in sd.checkpointed(reversed(range(n))):", "takes a range(...) that runs forwards"),
        ("for t in sd.checkpointed(range(n), 2, 3):", "takes a range and a schedule"),
    ],
)
def test_a_bad_mark_is_refused_where_it_is_written(tmp_path, body, words):
    from tests.fuzz.check import _load

    source = f"import numpy as np\nimport symdiff as sd\n\n\ndef f(x, n):\n    h = x\n    {body}\n        h = h * 0.5\n    return np.sum(h)\n"
    _, f = _load(tmp_path, source)
    with pytest.raises(sd.SymdiffError, match=re.escape(words)) as info:
        sd.grad(f)
    assert ":7:" in str(info.value)
