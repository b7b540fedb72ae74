"""What the Numba backend can lower, checked over the IR when a gradient is built.

`check_supported(function)` walks every equation (in every block) and raises
a `BackendError` at the user's statement (`Eqn.loc`) for the first one the
backend cannot compile whatever the arguments' types, with what to write
instead. The facts live here, in one place, and the lowering reads its op
tables from this module:

- the ops it prints (`SUPPORTED_OPS`): NumPy calls Numba compiles, the
  helpers of `helpers.py`, and the renamed calls (`RENAMED`,
  `REDUCTIONS`) whose keywords the helper must take too (a dropped
  `dtype=` would change the answer);
- static forms: `np.squeeze` without `axis` (its rank depends on the data),
  a list that starts empty and grows by `append` in a loop (its rank is
  known only from its first item),
  a loop variable that starts as a scalar constant and that the body
  provably makes an array (from a constructor or a module array),
  `np.einsum` (no Numba implementation), and cotangents scattered through an
  index that mixes integer arrays with slices or integers (`x[:, [1]]`):
  Numba's `x[index]` is then a copy, and adding into it would lose the
  cotangent.

What depends on the arguments' types (a loop variable that starts as a
float and becomes an array because an argument is one, a float32 array that
Numba's `f * 0.5` makes float64) can only be seen at the first call;
`errors` reports it. Imports: ir, rules, errors and
`helpers.py` (for the helpers it has overloads of).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from symdiff.backends.numba import helpers
from symdiff.errors import BackendError
from symdiff.ir.nodes import Atom, Const, Eqn, Function, Loop, Var, loops, walk
from symdiff.rules import RULES

REDUCTIONS = {"sum": "reduce_sum", "mean": "reduce_mean", "max": "reduce_max", "min": "reduce_min", "prod": "reduce_prod"}  # fmt: skip
RENAMED = {
    "reshape": "reshape_to", "ndim": "array_ndim", "squeeze": "squeeze_axis", "zeros_like": "zeros_like_of",
    "ones_like": "ones_like_of", "empty_like": "empty_like_of", "full_like": "full_like_of",
    "broadcast_to": "broadcast_to_of", "shape": "shape_of", "size": "size_of", "matmul": "matmul_of",
    "dot": "dot_of", "transpose": "transpose_of", "ravel": "ravel_of", "float": "float_of",
    "expand_dims": "expand_dims_of", "clip": "clip_of", "delete": "delete_of", "linspace": "linspace_of",
}  # fmt: skip
CONTROL_OPS = frozenset({"tape_new", "tape_push", "tape_pop", "setitem", "add_at"})
NUMPY_OPS = frozenset({
    "add", "sub", "mul", "truediv", "pow", "neg", "pos", "mod", "floordiv", "exp", "log", "log1p", "expm1",
    "sqrt", "square", "sin", "cos", "tan", "arcsin", "arccos", "arctan", "arctan2", "sinh", "cosh", "tanh",
    "abs", "maximum", "minimum", "where", "clip", "logaddexp", "float", "int", "bool", "sign", "floor", "ceil",
    "round", "lt", "le", "gt", "ge", "eq", "ne", "logical_and", "logical_or", "logical_not", "isnan",
    "isfinite", "not_", "and_", "or_", "zeros", "ones", "empty", "zeros_like", "ones_like", "empty_like",
    "full", "full_like", "arange", "eye", "linspace", "shape", "size", "argmax", "argmin", "len",
    "broadcast_shapes", "index_array", "make_tuple", "make_slice", "matmul", "dot", "outer", "transpose", "swapaxes", "ravel", "expand_dims",
    "broadcast_to", "getitem", "concatenate", "stack", "copy", "tuple_add", "diag",
})  # fmt: skip
SUPPORTED_OPS = NUMPY_OPS | set(REDUCTIONS) | set(RENAMED) | CONTROL_OPS

_FALLBACK = "use backend='numpy', or set SYMDIFF_NUMBA_FALLBACK=numpy to fall back with a warning"
_HINTS = {
    "einsum": "write the contraction with @, np.sum and broadcasting (e.g. np.einsum('ij,jk->ik', a, b) is a @ b), "
    "or use backend='numpy'",
}
# Ops whose value is a boolean array when used as an index: `x[index]` prints as `masked_of(x, index)`.
MASK_OPS = frozenset(
    {"lt", "le", "gt", "ge", "eq", "ne", "logical_and", "logical_or", "logical_not", "isnan", "isfinite"}
)
# Ops whose value is an integer or boolean array when used as an index (masks, `np.array([0, 2])`, ...).
_ARRAY_INDEX_OPS = MASK_OPS | {"index_array", "stack", "arange", "concatenate"}
_SCATTERS = frozenset({"scatter_add", "add_at", "setitem"})
_NO_DTYPE = frozenset({"dtype"})  # the renamed helpers make float64 (or the argument's type) only

Problem = tuple[str, str]  # (message, hint)


def check_supported(function: Function) -> None:
    """Raise `BackendError` at the user's statement for anything the Numba backend cannot compile."""
    defs = {e.out.name: e for e in walk(function.body) if len(e.outs) == 1}
    for eqn in walk(function.body):
        for check in _CHECKS:
            problem = check(eqn, defs)
            if problem is not None:
                raise BackendError(problem[0], eqn.loc, problem[1])
    arrays = {name for name, value in function.free if np.ndim(value) > 0}
    for loop in loops(function.body):
        problem = _scalar_becomes_array(loop, defs, arrays)
        if problem is not None:
            raise BackendError(problem[0], loop.loc, problem[1])
        for init, result in zip(loop.inits, loop.results):
            if _started_empty(init, result, defs):
                start = defs[init.name].loc if isinstance(init, Var) and init.name in defs else loop.loc
                raise BackendError(
                    "a list that starts empty and grows by append in a loop: Numba gives a variable one type, "
                    "and the empty list's rank is known only from its first item",
                    start,
                    "start the list with its first item (out = [first], then append in the loop), or use "
                    "backend='numpy'",
                )


def _started_empty(init: Atom, result: Atom, defs: dict) -> bool:
    """A loop value grown by `append_row` whose first value is the empty list (`zeros((0,))`)."""
    grown = isinstance(result, Var) and result.name in defs and defs[result.name].op == "append_row"
    if not grown:
        return False
    if isinstance(init, Const):
        return np.size(init.value) == 0
    made = defs.get(init.name)
    return made is not None and made.op == "zeros" and made.ins[:1] == (Const((0,)),)


def _scalar_becomes_array(loop: Loop, defs: dict, arrays: set[str]) -> Problem | None:
    """A loop variable that starts as a scalar constant and that the body provably makes an array.

    Numba gives a variable one type, so this fails at the first call otherwise. Where the array comes
    from an argument (`acc = 0.0`, then `acc = acc + x`), only the argument's type shows it, at the call.
    """
    for carried, init, result in zip(loop.carried, loop.inits, loop.results):
        scalar = isinstance(init, Const) and isinstance(init.value, (bool, int, float))
        if scalar and _array_valued(result, defs, arrays, 0):
            message = (
                f"the loop variable {carried.name!r} starts as the scalar {init.value!r} and the loop makes it an "
                "array, but Numba gives each variable one type"
            )
            return (
                message,
                "start it as an array of the shape the loop gives it (np.zeros(...), np.zeros_like(...)), or use backend='numpy'",
            )
    return None


_ARRAY_MAKERS = frozenset({"zeros", "ones", "empty", "full", "arange", "eye", "linspace", "index_array", "outer"})
_LIKE = frozenset({"zeros_like", "ones_like", "empty_like", "full_like", "copy"})


def _array_valued(atom: Atom, defs: dict, arrays: set[str], depth: int) -> bool:
    """Whether `atom` is provably an array of rank 1 or more: made by a constructor or read from a module
    array, through elementwise ops (any array operand makes the result one)."""
    if not isinstance(atom, Var) or depth > 40:
        return False
    if atom.name in arrays:
        return True
    eqn = defs.get(atom.name)
    if eqn is None:
        return False
    if eqn.op in _ARRAY_MAKERS:
        return not (eqn.ins and isinstance(eqn.ins[0], Const) and eqn.ins[0].value == ())
    if eqn.op in _LIKE or (eqn.op in RULES and RULES[eqn.op].elementwise):
        return any(_array_valued(a, defs, arrays, depth + 1) for a in eqn.ins)
    return False


def _unknown_op(eqn: Eqn, defs: dict) -> Problem | None:
    helper = eqn.op in RULES and RULES[eqn.op].helper and RULES[eqn.op].path in helpers.__all__
    if eqn.op in SUPPORTED_OPS or helper:
        return None
    if eqn.op == "call":  # a random draw or another call run as it is (rules/opaque.py)
        callee = eqn.static_dict()["callee"].value
        return (
            f"{callee}() is run as it is only by the numpy backend",
            "draw outside and pass the values in, " + _FALLBACK,
        )
    path = RULES[eqn.op].path if eqn.op in RULES else eqn.op
    return f"{path} ({eqn.op!r}) is not supported by the numba backend", _HINTS.get(eqn.op, _FALLBACK)


def _dropped_keyword(eqn: Eqn, defs: dict) -> Problem | None:
    # The helper Numba calls instead takes no such keyword: refuse rather than ignore it.
    dropped = [
        k for k, atom in eqn.static
        if eqn.op in RENAMED and (k not in RULES[eqn.op].static or k in _NO_DTYPE and atom != Const(None))
    ]  # fmt: skip
    if not dropped:
        return None
    message = f"{RULES[eqn.op].path}(..., {dropped[0]}=...) is not supported by the numba backend"
    return message, "leave the keyword out if it is not needed, or use backend='numpy'"


def _squeeze_without_axis(eqn: Eqn, defs: dict) -> Problem | None:
    if eqn.op != "squeeze" or eqn.static_dict().get("axis", Const(None)) != Const(None):
        return None
    return (
        "np.squeeze without axis is not supported by the numba backend: its rank depends on the data",
        "pass axis=... explicitly",
    )


def _mixed_index(eqn: Eqn, defs: dict) -> Problem | None:
    """An integer array or mask next to slices or integers in the index of a write or a scattered cotangent."""
    if eqn.op not in _SCATTERS:
        return None
    index = eqn.static_dict().get("index")
    items = _index_items(index, defs)
    kinds = {_kind(item, defs) for item in items}
    if "array" not in kinds or not kinds & {"basic"}:
        return None
    what = "writing through" if eqn.op == "setitem" else "differentiating"
    message = (
        f"{what} an index that mixes an integer array or mask with slices or integers is not supported by the "
        "numba backend (Numba's x[index] is then a copy)"
    )
    return (
        message,
        "index with slices only (x[:, 1:2] for x[:, [1]]), or with one integer array per axis, or use backend='numpy'",
    )


def _index_items(index: Atom | None, defs: dict) -> tuple:
    if isinstance(index, Const):
        return index.value if isinstance(index.value, tuple) else (index.value,)
    eqn = defs.get(index.name) if isinstance(index, Var) else None
    if eqn is not None and eqn.op == "make_tuple":
        return eqn.ins
    return (index,)


def _kind(item, defs: dict) -> str:
    """`array` (known integer array or mask), `basic` (slice, integer, None, ...), or `unknown`."""
    if isinstance(item, Const):
        value = item.value
        return "array" if isinstance(value, list) else "basic"
    if not isinstance(item, Var):
        return "basic"  # a raw constant inside a Const tuple (slice, int, None, Ellipsis)
    eqn = defs.get(item.name)
    if eqn is None:
        return "unknown"  # an argument or a loop counter: an integer or an array, known only at the call
    if eqn.op in _ARRAY_INDEX_OPS:
        return "array"
    return "basic" if eqn.op in ("make_slice", "len", "size", "ndim", "int", "argmax", "argmin") else "unknown"


_CHECKS: list[Callable[[Eqn, dict], Problem | None]] = [
    _unknown_op,
    _dropped_keyword,
    _squeeze_without_axis,
    _mixed_index,
]


__all__ = ["MASK_OPS", "REDUCTIONS", "RENAMED", "SUPPORTED_OPS", "check_supported"]
