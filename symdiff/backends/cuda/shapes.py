"""Symbolic shapes: which device values provably have the same shape.

A fused elementwise kernel runs one thread per element of one index space, so
two equations may share a kernel only when their outputs have the same
shape. Shapes are unknown until call time, so shapes are tracked as terms:

- `("of", name)`: the shape of a value nothing more is known about;
- `SCALAR`: the shape `()`, which broadcasts into anything;
- `("keep", S, axis)`: S with `axis` reduced to length 1 (`keepdims=True`);
- `("bcast", frozenset)`: the broadcast of several shapes, kept canonical by
  dropping every member that broadcasts into another one.

`fits(t, s)` ("t broadcasts into s") is sound: when it holds, broadcasting a
`t`-shaped value against an `s`-shaped one gives shape `s` for every choice
of runtime shapes. Equal terms mean equal shapes; unequal terms mean
"unknown", which only costs fusion, never correctness.
"""

from __future__ import annotations

from symdiff.ir.nodes import Atom, Const, Eqn, Var

Shape = tuple
SCALAR: Shape = ("scalar",)
_SAME_AS_OPERAND = {
    "zeros_like": 0, "ones_like": 0, "full_like": 0, "empty_like": 0, "copy": 0, "flip": 0, "as_float": 0,
    "as_integer": 0,
}  # fmt: skip
_SAME_AS_ARGUMENT = {"matmul_adjoint_a": 1, "matmul_adjoint_b": 2}
_SHAPE_ARGUMENT = {"broadcast_to": "shape", "sum_to": "shape", "reshape": "shape"}
_REDUCTIONS = {"sum", "mean", "prod", "max", "min"}


def fits(t: Shape, s: Shape) -> bool:
    """Whether a value of shape `t` broadcasts into shape `s` (result shape `s`)."""
    if t == s or t == SCALAR:
        return True
    if t[0] == "keep":
        return fits(t[1], s)
    if t[0] == "bcast":
        return all(fits(member, s) for member in t[1])
    if s[0] == "bcast":
        return any(fits(t, member) for member in s[1])
    return False


def bcast(*shapes: Shape) -> Shape:
    """The canonical term for the broadcast of `shapes`."""
    members: list[Shape] = []
    for shape in shapes:
        members.extend(shape[1] if shape[0] == "bcast" else [shape])
    kept = list(dict.fromkeys(members))
    for member in list(kept):
        others = [other for other in kept if other != member]
        if others and fits(member, others[0] if len(others) == 1 else ("bcast", frozenset(others))):
            kept.remove(member)
    if not kept:
        return SCALAR
    return kept[0] if len(kept) == 1 else ("bcast", frozenset(kept))


class ShapeTerms:
    """The symbolic shape of every value of one function, learned equation by equation."""

    def __init__(self) -> None:
        self.terms: dict[str, Shape] = {}
        self.defs: dict[str, Eqn] = {}

    def of(self, atom: Atom) -> Shape:
        """The term for `atom`'s shape (Python numbers are scalars)."""
        if isinstance(atom, Const):
            return SCALAR
        return self.terms.get(atom.name, ("of", atom.name))

    def declare(self, name: str, term: Shape) -> None:
        """Record the shape of an input (a parameter or module constant)."""
        self.terms[name] = term

    def learn(self, eqn: Eqn, elementwise: bool, scalar: bool = False) -> None:
        """Record the shape of `eqn`'s outputs; `scalar` marks host numbers."""
        for out in eqn.outs:
            self.defs[out.name] = eqn
        if len(eqn.outs) != 1:
            return
        name = eqn.out.name
        if scalar:
            self.terms[name] = SCALAR
        elif elementwise:
            self.terms[name] = bcast(*(self.of(a) for a in eqn.ins))
        else:
            self.terms[name] = self._structural(eqn)

    def _structural(self, eqn: Eqn) -> Shape:
        static = eqn.static_dict()
        if eqn.op in _SAME_AS_OPERAND:
            return self.of(eqn.ins[_SAME_AS_OPERAND[eqn.op]])
        if eqn.op in _SAME_AS_ARGUMENT:
            return self.of(eqn.ins[_SAME_AS_ARGUMENT[eqn.op]])
        if eqn.op in _SHAPE_ARGUMENT:
            return self._shape_value(static.get(_SHAPE_ARGUMENT[eqn.op]), eqn.out.name)
        if eqn.op in _REDUCTIONS:
            return self._reduced(eqn, static)
        return ("of", eqn.out.name)

    def _reduced(self, eqn: Eqn, static: dict) -> Shape:
        axis = static.get("axis", Const(None))
        keepdims = static.get("keepdims", Const(False))
        if not isinstance(axis, Const) or not isinstance(keepdims, Const):
            return ("of", eqn.out.name)
        if keepdims.value:
            return ("keep", self.of(eqn.ins[0]), axis.value)
        return SCALAR if axis.value is None else ("of", eqn.out.name)

    def _shape_value(self, atom: Atom | None, fallback: str) -> Shape:
        """The term for the array shape held by the host value `atom` (`np.shape(y)` and what combines them)."""
        eqn = self.defs.get(atom.name) if isinstance(atom, Var) else None
        if eqn is not None and eqn.op == "shape":
            return self.of(eqn.ins[0])
        if eqn is not None and eqn.op == "keepdims_shape" and isinstance(eqn.ins[1], Const):
            inner = self._shape_value(eqn.ins[0], fallback)
            return ("of", fallback) if inner == ("of", fallback) else ("keep", inner, eqn.ins[1].value)
        if eqn is not None and eqn.op == "broadcast_shapes":
            parts = [self._shape_value(a, fallback) for a in eqn.ins]
            return ("of", fallback) if ("of", fallback) in parts else bcast(*parts)
        return ("of", fallback)
