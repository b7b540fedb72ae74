"""Refuse a read that NumPy would answer from memory written since (views and aliases).

symdiff's IR treats every value as immutable: `row = hs[0]`, `hs.T`,
`hs.reshape(...)` and a second name bound to the same array are values, and
`hs[0] = x` makes a new version of `hs`. NumPy's views share memory instead:
after the write NumPy's `row` shows `x`, the IR's would still hold the old
row, and the gradient would be that of another function. This check finds
every read of a value that a write since it was taken may have changed, and
refuses it at build time, naming the write.

It follows which buffers (arrays the function creates or is passed) each
value may share memory with: view-making operations (basic indexing,
transposes, reshapes, ...) share their operand's, a write `hs[i] = v` is
logged against its array's buffers, and every other operation makes a fresh
buffer. A value may miss the writes logged after it was taken into its
buffers; a read is refused where one of those writes may reach the elements
it reads. Told apart: `hs[t - 1]` and `hs[t]` for a counter that starts at 1
or more, slices that end before others begin (`analysis/indexes.py`), and
single elements of arrays of known rank (NumPy copies those). Branches are
followed arm by arm, loops as if any number of earlier iterations had run.
Shapes are never changed by a write, so `np.shape(x)` and `len(x)` are not
reads here.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from symdiff.analysis.indexes import disjoint
from symdiff.analysis.integers import Linear, is_integer, linear
from symdiff.analysis.ranks import known_ranks
from symdiff.errors import Location, UnsupportedSyntax
from symdiff.ir.nodes import Const, Eqn, Function, If, Loop, Var, defined, loops, walk
from symdiff.rules import RULES

# Operations whose result may share memory with their first operand.
_VIEWS = {
    "getitem", "reshape", "ravel", "squeeze", "expand_dims", "transpose", "swapaxes", "broadcast_to",
    "sum_to", "axis_slice", "flip", "written_values",
}  # fmt: skip
_SHAPE_ONLY = {"shape", "len", "ndim", "size", "zeros_like", "ones_like", "empty_like", "full_like"}
_CREATE = {"zeros", "ones", "empty", "full"}
_LIKE = {"zeros_like", "ones_like", "empty_like", "full_like", "copy"}
_WHOLE = "whole"  # a region: every element, in the buffer's own layout
_REDUCTIONS = {"sum", "mean", "prod", "max", "min"}
_SCALAR_OPS = {"float", "int", "bool", "len", "size", "ndim"}


@dataclass(frozen=True)
class _Write:
    """`array[index] = value` into `buffers`; `index` is None where the elements are unknown."""

    position: int
    buffers: frozenset
    index: Any
    loc: Location | None
    maybe: bool = False  # `s += v` of a value of unknown rank: a write only if it is an array


@dataclass(frozen=True)
class _Ref:
    """What memory a value may share, and which writes into it the value may have missed.

    `since` maps each buffer to the log position from which its writes reach
    the value; `missed` holds writes on the way here that the log does not
    show after those positions (another branch's, an earlier iteration's).
    `region` is the part of the buffer the value reads: `_WHOLE`, an index
    into the buffer, or None (unknown part or layout). `rank` is known for
    arrays made by np.zeros((a, b)) and the like, `least` bounds it from
    below (`np.zeros((4, 3)) + x` has at least two axes). `scalar` marks
    values known to be immutable Python or NumPy scalars (a full reduction,
    `float(...)`, arithmetic of those). `s += v` writes into `s`'s memory
    only where `s` surely has an axis; symdiff cannot tell `x[0]` of an
    argument, a number or a row, so it takes that as a new value.
    """

    since: dict
    missed: tuple = ()
    region: Any = _WHOLE
    rank: int | None = None
    scalar: bool = False
    least: int = 0


def check_views(function: Function, in_place: set[str]) -> None:
    """Raise UnsupportedSyntax where a value is read after a write it would see in NumPy.

    `in_place` names the `setitem` results that `x[i] = v` statements wrote;
    other `setitem`s are calls of the copying `index_update` (generated code).
    """
    _Checker(function, in_place).run()


class _Checker:
    def __init__(self, function: Function, in_place: set[str]):
        self.function = function
        self.in_place = in_place
        self.defs = {eqn.outs[0].name: eqn for eqn in walk(function.body) if len(eqn.outs) == 1}
        self.log: list[_Write] = []
        self.refs: dict[str, _Ref] = {}
        self.floors: dict[str, Linear | None] = {}  # loop counter -> lower bound (None: unknown)
        self.params = {p.name for p in function.params}
        self.lists = _grown_lists(function)  # arrays that stand for Python lists of references
        self.ranks = known_ranks(function)  # `y[t]` of a 1-D y made here is a scalar: a copy, not a view

    def run(self) -> None:
        for param in self.function.params:
            self.refs[param.name] = self.fresh(param.name)
        self.block(self.function.body)
        for atom in self.function.results():
            self.read(atom, None, returned=True)

    # -- values ---------------------------------------------------------------

    def fresh(self, name: str, rank: int | None = None, scalar: bool = False, least: int = 0) -> _Ref:
        return _Ref({name: len(self.log)}, (), _WHOLE, rank, scalar, max(least, rank or 0))

    def ref(self, atom) -> _Ref | None:
        return self.refs.get(atom.name) if isinstance(atom, Var) else None

    def pending(self, ref: _Ref) -> list[_Write]:
        """The writes `ref` may have missed, in the order they happened."""
        low = min(ref.since.values(), default=len(self.log))
        found = [w for w in self.log[low:] if any(b in ref.since and w.position >= ref.since[b] for b in w.buffers)]
        return found + [w for w in ref.missed if not w.buffers.isdisjoint(ref.since)]

    def read(self, atom, loc: Location | None, index=None, returned: bool = False) -> None:
        """Refuse reading `atom` (only its elements at `index`, if given) if a write it missed reaches them."""
        ref = self.ref(atom)
        if ref is None:
            return
        region = index if index is not None and ref.region is _WHOLE else ref.region
        for write in self.pending(ref):
            if self.overlap(write.index, region):
                raise self._stale(atom, write, loc, returned)

    def overlap(self, index, region) -> bool:
        if index is None or region is None or region is _WHOLE:
            return True
        return not disjoint(self.defs, index, region, self.floors)

    def _stale(self, atom: Var, write: _Write, loc, returned: bool) -> UnsupportedSyntax:
        what = "this value" if atom.temp else f"`{atom.name.split('~')[0]}`"
        line = f"line {write.loc.line}" if write.loc is not None else "an earlier line"
        message = (
            f"{'the returned value ' if returned else ''}{what} is read here as it was before the write at {line}, "
            "but it shares memory with the written array, so NumPy would show the write; "
            "symdiff differentiates values and cannot follow shared memory"
        )
        hint = "take a copy where the view or second name is made (`row = hs[0].copy()`), or read it before the write"
        if write.maybe:
            message = message.replace(
                "the written array", "the array the augmented assignment writes into if it has an axis"
            )
            hint = "write `s = s + v` to make a new value, or take a copy where the view is made (`s = x[0].copy()`)"
        return UnsupportedSyntax(message, loc if loc is not None and not returned else write.loc, hint)

    # -- statements -----------------------------------------------------------

    def block(self, body) -> None:
        for stmt in body:
            if isinstance(stmt, Eqn):
                self.eqn(stmt)
            elif isinstance(stmt, If):
                self.branch(stmt)
            else:
                self.loop(stmt)

    def eqn(self, eqn: Eqn) -> None:
        if eqn.op == "getitem":  # reads only the indexed elements
            self.read(eqn.ins[0], eqn.loc, eqn.static_dict()["index"])
            for atom in eqn.atoms()[1:]:
                self.read(atom, eqn.loc)
        elif eqn.op not in _SHAPE_ONLY:
            for atom in eqn.atoms():
                self.read(atom, eqn.loc)
        op, first = eqn.op, self.ref(eqn.ins[0]) if eqn.ins else None
        if op == "setitem" and eqn.out.name in self.in_place:
            self.write(eqn, first, eqn.static_dict()["index"])
        elif eqn.out.name in self.in_place and first is not None and first.least >= 1:
            self.write(eqn, first, None)  # `a += b` on an array writes into its memory
        elif eqn.out.name in self.in_place and first is not None and not first.scalar and self.local(first):
            # `a += b` on a value made here of unknown rank: an array's memory is written, so a view
            # of it read later is refused (a number's is not, but symdiff cannot tell them apart).
            self.write(eqn, first, None)
        elif eqn.out.name in self.in_place and first is not None and not first.scalar:
            # `s += v` where `s` may be a view of an argument (`s = x[0]`): NumPy writes into the
            # argument if `s` has an axis and rebinds `s` if it is a number. symdiff makes a new
            # value, so a later read that would see the write is refused.
            self.write(eqn, first, None, maybe=True)
        elif first is not None and (op in _VIEWS or op == "einsum" and len(eqn.ins) == 1):
            self.refs[eqn.out.name] = self.view(eqn, first)
        elif op in ("make_tuple", "tape_push") or eqn.out.name in self.lists:
            self.refs[eqn.out.name] = self.gather(eqn)
        elif op == "tape_pop":
            tape = self.ref(eqn.ins[0]) or _Ref({})
            for out in eqn.outs:
                self.refs[out.name] = replace(tape, region=None, rank=None)
        else:
            for out in eqn.outs:
                self.refs[out.name] = self.fresh(out.name, self.rank(eqn), self.scalar(eqn), self.least(eqn))

    def local(self, ref: _Ref) -> bool:
        """Whether `ref` shares memory with no argument (`s = x[0]` of an argument may be a number)."""
        return not any(b in self.params for b in ref.since)

    def write(self, eqn: Eqn, array: _Ref | None, index, maybe: bool = False) -> None:
        """Log a write into `array`'s memory at `index` (None: all of the value `array` reads).

        `maybe`: the write happens only if the value is an array; it is not refused
        for an argument's memory, only reads that would see it are.
        """
        if array is None:
            return
        written = sorted(b for b in array.since if b in self.params)
        if isinstance(eqn.ins[0], Var) and eqn.ins[0].name in self.params:
            written = []  # `x[i] = v` or `x += v` on the argument itself: a new value of `x` (see below)
        if written and not maybe:
            raise UnsupportedSyntax(
                f"this writes into argument {written[0]!r} through a view or a second name for it",
                eqn.loc,
                f"copy it first: `{written[0]} = np.copy({written[0]})`",
            )
        if array.region is not _WHOLE:
            index = array.region if index is None else None  # an index into a view: elements unknown here
        self.log.append(_Write(len(self.log), frozenset(array.since), index, eqn.loc, maybe))
        now = len(self.log)
        self.refs[eqn.out.name] = replace(array, since={b: now for b in array.since}, missed=())

    def view(self, eqn: Eqn, base: _Ref) -> _Ref:
        """A view taken now of a value just read (so it has missed no write yet)."""
        now = len(self.log)
        since = {b: now for b in base.since}
        if eqn.op != "getitem":
            return _Ref(since, (), None, least=self.view_least(eqn, base))
        index = eqn.static_dict()["index"]
        items = self.index_items(index)
        integers = items.count("int")
        if self.ranks.get(eqn.out.name) == 0:
            return self.fresh(eqn.out.name, scalar=True)  # analysis/ranks.py: one element of a 1-D array
        if base.rank is not None and integers == base.rank == len(items):
            return self.fresh(eqn.out.name, scalar=True)  # one element: NumPy returns a scalar, a copy
        if "array" in items:
            return self.fresh(eqn.out.name)  # advanced indexing copies
        known = "other" not in items
        rank = base.rank - integers if base.rank is not None and known else None
        least = max(base.least - integers if known else 0, items.count("slice"))  # a slice keeps its axis
        return _Ref(since, (), index if base.region is _WHOLE else None, rank, least=least)

    def index_items(self, index) -> list[str]:
        """Each item of a getitem index as "int", "slice", "array" (advanced) or "other"."""
        if isinstance(index, Const):
            values = index.value if isinstance(index.value, tuple) else (index.value,)
            return [_const_kind(v) for v in values]
        eqn = self.defs.get(index.name)
        atoms = eqn.ins if eqn is not None and eqn.op == "make_tuple" else (index,)
        kinds = []
        for atom in atoms:
            if isinstance(atom, Const):
                kinds.append(_const_kind(atom.value))
                continue
            inner = self.defs.get(atom.name)
            if inner is not None and inner.op == "make_slice":
                kinds.append("slice")
            elif inner is not None and inner.op == "index_array":
                kinds.append("array")
            elif is_integer(self.defs, atom, self.floors):
                kinds.append("int")
            else:
                kinds.append("other")
        return kinds

    def gather(self, eqn: Eqn) -> _Ref:
        """A tuple or tape: shares the memory of everything put in it."""
        now = len(self.log)
        since, missed = {}, ()
        if eqn.op == "tape_push":
            tape = self.ref(eqn.ins[0]) or _Ref({})
            since, missed = dict(tape.since), tape.missed
            items = eqn.ins[1:]
        else:
            items = eqn.ins
        for atom in items:
            ref = self.ref(atom)
            for b in ref.since if ref is not None else ():
                since.setdefault(b, now)
        return _Ref(since, missed, None)

    def scalar(self, eqn: Eqn) -> bool:
        """Whether `eqn` surely gives an immutable scalar."""
        if eqn.op in _SCALAR_OPS:
            return True
        if eqn.op in _REDUCTIONS:
            static = eqn.static_dict()
            return static.get("axis") == Const(None) and static.get("keepdims") == Const(False)
        rule = RULES.get(eqn.op)
        return rule is not None and rule.elementwise and all(self.is_scalar(a) for a in eqn.ins)

    def is_scalar(self, atom) -> bool:
        if isinstance(atom, Const):
            return isinstance(atom.value, (int, float, complex)) or np.isscalar(atom.value)
        ref = self.ref(atom)
        return ref is not None and ref.scalar

    def least(self, eqn: Eqn) -> int:
        """A lower bound on the rank of `eqn`'s result (broadcasting keeps every operand's axes)."""
        rule = RULES.get(eqn.op)
        if (
            rule is not None
            and rule.elementwise
            or eqn.op in ("copy", "zeros_like", "ones_like", "empty_like", "full_like")
        ):
            refs = [self.ref(a) for a in eqn.ins]
            return max((r.least for r in refs if r is not None), default=0)
        return 0

    def view_least(self, eqn: Eqn, base: _Ref) -> int:
        """A lower bound on the rank of a view other than basic indexing."""
        if eqn.op in ("transpose", "swapaxes", "axis_slice"):
            return base.least
        if eqn.op == "ravel":
            return 1
        if eqn.op == "expand_dims":
            return base.least + 1
        if eqn.op in ("reshape", "broadcast_to", "sum_to"):
            return self.shape_rank(eqn.static_dict().get("shape")) or 0
        return 0

    def shape_rank(self, shape) -> int | None:
        """How many axes an array of shape `shape` (an atom) has, if the IR says."""
        if shape is None:
            return None
        if isinstance(shape, Const):
            value = shape.value
            return len(value) if isinstance(value, tuple) else 1 if isinstance(value, int) else None
        inner = self.defs.get(shape.name)
        if inner is not None and inner.op == "make_tuple":
            return len(inner.ins)
        return 1 if is_integer(self.defs, shape, self.floors) else None

    def rank(self, eqn: Eqn) -> int | None:
        if eqn.op in _CREATE and eqn.ins:
            return self.shape_rank(eqn.ins[0])
        if eqn.op in _LIKE and eqn.ins:
            base = self.ref(eqn.ins[0])
            return base.rank if base is not None else None
        return None

    def branch(self, stmt: If) -> None:
        self.read(stmt.cond, stmt.loc)
        start = len(self.log)
        arms = []
        for body, results in ((stmt.then_body, stmt.then_results), (stmt.else_body, stmt.else_results)):
            del self.log[start:]
            self.block(body)
            arms.append((self.log[start:], [self.carry(r) for r in results]))
        del self.log[start:]
        for writes, _ in arms:
            self.extend(writes)
        for k, out in enumerate(stmt.outs):
            self.refs[out.name] = self.join([arm[1][k] for arm in arms])

    def loop(self, stmt: Loop) -> None:
        for atom in stmt.bounds:
            self.read(atom, stmt.loc)
        entry = [self.carry(atom) for atom in stmt.inits]
        if stmt.index is not None:
            self.refs[stmt.index.name] = self.fresh(stmt.index.name)
            self.floors[stmt.index.name] = _floor(self.defs, stmt.bounds)
        made = {v.name for inner in stmt.body for v in defined(inner)}  # arrays made anew every iteration
        start, earlier, ends = len(self.log), [], [(None, ())] * len(stmt.carried)
        for _ in range(6):  # until the memory the body writes and carries stops growing
            self.extend(earlier)  # what earlier iterations wrote
            for var, first, end in zip(stmt.carried, entry, ends):
                self.refs[var.name] = self.join([first, end] if end[0] is not None else [first])
            self.block(stmt.cond_body)
            self.read(stmt.cond, stmt.loc)
            self.block(stmt.body)
            writes = [_aged(w, made) for w in self.log[start + len(earlier) :]]
            new_ends = [self.aged(self.carry(atom), made) for atom in stmt.results]
            del self.log[start:]
            stable = _footprint(writes) == _footprint(earlier) and _shares(new_ends) == _shares(ends)
            earlier, ends = writes, new_ends
            if stable:
                break
        self.extend(earlier)
        for k, out in enumerate(stmt.outs):
            self.refs[out.name] = self.join([entry[k], ends[k]])

    def aged(self, path: tuple[_Ref | None, tuple], made: set[str]) -> tuple[_Ref | None, tuple]:
        """A value carried into the next iteration: an array the body made is an earlier iteration's
        array there, not the one the body makes again (`new = np.zeros_like(state)`, then `state = new`)."""
        ref, missed = path
        if ref is None:
            return path
        since: dict = {}
        for buffer, position in ref.since.items():
            older = _older(buffer, made)
            since[older] = min(position, since.get(older, position))
        aged = replace(ref, since=since, missed=tuple(_aged(w, made) for w in ref.missed))
        return aged, tuple(_aged(w, made) for w in missed)

    # -- joining paths --------------------------------------------------------

    def carry(self, atom) -> tuple[_Ref | None, tuple]:
        """A value leaving a block: its memory, and the writes it has missed so far on this path.

        Only writes that reach the value's own elements count: after the join
        the region may be unknown, and a write elsewhere would then look like one.
        """
        if isinstance(atom, Const):
            return (_Ref({}, scalar=self.is_scalar(atom)), ())
        ref = self.ref(atom)
        if ref is None:
            return (None, ())
        return (ref, tuple(w for w in self.pending(ref) if self.overlap(w.index, ref.region)))

    def join(self, paths: list[tuple[_Ref | None, tuple]]) -> _Ref:
        """A value that arrives by one of `paths`: missing every write any of them missed."""
        now = len(self.log)
        refs = [ref for ref, _ in paths if ref is not None]
        since = {b: now for ref in refs for b in ref.since}
        missed = tuple(w for _, writes in paths for w in writes)
        regions = {id(ref.region): ref.region for ref in refs}
        region = next(iter(regions.values())) if len(regions) == 1 else None
        ranks = {ref.rank for ref in refs}
        scalar = bool(refs) and all(ref.scalar for ref in refs)
        least = min((ref.least for ref in refs), default=0)
        rank = ranks.pop() if len(ranks) == 1 else None
        return _Ref(since, missed, region if refs else _WHOLE, rank, scalar, least)

    def extend(self, writes) -> None:
        for write in writes:
            self.log.append(replace(write, position=len(self.log)))


def _grown_lists(function: Function) -> set[str]:
    """The arrays that hold a list grown by `append` in a loop (frontend `rows_for_appends`): each
    `append_row` result, and the `np.stack` of the items the list started with. NumPy's list holds
    the items themselves, so a later write into an item shows in the list (`acc += x[t];
    rows.append(acc)` appends one array three times): these gather their items' memory as a
    tuple does, so that a read of the list after such a write is refused."""
    found = {eqn.out.name for eqn in walk(function.body) if eqn.op == "append_row"}
    stacks = {eqn.out.name for eqn in walk(function.body) if eqn.op == "stack"}
    for loop in loops(function.body):
        for init, result in zip(loop.inits, loop.results):
            if isinstance(init, Var) and init.name in stacks and isinstance(result, Var) and result.name in found:
                found.add(init.name)
    return found


def _older(buffer: str, made: set[str]) -> str:
    """The name of the array a loop body made in an earlier iteration (all earlier ones: one name)."""
    return buffer + "'" if buffer in made else buffer


def _aged(write: _Write, made: set[str]) -> _Write:
    return replace(write, buffers=frozenset(_older(b, made) for b in write.buffers))


def _const_kind(value) -> str:
    if isinstance(value, bool):
        return "other"
    if isinstance(value, int):
        return "int"
    if isinstance(value, slice):
        return "slice"
    if isinstance(value, (list, tuple)):
        return "array"
    return "other"


def _floor(defs, bounds) -> Linear | None:
    """A counted loop's counter is at least its start when the step is a positive constant."""
    start, _, step = bounds
    if not (isinstance(step, Const) and type(step.value) is int and step.value > 0):
        return None
    return linear(defs, start, 0)


def _footprint(writes) -> set:
    return {(w.buffers, id(w.index)) for w in writes}


def _shares(ends) -> list:
    return [frozenset(ref.since) if ref is not None else None for ref, _ in ends]
