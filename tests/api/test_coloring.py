"""Acyclic colouring for sparse Hessians (issue 16): the colouring is acyclic (adjacent columns
differ, every cycle has three colours), it takes no more colours than star (fewer on a band:
b + 1 against 2b + 1), and the entries solved along its two-coloured trees are the Hessian's,
against the dense Hessian (every direction), finite differences, and random symmetric matrices."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import symdiff as sd
from symdiff.coloring import Compression, acyclic_colors, substitution
from tests.oracles import numeric_grad


def chain(x):
    """Rosenbrock's chain: a tridiagonal Hessian (a path: 2 acyclic colours, 3 star)."""
    return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


def pentadiagonal(x):
    """Each term reads three neighbours: a band of half-width 2 (3 acyclic colours, 5 star)."""
    return np.sum(np.sin(x[2:] * x[1:-1] + x[:-2]) ** 2) + np.sum(x**4)


def arrow(x):
    """x[0] scales every term: an arrowhead plus a band."""
    return np.sum(np.exp(x[0]) * (x[1:] - 0.5) ** 2) + np.sum(np.cos(x[1:] * x[:-1])) + x[0] ** 4


def grid(u):
    """A nonlinear Laplacian on a grid: a five-point pattern."""
    dx = u[1:, :] - u[:-1, :]
    dy = u[:, 1:] - u[:, :-1]
    return np.sum(np.sqrt(1.0 + dx**2)) + np.sum(np.sqrt(1.0 + dy**2)) + np.sum(np.cos(u) * u**2)


def by_edges(x, first, second):
    """Pairs given by index arrays: a random sparse pattern."""
    return np.sum((x[first] * x[second] - 0.3) ** 2) + np.sum(np.cosh(x))


RNG = np.random.default_rng(11)
EDGES = (RNG.integers(0, 30, 45), RNG.integers(0, 30, 45))
CASES = [
    (chain, (np.linspace(-1.2, 1.1, 40),)),
    (pentadiagonal, (np.linspace(-0.9, 1.3, 40),)),
    (arrow, (np.linspace(-0.7, 0.9, 40),)),
    (grid, (np.sin(np.arange(42.0)).reshape(6, 7),)),
    (by_edges, (np.linspace(-1.0, 1.2, 30), *EDGES)),
]


@pytest.mark.parametrize("f, args", CASES, ids=lambda v: getattr(v, "__name__", ""))
def test_the_acyclic_hessian_equals_the_dense_one_with_no_more_colours_than_star(f, args):
    x = args[0]
    expected = np.asarray(sd.hessian(f, sparsity=False)(*args)).reshape(x.size, x.size)
    acyclic, star = sd.sparse_hessian(f, coloring="acyclic"), sd.sparse_hessian(f)
    np.testing.assert_allclose(acyclic(*args).toarray(), expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(star(*args).toarray(), expected, rtol=1e-12, atol=1e-12)
    assert acyclic.colors(*args).max() <= star.colors(*args).max()
    pattern = acyclic.pattern(*args)
    assert _is_acyclic(pattern, acyclic.colors(*args)) or acyclic.coloring_used(*args) != "acyclic"


@pytest.mark.parametrize("f, acyclic_count, star_count", [(chain, 2, 3), (pentadiagonal, 3, 5)])
def test_a_band_takes_fewer_acyclic_colours_than_star_at_any_size(f, acyclic_count, star_count):
    for n in (12, 300, 5000):
        x = np.linspace(-1.0, 1.0, n)
        acyclic, star = sd.sparse_hessian(f, coloring="acyclic"), sd.sparse_hessian(f)
        assert acyclic.coloring_used(x) == "acyclic" and acyclic.colors(x).max() + 1 == acyclic_count
        assert star.colors(x).max() + 1 == star_count
        difference = abs(acyclic(x) - star(x)).max()  # sparse against sparse: no n^2 at 5000
        assert difference <= 1e-13 * abs(star(x)).max()  # solved along paths of n / 2: rounding grows with n


def test_acyclic_rows_match_finite_differences_of_the_gradient():
    x = np.linspace(-0.9, 1.3, 16)
    matrix = sd.sparse_hessian(pentadiagonal, coloring="acyclic")(x).toarray()
    gradient = sd.grad(pentadiagonal)
    for k in range(x.size):
        column = numeric_grad(lambda x, k=k: gradient(x)[k], (x,), 0)
        np.testing.assert_allclose(matrix[k], column, rtol=1e-6, atol=1e-6)


def _is_acyclic(pattern: scipy.sparse.spmatrix, colors: np.ndarray) -> bool:
    """The definition, checked on its own: adjacent columns differ, and the columns of any two
    colours span a forest (a union-find per pair of colours meets no edge inside one tree)."""
    upper = scipy.sparse.triu(scipy.sparse.csr_matrix(pattern, dtype=bool), k=1).tocoo()
    roots: dict[tuple, dict[int, int]] = {}

    def find(forest: dict[int, int], v: int) -> int:
        while forest.setdefault(v, v) != v:
            v = forest[v]
        return v

    for i, j in zip(upper.row.tolist(), upper.col.tolist()):
        if colors[i] == colors[j]:
            return False
        forest = roots.setdefault((min(colors[i], colors[j]), max(colors[i], colors[j])), {})
        a, b = find(forest, i), find(forest, j)
        if a == b:
            return False  # a cycle in two colours
        forest[a] = b
    return True


def _random_symmetric(seed: int, n: int, density: float, hubs: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    upper = scipy.sparse.random(n, n, density=density, random_state=rng).toarray()
    values = upper + upper.T + np.diag(rng.uniform(1.0, 2.0, n))
    values[:hubs, :] += rng.uniform(0.5, 1.0, (hubs, n))  # rows every column meets
    return np.triu(values) + np.triu(values, 1).T


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(1, 45),
    density=st.floats(0.0, 0.4),
    hubs=st.integers(0, 2),
)
def test_acyclic_colourings_of_random_symmetric_patterns_recover_every_entry(seed, n, density, hubs):
    values = _random_symmetric(seed, n, density, min(hubs, n))
    pattern = scipy.sparse.csr_matrix(values != 0)
    pattern.sort_indices()
    colors = acyclic_colors(pattern)
    assert _is_acyclic(pattern, colors)
    recovery = substitution(pattern, colors)
    assert recovery is not None
    products = np.stack([values @ (colors == c) for c in range(colors.max() + 1)])  # one per colour
    recovered = np.zeros_like(values)
    rows = np.repeat(np.arange(n), np.diff(pattern.indptr))
    recovered[rows, pattern.indices] = recovery.entries(products.ravel())
    np.testing.assert_allclose(recovered, values, rtol=1e-12, atol=1e-12)
    star = Compression(pattern, (n,), symmetric=True).count
    chosen = Compression(pattern, (n,), symmetric=True, coloring="acyclic")
    assert chosen.count <= star and chosen.count <= colors.max(initial=-1) + 1
    products = chosen.seeds.reshape(chosen.count, n) @ values.T  # row c: the matrix times colour c's direction
    np.testing.assert_allclose(chosen.dense(products, (n, n)), values, rtol=1e-12, atol=1e-12)


def test_a_colouring_with_a_two_coloured_cycle_is_never_used_for_recovery():
    cycle = np.eye(4) + np.roll(np.eye(4), 1, axis=1) + np.roll(np.eye(4), -1, axis=1)
    pattern = scipy.sparse.csr_matrix(cycle != 0)
    assert substitution(pattern, np.array([0, 1, 0, 1])) is None  # 0-1-2-3-0 in two colours
    assert substitution(pattern, np.array([0, 0, 1, 2])) is None  # adjacent columns share a colour
    assert substitution(pattern, np.array([0, 1, 0, 2])) is not None
    assert _is_acyclic(pattern, acyclic_colors(pattern))


def test_an_unknown_colouring_is_refused():
    with pytest.raises(ValueError, match="coloring='greedy'"):
        sd.sparse_hessian(chain, coloring="greedy")(np.ones(5))
