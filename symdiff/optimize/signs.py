"""Fold negations: every `-x` that can be absorbed saves a full pass over an array.

Reverse mode produces many sign flips (`sub`, `neg` and quotient rules each add
one). This pass rewrites, where the negated value has no other reader:

    -(-a)            -> a
    -(... (-a) * b / c ...)   -> (... a * b / c ...)     through products and quotients
    (-a) + b, b + (-a) -> b - a        (also (-a) * c + b -> b - a * c, through products)
    b - (-a)         -> b + a

A negation that several equations read goes too when every one of them
absorbs it (`n = -g` read by `-(n * x)` and by `b + n * c`, as the reverse
pass of `x - y * z` writes): each reads `g` instead, and `n` is dead.

Exact in floating point (negation commutes with rounding), so results are
bit-for-bit those of the original code.
"""

from __future__ import annotations

from collections import Counter

from symdiff.ir.nodes import Eqn, Function, Var, walk
from symdiff.optimize.walk import rewrite_function

_PRODUCTS = ("mul", "truediv")


def fold_signs(function: Function) -> Function:
    """`function` with negations absorbed into neighbouring arithmetic."""
    uses: Counter = Counter(a.name for e in walk(function.body) for a in e.atoms() if isinstance(a, Var))
    uses.update(a.name for a in function.results() if isinstance(a, Var))
    shared = _absorbed_everywhere(function, uses)
    defs: dict[str, Eqn] = {}
    counter = [0]

    def fresh(like: Var) -> Var:
        counter[0] += 1
        return Var(f"{like.name}~n{counter[0]}", temp=True)

    def unnegate(atom, depth: int = 0):
        """(new equations, an atom equal to -atom), or None when no negation can be absorbed."""
        eqn = defs.get(atom.name) if isinstance(atom, Var) else None
        if eqn is None or (uses[atom.name] != 1 and atom.name not in shared) or depth > 6:
            return None
        if eqn.op == "neg":
            return [], eqn.ins[0]
        if eqn.op in _PRODUCTS:
            for position in (0, 1) if eqn.op == "mul" else (0,):
                inner = unnegate(eqn.ins[position], depth + 1)
                if inner is not None:
                    made, value = inner
                    ins = list(eqn.ins)
                    ins[position] = value
                    out = fresh(eqn.out)
                    return [*made, Eqn((out,), eqn.op, tuple(ins), eqn.static, eqn.loc, eqn.adjoint)], out
        return None

    def visit(eqn: Eqn, scope):
        result = _rewrite(eqn, unnegate)
        for new in result if isinstance(result, list) else [result]:
            if isinstance(new, Eqn):
                for out in new.outs:
                    defs[out.name] = new
        return result

    return rewrite_function(function, visit)


def _rewrite(eqn: Eqn, unnegate):
    if len(eqn.outs) != 1:
        return eqn
    if eqn.op == "neg":
        found = unnegate(eqn.ins[0])
        if found is not None:
            made, value = found
            if not made:
                return value
            last = made[-1]
            return [*made[:-1], Eqn(eqn.outs, last.op, last.ins, last.static, last.loc, last.adjoint)]
    if eqn.op == "add":
        for k in (0, 1):
            found = unnegate(eqn.ins[k])
            if found is not None:
                made, value = found
                return [*made, Eqn(eqn.outs, "sub", (eqn.ins[1 - k], value), (), eqn.loc, eqn.adjoint)]
    if eqn.op == "sub":
        found = unnegate(eqn.ins[1])
        if found is not None:
            made, value = found
            return [*made, Eqn(eqn.outs, "add", (eqn.ins[0], value), (), eqn.loc, eqn.adjoint)]
    return eqn


def _absorbed_everywhere(function: Function, uses: Counter) -> set[str]:
    """Negations read more than once, by equations that each absorb it (see `_absorbs`)."""
    negations = {e.out.name for e in walk(function.body) if e.op == "neg" and len(e.outs) == 1 and uses[e.out.name] > 1}
    returned = {a.name for a in function.results() if isinstance(a, Var)}
    negations -= returned
    if not negations:
        return set()
    readers: dict[str, list[Eqn]] = {}
    for eqn in walk(function.body):
        for atom in eqn.atoms():
            if isinstance(atom, Var):
                readers.setdefault(atom.name, []).append(eqn)
    found = set()
    for name in negations:
        reads = readers.get(name, [])
        if len(reads) == uses[name] and all(_absorbs(r, name, readers, uses, 0) for r in reads):
            found.add(name)
    return found


def _absorbs(eqn: Eqn, name: str, readers: dict[str, list[Eqn]], uses: Counter, depth: int) -> bool:
    """Whether `_rewrite` takes the sign of `name` (read once by `eqn`) out: a negation, a sum,
    the subtrahend, or through a product read once, one of those."""
    if (
        depth > 5
        or len(eqn.outs) != 1
        or eqn.static
        or sum(isinstance(a, Var) and a.name == name for a in eqn.ins) != 1
    ):
        return False
    position = next(k for k, a in enumerate(eqn.ins) if isinstance(a, Var) and a.name == name)
    if eqn.op in ("neg", "add") or (eqn.op == "sub" and position == 1):
        return True
    if (eqn.op == "mul" or (eqn.op == "truediv" and position == 0)) and uses[eqn.out.name] == 1:
        (reader,) = readers.get(eqn.out.name, [None])
        return reader is not None and _absorbs(reader, eqn.out.name, readers, uses, depth + 1)
    return False
