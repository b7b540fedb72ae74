"""Shape queries read shapes, not values: push them down to operands.

Backward passes ask for `np.shape(v)` (to undo broadcasting, to spread a
reduction's cotangent). When `v` is an elementwise result, its shape follows
from its operands' shapes, so the query can read those instead, and `v`
itself may then never need computing: a gradient no longer evaluates the loss
value just to learn its shape. A query is only split into several
(`np.broadcast_shapes(np.shape(a), np.shape(b))`, which costs microseconds)
when nothing but shape queries reads `v`; otherwise `np.shape(v)` is cheaper. Likewise the shape helpers' results have the
shape they were given. Each rewrite is exact for every input shape.

The shape of a value that is a scalar whatever the arguments (a full
reduction, a count, anything `analysis/ranks.py` gives rank 0) is the
constant `()`: no query runs, and a loop keeps no tape of it.
"""

from __future__ import annotations

from symdiff.analysis.ranks import known_ranks
from symdiff.analysis.shapes import SHAPED_LIKE_OPERAND
from symdiff.ir.nodes import Const, Eqn, Function, Var
from symdiff.optimize.walk import rewrite_function
from symdiff.rules import RULES

_SHAPE_ARGUMENT = {"sum_to": "shape", "broadcast_to": "shape", "scatter_add": "shape"}
_FULL_REDUCTIONS = frozenset({"sum", "mean", "prod", "max", "min", "var", "std"})
_SCALAR_OPS = frozenset({"size", "ndim", "len"})  # integers


def scalar_result(eqn: Eqn) -> bool:
    """Whether `eqn`'s value is a scalar whatever its operands: a count, or a reduction over all
    axes without keepdims (NumPy returns a 0-d value: its shape is `()`)."""
    if eqn.op in _SCALAR_OPS:
        return True
    if eqn.op not in _FULL_REDUCTIONS:
        return False
    statics = eqn.static_dict()
    return statics.get("axis", Const(None)) == Const(None) and statics.get("keepdims", Const(False)) == Const(False)


def push_shapes(function: Function) -> Function:
    """`function` with `np.shape(v)` rewritten in terms of what `v` was computed from."""
    defs: dict[str, Eqn] = {}
    values_read = {a.name for a in _value_reads(function) if isinstance(a, Var)}
    ranks = known_ranks(function)

    def visit(eqn: Eqn, scope):
        for out in eqn.outs:
            defs[out.name] = eqn
        if eqn.op == "broadcast_shapes" and len(set(eqn.ins)) == 1:
            return eqn.ins[0]  # the broadcast of a shape with itself
        if eqn.op == "shape" and isinstance(eqn.ins[0], Var) and ranks.get(eqn.ins[0].name) == 0:
            return Const(())
        if eqn.op != "shape" or not isinstance(eqn.ins[0], Var) or eqn.ins[0].name not in defs:
            return eqn
        source = defs[eqn.ins[0].name]
        if len(source.outs) != 1:
            return eqn
        if scalar_result(source):
            return Const(())
        if source.op in _SHAPE_ARGUMENT:
            return source.static_dict()[_SHAPE_ARGUMENT[source.op]]
        if source.op in SHAPED_LIKE_OPERAND:
            return _query(eqn, source.ins[SHAPED_LIKE_OPERAND[source.op]], defs)
        rule = RULES[source.op]
        if not rule.elementwise or source.op == "where":
            return eqn
        operands = list(dict.fromkeys(a for a in source.ins if isinstance(a, Var)))
        scalars = all(isinstance(a, Var) or isinstance(a.value, (int, float, bool)) for a in source.ins)
        if not scalars or not operands:
            return eqn
        if len(operands) == 1:
            return _query(eqn, operands[0], defs)
        if eqn.ins[0].name in values_read:
            return eqn  # `v` is computed anyway: one query of it is cheaper than several
        queries = [Eqn((Var(f"{eqn.out.name}~s{k}", temp=True),), "shape", (a,), (), eqn.loc, eqn.adjoint) for k, a in enumerate(operands, 1)]
        combined = Eqn(eqn.outs, "broadcast_shapes", tuple(q.out for q in queries), (), eqn.loc, eqn.adjoint)
        for new in (*queries, combined):
            defs[new.out.name] = new
        return [*queries, combined]

    return rewrite_function(function, visit)


def _value_reads(function: Function) -> list:
    """Atoms read by anything but a shape query."""
    found = list(function.results())
    for stmt in function.body:
        if isinstance(stmt, Eqn):
            found += [] if stmt.op == "shape" else list(stmt.atoms())
        else:
            found += list(stmt.atoms())
            for block in stmt.blocks():
                found += _value_reads(Function("", (), tuple(block), ()))
    return found


def _query(eqn: Eqn, operand, defs) -> Eqn | Const:
    """`np.shape(operand)` in place of `eqn` (a constant's shape is known now)."""
    if isinstance(operand, Const):
        return Const(()) if isinstance(operand.value, (int, float, bool)) else eqn
    new = Eqn(eqn.outs, "shape", (operand,), (), eqn.loc, eqn.adjoint)
    defs[eqn.out.name] = new
    return new
