"""Reverse mode through `If` and `Loop` statements (mixin for `Backward`).

If: the backward pass is another `If` on the same condition; each arm
differentiates its forward arm, and the adjoints of outer values become the
new statement's outputs.

Loop: the backward pass is a loop over the same iterations in reverse. The
forward loop is rewritten to push, at the end of each iteration, the values
the backward body reads (`tape_push`); the backward loop pops them
(`tape_pop`). Shapes the backward body needs are computed in the forward
body so only a tuple is saved. Adjoints of carried values are carried
backwards; adjoints of values from outside the loop are accumulated.
"""

from __future__ import annotations

from dataclasses import replace

from symdiff.analysis.shapes import ShapeClasses
from symdiff.ir.nodes import Atom, Const, Eqn, If, Loop, Var, defined, reads
from symdiff.ir.schedules import Binomial
from symdiff.transforms.inline import rename_all, renamed


class ControlReverse:
    """Mixin for `Backward`: differentiate `If` and `Loop` statements."""

    def differentiate_if(self, stmt: If) -> None:
        incoming = {k: self.adjoint.get(o.name) for k, o in enumerate(stmt.outs)}
        if all(a is None for a in incoming.values()):
            return
        inside = {v.name for v in defined(stmt)}
        arms = []
        for body, results in ((stmt.then_body, stmt.then_results), (stmt.else_body, stmt.else_results)):
            with self.nested() as arm:
                for k, result in enumerate(results):
                    if incoming[k] is not None and self._wants(result):
                        self.accumulate(result, incoming[k], stmt.loc)
                self.differentiate_block(body)
                arms.append((arm, dict(self.adjoint)))
        before = self.adjoint
        changed = [
            n for n in dict.fromkeys([*arms[0][1], *arms[1][1]])
            if n not in inside and any(adj.get(n) is not before.get(n) for _, adj in arms)
        ]  # fmt: skip
        results = []
        for arm, adjoint in arms:
            row = []
            for name in changed:
                value = adjoint.get(name)
                if value is None:
                    saved, self.body = self.body, arm
                    value = self.zero(Var(name), stmt.loc)
                    self.body = saved
                row.append(value)
            results.append(tuple(row))
        outs = tuple(Var(self.names.fresh(self.adjoint_name(n))) for n in changed)
        (then_arm, _), (else_arm, _) = arms
        self.body.append(If(outs, stmt.cond, tuple(then_arm), results[0], tuple(else_arm), results[1], stmt.loc, True))
        for name, out in zip(changed, outs):
            self.adjoint[name] = out

    def differentiate_loop(self, loop: Loop) -> None:
        active = [k for k, c in enumerate(loop.carried) if c.name in self.active]
        if not any(self.adjoint.get(loop.outs[k].name) is not None for k in active):
            return
        inside = {v.name for v in defined(loop)}
        in_loop = [a for s in loop.body + loop.cond_body for a in reads(s)] + list(loop.results)
        outer = [
            v.name for v in dict.fromkeys(a for a in in_loop if isinstance(a, Var))
            if v.name not in inside and v.name in self.active
        ]  # fmt: skip
        seeds = {k: Var(self.names.fresh(self.adjoint_name(loop.carried[k].name))) for k in active}
        accumulators = {n: Var(self.names.fresh(self.adjoint_name(n))) for n in outer}
        with self.nested(outer_adjoint=dict(accumulators)) as backward_body:
            for k in active:
                if self._wants(loop.results[k]):
                    self.accumulate(loop.results[k], seeds[k], loop.loc)
            self.backward_loops += 1
            try:
                self.differentiate_block(loop.body)
            finally:
                self.backward_loops -= 1
            new_seeds = [self.adjoint.get(loop.carried[k].name) for k in active]
            new_seeds = [
                s if s is not None else self.zero(loop.carried[k], loop.loc) for s, k in zip(new_seeds, active)
            ]
            new_accumulators = [self.adjoint.get(n, accumulators[n]) for n in outer]
        backward_body[:] = self.simplify_block(backward_body, new_seeds + new_accumulators)
        if isinstance(loop.checkpoint, Binomial):
            taped = self.tape_revolve(loop, backward_body)
        elif loop.checkpoint:
            taped = self.tape_carried(loop, backward_body, new_seeds + new_accumulators)
        else:
            taped = self.tape(loop, backward_body, new_seeds + new_accumulators)
        inits = [self._initial_adjoint(loop.outs[k], loop.loc) for k in active]
        inits += [self._initial_adjoint(Var(n), loop.loc) for n in outer]
        self._emit_backward_loop(loop, taped, seeds, accumulators, inits, new_seeds + new_accumulators)

    def _initial_adjoint(self, var: Var, loc):
        current = self.adjoint.get(var.name)
        if current is not None:
            return current
        return self.zero(var, loc)

    def tape(self, loop: Loop, backward_body: list, backward_results: list):
        """Rewrite `loop` to save what `backward_body` reads; return the pops and the renamed body."""
        loop = self.rebuild_one(loop)
        forward_defined = {v.name for v in defined(loop)} - {o.name for o in loop.outs}
        if loop.index is not None:
            forward_defined.discard(loop.index.name)
        hoisted, kept, first_query, same = [], [], {}, {}
        for stmt in backward_body:
            if isinstance(stmt, Eqn) and stmt.op == "shape" and _reads_only(stmt, forward_defined):
                key = stmt.ins[0].name
                if key in first_query:  # one saved shape per array, however often it is asked for
                    same[stmt.out.name] = first_query[key]
                    continue
                first_query[key] = stmt.out
                hoisted.append(stmt)
            else:
                kept.append(stmt)
        kept = rename_all(kept, same)
        backward_results = [same.get(v.name, v) if isinstance(v, Var) else v for v in backward_results]
        forward_defined |= {e.out.name for e in hoisted}
        read = [a for s in kept for a in reads(s)] + list(backward_results)
        needed = [v for v in dict.fromkeys(a for a in read if isinstance(a, Var)) if v.name in forward_defined]
        hoisted, unhoisted = _read_shapes_back(loop, hoisted, needed)
        kept = unhoisted + kept
        needed = [v for v in needed if v not in {e.out for e in unhoisted}]
        recomputed, mapping = self._rematerialize(loop, needed)
        kept = recomputed + kept
        needed = [v for v in needed if v.name not in mapping]
        carried, inits, results, outs, pops = [], [], [], [], []
        loop, pushed = self._export_from_branches(loop, needed)
        after = _definition_positions(loop)
        inserts: dict[int, list] = {}
        for eqn in hoisted:
            inserts.setdefault(after.get(eqn.ins[0].name, 0), []).append(replace(eqn, adjoint=False))
            after[eqn.out.name] = after.get(eqn.ins[0].name, 0)
        body, counter = [], []
        if loop.index is None:  # a while loop counts its iterations for the backward loop
            phi, step, final = (Var(self.names.fresh("n_steps")) for _ in range(3))
            counter = [Eqn((step,), "add", (phi, Const(1)), (), loop.loc)]
            carried.append(phi), inits.append(Const(0)), results.append(step), outs.append(final)
            self.trip_counts[self.original_id(loop)] = final
        pushed_as = pushed
        for value in needed:
            base = value.name.split("~")[0]
            start = Var(self.names.fresh(f"{base}_tape"))
            self.preludes.setdefault(self.original_id(loop), []).append(Eqn((start,), "tape_new", (), (), loop.loc))
            phi, pushed, final = (Var(self.names.fresh(f"{base}_tape")) for _ in range(3))
            saved = pushed_as.get(value.name, value)
            inserts.setdefault(after.get(saved.name, 0), []).append(
                Eqn((pushed,), "tape_push", (phi, saved), (), loop.loc)
            )
            carried.append(phi), inits.append(start), results.append(pushed), outs.append(final)
            restored = Var(self.names.fresh(base))
            mapping[value.name] = restored
            pops.append((final, restored))
        for position, stmt in enumerate(loop.body):
            body.extend(inserts.get(position, []))
            body.append(stmt)
        body.extend(inserts.get(len(loop.body), []))
        body.extend(counter)
        self.replacements[self.original_id(loop)] = Loop(
            loop.outs + tuple(outs), loop.carried + tuple(carried), loop.inits + tuple(inits), tuple(body),
            loop.results + tuple(results), loop.index, loop.bounds, loop.cond_body, loop.cond, loop.reverse, loop.loc,
        )  # fmt: skip
        return pops, rename_all(kept, mapping), mapping

    def tape_carried(self, loop: Loop, backward_body: list, backward_results: list):
        """A checkpointed loop (`transforms/checkpoint.py`): the forward loop saves only the values
        it carries into each iteration; the backward body first runs the iteration's body again
        from them, saving what its own loops' backward passes read, under fresh names."""
        rebuilt = self.rebuild_one(loop)  # nested loops with their tapes: what the recomputation runs
        fresh = {
            v.name: Var(self.names.fresh(v.name.split("~")[0]), v.temp)
            for stmt in rebuilt.body for v in defined(stmt)
        }  # fmt: skip
        restored = {c.name: Var(self.names.fresh(c.name.split("~")[0])) for c in loop.carried}
        recomputed = [renamed(stmt, fresh | restored) for stmt in rebuilt.body]
        pops, pushes, carried, inits, results, outs = [], [], [], [], [], []
        counter = []
        if loop.index is None:  # a while loop counts its iterations for the backward loop
            phi, step, final = (Var(self.names.fresh("n_segments")) for _ in range(3))
            counter = [Eqn((step,), "add", (phi, Const(1)), (), loop.loc)]
            carried.append(phi), inits.append(Const(0)), results.append(step), outs.append(final)
            self.trip_counts[self.original_id(loop)] = final
        for value in loop.carried:
            base = value.name.split("~")[0]
            start = Var(self.names.fresh(f"{base}_saved"))
            self.preludes.setdefault(self.original_id(loop), []).append(Eqn((start,), "tape_new", (), (), loop.loc))
            phi, pushed, final = (Var(self.names.fresh(f"{base}_saved")) for _ in range(3))
            pushes.append(Eqn((pushed,), "tape_push", (phi, value), (), loop.loc))
            carried.append(phi), inits.append(start), results.append(pushed), outs.append(final)
            pops.append((final, restored[value.name]))
        self.replacements[self.original_id(loop)] = Loop(
            loop.outs + tuple(outs),
            loop.carried + tuple(carried),
            loop.inits + tuple(inits),
            tuple(pushes) + loop.body + tuple(counter),
            loop.results + tuple(results),
            loop.index,
            loop.bounds,
            loop.cond_body,
            loop.cond,
            loop.reverse,
            loop.loc,
        )  # fmt: skip  (the forward loop runs the body as written: no tapes of its own loops)
        mapping = fresh | restored
        return pops, recomputed + rename_all(backward_body, mapping), mapping

    def tape_revolve(self, loop: Loop, backward_body: list):
        """A loop under a binomial schedule (`transforms/checkpoint.py`, iterations counted from 0).

        The forward loop runs in pieces that end where `revolve_next` says, saving the
        state each piece starts from. Each backward iteration k takes the last state saved,
        runs forwards from it to k in new pieces (saving their starts, as the schedule says),
        then runs iteration k again, saving what its backward body reads, and differentiates
        it."""
        loc = loop.loc
        schedule: Binomial = loop.checkpoint
        rebuilt = self.rebuild_one(loop)  # iteration k with its own loops' tapes
        prelude = self.preludes.setdefault(self.original_id(loop), [])

        def emit(into: list, op: str, ins, name: str) -> Var:
            var = Var(self.names.fresh(name), temp=True)
            into.append(Eqn((var,), op, tuple(ins), (), loc))
            return var

        trips = loop.bounds[1]
        state_bytes: Atom = Const(0)
        if schedule.memory is not None:
            for init in loop.inits:
                state_bytes = emit(prelude, "add", (state_bytes, emit(prelude, "nbytes_of", (init,), "bytes")), "bytes")
        snapshots = emit(
            prelude, "revolve_snapshots", (trips, Const(schedule.snapshots or 0), Const(schedule.memory or 0), state_bytes),
            "snapshots",
        )  # fmt: skip
        saved = tuple(emit(prelude, "tape_new", (), n) for n in self._saved_names(loop))
        forward, saved_after, held_after = self._run_in_pieces(
            loop, Const(0), trips, trips, Const(0), snapshots, loop.inits, saved, loop.outs, {}
        )
        self.replacements[self.original_id(loop)] = forward  # the forward loop: no tapes of its own loops

        # the backward body: the last saved state, run forwards to iteration k, then iteration k again
        saved_phi = tuple(Var(self.names.fresh(n)) for n in self._saved_names(loop))
        held_phi = Var(self.names.fresh("held"))
        rest = tuple(Var(self.names.fresh(n)) for n in self._saved_names(loop))
        top = tuple(Var(self.names.fresh(n)) for n in ["first"] + [c.name.split("~")[0] for c in loop.carried])
        body: list = [Eqn((r, t), "tape_pop", (phi,), (), loc) for r, t, phi in zip(rest, top, saved_phi)]
        held = emit(body, "sub", (held_phi, Const(1)), "held")
        end = emit(body, "add", (loop.index, Const(1)), "end")
        at_k = tuple(Var(self.names.fresh(c.name.split("~")[0])) for c in loop.carried)
        fresh = {v.name: Var(self.names.fresh(v.name.split("~")[0]), v.temp) for v in defined(loop)}
        run, saved_next, held_next = self._run_in_pieces(
            loop, top[0], end, loop.index, held, snapshots, top[1:], rest, at_k, fresh
        )
        body.append(run)
        again = {
            v.name: Var(self.names.fresh(v.name.split("~")[0]), v.temp) for stmt in rebuilt.body for v in defined(stmt)
        }  # fmt: skip
        mapping = again | {c.name: a for c, a in zip(loop.carried, at_k)}
        body += [renamed(stmt, mapping) for stmt in rebuilt.body] + rename_all(backward_body, mapping)
        extra = list(zip(saved_phi, saved_after, saved_next)) + [(held_phi, held_after, held_next)]
        return [], body, mapping, extra

    @staticmethod
    def _saved_names(loop: Loop) -> list[str]:
        return ["saved_at"] + [f"{c.name.split('~')[0]}_saved" for c in loop.carried]

    def _run_in_pieces(self, loop: Loop, first, end, stop, held, snapshots, inits, saved: tuple, outs, fresh: dict):
        """`while position < stop`: save the position and the state there, then run `loop`
        (renamed by `fresh`) from it to where `revolve_next` says. Returns the statement, the
        tapes after it and the count of states held after it."""
        loc = loop.loc

        def fresh_like(atoms) -> tuple:
            return tuple(Var(self.names.fresh(a.name.split("~")[0])) for a in atoms)

        position, held_phi, position_out, held_out, go = fresh_like([Var("position"), Var("held")] * 2 + [Var("go")])
        at, inner_outs = fresh_like(loop.carried), fresh_like(loop.carried)
        saved_phi, pushed, saved_out = fresh_like(saved), fresh_like(saved), fresh_like(saved)
        nxt, held_next = Var(self.names.fresh("until")), Var(self.names.fresh("held"))
        inner = renamed(replace(loop, checkpoint=False), fresh)
        inner = replace(inner, outs=inner_outs, inits=at, bounds=(position, nxt, Const(1)))
        body = [
            Eqn((p,), "tape_push", (phi, value), (), loc) for p, phi, value in zip(pushed, saved_phi, (position, *at))
        ]
        body += [
            Eqn((nxt,), "revolve_next", (position, end, stop, held_phi, snapshots), (), loc),
            inner,
            Eqn((held_next,), "add", (held_phi, Const(1)), (), loc),
        ]
        statement = Loop(
            (position_out, held_out) + tuple(outs) + saved_out, (position, held_phi) + at + saved_phi,
            (first, held) + tuple(inits) + tuple(saved), tuple(body), (nxt, held_next) + inner_outs + pushed,
            cond_body=(Eqn((go,), "lt", (position, stop), (), loc),), cond=go, loc=loc,
        )  # fmt: skip
        return statement, saved_out, held_out

    def _rematerialize(self, loop: Loop, needed: list[Var]) -> tuple[list[Eqn], dict[str, Var]]:
        """Recompute cheap index values (slices, shape lookups, integer arithmetic) in the
        backward body instead of saving them; returns the copies and a renaming."""
        body_defs = {o.name: s for s in loop.body if isinstance(s, Eqn) for o in s.outs}
        cheap: dict[str, bool] = {}

        def is_cheap(atom) -> bool:
            if not isinstance(atom, Var):
                return isinstance(atom.value, (int, slice, type(None), tuple))
            if atom.name not in body_defs:
                return atom.name == getattr(loop.index, "name", None) or atom.name in self.int_like
            if atom.name not in cheap:
                eqn = body_defs[atom.name]
                cheap[atom.name] = eqn.op in _CHEAP_OPS and all(is_cheap(a) for a in eqn.atoms())
            return cheap[atom.name]

        wanted: set[str] = set()
        pending = [v.name for v in needed if v.name in body_defs and is_cheap(v)]
        while pending:  # the cheap values wanted, with the cheap values they are computed from
            name = pending.pop()
            if name not in wanted:
                wanted.add(name)
                pending += [n for n in _names(body_defs[name].atoms()) if n in body_defs]
        copies, mapping = [], {}
        for stmt in loop.body:  # in body order, so dependencies come first
            if isinstance(stmt, Eqn) and stmt.out.name in wanted:
                fresh = Var(self.names.fresh(stmt.out.name.split("~")[0]), stmt.out.temp)
                copies.append(Eqn((fresh,), stmt.op, stmt.ins, stmt.static, stmt.loc, True))
                mapping[stmt.out.name] = fresh
        copies = [e for e in rename_all(copies, mapping)]
        return copies, {n: v for n, v in mapping.items()}

    def _export_from_branches(self, loop: Loop, needed: list[Var]):
        """Make values defined inside `if` arms of the body outputs of their `if`.

        The untaken arm gives None, which the backward pass never reads: it runs
        the matching arm only."""
        pushed: dict[str, Var] = {}
        body = list(loop.body)
        for position, stmt in enumerate(body):
            if not isinstance(stmt, If):
                continue
            inner = {v.name for v in defined(stmt)} - {o.name for o in stmt.outs}
            wanted = [v for v in needed if v.name in inner]
            if wanted:
                body[position], exported = self._export(stmt, wanted)
                pushed.update(exported)
        new = replace(loop, body=tuple(body))
        self.originals[id(new)] = self.original_id(loop)
        return new, pushed

    def _export(self, stmt: If, wanted: list[Var]):
        arms, exported = [], {}
        results = [list(stmt.then_results), list(stmt.else_results)]
        outs = list(stmt.outs)
        for value in wanted:
            out = Var(self.names.fresh(value.name.split("~")[0]))
            outs.append(out)
            exported[value.name] = out
            for k, arm in enumerate((stmt.then_body, stmt.else_body)):
                here = {v.name for s in arm for v in defined(s)}
                results[k].append(value if value.name in here else Const(None))
        arms = [list(stmt.then_body), list(stmt.else_body)]
        for k, arm in enumerate(arms):
            for position, inner in enumerate(arm):
                if isinstance(inner, If):
                    deeper = [
                        r
                        for r in results[k]
                        if isinstance(r, Var)
                        and r.name in {v.name for v in defined(inner)} - {o.name for o in inner.outs}
                    ]
                    if deeper:
                        arm[position], more = self._export(inner, deeper)
                        results[k] = [more.get(r.name, r) if isinstance(r, Var) else r for r in results[k]]
        new = replace(stmt, outs=tuple(outs), then_body=tuple(arms[0]), else_body=tuple(arms[1]),
                      then_results=tuple(results[0]), else_results=tuple(results[1]))  # fmt: skip
        return new, exported

    def _emit_backward_loop(self, loop, taped, seeds, accumulators, inits, new_values) -> None:
        pops, body, mapping, *extra = taped
        extra = extra[0] if extra else []  # (carried, init, result) the backward loop also carries
        tapes_in, pop_eqns = [], []
        for final, restored in pops:
            phi, rest = (Var(self.names.fresh(final.name.split("~")[0])) for _ in range(2))
            pop_eqns.append(Eqn((rest, restored), "tape_pop", (phi,), (), loop.loc, True))
            tapes_in.append((phi, final, rest))
        index, bounds = self._backward_range(loop)
        body = rename_all(body, {loop.index.name: index} if loop.index is not None else {})
        new_values = [mapping.get(v.name, v) if isinstance(v, Var) else v for v in new_values]
        carried = list(seeds.values()) + list(accumulators.values()) + [phi for phi, _, _ in tapes_in + extra]
        results = new_values + [rest for _, _, rest in tapes_in + extra]
        outs = [Var(self.names.fresh(c.name.split("~")[0])) for c in carried]
        all_inits = list(inits) + [final for _, final, _ in tapes_in + extra]
        self.body.append(
            Loop(tuple(outs), tuple(carried), tuple(all_inits), tuple(pop_eqns + body), tuple(results),
                 index, bounds, (), None, not loop.reverse or loop.index is None, loop.loc, True)
        )  # fmt: skip
        active = list(seeds)
        for name, out in zip(accumulators, outs[len(active) :]):
            self.adjoint[name] = out
        for k, out in zip(active, outs):
            if self._wants(loop.inits[k]):
                self.accumulate(loop.inits[k], out, loop.loc)

    def _backward_range(self, loop: Loop):
        index = Var(self.names.fresh(loop.index.name.split("~")[0] if loop.index is not None else "step"))
        if loop.index is not None:
            return index, loop.bounds
        count = self.trip_counts[self.original_id(loop)]
        return index, (Const(0), count, Const(1))


_CHEAP_OPS = {
    "make_slice",
    "make_tuple",
    "shape",
    "len",
    "ndim",
    "size",
    "getitem",
    "add",
    "sub",
    "mul",
    "floordiv",
    "neg",
}


def _read_shapes_back(loop: Loop, hoisted: list[Eqn], needed: list[Var]) -> tuple[list[Eqn], list[Eqn]]:
    """Split the hoisted shape queries: those of an array that is saved anyway, or of one known
    to have a saved array's shape, are asked of that array in the backward body instead of being
    saved as well (one list push and pop less per iteration)."""
    top_level = {e.out.name for e in loop.body if isinstance(e, Eqn)} | {v.name for v in loop.carried}
    classes = ShapeClasses()
    for eqn in loop.body:
        if isinstance(eqn, Eqn):
            classes.learn(eqn)
    hoisted_outs = {e.out.name for e in hoisted}
    arrays = [v for v in needed if v.name in top_level and v.name not in hoisted_outs]
    still, back = [], []
    for eqn in hoisted:
        x = eqn.ins[0]
        mate = next((v for v in arrays if x.name in top_level and (v == x or classes.same(v, x))), None)
        if mate is None:
            still.append(eqn)
        else:
            back.append(Eqn(eqn.outs, "shape", (mate,), (), eqn.loc, True))
    return still, back


def _names(atoms) -> set[str]:
    return {a.name for a in atoms if isinstance(a, Var)}


def _definition_positions(loop: Loop) -> dict[str, int]:
    """For each name defined in the loop body: the index just after its top-level statement."""
    after: dict[str, int] = {}
    for position, stmt in enumerate(loop.body):
        for var in defined(stmt):
            after[var.name] = position + 1
    return after


def _reads_only(eqn: Eqn, names: set[str]) -> bool:
    return any(isinstance(a, Var) and a.name in names for a in eqn.ins)
