"""analysis.indexes: which basic indexes provably reach no common element.

Each verdict is checked against NumPy: an index pair called disjoint must
select no common element of a real array, for every length tried.
"""

import numpy as np
import pytest

from symdiff.analysis.indexes import disjoint
from symdiff.ir.nodes import Const, Eqn, Var

t, n = Var("t"), Var("n")
DEFS = {
    "t_minus_1": Eqn((Var("t_minus_1"),), "sub", (t, Const(1))),
    "t_plus_1": Eqn((Var("t_plus_1"),), "add", (t, Const(1))),
    "n": Eqn((n,), "getitem", (Var("shape"),), (("index", Const(0)),)),
    "shape": Eqn((Var("shape"),), "shape", (Var("x"),)),
}
ATOMS = {"t": t, "t-1": Var("t_minus_1"), "t+1": Var("t_plus_1")}


def _reached(index_text: str, length: int, counter: int) -> set:
    a = np.arange(length)
    return set(np.atleast_1d(eval(f"a[{index_text}]", {"a": a, "t": counter})).tolist())  # our own fixtures


@pytest.mark.parametrize(
    "first, second, floor, expected",
    [
        ("t-1", "t", 1, True),  # range(1, n): rows t - 1 and t never meet
        ("t-1", "t", 0, False),  # t = 0 reads row -1, the last row, which may be row t
        ("t", "t+1", 0, True),
        ("t", "t", 0, False),
        ("t", "t+1", None, False),  # no floor known: t may be negative and wrap
    ],
)
def test_counter_rows(first, second, floor, expected):
    floors = {"t": None if floor is None else {1: floor}}
    assert disjoint(DEFS, ATOMS[first], ATOMS[second], floors) is expected
    if expected:
        for length in range(1, 7):
            for counter in range(floor, length - 1):
                text = {"t": "t", "t-1": "t - 1", "t+1": "t + 1"}
                assert not _reached(text[first], length, counter) & _reached(text[second], length, counter)


def test_constant_integers_and_slices():
    assert disjoint(DEFS, Const(0), Const(1))
    assert disjoint(DEFS, Const(-1), Const(-2))
    assert not disjoint(DEFS, Const(-1), Const(0))  # one element when the axis has length 1
    assert disjoint(DEFS, Const(3), Const(slice(None, 3)))
    assert disjoint(DEFS, Const(3), Const(slice(4, None)))
    assert not disjoint(DEFS, Const(3), Const(slice(2, None)))
    assert disjoint(DEFS, Const((slice(None), 0)), Const((slice(None), 1)))


def test_an_array_index_is_never_taken_for_an_integer():
    mask = Var("mask")
    defs = dict(DEFS, mask=Eqn((mask,), "gt", (Var("x"), Const(0.0))))
    assert not disjoint(defs, mask, Const(0))
    shifted = Var("shifted")
    defs["shifted"] = Eqn((shifted,), "add", (mask, Const(1)))
    assert not disjoint(defs, mask, shifted)  # x and x + 1 differ, but arrays can share elements
