"""In a build for known argument shapes, the shape queries and no-op shape changes go.

A derivative built for its arguments' shapes (`symdiff.structured`'s builds by
shape, and the build for calls with numbers only, see `api.Derivative`) knows
the shape of every value whose shape its ops decide (`analysis/static_shapes.py`).
The reverse pass folds the forward values' `np.shape(x)` while it runs; this
pass reads the whole derivative, backward loops included, and folds what is
left there:

- `np.shape(x)`, `len(x)`, `np.ndim(x)`, `np.size(x)` of a value of known
  shape: a constant;
- `sum_to(x, s)` and `np.broadcast_to(x, s)` where `x` has shape `s`: `x`.

A value popped off a tape has the shape of the values pushed onto it, when
all of them have one known shape. In a scalar loop every value is a number
and the step's `np.shape` and `sum_to` calls (each a microsecond or so on a
number, as NumPy converts it to an array) all go.
"""

from __future__ import annotations

from symdiff.analysis.static_shapes import KnownShapes, Shape, function_shapes
from symdiff.ir.nodes import Const, Eqn, Function, If, Loop, Var, statements, walk
from symdiff.optimize.tapes import tape_groups
from symdiff.optimize.walk import rewrite_function

_QUERIES = ("shape", "len", "ndim", "size")
_NO_OPS = ("sum_to", "broadcast_to")


def fold_known_shapes(function: Function, params: dict[str, Shape]) -> Function:
    """`function` with shape queries of known shapes as constants, and shape no-ops dropped."""
    known = _shapes(function, params)

    def visit(eqn: Eqn, scope):
        if len(eqn.outs) != 1:
            return eqn
        if eqn.op in _QUERIES:
            folded = known.query(eqn.op, eqn.ins)
            return eqn if folded is None else folded
        if eqn.op in _NO_OPS:
            target = eqn.static_dict().get("shape")
            have = known.of(eqn.ins[0])
            if isinstance(target, Const) and have is not None and _as_shape(target.value) == have:
                return eqn.ins[0]
        return eqn

    return rewrite_function(function, visit)


def _shapes(function: Function, params: dict[str, Shape]) -> KnownShapes:
    """The known shapes of `function`'s values, each tape's pops given the shape of its pushes
    where they all have one (and taken for integers where all of those are); read again while
    that finds more."""
    groups, pushes, pops = tape_groups(function.body)
    given: dict[str, Shape] = dict(params)
    integers: frozenset[str] = frozenset()
    while True:
        known = function_shapes(function, given, integers)
        pushed: dict[str, set] = {}
        whole: dict[str, bool] = {}
        for push in pushes.values():
            group, value = groups.find(push.ins[0].name), push.ins[1]
            pushed.setdefault(group, set()).add(known.of(value))
            whole[group] = whole.get(group, True) and isinstance(value, Var) and value.name in known.integers
        more, more_integers = dict(given), set(integers)
        for pop in pops.values():
            group = groups.find(pop.ins[0].name)
            found = pushed.get(group, set())
            if len(found) == 1 and None not in found:
                more[pop.outs[1].name] = next(iter(found))
                if whole[group]:
                    more_integers.add(pop.outs[1].name)
        if more == given and more_integers == integers:
            return known
        given, integers = more, frozenset(more_integers)


def _as_shape(value) -> Shape | None:
    if isinstance(value, int):
        return (value,)
    if isinstance(value, tuple) and all(isinstance(n, int) for n in value):
        return value
    return None


# Ops whose result is a float64 number when their operands are float64 or integer numbers.
_TO_FLOAT = frozenset({
    "exp", "log", "sin", "cos", "tan", "tanh", "sinh", "cosh", "arcsin", "arccos", "arctan", "sqrt",
    "expm1", "log1p", "arctan2", "logaddexp", "truediv",
})  # fmt: skip
# ... and when at least one operand is a float64 number, the others integers.
_KEEP_FLOAT = frozenset({"add", "sub", "mul", "neg", "pos", "abs", "square", "maximum", "minimum", "grad_seed"})
FLOATS = (("floats", Const(True)),)  # the static of a tape of float64 numbers, and of its pops
PLAIN = (("floats", Const(False)),)  # a pop that may stay the Python float array.pop gives
# Ops printed as a NumPy function call: a NumPy number out, for a float as for an np.float64.
_NUMPY_CALLS = frozenset({
    "exp", "log", "sin", "cos", "tan", "tanh", "sinh", "cosh", "arcsin", "arccos", "arctan", "sqrt",
    "expm1", "log1p", "arctan2", "logaddexp", "maximum", "minimum", "square",
})  # fmt: skip


def number_tapes(function: Function, params: dict[str, str]) -> Function:
    """`function` (built for numbers: `params` maps each parameter to "f", a float64 number, or
    "i", a Python integer) with each tape that holds only float64 numbers marked `floats`: it is
    printed as `float_tape()`, an `array("d")` of 8 bytes an entry (a list holds 8 bytes of
    pointer and a 24- or 32-byte float object), and its pops as `np.float64(tape.pop())`, the
    NumPy number the rest of the code computed with, or, where only NumPy functions and
    arithmetic with a NumPy number read it, as the float `tape.pop()` (`_plain_pop`).

    A tape qualifies when every push pushes a value that provably is one (the ops above, from
    float64 parameters, constants, loop counters and other such tapes' pops; a loop's carried
    value is one when its first value and every iteration's result are) and nothing but pushes
    and pops reads it (a list a user's code builds and reads, or returns, stays a list).
    """
    groups, pushes, _ = tape_groups(function.body)
    readers = _tape_readers(function, groups)
    candidates = {groups.find(p.ins[0].name) for p in pushes.values()} - readers
    floats: set[str] = set()
    while True:
        floats = _float_values(function, params, candidates, groups)
        keep = {
            g
            for g in candidates
            if all(_pushes_float(p, floats) for p in pushes.values() if groups.find(p.ins[0].name) == g)
        }
        if keep == candidates:
            break
        candidates = keep
    if not candidates:
        return function

    numpy = _numpy_values(function, floats)
    readers: dict[str, list[Eqn]] = {}
    for eqn in walk(function.body):
        for atom in set(eqn.atoms()):
            if isinstance(atom, Var):
                readers.setdefault(atom.name, []).append(eqn)
    returned = {a.name for a in function.results() if isinstance(a, Var)}

    def visit(eqn: Eqn, scope):
        if eqn.op not in ("tape_new", "tape_pop") or groups.find(eqn.outs[0].name) not in candidates:
            return eqn
        if eqn.op == "tape_pop":
            name = eqn.outs[1].name
            plain = name not in returned and _plain_pop(eqn, readers.get(name, []), numpy)
            return Eqn(eqn.outs, eqn.op, eqn.ins, PLAIN if plain else FLOATS, eqn.loc, eqn.adjoint)
        return Eqn(eqn.outs, eqn.op, eqn.ins, FLOATS, eqn.loc, eqn.adjoint)

    return rewrite_function(function, visit)


def _pushes_float(push: Eqn, floats: set[str]) -> bool:
    return _is_float(push.ins[1], floats)


def _is_float(atom, floats: set[str]) -> bool:
    if isinstance(atom, Const):
        return isinstance(atom.value, float)
    return atom.name in floats


def _is_number(atom, floats: set[str], integers: set[str]) -> bool:
    if isinstance(atom, Const):
        return type(atom.value) is int or isinstance(atom.value, float)
    return atom.name in floats or atom.name in integers


def _tape_readers(function: Function, groups) -> set[str]:
    """The tape groups something other than a push or pop reads (or the function returns)."""
    tapes = set(groups.parent)
    found = {groups.find(a.name) for a in function.results() if isinstance(a, Var) and a.name in tapes}
    for eqn in walk(function.body):
        if eqn.op in ("tape_push", "tape_pop"):
            rest = eqn.ins[1:]
        else:
            rest = eqn.ins + tuple(a for _, a in eqn.static)
        found |= {groups.find(a.name) for a in rest if isinstance(a, Var) and a.name in tapes}
    for stmt in statements(function.body):
        if isinstance(stmt, Loop) and stmt.cond is not None and isinstance(stmt.cond, Var) and stmt.cond.name in tapes:
            found.add(groups.find(stmt.cond.name))
        if isinstance(stmt, If) and isinstance(stmt.cond, Var) and stmt.cond.name in tapes:
            found.add(groups.find(stmt.cond.name))
    return found


def _float_values(function: Function, params: dict[str, str], tapes: set[str], groups) -> set[str]:
    """The values that are float64 numbers, given that the pops of `tapes` are."""
    floats = {name for name, kind in params.items() if kind == "f"}
    integers = {name for name, kind in params.items() if kind == "i"}

    def step(eqn: Eqn, found: set[str], integers: set[str]) -> None:
        if len(eqn.outs) == 2 and eqn.op == "tape_pop":
            if groups.find(eqn.ins[0].name) in tapes:
                found.add(eqn.outs[1].name)
            return
        if len(eqn.outs) != 1 or eqn.static and eqn.op != "grad_seed":
            return
        if not all(_is_number(a, found, integers) for a in eqn.ins):
            return
        if eqn.op in _TO_FLOAT or (eqn.op in _KEEP_FLOAT and any(_is_float(a, found) for a in eqn.ins)):
            found.add(eqn.out.name)

    _propagate(function.body, floats, integers, step, _is_float)
    return floats


def _numpy_values(function: Function, floats: set[str]) -> set[str]:
    """Of the float64 numbers, those that are NumPy numbers (np.float64), not Python floats:
    what a NumPy function returns, and arithmetic with one such operand (np.float64's operators
    take over from a float's). The pops off float tapes are not counted (they may stay floats)."""
    numpy: set[str] = set()

    def step(eqn: Eqn, found: set[str], integers: set[str]) -> None:
        if len(eqn.outs) != 1 or eqn.out.name not in floats:
            return
        if eqn.op in _NUMPY_CALLS or eqn.op == "grad_seed" or any(_is_numpy(a, found) for a in eqn.ins):
            found.add(eqn.out.name)

    _propagate(function.body, numpy, set(), step, _is_numpy)
    return numpy


def _is_numpy(atom, found: set[str]) -> bool:
    return isinstance(atom, Var) and atom.name in found


def _plain_pop(pop: Eqn, readers: list[Eqn], numpy: set[str]) -> bool:
    """Whether the value popped by `pop` may stay the Python float `array.pop` gives: every
    reader is a NumPy function (which returns np.float64 for a float as for an np.float64), or
    `+`, `-`, `*` with a NumPy number (whose operators take over); a float's `/`, `**` or `%`
    raise where NumPy's give inf or nan, so anything else reads the np.float64 that was pushed."""
    value = pop.outs[1].name
    for eqn in readers:
        if eqn.op in _NUMPY_CALLS:
            continue
        others = [a for a in eqn.ins if not (isinstance(a, Var) and a.name == value)]
        if eqn.op in ("add", "sub", "mul") and len(others) == 1 and _is_numpy(others[0], numpy):
            continue
        return False
    return True


def _propagate(body, found: set[str], integers: set[str], step, member) -> None:
    """Run `step` over `body`'s equations in order; an `if`'s output is in `found` when both
    arms' are, a loop's carried value when its first value and every iteration's result are."""
    for stmt in body:
        if isinstance(stmt, Eqn):
            step(stmt, found, integers)
        elif isinstance(stmt, If):
            _propagate(stmt.then_body, found, integers, step, member)
            _propagate(stmt.else_body, found, integers, step, member)
            for out, a, b in zip(stmt.outs, stmt.then_results, stmt.else_results):
                if member(a, found) and member(b, found):
                    found.add(out.name)
        else:
            guesses = {c.name for c, i in zip(stmt.carried, stmt.inits) if member(i, found)}
            while True:
                trial, trial_integers = set(found) | guesses, set(integers)
                if stmt.index is not None:
                    trial_integers.add(stmt.index.name)
                _propagate(stmt.cond_body, trial, trial_integers, step, member)
                _propagate(stmt.body, trial, trial_integers, step, member)
                kept = {c.name for c, r in zip(stmt.carried, stmt.results) if c.name in guesses and member(r, trial)}
                if kept == guesses:
                    break
                guesses = kept
            found |= trial
            integers |= trial_integers
            found |= {o.name for c, o in zip(stmt.carried, stmt.outs) if c.name in guesses}


__all__ = ["FLOATS", "PLAIN", "fold_known_shapes", "number_tapes"]
