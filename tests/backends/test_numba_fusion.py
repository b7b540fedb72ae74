"""Fused loops of the Numba backend: slice writes, shared values, and the thin call path.

Each gradient must equal the NumPy backend's to 1e-12, and its source must
show the fusion (a kernel call instead of a stored temporary).
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from numba.core.registry import CPUDispatcher

import symdiff as sd
from symdiff.backends import numba as numba_backend
from symdiff.errors import BackendError
from tests.backends import numba_corpus as corpus
from tests.backends.test_numba import assert_same
from tests.oracles import numeric_grad


def row_stencil(x):
    return np.sum(np.tanh(x[1:, :] - x[:-1, :] ** 2) ** 2)


def column_stencil(x):
    return np.sum((x[:, 1:] * x[:, :-1]) ** 2 + x[:, :-1])


def depth_stencil(x):
    return np.sum(np.sin(x[:, 1:, :] - x[:, :-1, :]) * x[:, 1:, :])


def broadcast_slice(x, w):
    return np.sum(x[1:, :] * w)


def halves(x):
    n = x.shape[0] // 2
    return np.sum(np.sin(x[:n])) + np.sum(x[n:] ** 2)


def shared_square(x):
    t = np.exp(x) * x
    return np.sum(t * t + t)


_ASSIGNMENT = re.compile(r"^ +\w+ = ", re.MULTILINE)

CASES = [
    (row_stencil, (5, 4)),
    (column_stencil, (3, 6)),
    (depth_stencil, (2, 4, 3)),
    (halves, (8,)),
    (halves, (9,)),
]


@pytest.mark.parametrize(("function", "shape"), CASES, ids=lambda c: getattr(c, "__name__", str(c)))
def test_slice_writes_match_numpy_backend(function, shape):
    x = np.random.default_rng(0).normal(size=shape)
    source = sd.grad(function, backend="numba").source
    assert "_add_into(" in source  # the slice cotangents are added by loops, not stored first
    assert_same(sd.grad(function, backend="numba")(x), sd.grad(function)(x))


def test_a_broadcast_slice_write_takes_the_array_path():
    rng = np.random.default_rng(1)
    x, w = rng.normal(size=(4, 3)), rng.normal(size=3)
    assert_same(sd.grad(broadcast_slice, wrt=(0, 1), backend="numba")(x, w), sd.grad(broadcast_slice, wrt=(0, 1))(x, w))


def test_a_value_read_several_times_in_one_expression_is_not_stored():
    gradient = sd.grad(shared_square, backend="numba")
    body = gradient.source.split("def shared_square_grad(")[1]
    assert len(_ASSIGNMENT.findall(body)) == 1  # exp(x) * x is computed inside the one expression, wherever read
    x = np.random.default_rng(2).normal(size=(3, 5))
    assert_same(gradient(x), sd.grad(shared_square)(x))


def test_cheap_values_are_recomputed_instead_of_stored():
    body = sd.grad(corpus.rosenbrock, backend="numba").source.split("def rosenbrock_grad(")[1]
    assert body.count("np.zeros(") == 1 and len(_ASSIGNMENT.findall(body)) == 4  # two slices, a shape, the result


def _three_spread_terms(x):
    spread = np.full(np.shape(x), np.mean(x))
    return np.sum(np.cos(np.mean(x, axis=0))) + np.sum(x) + np.mean(spread * spread)


def test_a_sum_of_spread_cotangents_keeps_the_arguments_shape():
    # Each of the three terms gives x a broadcast of a scalar or a one-element array; eliding all three
    # broadcasts (each judged by another one's shape) returned a gradient of shape (1,) for x of shape (3,).
    x = np.array([-0.59, -0.31, -0.38])
    assert_same(sd.grad(_three_spread_terms, backend="numba")(x), sd.grad(_three_spread_terms)(x))


def _quartic(x):
    return np.sum(x**4)


def test_a_gradient_without_defaults_or_constants_is_the_numba_dispatcher_itself(monkeypatch):
    monkeypatch.setattr(numba_backend, "settings", numba_backend.Settings())
    gradient = sd.grad(_quartic, backend="numba")
    assert isinstance(gradient._compiled, CPUDispatcher)  # no Python wrapper between the call and the machine code
    assert gradient(2.0) == 32.0


def _number_then_array_steps(f):
    acc = 0.0
    for i in range(2):
        acc = acc * 0.5 + np.sin(f)  # a number before the first step, an array after it: Numba cannot type it
    return np.sum(acc)


def test_fallback_at_call_time_runs_numpy_with_a_warning(monkeypatch):
    monkeypatch.setenv("SYMDIFF_NUMBA_FALLBACK", "numpy")
    gradient = sd.grad(_number_then_array_steps, backend="numba")  # a function of its own: built gradients are shared
    f = np.array([0.5, -1.0, 2.0])
    with pytest.warns(numba_backend.NumbaFallbackWarning):
        got = gradient(f)
    assert_same(got, sd.grad(_number_then_array_steps)(f))


# -- axis reductions of broadcast expressions: one loop nest, nothing of the broadcast shape stored --


def _cluster_cost(points, centroids):
    dist2 = np.sum((points[:, None, :] - centroids[None, :, :]) ** 2, axis=2)
    return np.sum(np.min(dist2, axis=1))


def _row_means(x, w):
    return np.sum(np.mean(x[:, None, :] * w, axis=-1, keepdims=True) ** 2)


def _two_axes(x, w):
    return np.sum(np.sin(np.sum(x[:, :, None] * w, axis=(0, 2))))


def _counted(x, y):
    return np.sum(np.sum(x[:, None] > y, axis=0) * y)


def _column_outer(a, b):
    return np.sum(np.exp(np.sum(a * b, axis=0)))  # a (3, 1) by b (1, 4): a cotangent summed back to each


AXIS_CASES = [
    (_cluster_cost, ((7, 3), (4, 3)), (0, 1), "_sum("),
    (_row_means, ((5, 4), (3, 4)), (0, 1), "_sum_to("),  # each cotangent reads the broadcast seed through its source
    (_two_axes, ((3, 2), (1, 4)), (0, 1), "_sum("),
    (_counted, ((6,), (5,)), (1,), "_sum("),
    (_column_outer, ((3, 1), (1, 4)), (0, 1), "_sum_to("),
]


@pytest.mark.parametrize(
    ("function", "shapes", "wrt", "kernel"), AXIS_CASES, ids=lambda c: getattr(c, "__name__", None)
)
def test_axis_reductions_of_broadcasts_run_as_loop_nests(function, shapes, wrt, kernel):
    rng = np.random.default_rng(3)
    args = tuple(rng.normal(size=s) for s in shapes)
    gradient = sd.grad(function, wrt=wrt, backend="numba")
    assert f"_grad{kernel}" in gradient.source and "loop_nest(" in gradient.source
    _agrees(function, wrt, gradient, args)


def _agrees(function, wrt, gradient, args):
    got, want = gradient(*args), sd.grad(function, wrt=wrt)(*args)
    assert_same(got, want)
    for k, g in zip(wrt, got if isinstance(got, tuple) else (got,), strict=True):
        np.testing.assert_allclose(g, numeric_grad(function, args, k), rtol=1e-6, atol=1e-6)


def _sum_of_products(a, b, c):
    return np.sum(np.sum(a * b * c, axis=0) ** 2)


def _held_operands(a, b, c):
    return np.sum(np.sum(np.sin(a * b) * c, axis=(0, 1)) ** 2)


# (a, b, c) shapes: each cotangent's `sum_to` reads the others, one of them broadcast along the
# last axis (step 0 there), in every position among the kernel's operands, or two of them.
HELD_SHAPES = [
    ((6, 3, 1), (6, 1, 5), (1, 3, 5)),
    ((1, 3, 5), (6, 3, 1), (6, 1, 5)),
    ((6, 1, 5), (1, 3, 5), (6, 3, 1)),
    ((6, 3, 1), (6, 3, 1), (1, 3, 5)),  # two operands held: the loop at any steps
    ((6, 3, 5), (6, 3, 1), (3, 1)),
]


@pytest.mark.parametrize("function", [_sum_of_products, _held_operands], ids=lambda f: f.__name__)
@pytest.mark.parametrize("shapes", HELD_SHAPES, ids=str)
def test_a_loop_nest_reads_an_operand_broadcast_along_its_rows_once_per_row(function, shapes):
    """The inner loop for rows along which one operand has step 0 (k-means' `dist2_bar[:, :, None]`)
    gives what the loop at any steps gives, wherever that operand is among the kernel's."""
    rng = np.random.default_rng(5)
    args = tuple(rng.normal(size=s) for s in shapes)
    gradient = sd.grad(function, wrt=(0, 1, 2), backend="numba")
    assert "is the same along the row: read it once" in gradient.source
    _agrees(function, (0, 1, 2), gradient, args)


def _logsumexp(x):
    a = np.max(x)
    return a + np.log(np.sum(np.exp(x - a)))


@pytest.mark.parametrize("n", [3, 8, 13, 200])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_a_sum_to_a_scalar_is_one_pass(n, dtype):
    """`sum_to(-softmax, ())`, the cotangent of LogSumExp's shift, is summed in a one-pass kernel in
    eight partial sums (lengths below, at and past a multiple of eight), not stored and summed."""
    gradient = sd.grad(_logsumexp, backend="numba")
    assert "One pass for the sum of: -" in gradient.source and "sum_to(" not in gradient.source
    x = (3.0 * np.random.default_rng(n).normal(size=n)).astype(dtype)
    got, want = gradient(x), sd.grad(_logsumexp)(x)
    assert got.dtype == want.dtype
    if dtype == np.float64:
        assert_same(got, want)
        np.testing.assert_allclose(got, numeric_grad(_logsumexp, (x,), 0), rtol=1e-6, atol=1e-6)
    else:  # the NumPy backend sums the float32 cotangent in float32, the kernel in float64
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def _row_means_of_tanh(x, w):
    return np.sum(np.mean(np.tanh(x[:, None, :] * w), axis=-1, keepdims=True) ** 2)


def test_a_reduction_no_wider_than_an_array_it_reads_is_no_loop_nest():
    """tanh(...) is stored (its cotangent reads it), so its mean and the `sum_to`s of the cotangent
    times an operand are no larger than stored arrays: a loop nest would save one temporary and cost a
    compile of seconds, so the array expression and the cached helpers compute them."""
    gradient = sd.grad(_row_means_of_tanh, wrt=(0, 1), backend="numba")
    assert "loop_nest(" not in gradient.source and "sum_to(" in gradient.source
    rng = np.random.default_rng(4)
    _agrees(_row_means_of_tanh, (0, 1), gradient, (rng.normal(size=(5, 4)), rng.normal(size=(3, 4))))


def _same_form_twice(a, b, c):
    return np.sum(np.sin(np.sum(a[:, None] * b, axis=1)) + np.cos(np.sum(a[:, None] * c, axis=1)))


def test_reductions_of_one_form_share_one_kernel():
    """Two sums along axis 1 of `a[:, None] * operand` are one kernel, compiled once, called twice."""
    gradient = sd.grad(_same_form_twice, wrt=(0, 1, 2), backend="numba")
    kernels = re.findall(r"^def (\w+_sum\d*)\(", gradient.source, flags=re.MULTILINE)
    assert kernels == ["_same_form_twice_grad_sum"], kernels
    assert gradient.source.count("_same_form_twice_grad_sum(") == 3  # its definition and two calls
    rng = np.random.default_rng(5)
    args = (rng.normal(size=3), rng.normal(size=(3, 4)), rng.normal(size=(3, 4)))
    _agrees(_same_form_twice, (0, 1, 2), gradient, args)


def _carried_sum_of_a_broadcast(x):
    acc = 0.0
    for i in range(3):
        t = np.sin(x) * (i + 1.0) + acc
        acc = acc + np.sum(t)
    return acc


def test_a_kernel_reading_through_a_broadcast_sees_the_carried_cotangent_before_the_body_rebinds_it():
    # In the reverse loop, acc's cotangent `a_bar` is carried and `sum_to(t_bar + broadcast_to(a_bar, s))`
    # is fused into a kernel that reads `a_bar` itself (through the broadcast), after `a_bar = a_bar + ...`
    # has rebound the name the carried value and its next one share: the gradient was 4x too large.
    x = np.array([0.5, -1.2, 2.0])
    gradient = sd.grad(_carried_sum_of_a_broadcast, backend="numba")
    assert "_sum_to(" in gradient.source and "loop_nest(" in gradient.source  # still fused
    got = gradient(x)
    assert_same(got, sd.grad(_carried_sum_of_a_broadcast)(x))
    np.testing.assert_allclose(got, numeric_grad(_carried_sum_of_a_broadcast, (x,), 0), rtol=1e-6, atol=1e-7)


def test_a_read_liveness_does_not_know_of_stops_the_build(monkeypatch):
    # The printer checks every name it reads against liveness: without the kernels' reads through
    # broadcasts, the same program is refused at build time instead of computing a wrong gradient.
    from symdiff.backends.numba import lowering

    function = sd.grad(_carried_sum_of_a_broadcast).function
    assert "loop_nest(" in numba_backend.numba_source(function, lowering.NumbaOptions())
    monkeypatch.setattr(lowering, "kernel_reads", lambda eqn, plan, defs: ())
    with pytest.raises(BackendError, match="liveness did not count"):
        numba_backend.numba_source(function, lowering.NumbaOptions())


def test_a_long_chains_shape_reads_grow_linearly_with_it(tmp_path):
    # Each shape read of an elementwise value is computed from its operands' shapes; the shapes of
    # the values before it are computed once and read again. Printed as a tree at every read, a
    # 20-statement function's gradient had 3,100 shape statements, which dominated its compile.
    from symdiff.backends.numba import lowering
    from tests.long_functions import load, mixed_source

    counts = []
    for statements in (10, 40):
        function = sd.grad(load(tmp_path, mixed_source(statements), "mixed"), wrt=(0, 1, 2, 3)).function
        source = numba_backend.numba_source(function, lowering.NumbaOptions())
        counts.append(source.count("np.broadcast_shapes(") + source.count("shape_of("))
    assert counts[1] <= 5 * counts[0]  # 4x the statements: linear growth, not the tree's ~16x
    assert counts[1] <= 2 * 40


def test_kernels_equal_up_to_names_are_printed_once(tmp_path):
    # The mixed function repeats its ten kinds of statement; each distinct kernel is printed (and
    # compiled) once and called at every site with that site's arguments. Checked against the
    # NumPy backend and finite differences.
    from tests.long_functions import load, mixed_source

    function = load(tmp_path, mixed_source(20), "mixed")
    gradient = sd.grad(function, wrt=(0, 1, 2, 3), backend="numba")
    defined = re.findall(r"^def (mixed_grad_\w+)\(", gradient.source, re.MULTILINE)
    calls = re.findall(r"\b(mixed_grad_\w+)\(", gradient.source)
    assert len(calls) - len(defined) > len(defined)  # more call sites than kernels: some serve several
    rng = np.random.default_rng(5)
    args = (rng.normal(size=(3, 4)), rng.normal(size=(3, 4)), rng.normal(size=4), 0.5 * rng.normal(size=(4, 4)))
    got, want = gradient(*args), sd.grad(function, wrt=(0, 1, 2, 3))(*args)
    assert_same(got, want)
    for k, g in enumerate(got):
        np.testing.assert_allclose(g, numeric_grad(function, args, k), rtol=1e-6, atol=1e-6)


def test_the_kernel_key_renames_parameters_and_locals_only():
    from symdiff.backends.numba.kernels import same_kernel_key

    def text(a, b, helper="flat", name="k", doc="one"):
        return (
            f'def {name}({a}, {b}):\n    """{doc}"""\n    t = {helper}({a})\n'
            f"    for i in range(t.size):\n        t[i] += {b}\n    return t\n"
        )

    assert same_kernel_key(text("x", "y")) == same_kernel_key(text("p", "q", name="k2", doc="two"))
    assert same_kernel_key(text("x", "y")) != same_kernel_key(text("y", "x").replace("t[i] += x", "t[i] += y"))
    assert same_kernel_key(text("x", "y")) != same_kernel_key(text("x", "y", helper="at"))  # another global
