"""Shared traversal for passes: rewrite operands and visit equations in every block.

Names are unique in a function, so a substitution found in one block is
valid wherever the name is read; passes keep one mapping for the whole
function.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from symdiff.ir.nodes import Atom, Eqn, Function, If, Loop, Var


def substitute(atom: Atom, mapping: dict[str, Atom]) -> Atom:
    """`atom` with variables replaced through `mapping`."""
    while isinstance(atom, Var) and atom.name in mapping:
        atom = mapping[atom.name]
    return atom


def _atoms(items, mapping) -> tuple:
    return tuple(substitute(a, mapping) for a in items)


def rewrite(eqn: Eqn, mapping: dict[str, Atom]) -> Eqn:
    """`eqn` with its operands replaced through `mapping`."""
    if not mapping:
        return eqn
    static = tuple((k, substitute(a, mapping)) for k, a in eqn.static)
    return Eqn(eqn.outs, eqn.op, _atoms(eqn.ins, mapping), static, eqn.loc, eqn.adjoint)


Visit = Callable[[Eqn, dict], "Eqn | Atom | None"]


def map_eqns(body, visit: Visit, mapping: dict[str, Atom], enter: Callable | None = None) -> list:
    """Rewrite every statement of `body`; `visit(eqn, scope)` returns a kept equation, or an
    atom that replaces the equation's output, or None to drop it. `enter(scope)` gives the
    scope dict used inside a nested block (CSE uses it to keep inner expressions inside)."""
    scope: dict = {}
    return _map(body, visit, mapping, scope, enter or (lambda s: s))


def _map(body, visit, mapping, scope, enter) -> list:
    out = []
    for stmt in body:
        if isinstance(stmt, Eqn):
            result = visit(rewrite(stmt, mapping), scope)
            if isinstance(result, Eqn):
                out.append(result)
            elif isinstance(result, list):  # several equations, the last one defining the output
                out.extend(result)
            elif result is not None:
                mapping[stmt.out.name] = result
        elif isinstance(stmt, If):
            cond = substitute(stmt.cond, mapping)
            then_body = tuple(_map(stmt.then_body, visit, mapping, enter(scope), enter))
            else_body = tuple(_map(stmt.else_body, visit, mapping, enter(scope), enter))
            out.append(replace(stmt, cond=cond, then_body=then_body, else_body=else_body,
                               then_results=_atoms(stmt.then_results, mapping),
                               else_results=_atoms(stmt.else_results, mapping)))  # fmt: skip
        else:
            inits, bounds = _atoms(stmt.inits, mapping), _atoms(stmt.bounds, mapping)
            cond_body = tuple(_map(stmt.cond_body, visit, mapping, enter(scope), enter))
            cond = substitute(stmt.cond, mapping) if stmt.cond is not None else None
            body_out = tuple(_map(stmt.body, visit, mapping, enter(scope), enter))
            out.append(replace(stmt, inits=inits, bounds=bounds, cond_body=cond_body, cond=cond, body=body_out,
                               results=_atoms(stmt.results, mapping)))  # fmt: skip
    return out


def rewrite_function(function: Function, visit: Visit, enter: Callable | None = None) -> Function:
    """Apply `visit` to every equation of `function` and fix up its result."""
    mapping: dict[str, Atom] = {}
    body = map_eqns(function.body, visit, mapping, enter)
    if isinstance(function.result, tuple):
        result = _atoms(function.result, mapping)
    else:
        result = substitute(function.result, mapping)
    return replace(function, body=tuple(body), result=result)


def rename_values(function: Function, mapping: dict[str, Var]) -> Function:
    """`function` with the equation outputs named in `mapping` renamed, at their definition and
    wherever they are read (each new name must be unused in `function`)."""
    if not mapping:
        return function

    def visit(eqn: Eqn, scope) -> Eqn:
        if any(out.name in mapping for out in eqn.outs):
            outs = tuple(mapping.get(out.name, out) for out in eqn.outs)
            return Eqn(outs, eqn.op, eqn.ins, eqn.static, eqn.loc, eqn.adjoint)
        return eqn

    body = map_eqns(function.body, visit, dict(mapping))
    if isinstance(function.result, tuple):
        return replace(function, body=tuple(body), result=_atoms(function.result, mapping))
    return replace(function, body=tuple(body), result=substitute(function.result, mapping))


__all__ = ["Loop", "map_eqns", "rename_values", "rewrite", "rewrite_function", "substitute"]
