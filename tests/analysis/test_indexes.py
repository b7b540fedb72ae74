"""analysis.indexes: which basic indexes provably reach no common element.

Each verdict is checked against NumPy: an index pair called disjoint must
select no common element of a real array, for every length tried.
"""

import numpy as np
import pytest

from symdiff.analysis.indexes import covers, disjoint
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


def _gate_slices():
    """`z[:, :n]`, `z[:, n:2n]`, `z[:, 2n:3n]`, `z[:, 3n:]` as the IR states them (an LSTM's gates)."""
    defs = dict(DEFS)
    for name, op, ins in [
        ("n2", "mul", (Const(2), n)), ("n3", "mul", (Const(3), n)),
        ("s0", "make_slice", (Const(None), n, Const(None))), ("s1", "make_slice", (n, Var("n2"), Const(None))),
        ("s2", "make_slice", (Var("n2"), Var("n3"), Const(None))), ("s3", "make_slice", (Var("n3"), Const(None), Const(None))),
    ]:  # fmt: skip
        defs[name] = Eqn((Var(name),), op, ins)
    indexes = []
    for k in range(4):
        defs[f"i{k}"] = Eqn((Var(f"i{k}"),), "make_tuple", (Const(slice(None)), Var(f"s{k}")))
        indexes.append(Var(f"i{k}"))
    return defs, indexes


def test_slices_chained_from_start_to_end_cover_the_array_in_any_order():
    defs, gates = _gate_slices()
    assert covers(defs, gates)
    assert covers(defs, gates[::-1])
    assert not covers(defs, gates[:3])  # [3n:] missing
    assert not covers(defs, [gates[0], gates[1], gates[3]])  # [2n:3n] missing
    assert covers(defs, [Const(slice(None, 2)), Const(slice(2, None))])
    assert not covers(defs, [Const(slice(None, 2)), Const(slice(3, None))])
    assert not covers(defs, [Const((slice(None), slice(None, 2))), Const((slice(1, None), slice(2, None)))])
    assert not covers(defs, [Const(0), Const(slice(1, None))])  # integers are not handled: never claimed
    for width in range(9):  # against NumPy, whatever n is
        z = np.zeros((2, 4 * width))
        for index in [(slice(None), slice(None, width)), (slice(None), slice(width, 2 * width)),
                      (slice(None), slice(2 * width, 3 * width)), (slice(None), slice(3 * width, None))]:  # fmt: skip
            z[index] = 1.0
        assert np.all(z == 1.0)
