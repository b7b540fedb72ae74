"""Numerically stable forms, chosen in the Wengert list before it is differentiated.

Losses written the textbook way overflow where their mathematics does not:
`np.log(1.0 + np.exp(x))` is inf at x = 800 and its gradient nan, although
softplus(800) = 800 and its slope is 1. JAX and autograd return those nans.
symdiff owns the whole program as source, so it rewrites such compositions
into forms with the same mathematical value that stay finite, and the reverse
transform then derives the adjoints of the stable form: value and gradient
are both fixed.

Each entry of `REWRITES` recognises one equation together with the equations
that made its operands, and returns the equations of the stable form; the last
of them defines the same output name, so the user's names stay. Operands are
only read, never removed: an `np.exp(x)` that something else also reads stays,
and one nothing reads any more goes in dead-code elimination. Every rewrite is
an identity in exact arithmetic, and agrees with the original in floating point
wherever the original is finite (to a few ulp; `log1p` and `expm1` are more
accurate than what they replace). The stable equations carry a note in their
location that the generated code prints as a comment above them, quoting the
expression as the user wrote it. `grad(f, stable=False)` skips this pass.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from symdiff.errors import Location
from symdiff.ir.names import Names
from symdiff.ir.nodes import Atom, Const, Eqn, Function, Var, defined
from symdiff.optimize.walk import rewrite_function
from symdiff.rules import RULES


class _Builder:
    """What a rewrite sees: the equations defining earlier names, and a way to add new ones."""

    def __init__(self, names: Names) -> None:
        self.defs: dict[str, Eqn] = {}
        self.names = names
        self.made: list[Eqn] = []
        self.loc: Location | None = None

    def made_by(self, atom: Atom, *ops: str) -> Eqn | None:
        """The equation defining `atom` when its op is one of `ops` (binary ones with two operands)."""
        eqn = self.defs.get(atom.name) if isinstance(atom, Var) else None
        if eqn is None or len(eqn.outs) != 1 or eqn.op not in ops:
            return None
        return eqn if len(eqn.ins) == (2 if eqn.op in _INFIX else 1) else None

    def exp_of(self, atom: Atom) -> Atom | None:
        """x, where `atom` is np.exp(x)."""
        eqn = self.made_by(atom, "exp")
        return None if eqn is None else eqn.ins[0]

    def emit(self, op: str, ins: tuple, static: tuple = (), base: str = "stable") -> Var:
        out = Var(self.names.fresh(base), temp=True)
        self.made.append(Eqn((out,), op, ins, static, self.loc))
        return out


def _is_one(atom: Atom) -> bool:
    value = getattr(atom, "value", None)
    return isinstance(atom, Const) and type(value) in (int, float) and value == 1


def _plus_one(b: _Builder, atom: Atom) -> Atom | None:
    """y, where `atom` is 1 + y or y + 1."""
    eqn = b.made_by(atom, "add")
    if eqn is None or len(eqn.ins) != 2:
        return None
    first, second = eqn.ins
    return second if _is_one(first) else first if _is_one(second) else None


def _softplus_of(b: _Builder, atom: Atom) -> Atom | None:
    """x, where `atom` is 1 + exp(x) (or exp(x) + 1)."""
    inner = _plus_one(b, atom)
    return None if inner is None else b.exp_of(inner)


def _shifted_already(b: _Builder, z: Atom, axis: Atom) -> bool:
    """Whether `z` is `a - np.max(a, axis, keepdims=True)`, or `a - np.max(a)` (over every axis a
    scalar broadcasts as the kept one would): its exp cannot overflow (the usual hand-written
    softmax and logsumexp), and shifting it again would only cost time."""
    difference = b.made_by(z, "sub")
    peak = None if difference is None else b.made_by(difference.ins[1], "max")
    if peak is None or peak.ins[0] != difference.ins[0]:
        return False
    static = peak.static_dict()
    if static.get("axis", Const(None)) != axis:
        return False
    return static.get("keepdims") == Const(True) or axis == Const(None)


def _logsumexp(b: _Builder, z: Atom, axis: Atom, keepdims: Atom) -> Var:
    """log(sum(exp(z - c))) + c with c the maximum of floor(z): no exp exceeds e, and since
    the value does not depend on c, c is a constant to the derivative (floor has none), so
    the gradient is exactly softmax(z) with nothing spent on c."""
    peak = b.emit("max", (b.emit("floor", (z,), (), "peak"),), (("axis", axis), ("keepdims", Const(True))), "peak")
    shifted = b.emit("sub", (z, peak), (), "shifted")
    total = b.emit(
        "sum", (b.emit("exp", (shifted,), (), "shifted_exp"),), (("axis", axis), ("keepdims", keepdims)), "total"
    )
    shape = b.emit("shape", (total,), (), "total_shape")
    return b.emit("add", (b.emit("log", (total,)), b.emit("reshape", (peak,), (("shape", shape),))))


# -- the rewrites: each returns the atom that now holds eqn's value, or None ----------------


def _softplus(b: _Builder, eqn: Eqn):
    """log(1 + exp(x)), log1p(exp(x)) -> logaddexp(0, x)"""
    x = _softplus_of(b, eqn.ins[0]) if eqn.op == "log" else b.exp_of(eqn.ins[0]) if eqn.op == "log1p" else None
    return None if x is None else b.emit("logaddexp", (Const(0.0), x))


def _minus_softplus(b: _Builder, x: Atom) -> Var:
    """-log(1 + exp(x)), as -logaddexp(0, x)."""
    return b.emit("neg", (b.emit("logaddexp", (Const(0.0), x)),))


def _log_expit(b: _Builder, eqn: Eqn):
    """log(expit(x)), log(1 - expit(x)) -> -logaddexp(0, -x), -logaddexp(0, x)"""
    if eqn.op != "log":
        return None
    sigmoid = b.made_by(eqn.ins[0], "expit")
    if sigmoid is not None:  # log(expit(x)) = -log(1 + exp(-x))
        return _minus_softplus(b, b.emit("neg", sigmoid.ins))
    complement = b.made_by(eqn.ins[0], "sub")
    if complement is None or not _is_one(complement.ins[0]):
        return None
    sigmoid = b.made_by(complement.ins[1], "expit")
    return None if sigmoid is None else _minus_softplus(b, sigmoid.ins[0])  # = -log(1 + exp(x))


def _sigmoid_of(b: _Builder, atom: Atom) -> Atom | None:
    """y, where `atom` is 1 / (1 + exp(y))."""
    quotient = b.made_by(atom, "truediv")
    return None if quotient is None or not _is_one(quotient.ins[0]) else _softplus_of(b, quotient.ins[1])


def _log_sigmoid(b: _Builder, eqn: Eqn):
    """log(1 / (1 + exp(y))), log(1 - 1 / (1 + exp(y))) -> -logaddexp(0, y), -logaddexp(0, -y)"""
    if eqn.op != "log":
        return None
    y = _sigmoid_of(b, eqn.ins[0])
    if y is not None:  # log(1 / (1 + exp(y))) = -log(1 + exp(y))
        return _minus_softplus(b, y)
    complement = b.made_by(eqn.ins[0], "sub")
    y = None if complement is None or not _is_one(complement.ins[0]) else _sigmoid_of(b, complement.ins[1])
    if y is None:
        return None
    return _minus_softplus(b, b.emit("neg", (y,)))  # y - log(1 + exp(y)) = -log(1 + exp(-y))


def _log_sum_exp(b: _Builder, eqn: Eqn):
    """log(sum(exp(z))) -> logsumexp shifted by the maximum"""
    total = b.made_by(eqn.ins[0], "sum") if eqn.op == "log" else None
    z = None if total is None else b.exp_of(total.ins[0])
    if z is None:
        return None
    static = total.static_dict()
    axis = static.get("axis", Const(None))
    if _shifted_already(b, z, axis):
        return None
    return _logsumexp(b, z, axis, static.get("keepdims", Const(False)))


def _log_softmax(b: _Builder, eqn: Eqn):
    """log(exp(z) / sum(exp(z), axis, keepdims=True)) -> z - logsumexp(z, axis, keepdims=True)"""
    quotient = b.made_by(eqn.ins[0], "truediv") if eqn.op == "log" else None
    if quotient is None:
        return None
    z, total = b.exp_of(quotient.ins[0]), b.made_by(quotient.ins[1], "sum")
    if z is None or total is None or b.exp_of(total.ins[0]) != z:
        return None
    static = total.static_dict()
    axis, keepdims = static.get("axis", Const(None)), static.get("keepdims", Const(False))
    if axis != Const(None) and keepdims != Const(True):  # a sum without keepdims broadcasts wrongly: leave it
        return None
    if _shifted_already(b, z, axis):
        return None
    return b.emit("sub", (z, _logsumexp(b, z, axis, keepdims)))


def _log1p(b: _Builder, eqn: Eqn):
    """log(1 + y) -> log1p(y), log(1 - y) -> log1p(-y)"""
    if eqn.op != "log":
        return None
    y = _plus_one(b, eqn.ins[0])
    if y is not None:
        return b.emit("log1p", (y,))
    difference = b.made_by(eqn.ins[0], "sub")
    if difference is not None and _is_one(difference.ins[0]):
        return b.emit("log1p", (b.emit("neg", (difference.ins[1],)),))
    return None


def _expm1(b: _Builder, eqn: Eqn):
    """exp(x) - 1 -> expm1(x)"""
    if eqn.op not in ("sub", "add") or len(eqn.ins) != 2:
        return None
    minus_one = isinstance(eqn.ins[1], Const) and type(eqn.ins[1].value) in (int, float) and eqn.ins[1].value == -1
    if not (eqn.op == "sub" and _is_one(eqn.ins[1]) or eqn.op == "add" and minus_one):
        return None
    x = b.exp_of(eqn.ins[0])
    return None if x is None else b.emit("expm1", (x,))


def _log_exp(b: _Builder, eqn: Eqn):
    """log(exp(x)) -> x"""
    x = b.exp_of(eqn.ins[0]) if eqn.op == "log" else None
    return None if x is None else b.emit("add", (x, Const(0.0)))  # + 0.0: a float, as log(exp(x)) is


@dataclass(frozen=True)
class Rewrite:
    """One stable form: `apply(builder, eqn)` returns the atom now holding eqn's value, or None.

    `stage` "derivative": applied before differentiation, because the naive form's derivative
    is not finite where the stable one is. "value": applied to the finished derivative program,
    to the values it still computes; the derivative of the naive form is finite already (the
    logistic loss's `log(p)` with `p = 1 / (1 + exp(-z))` differentiates to `y - p` through the
    algebra pass, transforms/algebra.py, which a logaddexp form would lose).
    """

    name: str
    apply: Callable[[_Builder, Eqn], Atom | None]
    stage: str = "derivative"

    @property
    def summary(self) -> str:
        return self.apply.__doc__ or self.name


# First match wins: the specific forms before the general ones (softplus before log1p).
REWRITES: tuple[Rewrite, ...] = (
    Rewrite("softplus", _softplus),
    Rewrite("log_expit", _log_expit),
    Rewrite("log_softmax", _log_softmax),
    Rewrite("logsumexp", _log_sum_exp),
    Rewrite("log_exp", _log_exp),
    Rewrite("log_sigmoid", _log_sigmoid, "value"),
    Rewrite("log1p", _log1p, "value"),
    Rewrite("expm1", _expm1, "value"),
)


_INFIX = {"add": "+", "sub": "-", "mul": "*", "truediv": "/"}


def _stable_form(made: list[Eqn], value: Atom, summary: str) -> str:
    """The stable form as NumPy text in the user's names (short forms only; else from `summary`)."""
    if len(made) > 3:
        return summary.split(" -> ")[-1]
    by_name = {eqn.out.name: eqn for eqn in made}

    def text(atom: Atom) -> str:
        eqn = by_name.get(atom.name) if isinstance(atom, Var) else None
        if eqn is None:
            return atom.name.split("~")[0] if isinstance(atom, Var) else repr(atom.value)
        if eqn.op == "neg":
            return f"-{text(eqn.ins[0])}"
        if eqn.op in _INFIX:
            return f"{text(eqn.ins[0])} {_INFIX[eqn.op]} {text(eqn.ins[1])}"
        return f"{RULES[eqn.op].path}({', '.join(text(a) for a in eqn.ins)})"

    return text(value)


def _quote(loc: Location | None) -> str:
    """The expression at `loc` as the user wrote it, when it fits on its line."""
    if loc is None or not loc.source_line or loc.end_col is None or loc.end_col <= loc.col:
        return ""
    return loc.source_line[loc.col : loc.end_col].strip()


def stabilize(function: Function, stage: str = "derivative") -> Function:
    """`function` with the compositions of `REWRITES` of this `stage` replaced by their stable forms."""
    rewrites = [rewrite for rewrite in REWRITES if rewrite.stage == stage]
    names = Names({p.name for p in function.params} | {n for n, _ in function.free})
    names.used |= {v.name for stmt in function.body for v in defined(stmt)}
    builder = _Builder(names)

    def visit(eqn: Eqn, scope):
        if len(eqn.outs) == 1:
            for rewrite in rewrites:
                builder.made, builder.loc = [], eqn.loc
                value = rewrite.apply(builder, eqn)
                if value is None:
                    continue
                quoted = _quote(eqn.loc)
                note = (
                    f"stable: {quoted or rewrite.name} computed as {_stable_form(builder.made, value, rewrite.summary)}"
                )
                loc = None if eqn.loc is None else replace(eqn.loc, note=note)
                made = [replace(new, loc=loc) for new in builder.made]
                last = made[-1]
                made[-1] = Eqn(eqn.outs, last.op, last.ins, last.static, loc)
                names.used.discard(last.out.name)
                for new in made:
                    builder.defs[new.out.name] = new
                return made
        for out in eqn.outs:
            builder.defs[out.name] = eqn
        return eqn

    return rewrite_function(function, visit)


__all__ = ["REWRITES", "Rewrite", "stabilize"]
