"""Shapes and elements a loop's backward pass computes again instead of taping them.

The reverse pass tapes what each iteration's backward step needs, shapes
included (`np.shape(x[t])`, to undo a broadcast). Such a shape often depends
only on values that do not change in the loop and on the loop counter: the
shape of `x[t]` for a parameter `x`, or of `a * y[t - 1] + x[t]` where
`y[t - 1]` is a number. Computing it again in the backward loop, from the
backward counter (which takes the same values in reverse order), costs less
than a list append and pop per iteration, and leaves no tape in the code.
So does an element or row `x[t]` of a value from before the loop (a view of
it, or a number), read again rather than kept; and an element `y[t - 1]` of
an array the loop itself fills at `y[t]`: no later step writes it again, so
the final `y` holds what the step read (`_Recipe.settled`).

A tape qualifies when one equation at the top level of a counted loop's body
pushes a shape (or such an element) onto it, one at the top level of the loop that runs the same
range backwards pops it, both loops are in one block, and the shape is
derived (`recipe`) from values defined before the forward loop, the counter,
integer arithmetic on it, and elementwise ops (whose result's shape is the
broadcast of their operands' shapes; a number adds nothing). The popped value
is then the recomputed one, and the tape, read by nothing else, is dead code.
"""

from __future__ import annotations

from dataclasses import replace

from symdiff.analysis.ranks import known_ranks
from symdiff.ir.names import Names
from symdiff.ir.nodes import Atom, Const, Eqn, Function, If, Loop, Var, defined, statements
from symdiff.optimize.tapes import tape_groups
from symdiff.rules import RULES

_INTEGER_OPS = frozenset({"add", "sub", "mul", "neg", "floordiv", "mod"})
_SHAPES = frozenset({"shape", "broadcast_shapes"})


def recompute_shapes(function: Function) -> Function:
    """`function` with taped shapes recomputed in the backward loop (see the module docstring)."""
    groups, pushes, pops = tape_groups(function.body)
    ranks = known_ranks(function)
    names = Names({p.name for p in function.params} | {n for n, _ in function.free})
    names.used |= {v.name for stmt in statements(function.body) for v in defined(stmt)}
    given = {p.name for p in function.params} | {n for n, _ in function.free}
    body = _block(list(function.body), groups, pushes, pops, ranks, names, given)
    return function if body == list(function.body) else replace(function, body=tuple(body))


def _block(body: list, groups, pushes, pops, ranks, names, given: set[str]) -> list:
    """`body` with the loops of this block rewritten (loops in nested blocks are left as they are)."""
    loops = [stmt for stmt in body if isinstance(stmt, Loop) and stmt.index is not None and stmt.cond is None]
    for backward in [lp for lp in loops if lp.reverse]:
        forward = next((lp for lp in loops if not lp.reverse and lp.bounds == backward.bounds), None)
        if forward is None or body.index(forward) > body.index(backward):
            continue
        before = body[: body.index(forward)]
        new = _recomputed(forward, backward, before, given, groups, pushes, pops, ranks, names)
        if new is not backward:
            body[body.index(backward)] = new
            loops[loops.index(backward)] = new
    return body


def _recomputed(
    forward: Loop, backward: Loop, before: list, given: set[str], groups, pushes, pops, ranks, names
) -> Loop:
    """`backward` with each shape popped off a tape that `forward` fills computed again."""
    made = {out.name: stmt for stmt in forward.body if isinstance(stmt, Eqn) for out in stmt.outs}
    outside = given | {v.name for stmt in before for v in defined(stmt)}
    step = _Recipe(forward, backward, made, outside, ranks, names)
    pushed = {groups.find(e.ins[0].name): e.ins[1] for e in forward.body if isinstance(e, Eqn) and id(e) in pushes}
    new_body: list = []
    mapping: dict[str, Atom] = {}
    for stmt in backward.body:
        new_body.append(_substituted(stmt, mapping))
        if not (isinstance(stmt, Eqn) and id(stmt) in pops):
            continue
        group = groups.find(stmt.ins[0].name)
        if len(pushes_of(pushes, groups, group)) != 1 or len(pops_of(pops, groups, group)) != 1:
            continue
        value = pushed.get(group)
        atom, emitted = None, []
        for recompute in (step.shape_value, step.element) if isinstance(value, Var) else ():
            emitted = []
            atom = recompute(value, emitted)
            if atom is not None:
                break
        if atom is not None:
            new_body.extend(emitted)
            mapping[stmt.outs[1].name] = atom
    if not mapping:
        return backward
    return replace(backward, body=tuple(new_body), results=tuple(_atom(a, mapping) for a in backward.results))


def pushes_of(pushes: dict, groups, group: str) -> list:
    return [e for e in pushes.values() if groups.find(e.ins[0].name) == group]


def pops_of(pops: dict, groups, group: str) -> list:
    return [e for e in pops.values() if groups.find(e.ins[0].name) == group]


def _atom(atom: Atom, mapping: dict[str, Atom]) -> Atom:
    return mapping.get(atom.name, atom) if isinstance(atom, Var) else atom


def _substituted(stmt, mapping: dict[str, Atom]):
    """`stmt` reading the recomputed values (only equations read them: they were popped in this body)."""
    if not mapping:
        return stmt
    if isinstance(stmt, Eqn):
        static = tuple((k, _atom(a, mapping)) for k, a in stmt.static)
        return Eqn(stmt.outs, stmt.op, tuple(_atom(a, mapping) for a in stmt.ins), static, stmt.loc, stmt.adjoint)
    if isinstance(stmt, If):
        return replace(
            stmt, cond=_atom(stmt.cond, mapping),
            then_body=tuple(_substituted(s, mapping) for s in stmt.then_body),
            else_body=tuple(_substituted(s, mapping) for s in stmt.else_body),
            then_results=tuple(_atom(a, mapping) for a in stmt.then_results),
            else_results=tuple(_atom(a, mapping) for a in stmt.else_results),
        )  # fmt: skip
    return replace(
        stmt, inits=tuple(_atom(a, mapping) for a in stmt.inits), bounds=tuple(_atom(a, mapping) for a in stmt.bounds),
        body=tuple(_substituted(s, mapping) for s in stmt.body),
        cond_body=tuple(_substituted(s, mapping) for s in stmt.cond_body),
        cond=_atom(stmt.cond, mapping) if stmt.cond is not None else None,
        results=tuple(_atom(a, mapping) for a in stmt.results),
    )  # fmt: skip


def _basic(index) -> bool:
    """A constant index of integers and slices: `x[index]` is a view or a number, never a copy."""
    items = index if isinstance(index, tuple) else (index,)
    return all(isinstance(item, (int, slice)) and not isinstance(item, bool) for item in items)


class _Recipe:
    """How to compute, in the backward loop, a shape or integer the forward loop's body made."""

    def __init__(self, forward: Loop, backward: Loop, made: dict, outside: set[str], ranks, names: Names):
        self.forward, self.backward, self.made, self.outside = forward, backward, made, outside
        self.ranks, self.names = ranks, names
        self.copies: dict[str, Atom] = {}

    def invariant(self, atom: Atom) -> bool:
        return isinstance(atom, Const) or atom.name in self.outside

    def emit(self, emitted: list, op: str, ins, static, loc, base: str) -> Var:
        out = Var(self.names.fresh(base), temp=True)
        emitted.append(Eqn((out,), op, tuple(ins), tuple(static), loc, True))
        return out

    def integer(self, atom: Atom, emitted: list) -> Atom | None:
        """`atom` (the counter, or integer arithmetic on it and invariants) in the backward loop."""
        if self.invariant(atom):
            return atom
        if atom == self.forward.index:
            return self.backward.index
        eqn = self.made.get(atom.name)
        if eqn is None or eqn.op not in _INTEGER_OPS or len(eqn.outs) != 1:
            return None
        ins = [self.integer(a, emitted) for a in eqn.ins]
        if None in ins or eqn.static:
            return None
        return self.emit(emitted, eqn.op, ins, (), eqn.loc, eqn.out.name.split("~")[0])

    def element(self, value: Var, emitted: list) -> Atom | None:
        """`x[t]` (a view, or a number) of a value from before the loop, read again in the backward loop;
        or `y[t + d]` of an array the loop writes only at `y[t + c]`, `c > d`, read from the loop's
        final `y` (see `settled`)."""
        eqn = self.made.get(value.name)
        if eqn is None or eqn.op != "getitem" or len(eqn.outs) != 1:
            return None
        index = eqn.static_dict().get("index")
        source = eqn.ins[0] if self.invariant(eqn.ins[0]) else self.settled(eqn.ins[0], index)
        if source is None:
            return None
        moved = self.integer(index, emitted) if isinstance(index, Var) else index
        if moved is None or (isinstance(moved, Const) and not _basic(moved.value)):
            return None
        return self.emit(emitted, "getitem", (source,), (("index", moved),), eqn.loc, value.name.split("~")[0])

    def offset(self, atom: Atom) -> int | None:
        """`d` where `atom` is the forward counter plus the integer constant `d`."""
        if atom == self.forward.index:
            return 0
        eqn = self.made.get(atom.name) if isinstance(atom, Var) else None
        if eqn is None or eqn.op not in ("add", "sub") or len(eqn.ins) != 2 or len(eqn.outs) != 1:
            return None
        a, b = eqn.ins
        if a == self.forward.index and isinstance(b, Const) and type(b.value) is int:
            return b.value if eqn.op == "add" else -b.value
        if eqn.op == "add" and b == self.forward.index and isinstance(a, Const) and type(a.value) is int:
            return a.value
        return None

    def settled(self, array: Atom, index: Atom) -> Var | None:
        """The forward loop's final value of `array`, where reading `array[index]` there gives what
        the iteration read: `array` is (a version of) a carried value that the body changes only by
        element writes at the top level, each at `t + c`, and `index` is `t + d` with `d < c` for
        every write, in a range counting up from a constant at which no index is negative. Later
        iterations write only past `t + d`, so the element keeps the value read."""
        forward = self.forward
        d = self.offset(index)
        start, _, step = forward.bounds
        if d is None or not (isinstance(start, Const) and type(start.value) is int and start.value + d >= 0):
            return None
        if not (isinstance(step, Const) and type(step.value) is int and step.value > 0):
            return None
        for phi, result, out in zip(forward.carried, forward.results, forward.outs):
            versions, write = [], self.made.get(result.name) if isinstance(result, Var) else None
            while write is not None and write.op == "setitem" and isinstance(write.ins[0], Var):
                c = self.offset(write.static_dict().get("index"))
                if c is None or c <= d or start.value + c < 0:
                    return None
                versions.append(write.ins[0])
                if write.ins[0] == phi:
                    break
                write = self.made.get(write.ins[0].name)
            if versions and versions[-1] == phi and array in versions:
                return out
        return None

    def shape_value(self, value: Var, emitted: list) -> Atom | None:
        """The pushed `value` computed again, if it is a shape this class can follow."""
        eqn = self.made.get(value.name)
        if eqn is None or eqn.op not in _SHAPES or len(eqn.outs) != 1:
            return None
        parts = [self.shape_of(a, emitted) if eqn.op == "shape" else self.shape_value(a, emitted) for a in eqn.ins]
        if any(part is None for part in parts):
            return None
        if eqn.op == "shape":
            return parts[0]
        return self.broadcast(parts, emitted, eqn.loc, value.name)

    def broadcast(self, parts: list, emitted: list, loc, base: str) -> Atom:
        shapes = list(dict.fromkeys(p for p in parts if p != Const(())))
        if not shapes:
            return Const(())
        if len(shapes) == 1:
            return shapes[0]
        return self.emit(emitted, "broadcast_shapes", shapes, (), loc, base.split("~")[0])

    def shape_of(self, atom: Atom, emitted: list) -> Atom | None:
        """`np.shape(atom)`, for a value of the forward body, in the backward loop."""
        if isinstance(atom, Const):
            return Const(()) if isinstance(atom.value, (int, float, bool)) else None
        if self.ranks.get(atom.name) == 0:
            return Const(())
        if atom.name in self.outside:
            return self.emit(emitted, "shape", (atom,), (), None, f"{atom.name.split('~')[0]}_shape")
        eqn = self.made.get(atom.name)
        if eqn is None or len(eqn.outs) != 1:
            return None
        index = eqn.static_dict().get("index")
        source = None
        if eqn.op == "getitem":
            source = eqn.ins[0] if self.invariant(eqn.ins[0]) else self.settled(eqn.ins[0], index)
        if source is not None:
            moved = self.integer(index, emitted) if isinstance(index, Var) else index
            if moved is None:
                return None
            item = self.emit(emitted, "getitem", (source,), (("index", moved),), eqn.loc, atom.name.split("~")[0])
            return self.emit(emitted, "shape", (item,), (), eqn.loc, f"{atom.name.split('~')[0]}_shape")
        rule = RULES.get(eqn.op)
        if rule is None or not rule.elementwise or eqn.static:
            return None
        parts = [self.shape_of(a, emitted) for a in eqn.ins]
        if any(part is None for part in parts):
            return None
        return self.broadcast(parts, emitted, eqn.loc, f"{atom.name.split('~')[0]}_shape")


__all__ = ["recompute_shapes"]
