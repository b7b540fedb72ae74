"""Values a loop computes the same way in every iteration, computed once before it.

`np.exp(log_step)` inside a loop over steps, with `log_step` a parameter, is
one value: computing it before the loop saves the work of every iteration
after the first and, as the reverse pass tapes what the backward loop reads,
a tape that would hold that one value again and again (`tapes.py` then reads
the value itself). An equation moves when its operands are all defined
outside the loop (never the counter, a carried value or anything the body
makes, except what moved before it) and its op cannot raise or act: the
arithmetic and functions below, on arrays or numbers, give a value (inf or
nan with a warning at worst), so running one for a loop of no iterations
changes nothing but the time.
"""

from __future__ import annotations

from dataclasses import replace

from symdiff.ir.nodes import Eqn, Function, If, Loop, Var, defined

# Shape queries stay where they are read: they cost nothing and read better there.
_PURE = frozenset({
    "exp", "log", "tanh", "sin", "cos", "expm1", "log1p", "sinh", "cosh", "arctan", "neg", "pos", "abs",
    "add", "sub", "mul", "maximum", "minimum",
})  # fmt: skip


def hoist_invariants(function: Function) -> Function:
    """`function` with loop-invariant equations of safe ops moved before their loops."""
    body = _block(function.body)
    return function if body == function.body else replace(function, body=body)


def _block(body: tuple) -> tuple:
    out: list = []
    for stmt in body:
        if isinstance(stmt, Loop):
            moved, loop = _hoisted(stmt)
            out.extend(moved)
            out.append(loop)
        elif isinstance(stmt, If):
            out.append(replace(stmt, then_body=_block(stmt.then_body), else_body=_block(stmt.else_body)))
        else:
            out.append(stmt)
    return tuple(out)


def _hoisted(loop: Loop) -> tuple[list[Eqn], Loop]:
    """The equations of `loop`'s body that move before it, and the loop without them."""
    inner = replace(loop, body=_block(loop.body), cond_body=_block(loop.cond_body))
    made = {v.name for stmt in inner.body for v in _all_defined(stmt)}
    made |= {v.name for stmt in inner.cond_body for v in _all_defined(stmt)}
    made |= {c.name for c in inner.carried} | ({inner.index.name} if inner.index is not None else set())
    moved: list[Eqn] = []
    kept: list = []
    for stmt in inner.body:
        pure = isinstance(stmt, Eqn) and stmt.op in _PURE and len(stmt.outs) == 1
        if pure and not any(isinstance(a, Var) and a.name in made for a in stmt.atoms()):
            moved.append(stmt)
            made.discard(stmt.out.name)
            continue
        kept.append(stmt)
    if not moved:
        return [], inner
    return moved, replace(inner, body=tuple(kept))


def _all_defined(stmt):
    yield from defined(stmt)
    if not isinstance(stmt, Eqn):
        for block in stmt.blocks():
            for inner in block:
                yield from _all_defined(inner)


__all__ = ["hoist_invariants"]
