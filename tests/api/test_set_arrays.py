"""The sparsity tracer's fast path (`symdiff.set_arrays`, issue 16): index sets as rows of one table,
each operation on whole arrays. It must find the object tracer's pattern exactly wherever it runs,
and hand anything it cannot run (branches on x, elements one at a time, unknown functions, values
of x read as numbers) to the object tracer. `tests/fuzz/sparse_check.py` compares the two on
random programs as well."""

from __future__ import annotations

import numpy as np
import pytest

import symdiff as sd
from symdiff import set_arrays, sparsity
from symdiff.errors import NoSparsityPattern
from symdiff.sparsity import hessian_tracer, jacobian_tracer
from tests.api.test_sparse import grid_energy as grid  # a five-point pattern
from tests.api.test_sparse import rosen_chain as chain


def reductions(x):
    """Sums along axes, means, extrema with keepdims, a hub every term reads."""
    rows = np.sum(x * x, axis=1)
    centred = x - np.mean(x, axis=0, keepdims=True)
    return np.sum(np.tanh(rows) * x[:, 0]) + np.max(centred**2) + np.sum(np.exp(x[0, 0]) * x[1:, 1] ** 2)


def by_edges(x, first, second):
    """Index arrays given as arguments: a gather, and np.add.at in the gradient."""
    return np.sum((x[first] * x[second] - 0.3) ** 2) + np.sum(np.where(x > 0, x**3, -x))


def copies_then_overwrites(x):
    """Element assignment: the gradient copies an array (np.array) and zeroes the copy, not the original."""
    y = np.copy(x)
    y[1:] = y[1:] * x[:-1]
    y[0] = 2.0
    return np.sum(y**2) + np.sum(np.concatenate([x[:2], np.zeros(1), x[-2:]]) ** 3)


def elementwise_loop(x):
    """Elements read one at a time."""
    out = np.zeros(x.shape[0] - 1)
    for i in range(x.shape[0] - 1):
        out[i] = x[i] * x[i + 1]
    return np.sum(out**2)


def branches(x):
    """A branch on a value of x: the object tracer, which runs it both ways."""
    if np.sum(x) > 0:
        return np.sum(x[1:] * x[:-1])
    return np.sum(x**3)


def traced_index(x):
    """An index computed from x: refused, by the object tracer."""
    return np.sum(x[np.argmax(x)] * x)


RNG = np.random.default_rng(5)
EDGES = (RNG.integers(0, 12, 20), RNG.integers(0, 12, 20))
CASES = [
    (chain, (np.linspace(-1.2, 1.1, 30),), True),
    (grid, (np.sin(np.arange(30.0)).reshape(5, 6),), True),
    (reductions, (np.cos(np.arange(24.0)).reshape(6, 4),), True),
    (by_edges, (np.linspace(-1.0, 1.2, 12), *EDGES), True),
    (copies_then_overwrites, (np.linspace(0.2, 1.4, 9),), True),
    (elementwise_loop, (np.linspace(0.2, 1.4, 5),), True),  # a few elements: read one at a time here too
    (elementwise_loop, (np.linspace(0.2, 1.4, 80),), False),  # a loop over many: the object tracer's
    (branches, (np.linspace(-0.2, 1.4, 9),), False),
]


def _traced(tracer, args, fast, monkeypatch):
    """The pattern with or without the fast path, and whether the fast path gave it."""
    ran = []
    run = set_arrays.run

    def spy(*a, **k):
        pattern = run(*a, **k)
        ran.append(pattern is not None)
        return pattern

    monkeypatch.setattr(sparsity, "FAST_TRACE", fast)
    monkeypatch.setattr(set_arrays, "run", spy)
    return tracer(args, 0), any(ran)


@pytest.mark.parametrize("f, args, vectorised", CASES, ids=lambda v: getattr(v, "__name__", ""))
def test_the_fast_path_finds_the_object_tracers_pattern_or_hands_over(f, args, vectorised, monkeypatch):
    tracer = hessian_tracer(sd.api.build(f, "x" if f is not grid else "u", "grad", "numpy"))
    fast, used = _traced(tracer, args, True, monkeypatch)
    slow, _ = _traced(tracer, args, False, monkeypatch)
    fast, slow = fast.toarray(), slow.toarray()
    np.testing.assert_array_equal(fast, slow)
    assert used == vectorised
    x = args[0]
    dense = np.asarray(sd.hessian(f, sparsity=False)(*args)).reshape(x.size, x.size)
    assert not np.any((dense != 0) & ~fast)  # and it holds every nonzero


def test_the_fast_path_traces_a_jacobian_the_same_way(monkeypatch):
    def residuals(x):
        return np.stack([x[1:] * x[:-1], np.sin(x[1:]) - x[:-1] ** 2])

    forward = sd.api.build(residuals, "x", "jvp", "numpy")
    tracer = jacobian_tracer(residuals, forward, None)
    x = np.linspace(0.2, 1.9, 11)
    fast, used = _traced(tracer, (x,), True, monkeypatch)
    slow, _ = _traced(tracer, (x,), False, monkeypatch)
    np.testing.assert_array_equal(fast.toarray(), slow.toarray())
    assert used


def test_a_dense_hessian_is_refused_by_the_fast_path_as_by_the_object_tracer(monkeypatch):
    def log_sum_exp(x):
        return np.log(np.sum(np.exp(x)))

    tracer = hessian_tracer(sd.api.build(log_sum_exp, "x", "grad", "numpy"))
    for fast in (True, False):
        monkeypatch.setattr(sparsity, "FAST_TRACE", fast)
        with pytest.raises(NoSparsityPattern, match="rows of the pattern hold more than"):
            tracer((np.linspace(0.0, 1.0, 40),), 0, 20)


def test_an_index_computed_from_x_is_still_refused(monkeypatch):
    monkeypatch.setattr(sparsity, "FAST_TRACE", True)
    with pytest.raises(NoSparsityPattern, match="argmax"):
        sd.sparse_hessian(traced_index)(np.linspace(0.0, 1.0, 6))


def test_traced_numbers_cannot_be_read_as_data():
    table = set_arrays._Table(4, 4)
    set_arrays._TABLE.append(table)
    try:
        x = set_arrays.traced(table.singletons(4))
        plain = np.zeros(4)
        with pytest.raises((TypeError, ValueError)):
            plain[:] = x  # a structured dtype: NumPy will not cast it to floats
        with pytest.raises(IndexError):
            plain[x]
        for read in (lambda: float(x[0:1]), lambda: x.view(np.int64), lambda: x.astype(int), lambda: int(x[0])):
            with pytest.raises(set_arrays.Fallback):
                read()
        with pytest.raises(set_arrays.Fallback):
            np.sort(x)  # an order decided by x
    finally:
        set_arrays._TABLE.pop()


def test_the_chain_at_n_10_5_is_traced_by_the_fast_path(monkeypatch):
    import scipy.sparse

    n = 100_000
    tracer = hessian_tracer(sd.api.build(chain, "x", "grad", "numpy"))
    pattern, used = _traced(tracer, (np.linspace(-1.0, 1.0, n),), True, monkeypatch)
    band = scipy.sparse.diags([np.ones(n - 1), np.ones(n), np.ones(n - 1)], [-1, 0, 1], format="csr") != 0
    assert used and (pattern != band).nnz == 0
