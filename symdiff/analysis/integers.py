"""What the IR says about integer values: linear forms and non-negativity.

Shape components, sizes and lengths are non-negative; sums and constant
multiples of them with non-negative coefficients stay so, as does such a
value floor-divided by a positive constant. Passes use this to prove that
slices do not overlap (`analysis/indexes.py`) and that a loop counter never
goes negative (so distinct counters index distinct elements).
"""

from __future__ import annotations

from collections.abc import Mapping

from symdiff.ir.nodes import Const, Eqn, Var

Linear = dict  # name (or 1 for the constant term) -> integer coefficient

_NONNEGATIVE = {"len", "size", "ndim"}
_INTEGER_ARITHMETIC = {"add", "sub", "mul", "floordiv", "mod", "neg", "pos"}
_DEPTH = 12


def linear(defs: Mapping[str, Eqn], atom, depth: int = 0) -> Linear | None:
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
        left, right = (linear(defs, a, depth + 1) for a in eqn.ins)
        if left is None or right is None:
            return None
        return combine(left, right, 1 if eqn.op == "add" else -1)
    if eqn.op == "mul":
        left, right = (linear(defs, a, depth + 1) for a in eqn.ins)
        if left is None or right is None:
            return None
        for scale, term in ((left, right), (right, left)):
            if set(clean(scale)) <= {1}:
                return {k: v * scale.get(1, 0) for k, v in term.items()}
        return {atom.name: 1}
    return {atom.name: 1}


def is_integer(defs: Mapping[str, Eqn], atom, counters=(), depth: int = 0) -> bool:
    """Whether `atom` is known to be one Python integer (not an array, not a bool).

    `counters` names loop counters, which the IR defines without an equation.
    """
    if isinstance(atom, Const):
        return isinstance(atom.value, int) and not isinstance(atom.value, bool)
    if atom.name in counters:
        return True
    eqn = defs.get(atom.name)
    if eqn is None or depth > _DEPTH:
        return False
    if eqn.op in _NONNEGATIVE or eqn.op == "int" or _known_nonnegative(defs, atom.name):
        return True
    if eqn.op in _INTEGER_ARITHMETIC:
        return all(is_integer(defs, a, counters, depth + 1) for a in eqn.ins)
    return False


def combine(left: Linear, right: Linear, sign: int) -> Linear:
    """`left + sign * right`."""
    out = dict(left)
    for k, v in right.items():
        out[k] = out.get(k, 0) + sign * v
    return out


def clean(form: Linear) -> Linear:
    """`form` without zero coefficients, so equal values compare equal."""
    return {k: v for k, v in form.items() if v != 0}


def nonnegative(defs: Mapping[str, Eqn], form: Linear, floors: Mapping[str, Linear] | None = None) -> bool:
    """Every coefficient is non-negative and every named integer is known to be.

    `floors` gives lower bounds of names the IR cannot bound by itself (a loop
    counter `t` of `range(1, n)` has the floor `{1: 1}`; None where unknown):
    a name with a positive coefficient is replaced by its floor first, which
    can only lower the value.
    """
    form = clean(form)
    for _ in range(_DEPTH if floors else 0):
        bounded = [name for name in form if floors.get(name) is not None and form[name] > 0]
        if not bounded:
            break
        for name in bounded:
            scale = form.pop(name)
            form = clean(combine(form, floors[name], scale))
    for name, coefficient in form.items():
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
        index = eqn.static_dict().get("index")
        one = isinstance(index, Const) and isinstance(index.value, int) and not isinstance(index.value, bool)
        return one and source is not None and source.op == "shape"  # `x.shape[1:]` is a tuple, not a number
    if eqn.op == "floordiv" and isinstance(eqn.ins[1], Const):  # `x.shape[0] // 4`
        divisor = eqn.ins[1].value
        numerator = linear(defs, eqn.ins[0], 0)
        positive = isinstance(divisor, int) and not isinstance(divisor, bool) and divisor > 0
        return positive and numerator is not None and nonnegative(defs, numerator)
    return False
