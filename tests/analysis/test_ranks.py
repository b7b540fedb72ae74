"""RankClasses (analysis/ranks.py): names proven to have one number of axes, whatever it is."""

from __future__ import annotations

import numpy as np

from symdiff.analysis.ranks import RankClasses
from symdiff.api import _lowering
from symdiff.ir.nodes import Var, walk


def ranks_of(f) -> tuple[RankClasses, dict[str, str]]:
    """The classes learned from f's Wengert list, and each line's value by its source text."""
    function = _lowering(f).function
    classes = RankClasses()
    named = {}
    for eqn in walk(function.body):
        if len(eqn.outs) == 1:
            classes.learn(eqn)
            named.setdefault(eqn.op + ":" + eqn.loc.source_line[eqn.loc.col : eqn.loc.end_col], eqn.out.name)
    return classes, named


def slices_and_more(x, y):
    a = x[1:]
    b = x[:-1, ...]
    c = a - b**2  # elementwise of one rank, with a scalar
    d = x[0]  # an integer index drops an axis
    e = x[None]  # a new axis
    f = np.sum(x)  # a reduction
    g = np.broadcast_to(1.0, np.broadcast_shapes(np.shape(a), np.shape(b)))
    h = a * y  # y's rank is not x's
    return np.sum(c) + d[0] + e[0, 0] + f + np.sum(g) + np.sum(h)


def test_slices_and_elementwise_ops_of_one_rank_keep_it():
    classes, named = ranks_of(slices_and_more)
    same = {text: classes.same(Var("x"), Var(name)) for text, name in named.items()}
    assert (
        same["getitem:x[1:]"]
        and same["sub:a - b**2"]
        and same["broadcast_to:np.broadcast_to(1.0, np.broadcast_shapes(np.shape(a), np.shape(b)))"]
    )
    assert not same["getitem:x[0]"] and not same["getitem:x[None]"] and not same["sum:np.sum(x)"]
    assert not same["mul:a * y"]


def test_the_claims_hold_on_arrays_of_several_ranks():
    for x in (np.ones(5), np.ones((4, 3)), np.ones((3, 2, 2))):
        a, b = x[1:], x[:-1, ...]
        assert np.ndim(a) == np.ndim(b) == np.ndim(a - b**2) == np.ndim(x)
        g = np.broadcast_to(1.0, np.broadcast_shapes(np.shape(a), np.shape(b)))
        assert np.ndim(g) == np.ndim(x)
