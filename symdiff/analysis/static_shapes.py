"""The concrete shape of a value, where the arguments' shapes are known and the ops decide it.

Used only by builds specialised to their arguments' shapes (a recursion whose
depth is `A.shape[0]`, see `symdiff.structured`): there `np.shape(x)`,
`len(x)`, `x.ndim` and `x.size` fold to constants, so an `if` on them is
decided while building. Every answer must be exact, since a folded shape is
compiled into the code: an op this module does not know, or an operand whose
value could change the shape, gives None ("known only when running") and the
query stays in the code.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np

from symdiff.ir.nodes import Atom, Const, Eqn, Function, If, Loop, Var
from symdiff.rules import RULES

Shape = tuple[int, ...]
ShapeOf = Callable[[Atom], "Shape | None"]

_NUMERIC = (bool, int, float, complex, np.number, np.bool_, np.ndarray)
_BROADCAST = frozenset(("where", "lt", "le", "gt", "ge", "eq", "ne", "logical_and", "logical_or", "logical_not"))
_REDUCTIONS = frozenset(("sum", "mean", "prod", "max", "min"))
_SAME = frozenset(("copy", "zeros_like", "ones_like", "empty_like", "full_like", "pos", "neg", "grad_seed"))
_TO_SHAPE = frozenset(("sum_to", "broadcast_to"))  # the shape they are given, or they raise
_SCALARS = frozenset(("len", "ndim", "size", "float", "int", "bool"))
_MADE = frozenset(("zeros", "ones", "empty", "full"))


class KnownShapes:
    """What a build specialised to its arguments' shapes knows while lowering: each value's
    shape where the ops decide it, and which values are integers."""

    def __init__(self, params: dict[str, Shape]):
        self.shapes: dict[str, Shape] = dict(params)
        self.integers: set[str] = set()
        self.defs: dict[str, Eqn] = {}

    def copy(self) -> KnownShapes:
        other = KnownShapes(self.shapes)
        other.integers, other.defs = set(self.integers), dict(self.defs)
        return other

    def absorb(self, other: KnownShapes) -> None:
        """Take what `other` (a copy of this one that read more code) learned."""
        self.shapes, self.integers, self.defs = other.shapes, other.integers, other.defs

    def of(self, atom: Atom) -> Shape | None:
        if isinstance(atom, Var):
            return self.shapes.get(atom.name)
        return const_shape(atom)

    def integer(self, var: Var) -> None:
        """`var` is a Python integer (a loop counter)."""
        self.shapes[var.name] = ()
        self.integers.add(var.name)

    def learn(self, eqn: Eqn) -> None:
        if len(eqn.outs) != 1:
            return
        self.defs[eqn.out.name] = eqn
        shape = eqn_shape(eqn, self.of, self.defs, self.integers)
        if shape is not None:
            self.shapes[eqn.out.name] = shape
        if eqn.op in ("len", "size", "ndim", "int"):
            self.integers.add(eqn.out.name)

    def query(self, op: str, ins) -> Const | None:
        """`np.shape(x)`, `len(x)`, `np.ndim(x)` or `np.size(x)` as a constant, where x's shape is known."""
        shape = self.of(ins[0]) if op in ("shape", "len", "ndim", "size") and len(ins) == 1 else None
        if shape is None:
            return None
        if op == "shape":
            return Const(shape)
        if op == "len":
            return Const(shape[0]) if shape else None  # len() of a 0-d array raises: when running
        if op == "ndim":
            return Const(len(shape))
        return Const(int(np.prod(shape)))


def function_shapes(function: Function, params: dict[str, Shape], integers: Iterable[str] = ()) -> KnownShapes:
    """What the ops decide about the shapes of `function`'s values, its parameters having `params`
    (and the values named in `integers` being Python integers).

    A loop's carried value keeps the shape it starts with when its body provably maps that
    shape to itself (checked, not assumed: a guess the body does not keep is dropped and the
    body read again); an `if`'s output has a shape when both arms agree on it.
    """
    known = KnownShapes(params)
    known.integers.update(integers)
    _learn_block(function.body, known)
    return known


def _learn_block(body, known: KnownShapes) -> None:
    for stmt in body:
        if isinstance(stmt, Eqn):
            known.learn(stmt)
        elif isinstance(stmt, If):
            _learn_block(stmt.then_body, known)
            _learn_block(stmt.else_body, known)
            for out, a, b in zip(stmt.outs, stmt.then_results, stmt.else_results):
                if known.of(a) is not None and known.of(a) == known.of(b):
                    known.shapes[out.name] = known.of(a)
        else:
            _learn_loop(stmt, known)


def _learn_loop(loop: Loop, known: KnownShapes) -> None:
    guesses = {c.name: known.of(i) for c, i in zip(loop.carried, loop.inits) if known.of(i) is not None}
    while True:
        trial = known.copy()
        trial.shapes.update(guesses)
        if loop.index is not None:
            trial.integer(loop.index)
        _learn_block(loop.cond_body, trial)
        _learn_block(loop.body, trial)
        kept = {
            c.name: guesses[c.name]
            for c, r in zip(loop.carried, loop.results)
            if c.name in guesses and trial.of(r) == guesses[c.name]
        }
        if kept == guesses:
            break
        guesses = kept
    known.absorb(trial)
    for carried, out in zip(loop.carried, loop.outs):
        if carried.name in guesses:
            known.shapes[out.name] = guesses[carried.name]


def const_shape(atom: Atom) -> Shape | None:
    """The shape of a constant operand, or None for one that is not a number or an array."""
    if isinstance(atom, Const) and isinstance(atom.value, _NUMERIC):
        return np.shape(atom.value)
    return None


def eqn_shape(eqn: Eqn, shape_of: ShapeOf, defs: dict[str, Eqn], integers: set[str]) -> Shape | None:
    """The shape of `eqn`'s single output, or None when the ops alone do not decide it.

    `shape_of(atom)` gives an operand's known shape (None if unknown); `defs`
    maps names to their equations (to read an index built by `make_tuple`);
    `integers` names the values known to be Python integers (loop counters,
    `len(x)`), which may stand in an index as any integer would.
    """
    if len(eqn.outs) != 1:
        return None
    try:
        return _shape(eqn, shape_of, defs, integers)
    except (ValueError, TypeError, IndexError, np.exceptions.AxisError):
        return None  # NumPy would raise here too, when the code runs: leave it to then


def _shape(eqn: Eqn, shape_of: ShapeOf, defs: dict[str, Eqn], integers: set[str]) -> Shape | None:
    op, ins, static = eqn.op, eqn.ins, eqn.static_dict()
    shapes = [shape_of(a) for a in ins]
    rule = RULES.get(op)
    if op in _BROADCAST or (rule is not None and rule.elementwise):
        return None if None in shapes else tuple(np.broadcast_shapes(*shapes))
    if op in _SAME:
        return shapes[0]
    if op in _SCALARS:
        return ()
    if op == "shape":
        return None if shapes[0] is None else (len(shapes[0]),)
    if op in _TO_SHAPE:
        return _given_shape(static.get("shape"))
    if op in _MADE:
        return _given_shape(ins[0])
    if op in _REDUCTIONS:
        return _reduced(shapes[0], static.get("axis", Const(None)), static.get("keepdims", Const(False)))
    if op == "getitem":
        return _indexed(shapes[0], static.get("index"), defs, integers)
    if op == "delete":
        return _deleted(shapes[0], shapes[1], ins[1], static.get("axis", Const(None)))
    if op == "transpose":
        axes = static.get("axes", Const(None))
        if shapes[0] is None or not isinstance(axes, Const):
            return None
        return np.transpose(_proxy(shapes[0]), axes.value).shape
    if op == "reshape":
        return None if shapes[0] is None else _reshaped(shapes[0], static.get("shape"))
    if op in ("matmul", "dot"):
        return None if None in shapes else _matmul(op, shapes[0], shapes[1])
    return None


def _proxy(shape: Shape) -> np.ndarray:
    """An array of `shape` that takes no memory (every element is one zero): for views only."""
    return np.broadcast_to(np.zeros(()), shape)


def _given_shape(atom: Atom) -> Shape | None:
    if isinstance(atom, Const) and isinstance(atom.value, (int, np.integer)):
        return (int(atom.value),)
    if isinstance(atom, Const) and isinstance(atom.value, tuple) and all(isinstance(n, int) for n in atom.value):
        return atom.value
    return None


def _reduced(shape: Shape | None, axis: Atom, keepdims: Atom) -> Shape | None:
    if shape is None or not isinstance(axis, Const) or not isinstance(keepdims, Const):
        return None
    value = axis.value
    if value is None:
        axes = set(range(len(shape)))
    elif not shape:
        return None  # np.sum takes axis 0 of a 0-d array, np.mean does not: left to when running
    else:
        given = value if isinstance(value, tuple) else (value,)
        axes = {a % len(shape) for a in given if -len(shape) <= a < len(shape)}
        if len(axes) != len(given):
            return None  # an axis out of range, or one given twice: NumPy raises
    if keepdims.value:
        return tuple(1 if k in axes else n for k, n in enumerate(shape))
    return tuple(n for k, n in enumerate(shape) if k not in axes)


def _reshaped(shape: Shape, target: Atom | None) -> Shape | None:
    value = target.value if isinstance(target, Const) else None
    value = (value,) if isinstance(value, int) else value
    if not (isinstance(value, tuple) and all(isinstance(n, int) for n in value)) or value.count(-1) > 1:
        return None
    size = int(np.prod(shape))
    known = int(np.prod([n for n in value if n != -1]))
    if -1 in value:
        if known == 0 or size % known:
            return None
        value = tuple(size // known if n == -1 else n for n in value)
    return value if int(np.prod(value)) == size else None


def _matmul(op: str, a: Shape, b: Shape) -> Shape | None:
    if not a or not b:
        return tuple(np.broadcast_shapes(a, b)) if op == "dot" else None
    if op == "dot" and (len(a) > 2 or len(b) > 2):
        return None
    left, right = (a if len(a) > 1 else (1,) + a), (b if len(b) > 1 else b + (1,))
    if left[-1] != right[-2]:
        return None
    batch = tuple(np.broadcast_shapes(left[:-2], right[:-2]))
    return batch + (left[-2],) * (len(a) > 1) + (right[-1],) * (len(b) > 1)


def _indexed(shape: Shape | None, index: Atom | None, defs: dict[str, Eqn], integers: set[str]) -> Shape | None:
    """`x[index]`'s shape: integers known only when running stand in as 0 (the shape is the same)."""
    if shape is None or index is None:
        return None
    if isinstance(index, Const):
        items = index.value if isinstance(index.value, tuple) else (index.value,)
    elif index.name in defs and defs[index.name].op == "make_tuple":
        items = defs[index.name].ins
    else:
        items = (index,)
    concrete = []
    for item in items:
        if isinstance(item, Var):
            if item.name not in integers:
                return None  # an array index or a slice made when running: its length is unknown
            concrete.append(0)
        else:
            value = item.value if isinstance(item, Const) else item
            if isinstance(value, (list, np.ndarray)):
                return None
            concrete.append(value)
    return _proxy(shape)[tuple(concrete)].shape


def _deleted(shape: Shape | None, obj_shape: Shape | None, obj: Atom, axis: Atom) -> Shape | None:
    one = obj_shape == () and not (isinstance(obj, Const) and isinstance(obj.value, bool))
    if shape is None or not isinstance(axis, Const) or not one:
        return None  # a list or array of positions may repeat one: how many go is known when running
    if axis.value is None:
        return (int(np.prod(shape)) - 1,)
    position = axis.value % len(shape)
    if shape[position] == 0:
        return None
    return shape[:position] + (shape[position] - 1,) + shape[position + 1 :]


__all__ = ["KnownShapes", "const_shape", "eqn_shape", "function_shapes"]
