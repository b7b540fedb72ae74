"""Calls with numbers only run a derivative built for numbers (issue 19).

A derivative with a loop, called with floats and ints only on the NumPy
backend, runs a build for shape () (`Derivative.source_for` shows it): its
shapes are constants, so its loops call no `np.shape` or `sum_to`, and a
tape that holds only float64 numbers is an `array("d")` of 8 bytes a value.
Each test checks that build against the general one and central differences.
"""

from __future__ import annotations

import tracemalloc
import warnings

import numpy as np
import pytest

import symdiff as sd
from benchmarks.bench_scalar_loop import scalar_loop  # the loop the benchmark times, checked here
from benchmarks.bench_scalar_loop import scalar_loop_steps as steps
from symdiff.testing import check_derivative


def quotient_loop(x, n):
    for i in range(n):
        x = x / (2.0 + x * x) + 0.5
    return x


def kept_list(x, n):
    hs = []
    for i in range(n):
        x = np.sin(x) + 1.0
        hs.append(x)
    total = 0.0
    for h in hs:
        total = total + h * h
    return total


def counter_loop(x, n):
    for i in range(n):
        x = x * (i + 1.0) / (i + 2.0) + np.tanh(x)
    return x


def _general(function, wrt, *args):
    """The general build's gradient: the same function object, called with a 0-d array."""
    grad = sd.grad(function, wrt=wrt)
    as_arrays = tuple(np.asarray(a, dtype=float) if isinstance(a, float) else a for a in args)
    return grad._compiled(*as_arrays)


@pytest.mark.parametrize(
    ("function", "wrt", "args"),
    [
        (scalar_loop, (0, 1), (0.7, 0.3)),
        (steps, (0, 1), (0.7, 0.3, 50)),
        (quotient_loop, 0, (0.4, 20)),
        (kept_list, 0, (0.4, 10)),
        (counter_loop, 0, (0.2, 12)),
    ],
)
def test_the_build_for_numbers_agrees_with_the_general_one(function, wrt, args):
    grad = sd.grad(function, wrt=wrt)
    for_numbers = grad(*args)
    assert "Built for numbers" in grad.source_for(*args)
    if function is not kept_list:  # a list that grows has a shape known only when running
        assert "np.shape" not in grad.source_for(*args) and "sum_to" not in grad.source_for(*args)
    general = _general(function, wrt, *args)
    np.testing.assert_allclose(for_numbers, general, rtol=1e-13, atol=0)
    check_derivative(function, args, wrt=wrt)


def test_a_float_loop_saves_8_bytes_a_value_and_pops_floats_where_numpy_reads_them():
    grad = sd.grad(steps, wrt=(0, 1))
    source = grad.source_for(0.7, 0.3, 10)
    assert source.count("float_tape()") == 2
    assert "x = x_tape.pop()" in source  # read only by np.cos and by products with NumPy numbers
    peaks = []
    for n in (100, 1100):
        grad(0.7, 0.3, n)
        tracemalloc.start()
        grad(0.7, 0.3, n)
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
    assert (peaks[1] - peaks[0]) / 1000 <= 17  # two tapes of 8 bytes a step (array growth aside)


def test_a_pop_read_by_a_quotient_is_the_numpy_number_pushed():
    # A float's `/` raises ZeroDivisionError where np.float64's gives inf: the pop stays a NumPy number.
    grad = sd.grad(quotient_loop)
    source = grad.source_for(0.4, 3)
    assert "x_2 = np.float64(x_2_tape.pop())" in source  # 2.0 + x * x, a divisor


def test_only_tapes_of_float64_numbers_are_float_tapes():
    source = sd.grad(kept_list).source_for(0.4, 10)
    assert "x_tape = float_tape()" in source
    assert "count_1_tape = []" in source  # shapes of the growing list


def test_arrays_and_other_kinds_run_the_general_build():
    grad = sd.grad(scalar_loop, wrt=(0, 1))
    assert grad.source_for(np.array(0.7), 0.3) == grad.source
    assert grad.source_for(np.float32(0.7), 0.3) == grad.source
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        general = grad(np.array(0.7), 0.3)
    np.testing.assert_allclose(general, grad(0.7, 0.3), rtol=1e-13, atol=0)


def test_straight_line_code_has_no_second_build():
    def cube(x):
        return x * x * x

    grad = sd.grad(cube)
    assert grad(2.0) == 12.0
    assert grad._numbers is None and grad.source_for(2.0) == grad.source
