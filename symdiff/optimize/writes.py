"""Drop element writes that nothing can read back.

The adjoint of `hs[t] = h` in a loop is `hs_bar = index_update(hs_bar, 0.0, t)`
(the overwritten element's cotangent goes nowhere), a copy of the whole array
on every iteration of the backward loop. The copy is unobservable when

- the loop counts over a range that never goes negative, so each iteration
  writes its own element `t`;
- inside the loop the array is only read at that same index `t` (each
  iteration sees only its own element, never one another iteration wrote);
- the array after the loop is dead (the cotangent of the `np.zeros` the
  forward pass started from).

Then the array is carried through the loop unchanged. Applies to any loop of
that shape, forward or backward.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

from symdiff.analysis.integers import linear, nonnegative
from symdiff.ir.nodes import Const, Eqn, Function, If, Loop, Var, walk


def drop_unseen_writes(function: Function) -> Function:
    """`function` with loop element writes that no later read can observe removed."""
    uses: Counter = Counter()
    defs: dict[str, Eqn] = {}
    _count(function.body, uses, defs)
    uses.update(a.name for a in function.results() if isinstance(a, Var))
    body = _block(function.body, uses, defs)
    return function if body == list(function.body) else replace(function, body=tuple(body))


def _count(body, uses: Counter, defs: dict) -> None:
    for stmt in body:
        uses.update(a.name for a in stmt.atoms() if isinstance(a, Var))
        if isinstance(stmt, Eqn):
            uses.update(a.name for _, a in stmt.static if isinstance(a, Var))
            for out in stmt.outs:
                defs[out.name] = stmt
        else:
            for block in stmt.blocks():
                _count(block, uses, defs)


def _block(body, uses, defs) -> list:
    out = []
    for stmt in body:
        if isinstance(stmt, If):
            stmt = replace(stmt, then_body=tuple(_block(stmt.then_body, uses, defs)),
                           else_body=tuple(_block(stmt.else_body, uses, defs)))  # fmt: skip
        elif isinstance(stmt, Loop):
            stmt = _loop(replace(stmt, body=tuple(_block(stmt.body, uses, defs))), uses, defs)
        out.append(stmt)
    return out


def _loop(loop: Loop, uses, defs) -> Loop:
    if not _distinct_counter(loop, defs):
        return loop
    results = list(loop.results)
    for k, (phi, out, result) in enumerate(zip(loop.carried, loop.outs, loop.results)):
        write = defs.get(result.name) if isinstance(result, Var) else None
        if (
            uses[out.name] == 0 and write is not None and any(s is write for s in loop.body) and write.op == "setitem"
            and write.ins[0] == phi and write.ins[1] != phi and uses[result.name] == 1
            and write.static_dict()["index"] == loop.index and _reads_only_own_element(loop, phi, write, uses)
        ):  # fmt: skip
            results[k] = phi
    return loop if results == list(loop.results) else replace(loop, results=tuple(results))


def _distinct_counter(loop: Loop, defs) -> bool:
    """A counted loop whose counter takes distinct values that are never negative."""
    if loop.index is None:
        return False
    start, _, step = loop.bounds
    first = linear(defs, start)
    positive_step = isinstance(step, Const) and type(step.value) is int and step.value > 0
    return positive_step and first is not None and nonnegative(defs, first)


def _reads_only_own_element(loop: Loop, phi: Var, write: Eqn, uses) -> bool:
    """Whether `phi` is read in the loop only by `write` and by `phi[index]`."""
    readers = [e for e in walk(loop.body) + walk(loop.cond_body) if phi in e.ins]
    own = all(e is write or (e.op == "getitem" and e.ins == (phi,) and e.static_dict()["index"] == loop.index)
              for e in readers)  # fmt: skip
    return own and uses[phi.name] == len(readers)
