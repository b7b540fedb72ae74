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
  being stored: a value used once by an elementwise op, a reduction (full, along axes, or `sum_to`) or
  a slice write, and two kinds of values used more than once (`_shared`):
  those whose every use ends up in one printed expression (the compiler
  computes them once per element, common-subexpression elimination), and
  cheap arithmetic of at most two arrays read by fused consumers only
  (recomputed per consumer: a few flops instead of an array in memory);
- `reductions`: `sum`/`mean` reductions of an inlined elementwise
  expression, full or along constant axes, and `sum_to` of one (the
  cotangent of a broadcast), which a backend computes in one accumulating
  loop over the expression's (broadcast) shape, never storing it;
- `writes`: `scatter_add(g; shape, index)` and `add_at(acc, g; index)` at a
  slice index whose `g` is inlined, which a backend computes in one loop
  over the slice instead of materialising `g` first.

Control flow: a value is inlined only into a consumer in the same block (the
same `if` arm or loop body), so a fused expression never moves into or out of
a loop or branch; reads by `if`/loop statements themselves (conditions, loop
results) count as uses that cannot fuse.

Shapes are not known until call time, so same-shape facts come from
`ShapeFacts` (`ShapeClasses` of analysis/shapes.py, plus slices and
`broadcast_shapes`) and scalar facts from the ops themselves; they and the
two shape passes live in `fuse_shapes`. Backends decide how to print the
plan (Numba: array expressions and loop kernels; CUDA: kernels). The
elementwise flag of the rule table is the one source of truth for what may
join a loop (STYLE appendix, principle 4).

Imports: ir, rules (as data), optimize.
"""

from __future__ import annotations

from dataclasses import dataclass

from symdiff.ir.nodes import Atom, Const, Eqn, Function, Var, walk
from symdiff.optimize.dce import dce
from symdiff.optimize.fold import fold
from symdiff.optimize.fuse_shapes import (
    ShapeFacts,
    Uses,
    drop_shape_identities,
    elide_broadcasts,
    fusable,
    is_axis_reduction,
    is_full_reduction,
    scalar_names,
    shapes_of_operands,
)
from symdiff.optimize.simplify import simplify


@dataclass(frozen=True)
class FusionPlan:
    """How a compiled backend should group `function`'s equations into loops."""

    function: Function
    inline: frozenset[str]
    reductions: frozenset[str]
    writes: frozenset[str] = frozenset()


_WRITES = {"scatter_add": 0, "add_at": 1}  # slice writes -> the position of the value they write
_CHEAP = frozenset({"add", "sub", "mul", "neg", "pos", "square"})  # recomputing is cheaper than storing
_CHEAP_SIZE = 4  # ops in a recomputed expression
_SHARED_SIZE = 8  # ops a shared value may add to the printed expression by being repeated


def plan_fusion(function: Function) -> FusionPlan:
    """The fusion plan for `function` (see the module docstring)."""
    function = elide_broadcasts(drop_shape_identities(function))
    for _ in range(2):  # fold what the stand-ins made constant (`1.0 * x`); backends may add ops of their own
        function = dce(simplify(fold(function)))
    function = shapes_of_operands(function)
    planner = _Planner(function)
    for eqn in walk(function.body):
        planner.single_use(eqn)
    for eqn in reversed(walk(function.body)):  # readers first: a value's consumers are decided before it
        planner.shared(eqn)
    return FusionPlan(function, frozenset(planner.inline), frozenset(planner.reductions), frozenset(planner.writes))


class _Planner:
    """The sets of a `FusionPlan` as `plan_fusion` fills them in."""

    def __init__(self, function: Function):
        self.uses = Uses(function)
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
        if is_axis_reduction(user):  # a scalar's reduction is itself: a loop nest would only cost
            return user.ins[0] == value and value.name not in self.scalars
        position = _WRITES.get(user.op)
        if position is None or user.ins[position] != value:
            return False
        alone = all(a != value for k, a in enumerate(user.ins) if k != position)
        return alone and self.slice_index(user.static_dict().get("index"))

    def take(self, name: str, users: list[Eqn]) -> None:
        self.inline.add(name)
        for user in users:
            if is_full_reduction(user) or is_axis_reduction(user):
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
            kinds = [_index_kind(v) for v in values]
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


def _index_kind(item: object) -> str:
    if isinstance(item, slice):
        return "slice"
    return "int" if isinstance(item, int) and not isinstance(item, bool) else "?"


__all__ = [
    "FusionPlan",
    "ShapeFacts",
    "drop_shape_identities",
    "elide_broadcasts",
    "fusable",
    "is_axis_reduction",
    "is_full_reduction",
    "plan_fusion",
    "scalar_names",
]
