"""Reads of a written cotangent that cannot meet a repeated index become plain subscripts.

The rule for `x[index] = value` gives `value` the cotangent
`written_values(g, index)`, which zeroes the reads of elements that a
repeated integer index wrote more than once (NumPy keeps one of the writes).
Where the index is basic (integers, slices, loop counters, `None`,
`...`) no element is written twice, and the read is `g[index]`: the form
every backend already prints and fuses.
"""

from __future__ import annotations

from symdiff.analysis.integers import is_integer
from symdiff.ir.nodes import Const, Eqn, Function, loops, walk
from symdiff.optimize.walk import rewrite_function


def plain_written_reads(function: Function) -> Function:
    """`function` with `written_values(g, index)` as `g[index]` wherever `index` is basic."""
    defs = {out.name: eqn for eqn in walk(function.body) for out in eqn.outs}
    counters = {stmt.index.name for stmt in loops(function.body) if stmt.index is not None}

    def visit(eqn: Eqn, scope):
        if eqn.op == "written_values" and _basic(defs, eqn.static_dict()["index"], counters):
            return Eqn(eqn.outs, "getitem", eqn.ins, eqn.static, eqn.loc, eqn.adjoint)
        return eqn

    return rewrite_function(function, visit)


def _basic(defs, index, counters) -> bool:
    if isinstance(index, Const):
        values = index.value if isinstance(index.value, tuple) else (index.value,)
        return all(_basic_constant(v) for v in values)
    eqn = defs.get(index.name)
    if eqn is not None and eqn.op == "make_slice":
        return True
    if eqn is not None and eqn.op == "make_tuple":
        return all(_basic(defs, item, counters) for item in eqn.ins)
    return is_integer(defs, index, counters)


def _basic_constant(value) -> bool:
    return value is None or value is Ellipsis or isinstance(value, slice) or (
        isinstance(value, int) and not isinstance(value, bool)
    )
