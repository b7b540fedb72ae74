"""Dead-code elimination: drop equations whose outputs nothing needs.

Every op is pure, so an equation is dead when none of its outputs reaches the
result. This is what removes adjoints of arguments not asked for, and forward
values the backward pass does not read.
"""

from __future__ import annotations

from dataclasses import replace

from symdiff.ir.nodes import Function, Var


def dce(function: Function) -> Function:
    """`function` without equations that do not contribute to its result."""
    live = {a.name for a in function.results() if isinstance(a, Var)}
    kept = []
    for eqn in reversed(function.body):
        if any(o.name in live for o in eqn.outs):
            kept.append(eqn)
            live.update(a.name for a in eqn.atoms() if isinstance(a, Var))
    return replace(function, body=tuple(reversed(kept)))
