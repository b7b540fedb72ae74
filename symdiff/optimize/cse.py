"""Common-subexpression elimination: compute each (op, operands) once.

Two equations with the same op, operands and static arguments compute the
same value (every op is pure), so the later one is replaced by the earlier
one's output. Constructors that allocate (zeros, ones, ...) are shared too,
since no op mutates its operands.
"""

from __future__ import annotations

from dataclasses import replace

from symdiff.ir.nodes import Atom, Eqn, Function, Var


def substitute(atom: Atom, mapping: dict[str, Atom]) -> Atom:
    """`atom` with variables replaced through `mapping`."""
    return mapping.get(atom.name, atom) if isinstance(atom, Var) else atom


def rewrite(eqn: Eqn, mapping: dict[str, Atom]) -> Eqn:
    """`eqn` with its operands replaced through `mapping`."""
    if not mapping:
        return eqn
    return Eqn(
        eqn.outs,
        eqn.op,
        tuple(substitute(a, mapping) for a in eqn.ins),
        tuple((k, substitute(a, mapping)) for k, a in eqn.static),
        eqn.loc,
        eqn.adjoint,
    )


def rewrite_result(function: Function, mapping: dict[str, Atom]):
    if isinstance(function.result, tuple):
        return tuple(substitute(a, mapping) for a in function.result)
    return substitute(function.result, mapping)


def cse(function: Function) -> Function:
    """`function` with repeated computations shared."""
    seen: dict[tuple, Var] = {}
    mapping: dict[str, Atom] = {}
    body = []
    for eqn in function.body:
        eqn = rewrite(eqn, mapping)
        key = (eqn.op, eqn.ins, eqn.static)
        if len(eqn.outs) == 1 and key in seen:
            mapping[eqn.out.name] = _prefer(seen[key], eqn.out)
            continue
        if len(eqn.outs) == 1:
            seen[key] = eqn.out
        body.append(eqn)
    return replace(function, body=tuple(body), result=rewrite_result(function, mapping))


def _prefer(kept: Var, dropped: Var) -> Var:
    return kept
