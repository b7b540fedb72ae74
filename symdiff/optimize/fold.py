"""Constant folding: evaluate ops whose operands are all constants.

Only ops on Python scalars and tuples are folded (arithmetic, comparisons,
shape helpers such as `keepdims_shape`), so generated code never embeds an
array literal. Folding runs the op's own NumPy function, so it cannot
disagree with the generated code.
"""

from __future__ import annotations

import numpy as np

from symdiff.ir.nodes import Const, Function
from symdiff.optimize.walk import rewrite_function
from symdiff.rules import RULES

_FOLDABLE = {
    "add", "sub", "mul", "truediv", "pow", "neg", "pos", "mod", "floordiv", "lt", "le", "gt", "ge",
    "eq", "ne", "not_", "keepdims_shape", "make_tuple", "make_slice", "inverse_axes", "concat_offset",
    "float", "int", "bool", "broadcast_shapes", "size", "maximum", "minimum",
}  # fmt: skip
_SIMPLE = (int, float, bool, tuple, slice, type(None))


def fold(function: Function) -> Function:
    """`function` with all-constant equations replaced by their values."""
    return rewrite_function(function, lambda eqn, scope: _evaluate(eqn) or eqn)


def _evaluate(eqn) -> Const | None:
    if eqn.op not in _FOLDABLE or not all(isinstance(a, Const) for a in eqn.atoms()):
        return None
    args = [a.value for a in eqn.ins]
    if not all(isinstance(a, _SIMPLE) for a in args):
        return None
    try:
        value = RULES[eqn.op].func(*args, **{k: a.value for k, a in eqn.static})
    except (ArithmeticError, TypeError, ValueError, IndexError):
        return None  # leave it to fail at run time, where the user can see it
    if isinstance(value, (np.bool_, np.integer, np.floating)):
        value = value.item()
    if isinstance(value, bool) and not all(isinstance(a, bool) for a in args):
        value = bool(value)
    return Const(value) if isinstance(value, _SIMPLE) else None
