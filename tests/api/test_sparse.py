"""Sparse Hessians and Jacobians (issue 16): the traced pattern holds every nonzero, the colouring
is valid, and the recovered matrix equals the dense one with every direction (`sparsity=False`,
itself checked against finite differences in tests/api/test_higher.py). The dense `hessian` and
`jacobian` take the compressed pass where it saves half their directions: the same numbers."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse

import symdiff as sd
from symdiff.coloring import star_colors, star_sources
from symdiff.errors import NoSparsityPattern
from symdiff.sparse import color_columns
from tests.oracles import numeric_grad


def rosen_chain(x):
    return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


def grid_energy(u):
    """A 2-D nonlinear Laplacian on a grid: a five-point Hessian pattern."""
    dx = u[1:, :] - u[:-1, :]
    dy = u[:, 1:] - u[:, :-1]
    return np.sum(np.sqrt(1.0 + dx**2)) + np.sum(np.sqrt(1.0 + dy**2)) + np.sum(np.cos(u) * u**2)


def filled_in_a_loop(x):
    out = np.zeros(x.shape[0] - 2)
    for i in range(x.shape[0] - 2):
        out[i] = x[i] * np.tanh(x[i + 2])
    return np.sum(out**2) + np.max(x) ** 2


def by_edges(x, first, second, weight):
    """Pairs of elements given by index arrays: the pattern follows the edges, not a band."""
    return np.sum(weight * (x[first] - x[second]) ** 4) + np.sum(np.where(x > 0, x**3, -x))


def residuals(x):
    return np.stack([x[1:] * x[:-1], np.sin(x[1:]) - x[:-1] ** 2])


def rows_through_a_layer(x, weights):
    """Each output row reads one row of x, through a matrix product."""
    return np.tanh(x @ weights) * np.sum(x, axis=1, keepdims=True)


EDGES = (np.array([0, 3, 5, 1, 6]), np.array([4, 7, 2, 6, 0]))
HESSIAN_CASES = [
    (rosen_chain, (np.linspace(-1.2, 1.1, 9),)),
    (grid_energy, (np.sin(np.arange(20.0)).reshape(4, 5),)),
    (filled_in_a_loop, (np.linspace(0.3, 1.4, 7),)),
    (by_edges, (np.linspace(-0.9, 1.3, 8), *EDGES, 1.5)),
]


def dense(matrix_of_x: np.ndarray, x: np.ndarray, rows: int) -> np.ndarray:
    return np.asarray(matrix_of_x).reshape(rows, np.size(x))


@pytest.mark.parametrize("f, args", HESSIAN_CASES, ids=lambda v: getattr(v, "__name__", ""))
def test_sparse_hessian_equals_the_dense_one_and_its_pattern_holds_every_nonzero(f, args):
    x = args[0]
    expected = dense(sd.hessian(f, sparsity=False)(*args), x, x.size)
    sparse = sd.sparse_hessian(f)
    matrix = sparse(*args)
    assert scipy.sparse.issparse(matrix) and matrix.shape == (x.size, x.size)
    np.testing.assert_allclose(matrix.toarray(), expected, rtol=1e-12, atol=1e-12)
    pattern = sparse.pattern(*args).toarray()
    assert not np.any((expected != 0) & ~pattern)  # no nonzero left out
    assert pattern.sum() < x.size**2 or f is filled_in_a_loop  # and the pattern is sparse


def test_the_pattern_of_a_chain_is_its_band_and_takes_three_colours_at_any_size():
    for n in (5, 50, 2000):
        x = np.linspace(-1.0, 1.0, n)
        sparse = sd.sparse_hessian(rosen_chain)
        band = scipy.sparse.diags([np.ones(n - 1), np.ones(n), np.ones(n - 1)], [-1, 0, 1]).toarray() != 0
        np.testing.assert_array_equal(sparse.pattern(x).toarray(), band)
        assert sparse.colors(x).max() + 1 == 3
    hvp = sd.hvp(rosen_chain)
    matrix = sparse(x)
    for k in (0, 1, 999, 1999):
        e = np.zeros(n)
        e[k] = 1.0
        np.testing.assert_allclose(matrix[:, [k]].toarray().ravel(), hvp(x, e), rtol=1e-12, atol=1e-12)


def test_a_hessian_row_matches_finite_differences_of_the_gradient():
    x = np.linspace(-0.9, 1.3, 8)
    args = (x, *EDGES, 1.5)
    matrix = sd.sparse_hessian(by_edges)(*args).toarray()
    gradient = sd.grad(by_edges)
    for k in range(x.size):
        column = numeric_grad(lambda x, k=k: gradient(x, *EDGES, 1.5)[k], (x,), 0)
        np.testing.assert_allclose(matrix[k], column, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize(
    "f, args",
    [
        (residuals, (np.linspace(0.2, 1.9, 7),)),
        (rows_through_a_layer, (np.linspace(-1, 1, 12).reshape(4, 3), np.arange(6.0).reshape(3, 2) / 5)),
    ],
)
def test_sparse_jacobian_equals_the_dense_one(f, args):
    x = args[0]
    out = np.asarray(f(*args))
    expected = dense(sd.jacobian(f, sparsity=False)(*args), x, out.size)
    sparse = sd.sparse_jacobian(f)
    matrix = sparse(*args)
    assert matrix.shape == (out.size, x.size)
    np.testing.assert_allclose(matrix.toarray(), expected, rtol=1e-12, atol=1e-12)
    assert sparse.colors(*args).max() + 1 < x.size  # fewer products than columns


def test_colouring_never_gives_one_colour_to_columns_that_share_a_row():
    rng = np.random.default_rng(3)
    for _ in range(20):
        pattern = scipy.sparse.random(30, 25, density=0.1, random_state=rng, format="csr") != 0
        colors = color_columns(pattern)
        dense_pattern = pattern.toarray()
        for color in np.unique(colors):
            assert dense_pattern[:, colors == color].sum(axis=1).max(initial=0) <= 1


def test_the_pattern_follows_index_arrays_given_as_arguments():
    x = np.linspace(-0.9, 1.3, 8)
    sparse = sd.sparse_hessian(by_edges)
    first = sparse.pattern(x, *EDGES, 1.5).toarray()
    other = (np.array([0, 1]), np.array([7, 6]))
    second = sparse.pattern(x, *other, 1.5).toarray()
    assert first[0, 4] and not second[0, 4] and second[0, 7]
    np.testing.assert_allclose(
        sparse(x, *other, 1.5).toarray(), sd.hessian(by_edges, sparsity=False)(x, *other, 1.5), atol=1e-12
    )


def branches_on_x(x):
    if np.sum(x) > 0:
        return np.sum(x[1:] * x[:-1] ** 2)
    total = 0.0
    for k in range(x.shape[0]):
        if x[k] > 0.5:  # a branch in a loop: one outcome per step, every combination traced
            total = total + x[k] ** 3
    return total + np.sum(x**2)


def test_branches_on_x_are_traced_both_ways_and_the_patterns_joined():
    sparse = sd.sparse_hessian(branches_on_x)
    for x in (np.linspace(0.1, 1.0, 5), np.linspace(-1.0, 0.4, 5), np.linspace(-2.0, 1.0, 5)):
        np.testing.assert_allclose(
            sparse(x).toarray(), sd.hessian(branches_on_x, sparsity=False)(x), rtol=1e-12, atol=1e-12
        )
    band = np.abs(np.subtract.outer(np.arange(5), np.arange(5))) <= 1
    np.testing.assert_array_equal(sparse.pattern(np.ones(5)).toarray(), band)


def many_branches(x):
    total = 0.0
    for k in range(x.shape[0]):
        if x[k] > 0.0:
            total = total + x[k] ** 3
    return total


def sorts_x(x):
    return np.sum(np.sort(x) * np.arange(x.shape[0]) ** 2)


def test_too_many_paths_are_refused():
    with pytest.raises(NoSparsityPattern, match="more than 64 paths"):
        sd.sparse_hessian(many_branches)(np.ones(7))  # 2**7 combinations


def test_a_pattern_that_x_decides_is_refused_and_a_given_pattern_is_used():
    f = sorts_x
    x = np.linspace(0.1, 1.0, 5)
    with pytest.raises(NoSparsityPattern, match="cannot be traced") as caught:
        sd.sparse_hessian(f)(x)
    assert "pattern=" in str(caught.value)
    given = sd.sparse_hessian(f, pattern=np.ones((5, 5), dtype=bool))(x)
    np.testing.assert_allclose(given.toarray(), sd.hessian(f, sparsity=False)(x), rtol=1e-12, atol=1e-12)
    with pytest.raises(NoSparsityPattern, match="shape"):
        sd.sparse_hessian(f, pattern=np.eye(4))(x)


def test_the_numba_backend_takes_one_compiled_product_per_colour():
    x = np.linspace(-1.2, 1.1, 30)
    matrix = sd.sparse_hessian(rosen_chain, backend="numba")(x)
    np.testing.assert_allclose(matrix.toarray(), sd.hessian(rosen_chain, sparsity=False)(x), rtol=1e-12, atol=1e-12)
    jacobian = sd.sparse_jacobian(residuals, backend="numba")(x).toarray()
    np.testing.assert_allclose(
        jacobian, sd.jacobian(residuals, sparsity=False)(x).reshape(-1, x.size), rtol=1e-12, atol=1e-12
    )


def running_products(x):
    """np.cumprod has no tangent rule yet: the pattern is traced through reverse mode."""
    return np.cumprod(np.tanh(x[1:] * x[:-1]))


def test_a_jacobian_forward_mode_cannot_take_is_traced_through_its_vjp():
    x = np.linspace(0.3, 1.2, 6)
    sparse = sd.sparse_jacobian(running_products)
    lower = np.tril(np.ones((5, 6)), 1) != 0  # output i reads x[0 .. i + 1]
    np.testing.assert_array_equal(sparse.pattern(x).toarray(), lower)
    np.testing.assert_allclose(
        sparse(x).toarray(), sd.jacobian(running_products, sparsity=False)(x), rtol=1e-12, atol=1e-12
    )


# -- the dense hessian and jacobian take the compressed pass where it saves half the directions --


def log_sum_exp(x):
    """Every element meets every other: a dense Hessian."""
    return np.log(np.sum(np.exp(x)))


def difference_residuals(x):
    """A discretised nonlinear ODE: each residual reads three neighbours (a tridiagonal Jacobian)."""
    return x[2:] - 2.0 * x[1:-1] + x[:-2] + 0.1 * np.sin(x[1:-1]) ** 2


def one_branch_on_x(x):
    if np.sum(x) > 0:
        return np.sum(x[1:] * x[:-1] ** 2)
    return np.sum(np.cos(x[1:] - x[:-1]))


def few_wide_rows(x):
    """Fewer outputs than inputs, each reading its own block of x: a vjp per row, or 1 compressed pass."""
    blocks = np.reshape(x, (4, 25))
    return np.sum(np.tanh(blocks) * blocks, axis=1)


@pytest.mark.parametrize(
    "f, args, colours",
    [
        (rosen_chain, (np.linspace(-1.2, 1.1, 40),), 3),
        (grid_energy, (np.sin(np.arange(48.0)).reshape(6, 8),), 7),
        (by_edges, (np.linspace(-0.9, 1.3, 8), *EDGES, 1.5), 3),
        (one_branch_on_x, (np.linspace(-2.0, 1.0, 12),), 3),
        (one_branch_on_x, (np.linspace(-1.0, 2.0, 12),), 3),
    ],
    ids=lambda v: getattr(v, "__name__", ""),
)
def test_the_dense_hessian_takes_the_compressed_pass_and_the_same_numbers(f, args, colours):
    x = args[0]
    hessian = sd.hessian(f)
    np.testing.assert_allclose(hessian(*args), sd.hessian(f, sparsity=False)(*args), rtol=1e-12, atol=1e-12)
    assert hessian.sparsity.plan(args, x.size).count <= colours
    if f is rosen_chain:  # and against finite differences of the gradient, a column at a time
        gradient = sd.grad(f)
        for k in (0, 17, 39):
            column = numeric_grad(lambda x, k=k: gradient(x)[k], (x,), 0)
            np.testing.assert_allclose(hessian(x)[k], column, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize(
    "f, x",
    [
        (log_sum_exp, np.linspace(-1.0, 1.0, 12)),  # dense: the trace gives up at half of x
        (sorts_x, np.linspace(0.1, 1.0, 6)),  # an order read from x: no pattern
        (many_branches, np.linspace(-1.0, 1.0, 8)),  # 2**8 paths: no pattern
    ],
    ids=lambda v: getattr(v, "__name__", ""),
)
def test_a_dense_or_untraceable_hessian_takes_every_direction(f, x):
    hessian = sd.hessian(f)
    np.testing.assert_allclose(hessian(x), sd.hessian(f, sparsity=False)(x), rtol=1e-12, atol=1e-12)
    assert hessian.sparsity.plan((x,), x.size) is None


def test_the_compressed_hessian_follows_the_values_of_the_other_arguments():
    x = np.linspace(-0.9, 1.3, 8)
    hessian, dense_hessian = sd.hessian(by_edges), sd.hessian(by_edges, sparsity=False)
    for first, second in (EDGES, (np.array([0, 1]), np.array([7, 6])), (np.array([2]), np.array([5]))):
        np.testing.assert_allclose(hessian(x, first, second, 1.5), dense_hessian(x, first, second, 1.5), atol=1e-12)


def test_data_that_changes_every_call_stops_the_tracing_for_its_shape():
    x = np.linspace(-1.2, 1.1, 10)
    hessian = sd.hessian(rosen_weighted)
    rng = np.random.default_rng(0)
    for _ in range(sd.sparsity.Sparsity.MAX_VALUES + 2):
        w = rng.uniform(0.5, 2.0, 9)
        np.testing.assert_allclose(hessian(x, w), sd.hessian(rosen_weighted, sparsity=False)(x, w), atol=1e-11)
    assert hessian.sparsity.plan((x, rng.uniform(size=9)), x.size) is None  # dense for this shape from now on
    assert hessian.sparsity.plan((x[:6], rng.uniform(size=5)), 6) is not None  # another shape traces afresh


def rosen_weighted(x, w):
    return np.sum(w * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


@pytest.mark.parametrize(
    "f, args, colours",
    [
        (difference_residuals, (np.linspace(0.2, 1.9, 30),), 3),
        (few_wide_rows, (np.linspace(-1.0, 1.0, 100),), 25),
        (rows_through_a_layer, (np.linspace(-1, 1, 24).reshape(8, 3), np.arange(6.0).reshape(3, 2) / 5), 3),
    ],
    ids=lambda v: getattr(v, "__name__", ""),
)
def test_the_dense_jacobian_takes_the_compressed_pass_and_the_same_numbers(f, args, colours):
    x = args[0]
    jacobian = sd.jacobian(f)
    expected = sd.jacobian(f, sparsity=False)(*args)
    found = jacobian(*args)
    np.testing.assert_allclose(found, expected, rtol=1e-12, atol=1e-12)
    rows = np.size(f(*args))
    plan = jacobian.sparsity.plan(args, min(rows, x.size))
    assert (plan.count if plan is not None else None) == (colours if colours <= min(rows, x.size) // 2 else None)
    flat = found.reshape(rows, x.size)
    for k in (0, rows - 1):  # a row against central differences
        row = numeric_grad(lambda x, k=k: np.ravel(f(x, *args[1:]))[k], (x,), 0)
        np.testing.assert_allclose(flat[k], np.ravel(row), rtol=1e-6, atol=1e-6)


def test_the_numba_hessian_takes_one_compiled_product_per_colour():
    x = np.linspace(-1.2, 1.1, 30)
    hessian = sd.hessian(rosen_chain, backend="numba")
    np.testing.assert_allclose(hessian(x), sd.hessian(rosen_chain, sparsity=False)(x), rtol=1e-12, atol=1e-12)
    assert hessian.sparsity.plan((x,), x.size).count == 3
    jacobian = sd.jacobian(difference_residuals, backend="numba")  # one compiled jvp per colour
    expected = sd.jacobian(difference_residuals, sparsity=False)(x)
    np.testing.assert_allclose(jacobian(x), expected, rtol=1e-12, atol=1e-12)
    assert jacobian.sparsity.plan((x,), x.size - 2).count == 3


# -- star colouring: a Hessian whose few dense rows would need a colour per column otherwise --


def hierarchical(x):
    """x[0] is a scale every term reads (an arrowhead Hessian): distance-1 colouring takes n colours."""
    return np.sum(np.exp(x[0]) * (x[1:] - 0.5) ** 2) + np.sum(np.cos(x[1:] * x[:-1])) + x[0] ** 4


def test_an_arrowhead_hessian_takes_a_few_colours_through_its_mirror_entries():
    x = np.linspace(-0.7, 0.9, 40)
    sparse = sd.sparse_hessian(hierarchical)
    expected = sd.hessian(hierarchical, sparsity=False)(x)
    np.testing.assert_allclose(sparse(x).toarray(), expected, rtol=1e-12, atol=1e-12)
    assert color_columns(sparse.pattern(x)).max() + 1 == x.size  # every column shares the hub's row
    assert sparse.colors(x).max() + 1 <= 4
    dense = sd.hessian(hierarchical)  # the dense Hessian takes the same few directions
    np.testing.assert_allclose(dense(x), expected, rtol=1e-12, atol=1e-12)
    assert dense.sparsity.plan((x,), x.size).count <= 4
    gradient = sd.grad(hierarchical)
    for k in (0, 1, 39):  # rows, the hub's included, against central differences of the gradient
        np.testing.assert_allclose(
            dense(x)[k], numeric_grad(lambda x, k=k: gradient(x)[k], (x,), 0), rtol=1e-6, atol=1e-6
        )


def test_star_colourings_recover_every_entry_of_random_symmetric_patterns():
    rng = np.random.default_rng(5)
    for trial in range(30):
        n = int(rng.integers(2, 40))
        upper = scipy.sparse.random(n, n, density=rng.uniform(0.02, 0.3), random_state=rng, format="csr")
        values = (upper + upper.T + scipy.sparse.eye(n)).toarray()
        if trial % 3 == 0:  # a hub or two
            hubs = trial % 2 + 1
            values[:hubs, :] = 1.0 + np.arange(n)
            values[:, :hubs] = values[:hubs, :].T
        pattern = scipy.sparse.csr_matrix(values != 0)
        colors = star_colors(pattern)
        sources = star_sources(pattern, colors)
        assert sources is not None
        products = np.stack([values @ (colors == c) for c in range(colors.max() + 1)])  # one per colour
        recovered = np.zeros_like(values)
        rows = np.repeat(np.arange(n), np.diff(pattern.indptr))
        recovered[rows, pattern.indices] = products.ravel()[sources]
        np.testing.assert_allclose(recovered, values, rtol=1e-12, atol=1e-12)


def test_a_colouring_that_is_not_a_star_is_never_used_for_recovery():
    path = scipy.sparse.csr_matrix(np.abs(np.subtract.outer(np.arange(4), np.arange(4))) <= 1)
    assert star_sources(path, np.array([0, 1, 0, 1])) is None  # the path 0-1-2-3 in two colours


def test_a_traced_matrix_product_has_the_sets_of_numpys_own_object_loop():
    from symdiff.sparsity import _RUNNING, _deps, _matmul, _Paths, _Set

    rng = np.random.default_rng(7)

    def traced(shape, columns=12):
        sets = np.empty(int(np.prod(shape)), dtype=object)
        sets[:] = [_Set(frozenset(rng.choice(columns, rng.integers(0, 3), replace=False).tolist())) for _ in sets]
        return sets.reshape(shape)

    _RUNNING.append(_Paths([], 12, 12))
    try:
        for a_shape, b_shape in [((3, 4), (4, 5)), ((4,), (4, 2)), ((3, 4), (4,)), ((2, 3, 4), (4, 2)), ((4,), (4,))]:
            a, b = traced(a_shape), traced(b_shape)
            for left, right in ((a, b), (a, rng.normal(size=b_shape)), (rng.normal(size=a_shape), b)):
                ours = np.asarray(_matmul(left, right), dtype=object)
                numpys = np.asarray(np.matmul(left.astype(object), right.astype(object)), dtype=object)
                assert ours.shape == numpys.shape
                for mine, theirs in zip(ours.ravel(), numpys.ravel()):
                    assert _deps(mine) == _deps(theirs)
    finally:
        _RUNNING.pop()


def scaled_chain(x, step):
    if step > 0.5:  # a branch on a number, not on x: its value may change the pattern
        return np.sum(step * (x[1:] - x[:-1] ** 2) ** 2)
    return np.sum(step * x**4)


def test_a_number_changing_every_call_is_traced_a_few_times_then_left_dense():
    x = np.linspace(-1.0, 1.0, 12)
    hessian = sd.hessian(scaled_chain)
    for step in (0.9, 0.1, 0.7, 0.2):  # both branches: a band, then a diagonal
        np.testing.assert_allclose(hessian(x, step), sd.hessian(scaled_chain, sparsity=False)(x, step), atol=1e-12)
    assert hessian.sparsity.plan((x, 0.1), x.size).count == 1  # the diagonal's own plan, not the band's
    assert hessian.sparsity.plan((x, 0.9), x.size).count == 3
    for step in np.linspace(0.01, 0.4, 2 * sd.sparsity.Sparsity.MAX_VALUES):
        np.testing.assert_allclose(hessian(x, step), sd.hessian(scaled_chain, sparsity=False)(x, step), atol=1e-12)
    assert hessian.sparsity.plan((x, 0.3), x.size) is None  # one shape, many values: the dense pass


def residuals_and_a_total(x):
    """Banded residuals and one output every element reads: a dense row, so a colour per column, but
    few colours of rows (the pass runs in reverse, a cotangent per colour of rows)."""
    return np.concatenate((x[1:] * x[:-1] - 0.5, np.reshape(np.sum(x * x), (1,))))


def test_a_jacobian_with_a_dense_row_is_compressed_by_rows():
    x = np.linspace(-0.8, 1.3, 30)
    expected = sd.jacobian(residuals_and_a_total, sparsity=False)(x)
    dense = sd.jacobian(residuals_and_a_total)
    np.testing.assert_allclose(dense(x), expected, rtol=1e-12, atol=1e-12)
    plan = dense.sparsity.plan((x,), x.size)
    assert plan.by_rows and plan.count <= 4
    assert color_columns(plan.pattern).max() + 1 == x.size  # the other way round: every column its own
    sparse = sd.sparse_jacobian(residuals_and_a_total)
    np.testing.assert_allclose(sparse(x).toarray(), expected, rtol=1e-12, atol=1e-12)
    assert sparse.by_rows(x) and sparse.colors(x).max() + 1 <= 4
    for k in (0, 28, 29):  # rows against central differences, the dense one included
        row = numeric_grad(lambda x, k=k: residuals_and_a_total(x)[k], (x,), 0)
        np.testing.assert_allclose(expected[k], row, rtol=1e-6, atol=1e-8)
    numba = sd.sparse_jacobian(residuals_and_a_total, backend="numba")(x)  # one compiled vjp per colour
    np.testing.assert_allclose(numba.toarray(), expected, rtol=1e-12, atol=1e-12)


def branches_on_values_of_conditions(x):
    """Two branches on values computed from conditions alone: their outcomes may differ."""
    c = (x > 0) * 1.0
    if c[0]:
        a = x[2]
    else:
        a = 1.0
    if c[1]:
        b = 1.0
    else:
        b = x[2]
    return a * b + np.sum(x)


def test_branches_on_values_without_indices_are_each_traced_both_ways():
    """Each such value is its own decision: one shared "no index" value tied every branch on one to
    the same outcome, so the path taken here (c[0] true, c[1] false: x[2] ** 2) was never traced
    and the Hessian's one nonzero was left out of the pattern."""
    x = np.array([1.0, -1.0, 0.7])
    expected = sd.hessian(branches_on_values_of_conditions, sparsity=False)(x)
    assert expected[2, 2] == 2.0
    np.testing.assert_allclose(sd.sparse_hessian(branches_on_values_of_conditions)(x).toarray(), expected)
    np.testing.assert_allclose(sd.hessian(branches_on_values_of_conditions)(x), expected)
