"""Checks the IR invariants; the test suite runs it after every pass.

Invariants: each name is assigned once in the whole function; each name is
defined before it is read, in textual order (names defined inside an `If`
arm or a loop body stay visible afterwards, as in Python); each op is known
to the rule table. A violation is a bug in symdiff, so it raises `IRError`,
never a user-facing error.
"""

from __future__ import annotations

from collections.abc import Container

from symdiff.ir.nodes import Eqn, Function, If, Loop, Var


class IRError(Exception):
    """An IR invariant was broken by a pass (a symdiff bug)."""


class _Checker:
    def __init__(self, function: Function, known_ops):
        self.defined: set[str] = {name for name, _ in function.free}
        self.known_ops = known_ops

    def define(self, var: Var, where: str) -> None:
        if var.name in self.defined:
            raise IRError(f"{where}: {var.name} assigned twice")
        self.defined.add(var.name)

    def read(self, atoms, where: str) -> None:
        for atom in atoms:
            if isinstance(atom, Var) and atom.name not in self.defined:
                raise IRError(f"{where}: {atom.name} used before definition")

    def block(self, body, where: str) -> None:
        for number, stmt in enumerate(body, 1):
            here = f"{where}.{number}"
            if isinstance(stmt, Eqn):
                self.read(stmt.atoms(), f"{here} {stmt}")
                if self.known_ops is not None and stmt.op not in self.known_ops:
                    raise IRError(f"{here}: unknown op {stmt.op!r}")
                for out in stmt.outs:
                    self.define(out, here)
            elif isinstance(stmt, If):
                self.read([stmt.cond], here)
                self.block(stmt.then_body, here + "then")
                self.read(stmt.then_results, here + "then")
                self.block(stmt.else_body, here + "else")
                self.read(stmt.else_results, here + "else")
                for out in stmt.outs:
                    self.define(out, here)
            elif isinstance(stmt, Loop):
                self.loop(stmt, here)
            else:
                raise IRError(f"{here}: unknown statement {type(stmt).__name__}")

    def loop(self, loop: Loop, where: str) -> None:
        self.read(loop.inits + loop.bounds, where)
        if not (len(loop.carried) == len(loop.inits) == len(loop.results) == len(loop.outs)):
            raise IRError(f"{where}: loop carried/inits/results/outs lengths differ")
        for var in loop.carried + ((loop.index,) if loop.index is not None else ()):
            self.define(var, where)
        self.block(loop.cond_body, where + "cond")
        if loop.cond is not None:
            self.read([loop.cond], where + "cond")
        self.block(loop.body, where + "body")
        self.read(loop.results, where + "body")
        for out in loop.outs:
            self.define(out, where)


def verify(function: Function, known_ops: Container[str] | None = None) -> Function:
    """Raise `IRError` unless `function` is well formed; return it unchanged."""
    checker = _Checker(function, known_ops)
    for param in function.params:
        checker.define(param, "params")
    checker.block(function.body, "")
    checker.read(function.results(), "result")
    return function
