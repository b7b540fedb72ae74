"""Concrete shapes for builds specialised to their arguments' shapes (analysis/static_shapes.py).

A folded shape is compiled into the code, so every shape the analysis gives
is checked against what NumPy computes, and the forms whose shape depends on
values known only when running must give None.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from symdiff.analysis.static_shapes import KnownShapes, eqn_shape
from symdiff.ir.nodes import Const, Eqn, Var

SHAPES = [(), (3,), (4, 1), (2, 3, 4), (1, 3), (5, 0)]


def shape_of(known: dict):
    return lambda atom: known.get(atom.name) if isinstance(atom, Var) else np.shape(atom.value)


def shape(op: str, ins, static=(), known=None, defs=None, integers=()):
    eqn = Eqn((Var("out"),), op, tuple(ins), tuple(static))
    return eqn_shape(eqn, shape_of(known or {}), defs or {}, set(integers))


@pytest.mark.parametrize("a, b", list(itertools.product(SHAPES[:5], repeat=2)))
def test_elementwise_ops_broadcast_like_numpy(a, b):
    known = {"a": a, "b": b}
    try:
        want = np.add(np.zeros(a), np.zeros(b)).shape
    except ValueError:
        want = None  # NumPy raises when the code runs: no shape to fold
    assert shape("add", [Var("a"), Var("b")], known=known) == want
    assert shape("where", [Var("a"), Var("b"), Const(0.0)], known=known) == want


REDUCTIONS = [None, 0, -1, (0, 1), (0, -1), 2, (1, 1)]


@pytest.mark.parametrize("op", ["sum", "max", "mean"])
@pytest.mark.parametrize("axis", REDUCTIONS)
@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("a", [(), (3,), (2, 3, 4)])
def test_reductions_agree_with_numpy(op, axis, keepdims, a):
    try:
        want = getattr(np, op)(np.ones(a), axis=axis, keepdims=keepdims).shape
    except (ValueError, np.exceptions.AxisError):
        want = None
    static = (("axis", Const(axis)), ("keepdims", Const(keepdims)))
    if a == () and axis is not None:
        want = None  # NumPy's reductions disagree on axis 0 of a 0-d array: left to when running
    assert shape(op, [Var("a")], static, {"a": a}) == want


INDEXES = [
    0, -1, slice(1, None), slice(None, None, 2), (0, 1), (slice(None), 0), (None, 0), (Ellipsis, 1),
    (slice(1, 3), None, slice(None, None, -1)), True, (0, 0, 0),
]  # fmt: skip


@pytest.mark.parametrize("index", INDEXES, ids=repr)
@pytest.mark.parametrize("a", [(3,), (4, 3), (2, 3, 4)])
def test_constant_indexes_agree_with_numpy(index, a):
    try:
        want = np.ones(a)[index].shape
    except IndexError:
        want = None
    assert shape("getitem", [Var("a")], (("index", Const(index)),), {"a": a}) == want


def test_an_integer_known_only_when_running_indexes_like_any_integer():
    defs = {"ix": Eqn((Var("ix"),), "make_tuple", (Const(0), Var("j")))}
    got = shape("getitem", [Var("a")], (("index", Var("ix")),), {"a": (4, 3, 2), "j": ()}, defs, {"j"})
    assert got == (2,)
    assert shape("getitem", [Var("a")], (("index", Var("j")),), {"a": (4, 3), "j": ()}, integers={"j"}) == (3,)


def test_an_index_whose_kind_is_known_only_when_running_gives_no_shape():
    # a float-valued scalar, an array of positions, a slice made when running: none may be assumed
    assert shape("getitem", [Var("a")], (("index", Var("v")),), {"a": (4, 3), "v": ()}) is None
    assert shape("getitem", [Var("a")], (("index", Var("rows")),), {"a": (4, 3), "rows": (2,)}) is None
    made = {"s": Eqn((Var("s"),), "make_slice", (Const(0), Var("j"), Const(None)))}
    assert shape("getitem", [Var("a")], (("index", Var("s")),), {"a": (4, 3), "j": ()}, made, {"j"}) is None
    assert shape("getitem", [Var("a")], (("index", Const((np.array([0, 1]),))),), {"a": (4, 3)}) is None


@pytest.mark.parametrize("a, obj, axis", [((4, 3), 1, 1), ((4, 3), -1, 0), ((4, 3), 2, None), ((2, 3, 4), 0, -1)])
def test_deleting_one_position(a, obj, axis):
    want = np.delete(np.ones(a), obj, axis=axis).shape
    static = (("axis", Const(axis)),)
    assert shape("delete", [Var("a"), Const(obj)], static, {"a": a}) == want
    assert shape("delete", [Var("a"), Var("j")], static, {"a": a, "j": ()}) == want


def test_deleting_positions_that_may_repeat_gives_no_shape():
    static = (("axis", Const(0)),)
    assert shape("delete", [Var("a"), Const((0, 0))], static, {"a": (4, 3)}) is None
    assert shape("delete", [Var("a"), Var("ix")], static, {"a": (4, 3), "ix": (2,)}) is None


@pytest.mark.parametrize(
    "a, b", [((3,), (3,)), ((2, 3), (3,)), ((3,), (3, 4)), ((2, 3), (3, 4)), ((5, 2, 3), (3, 4)), ((2, 3), (4, 3))]
)
@pytest.mark.parametrize("op", ["matmul", "dot"])
def test_products_agree_with_numpy(op, a, b):
    try:
        want = getattr(np, op)(np.ones(a), np.ones(b)).shape
    except ValueError:
        want = None
    got = shape(op, [Var("a"), Var("b")], known={"a": a, "b": b})
    assert got == want or (got is None and op == "dot" and len(a) > 2)


@pytest.mark.parametrize("target", [(6,), (-1,), (2, -1), (3, 2), (4, -1), -1, (7,), (-1, -1)])
def test_reshapes_agree_with_numpy(target):
    try:
        want = np.ones((2, 3)).reshape(target).shape
    except ValueError:
        want = None
    assert shape("reshape", [Var("a")], (("shape", Const(target)),), {"a": (2, 3)}) == want


def test_shape_queries_fold_only_where_the_shape_is_known():
    known = KnownShapes({"A": (4, 3)})
    assert known.query("shape", [Var("A")]) == Const((4, 3))
    assert known.query("len", [Var("A")]) == Const(4)
    assert known.query("size", [Var("A")]) == Const(12)
    assert known.query("ndim", [Var("A")]) == Const(2)
    assert known.query("shape", [Var("B")]) is None
    assert KnownShapes({"s": ()}).query("len", [Var("s")]) is None  # len() of a 0-d array raises when running


def test_an_op_the_analysis_does_not_know_gives_no_shape():
    assert shape("cumsum", [Var("a")], (("axis", Const(None)),), {"a": (2, 3)}) is None
    assert shape("einsum", [Var("a")], (), {"a": (2, 3)}) is None


def keeps_its_shape(x):
    acc = x * 0.0
    for i in range(3):
        acc = acc * 2.0 + x[i]
    return np.sum(acc)


def shrinks(x):
    y = x
    for i in range(3):
        y = y[1:] * 2.0
    return np.sum(y)


def test_a_loop_keeps_a_carried_shape_only_where_its_body_maps_it_to_itself():
    from symdiff.analysis.static_shapes import function_shapes
    from symdiff.frontend.lower import lower_function
    from symdiff.ir.nodes import loops

    for f, want in ((keeps_its_shape, (5, 3)), (shrinks, None)):
        function = lower_function(f, None, ((5, 3),))
        loop = loops(function.body)[0]
        known = function_shapes(function, {function.params[0].name: (5, 3)})
        carried = next(c for c in loop.carried if c.name.startswith(("acc", "y")))
        assert known.of(carried) == want, f.__name__
        assert known.of(loop.outs[loop.carried.index(carried)]) == want
