"""Which values only feed one arm of an `np.where`, so their cotangent is zero where that arm is not taken.

`np.where(x > 0, np.sqrt(x), 0.0)` at `x = -1` computes `sqrt(-1) = nan` in the
arm it then discards. The rule of `where` gives that arm a zero cotangent
there, but the rule of `sqrt` multiplies the zero by `0.5 / nan`, and the
gradient is nan (JAX and autograd return nan too). Everything computed only
for that arm, elementwise and at the arm's own shape, has an exact zero
cotangent wherever the condition picks the other arm: the reverse transform
selects 0 there (`np.where(c, cotangent, 0.0)`) before summing to operand
shapes, so a non-finite value in an untaken arm never reaches the gradient.

Each block is guarded on its own (the function's body, an if's arms, a loop's
body): the condition and the values it guards are computed in the same block,
and the backward pass reads them there as it reads every forward value.
"""

from __future__ import annotations

from symdiff.analysis.shapes import ShapeClasses
from symdiff.ir.nodes import Atom, Const, Eqn, Function, Var, reads, walk
from symdiff.rules import RULES

_TESTS = frozenset(("lt", "le", "gt", "ge", "eq", "ne", "logical_and", "logical_or", "logical_not", "isfinite", "isnan"))


def guarded_values(function: Function) -> dict[str, tuple[Atom, bool]]:
    """Names whose cotangent may be masked: name -> (condition, True for the `x` arm, False for `y`)."""
    classes = ShapeClasses()
    for eqn in walk(function.body):
        if len(eqn.outs) == 1:
            classes.learn(eqn)
    uses: dict[str, int] = {}
    for atom in [a for stmt in function.body for a in reads(stmt)] + list(function.results()):
        if isinstance(atom, Var):
            uses[atom.name] = uses.get(atom.name, 0) + 1
    guards: dict[str, tuple[Atom, bool]] = {}
    for block in _blocks(function.body):
        made = {eqn.out.name: eqn for eqn in block if isinstance(eqn, Eqn) and len(eqn.outs) == 1}
        for eqn in block:
            if not isinstance(eqn, Eqn) or eqn.op != "where" or not isinstance(eqn.ins[0], Var):
                continue
            cond = eqn.ins[0]
            for arm, taken in ((eqn.ins[1], True), (eqn.ins[2], False)):
                if isinstance(arm, Var) and arm != cond:
                    _collect(arm, cond, taken, made, uses, classes, guards)
    return guards


def _blocks(body) -> list:
    """`body` and every block nested in it (an if's arms, a loop's body): each is guarded on its own."""
    found = [body]
    for stmt in body:
        if not isinstance(stmt, Eqn):
            for block in stmt.blocks():
                found += _blocks(block)
    return found


def _collect(arm: Var, cond: Var, taken: bool, made, uses, classes: ShapeClasses, guards) -> None:
    """Add `arm` and what only it reads (elementwise, at its shape) to `guards`."""
    members: dict[str, int] = {}  # name -> reads from inside the arm's subgraph
    members_reads = {arm.name: 1}
    pending = [arm.name]
    while pending:
        name = pending.pop()
        eqn = made.get(name)
        rule = RULES.get(eqn.op) if eqn is not None else None
        if rule is None or not rule.elementwise or not rule.differentiable or eqn.op == "where":
            continue
        if members_reads.get(name, 0) != uses.get(name, 0) or not _fits(cond, eqn.out, made, classes):
            continue
        members[name] = 1
        for operand in eqn.ins:
            if isinstance(operand, Var) and operand.name not in members:
                members_reads[operand.name] = members_reads.get(operand.name, 0) + 1
                pending.append(operand.name)
    for name in members:
        guards.setdefault(name, (cond, taken))


def _fits(cond: Atom, value: Atom, made, classes: ShapeClasses, depth: int = 0) -> bool:
    """Whether `cond` surely broadcasts to `value`'s shape without making it larger.

    It does when it has the shape of `value` or of an operand of the elementwise op that made
    `value` (broadcasting only widens), and a comparison does when each of its operands does.
    """
    if isinstance(cond, Const) or depth > 8:
        return isinstance(cond, Const)
    if not isinstance(value, Var):
        return False
    if classes.same(cond, value):
        return True
    test = made.get(cond.name)
    if test is not None and test.op in _TESTS and all(_fits(a, value, made, classes, depth + 1) for a in test.ins):
        return True
    maker = made.get(value.name)
    rule = RULES.get(maker.op) if maker is not None else None
    if rule is None or not rule.elementwise or maker.op == "where":
        return False
    return any(_fits(cond, operand, made, classes, depth + 1) for operand in maker.ins)
