"""Dead-code elimination by liveness, through branches and loops.

Liveness flows backwards from the function's result: an equation is live if
one of its outputs is read by live code; an `If` output or a loop's carried
value is live if read after the statement or (for loops) by live code in the
body. This removes adjoints of arguments not asked for, forward values the
backward pass does not read, and unused tapes. Every op is pure except the
tape operations, which live and die with their tape, and calls that run as
they are (`rules/opaque.py`): a random draw moves its generator on, so one
whose value is unused still runs, and later draws stay the function's.
"""

from __future__ import annotations

from dataclasses import replace

from symdiff.analysis.shapes import ShapeClasses
from symdiff.ir.names import Names
from symdiff.ir.nodes import Const, Eqn, Function, If, Loop, Var, defined, walk
from symdiff.rules.opaque import OP

EFFECTS = (OP,)


def _names(atoms) -> set[str]:
    return {a.name for a in atoms if isinstance(a, Var)}


class _Liveness:
    def __init__(self, function: Function):
        self.live = _names(function.results())

    def block(self, body) -> None:
        for stmt in reversed(body):
            if isinstance(stmt, Eqn):
                if stmt.op in EFFECTS:
                    self.live |= _names(stmt.outs)
                if any(o.name in self.live for o in stmt.outs):
                    self.live |= _names(stmt.atoms())
            elif isinstance(stmt, If):
                self.branch(stmt)
            else:
                self.loop(stmt)

    def branch(self, stmt: If) -> None:
        for k, out in enumerate(stmt.outs):
            if out.name in self.live:
                self.live |= _names((stmt.then_results[k], stmt.else_results[k]))
        size = len(self.live)
        self.block(stmt.then_body)
        self.block(stmt.else_body)
        if len(self.live) != size or any(o.name in self.live for o in stmt.outs):
            self.live |= _names((stmt.cond,))

    def loop(self, stmt: Loop) -> None:
        while True:
            size = len(self.live)
            for k, (phi, out) in enumerate(zip(stmt.carried, stmt.outs)):
                if out.name in self.live or phi.name in self.live:
                    self.live |= _names((stmt.results[k], stmt.inits[k])) | {phi.name, out.name}
            self.block(stmt.body)
            if len(self.live) == size:
                break
        if any(v.name in self.live for v in stmt.outs + stmt.carried) or self._body_live(stmt.body):
            self.live |= _names(stmt.bounds) | _names((stmt.cond,) if stmt.cond is not None else ())
            self.block(stmt.cond_body)

    def _body_live(self, body) -> bool:
        return bool(prune(body, self.live))


def prune(body, live: set[str]) -> list:
    """`body` without statements whose outputs are all dead."""
    out = []
    for stmt in body:
        if isinstance(stmt, Eqn):
            if any(o.name in live for o in stmt.outs):
                out.append(stmt)
        elif isinstance(stmt, If):
            keep = [k for k, o in enumerate(stmt.outs) if o.name in live]
            then_body, else_body = prune(stmt.then_body, live), prune(stmt.else_body, live)
            if keep or then_body or else_body:
                out.append(replace(
                    stmt, outs=tuple(stmt.outs[k] for k in keep), then_body=tuple(then_body), else_body=tuple(else_body),
                    then_results=tuple(stmt.then_results[k] for k in keep),
                    else_results=tuple(stmt.else_results[k] for k in keep),
                ))  # fmt: skip
        else:
            keep = [k for k, (p, o) in enumerate(zip(stmt.carried, stmt.outs)) if p.name in live or o.name in live]
            body_out = prune(stmt.body, live)
            if keep or body_out:
                out.append(replace(
                    stmt, outs=tuple(stmt.outs[k] for k in keep), carried=tuple(stmt.carried[k] for k in keep),
                    inits=tuple(stmt.inits[k] for k in keep), results=tuple(stmt.results[k] for k in keep),
                    body=tuple(body_out), cond_body=tuple(prune(stmt.cond_body, live)),
                ))  # fmt: skip
    return out


def _has_loop(body) -> bool:
    return any(isinstance(s, Loop) or (isinstance(s, If) and (_has_loop(s.then_body) or _has_loop(s.else_body)))
               for s in body)  # fmt: skip


def _unchecked_axes(function: Function, live: set[str]) -> set[str]:
    """Dead `keepdims_shape(s, axis)` at the top level whose axis nothing live checks any more.

    `keepdims_shape` raises NumPy's AxisError for an axis the reduction would refuse. Once the
    cotangent of a reduction folds to a spread scalar (`np.sum(np.sum(x, axis=2))`), nothing
    reads it and the forward reduction is dead too: dropping it would return a gradient where the
    function raises. It stays, unless a live equation reduces the same operand, or one known to have
    its shape, along the same axis.
    """
    dead = []  # (name, shape, axis) of dead keepdims_shape with a constant axis: usually none
    for eqn in function.body:
        if isinstance(eqn, Eqn) and eqn.op == "keepdims_shape" and eqn.out.name not in live:
            shape, axis = eqn.ins[0], eqn.ins[1] if len(eqn.ins) > 1 else eqn.static_dict().get("axis")
            if isinstance(axis, Const) and axis.value is not None and isinstance(shape, Var):
                dead.append((eqn.out.name, shape, axis))
    if not dead:
        return set()  # dce runs every round: the shape classes below only where a check may be due
    shape_of = {e.out.name: e.ins[0] for e in function.body if isinstance(e, Eqn) and e.op == "shape" and e.ins}
    classes = ShapeClasses()  # a reduction of exp(z) along an axis checks it for z as well
    for eqn in walk(function.body):
        if len(eqn.outs) == 1:
            classes.learn(eqn)
    checked = set()
    for eqn in walk(function.body):
        axis = eqn.static_dict().get("axis")
        if (
            isinstance(axis, Const)
            and eqn.ins
            and isinstance(eqn.ins[0], Var)
            and any(o.name in live for o in eqn.outs)
        ):
            checked.add((classes.find(eqn.ins[0].name), repr(axis.value)))
    unchecked = set()
    for name, shape, axis in dead:
        operand = shape_of.get(shape.name)
        if not isinstance(operand, Var) or (classes.find(operand.name), repr(axis.value)) not in checked:
            unchecked.add(name)
    return unchecked


def _live(function: Function, forced: set[str]) -> set[str]:
    liveness = _Liveness(function)
    liveness.live |= forced
    liveness.block(function.body)
    # One backward pass is exact without loops (a read always comes after its definition);
    # a loop reads values of its next iteration, so then repeat until nothing changes.
    if _has_loop(function.body):
        while True:
            size = len(liveness.live)
            liveness.block(function.body)
            if len(liveness.live) == size:
                break
    return liveness.live


def dce(function: Function) -> Function:
    """`function` without statements that do not contribute to its result (or check an axis)."""
    live = _live(function, set())
    unchecked = _unchecked_axes(function, live)
    if unchecked:
        live = _live(function, unchecked)
        function, checks = _named_as_checks(function, unchecked)
        live |= checks
    return replace(function, body=tuple(prune(function.body, live)))


def _named_as_checks(function: Function, unchecked: set[str]) -> tuple[Function, set[str]]:
    """The kept checks renamed `axis_check` (nothing reads them; the name says why they stay), and their names."""
    names = Names({p.name for p in function.params} | {n for n, _ in function.free})
    names.used |= {v.name for stmt in function.body for v in defined(stmt)}
    body, checks = [], set()
    for stmt in function.body:
        if isinstance(stmt, Eqn) and stmt.outs and stmt.out.name in unchecked:
            if not stmt.out.name.startswith("axis_check"):
                stmt = replace(stmt, outs=(Var(names.fresh("axis_check"), True),))
            checks.add(stmt.out.name)
        body.append(stmt)
    return replace(function, body=tuple(body)), checks
