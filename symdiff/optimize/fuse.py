"""Fusion planning for compiled backends: which elementwise values never hit memory.

NumPy-style code makes one pass over memory per operation and allocates one
array per intermediate. A compiled backend can do better when it knows which
values are only stepping stones: an elementwise value used exactly once, by
another elementwise op or by a full reduction, can be computed inside its
consumer's loop. `plan_fusion(function)` returns a `FusionPlan`:

- `function`: the program after `drop_shape_identities` (the `sum_to`,
  `broadcast_to` and `broadcast_shapes` that `ShapeFacts` proves change
  nothing, e.g. between `x[1:]` and `x[:-1]`) and `elide_broadcasts`, which
  removes the materialised `broadcast_to` that reverse mode puts after every
  `sum`/`mean` when the elementwise ops after it broadcast anyway (the
  cotangent of `sum(x)` becomes the scalar seed itself instead of an array of
  x's shape), then folded;
- `inline`: values computed inside their consumers' expressions instead of
  being stored: a value used once by an elementwise op, a full reduction or
  a slice write, and two kinds of values used more than once (`_shared`):
  those whose every use ends up in one printed expression (the compiler
  computes them once per element, common-subexpression elimination), and
  cheap arithmetic of at most two arrays read by fused consumers only
  (recomputed per consumer: a few flops instead of an array in memory);
- `reductions`: full `sum`/`mean` reductions of an inlined elementwise
  expression, which a backend computes in one accumulating loop;
- `writes`: `scatter_add(g; shape, index)` and `add_at(acc, g; index)` at a
  slice index whose `g` is inlined, which a backend computes in one loop
  over the slice instead of materialising `g` first.

Control flow: a value is inlined only into a consumer in the same block (the
same `if` arm or loop body), so a fused expression never moves into or out of
a loop or branch; reads by `if`/loop statements themselves (conditions, loop
results) count as uses that cannot fuse.

Shapes are not known until call time, so same-shape facts come from
`ShapeFacts` (`ShapeClasses` of optimize/simplify.py, plus slices and
`broadcast_shapes`) and scalar facts from the ops themselves. Backends decide how to print the plan (Numba: array expressions
and loop kernels; CUDA: kernels). The elementwise flag of the rule table is the
one source of truth for what may join a loop (STYLE appendix, principle 4).

Imports: ir, rules (as data), optimize.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace

from symdiff.ir.nodes import Atom, Const, Eqn, Function, If, Loop, Var, defined, walk
from symdiff.optimize.dce import dce
from symdiff.optimize.fold import fold
from symdiff.optimize.simplify import ShapeClasses, simplify
from symdiff.optimize.walk import rewrite, rewrite_function
from symdiff.rules import RULES

# Elementwise predicates have zero derivative, so they are not flagged elementwise.
_PREDICATES = frozenset({"lt", "le", "gt", "ge", "eq", "ne", "logical_and", "logical_or", "logical_not", "isnan", "isfinite", "sign", "floor", "ceil"})  # fmt: skip
# Python casts and selections are elementwise but are not single-loop primitives.
_NOT_LOOPED = frozenset({"float", "int", "bool", "where", "clip"})
_FULL_REDUCTIONS = frozenset({"sum", "mean"})
_SCALAR_OPS = frozenset({"grad_seed", "size", "len", "ndim", "float", "int", "bool"})


def fusable(op: str) -> bool:
    """Whether `op` computes each output element from the same element of its operands."""
    rule = RULES.get(op)
    if rule is None or op in _NOT_LOOPED:
        return False
    return rule.elementwise or op in _PREDICATES


def is_full_reduction(eqn: Eqn) -> bool:
    """`sum`/`mean` over every axis to a scalar (axis=None, keepdims=False)."""
    if eqn.op not in _FULL_REDUCTIONS:
        return False
    static = eqn.static_dict()
    return static.get("axis", Const(None)) == Const(None) and static.get("keepdims", Const(False)) == Const(False)


class ShapeFacts(ShapeClasses):
    """`ShapeClasses` plus two facts reverse mode needs for slices and broadcasts.

    - `x[a:]` and `x[:-b]` (and `x[a:-b]`) have one shape when they trim the
      same number of elements from the same axes of the same array: the
      shifted slices of a stencil like Rosenbrock's `x[1:] - x[:-1] ** 2`;
    - `np.broadcast_shapes(s, t)` is `s` when `s` and `t` are shapes of one
      class; otherwise `covers` remembers the arrays whose shapes it
      broadcasts (`np.broadcast_shapes(np.shape(y), np.shape(p))`, the
      cotangent shape of `mean(y * log(p))`).
    """

    def __init__(self) -> None:
        super().__init__()
        self.slices: dict[tuple, str] = {}
        self.covers: dict[str, tuple[str, ...]] = {}  # broadcast_shapes result -> the arrays it broadcasts

    def learn(self, eqn: Eqn) -> None:
        if eqn.op == "getitem" and isinstance(eqn.ins[0], Var):
            key = _trim_key(eqn.static_dict().get("index"))
            if key is not None:
                key = (self.find(eqn.ins[0].name), key)
                if key in self.slices:
                    self.union(eqn.out.name, self.slices[key])
                self.slices.setdefault(key, eqn.out.name)
            return
        if eqn.op == "broadcast_shapes" and eqn.ins and all(isinstance(a, Var) and a.name in self.shape_of for a in eqn.ins):
            sources = {self.find(self.shape_of[a.name]) for a in eqn.ins}
            if len(sources) == 1:
                self.shape_of[eqn.out.name] = self.shape_of[eqn.ins[0].name]
            else:
                self.covers[eqn.out.name] = tuple(self.shape_of[a.name] for a in eqn.ins)
            return
        super().learn(eqn)


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
    if eqn.op not in ("sum_to", "broadcast_to", "reshape") or not isinstance(shape, Var) or not isinstance(eqn.ins[0], Var):
        return None
    same = shape.name in facts.shape_of and facts.find(eqn.ins[0].name) == facts.find(facts.shape_of[shape.name])
    return eqn.ins[0] if same else None


@dataclass(frozen=True)
class FusionPlan:
    """How a compiled backend should group `function`'s equations into loops."""

    function: Function
    inline: frozenset[str]
    reductions: frozenset[str]
    writes: frozenset[str] = frozenset()


def scalar_names(function: Function) -> set[str]:
    """Names known to hold a scalar (0-d) value whatever the argument shapes."""
    scalars: set[str] = set()
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
        self.used = {p.name for p in function.params} | {n for n, _ in function.free}
        for stmt in function.body:
            self.used |= {v.name for v in defined(stmt)}
        for eqn in eqns:
            if len(eqn.outs) == 1:
                self.classes.learn(eqn)
        self.stand_in: dict[str, Atom] = {}
        self.readers = _single_readers(function)

    def fresh(self, base: str) -> Var:
        name, k = base, 1
        while name in self.used:
            k += 1
            name = f"{base}~{k}"
        self.used.add(name)
        return Var(name, temp=True)

    def source_of(self, eqn: Eqn, new: list[Eqn]) -> Atom | None:
        """What may stand in for `broadcast_to(r; shape=np.shape(a))` inside elementwise ops."""
        shape = eqn.static_dict().get("shape")
        if not isinstance(shape, Var) or (shape.name not in self.classes.shape_of and shape.name not in self.classes.covers):
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
        others = [a for a in consumer.ins if a != chain]
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
    uses = _Uses(function)
    return {name: reader for name, (reader, _) in uses.reader.items() if uses.count[name] == 1 and isinstance(reader, Eqn)}


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


class _Uses:
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


_WRITES = {"scatter_add": 0, "add_at": 1}  # slice writes -> the position of the value they write
_CHEAP = frozenset({"add", "sub", "mul", "neg", "pos", "square"})  # recomputing is cheaper than storing
_CHEAP_SIZE = 4  # ops in a recomputed expression
_SHARED_SIZE = 8  # ops a shared value may add to the printed expression by being repeated


def plan_fusion(function: Function) -> FusionPlan:
    """The fusion plan for `function` (see the module docstring)."""
    function = elide_broadcasts(drop_shape_identities(function))
    for _ in range(2):  # fold what the stand-ins made constant (`1.0 * x`); backends may add ops of their own
        function = dce(simplify(fold(function)))
    planner = _Planner(function)
    for eqn in walk(function.body):
        planner.single_use(eqn)
    for eqn in reversed(walk(function.body)):  # readers first: a value's consumers are decided before it
        planner.shared(eqn)
    return FusionPlan(function, frozenset(planner.inline), frozenset(planner.reductions), frozenset(planner.writes))


class _Planner:
    """The sets of a `FusionPlan` as `plan_fusion` fills them in."""

    def __init__(self, function: Function):
        self.uses = _Uses(function)
        self.defs = {e.out.name: e for e in walk(function.body) if len(e.outs) == 1}
        self.scalars = scalar_names(function)
        self.inline: set[str] = set()
        self.reductions: set[str] = set()
        self.writes: set[str] = set()

    def single_use(self, eqn: Eqn) -> None:
        """Inline a value read once, in its own block, by an op that can compute it per element."""
        if len(eqn.outs) != 1 or not fusable(eqn.op):
            return
        name = eqn.out.name
        if self.uses.count[name] != 1 or name not in self.uses.reader:
            return
        user, block = self.uses.reader[name]
        if isinstance(user, Eqn) and block == self.uses.def_block[name] and self.absorbs(user, eqn.out):
            self.take(name, [user])

    def shared(self, eqn: Eqn) -> None:
        """Inline a value read several times where that costs nothing (see the module docstring)."""
        if len(eqn.outs) != 1 or not fusable(eqn.op) or eqn.out.name in self.inline:
            return
        name = eqn.out.name
        readers = self.uses.readers.get(name, [])
        if self.uses.count[name] < 2 or len(readers) != self.uses.count[name]:
            return  # read by a function result, or not at all
        users = [user for user, _ in readers]
        block = self.uses.def_block[name]
        if not all(isinstance(u, Eqn) and b == block and self.absorbs(u, eqn.out) for u, b in readers):
            return
        size = self.size(eqn.out)
        one_expression = len({self.printed_in(u) for u in users}) == 1 and size * (len(users) - 1) <= _SHARED_SIZE
        if one_expression or (len(users) <= 3 and self.cheap(eqn.out, size)):
            self.take(name, users)

    def absorbs(self, user: Eqn, value: Var) -> bool:
        """Whether `user` can compute `value` per element inside its own loop."""
        if fusable(user.op):
            return value in user.ins
        if is_full_reduction(user):
            return user.ins[0] == value
        position = _WRITES.get(user.op)
        return position is not None and user.ins[position] == value and all(
            a != value for k, a in enumerate(user.ins) if k != position
        ) and self.slice_index(user.static_dict().get("index"))

    def take(self, name: str, users: list[Eqn]) -> None:
        self.inline.add(name)
        for user in users:
            if is_full_reduction(user):
                self.reductions.add(user.out.name)
            elif user.op in _WRITES:
                self.writes.add(user.out.name)

    def printed_in(self, eqn: Eqn) -> str | None:
        """The statement whose printed expression holds `eqn` (None where several do)."""
        name = eqn.out.name
        if name not in self.inline:
            return name
        consumers = {self.printed_in(u) for u, _ in self.uses.readers[name]}
        return consumers.pop() if len(consumers) == 1 else None

    def size(self, value: Var) -> int:
        """Ops in the printed expression of `value` (inlined operands included)."""
        eqn = self.defs[value.name]
        return 1 + sum(self.size(a) for a in eqn.ins if isinstance(a, Var) and a.name in self.inline)

    def cheap(self, value: Var, size: int) -> bool:
        """Arithmetic of at most two arrays, small enough to recompute for every consumer."""
        if size > _CHEAP_SIZE:
            return False
        arrays: set[str] = set()
        pending = [value]
        while pending:
            eqn = self.defs[pending.pop().name]
            if not (eqn.op in _CHEAP or (eqn.op == "pow" and eqn.ins[1] in (Const(2), Const(2.0)))):
                return False
            for atom in eqn.ins:
                if isinstance(atom, Var) and atom.name in self.inline:
                    pending.append(atom)
                elif isinstance(atom, Var) and atom.name not in self.scalars:
                    arrays.add(atom.name)
        return len(arrays) <= 2

    def slice_index(self, index: Atom | None) -> bool:
        """Whether `x[index]` is a view (slices and integers, at least one slice), known from the IR."""
        items = self.index_items(index)
        return items is not None and any(kind == "slice" for kind in items)

    def index_items(self, index: Atom | None) -> list[str] | None:
        if isinstance(index, Const):
            values = index.value if isinstance(index.value, tuple) else (index.value,)
            kinds = ["slice" if isinstance(v, slice) else "int" if isinstance(v, int) and not isinstance(v, bool) else "?" for v in values]
            return None if "?" in kinds else kinds
        eqn = self.defs.get(index.name) if isinstance(index, Var) else None
        if eqn is None or eqn.op not in ("make_slice", "make_tuple"):
            return None
        if eqn.op == "make_slice":
            return ["slice"]
        kinds: list[str] = []
        for item in eqn.ins:
            inner = self.index_items(item) if isinstance(item, Var) else self.index_items(Const(item.value))
            if inner is None or len(inner) != 1 or (isinstance(item, Const) and isinstance(item.value, tuple)):
                return None
            kinds += inner
        return kinds


__all__ = ["FusionPlan", "ShapeFacts", "drop_shape_identities", "elide_broadcasts", "fusable", "is_full_reduction", "plan_fusion", "scalar_names"]
