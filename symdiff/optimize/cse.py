"""Common-subexpression elimination: compute each (op, operands) once.

Two equations with the same op, operands and static arguments compute the
same value (ops are pure), so the later one is replaced by the earlier one's
output. Expressions seen outside a block are reused inside it, never the
other way round. Tape operations are stateful and never shared. Sharing an
array that is later written into is safe: codegen writes in place only into
values with no later reader.
"""

from __future__ import annotations

from symdiff.ir.nodes import Eqn, Function
from symdiff.optimize.walk import rewrite_function

_NEVER_SHARED = {"tape_new", "tape_push", "tape_pop"}


def cse(function: Function) -> Function:
    """`function` with repeated computations shared."""

    def visit(eqn: Eqn, seen: dict):
        if len(eqn.outs) != 1 or eqn.op in _NEVER_SHARED:
            return eqn
        key = (eqn.op, eqn.ins, eqn.static)
        if key in seen:
            return seen[key]
        seen[key] = eqn.out
        return eqn

    return rewrite_function(function, visit, enter=dict)
