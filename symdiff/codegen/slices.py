"""Whether two basic indexes into one array reach disjoint elements.

A cotangent that several slices of one array feed (an LSTM's four gates cut
from one matrix) is built as a fresh zero array written slice by slice
(`z_bar[:, a:b] += g`). Where no earlier write reached a slice, its elements
still hold zeros and the write can be a plain assignment, which skips reading
them back. Proving that takes only integer facts the IR states: shape
components, sizes and lengths are non-negative, and linear combinations of
them with non-negative coefficients stay so (`n`, `2 * n`, `3 * n` for
`n = h.shape[-1]`), as does such a value floor-divided by a positive constant.

Python resolves a slice bound `x` against an axis of length `N` the same way
for start and stop (`min(x, N)` if `x >= 0`, `max(N + x, 0)` otherwise), so
`[a:b]` ends where `[b:c]` begins whatever the sign of `b`, and
`0 <= b <= c` gives `[a:b]` ending before `[c:d]` begins.
"""

from __future__ import annotations

from collections.abc import Mapping

from symdiff.ir.nodes import Const, Eqn, Var

Linear = dict  # name (or 1 for the constant term) -> integer coefficient

_NONNEGATIVE = {"len", "size", "ndim"}
_DEPTH = 12


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
    end = _linear(defs, stop, 0)
    begin = {} if isinstance(start, Const) and start.value is None else _linear(defs, start, 0)
    if end is None or begin is None:
        return False
    if _clean(end) == _clean(begin):
        return True  # the same bound: resolved alike whatever its sign
    gap = _combine(begin, end, -1)
    return _nonnegative(defs, end) and _nonnegative(defs, gap)


def _linear(defs, atom, depth: int) -> Linear | None:
    """`atom` as integer coefficients over named integers, or None."""
    if isinstance(atom, Const):
        value = atom.value
        if isinstance(value, bool) or not isinstance(value, int):
            return None
        return {1: value}
    eqn = defs.get(atom.name)
    if eqn is None or depth > _DEPTH:
        return {atom.name: 1}
    if eqn.op in ("add", "sub"):
        left, right = (_linear(defs, a, depth + 1) for a in eqn.ins)
        if left is None or right is None:
            return None
        return _combine(left, right, 1 if eqn.op == "add" else -1)
    if eqn.op == "mul":
        left, right = (_linear(defs, a, depth + 1) for a in eqn.ins)
        if left is None or right is None:
            return None
        for scale, term in ((left, right), (right, left)):
            if set(_clean(scale)) <= {1}:
                return {k: v * scale.get(1, 0) for k, v in term.items()}
        return {atom.name: 1}
    return {atom.name: 1}


def _combine(left: Linear, right: Linear, sign: int) -> Linear:
    out = dict(left)
    for k, v in right.items():
        out[k] = out.get(k, 0) + sign * v
    return out


def _clean(form: Linear) -> Linear:
    return {k: v for k, v in form.items() if v != 0}


def _nonnegative(defs, form: Linear) -> bool:
    """Every coefficient is non-negative and every named integer is known to be."""
    for name, coefficient in _clean(form).items():
        if coefficient < 0 or (name != 1 and not _known_nonnegative(defs, name)):
            return False
    return True


def _known_nonnegative(defs, name: str) -> bool:
    eqn = defs.get(name)
    if eqn is None:
        return False
    if eqn.op in _NONNEGATIVE:
        return True
    if eqn.op == "getitem" and isinstance(eqn.ins[0], Var):  # a component of np.shape(x)
        source = defs.get(eqn.ins[0].name)
        return source is not None and source.op == "shape"
    if eqn.op == "floordiv" and isinstance(eqn.ins[1], Const):  # `x.shape[0] // 4`
        divisor = eqn.ins[1].value
        numerator = _linear(defs, eqn.ins[0], 0)
        positive = isinstance(divisor, int) and not isinstance(divisor, bool) and divisor > 0
        return positive and numerator is not None and _nonnegative(defs, numerator)
    return False
