"""Tapes that hold one value: the backward pass reads the value instead.

A loop's forward pass pushes onto a tape what its backward pass needs from
each iteration. Once other passes have found that what is pushed is a
constant (the shape `()` of a scalar, see `shapes.py`), every push pushes
that same value, so every pop gives it back: the pops' values are replaced by
the constant, and the tape, read by nothing else, is then dead code (`dce`).
So for a value defined at the function's top level (a loop-invariant one that
`hoist.py` moved out of its loop): every push pushes that one object, and
every pop gives that object back.
A tape is followed through the loops that carry it (their carried values,
first values, results and outputs) and the `if`s that pass it on.
"""

from __future__ import annotations

from dataclasses import replace

from symdiff.ir.nodes import Atom, Const, Eqn, Function, If, Loop, Var
from symdiff.optimize.walk import map_eqns, substitute

_SIMPLE = (int, float, bool, tuple, type(None))


class _Groups:
    """Union-find over the names of one tape's successive versions."""

    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, name: str) -> str:
        while self.parent.setdefault(name, name) != name:
            name = self.parent[name]
        return name

    def join(self, *atoms: Atom) -> None:
        names = [a.name for a in atoms if isinstance(a, Var)]
        for other in names[1:]:
            self.parent[self.find(other)] = self.find(names[0])


def tape_groups(body) -> tuple[_Groups, dict[int, Eqn], dict[int, Eqn]]:
    """The tapes of `body` (a union-find over their versions) and their pushes and pops, by `id`."""
    groups = _Groups()
    pushes: dict[int, Eqn] = {}
    pops: dict[int, Eqn] = {}
    _scan(body, groups, pushes, pops)
    return groups, pushes, pops


def constant_tapes(function: Function) -> Function:
    """`function` with the values popped off a tape of one constant replaced by that constant."""
    groups, pushes, pops = tape_groups(function.body)
    top = {p.name for p in function.params} | {n for n, _ in function.free}
    top |= {v.name for stmt in function.body for v in stmt.outs}  # defined at the top level, not inside a block
    values: dict[str, set] = {}
    for push in pushes.values():
        value = push.ins[1]
        if isinstance(value, Var) and value.name in top:  # one object, pushed again and again
            values.setdefault(groups.find(push.ins[0].name), set()).add((Var, value))
            continue
        simple = isinstance(value, Const) and isinstance(value.value, _SIMPLE)
        values.setdefault(groups.find(push.ins[0].name), set()).add(
            (type(value.value), value.value) if simple else None
        )
    mapping: dict[str, Atom] = {}
    for pop in pops.values():
        found = values.get(groups.find(pop.ins[0].name), set())
        if len(found) == 1 and None not in found:
            kind, value = next(iter(found))
            mapping[pop.outs[1].name] = value if kind is Var else Const(value)
    if not mapping:
        return function
    body = map_eqns(function.body, lambda eqn, scope: eqn, mapping)  # substitutes the constants where read
    if isinstance(function.result, tuple):
        return replace(function, body=tuple(body), result=tuple(substitute(a, mapping) for a in function.result))
    return replace(function, body=tuple(body), result=substitute(function.result, mapping))


def _scan(body, groups: _Groups, pushes: dict[int, Eqn], pops: dict[int, Eqn]) -> None:
    for stmt in body:
        if isinstance(stmt, Eqn):
            if stmt.op == "tape_push" and isinstance(stmt.ins[0], Var):
                groups.join(stmt.ins[0], stmt.out)
                pushes[id(stmt)] = stmt
            elif stmt.op == "tape_pop" and isinstance(stmt.ins[0], Var):
                groups.join(stmt.ins[0], stmt.outs[0])
                pops[id(stmt)] = stmt
            continue
        if isinstance(stmt, Loop):
            for group in zip(stmt.carried, stmt.inits, stmt.results, stmt.outs):
                groups.join(*group)
        elif isinstance(stmt, If):
            for group in zip(stmt.outs, stmt.then_results, stmt.else_results):
                groups.join(*group)
        for block in stmt.blocks():
            _scan(block, groups, pushes, pops)


__all__ = ["constant_tapes", "tape_groups"]
