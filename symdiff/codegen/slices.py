"""Whether two basic indexes into one array reach disjoint elements.

A cotangent that several slices of one array feed (an LSTM's four gates cut
from one matrix) is built as a fresh zero array written slice by slice
(`z_bar[:, a:b] += g`). Where no earlier write reached a slice, its elements
still hold zeros and the write can be a plain assignment, which skips reading
them back. Proving that takes only the integer facts of
`symdiff.analysis.integers` (`0 <= n <= 2 * n <= 3 * n` for `n = h.shape[-1]`).

Python resolves a slice bound `x` against an axis of length `N` the same way
for start and stop (`min(x, N)` if `x >= 0`, `max(N + x, 0)` otherwise), so
`[a:b]` ends where `[b:c]` begins whatever the sign of `b`, and
`0 <= b <= c` gives `[a:b]` ending before `[c:d]` begins.
"""

from __future__ import annotations

from collections.abc import Mapping

from symdiff.analysis.integers import clean, combine, linear, nonnegative
from symdiff.ir.nodes import Const, Eqn


def disjoint(defs: Mapping[str, Eqn], first, second) -> bool:
    """True when basic indexes `first` and `second` provably select no common element."""
    a, b = _items(defs, first), _items(defs, second)
    if a is None or b is None:
        return False
    for x, y in zip(a, b):
        if x is None or y is None:
            return False  # an item this module does not understand: later axes are unknown too
        if _apart(defs, x, y):
            return True
    return False


def _items(defs, index) -> list | None:
    """One entry per leading axis: ("slice", start, stop) with step 1, or None when unknown."""
    if isinstance(index, Const):
        values = index.value if isinstance(index.value, tuple) else (index.value,)
        return [_const_item(v) for v in values]
    eqn = defs.get(index.name)
    if eqn is None:
        return None
    if eqn.op == "make_slice":
        return [_slice_item(eqn)]
    if eqn.op != "make_tuple":
        return None
    out = []
    for atom in eqn.ins:
        if isinstance(atom, Const):
            out.append(_const_item(atom.value))
        else:
            inner = defs.get(atom.name)
            out.append(_slice_item(inner) if inner is not None and inner.op == "make_slice" else None)
    return out


def _const_item(value):
    if isinstance(value, slice) and value.step in (None, 1):
        return ("slice", Const(value.start), Const(value.stop))
    return None


def _slice_item(eqn: Eqn):
    start, stop, step = eqn.ins
    if not (isinstance(step, Const) and step.value in (None, 1)):
        return None
    return ("slice", start, stop)


def _apart(defs, x, y) -> bool:
    _, start_x, stop_x = x
    _, start_y, stop_y = y
    return _ordered(defs, stop_x, start_y) or _ordered(defs, stop_y, start_x)


def _ordered(defs, stop, start) -> bool:
    """Whether a slice ending at `stop` ends before one starting at `start` begins."""
    if isinstance(stop, Const) and stop.value is None:
        return False  # runs to the end of the axis
    end = linear(defs, stop, 0)
    begin = {} if isinstance(start, Const) and start.value is None else linear(defs, start, 0)
    if end is None or begin is None:
        return False
    if clean(end) == clean(begin):
        return True  # the same bound: resolved alike whatever its sign
    gap = combine(begin, end, -1)
    return nonnegative(defs, end) and nonnegative(defs, gap)
