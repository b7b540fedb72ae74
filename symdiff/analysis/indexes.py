"""Whether two basic indexes into one array reach disjoint elements.

Two stages ask. The frontend accepts reading a view after a write into its
array only where the two reach no common element (`prev = hs[t - 1]`, then
`hs[t] = h`; `frontend/views.py`). Codegen builds a cotangent that several
slices of one array feed (an LSTM's four gates cut from one matrix) as a
fresh zero array written slice by slice (`z_bar[:, a:b] += g`); where no
earlier write reached a slice, its elements still hold zeros and the write
can be a plain assignment, which skips reading them back. Proving either
takes only the integer facts of `symdiff.analysis.integers`
(`0 <= n <= 2 * n <= 3 * n` for `n = h.shape[-1]`).

Python resolves a slice bound `x` against an axis of length `N` the same way
for start and stop (`min(x, N)` if `x >= 0`, `max(N + x, 0)` otherwise), so
`[a:b]` ends where `[b:c]` begins whatever the sign of `b`, and
`0 <= b <= c` gives `[a:b]` ending before `[c:d]` begins. Integers that
differ by a non-zero constant pick different elements when both are
non-negative (or both negative); a loop counter's lower bound (its start,
for a positive step) comes in as a floor.
"""

from __future__ import annotations

from collections.abc import Mapping

from symdiff.analysis.integers import Linear, clean, combine, is_integer, linear, nonnegative
from symdiff.ir.nodes import Const, Eqn


def disjoint(defs: Mapping[str, Eqn], first, second, floors: Mapping[str, Linear] | None = None) -> bool:
    """True when basic indexes `first` and `second` provably select no common element.

    `floors` bounds loop counters from below (`t >= 1` in `range(1, n)`), so
    `hs[t - 1]` and `hs[t]` can be told apart.
    """
    floors = floors or {}
    a, b = _items(defs, first, floors), _items(defs, second, floors)
    if a is None or b is None:
        return False
    for x, y in zip(a, b):
        if x is None or y is None:
            return False  # an item this module does not understand: later axes are unknown too
        if _apart(defs, x, y, floors):
            return True
    return False


def once_each(defs: Mapping[str, Eqn], index, counters=()) -> bool:
    """Whether `index` is integers and unit-step slices only: it reaches each element at most once
    (no array, which may repeat an index), so `a[index] += g` equals adding a scatter of g."""
    items = _items(defs, index, counters)
    return items is not None and all(item is not None for item in items)


def _items(defs, index, counters) -> list | None:
    """One entry per leading axis: ("slice", start, stop) with step 1, ("int", i), or None when unknown."""
    if isinstance(index, Const):
        values = index.value if isinstance(index.value, tuple) else (index.value,)
        return [_const_item(v) for v in values]
    eqn = defs.get(index.name)
    if eqn is not None and eqn.op == "make_slice":
        return [_slice_item(eqn)]
    if eqn is None or eqn.op != "make_tuple":
        return [_integer_item(defs, index, counters)]
    out = []
    for atom in eqn.ins:
        if isinstance(atom, Const):
            out.append(_const_item(atom.value))
            continue
        inner = defs.get(atom.name)
        out.append(
            _slice_item(inner)
            if inner is not None and inner.op == "make_slice"
            else _integer_item(defs, atom, counters)
        )
    return out


def _const_item(value):
    if isinstance(value, slice) and value.step in (None, 1):
        return ("slice", Const(value.start), Const(value.stop))
    if isinstance(value, int) and not isinstance(value, bool):
        return ("int", Const(value))
    return None


def _slice_item(eqn: Eqn):
    start, stop, step = eqn.ins
    if not (isinstance(step, Const) and step.value in (None, 1)):
        return None
    return ("slice", start, stop)


def _integer_item(defs, atom, counters):
    """An index item that is one integer (a counter, a shape component, arithmetic of those), else None."""
    return ("int", atom) if is_integer(defs, atom, counters) else None


def _apart(defs, x, y, floors) -> bool:
    if x[0] == "int" and y[0] == "int":
        return _different_elements(defs, x[1], y[1], floors)
    if x[0] == "int" or y[0] == "int":
        (_, i), (_, start, stop) = (x, y) if x[0] == "int" else (y, x)
        return _outside(defs, i, start, stop, floors)
    _, start_x, stop_x = x
    _, start_y, stop_y = y
    return _ordered(defs, stop_x, start_y, floors) or _ordered(defs, stop_y, start_x, floors)


def _different_elements(defs, i, j, floors) -> bool:
    """Integers that differ by a non-zero constant and have the same sign never resolve to one element."""
    a, b = linear(defs, i, 0), linear(defs, j, 0)
    if a is None or b is None:
        return False
    gap = clean(combine(a, b, -1))
    if set(gap) != {1}:
        return False
    both_nonnegative = nonnegative(defs, a, floors) and nonnegative(defs, b, floors)
    below = combine({1: -1}, a, -1), combine({1: -1}, b, -1)  # -i - 1 >= 0 means i <= -1
    both_negative = nonnegative(defs, below[0], floors) and nonnegative(defs, below[1], floors)
    return both_nonnegative or both_negative


def _outside(defs, i, start, stop, floors) -> bool:
    """A non-negative integer before a slice's non-negative start, or at or after its non-negative stop."""
    at = linear(defs, i, 0)
    if at is None or not nonnegative(defs, at, floors):
        return False
    for bound, sign in ((start, 1), (stop, -1)):
        if isinstance(bound, Const) and bound.value is None:
            continue  # the start of the axis (nothing is before it) or its end (nothing after)
        edge = linear(defs, bound, 0)
        if edge is None or not nonnegative(defs, edge, floors):
            continue
        gap = combine(edge, at, -1) if sign == 1 else combine(at, edge, -1)
        if nonnegative(defs, combine(gap, {1: 1}, -1) if sign == 1 else gap, floors):
            return True
    return False


def _ordered(defs, stop, start, floors) -> bool:
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
    return nonnegative(defs, end, floors) and nonnegative(defs, gap, floors)


def covers(defs: Mapping[str, Eqn], indexes) -> bool:
    """True when basic slice indexes together reach every element of the array they index.

    Every index must be whole (`:`) on all axes but one; there the slices must
    chain from the start of the axis to its end, each starting where another
    ends (`[:a]`, `[a:b]`, `[b:]`). Such a chain covers the axis whatever the
    values: `[a:b]` and `[b:c]` together reach all of `[a:c]`, since a bound
    resolves alike as a stop and as a start.
    """
    items = [_items(defs, index, {}) for index in indexes]
    if not items or any(i is None or any(x is None or x[0] != "slice" for x in i) for i in items):
        return False
    if len({len(i) for i in items}) != 1:
        return False
    partial = {k for i in items for k, x in enumerate(i) if not (_absent(x[1]) and _absent(x[2]))}
    if len(partial) != 1:
        return not partial
    axis = partial.pop()
    spans = [(i[axis][1], i[axis][2]) for i in items]
    reached = None  # None: the start of the axis
    while spans:
        step = next((span for span in spans if _meets(defs, reached, span[0])), None)
        if step is None:
            return False
        spans.remove(step)
        if _absent(step[1]):
            return True
        reached = step[1]
    return False


def _absent(bound) -> bool:
    return isinstance(bound, Const) and bound.value is None


def _meets(defs, reached, start) -> bool:
    """Whether a slice starting at `start` begins where the chain has reached (None: the axis start)."""
    if reached is None:
        return _absent(start) or (isinstance(start, Const) and type(start.value) is int and start.value == 0)
    if _absent(start):
        return False
    end, begin = linear(defs, reached, 0), linear(defs, start, 0)
    return end is not None and begin is not None and clean(end) == clean(begin)
