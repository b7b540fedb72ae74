"""Reverse mode: a Function -> a Function computing its vector-Jacobian product.

The forward equations are kept; then the list is walked backwards. For each
equation whose output has an adjoint, the op's rule is inlined and each
operand that depends on `wrt` (the active set) receives a contribution.
Contributions to a value used several times are summed out of place
(`x_bar = x_bar + ...`); elementwise ops have each contribution summed back to
its operand's shape (`sum_to`). Adjoints that are never assigned do not exist:
zeros are structural. Dead forward values are left for `optimize.dce`.
"""

from __future__ import annotations

from dataclasses import replace

from symdiff.errors import BadWrt, UnsupportedSyntax
from symdiff.frontend.lower import Names
from symdiff.ir.nodes import Atom, Const, Eqn, Function, Var
from symdiff.rules import RULES, rule
from symdiff.transforms.inline import inline_rule, rename


def base_name(name: str) -> str:
    """The user-facing stem of an IR name: `x~2` -> `x`."""
    return name.split("~")[0]


def adjoint_name(name: str) -> str:
    return f"{base_name(name)}_bar"


def active_vars(function: Function, wrt: tuple[str, ...]) -> set[str]:
    """Names whose value depends differentiably on the `wrt` parameters."""
    active = set(wrt)
    for eqn in function.body:
        if not RULES[eqn.op].differentiable:
            continue
        if any(isinstance(a, Var) and a.name in active for a in eqn.ins):
            active.update(o.name for o in eqn.outs)
    return active


class Backward:
    """The state of one reverse pass: names, the growing body, the adjoint map."""

    def __init__(self, function: Function, wrt: tuple[str, ...]):
        self.function = function
        self.names = Names()
        self.names.used = {p.name for p in function.params} | {n for n, _ in function.free}
        self.names.used |= {o.name for e in function.body for o in e.outs}
        self.body: list[Eqn] = list(function.body)
        self.active = active_vars(function, wrt)
        self.adjoint: dict[str, Atom] = {}

    def emit(self, op: str, ins, static, loc, name: str, temp: bool = False) -> Var:
        out = Var(self.names.fresh(name), temp=temp)
        self.body.append(Eqn((out,), op, tuple(ins), tuple(static), loc, adjoint=True))
        return out

    def accumulate(self, var: Var, contribution: Atom, loc) -> None:
        previous = self.adjoint.get(var.name)
        if previous is None:
            self.adjoint[var.name] = contribution
        else:
            self.adjoint[var.name] = self.emit("add", [previous, contribution], (), loc, adjoint_name(var.name))

    def differentiate(self, eqn: Eqn) -> None:
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
                self._inline(the_rule.vjp_each, [g, eqn.out, Const(k), *eqn.ins], static, eqn, hint)[0]
                if self._wants(arg) else None
                for k, arg in enumerate(eqn.ins)
            )
        else:
            cotangents = self._inline(the_rule.vjp, [g, eqn.out, *eqn.ins], static, eqn, hint)
        if len(cotangents) != len(eqn.ins):
            raise RuntimeError(f"rule for {eqn.op} returned {len(cotangents)} cotangents for {len(eqn.ins)} operands")
        for arg, cotangent in zip(eqn.ins, cotangents):
            if cotangent is None or not self._wants(arg):
                continue
            if the_rule.elementwise and len(eqn.ins) > 1:
                shape = self.emit("shape", [arg], (), eqn.loc, f"{base_name(arg.name)}_shape", temp=True)
                cotangent = self.emit("sum_to", [cotangent], [("shape", shape)], eqn.loc, adjoint_name(arg.name))
            self.accumulate(arg, cotangent, eqn.loc)

    def _wants(self, arg: Atom) -> bool:
        return isinstance(arg, Var) and arg.name in self.active

    def _inline(self, vjp, args, static, eqn: Eqn, hint: str):
        start = len(self.body)
        cotangents = inline_rule(vjp, args, static, self.names, self.body, eqn.loc, hint)
        for k in range(start, len(self.body)):
            self.body[k] = replace(self.body[k], adjoint=True)
        named = []
        for arg, cotangent in zip(eqn.ins, cotangents):
            if isinstance(cotangent, Var) and cotangent.temp and self._defined_after(cotangent, start):
                better = Var(self.names.fresh(adjoint_name(getattr(arg, "name", hint))))
                rename(self.body, start, cotangent, better)
                cotangents = tuple(better if c == cotangent else c for c in cotangents)
                cotangent = better
            named.append(cotangent)
        return cotangents

    def _defined_after(self, var: Var, start: int) -> bool:
        return any(var in e.outs for e in self.body[start:])


def vjp_function(function: Function, wrt: tuple[int, ...], mode: str = "grad") -> Function:
    """The reverse-mode program for `function` with respect to parameters `wrt`.

    mode "grad": seeds with 1 (the output must be scalar) and returns the
    gradients; "value_and_grad": also returns the value first; "vjp": takes
    the output cotangent as an extra last parameter.
    """
    if not isinstance(function.result, (Var, Const)):
        raise BadWrt(f"{function.name} returns several values; differentiate a function returning one value")
    params = [function.params[i] for i in wrt]
    state = Backward(function, tuple(p.name for p in params))
    out = function.result
    seed_param = None
    if mode == "vjp":
        seed_param = Var(state.names.fresh(adjoint_name(getattr(out, "name", "out"))))
        seed: Atom = seed_param
    else:
        seed = state.emit("grad_seed", [out], (), None, adjoint_name(getattr(out, "name", "out")))
    if isinstance(out, Var) and out.name in state.active:
        state.adjoint[out.name] = seed
    for eqn in reversed(function.body):
        state.differentiate(eqn)
    grads = []
    for param in params:
        adjoint = state.adjoint.get(param.name)
        if adjoint is None:  # the output does not depend on this argument
            adjoint = state.emit("zeros_like", [param], (), None, adjoint_name(param.name))
        elif adjoint == seed_param or not isinstance(adjoint, Var):
            adjoint = state.emit("copy", [adjoint], (), None, adjoint_name(param.name))
        grads.append(adjoint)
    result = grads[0] if len(grads) == 1 else tuple(grads)
    if mode == "value_and_grad":
        result = (out, result) if len(grads) == 1 else (out, *grads)
    new_params = function.params + ((seed_param,) if seed_param is not None else ())
    return Function(
        name=f"{function.name}_{mode}",
        params=new_params,
        body=tuple(state.body),
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
