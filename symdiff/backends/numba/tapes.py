"""One tape per loop instead of one per saved value.

Reverse mode saves every value the backward pass needs with its own tape:
`t = []` before the loop, `t.append(v)` in its body and `v = t.pop()` in the
backward loop. A Numba list operation costs a few nanoseconds (a capacity
check and reference counting), which is most of the time of a scalar loop
that saves eight values per step. `merge_tapes` joins the tapes that a loop
pushes to once per iteration (at the top level of its body) and that one
backward loop pops once per iteration into a single tape of tuples:

    saved.append((x, s, c))            # after the last of the original pushes
    ...
    saved_top = saved.pop()            # where the first original pop was
    x, s, c = saved_top[0], saved_top[1], saved_top[2]

Only loops in the same block are paired (a loop nested in a loop keeps its
own tapes), and a tape of tapes stays as it is. The result is ordinary IR
(`tape_new`, `tape_push`, `tape_pop`, `make_tuple`, `getitem`).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace

from symdiff.ir.names import Names
from symdiff.ir.nodes import Const, Eqn, Function, If, Loop, Var, reads, walk
from symdiff.optimize.dce import dce

_TAPE_OPS = ("tape_new", "tape_push", "tape_pop")


@dataclass(frozen=True)
class _Saved:
    """One tape of a forward/backward loop pair: its positions and its push and pop."""

    forward_position: int
    backward_position: int
    push: Eqn
    pop: Eqn


class _Merger:
    def __init__(self, function: Function):
        self.counts: Counter = Counter(a.name for a in function.results() if isinstance(a, Var))
        for stmt in function.body:
            self.counts.update(a.name for a in reads(stmt) if isinstance(a, Var))
        eqns = walk(function.body)
        self.tapes = {e.outs[0].name for e in eqns if e.op in _TAPE_OPS}
        self.names = Names([v.name for v in function.params] + [n for n, _ in function.free])
        self.names.used |= {o.name for e in eqns for o in e.outs} | _loop_names(function.body)
        self.tapes |= _carried_tapes(function.body, self.tapes)
        self.empty = {e.outs[0].name for e in eqns if e.op == "tape_new"}  # tapes that start empty

    def fresh(self, base: str) -> Var:
        return Var(self.names.fresh(base))

    def block(self, body) -> tuple:
        body = [self.nested(stmt) for stmt in body]
        starts: dict[int, list[Eqn]] = {}  # new tapes, created just before their forward loop
        for position in range(len(body)):
            while isinstance(body[position], Loop):  # one partner at a time: a merge renumbers the carried values
                found = [
                    (p, saved) for p, saved in self.pairs(body[position], body, position).items() if len(saved) >= 2
                ]
                if not found:
                    break
                partner, saved = found[0]
                starts.setdefault(position, []).append(self.merge(body, position, partner, saved))
        return tuple(stmt for position, original in enumerate(body) for stmt in [*starts.get(position, []), original])

    def nested(self, stmt):
        if isinstance(stmt, If):
            return replace(stmt, then_body=self.block(stmt.then_body), else_body=self.block(stmt.else_body))
        if isinstance(stmt, Loop):
            return replace(stmt, cond_body=self.block(stmt.cond_body), body=self.block(stmt.body))
        return stmt

    def pairs(self, loop: Loop, body: list, position: int) -> dict[int, list[_Saved]]:
        """Tapes of `loop` popped by one later loop of `body`, by that loop's position."""
        found: dict[int, list[_Saved]] = {}
        for k, (carried, result, out) in enumerate(zip(loop.carried, loop.results, loop.outs)):
            push = _top_level(loop.body, result, "tape_push")
            if push is None or push.ins[0] != carried or self.counts[out.name] != 1:
                continue
            init = loop.inits[k]
            if not (isinstance(init, Var) and init.name in self.empty):
                continue  # pushed to before the loop too (a first iteration peeled off): kept as it is
            if isinstance(push.ins[1], Var) and push.ins[1].name in self.tapes:
                continue  # a tape of tapes (nested loops) keeps its own list
            for later in range(position + 1, len(body)):
                target = body[later]
                if isinstance(target, Loop) and out in target.inits:
                    j = target.inits.index(out)
                    pop = _top_level(target.body, target.results[j], "tape_pop")
                    if pop is not None and pop.ins[0] == target.carried[j] and self.counts[target.outs[j].name] == 0:
                        found.setdefault(later, []).append(_Saved(k, j, push, pop))
                    break
        return found

    def merge(self, body: list, position: int, partner: int, saved: list[_Saved]) -> Eqn:
        """Rewrite the two loops of `body` in place; return the new tape's `tape_new`."""
        forward, backward = body[position], body[partner]
        start, carried, pushed, final = (self.fresh("saved_tape") for _ in range(4))
        back_carried, back_popped, back_final = (self.fresh("saved_tape") for _ in range(3))
        packed, top = self.fresh("saved"), self.fresh("saved_top")
        pushes = {id(s.push) for s in saved}
        in_order = sorted(saved, key=lambda s: _index_of(forward.body, s.push))
        values = tuple(dict.fromkeys(s.push.ins[1] for s in in_order))  # a value saved twice is packed once
        last = max(_index_of(forward.body, s.push) for s in saved)
        loc = forward.loc
        new_push = [
            Eqn((packed,), "make_tuple", values, (), loc),
            Eqn((pushed,), "tape_push", (carried, packed), (), loc),
        ]
        forward_body = []
        for index, stmt in enumerate(forward.body):
            if id(stmt) not in pushes:
                forward_body.append(stmt)
            if index == last:
                forward_body.extend(new_push)
        keep = [k for k in range(len(forward.carried)) if k not in {s.forward_position for s in saved}]
        body[position] = _with_carried(forward, keep, forward_body, (carried, start, pushed, final))
        unpack = [Eqn((back_popped, top), "tape_pop", (back_carried,), (), backward.loc)]
        unpack += [Eqn((s.pop.outs[1],), "getitem", (top,), (("index", Const(values.index(s.push.ins[1]))),), backward.loc)
                   for s in in_order]  # fmt: skip
        pops = {id(s.pop) for s in saved}
        first = min(_index_of(backward.body, s.pop) for s in saved)
        backward_body = []
        for index, stmt in enumerate(backward.body):
            if index == first:
                backward_body.extend(unpack)
            if id(stmt) not in pops:
                backward_body.append(stmt)
        keep = [j for j in range(len(backward.carried)) if j not in {s.backward_position for s in saved}]
        body[partner] = _with_carried(backward, keep, backward_body, (back_carried, final, back_popped, back_final))
        return Eqn((start,), "tape_new", (), (), loc)


def _top_level(body, var, op: str) -> Eqn | None:
    """The equation of `body` (not of a nested block) defining `var` with `op`."""
    for stmt in body:
        if isinstance(stmt, Eqn) and stmt.op == op and stmt.outs[0] == var:
            return stmt
    return None


def _index_of(body, eqn: Eqn) -> int:
    return next(i for i, stmt in enumerate(body) if stmt is eqn)


def _with_carried(loop: Loop, keep: list[int], body: list, added: tuple) -> Loop:
    """`loop` with only the carried positions `keep`, plus one (carried, init, result, out), and a new body."""
    carried, init, result, out = added
    return replace(
        loop,
        carried=tuple(loop.carried[k] for k in keep) + (carried,),
        inits=tuple(loop.inits[k] for k in keep) + (init,),
        results=tuple(loop.results[k] for k in keep) + (result,),
        outs=tuple(loop.outs[k] for k in keep) + (out,),
        body=tuple(body),
    )


def _loop_names(body) -> set[str]:
    names: set[str] = set()
    for stmt in body:
        if isinstance(stmt, Loop):
            names |= {v.name for v in stmt.carried + stmt.outs} | ({stmt.index.name} if stmt.index else set())
        elif isinstance(stmt, If):
            names |= {v.name for v in stmt.outs}
        if not isinstance(stmt, Eqn):
            for block in stmt.blocks():
                names |= _loop_names(block)
    return names


def _carried_tapes(body, tapes: set[str]) -> set[str]:
    """Loop-carried names and outputs that hold a tape (their initial value or result is one)."""
    found: set[str] = set()
    for stmt in body:
        if isinstance(stmt, Loop):
            for carried, init, result, out in zip(stmt.carried, stmt.inits, stmt.results, stmt.outs):
                if any(isinstance(a, Var) and a.name in tapes for a in (init, result)):
                    found |= {carried.name, out.name}
        if not isinstance(stmt, Eqn):
            for block in stmt.blocks():
                found |= _carried_tapes(block, tapes | found)
    return found


def merge_tapes(function: Function) -> Function:
    """`function` with the tapes of each forward/backward loop pair merged (module docstring)."""
    return dce(replace(function, body=_Merger(function).block(function.body)))


__all__ = ["merge_tapes"]
