"""Which values provably have the same shape, inferred from the ops alone.

Shapes are not known when code is generated, so passes that want to drop a
no-op `sum_to`, save one shape instead of two, or fuse loops reason from the
ops themselves: unary elementwise ops keep their operand's shape, combining
with a scalar constant keeps it, and the shape helpers produce the shape they
were given. The result is a union-find over names. Used by the reverse
transform's loop taping, the adjoint algebra, simplification and fusion.
"""

from __future__ import annotations

from symdiff.ir.nodes import Atom, Eqn, Var
from symdiff.rules import RULES

SHAPED_LIKE_LAST = {"sum_to": "shape", "broadcast_to": "shape", "reshape": "shape", "scatter_add": "shape"}
# Ops whose result has the shape of one operand (its position); the `*_like` ones take no `shape=` (refused).
SHAPED_LIKE_OPERAND = {
    "matmul_adjoint_a": 1, "matmul_adjoint_b": 2, "zeros_like": 0, "ones_like": 0, "empty_like": 0, "full_like": 0,
    "copy": 0, "setitem": 0,
}  # fmt: skip

# Not differentiated, so not marked elementwise in the rule table, but shaped like their operands.
_COMPARISONS = frozenset(("lt", "le", "gt", "ge", "eq", "ne", "logical_and", "logical_or", "logical_not"))


class ShapeClasses:
    """Union-find of names known to hold arrays of the same shape."""

    def __init__(self) -> None:
        self.parent: dict[str, str] = {}
        self.shape_of: dict[str, str] = {}  # var holding np.shape(x) -> x
        self.given_shape: dict[str, object] = {}  # result of sum_to/broadcast_to/reshape -> its shape atom

    def find(self, name: str) -> str:
        while self.parent.get(name, name) != name:
            name = self.parent[name]
        return name

    def union(self, a: str, b: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[ra] = rb

    def same(self, a: Atom, b: Atom) -> bool:
        return isinstance(a, Var) and isinstance(b, Var) and self.find(a.name) == self.find(b.name)

    def learn(self, eqn: Eqn) -> None:
        out = eqn.out.name
        if eqn.op == "shape" and isinstance(eqn.ins[0], Var):
            self.shape_of[out] = eqn.ins[0].name
            return
        rule = RULES.get(eqn.op)
        vars_in = [a for a in eqn.ins if isinstance(a, Var)]
        if rule is not None and (rule.elementwise or eqn.op in _COMPARISONS):
            scalars = all(isinstance(a, Var) or isinstance(a.value, (int, float)) for a in eqn.ins)
            if scalars and vars_in and all(self.same(vars_in[0], v) for v in vars_in):
                self.union(out, vars_in[0].name)
            return
        key = SHAPED_LIKE_LAST.get(eqn.op)
        if key is not None:
            shape = eqn.static_dict().get(key)
            self.given_shape[out] = shape
            if isinstance(shape, Var) and shape.name in self.shape_of:
                self.union(out, self.shape_of[shape.name])
            return
        position = SHAPED_LIKE_OPERAND.get(eqn.op)
        if position is not None and isinstance(eqn.ins[position], Var):
            self.union(out, eqn.ins[position].name)
        if eqn.op == "grad_seed" and isinstance(eqn.ins[0], Var):
            self.union(out, eqn.ins[0].name)
