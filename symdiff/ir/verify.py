"""Checks the IR invariants; the test suite runs it after every pass.

Invariants: each name is assigned once; each name is defined (as a parameter
or an earlier output) before it is used; each op is known to the rule table.
A violation is a bug in symdiff, so it raises `AssertionError`-like
`IRError`, never a user-facing error.
"""

from __future__ import annotations

from collections.abc import Container

from symdiff.ir.nodes import Function, Var


class IRError(Exception):
    """An IR invariant was broken by a pass (a symdiff bug)."""


def verify(function: Function, known_ops: Container[str] | None = None) -> Function:
    """Raise `IRError` unless `function` is well formed; return it unchanged."""
    defined: set[str] = {name for name, _ in function.free}
    for param in function.params:
        if param.name in defined:
            raise IRError(f"parameter {param.name} appears twice")
        defined.add(param.name)
    for number, eqn in enumerate(function.body, 1):
        for atom in eqn.atoms():
            if isinstance(atom, Var) and atom.name not in defined:
                raise IRError(f"line {number}: {atom.name} used before definition in {eqn}")
        if known_ops is not None and eqn.op not in known_ops:
            raise IRError(f"line {number}: unknown op {eqn.op!r}")
        for out in eqn.outs:
            if out.name in defined:
                raise IRError(f"line {number}: {out.name} assigned twice")
            defined.add(out.name)
    for atom in function.results():
        if isinstance(atom, Var) and atom.name not in defined:
            raise IRError(f"result {atom.name} is never defined")
    return function
