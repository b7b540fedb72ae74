"""Move a backward-pass value read once to just before the equation that reads it.

The reverse transform emits each rule's cotangents in the order the rule
lists them, so a value is often computed a few statements before its only
reader (`h_bar = matmul_adjoint_a(...)`, then `w2_bar = ...`, then
`h_2_bar = h_bar * ...`). Moved next to its reader, codegen folds it into
that reader's line (codegen/layout.py, `_adjacent_partials`), as a person
would write it. Names are assigned once, so moving a pure equation later in
its block, still before its reader, computes the same values; codegen
decides in-place writes from the order it is given, after this pass. Only
backward-pass equations of the rule table move, never tapes, writes or calls
that run as they are.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

from symdiff.ir.nodes import Eqn, Function, If, Var
from symdiff.rules import RULES
from symdiff.rules.opaque import OP as OPAQUE

_FIXED = {"tape_new", "tape_push", "tape_pop", "setitem", "add_at", OPAQUE}


def _count_reads(function: Function) -> Counter:
    counts: Counter = Counter(a.name for a in function.results() if isinstance(a, Var))

    def scan(body) -> None:
        for stmt in body:
            counts.update(a.name for a in stmt.atoms() if isinstance(a, Var))
            if not isinstance(stmt, Eqn):
                for block in stmt.blocks():
                    scan(block)

    scan(function.body)
    return counts


def _movable(eqn, counts: Counter) -> bool:
    return (
        isinstance(eqn, Eqn) and eqn.adjoint and len(eqn.outs) == 1 and eqn.op in RULES and eqn.op not in _FIXED
        and counts[eqn.out.name] == 1
    )  # fmt: skip


def _block(body, counts: Counter) -> list:
    body = [_nested(stmt, counts) for stmt in body]
    readers: dict[str, int] = {}  # name -> position of the equation of this block reading it
    for position, stmt in enumerate(body):
        if isinstance(stmt, Eqn):
            for atom in stmt.atoms():
                if isinstance(atom, Var):
                    readers[atom.name] = position
    moved: dict[int, list[int]] = {}  # position of a reader -> positions of the equations moved before it
    for position, stmt in enumerate(body):
        if _movable(stmt, counts):
            reader = readers.get(stmt.out.name)
            if reader is not None and reader > position and body[reader].adjoint:  # an adjacent one follows its reader
                moved.setdefault(reader, []).append(position)
    deferred = {p for ps in moved.values() for p in ps}
    out: list = []

    def emit(
        position: int,
    ) -> None:  # the equations moved before it first, in their order (no recursion: chains run long)
        stack = [(position, False)]
        while stack:
            at, ready = stack.pop()
            if ready:
                out.append(body[at])
                continue
            stack.append((at, True))
            stack.extend((earlier, False) for earlier in reversed(moved.get(at, ())))

    for position in range(len(body)):
        if position not in deferred:
            emit(position)
    return out


def _nested(stmt, counts: Counter):
    if isinstance(stmt, Eqn):
        return stmt
    if isinstance(stmt, If):
        return replace(
            stmt, then_body=tuple(_block(stmt.then_body, counts)), else_body=tuple(_block(stmt.else_body, counts))
        )
    return replace(stmt, cond_body=tuple(_block(stmt.cond_body, counts)), body=tuple(_block(stmt.body, counts)))


def sink_single_uses(function: Function) -> Function:
    """`function` with each backward-pass value read once moved to just before its reader."""
    return replace(function, body=tuple(_block(function.body, _count_reads(function))))
