"""Copy a row that outlives a write into its array, so the array can be written in place.

`h[t] = f(h[t - 1])` over the rows of a 2-D `h` reads a row, a view of `h`,
that the tape keeps for the backward pass; the backward loop reads the
cotangent row `h_bar[t]` and then zeroes it. Either view, still held after the
write, would see the write, so codegen (layout.py) copies the whole array at
every step instead of writing in place: quadratic in the number of steps.
Copying the row instead costs one row per step. This pass puts `np.copy` on a
row read out of an array (a known number of axes, at least one, taken by an
integer index: analysis/ranks.py) that a later statement of the same block
writes into, when the row is saved on a tape or read after that write.
"""

from __future__ import annotations

from symdiff.analysis.aliases import ELEMENT_READS, PASSED_ON, VIEWS
from symdiff.analysis.ranks import known_ranks
from symdiff.ir.names import Names
from symdiff.ir.nodes import Eqn, Function, If, Loop, Var, defined, reads, walk
from symdiff.optimize.walk import rewrite_function

_SHARING = VIEWS | PASSED_ON  # what hands a row's memory on


def copy_rows_past_writes(function: Function) -> Function:
    """`function` with such rows copied where they are read out (see the module docstring)."""
    ranks = known_ranks(function)
    kept = {e.ins[1].name for e in walk(function.body) if e.op == "tape_push" and isinstance(e.ins[1], Var)}
    chosen: set[int] = set()
    _scan(function.body, function.results(), ranks, kept, chosen)
    if not chosen:
        return function
    names = Names([p.name for p in function.params] + [n for n, _ in function.free])
    names.used |= {v.name for stmt in function.body for v in defined(stmt)}

    def visit(eqn: Eqn, scope: dict):
        if id(eqn) not in chosen:
            return eqn
        row = eqn.out
        view = Var(names.fresh(f"{row.name}_view"), temp=True)
        read = Eqn((view,), eqn.op, eqn.ins, eqn.static, eqn.loc, eqn.adjoint)
        return [read, Eqn((row,), "copy", (view,), (), eqn.loc, eqn.adjoint)]  # later readers see the copy

    return rewrite_function(function, visit)


def _scan(body, results, ranks: dict[str, int], kept: set[str], chosen: set[int]) -> None:
    body = list(body)
    for i, stmt in enumerate(body):
        if isinstance(stmt, If):
            _scan(stmt.then_body, stmt.then_results, ranks, kept, chosen)
            _scan(stmt.else_body, stmt.else_results, ranks, kept, chosen)
            continue
        if isinstance(stmt, Loop):
            _scan(stmt.cond_body, (stmt.cond,) if stmt.cond is not None else (), ranks, kept, chosen)
            _scan(stmt.body, stmt.results, ranks, kept, chosen)
            continue
        if stmt.op not in ELEMENT_READS or not isinstance(stmt.ins[0], Var) or ranks.get(stmt.out.name, 0) < 1:
            continue
        array = stmt.ins[0].name
        writes = [j for j in range(i + 1, len(body)) if _writes_into(body[j], array)]
        if not writes:
            continue
        sharing = {stmt.out.name}  # the row and what hands its memory on (`sum_to` of it, a reshape, ...)
        for later in body[i + 1 :]:
            source = later.ins[0] if isinstance(later, Eqn) and later.op in _SHARING else None
            if isinstance(source, Var) and source.name in sharing:
                sharing.add(later.out.name)
        after = [a for later in body[writes[0] + 1 :] for a in reads(later)] + list(results)
        if sharing & kept or any(isinstance(a, Var) and a.name in sharing for a in after):
            chosen.add(id(stmt))


def _writes_into(stmt, array: str) -> bool:
    return isinstance(stmt, Eqn) and stmt.op == "setitem" and isinstance(stmt.ins[0], Var) and stmt.ins[0].name == array
