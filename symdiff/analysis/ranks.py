"""Which values have a known number of axes, whatever the argument shapes.

Code generation needs one fact from this: `y[t]` of a 1-D `y` with an integer
`t` is a NumPy scalar, a copy, not a view of `y`. Saving it on a tape, or
reading it after `y[t] = v`, then does not stop `y` from being written in
place (codegen/layout.py), which keeps a loop like `y[t] = a * y[t - 1] + x[t]`
linear in its length instead of copying `y` on every step.

Ranks are propagated forward from what fixes them: `np.zeros(n)` with an
integer `n`, `np.zeros((n, m))`, `np.zeros(np.shape(v))`, arrays shaped like
another (`zeros_like`, `broadcast_to` and `sum_to` to `np.shape(v)`, element
writes), elementwise ops of operands of known rank, full reductions, and an
integer index, which drops one axis. A loop's carried value has its initial
value's rank when the loop hands back a value of that rank too (checked, then
kept; a carried value that does not keep its rank drops only its own assumption). Parameters, tapes and everything else are unknown: absent from the map.
"""

from __future__ import annotations

from symdiff.analysis.aliases import ELEMENT_READS
from symdiff.analysis.integers import is_integer
from symdiff.analysis.shapes import ShapeClasses
from symdiff.ir.nodes import Const, Eqn, Function, If, Loop, Var, loops, walk
from symdiff.rules import RULES

_MADE = {"zeros", "ones", "empty", "full"}  # the shape is the first operand
_LIKE_FIRST = {"zeros_like", "ones_like", "empty_like", "full_like", "copy", "setitem", "neg", "pos", "grad_seed"}
_GIVEN_SHAPE = {"broadcast_to", "sum_to"}  # the shape is the static `shape`
_FULL_REDUCTIONS = {"sum", "mean", "prod", "max", "min", "amax", "amin", "var", "std"}


def known_ranks(function: Function) -> dict[str, int]:
    """name -> number of axes, for the values whose rank the ops fix (see the module docstring)."""
    defs = {out.name: eqn for eqn in walk(function.body) for out in eqn.outs}
    counters = frozenset(lp.index.name for lp in loops(function.body) if lp.index is not None)
    unsure: set[tuple[int, str]] = set()  # (loop, carried value) whose rank the loop does not keep
    for _ in range(64):  # each round drops at least one assumption, or ends
        ranks: dict[str, int] = {}
        failed = _block(function.body, ranks, defs, counters, unsure)
        if not failed:
            return ranks
        unsure |= failed
    return {}


def _block(body, ranks: dict[str, int], defs, counters, unsure: set[tuple[int, str]]) -> set[tuple[int, str]]:
    failed: set[tuple[int, str]] = set()
    for stmt in body:
        if isinstance(stmt, Eqn):
            rank = _rank(stmt, ranks, defs, counters) if len(stmt.outs) == 1 else None
            if rank is not None:
                ranks[stmt.out.name] = rank
        elif isinstance(stmt, If):
            failed |= _block(stmt.then_body, ranks, defs, counters, unsure)
            failed |= _block(stmt.else_body, ranks, defs, counters, unsure)
            for out, a, b in zip(stmt.outs, stmt.then_results, stmt.else_results):
                # An arm that leaves the value undefined (None: it returns, or never assigns it) gives
                # no element to read: the value has the other arm's rank wherever it is an array.
                a, b = (b, b) if a == Const(None) else (a, a) if b == Const(None) else (a, b)
                if _of(a, ranks) is not None and _of(a, ranks) == _of(b, ranks):
                    ranks[out.name] = _of(a, ranks)
        elif isinstance(stmt, Loop):
            assumed = {
                c.name: _of(i, ranks)
                for c, i in zip(stmt.carried, stmt.inits)
                if _of(i, ranks) is not None and (id(stmt), c.name) not in unsure
            }
            ranks.update(assumed)
            failed |= _block(stmt.cond_body, ranks, defs, counters, unsure)
            failed |= _block(stmt.body, ranks, defs, counters, unsure)
            for carried, result, out in zip(stmt.carried, stmt.results, stmt.outs):
                if carried.name not in assumed:
                    continue
                if _of(result, ranks) != assumed[carried.name]:
                    failed.add((id(stmt), carried.name))  # the assumption was wrong: the next round drops it
                else:
                    ranks[out.name] = assumed[carried.name]
    return failed


def _of(atom, ranks: dict[str, int]) -> int | None:
    if isinstance(atom, Const):
        return 0 if isinstance(atom.value, (int, float)) and not isinstance(atom.value, bool) else None
    return ranks.get(atom.name)


def _shape_rank(atom, ranks: dict[str, int], defs, counters) -> int | None:
    """How many axes an array made with shape `atom` has."""
    if isinstance(atom, Const):
        value = atom.value
        if isinstance(value, int) and not isinstance(value, bool):
            return 1
        return len(value) if isinstance(value, tuple) else None
    if is_integer(defs, atom, counters):
        return 1
    eqn = defs.get(atom.name)
    if eqn is None:
        return None
    if eqn.op == "shape":
        return _of(eqn.ins[0], ranks)
    if eqn.op == "make_tuple":
        return len(eqn.ins)
    return None


def _rank(eqn: Eqn, ranks: dict[str, int], defs, counters) -> int | None:
    op, ins = eqn.op, eqn.ins
    if op in _MADE:
        return _shape_rank(ins[0], ranks, defs, counters)
    if op in _GIVEN_SHAPE:
        return _shape_rank(eqn.static_dict()["shape"], ranks, defs, counters)
    if op in _LIKE_FIRST:
        return _of(ins[0], ranks)
    if op in ELEMENT_READS:
        index = eqn.static_dict()["index"]
        held = _of(ins[0], ranks)
        if held is not None and held >= 1 and is_integer(defs, index, counters):
            return held - 1
        return None
    if op in _FULL_REDUCTIONS:
        static = eqn.static_dict()
        axis, keepdims = static.get("axis", Const(None)), static.get("keepdims", Const(False))
        return 0 if axis == Const(None) and keepdims == Const(False) else None
    rule = RULES.get(op)
    if rule is not None and rule.elementwise and ins:
        operands = [_of(a, ranks) for a in ins]
        return None if None in operands else max(operands)
    return None


class RankClasses(ShapeClasses):
    """Union-find of names known to hold arrays of the same number of axes, whatever that number:
    values of one shape, elementwise ops of operands of one rank (and scalar constants), and a
    slice of an array (`x[1:]`, `x[:, :-1]`). Forward mode with batched tangents aligns an
    operand's tangent to its result's rank only where the two may differ."""

    def learn(self, eqn: Eqn) -> None:
        if eqn.op == "getitem" and isinstance(eqn.ins[0], Var) and slices_only(eqn.static_dict().get("index")):
            self.union(eqn.out.name, eqn.ins[0].name)
            return
        if eqn.op == "broadcast_shapes":  # the shapes of values of one rank broadcast to that rank
            sources = [self.shape_of.get(a.name) if isinstance(a, Var) else None for a in eqn.ins]
            if sources and None not in sources and all(self.same(Var(sources[0]), Var(s)) for s in sources):
                self.shape_of[eqn.out.name] = sources[0]
            return
        super().learn(eqn)  # with `same` meaning the same rank: an elementwise op of equal ranks keeps it


def slices_only(index: object) -> bool:
    """An index of slices (and an Ellipsis) alone keeps every axis."""
    if not isinstance(index, Const):
        return False
    value = index.value
    items = value if isinstance(value, tuple) else (value,)
    return all(isinstance(item, slice) or item is Ellipsis for item in items)
