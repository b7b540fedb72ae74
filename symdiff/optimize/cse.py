"""Common-subexpression elimination: compute each (op, operands) once.

Two equations with the same op, operands and static arguments compute the
same value (ops are pure), so the later one is replaced by the earlier one's
output. Expressions seen outside a block are reused inside it, never the
other way round. Tape operations are stateful and never shared, and neither
are the constructors of fresh arrays (`np.zeros_like(x)` and the like): in
the IR they are values, but codegen writes element assignments into them in
place, and an adjoint that starts as zeros must not start in a buffer the
forward pass filled (`y = np.zeros_like(x)`, then `y[i] = x[i]` in a loop,
and `x_bar` starting as `zeros_like(x)`: shared, `x_bar` began as `y`).
"""

from __future__ import annotations

from symdiff.ir.nodes import Eqn, Function
from symdiff.optimize.walk import rewrite_function

_NEVER_SHARED = {
    "tape_new", "tape_push", "tape_pop",
    "zeros", "zeros_like", "ones", "ones_like", "empty", "empty_like", "full", "full_like", "copy", "eye",
    "call",  # a random draw: two draws differ
}  # fmt: skip


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
