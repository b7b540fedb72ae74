"""Reverse mode: a Function -> a Function computing its vector-Jacobian product.

The forward statements are kept; then the list is walked backwards. For each
equation whose output has an adjoint, the op's rule is inlined and each
operand that depends on `wrt` (the active set) receives a contribution.
Contributions to a value used several times are summed out of place
(`x_bar = x_bar + ...`); elementwise ops have each contribution summed back to
its operand's shape (`sum_to`), except where the operand is an intermediate
that feeds only this op and is itself made by a built-in elementwise op: its
adjoint stays at the wider broadcast shape ("wide"), because the producing
op's own rule sums to *its* operands' shapes anyway, and the cotangent factors
of an elementwise rule are constant along the broadcast axes. That drops a
`sum_to` and a saved shape per temporary (`f * c + i * g` needs none). Adjoints never assigned do not exist: zeros
are structural. `If` and `Loop` are handled in `transforms/control.py`, which
may rewrite forward loops to save values (their replacements are applied when
the forward part is rebuilt at the end). Dead code is left to `optimize.dce`.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import replace

import numpy as np

from symdiff.analysis.indexes import once_each
from symdiff.analysis.static_shapes import KnownShapes, function_shapes
from symdiff.errors import BadRule, NonScalarOutput, UnsupportedSyntax
from symdiff.ir.names import Names
from symdiff.ir.nodes import Atom, Const, Eqn, Function, If, Loop, Var, defined, loops, reads, walk
from symdiff.rules import RULES, rule
from symdiff.rules.nondiff import VALUES_FROM_OPERANDS
from symdiff.rules.opaque import OP as OPAQUE
from symdiff.transforms.algebra import Forward, simplify_adjoints
from symdiff.transforms.control import ControlReverse
from symdiff.transforms.inline import inline_rule, rename
from symdiff.transforms.untaken import guarded_values


def base_name(name: str) -> str:
    """The user-facing stem of an IR name: `x~2` -> `x`."""
    return name.split("~")[0]


def adjoint_name(name: str) -> str:
    return f"{base_name(name)}_bar"


def _mark(body, active: set[str]) -> None:
    for stmt in body:
        if isinstance(stmt, Eqn) and stmt.op in TAPE_OPS:
            if any(isinstance(a, Var) and a.name in active for a in stmt.ins):
                active.update(o.name for o in stmt.outs)
        elif isinstance(stmt, Eqn):
            if (
                RULES[stmt.op].differentiable
                and any(isinstance(a, Var) and a.name in active for a in stmt.ins)
                and not _whole_numbers(stmt)
            ):
                active.update(o.name for o in stmt.outs)
        elif isinstance(stmt, If):
            _mark(stmt.then_body, active)
            _mark(stmt.else_body, active)
            for out, a, b in zip(stmt.outs, stmt.then_results, stmt.else_results):
                if any(isinstance(x, Var) and x.name in active for x in (a, b)):
                    active.add(out.name)
        elif isinstance(stmt, Loop):
            while True:
                size = len(active)
                for phi, init, result, out in zip(stmt.carried, stmt.inits, stmt.results, stmt.outs):
                    if any(isinstance(x, Var) and x.name in active for x in (init, result)):
                        active.update((phi.name, out.name))
                _mark(stmt.body, active)
                if len(active) == size:
                    break


TAPE_OPS = ("tape_push", "tape_pop")


def _whole_numbers(eqn: Eqn) -> bool:
    """An op told to make integers or booleans (`np.full(n, v, dtype=int)`): steps, no derivative."""
    dtype = eqn.static_dict().get("dtype")
    if not isinstance(dtype, Const) or dtype.value is None:
        return False
    try:
        return not np.issubdtype(np.dtype(dtype.value), np.inexact)
    except TypeError:
        return False


def tape_vars(body) -> set[str]:
    """Names that hold tapes (lists of saved values), through branches, loops and tapes of tapes."""
    found: set[str] = set()
    holders: set[str] = set()  # tapes whose items are tapes themselves
    while True:
        size = len(found) + len(holders)
        _scan_tapes(body, found, holders)
        if len(found) + len(holders) == size:
            return found


def _scan_tapes(body, found: set[str], holders: set[str]) -> None:
    def known(atom, names):
        return isinstance(atom, Var) and atom.name in names

    for stmt in body:
        if isinstance(stmt, Eqn) and stmt.op in ("tape_new", "tape_push", "tape_pop"):
            found.add(stmt.outs[0].name)
            if stmt.op == "tape_push" and (known(stmt.ins[1], found) or known(stmt.ins[0], holders)):
                holders.update((stmt.outs[0].name, stmt.ins[0].name))
            if stmt.op == "tape_pop" and known(stmt.ins[0], holders):
                holders.add(stmt.outs[0].name)
                found.add(stmt.outs[1].name)
        elif isinstance(stmt, If):
            _scan_tapes(stmt.then_body, found, holders)
            _scan_tapes(stmt.else_body, found, holders)
            for out, a, b in zip(stmt.outs, stmt.then_results, stmt.else_results):
                for names in (found, holders):
                    if known(a, names) or known(b, names):
                        names.add(out.name)
        elif isinstance(stmt, Loop):
            for phi, init, result, out in zip(stmt.carried, stmt.inits, stmt.results, stmt.outs):
                for names in (found, holders):
                    if known(init, names) or known(result, names) or known(phi, names) or known(out, names):
                        names.update((phi.name, out.name) + ((init.name,) if isinstance(init, Var) else ()))
            _scan_tapes(stmt.body, found, holders)


_INDEX_OPS = ("shape", "len", "ndim", "size")
_INT_ARITHMETIC = ("add", "sub", "mul", "floordiv", "neg", "getitem", "make_tuple", "make_slice")


def int_like_vars(function: Function) -> set[str]:
    """Names that hold sizes or indices: shapes, their entries, and integer arithmetic on them."""
    found: set[str] = set()
    for eqn in walk(function.body):
        if (
            eqn.op in _INDEX_OPS
            or eqn.op in _INT_ARITHMETIC
            and all(
                (isinstance(a, Var) and a.name in found)
                or (isinstance(a, Const) and isinstance(a.value, (int, tuple, slice)))
                for a in eqn.atoms()
            )
        ):
            found.add(eqn.out.name)
    return found


def active_vars(function: Function, wrt: tuple[str, ...]) -> set[str]:
    """Names whose value depends differentiably on the `wrt` parameters."""
    active = set(wrt)
    while True:
        size = len(active)
        _mark(function.body, active)
        if len(active) == size:
            return active


class Backward(ControlReverse):
    """The state of one reverse pass: names, the growing body, the adjoint map."""

    def __init__(self, function: Function, wrt: tuple[str, ...], known: KnownShapes | None = None):
        self.function = function
        self.known = known  # a build for known argument shapes: the shapes the ops decide
        self.names = Names()
        self.names.used = {p.name for p in function.params} | {n for n, _ in function.free}
        self.names.used |= {v.name for s in function.body for v in defined(s)}
        self.body: list = []
        self.active = active_vars(function, wrt)
        self.adjoint: dict[str, Atom] = {}
        self.replacements: dict[int, Loop] = {}
        self.preludes: dict[int, list] = {}
        self.trip_counts: dict[int, Var] = {}
        self.originals: dict[int, int] = {}
        self.tapes = tape_vars(function.body)
        self.int_like = int_like_vars(function)
        self.may_stay_wide = _single_use_pointwise(function)
        self.guards = guarded_values(function)
        self.wide: set[str] = set()  # names whose adjoint is held at a broadcast shape
        self.forward_facts: Forward | None = None
        self.backward_loops = 0  # how deep in backward loop bodies the pass is emitting
        self.defs = {out.name: eqn for eqn in walk(function.body) for out in eqn.outs}
        self.counters = frozenset(lp.index.name for lp in loops(function.body) if lp.index is not None)

    adjoint_name = staticmethod(adjoint_name)

    def emit_into(self, body: list, op: str, ins, static, loc, name: str, temp: bool = False) -> Atom:
        folded = self.known.query(op, ins) if self.known is not None else None
        if folded is not None:  # np.shape(x) of a value whose shape the build knows: a constant
            return folded
        out = Var(self.names.fresh(name), temp=temp)
        body.append(Eqn((out,), op, tuple(ins), tuple(static), loc, adjoint=True))
        return out

    def emit(self, op: str, ins, static, loc, name: str, temp: bool = False) -> Atom:
        return self.emit_into(self.body, op, ins, static, loc, name, temp)

    @contextmanager
    def nested(self, outer_adjoint: dict | None = None):
        """Emit into a fresh block with its own adjoint map; yields the block."""
        saved = (self.body, self.adjoint)
        self.body = []
        self.adjoint = dict(saved[1]) if outer_adjoint is None else outer_adjoint
        try:
            yield self.body
        finally:
            self.body, self.adjoint = saved

    def accumulate(self, var: Var, contribution: Atom, loc) -> None:
        previous = self.adjoint.get(var.name)
        if previous is None:
            self.adjoint[var.name] = contribution
        elif (written := self._scattered_onto(var, previous, contribution)) is not None:
            self.adjoint[var.name] = written
        else:
            self.adjoint[var.name] = self.emit("add", [previous, contribution], (), loc, adjoint_name(var.name))

    def _scattered_onto(self, var: Var, previous: Atom, contribution: Atom) -> Atom | None:
        """`previous + scatter_add(g, shape, index)` as `previous[index] + g` written back at `index`,
        for a scatter just emitted with an index that reaches each element once.

        Inside a backward loop, where `previous` was made in this iteration: the sum is a new
        array of the whole adjoint per iteration (quadratic in the trip count), the write can run
        in place (codegen/layout.py). `previous` is var's cotangent, so it has the scatter's shape;
        a cotangent left wide (broadcast, not summed back) does not, and is left alone.
        """
        if not self.backward_loops or var.name in self.wide or not isinstance(previous, Var):
            return None
        scatter = self.body[-1] if self.body else None
        if not (isinstance(scatter, Eqn) and scatter.op == "scatter_add" and scatter.out == contribution):
            return None
        index = scatter.static_dict()["index"]
        if not once_each(self.defs, index, self.counters):
            return None
        if not any(isinstance(e, Eqn) and previous in e.outs for e in self.body):
            return None  # the loop's own accumulator: codegen writes `acc[index] += g` for it already
        self.body.pop()
        g, loc, name = scatter.ins[0], scatter.loc, adjoint_name(var.name)
        held = self.emit("getitem", [previous], [("index", index)], loc, name, temp=True)
        total = self.emit("add", [held, g], (), loc, name, temp=True)
        return self.emit("setitem", [previous, total], [("index", index)], loc, name)

    def differentiate_block(self, body) -> None:
        for stmt in reversed(body):
            if isinstance(stmt, Eqn):
                self.differentiate(stmt)
            elif isinstance(stmt, If):
                self.differentiate_if(stmt)
            else:
                self.differentiate_loop(stmt)

    def differentiate(self, eqn: Eqn) -> None:
        if eqn.op in TAPE_OPS:
            return self.differentiate_tape(eqn)
        g = self.adjoint.get(eqn.out.name)
        the_rule = rule(eqn.op)
        if g is None or not the_rule.differentiable:
            return
        if len(eqn.outs) != 1:
            raise UnsupportedSyntax(f"{eqn.op} with several outputs cannot be differentiated", eqn.loc)
        static = eqn.static_dict()
        hint = adjoint_name(eqn.out.name)
        if the_rule.vjp_each is not None:
            cotangents = tuple(
                self._inline(the_rule.vjp_each, [g, eqn.out, Const(k), *eqn.ins], static, eqn, hint, (arg,))[0]
                if self._wants(arg) else None
                for k, arg in enumerate(eqn.ins)
            )  # fmt: skip
        else:
            cotangents = self._inline(the_rule.vjp, [g, eqn.out, *eqn.ins], static, eqn, hint)
        if len(cotangents) != len(eqn.ins):
            vjp = the_rule.vjp or the_rule.vjp_each
            raise BadRule(
                f"the derivative rule {getattr(vjp, '__name__', eqn.op)} for {the_rule.path} returned "
                f"{len(cotangents)} cotangents for {len(eqn.ins)} operands",
                eqn.loc,
            )
        wide_in = eqn.out.name in self.wide
        guard = self.guards.get(eqn.out.name)
        for arg, cotangent in zip(eqn.ins, cotangents):
            if cotangent is None or not self._wants(arg):
                continue
            if guard is not None:  # zero where np.where discards this value (transforms/untaken.py)
                cond, taken = guard
                arms = [cotangent, Const(0.0)] if taken else [Const(0.0), cotangent]
                cotangent = self.emit("where", [cond, *arms], (), eqn.loc, adjoint_name(arg.name))
            if the_rule.elementwise and arg.name in self.may_stay_wide and self.adjoint.get(arg.name) is None:
                self.wide.add(arg.name)
            elif the_rule.elementwise and (len(eqn.ins) > 1 or wide_in):
                shape = self.emit("shape", [arg], (), eqn.loc, f"{base_name(arg.name)}_shape", temp=True)
                cotangent = self.emit("sum_to", [cotangent], [("shape", shape)], eqn.loc, adjoint_name(arg.name))
            self.accumulate(arg, cotangent, eqn.loc)

    def differentiate_tape(self, eqn: Eqn) -> None:
        """The adjoint of a tape is a tape of adjoints: push and pop swap roles."""
        if eqn.op == "tape_push":
            adjoint_tape = self.adjoint.get(eqn.out.name)
            if adjoint_tape is None or not self._wants(eqn.ins[0]) and not self._wants(eqn.ins[1]):
                return
            rest = Var(self.names.fresh(adjoint_name(eqn.ins[0].name)))
            value = Var(self.names.fresh(adjoint_name(getattr(eqn.ins[1], "name", "value"))))
            self.body.append(Eqn((rest, value), "tape_pop", (adjoint_tape,), (), eqn.loc, True))
            self.adjoint[eqn.ins[0].name] = rest
            if self._wants(eqn.ins[1]):
                self.accumulate(eqn.ins[1], value, eqn.loc)
        elif eqn.op == "tape_pop":
            rest, value = eqn.outs
            adjoint_tape, adjoint_value = self.adjoint.get(rest.name), self.adjoint.get(value.name)
            if adjoint_tape is None and adjoint_value is None or not self._wants(eqn.ins[0]):
                return
            if adjoint_tape is None:
                adjoint_tape = self.emit("tape_new", [], (), eqn.loc, adjoint_name(rest.name))
            if adjoint_value is None:
                adjoint_value = self.emit("zeros_like", [value], (), eqn.loc, adjoint_name(value.name))
            self.adjoint[eqn.ins[0].name] = self.emit(
                "tape_push", [adjoint_tape, adjoint_value], (), eqn.loc, adjoint_name(rest.name)
            )

    def simplify_block(self, block: list, keep) -> list:
        """`block` with its elementwise adjoint expressions simplified (transforms/algebra.py)."""
        if self.forward_facts is None:
            self.forward_facts = Forward.of(self.function)
        return simplify_adjoints(block, self.forward_facts, keep, self.names.fresh)

    def zero(self, var: Var, loc, name: str | None = None) -> Var:
        """A zero adjoint for `var`: an empty tape for tapes, zeros of its shape otherwise."""
        op = "tape_new" if var.name in self.tapes else "zeros_like"
        return self.emit(op, [] if op == "tape_new" else [var], (), loc, name or adjoint_name(var.name))

    def _wants(self, arg: Atom) -> bool:
        return isinstance(arg, Var) and arg.name in self.active

    def _inline(self, vjp, args, static, eqn: Eqn, hint: str, operands: tuple | None = None):
        """Inline a rule; `operands` are the primal operands its cotangents belong to (for names)."""
        start = len(self.body)
        cotangents = inline_rule(vjp, args, static, self.names, self.body, eqn.loc, hint, self.known)
        for k in range(start, len(self.body)):
            self.body[k] = replace(self.body[k], adjoint=True)
        for arg, cotangent in zip(operands or eqn.ins, cotangents):
            if isinstance(cotangent, Var) and cotangent.temp and any(cotangent in e.outs for e in self.body[start:]):
                better = Var(self.names.fresh(adjoint_name(getattr(arg, "name", hint))))
                rename(self.body, start, cotangent, better)
                cotangents = tuple(better if c == cotangent else c for c in cotangents)
        return cotangents

    # -- rebuilding the forward part with taped loops ---------------------------

    def original_id(self, loop: Loop) -> int:
        return self.originals.get(id(loop), id(loop))

    def rebuild_one(self, stmt):
        """`stmt` with every loop rewrite made so far applied (nested ones included)."""
        if isinstance(stmt, Eqn):
            return stmt
        if isinstance(stmt, If):
            return replace(
                stmt, then_body=tuple(self.rebuild(stmt.then_body)), else_body=tuple(self.rebuild(stmt.else_body))
            )
        key = self.original_id(stmt)
        if key in self.replacements:  # built from an already rebuilt body
            return self.replacements[key]
        new = replace(stmt, body=tuple(self.rebuild(stmt.body)))
        self.originals[id(new)] = key
        return new

    def rebuild(self, body) -> list:
        out = []
        for stmt in body:
            if isinstance(stmt, Loop):
                out.extend(self.preludes.get(self.original_id(stmt), []))
            out.append(self.rebuild_one(stmt))
        return out


def _pointwise(eqn: Eqn) -> bool:
    """A built-in elementwise op: its rule multiplies the cotangent by factors of the output's shape."""
    the_rule = RULES.get(eqn.op)
    if the_rule is None or not the_rule.elementwise or the_rule.vjp is None or len(eqn.outs) != 1:
        return False
    return the_rule.vjp.__module__ == "symdiff.rules.elementwise"


def _single_use_pointwise(function: Function) -> set[str]:
    """Names made by a built-in elementwise op and read by exactly one operand slot, of an
    elementwise op in the same block: their adjoint may stay wide (see the module docstring)."""
    uses: dict[str, int] = {}
    for atom in [a for stmt in function.body for a in reads(stmt)] + list(function.results()):
        if isinstance(atom, Var):
            uses[atom.name] = uses.get(atom.name, 0) + 1
    found: set[str] = set()

    def scan(body) -> None:
        made_here = {e.out.name for e in body if isinstance(e, Eqn) and _pointwise(e)}
        for stmt in body:
            if isinstance(stmt, Eqn):
                if RULES.get(stmt.op) is not None and RULES[stmt.op].elementwise:
                    found.update(
                        a.name for a in stmt.ins if isinstance(a, Var) and a.name in made_here and uses[a.name] == 1
                    )
            elif isinstance(stmt, If):
                scan(stmt.then_body)
                scan(stmt.else_body)
            else:
                scan(stmt.body)

    scan(function.body)
    return found


_REDUCTIONS = ("sum", "mean", "prod", "max", "min")
_SCALAR_PRESERVING = ("neg", "pos", "float", "add", "sub", "mul", "truediv", "pow", "exp", "log", "sqrt", "abs")


def known_scalar(body, atom: Atom) -> bool:
    """True when `atom` is a scalar whatever the inputs: a full reduction, or arithmetic on such."""
    if isinstance(atom, Const):
        return isinstance(atom.value, (int, float))
    defining = {o.name: e for e in body if isinstance(e, Eqn) for o in e.outs}
    eqn = defining.get(atom.name)
    if eqn is None or len(eqn.outs) != 1:
        return False
    if eqn.op in _REDUCTIONS:
        static = eqn.static_dict()
        return static.get("axis") == Const(None) and static.get("keepdims") == Const(False)
    if eqn.op in _SCALAR_PRESERVING:
        return all(known_scalar(body, a) for a in eqn.ins)
    return False


def _refuse_active_calls(function: Function, active: set[str], wrt: list[str]) -> None:
    """A call run as it is (a random draw, `rules/opaque.py`) has no derivative, nor has np.arange a
    rule for its start and step: refuse one whose arguments depend on the differentiated inputs,
    where it is called."""
    for eqn in walk(function.body):
        if eqn.op in VALUES_FROM_OPERANDS and any(isinstance(a, Var) and a.name in active for a in eqn.ins):
            names = ", ".join(repr(base_name(w)) for w in wrt)
            raise UnsupportedSyntax(
                f"np.{eqn.op}'s values come from its arguments, and one here depends on {names}",
                eqn.loc,
                "write start + step * np.arange(n), with n an integer",
            )
        if eqn.op == OPAQUE and any(isinstance(a, Var) and a.name in active for a in eqn.ins):
            callee = eqn.static_dict()["callee"].value
            names = ", ".join(repr(base_name(w)) for w in wrt)
            raise UnsupportedSyntax(
                f"{callee}() runs as it is, with no derivative, but an argument here depends on {names}",
                eqn.loc,
                "pass it values that do not depend on the differentiated arguments "
                "(draw `z = rs.normal(0.0, 1.0, n)`, then `mu + sigma * z`)",
            )


def vjp_function(
    function: Function, wrt: tuple[int, ...], mode: str = "grad", as_tuple: bool = False, shapes: tuple | None = None
) -> Function:
    """The reverse-mode program for `function` with respect to parameters `wrt`.

    mode "grad": seeds with 1 (the output must be scalar) and returns the
    gradients; "value_and_grad": also returns the value first; "vjp": takes
    the output cotangent as an extra last parameter. `as_tuple` returns a
    tuple of gradients even for one `wrt` (the user passed a tuple).
    `shapes` (one per parameter) builds for arguments of those shapes: the
    shapes the ops then decide are constants in the derivative's code.
    """
    if not isinstance(function.result, (Var, Const)):
        raise NonScalarOutput(
            f"{function.name} returns {len(function.result)} values; differentiate a function returning one"
        )
    params = [function.params[i] for i in wrt]
    known = None
    if shapes is not None:
        known = function_shapes(function, {p.name: s for p, s in zip(function.params, shapes) if s is not None})
    state = Backward(function, tuple(p.name for p in params), known)
    _refuse_active_calls(function, state.active, [p.name for p in params])
    out = function.result
    seed_param = None
    if mode == "vjp":
        seed_param = Var(state.names.fresh_parameter(adjoint_name(getattr(out, "name", "out"))))
        seed: Atom = seed_param
    elif known_scalar(function.body, out):  # no run-time check needed: seed with 1
        seed = Const(1.0)
    else:
        seed = state.emit("grad_seed", [out], (), None, adjoint_name(getattr(out, "name", "out")))
    if isinstance(out, Var) and out.name in state.active:
        state.adjoint[out.name] = seed
    state.differentiate_block(function.body)
    wanted = [state.adjoint[p.name] for p in params if p.name in state.adjoint]
    state.body = state.simplify_block(state.body, wanted)
    grads = []
    for param in params:
        adjoint = state.adjoint.get(param.name)
        if adjoint is None:  # the output does not depend on this argument
            adjoint = state.emit("zeros_like", [param], (), None, adjoint_name(param.name))
        elif adjoint == seed_param or not isinstance(adjoint, Var):
            adjoint = state.emit("copy", [adjoint], (), None, adjoint_name(param.name))
        grads.append(adjoint)
    several = as_tuple or len(grads) > 1  # a tuple wrt gives a tuple of gradients, even of one
    result = tuple(grads) if several else grads[0]
    if mode == "value_and_grad":  # (value, gradient) or (value, (gradient, ...)), as in JAX
        if several:
            result = state.emit("make_tuple", grads, (), None, "grads", temp=True)
        result = (out, result)
    new_params = function.params + ((seed_param,) if seed_param is not None else ())
    forward = state.rebuild(function.body)
    return Function(
        name=f"{function.name}_{mode}",
        params=new_params,
        body=tuple(forward + state.body),
        result=result,
        defaults=function.defaults,
        free=function.free,
        doc=_doc(function, params, mode),
    )


def _doc(function: Function, params, mode: str) -> str:
    names = ", ".join(p.name for p in params)
    if mode == "vjp":
        return f"Vector-Jacobian product of {function.name} with respect to {names}."
    if mode == "value_and_grad":
        return f"Value and gradient of {function.name} with respect to {names}."
    return f"Gradient of {function.name} with respect to {names}."


__all__ = ["Backward", "active_vars", "adjoint_name", "base_name", "reads", "vjp_function"]
