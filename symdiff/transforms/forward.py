"""Forward mode: the tangent transform of the Wengert list.

Each statement of the function is followed by the statement that computes
its output's tangent (`y_dot`) from its operands' tangents, by the tangent
table (`rules/tangents.py`; elementwise ops reuse their vjp rule, whose
Jacobian is diagonal). Control flow keeps its shape: an `if` computes the
tangents of its outputs in each arm, a loop carries the tangents of the
values it carries, and a list used as a tape (`append`/`pop`) gets a tape
of tangents beside it. No tape is kept and nothing runs backwards, so the
tangent costs about one more evaluation of the function, in the same
memory, whatever its loops.

Only values that depend on the differentiated argument get a tangent
(`active_vars`); a value without one has tangent zero, and an op whose
operands all have zero tangents gets none.
"""

from __future__ import annotations

import numpy as np

from symdiff.analysis.ranks import RankClasses, known_ranks, slices_only
from symdiff.errors import NoTangentRule, UnsupportedSyntax
from symdiff.ir.names import Names
from symdiff.ir.nodes import Atom, Const, Eqn, Function, If, Loop, Var, defined, loops, walk
from symdiff.optimize.fuse_shapes import ShapeFacts, scalar_names
from symdiff.rules import RULES
from symdiff.rules.tangents import TANGENTS, setitem_batched_both, setitem_batched_one_rank
from symdiff.transforms.inline import inline_rule
from symdiff.transforms.reverse import _refuse_active_calls, _whole_numbers, active_vars, base_name, tape_vars

_TAPE_OPS = ("tape_new", "tape_push", "tape_pop")
_SYMMETRIC = ("mul", "add")  # op(x, x): both operands' terms are the same


def dot_name(name: str) -> str:
    return f"{base_name(name)}_dot"


def jvp_function(function: Function, wrt: int, batched: bool = False, value: bool = True) -> Function:
    """`f_jvp(*params, x_dot)`: the value of `function` and its directional derivative along
    `x_dot`, the tangent of parameter `wrt`. `batched`: `x_dot` holds several tangents along a
    new first axis, and the result's tangent holds theirs (`jacobian`, `hessian`). `value=False`
    returns the tangent alone, so that what only the value needs is left out (`hvp`: the
    gradient itself, a matrix product as dear as its tangent's)."""
    param = function.params[wrt]
    state = Tangents(function, param.name)
    _refuse_active_calls(function, state.active, [param.name])
    seed = Var(state.names.fresh_parameter(dot_name(param.name)))
    state.dot[param.name] = seed
    body: list = []
    if batched:
        shape = state.emit(body, "shape", (seed,), (), None, f"{seed.name}_shape")
        state.count = state.emit(body, "getitem", (shape,), (("index", Const(0)),), None, "directions")
    body += state.block(function.body)
    result = function.result
    if isinstance(result, tuple):
        raise UnsupportedSyntax(f"{function.name} returns {len(result)} values; forward mode takes one")
    tangent = state.dot_of(result)
    if tangent is None:  # the value does not depend on the argument: zeros, one row per direction if batched
        tangent = state.zero(body, result, None)
    if not value:
        doc = f"Derivative of {function.name} along {seed.name} (the tangent of {param.name})."
        return Function(f"{function.name}_jvp", function.params + (seed,), tuple(body), tangent, function.defaults,
                        function.free, doc)  # fmt: skip
    return Function(
        f"{function.name}_jvp",
        function.params + (seed,),
        tuple(body),
        (result, tangent),
        function.defaults,
        function.free,
        f"Value of {function.name} and its derivative along {seed.name} (the tangent of {param.name}).",
    )


def _as_temporary(tangent: Atom, body: list, start: int) -> Atom:
    """The tangent of a temporary, made by `body[start:]`, as a temporary too: codegen may then
    fold it into the expression that reads it, as it folds the value itself."""
    if not isinstance(tangent, Var) or tangent.temp:
        return tangent
    for k in range(start, len(body)):
        made = body[k]
        if isinstance(made, Eqn) and made.outs == (tangent,) and not any(tangent in e.atoms() for e in body[k + 1 :]):
            temporary = Var(tangent.name, temp=True)
            body[k] = Eqn((temporary,), made.op, made.ins, made.static, made.loc, made.adjoint)
            return temporary
    return tangent


class Tangents:
    """The state of one forward pass: fresh names and the tangent of each active name."""

    def __init__(self, function: Function, wrt: str):
        self.names = Names([p.name for p in function.params] + [n for n, _ in function.free])
        self.names.used |= {v.name for stmt in function.body for v in defined(stmt)}
        self.active = active_vars(function, (wrt,))
        self.tapes = tape_vars(function.body)
        self.active |= _active_tape_families(function.body, self.active, self.tapes)
        self.dot: dict[str, Atom] = {}
        self.count: Atom | None = None  # how many tangents each value has, batched on axis 0
        self.shapes = ShapeFacts()  # an elementwise op's tangent needs no broadcast where shapes match
        self.ranks = RankClasses()  # nor alignment to the result's rank where the ranks match
        for eqn in walk(function.body):
            if len(eqn.outs) == 1:
                self.shapes.learn(eqn)
                self.ranks.learn(eqn)
        self.scalars = scalar_names(function, frozenset(lp.index.name for lp in loops(function.body) if lp.index))
        self.scalars |= {name for name, rank in known_ranks(function).items() if rank == 0}  # full reductions

    def dot_of(self, atom: Atom) -> Atom | None:
        return self.dot.get(atom.name) if isinstance(atom, Var) else None

    def emit(self, body: list, op: str, ins, static, loc, name: str) -> Var:
        out = Var(self.names.fresh(name))
        body.append(Eqn((out,), op, tuple(ins), tuple(static), loc))
        return out

    def zero(self, body: list, atom: Atom, loc) -> Atom:
        """A zero tangent for `atom`: an empty tape for a tape, zeros of its shape otherwise."""
        if isinstance(atom, Var) and atom.name in self.tapes:
            return self.emit(body, "tape_new", (), (), loc, dot_name(atom.name))
        if isinstance(atom, Const) and atom.value is None:
            return Const(None)
        name = dot_name(getattr(atom, "name", "value"))
        if self.count is not None:
            shape = self.emit(body, "shape", (atom,), (), loc, f"{name}_shape")
            batch = self.emit(body, "batch_shape", (self.count, shape), (), loc, f"{name}_shape")
            return self.emit(body, "zeros", (batch,), (), loc, name)
        if isinstance(atom, Const):  # a number, or a tuple of them written as a row (`[10.0, 0.0]`)
            return Const(_zeros_like_value(atom.value))
        return self.emit(body, "zeros_like", (atom,), (), loc, name)

    def dots_of(self, atoms, body: list, loc) -> tuple:
        """The tangent of each atom, zeros (emitted into `body`) where it has none."""
        return tuple(d if (d := self.dot_of(a)) is not None else self.zero(body, a, loc) for a in atoms)

    def block(self, stmts) -> list:
        body: list = []
        for stmt in stmts:
            body.append(stmt)
            if isinstance(stmt, Eqn):
                self.eqn(stmt, body)
            elif isinstance(stmt, If):
                body[-1] = self.branch(stmt)
            else:
                body.pop()
                body.append(self.loop(stmt, body))  # after the zero tangents it starts from
        return body

    # -- one equation -------------------------------------------------------------------

    def eqn(self, eqn: Eqn, body: list) -> None:
        if not any(o.name in self.active for o in eqn.outs):
            return
        if eqn.op in _TAPE_OPS:
            return self.tape(eqn, body)
        dots = [self.dot_of(a) for a in eqn.ins]
        rule = RULES[eqn.op]
        if all(d is None for d in dots) or not rule.differentiable or _whole_numbers(eqn):
            return
        if len(eqn.outs) != 1:
            raise UnsupportedSyntax(f"{eqn.op} with several outputs has no tangent", eqn.loc)
        start = len(body)
        if rule.elementwise:
            tangent = self.elementwise(eqn, dots, body)
        else:
            tangent = self.tabled(eqn, dots, body)
        if tangent is not None and eqn.out.temp:
            tangent = _as_temporary(tangent, body, start)
        if tangent is not None:
            self.dot[eqn.out.name] = tangent

    def elementwise(self, eqn: Eqn, dots: list, body: list) -> Atom | None:
        """The vjp rule with an operand's tangent as the cotangent: its diagonal Jacobian times it."""
        rule = RULES[eqn.op]
        static, hint = eqn.static_dict(), dot_name(eqn.out.name)
        terms, wide, full = [], False, False
        twice = eqn.op in _SYMMETRIC and len(eqn.ins) == 2 and isinstance(eqn.ins[0], Var) and eqn.ins[0] == eqn.ins[1]
        for k, d in enumerate(dots):
            if d is None or twice and k == 1:  # x * x: one term, twice
                continue
            others = [a for j, a in enumerate(eqn.ins) if j != k]
            alone = all(
                isinstance(a, Const) and isinstance(a.value, (int, float)) or a.name in self.scalars for a in others
            )
            narrow = not (alone or self.shapes.same(eqn.ins[k], eqn.out))
            wide = wide or narrow
            lower = narrow and not self.ranks.same(eqn.ins[k], eqn.out)  # fewer axes than the result, maybe
            if lower and self.count is not None:  # 1s after the batch axis, as broadcasting would put them
                shape = self.emit(body, "shape", (d,), (), eqn.loc, f"{hint}_shape")
                rank = self.emit(body, "ndim", (eqn.out,), (), eqn.loc, f"{hint}_rank")
                aligned = self.emit(body, "batch_aligned", (shape, rank), (), eqn.loc, f"{hint}_shape")
                d = self.emit(body, "reshape", (d,), (("shape", aligned),), eqn.loc, hint)
            if rule.vjp_each is not None:
                term = inline_rule(
                    rule.vjp_each, [d, eqn.out, Const(k), *eqn.ins], static, self.names, body, eqn.loc, hint
                )[0]
            else:
                term = inline_rule(rule.vjp, [d, eqn.out, *eqn.ins], static, self.names, body, eqn.loc, hint)[k]
            if term is not None:
                terms.append(term)
                full = full or not narrow  # this term has the result's shape, and so has the sum
        total = self.sum(terms, body, eqn.loc, hint)
        if twice and total is not None:
            total = self.emit(body, "mul", (Const(2), total), (), eqn.loc, hint)
        if total is not None and wide and not full and len(eqn.ins) > 1:  # every term from a broadcast operand
            shape = self.emit(body, "shape", (eqn.out,), (), eqn.loc, f"{base_name(eqn.out.name)}_shape")
            if self.count is not None:
                shape = self.emit(body, "batch_shape", (self.count, shape), (), eqn.loc, f"{hint}_shape")
            total = self.emit(body, "broadcast_to", (total,), (("shape", shape),), eqn.loc, hint)
        return total

    def tabled(self, eqn: Eqn, dots: list, body: list) -> Atom | None:
        entry = TANGENTS.get(eqn.op)
        hint = dot_name(eqn.out.name)
        covered = set()
        terms: list[Atom] = []
        joined = eqn.op in ("concatenate", "stack") and isinstance(eqn.static_dict().get("axis"), Const)
        if self.count is not None and joined and eqn.static_dict()["axis"].value is not None:
            axis = eqn.static_dict()["axis"].value  # the same join, one axis further on
            static = tuple((k, Const(axis + 1 if axis >= 0 else axis) if k == "axis" else a) for k, a in eqn.static)
            ins = [d if d is not None else self.zero(body, a, eqn.loc) for a, d in zip(eqn.ins, dots)]
            return self.emit(body, eqn.op, ins, static, eqn.loc, hint)
        one_rank = eqn.op in ("sum_to", "broadcast_to") and self.ranks.same(eqn.ins[0], eqn.out)
        if self.count is not None and one_rank and dots[0] is not None:  # the op itself, past the batch axis
            shape = self.emit(body, "shape", (eqn.out,), (), eqn.loc, f"{base_name(eqn.out.name)}_shape")
            batch = self.emit(body, "batch_shape", (self.count, shape), (), eqn.loc, f"{hint}_shape")
            return self.emit(body, eqn.op, (dots[0],), (("shape", batch),), eqn.loc, hint)
        if self.count is not None and eqn.op == "setitem" and None not in dots:
            same = slices_only(eqn.static_dict()["index"]) and self.ranks.same(eqn.ins[1], eqn.ins[0])
            rule = setitem_batched_one_rank if same else setitem_batched_both
            return inline_rule(rule, [*dots, eqn.out, *eqn.ins], eqn.static_dict(), self.names, body, eqn.loc, hint)[0]
        if entry is not None and self.count is not None:  # several tangents at once: batched rules only
            for k, jvp in entry.batched.items():
                if k < len(dots) and dots[k] is not None:
                    args = [dots[k], eqn.out, *eqn.ins]
                    terms.append(inline_rule(jvp, args, eqn.static_dict(), self.names, body, eqn.loc, hint)[0])
            covered = set(entry.batched) | set(entry.shape_only)
        elif entry is not None:
            linear = [k for k in entry.linear if k < len(eqn.ins)]
            if any(dots[k] is not None for k in linear):
                ins = [
                    (dots[k] if dots[k] is not None else self.zero(body, a, eqn.loc)) if k in linear else a
                    for k, a in enumerate(eqn.ins)
                ]
                terms.append(self.emit(body, eqn.op, ins, eqn.static, eqn.loc, hint))
            for k in [k for k in entry.multilinear if k < len(eqn.ins) and dots[k] is not None]:
                ins = [dots[k] if j == k else a for j, a in enumerate(eqn.ins)]
                terms.append(self.emit(body, eqn.op, ins, eqn.static, eqn.loc, hint))
            for k, jvp in entry.rules.items():
                if k < len(dots) and dots[k] is not None:
                    args = [dots[k], eqn.out, *eqn.ins]
                    terms.append(inline_rule(jvp, args, eqn.static_dict(), self.names, body, eqn.loc, hint)[0])
            covered = set(linear) | set(entry.multilinear) | set(entry.rules) | set(entry.shape_only)
        missing = [k for k, d in enumerate(dots) if d is not None and k not in covered]
        if missing:
            several = " for several tangents at once" if self.count is not None else ""
            raise NoTangentRule(
                f"forward mode has no tangent rule{several} for {RULES[eqn.op].path} yet",
                eqn.loc,
            )
        return self.sum(terms, body, eqn.loc, hint)

    def sum(self, terms: list, body: list, loc, hint: str) -> Atom | None:
        total = None
        for term in terms:
            total = term if total is None else self.emit(body, "add", (total, term), (), loc, hint)
        return total

    def tape(self, eqn: Eqn, body: list) -> None:
        """A tape of active values gets a tape of their tangents, pushed and popped alongside."""
        loc = eqn.loc
        if eqn.op == "tape_new":
            self.dot[eqn.out.name] = self.emit(body, "tape_new", (), (), loc, dot_name(eqn.out.name))
        elif eqn.op == "tape_push":
            tape, value = eqn.ins
            value_dot = self.dot_of(value)
            if value_dot is None:
                value_dot = self.zero(body, value, loc)
            self.dot[eqn.out.name] = self.emit(
                body, "tape_push", (self.dot_of(tape), value_dot), (), loc, dot_name(tape.name)
            )
        else:
            rest, value = eqn.outs
            rest_dot, value_dot = (
                Var(self.names.fresh(dot_name(rest.name))),
                Var(self.names.fresh(dot_name(value.name))),
            )
            body.append(Eqn((rest_dot, value_dot), "tape_pop", (self.dot_of(eqn.ins[0]),), (), loc))
            self.dot[rest.name] = rest_dot
            if value.name in self.active:
                self.dot[value.name] = value_dot

    # -- control flow -------------------------------------------------------------------

    def branch(self, stmt: If) -> If:
        active = [k for k, o in enumerate(stmt.outs) if o.name in self.active]
        arms = []
        for arm, results in ((stmt.then_body, stmt.then_results), (stmt.else_body, stmt.else_results)):
            body = self.block(arm)
            dots = self.dots_of([results[k] for k in active], body, stmt.loc)  # zeros go into the arm
            arms.append((tuple(body), dots))
        outs = tuple(Var(self.names.fresh(dot_name(stmt.outs[k].name))) for k in active)
        for k, out in zip(active, outs):
            self.dot[stmt.outs[k].name] = out
        (then_body, then_dots), (else_body, else_dots) = arms
        return If(
            stmt.outs + outs, stmt.cond, then_body, stmt.then_results + then_dots, else_body,
            stmt.else_results + else_dots, stmt.loc, stmt.adjoint,
        )  # fmt: skip

    def loop(self, stmt: Loop, before: list) -> Loop:
        active = [k for k, c in enumerate(stmt.carried) if c.name in self.active]
        inits = self.dots_of([stmt.inits[k] for k in active], before, stmt.loc)
        phis = tuple(Var(self.names.fresh(dot_name(stmt.carried[k].name))) for k in active)
        for k, phi in zip(active, phis):
            self.dot[stmt.carried[k].name] = phi
        body = self.block(stmt.body)
        results = self.dots_of([stmt.results[k] for k in active], body, stmt.loc)
        outs = tuple(Var(self.names.fresh(dot_name(stmt.outs[k].name))) for k in active)
        for k, out in zip(active, outs):
            self.dot[stmt.outs[k].name] = out
        return Loop(
            stmt.outs + outs, stmt.carried + phis, stmt.inits + inits, tuple(body), stmt.results + results,
            stmt.index, stmt.bounds, stmt.cond_body, stmt.cond, stmt.reverse, stmt.loc, stmt.adjoint,
        )  # fmt: skip


def _zeros_like_value(value):
    """Zeros in the form of a constant: 0.0, a tuple of them, or a float array."""
    if isinstance(value, (tuple, list)):
        return tuple(_zeros_like_value(item) for item in value)
    if isinstance(value, np.ndarray):
        return np.zeros(value.shape)
    return 0.0


def _active_tape_families(body, active: set[str], tapes: set[str]) -> set[str]:
    """Every name of a tape that some active value is pushed onto: the tape itself, the names it
    goes by through loops and branches, and the tape it started as. Tapes saved on one tape (an
    inner loop's tapes, saved per outer iteration) are one family with those popped from it: one
    outer iteration's inner tape may hold only inactive values (a loop's first iteration, peeled)
    while another's holds active ones, and the backward pass pops tangents from each."""
    parent: dict[str, str] = {}

    def find(name: str) -> str:
        while parent.get(name, name) != name:
            name = parent[name]
        return name

    def union(a: Atom | str, b: Atom | str) -> bool:
        names = [x if isinstance(x, str) else x.name for x in (a, b) if isinstance(x, (str, Var))]
        if len(names) < 2 or not all(n in tapes or n.startswith("entries of ") for n in names):
            return False
        first, second = find(names[0]), find(names[1])
        if first == second:
            return False
        parent[first] = second
        return True

    def scan(stmts) -> bool:
        changed = False
        for stmt in stmts:
            if isinstance(stmt, Eqn) and stmt.op == "tape_push":
                changed |= union(stmt.out, stmt.ins[0])
                changed |= union(stmt.ins[1], f"entries of {find(stmt.ins[0].name)}")
            elif isinstance(stmt, Eqn) and stmt.op == "tape_pop":
                changed |= union(stmt.outs[0], stmt.ins[0])
                changed |= union(stmt.outs[1], f"entries of {find(stmt.ins[0].name)}")
            elif isinstance(stmt, If):
                changed |= scan(stmt.then_body) | scan(stmt.else_body)
                for out, a, b in zip(stmt.outs, stmt.then_results, stmt.else_results):
                    changed |= union(out, a) | union(out, b)
            elif isinstance(stmt, Loop):
                changed |= scan(stmt.body)
                for phi, init, result, out in zip(stmt.carried, stmt.inits, stmt.results, stmt.outs):
                    changed |= union(phi, init) | union(phi, result) | union(phi, out)
        return changed

    for _ in range(16):  # families found late can join entries named early: until nothing changes
        if not scan(body):
            break
    hot = {
        find(e.out.name) for e in walk(body)
        if e.op == "tape_push" and isinstance(e.ins[1], Var) and e.ins[1].name in active
    }  # fmt: skip
    return {name for name in tapes if find(name) in hot}


__all__ = ["NoTangentRule", "dot_name", "jvp_function"]
