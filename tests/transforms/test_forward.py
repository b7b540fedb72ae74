"""Forward mode (`transforms/forward.py`): tangents pushed through the Wengert list.

Oracles: central finite differences along the tangent, and the reverse-mode
gradient dotted with it (two independent computations of one number).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import symdiff as sd
from symdiff.api import build
from tests.oracles import numeric_grad

RS = np.random.RandomState(7)
X = RS.uniform(0.2, 1.2, 6)
V = RS.randn(6)
M = RS.randn(6, 6) + 6.0 * np.eye(6)


def broadcasting(x, y):
    z = np.tanh(x * y) + np.sum(x**2)
    w = np.reshape(z, (2, 3)) @ np.ones((3, 2))
    return np.sum(w * w) / np.max(x)


def reductions(x, y):
    a = np.reshape(x, (2, 3))
    return np.sum(np.mean(a, axis=0) * np.min(a, axis=1)[0]) + np.prod(a[0]) + np.sum(np.sort(x) * np.arange(6))


def shapes(x, y):
    a = np.concatenate([x[:3], x[3:] * y, np.array([1.0])])
    b = np.stack([a, a**2], axis=1)
    c = np.transpose(b)[::-1]
    return np.sum(np.outer(c[0], c[1]) ** 2) + np.dot(x, x[::-1]) + np.sum(np.cumsum(np.flip(x)) ** 2)


def linear_algebra(x, y):
    a = M + np.diag(x)
    s = np.linalg.solve(a, x * y)
    return np.sum(s**2) + np.sum(np.linalg.inv(a)) + np.log(np.linalg.det(a)) + np.sum(np.linalg.cholesky(a @ a.T))


def loops_and_branches(x, y):
    h = x
    total = 0.0
    for t in range(5):
        if np.sum(h) > 2.0:
            h = np.sin(h) * y
        else:
            h = h * 1.5 + 0.1 * t
        total = total + np.sum(h * h)
    k = 0
    while np.sum(h * h) > 0.1 and k < 50:
        h = h * 0.7
        k = k + 1
    return total + np.sum(h)


def element_writes(x, y):
    out = np.zeros((4, 6))
    h = x
    for t in range(4):
        h = np.tanh(h * y + 0.1)
        out[t] = h
        out[t, 0] = out[t, 0] * 2.0
    return np.sum(out**2)


def listed(x, y):
    rows = [x]
    for t in range(3):
        rows.append(np.cos(rows[-1]) * y)
    return np.sum(np.stack(rows) ** 2)


FUNCTIONS = [broadcasting, reductions, shapes, linear_algebra, loops_and_branches, element_writes, listed]


@pytest.mark.parametrize("f", FUNCTIONS, ids=lambda f: f.__name__)
def test_the_tangent_is_the_directional_derivative(f):
    value, tangent = build(f, "x", "jvp", "numpy")(X, 0.8, V)
    assert value == pytest.approx(f(X, 0.8), rel=1e-14)
    along = np.sum(numeric_grad(lambda x: f(x, 0.8), (X,), 0) * V)
    assert tangent == pytest.approx(along, rel=1e-6, abs=1e-8)
    reverse = np.sum(sd.grad(f)(X, 0.8) * V)
    assert tangent == pytest.approx(reverse, rel=1e-11, abs=1e-12)


@pytest.mark.parametrize("f", FUNCTIONS, ids=lambda f: f.__name__)
def test_a_scalar_argument_has_a_tangent_too(f):
    _, tangent = sd.jvp(f, wrt=1)(X, 0.8, 1.0)
    assert tangent == pytest.approx(sd.grad(f, wrt=1)(X, 0.8), rel=1e-11, abs=1e-12)


@pytest.mark.parametrize("f", [broadcasting, loops_and_branches, element_writes, listed], ids=lambda f: f.__name__)
def test_numba_agrees(f):
    value, tangent = sd.jvp(f, backend="numba")(X, 0.8, V)
    expected = sd.jvp(f)(X, 0.8, V)
    np.testing.assert_allclose((value, tangent), expected, rtol=1e-12, atol=1e-14)


def test_the_code_is_the_function_with_its_tangents_beside_it():
    source = sd.jvp(loops_and_branches).source
    assert "def loops_and_branches_jvp(x, y, x_dot):" in source
    assert "h_dot = " in source and "total_dot = " in source
    assert "tape" not in source and "reversed(" not in source  # one pass forwards, nothing saved


def vector_valued(x):
    return np.tanh(x) * x[::-1]


def test_a_vector_valued_function_gets_its_jacobian_times_the_tangent():
    _, tangent = sd.jvp(vector_valued)(X, V)
    jacobian = np.array([numeric_grad(lambda x, k=k: vector_valued(x)[k], (X,), 0) for k in range(6)])
    np.testing.assert_allclose(tangent, jacobian @ V, rtol=1e-6, atol=1e-8)


def rosen(x):
    return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


def test_forward_over_reverse_is_a_hessian_vector_product():
    gradient = sd.grad(rosen)
    _, hv = sd.jvp(gradient)(X, V)
    np.testing.assert_allclose(hv, sd.hvp(rosen)(X, V), rtol=1e-11, atol=1e-10)
    assert "x_bar_dot" in sd.jvp(gradient).source or "_bar_dot" in sd.jvp(gradient).source


def logdet(x):
    a = M + np.diag(x)
    return np.linalg.slogdet(a)[1]


def test_an_op_without_a_tangent_rule_falls_back_to_two_reverse_passes():
    with pytest.raises(sd.SymdiffError, match="no tangent rule for slogdet_packed") as info:
        build(logdet, "x", "jvp", "numpy")
    assert ":" in str(info.value).splitlines()[0]  # where it is used
    _, tangent = sd.jvp(logdet)(X, V)
    assert tangent == pytest.approx(np.sum(sd.grad(logdet)(X) * V), rel=1e-10)


def test_random_programs_agree_with_reverse_mode(tmp_path):
    """The fuzzer's programs (tests/fuzz): the tangent equals the gradient dotted with it."""
    from tests.fuzz.check import _copies, _float64, _load
    from tests.fuzz.programs import generate

    compared = 0
    for seed in range(108_000_000, 108_000_080):
        program = generate(seed)
        _, f = _load(tmp_path, program.source)
        args = [_float64(a) for a in program.args]
        wrt = program.wrt if isinstance(program.wrt, int) else program.wrt[0]
        if not isinstance(wrt, int) or not isinstance(args[wrt], np.ndarray) and not isinstance(args[wrt], float):
            continue
        direction = np.random.RandomState(seed % 1000).randn(*np.shape(args[wrt]))
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                gradient = sd.grad(f, wrt=wrt)(*_copies(args))
            except sd.SymdiffError:
                continue  # refused by reverse mode too
            value, tangent = sd.jvp(f, wrt=wrt)(*_copies(args), direction)
        expected = np.sum(gradient * direction)
        if not np.isfinite(expected) or not np.all(np.isfinite(value)):
            continue  # e.g. the mean of an empty slice: nan, whose tangent is nan too
        np.testing.assert_allclose(
            tangent, expected, rtol=1e-9, atol=1e-9 * (1 + abs(expected)), err_msg=f"program {seed}"
        )
        compared += 1
    assert compared >= 40


@pytest.mark.parametrize("f", [loops_and_branches, element_writes, listed], ids=lambda f: f.__name__)
def test_forward_over_reverse_on_numba(f):
    """The gradient's code, read again, peels its loop's first iteration: its tapes get a push
    before the loop, which the Numba backend's tape merging once dropped (an empty pop)."""
    expected = sd.hvp(f)(X, 0.8, V)
    np.testing.assert_allclose(sd.hvp(f, backend="numba")(X, 0.8, V), expected, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("f", FUNCTIONS, ids=lambda f: f.__name__)
def test_hvp_is_forward_over_reverse_and_agrees_with_reverse_over_reverse(f):
    from symdiff.higher import _wrapper

    gradient = build(f, "x", "grad", "numpy")
    by_reverse = build(_wrapper(f, gradient, "v", "np.sum(inner({args}) * {extra})", "hvp"), "x", "grad", "numpy")
    product = sd.hvp(f)
    assert product.source.startswith(f"def {f.__name__}_grad_jvp(")
    np.testing.assert_allclose(product(X, 0.8, V), by_reverse(X, 0.8, V), rtol=1e-10, atol=1e-12)


# -- several tangents at once: `jvp_function(..., batched=True)`, behind hessian and jacobian --

DIRECTIONS = RS.randn(4, 6)


@pytest.mark.parametrize("f", [broadcasting, loops_and_branches, element_writes], ids=lambda f: f.__name__)
def test_batched_tangents_are_the_tangents_of_each_direction(f):
    batched = build(f, "x", "jvps", "numpy")
    value, tangents = batched(X, 0.8, DIRECTIONS)
    assert value == f(X, 0.8)
    expected = [sd.jvp(f)(X, 0.8, d)[1] for d in DIRECTIONS]
    np.testing.assert_allclose(tangents, expected, rtol=1e-13, atol=1e-14)


def mlp(w, x):
    h = np.tanh(x @ np.reshape(w[:60], (6, 10)))
    return np.sum(np.log1p(np.exp(h @ np.reshape(w[60:70], (10, 1)))))


def matrix_vector(x, a):
    return np.sum((a @ x - 1.0) ** 2) + np.sum(np.tanh(x @ a.T)) + x @ x * np.max(x)


@pytest.mark.parametrize(
    "f, args",
    [(rosen, (X,)), (mlp, (RS.randn(70) * 0.3, RS.randn(5, 6))), (matrix_vector, (X, RS.randn(3, 6)))],
    ids=["rosen", "mlp", "matrix_vector"],
)
def test_a_hessian_in_one_batched_pass_is_the_one_of_hvps(f, args):
    hessian = sd.hessian(f, sparsity=False)(*args)
    n = np.size(args[0])
    columns = np.stack([sd.hvp(f)(*args, e.reshape(np.shape(args[0]))) for e in np.eye(n)], axis=-1)
    np.testing.assert_allclose(hessian, columns, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(hessian, hessian.T, rtol=1e-9, atol=1e-9)


def test_ops_without_a_batched_rule_fall_back_to_one_product_per_direction():
    with pytest.raises(sd.SymdiffError, match="several tangents at once for np.sort"):
        build(sd.grad(reductions), "x", "jvps", "numpy")
    hessian = sd.hessian(reductions)(X, 0.8)
    columns = np.stack([sd.hvp(reductions)(X, 0.8, e) for e in np.eye(6)], axis=-1)
    np.testing.assert_allclose(hessian, columns, rtol=1e-12, atol=1e-12)


def tall(x):
    return np.tanh(np.outer(x, x[:3]) @ np.ones(3)) * np.concatenate([x, x])[:6]


@pytest.mark.parametrize("f", [tall, vector_valued], ids=lambda f: f.__name__)
def test_a_jacobian_with_as_many_outputs_as_inputs_takes_its_columns_in_one_forward_pass(f):
    build(f, "x", "jvps", "numpy")  # the batched rules cover it
    jacobian = sd.jacobian(f)(X)
    rows = np.array([numeric_grad(lambda x, k=k: f(x)[k], (X,), 0) for k in range(6)])
    np.testing.assert_allclose(jacobian, rows, rtol=1e-6, atol=1e-8)


def test_a_function_built_per_shape_gets_its_tangent_from_reverse_mode():
    """GradBench's det recurses on A.shape[0]: built for each shape, which forward mode leaves to
    reverse mode (jvp, hvp and hessian all answer, and agree with the gradient)."""
    from benchmarks.gradbench import det

    a = np.random.default_rng(0).random((3, 3))
    direction = np.random.default_rng(1).normal(size=(3, 3))
    _, tangent = sd.jvp(det.det_by_minor)(a, direction)
    assert tangent == pytest.approx(np.sum(sd.grad(det.det_by_minor)(a) * direction), rel=1e-12)
    hessian = sd.hessian(det.det_by_minor)(a)
    np.testing.assert_allclose(np.tensordot(hessian, direction, axes=2), sd.hvp(det.det_by_minor)(a, direction))


def charges(x, w):
    """A row of constants beside a row that depends on w: the constant row's tangent is its zeros."""
    points = np.array([[10.0, 10.0 - w], [10.0, 0.0]])
    return np.sum(1.0 / np.sqrt(np.sum((x - points) ** 2, axis=1)))


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_a_constant_row_beside_a_differentiated_one_gets_zeros_of_its_shape(backend):
    x = np.array([0.5, 8.0])
    _, tangent = sd.jvp(charges, wrt=1, backend=backend)(x, 0.3, 1.0)
    assert tangent == pytest.approx(numeric_grad(charges, (x, 0.3), 1), rel=1e-7)


def test_a_batched_hessian_shows_the_batched_code_it_runs():
    source = sd.hessian(rosen).source
    assert source.startswith("def rosen_grad_jvp(") and "batch_index(" in source  # the tangents' batch axis
    assert "batch_" not in sd.hessian(reductions).source  # no batched rule for np.sort: one hvp per column


def separated(x):
    cube = np.reshape(np.tanh(x), (2, 1, 3))
    return np.sum(cube[np.array([0, 1]), :, np.array([2, 0])] ** 2)


def test_indices_that_cannot_be_batched_fall_back_to_one_product_per_direction():
    x = np.linspace(0.1, 0.9, 6)
    hessian = sd.hessian(separated)(x)
    columns = np.stack([sd.hvp(separated)(x, e) for e in np.eye(6)], axis=-1)
    np.testing.assert_allclose(hessian, columns, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(sd.hvp(separated)(x, V), np.tensordot(hessian, V, axes=1), rtol=1e-10)
    gradient = numeric_grad(separated, (x,), 0)
    np.testing.assert_allclose(sd.grad(separated)(x), gradient, rtol=1e-6, atol=1e-8)


# Found by tests/fuzz/sparse_check.py, which checks the batched Hessian against one hvp per column.


def gradient_free_of_x(x, y):
    return np.sum(x * y) + np.sum(np.sin(y))  # linear in x: the gradient's tangent is zero


def dot_of_two_active_vectors(x):
    weights = np.ones((3,))
    weights[-1] -= np.sum(x**2)
    return np.cos(np.sin(x) @ weights)  # 1-D @ 1-D, both operands depend on x


def written_after_a_broadcast(x):
    out = np.full((3,), 0.5)
    for i in range(1, 3):
        out[i] += np.tanh(out[i - 1] * 0.5 + np.sin(x[i]))
    out[1:] = 0.0  # the adjoint of this write lands on a tangent made by np.broadcast_to (read-only)
    for i in range(3):
        out[i] += 1.0
    return np.mean(out * out) + np.sum(x**3)


def summed_along_the_last_axis_of_a_scalar(x):
    total = np.sum(x**2)
    return np.sum(np.sin(np.sum(np.exp(total), axis=-1, keepdims=True)))  # NumPy: axis -1 of a 0-d is no axis


@pytest.mark.parametrize(
    "f",
    [gradient_free_of_x, dot_of_two_active_vectors, written_after_a_broadcast, summed_along_the_last_axis_of_a_scalar],
)
def test_the_batched_hessian_equals_one_hvp_per_column(f):
    x = np.array([0.3, -0.7, 1.1])
    args = (x, x + 1.0) if f is gradient_free_of_x else (x,)
    hessian = sd.hessian(f, sparsity=False)(*args)
    columns = np.stack([sd.hvp(f)(*args, e) for e in np.eye(3)], axis=-1)
    np.testing.assert_allclose(hessian, columns, rtol=1e-12, atol=1e-12)
    gradient = sd.grad(f)
    for k in range(3):
        row = numeric_grad(lambda x, k=k: gradient(x, *args[1:])[k], (x,), 0)
        np.testing.assert_allclose(hessian[k], row, rtol=1e-6, atol=1e-6)


def inner_tapes_inactive_in_the_first_outer_step(x, y):
    total = np.sum(y)  # free of x until the first outer step has run: that step's inner tape holds no tangent
    for _ in range(2):
        out = np.zeros((3,))
        for k in range(1, 3):
            out[k] += np.tanh(out[k - 1] * 0.5 + total)
        for k in range(1, 3):
            out[k] = np.tanh(out[k - 1] * 0.5 + np.sum(x * x))
        total = total - np.sum(out * out)
    return total


def test_tapes_saved_per_outer_step_get_tangents_in_every_step():
    """Found by tests/fuzz/sparse_check.py (seed 7679): an inner loop's tape saved per outer step was given an
    empty tangent tape in the step where its values did not depend on x, and the backward loop then popped
    tangents from it (an IndexError at the call)."""
    x, y = np.array([0.3, -0.7, 1.1]), np.array([0.2, 0.5, 0.1])
    f = inner_tapes_inactive_in_the_first_outer_step
    hessian = sd.hessian(f)(x, y)
    columns = np.stack([sd.hvp(f)(x, y, e) for e in np.eye(3)], axis=-1)
    np.testing.assert_allclose(hessian, columns, rtol=1e-12, atol=1e-12)
    gradient = sd.grad(f)
    for k in range(3):
        row = numeric_grad(lambda x, k=k: gradient(x, y)[k], (x,), 0)
        np.testing.assert_allclose(hessian[k], row, rtol=1e-6, atol=1e-6)


# Forward mode aligns a batch of tangents to its result's rank only where the ranks may differ
# (analysis/ranks.py's RankClasses): slices keep the rank, so do elementwise ops of one rank.


def slices_of_one_rank(x):
    spread = np.broadcast_to(x[:1], np.shape(x[1:]))  # one rank in and out: broadcast past the batch axis
    return np.sum((x[1:] - x[:1]) ** 2 * np.cos(x[:-1])) + np.sum(spread * x[1:] ** 3)


def matrix_slices(x):
    return np.sum(np.tanh(x[1:, :] * x[:-1, :1])) + np.sum(x[:, 1:] ** 2 * x[:1, :-1]) + np.sum(x[:, :1] * x)


@pytest.mark.parametrize("f, x", [(slices_of_one_rank, np.linspace(-0.8, 1.1, 5)), (matrix_slices, RS.randn(3, 4))])
def test_tangents_of_one_rank_broadcast_and_sum_without_alignment(f, x):
    batched = sd.hessian(f, sparsity=False)
    assert "batch_aligned" not in batched.source  # every operand's rank is its result's
    hessian = batched(x).reshape(x.size, x.size)
    columns = np.stack([np.ravel(sd.hvp(f)(x, e.reshape(x.shape))) for e in np.eye(x.size)], axis=-1)
    np.testing.assert_allclose(hessian, columns, rtol=1e-12, atol=1e-12)
    gradient = sd.grad(f)
    for k in range(x.size):
        row = numeric_grad(lambda x, k=k: np.ravel(gradient(x))[k], (x,), 0)
        np.testing.assert_allclose(hessian[k], np.ravel(row), rtol=1e-6, atol=1e-6)


# jacrev: with fewer outputs than inputs, `jacobian` takes the vjp's forward mode along its
# cotangent (the vjp is linear in it): every row in one forward pass and one batched backward pass.


def few_outputs(w, x):
    hidden = np.tanh(x @ w)  # (2, 3): w is (4, 3), twelve inputs, four outputs
    return hidden @ np.ones((3, 2)) * np.sum(w**2) + x[:, :2] * w[0, 0]


def test_a_wide_jacobian_takes_every_row_in_one_batched_reverse_pass():
    from symdiff.higher import _batched_rows

    w, x = RS.randn(4, 3) * 0.5, RS.randn(2, 4)
    back = build(few_outputs, "w", "vjp", "numpy")
    rows = _batched_rows(back, "numpy")
    assert rows is not None
    tangents = rows(w, x, np.zeros((2, 2)), np.eye(4).reshape(4, 2, 2))  # the tangents alone
    by_each = np.stack([sd.vjp(few_outputs)(w, x, e.reshape(2, 2)) for e in np.eye(4)])
    np.testing.assert_allclose(tangents, by_each, rtol=1e-13, atol=1e-14)
    jacobian = sd.jacobian(few_outputs, sparsity=False)(w, x)
    assert jacobian.shape == (2, 2, 4, 3)
    np.testing.assert_allclose(jacobian.reshape(4, 4, 3), by_each, rtol=1e-13, atol=1e-14)
    for k in range(4):
        row = numeric_grad(lambda w, k=k: np.ravel(few_outputs(w, x))[k], (w,), 0)
        np.testing.assert_allclose(jacobian.reshape(4, 4, 3)[k], row, rtol=1e-6, atol=1e-8)


# Found by tests/fuzz/sparse_check.py (seed 80163), wrong before this was fixed: an if binds two of
# its results to one arm's array (`t, t_saved = v, v`), and the tangent code wrote into one in
# place (`t_dot[-1] = ...`) while the backward pass still read the other (codegen/layout.py).


def written_after_a_branch(x):
    if x[0] > 1.0:
        t = np.cosh(x)
    else:
        t = np.exp(x)
    t[-1] += x[0]
    return np.sum(np.cos(t))


def copied_after_nested_branches(x, y):
    if np.max(x) > 1.0:
        t = np.cosh(x)
    elif np.mean(x) < 0.1:
        t = np.exp(x)
    out = np.copy(t)
    out[-1] += np.arctan(np.min(np.sin(x)) + np.sum(y))
    return np.sum(np.cos(out))


@pytest.mark.parametrize("f", [written_after_a_branch, copied_after_nested_branches], ids=lambda f: f.__name__)
@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_a_write_into_one_result_of_an_if_leaves_its_twin_alone(f, backend):
    x = np.array([-1.26515853, 0.14984053, -1.21408209])
    args = (x, np.array([-0.69, -1.42])) if f is copied_after_nested_branches else (x,)
    gradient = sd.grad(f)
    numeric = np.stack([numeric_grad(lambda x, k=k: gradient(x, *args[1:])[k], (x,), 0) for k in range(3)])
    columns = np.stack([sd.hvp(f, backend=backend)(*args, e) for e in np.eye(3)], axis=-1)
    np.testing.assert_allclose(columns, numeric, rtol=1e-6, atol=1e-6)
    if backend == "numpy":
        np.testing.assert_allclose(sd.hessian(f, sparsity=False)(*args), numeric, rtol=1e-6, atol=1e-6)
