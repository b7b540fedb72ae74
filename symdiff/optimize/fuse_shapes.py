"""Shape facts and shape passes for fusion planning (`optimize.fuse`).

- `fusable(op)`, `is_full_reduction(eqn)`, `is_axis_reduction(eqn)`,
  `scalar_names(function)`: what may join an elementwise loop, what reduces a
  whole array to a scalar, what reduces along constant axes (or `sum_to`), and
  which values are scalars whatever the argument shapes;
- `ShapeFacts`: `ShapeClasses` of analysis/shapes.py plus the facts reverse
  mode needs for slices and broadcasts;
- `drop_shape_identities`: removes the `sum_to`, `broadcast_to`, `reshape`
  and `broadcast_shapes` that `ShapeFacts` proves change nothing;
- `elide_broadcasts`: replaces a materialised `broadcast_to` read by
  elementwise ops that broadcast anyway with its source (a scalar, where the
  source is a reshaped scalar);
- `Uses`: where each name is defined and read, by block.

Imports: ir, rules (as data), optimize.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

from symdiff.analysis.shapes import ShapeClasses
from symdiff.ir.names import Names
from symdiff.ir.nodes import Atom, Const, Eqn, Function, If, Loop, Var, defined, walk
from symdiff.optimize.dce import dce
from symdiff.optimize.walk import rewrite, rewrite_function
from symdiff.rules import RULES

# Elementwise predicates have zero derivative, so they are not flagged elementwise.
_PREDICATES = frozenset({"lt", "le", "gt", "ge", "eq", "ne", "logical_and", "logical_or", "logical_not", "isnan", "isfinite", "sign", "floor", "ceil"})  # fmt: skip
# Python casts and selections are elementwise but are not single-loop primitives.
_NOT_LOOPED = frozenset({"float", "int", "bool", "where", "clip"})
_FULL_REDUCTIONS = frozenset({"sum", "mean"})
_CASTS = frozenset({"float", "int", "bool"})  # Python casts: a one-element array of any shape gives a scalar
_SCALAR_OPS = frozenset({"grad_seed", "size", "len", "ndim", "float", "int", "bool"})
_REDUCTIONS = frozenset({"sum", "mean", "max", "min", "prod"})


def fusable(op: str) -> bool:
    """Whether `op` computes each output element from the same element of its operands."""
    rule = RULES.get(op)
    if rule is None or op in _NOT_LOOPED:
        return False
    return rule.elementwise or op in _PREDICATES


def is_full_reduction(eqn: Eqn) -> bool:
    """`sum`/`mean` over every axis to a scalar (axis=None, keepdims=False), or `sum_to(x, ())`
    (reverse mode's cotangent of a scalar broadcast against an array: the same sum)."""
    if eqn.op == "sum_to":
        return eqn.static_dict().get("shape") == Const(())
    if eqn.op not in _FULL_REDUCTIONS:
        return False
    static = eqn.static_dict()
    return static.get("axis", Const(None)) == Const(None) and static.get("keepdims", Const(False)) == Const(False)


def is_axis_reduction(eqn: Eqn) -> bool:
    """`sum`/`mean` along constant axes (an integer or a tuple of them) with a constant `keepdims`,
    or `sum_to`: a reduction a loop over its operand's broadcast shape can compute."""
    if eqn.op == "sum_to":
        return True
    if eqn.op not in _FULL_REDUCTIONS:
        return False
    static = eqn.static_dict()
    axis, keepdims = static.get("axis", Const(None)), static.get("keepdims", Const(False))
    if not isinstance(axis, Const) or not isinstance(keepdims, Const) or not isinstance(keepdims.value, bool):
        return False
    axes = axis.value if isinstance(axis.value, tuple) else (axis.value,)
    return bool(axes) and all(isinstance(a, int) and not isinstance(a, bool) for a in axes)


class ShapeFacts(ShapeClasses):
    """`ShapeClasses` plus two facts reverse mode needs for slices and broadcasts.

    - `x[a:]` and `x[:-b]` (and `x[a:-b]`) have one shape when they trim the
      same number of elements from the same axes of the same array: the
      shifted slices of a stencil like Rosenbrock's `x[1:] - x[:-1] ** 2`;
    - `np.broadcast_shapes(s, t)` is `s` when `s` and `t` are shapes of one
      class; otherwise `covers` remembers the arrays whose shapes it
      broadcasts (`np.broadcast_shapes(np.shape(y), np.shape(p))`, the
      cotangent shape of `mean(y * log(p))`).

    A reduction with `keepdims=True` fits inside its operand's shape, and a full
    reduction is 0-d: combined elementwise with an array that spans the
    operand's shape, neither widens the result (`logits - np.max(logits, axis=1,
    keepdims=True)` has `logits`' shape), so neither counts among the leaves.
    """

    def __init__(self) -> None:
        super().__init__()
        self.slices: dict[tuple, str] = {}
        self.covers: dict[str, tuple[str, ...]] = {}  # broadcast_shapes result -> the arrays it broadcasts
        self.leaves: dict[str, frozenset[str]] = {}  # elementwise result -> the arrays whose shapes it broadcasts
        self.reduced: dict[str, tuple[str, Atom]] = {}  # a keepdims reduction -> (its operand, its axis)
        self.kept_shapes: dict[str, tuple[str, Atom]] = {}  # keepdims_shape(np.shape(x), axis) -> (x, axis)
        self.zero_d: set[str] = set()  # full reductions (axis=None, keepdims=False) and shapes made (): 0-d

    def learn(self, eqn: Eqn) -> None:
        self._learn_reduction(eqn)
        self._learn_leaves(eqn)
        if eqn.op == "getitem" and isinstance(eqn.ins[0], Var):
            key = _trim_key(eqn.static_dict().get("index"))
            if key is not None:
                key = (self.find(eqn.ins[0].name), key)
                if key in self.slices:
                    self.union(eqn.out.name, self.slices[key])
                self.slices.setdefault(key, eqn.out.name)
            return
        if (
            eqn.op == "broadcast_shapes"
            and eqn.ins
            and all(isinstance(a, Var) and a.name in self.shape_of for a in eqn.ins)
        ):
            sources = {self.find(self.shape_of[a.name]) for a in eqn.ins}
            if len(sources) == 1:
                self.shape_of[eqn.out.name] = self.shape_of[eqn.ins[0].name]
            else:
                self.covers[eqn.out.name] = tuple(self.shape_of[a.name] for a in eqn.ins)
            return
        super().learn(eqn)

    def _learn_leaves(self, eqn: Eqn) -> None:
        """Record what an elementwise result broadcasts (its operands' leaves), and that a value
        given a `broadcast_shapes` shape has the shape of those arrays' broadcast."""
        rule = RULES.get(eqn.op)
        operands = [a.name for a in eqn.ins if isinstance(a, Var)]
        if rule is not None and (rule.elementwise or eqn.op in _PREDICATES) and eqn.op not in _CASTS and operands:
            leaves = frozenset().union(*(self.leaves.get(n, {n}) for n in operands))
            self.leaves[eqn.out.name] = self._without_fitting(leaves)
            numbers = all(isinstance(a, Var) or isinstance(a.value, (int, float)) for a in eqn.ins)
            spans = self.spans(eqn.out)
            if numbers and len(spans) == 1:
                self.union(eqn.out.name, next(iter(spans)))
            return
        shape = eqn.static_dict().get("shape")
        if eqn.op in ("broadcast_to", "sum_to", "reshape") and isinstance(shape, Var) and shape.name in self.covers:
            self.leaves[eqn.out.name] = frozenset(self.covers[shape.name])

    def _learn_reduction(self, eqn: Eqn) -> None:
        static = eqn.static_dict()
        if eqn.op in _REDUCTIONS and eqn.ins and isinstance(eqn.ins[0], Var):
            axis = static.get("axis", Const(None))
            if static.get("keepdims", Const(False)) == Const(True):
                self.reduced[eqn.out.name] = (eqn.ins[0].name, axis)
            elif axis == Const(None):
                self.zero_d.add(eqn.out.name)
        elif eqn.op in ("reshape", "broadcast_to", "sum_to") and static.get("shape") == Const(()):
            self.zero_d.add(eqn.out.name)  # `reshape_to(g, ())`: a scalar's cotangent, 0-d whatever g was
        elif eqn.op == "reshape" and isinstance(static.get("shape"), Var) and static["shape"].name in self.kept_shapes:
            self.reduced[eqn.out.name] = self.kept_shapes[static["shape"].name]  # shaped like such a reduction
        elif eqn.op == "keepdims_shape" and len(eqn.ins) == 2 and isinstance(eqn.ins[1], Const):
            source = eqn.ins[0]
            if isinstance(source, Var) and source.name in self.shape_of:
                self.kept_shapes[eqn.out.name] = (self.shape_of[source.name], eqn.ins[1])

    def _without_fitting(self, leaves: frozenset[str]) -> frozenset[str]:
        """`leaves` less those whose shape broadcasts into the others' broadcast: 0-d values, and
        keepdims reductions of an array whose leaves are among the others'."""
        kept = set(leaves)
        zero_d = {self.find(name) for name in self.zero_d}
        for leaf in sorted(leaves):
            others = {self.find(name) for name in kept - {leaf}}
            root = self.find(leaf)
            if others and (root in zero_d or any(
                self.find(name) == root and self.spans(Var(x)) <= others for name, (x, _) in self.reduced.items()
            )):  # fmt: skip
                kept.discard(leaf)
        return frozenset(kept)

    def has_kept_shape(self, atom: Atom, shape: Atom) -> bool:
        """Whether `atom` provably has the shape `keepdims_shape(np.shape(x), axis)` that `shape`
        holds: it is shaped like a keepdims reduction, along that axis, of an array of `x`'s shape."""
        if not (isinstance(atom, Var) and isinstance(shape, Var) and shape.name in self.kept_shapes):
            return False
        source, axis = self.kept_shapes[shape.name]
        root = self.find(atom.name)
        return any(
            self.find(name) == root and reduced_axis == axis and self.spans(Var(x)) == self.spans(Var(source))
            for name, (x, reduced_axis) in self.reduced.items()
        )

    def _targets(self, shape: Atom) -> set[str] | None:
        """The classes of the arrays whose broadcast is the shape `shape` holds, if known."""
        if not isinstance(shape, Var):
            return None
        if shape.name in self.shape_of:
            return self.spans(Var(self.shape_of[shape.name]))
        if shape.name in self.covers:
            return set().union(*(self.spans(Var(name)) for name in self.covers[shape.name]))
        return None

    def spans(self, atom: Var) -> set[str]:
        """The classes of the arrays whose broadcast is `atom`'s shape (the leaves of its elementwise
        expression; itself, for a value no elementwise op made)."""
        return {self.find(name) for name in self.leaves.get(atom.name, {atom.name})}

    def has_shape(self, atom: Atom, shape: Atom) -> bool:
        """Whether `atom` provably has exactly the shape that `shape` holds."""
        targets = self._targets(shape)
        if targets is None or not isinstance(atom, Var):
            return False
        return self.spans(atom) == targets or targets == {self.find(atom.name)}

    def is_zero_d(self, atom: Atom) -> bool:
        """Whether `atom` provably holds a 0-d array (a full reduction, or shaped like one)."""
        return isinstance(atom, Var) and self.find(atom.name) in {self.find(name) for name in self.zero_d}

    def spans_shape(self, atom: Atom, shape: Atom) -> bool:
        """Whether `atom`'s shape provably is, or broadcasts over, the shape that `shape` holds
        (so `atom * np.broadcast_to(c, shape)` has `atom`'s shape)."""
        if isinstance(atom, Var) and isinstance(shape, Var) and shape.name in self.kept_shapes:
            source = Var(self.kept_shapes[shape.name][0])
            if self.has_kept_shape(atom, shape) or self.spans(source) <= self.spans(atom):
                return True  # `keepdims_shape(np.shape(x), axis)` fits inside `x`'s shape
        targets = self._targets(shape)
        if targets is None or not isinstance(atom, Var):
            return False
        return targets <= self.spans(atom) or targets == {self.find(atom.name)}


def _trim_key(index: Atom | None) -> tuple | None:
    """`x[1:]` and `x[:-1]` -> ((1,),): how many elements a constant slice index drops per axis."""
    if not isinstance(index, Const):
        return None
    items = index.value if isinstance(index.value, tuple) else (index.value,)
    key = []
    for item in items:
        if not isinstance(item, slice) or item.step not in (None, 1):
            return None
        start = 0 if item.start is None else item.start
        stop = 0 if item.stop is None else item.stop
        if not (isinstance(start, int) and isinstance(stop, int) and start >= 0 and stop <= 0):
            return None
        key.append(start - stop)
    return tuple(key)


def drop_shape_identities(function: Function) -> Function:
    """Remove `sum_to`, `broadcast_to`, `reshape` and `broadcast_shapes` that `ShapeFacts` proves change nothing."""
    facts = ShapeFacts()

    def visit(eqn: Eqn, scope: dict) -> Eqn | Atom:
        if len(eqn.outs) != 1:
            return eqn
        same = _identity_under(eqn, facts)
        if same is not None:
            return same
        facts.learn(eqn)
        return eqn

    return dce(rewrite_function(function, visit))


def _identity_under(eqn: Eqn, facts: ShapeFacts) -> Atom | None:
    known = [a for a in eqn.ins if isinstance(a, Var) and a.name in facts.shape_of]
    if eqn.op == "broadcast_shapes" and known and len(known) == len(eqn.ins):
        return eqn.ins[0] if len({facts.find(facts.shape_of[a.name]) for a in known}) == 1 else None
    shape = eqn.static_dict().get("shape")
    if (
        eqn.op not in ("sum_to", "broadcast_to", "reshape")
        or not isinstance(shape, Var)
        or not isinstance(eqn.ins[0], Var)
    ):
        return None
    same = shape.name in facts.shape_of and facts.find(eqn.ins[0].name) == facts.find(facts.shape_of[shape.name])
    return eqn.ins[0] if same else None


def scalar_names(function: Function, known: frozenset[str] = frozenset()) -> set[str]:
    """Names known to hold a scalar (0-d) value whatever the argument shapes (`known`: more such
    names to start from, e.g. loop indices)."""
    scalars: set[str] = set(known)
    for eqn in walk(function.body):
        if len(eqn.outs) != 1:
            continue
        elementwise_of_scalars = fusable(eqn.op) and all(_is_scalar(a, scalars) for a in eqn.ins)
        if eqn.op in _SCALAR_OPS or is_full_reduction(eqn) or elementwise_of_scalars:
            scalars.add(eqn.out.name)
    return scalars


def _is_scalar(atom: Atom, scalars: set[str]) -> bool:
    if isinstance(atom, Const):
        return isinstance(atom.value, (int, float, bool))
    return atom.name in scalars


class _Elision:
    """State of one `elide_broadcasts` pass: definitions, shape classes, new equations."""

    def __init__(self, function: Function):
        eqns = walk(function.body)
        self.defs = {e.out.name: e for e in eqns if len(e.outs) == 1}
        self.scalars = scalar_names(function)
        self.classes = ShapeFacts()
        self.names = Names([p.name for p in function.params] + [n for n, _ in function.free])
        for stmt in function.body:
            self.names.used |= {v.name for v in defined(stmt)}
        # A broadcast's shape is not learnt: this pass may elide it, and what reads it would then have
        # the shape of the broadcast's source. Deciding one broadcast by a later one's shape (which a
        # later statement elides) left a sum of three broadcasts with no operand of the full shape.
        for eqn in eqns:
            if len(eqn.outs) == 1 and eqn.op != "broadcast_to":
                self.classes.learn(eqn)
        self.stand_in: dict[str, Atom] = {}
        self.readers = _single_readers(function)

    def fresh(self, base: str) -> Var:
        return Var(self.names.fresh(base), temp=True)

    def source_of(self, eqn: Eqn, new: list[Eqn]) -> Atom | None:
        """What may stand in for `broadcast_to(r; shape=np.shape(a))` inside elementwise ops."""
        shape = eqn.static_dict().get("shape")
        if not isinstance(shape, Var) or (
            shape.name not in self.classes.shape_of and shape.name not in self.classes.covers
        ):
            return None
        scalar = self.scalar_image(eqn.ins[0], new)
        return scalar if scalar is not None else eqn.ins[0]

    def scalar_image(self, atom: Atom, new: list[Eqn]) -> Atom | None:
        """A scalar equal to every element of `atom`, if `atom` is a reshaped scalar."""
        if _is_scalar(atom, self.scalars):
            return atom
        eqn = self.defs.get(atom.name) if isinstance(atom, Var) else None
        if eqn is None:
            return None
        if eqn.op == "reshape" and _is_scalar(eqn.ins[0], self.scalars):
            return eqn.ins[0]
        if not fusable(eqn.op):
            return None
        images = [self.scalar_image(a, new) for a in eqn.ins]
        if any(i is None for i in images):
            return None
        out = self.fresh(eqn.out.name)
        new.append(Eqn((out,), eqn.op, tuple(images), eqn.static, eqn.loc, eqn.adjoint))
        self.scalars.add(out.name)
        return out

    def restores_shape(self, consumer: Eqn, broadcast: Eqn, chain: Var | None = None) -> bool:
        """Whether `consumer` (or the chain of single-use elementwise ops after it) has another
        operand of the broadcast's target shape, so that the broadcast value may be its source."""
        if not fusable(consumer.op):
            return False
        shape = broadcast.static_dict()["shape"].name
        chain = chain or broadcast.out
        # An operand that is itself an elided broadcast has no shape of its own left to restore this one's.
        others = [a for a in consumer.ins if a != chain and not (isinstance(a, Var) and a.name in self.stand_in)]
        if any(isinstance(a, Var) and self.has_shape(a, shape) for a in others):
            return True
        reader = self.readers.get(consumer.out.name)
        scalars_only = all(_is_scalar(a, self.scalars) for a in others)
        return scalars_only and reader is not None and self.restores_shape(reader, broadcast, consumer.out)

    def has_shape(self, atom: Var, shape: str) -> bool:
        """Whether `atom`'s shape is (or broadcasts over) the shape held by `shape`.

        For a `broadcast_shapes` result that holds when every array it
        broadcasts is in the class of one of the arrays that the elementwise
        expression `atom` reads (`spans`): `atom`'s shape is then their
        broadcast, taken with more operands.
        """
        if shape in self.classes.shape_of:
            return self.classes.find(atom.name) == self.classes.find(self.classes.shape_of[shape])
        spans = {self.classes.find(name) for name in self.spans(atom)}
        return all(self.classes.find(name) in spans for name in self.classes.covers[shape])

    def spans(self, atom: Var) -> set[str]:
        """The arrays whose shapes `atom` is the broadcast of: the leaves of its elementwise expression."""
        eqn = self.defs.get(atom.name)
        if eqn is None or not fusable(eqn.op):
            return {atom.name}
        found: set[str] = set()
        for operand in eqn.ins:
            if isinstance(operand, Var) and not _is_scalar(operand, self.scalars):
                found |= self.spans(operand)
        return found


def _single_readers(function: Function) -> dict[str, Eqn]:
    """The equation reading each name that exactly one equation (and nothing else) reads."""
    uses = Uses(function)
    return {
        name: reader for name, (reader, _) in uses.reader.items() if uses.count[name] == 1 and isinstance(reader, Eqn)
    }


def elide_broadcasts(function: Function) -> Function:
    """Replace materialised broadcasts read by shape-restoring elementwise ops with their source."""
    state = _Elision(function)
    return dce(replace(function, body=tuple(_elide_block(function.body, state))))


def _elide_block(body, state: _Elision) -> list:
    out: list = []
    for stmt in body:
        if isinstance(stmt, If):
            then_body, else_body = _elide_block(stmt.then_body, state), _elide_block(stmt.else_body, state)
            out.append(replace(stmt, then_body=tuple(then_body), else_body=tuple(else_body)))
            continue
        if isinstance(stmt, Loop):
            cond_body, loop_body = _elide_block(stmt.cond_body, state), _elide_block(stmt.body, state)
            out.append(replace(stmt, cond_body=tuple(cond_body), body=tuple(loop_body)))
            continue
        if len(stmt.outs) == 1 and stmt.op == "broadcast_to":
            new: list[Eqn] = []
            source = state.source_of(stmt, new)
            out.extend(new)
            if source is not None:
                state.stand_in[stmt.out.name] = source
        mapping = {
            name: atom
            for name, atom in state.stand_in.items()
            if any(isinstance(a, Var) and a.name == name for a in stmt.ins)
            and state.restores_shape(stmt, state.defs[name])
        }
        out.append(rewrite(stmt, mapping))
    return out


def shapes_of_operands(function: Function) -> Function:
    """Read `np.shape(e)` of an elementwise `e` as `np.broadcast_shapes` of its array operands'
    shapes (through elementwise operands in turn), so that reverse mode's shape reads (for a
    `keepdims` reshape, a `sum_to`) do not keep `e` stored when its consumers could compute it
    per element. The shapes are equal by NumPy's broadcasting rule, which every elementwise op
    follows; `e` is visible where its shape is read, so are its operands.

    Each value's shape is computed once where it is visible (`known`, per block: a nested block
    sees its enclosing blocks' shapes, not the reverse) and read again after: a long chain of
    elementwise statements, whose shape reads each reach back to the arguments, otherwise
    printed the same `broadcast_shapes` tree again at every read, quadratic in the chain's
    length (3,100 shape statements for a 20-statement function), all of which Numba compiles."""
    defs = {e.out.name: e for e in walk(function.body) if len(e.outs) == 1}
    names = Names([p.name for p in function.params] + [n for n, _ in function.free])
    for stmt in function.body:
        names.used |= {v.name for v in defined(stmt)}
    for eqn in walk(function.body):
        names.used |= {v.name for v in eqn.outs}

    def elementwise(atom: Atom) -> Eqn | None:
        eqn = defs.get(atom.name) if isinstance(atom, Var) else None
        if eqn is None or not fusable(eqn.op) or not any(isinstance(a, Var) for a in eqn.ins):
            return None
        return eqn

    def shape_of(atom: Var, out: Var | None, new: list[Eqn], loc, known: dict[str, Var]) -> Var:
        """The variable holding `atom`'s shape: one computed before (`known`), else `out` (a fresh
        name if None) after the equations appended to `new` that compute it."""
        if atom.name in known:
            return known[atom.name]
        eqn = elementwise(atom)
        arrays = list(dict.fromkeys(a for a in eqn.ins if isinstance(a, Var))) if eqn is not None else []
        if len(arrays) == 1:
            result = shape_of(arrays[0], out, new, loc, known)
        else:
            result = out or Var(names.fresh(f"{atom.name}_shape"), temp=True)
            if eqn is None:
                new.append(Eqn((result,), "shape", (atom,), (), loc))
            else:
                parts = tuple(shape_of(operand, None, new, loc, known) for operand in arrays)
                new.append(Eqn((result,), "broadcast_shapes", parts, (), loc))
        known[atom.name] = result
        return result

    def visit(eqn: Eqn, scope: dict) -> Eqn | Atom | list[Eqn]:
        if eqn.op != "shape" or len(eqn.outs) != 1 or not isinstance(eqn.ins[0], Var):
            return eqn
        if eqn.ins[0].name in scope:
            return scope[eqn.ins[0].name]
        if elementwise(eqn.ins[0]) is None:
            scope[eqn.ins[0].name] = eqn.out
            return eqn
        new: list[Eqn] = []
        shape = shape_of(eqn.ins[0], eqn.out, new, eqn.loc, scope)
        return new if new else shape

    return dce(rewrite_function(function, visit, enter=dict))


class Uses:
    """Where each name is defined and read: block numbers, read counts, the last reader."""

    def __init__(self, function: Function):
        self.count: Counter = Counter(a.name for a in function.results() if isinstance(a, Var))
        self.def_block: dict[str, int] = {}
        self.reader: dict[str, tuple[object, int]] = {}
        self.readers: dict[str, list[tuple[object, int]]] = {}
        self.blocks = 0
        self.scan(function.body, 0)

    def read(self, atoms, stmt, block: int) -> None:
        for atom in atoms:
            if isinstance(atom, Var):
                self.count[atom.name] += 1
                self.reader[atom.name] = (stmt, block)
                self.readers.setdefault(atom.name, []).append((stmt, block))

    def nested(self, body, results, owner) -> None:
        self.blocks += 1
        block = self.blocks
        self.scan(body, block)
        self.read(results, owner, block)

    def scan(self, body, block: int) -> None:
        for stmt in body:
            if isinstance(stmt, Eqn):
                self.read(stmt.atoms(), stmt, block)
                self.def_block.update((o.name, block) for o in stmt.outs)
            elif isinstance(stmt, If):
                self.read((stmt.cond,), stmt, block)
                self.nested(stmt.then_body, stmt.then_results, stmt)
                self.nested(stmt.else_body, stmt.else_results, stmt)
            else:
                self.read(stmt.inits + stmt.bounds, stmt, block)
                self.nested(stmt.cond_body, (stmt.cond,) if stmt.cond is not None else (), stmt)
                self.nested(stmt.body, stmt.results, stmt)


__all__ = [
    "ShapeFacts",
    "Uses",
    "drop_shape_identities",
    "elide_broadcasts",
    "fusable",
    "is_axis_reduction",
    "is_full_reduction",
    "scalar_names",
    "shapes_of_operands",
]
