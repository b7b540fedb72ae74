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

from dataclasses import replace

from symdiff.analysis.shapes import ShapeClasses
from symdiff.ir.names import Names
from symdiff.ir.nodes import Atom, Const, Eqn, Function, If, Var, defined, reads, walk
from symdiff.rules import RULES

_TESTS = frozenset(
    ("lt", "le", "gt", "ge", "eq", "ne", "logical_and", "logical_or", "logical_not", "isfinite", "isnan")
)


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


# Operand positions where an op's domain is restricted: an untaken arm may compute nan there.
_DOMAIN = {
    "sqrt": (0,), "log": (0,), "log1p": (0,), "arcsin": (0,), "arccos": (0,), "gammaln": (0,), "digamma": (0,),
    "truediv": (1,),
}  # fmt: skip
_SAFE = Const(0.5)  # inside every one of those domains


def guard_untaken_inputs(function: Function) -> Function:
    """The double-where trick, applied for the user: the operand of an arm's `sqrt`, `log`,
    division, ... becomes `np.where(cond, operand, 0.5)`, so the arm computes no nan where
    `np.where` discards it (an operand computed in the arm, `x - i`, is guarded where the
    op reads it). Masking the arm's cotangent (the reverse pass
    does) already keeps the gradient exact; this keeps the forward values finite and NumPy
    quiet. A condition computed after the arm's operation is left as it is."""
    guards = guarded_values(function)
    if not guards:
        return function
    names = Names({p.name for p in function.params} | {n for n, _ in function.free})
    names.used |= {v.name for stmt in function.body for v in defined(stmt)}

    def guard(eqn: Eqn, known: set[str], out: list) -> Eqn:
        found = guards.get(eqn.out.name) if len(eqn.outs) == 1 else None
        positions = _DOMAIN.get(eqn.op, ())
        exponent = eqn.ins[1] if eqn.op == "pow" else None
        if isinstance(exponent, Const) and type(exponent.value) is float and not exponent.value.is_integer():
            positions = (0,)  # x ** 0.5 of a negative x
        if found is None or not positions:
            return eqn
        cond, taken = found
        if isinstance(cond, Var) and cond.name not in known:
            return eqn
        ins = list(eqn.ins)
        for k in positions:
            operand = ins[k]
            if not isinstance(operand, Var) or operand == cond:
                continue
            safe = Var(names.fresh(f"{operand.name.split('~')[0]}_safe"), temp=True)
            arms = (operand, _SAFE) if taken else (_SAFE, operand)
            out.append(Eqn((safe,), "where", (cond, *arms), (), eqn.loc))
            ins[k] = safe
        return replace(eqn, ins=tuple(ins))

    def block(body, known: set[str]) -> tuple:
        known, out = set(known), []
        for stmt in body:
            if isinstance(stmt, Eqn):
                out.append(guard(stmt, known, out))
            elif isinstance(stmt, If):
                out.append(
                    replace(stmt, then_body=block(stmt.then_body, known), else_body=block(stmt.else_body, known))
                )
            else:
                inner = (
                    known | {v.name for v in stmt.carried} | ({stmt.index.name} if stmt.index is not None else set())
                )
                out.append(replace(stmt, cond_body=block(stmt.cond_body, inner), body=block(stmt.body, inner)))
            known.update(v.name for v in defined(out[-1]))
        return tuple(out)

    initial = {p.name for p in function.params} | {n for n, _ in function.free}
    return replace(function, body=block(function.body, initial))
