"""Inlining a derivative rule's body under the caller's names.

A rule is an ordinary function in the supported subset; its body is lowered by
the frontend at each use with its parameters bound to the caller's atoms, so
static arguments arrive as constants and fold away. The new equations carry
the location of the forward statement being differentiated, which is what
codegen quotes in its `# grad of:` comments.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from functools import cache
from typing import Any

from symdiff.errors import Location
from symdiff.frontend.lower import Lowering, Pack
from symdiff.frontend.source import FunctionSource, read_source
from symdiff.frontend.subset import check_subset
from symdiff.ir.names import Names
from symdiff.ir.nodes import Atom, Const, Eqn, If, Var


@cache
def _rule_source(vjp: Callable) -> FunctionSource:
    source = read_source(vjp)
    _check_rule(source)
    return source


def _check_rule(source: FunctionSource) -> None:
    args = source.node.args
    saved = (args.vararg, args.kwonlyargs, args.kw_defaults)
    args.vararg, args.kwonlyargs, args.kw_defaults = None, [], []
    try:
        check_subset(source)
    finally:
        args.vararg, args.kwonlyargs, args.kw_defaults = saved


def inline_rule(
    vjp: Callable,
    args: list[Any],
    kwargs: dict[str, Atom],
    names: Names,
    body: list[Eqn],
    loc: Location | None,
    hint: str,
    known: Any = None,
) -> tuple[Atom | None, ...]:
    """Append the rule's equations to `body`; return one cotangent atom (or None) per operand.

    `known` (a `KnownShapes`, in a build for known argument shapes) folds the rule's shape queries.
    """
    source = _rule_source(vjp)
    lowering = Lowering(source, names, body, (), {})
    lowering.known = known
    lowering.fixed_loc = loc
    lowering.target_hint = hint
    lowering.bind(args, kwargs, loc, vjp.__name__)
    start = len(body)
    result = lowering.run()
    items = result.items if isinstance(result, Pack) else (result,)
    atoms = tuple(None if _is_none(item) else lowering.atom(item, source.node) for item in items)
    return _locals_as_temporaries(body, start, atoms)


def _locals_as_temporaries(body: list, start: int, atoms: tuple) -> tuple:
    """The rule's local values (`hit`, `kept` of max's rule) as temporaries, like the parts of an
    expression: codegen folds one read once into its reader. What the rule returns keeps its
    kind (the caller names it). A rule with control flow is left as it is."""
    added = body[start:]
    if not all(isinstance(stmt, Eqn) for stmt in added):
        return atoms
    returned = {a.name for a in atoms if isinstance(a, Var)}
    mapping = {
        out.name: Var(out.name, temp=True)
        for stmt in added for out in stmt.outs if not out.temp and out.name not in returned
    }  # fmt: skip
    if not mapping:
        return atoms

    def swap(atom):
        return mapping.get(atom.name, atom) if isinstance(atom, Var) else atom

    body[start:] = [
        Eqn(tuple(swap(o) for o in stmt.outs), stmt.op, tuple(swap(a) for a in stmt.ins),
            tuple((key, swap(a)) for key, a in stmt.static), stmt.loc, stmt.adjoint)
        for stmt in added
    ]  # fmt: skip
    return atoms


def _is_none(item: Any) -> bool:
    return item is None or (isinstance(item, Const) and item.value is None)


def rename(body: list[Eqn], start: int, old: Var, new: Var) -> None:
    """Rename `old` to `new` in `body[start:]` (definitions and uses)."""

    def swap(atom):
        return new if atom == old else atom

    for k in range(start, len(body)):
        eqn = body[k]
        body[k] = Eqn(
            tuple(swap(o) for o in eqn.outs),
            eqn.op,
            tuple(swap(a) for a in eqn.ins),
            tuple((key, swap(a)) for key, a in eqn.static),
            eqn.loc,
            eqn.adjoint,
        )


def rename_all(body: list, mapping: dict) -> list:
    """`body` (statements, nested blocks included) with variables renamed through `mapping`."""
    from symdiff.ir.nodes import If, Loop

    if not mapping:
        return list(body)

    def atom(a):
        return mapping.get(a.name, a) if isinstance(a, Var) else a

    def atoms(items):
        return tuple(atom(a) for a in items)

    out = []
    for stmt in body:
        if isinstance(stmt, Eqn):
            out.append(Eqn(stmt.outs, stmt.op, atoms(stmt.ins), tuple((k, atom(a)) for k, a in stmt.static), stmt.loc, stmt.adjoint))
        elif isinstance(stmt, If):
            out.append(If(stmt.outs, atom(stmt.cond), tuple(rename_all(stmt.then_body, mapping)), atoms(stmt.then_results),
                          tuple(rename_all(stmt.else_body, mapping)), atoms(stmt.else_results), stmt.loc, stmt.adjoint))
        elif isinstance(stmt, Loop):
            out.append(Loop(stmt.outs, stmt.carried, atoms(stmt.inits), tuple(rename_all(stmt.body, mapping)),
                            atoms(stmt.results), stmt.index, atoms(stmt.bounds), tuple(rename_all(stmt.cond_body, mapping)),
                            atom(stmt.cond) if stmt.cond is not None else None, stmt.reverse, stmt.loc, stmt.adjoint))
    return out


def renamed(stmt, mapping: dict[str, Var]):
    """`stmt` with every name in `mapping` replaced, where it is defined and where it is read."""

    def one(atom):
        return mapping.get(atom.name, atom) if isinstance(atom, Var) else atom

    def many(atoms) -> tuple:
        return tuple(one(a) for a in atoms)

    def block(body) -> tuple:
        return tuple(renamed(s, mapping) for s in body)

    if isinstance(stmt, Eqn):
        return replace(stmt, outs=many(stmt.outs), ins=many(stmt.ins), static=tuple((k, one(a)) for k, a in stmt.static))
    if isinstance(stmt, If):
        return replace(
            stmt, outs=many(stmt.outs), cond=one(stmt.cond), then_body=block(stmt.then_body),
            then_results=many(stmt.then_results), else_body=block(stmt.else_body), else_results=many(stmt.else_results),
        )  # fmt: skip
    return replace(
        stmt, outs=many(stmt.outs), carried=many(stmt.carried), inits=many(stmt.inits), body=block(stmt.body),
        results=many(stmt.results), index=one(stmt.index) if stmt.index is not None else None,
        bounds=many(stmt.bounds), cond_body=block(stmt.cond_body), cond=one(stmt.cond) if stmt.cond is not None else None,
    )  # fmt: skip
