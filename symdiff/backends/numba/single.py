"""The float32 twin of a generated Numba module, and which calls run it.

NumPy computes `float32 array * 2.5` in float32: a Python float is a weak
scalar that takes the array's dtype (NEP 50). Numba types the literal `2.5`
as float64 and computes the product in float64, so one Numba module run on
float32 arguments would compute in float64 anyway (and a loop variable that
starts as a float32 array would become a float64 one). A gradient called with
float32 arrays therefore runs a twin of its module, printed from the
float64 one by `in_float32`, where what NumPy treats as a weak float is a
float32:

- a float literal `c` (and `np.inf`, `np.nan`, `np.pi`, `np.e`) is
  `np.float32(c)`; `float(v)` is `np.float32(v)`;
- `np.zeros(shape)`, `np.ones(shape)`, `np.empty(shape)`, `np.eye(n)` and
  `np.identity(n)` without a dtype (seeds, scatter-add buffers) are float32;
- a name next to such a literal in `+ - * / ** ...` is `weak32(name)`: a
  scalar is rounded to float32 (Numba types `np.float32(1.0) / count` as
  float64, NumPy's weak `1.0 / count` meets float32 arrays as float32), an
  array stays as it is;
- `a / b` is `divide32(a, b)`: an integer or float64 scalar divided into
  (or dividing) a float32 value is taken as float32, as NumPy takes a weak
  Python number; Numba types `float32 / int64` as float64, and the mean's
  cotangent `g / count` (count a Python number in NumPy, an int64 in Numba)
  widened every value after it to float64, the products of the logistic
  regression's matrix among them (a widened copy of the matrix per call);
- a literal inside `np.float64(...)` stays a float64 one: the loop kernels
  accumulate sums in float64 and round the total once (`float(total)`).

`float32_call(args, constants)` says whether a call runs the twin: every
floating array or NumPy scalar among the arguments and module constants is
float32 (and there is one), none is complex. Such a call's Python floats and
float constants are passed as float32, as NumPy's weak scalars would act; any
other call with a float16/float32 value runs the float64 module on widened
copies, as before. Imports only LibCST and NumPy.
"""

from __future__ import annotations

from typing import Any

import libcst as cst
import numpy as np

WEAK = "weak32"  # symdiff.backends.numba.helpers.weak32
DIVIDE = "divide32"  # symdiff.backends.numba.helpers.divide32
_HELPERS = "from symdiff.backends.numba.helpers import "
_NUMPY_FLOATS = frozenset({"inf", "nan", "pi", "e"})
_FLOAT64_BY_DEFAULT = {"zeros": 1, "ones": 1, "empty": 1, "eye": 1, "identity": 1}  # positional args before dtype


def _float32(value: cst.BaseExpression) -> cst.Call:
    return cst.Call(cst.Attribute(cst.Name("np"), cst.Name("float32")), [cst.Arg(value)])


def _weak(name: cst.Name) -> cst.Call:
    return cst.Call(cst.Name(WEAK), [cst.Arg(name)])


def _is_float32(node: cst.BaseExpression) -> bool:
    """Whether `node` is `np.float32(...)`, a literal made float32 (or its negation)."""
    while isinstance(node, cst.UnaryOperation):
        node = node.expression
    return isinstance(node, cst.Call) and _is_numpy(node.func, frozenset({"float32"})) is not None


def _is_numpy(node: cst.BaseExpression, names: frozenset[str] | dict) -> str | None:
    """`name` when `node` is `np.name` for one of `names`."""
    if isinstance(node, cst.Attribute) and isinstance(node.value, cst.Name) and node.value.value == "np":
        return node.attr.value if node.attr.value in names else None
    return None


class _InFloat32(cst.CSTTransformer):
    """Weak floats of the float64 module as float32 (see the module docstring)."""

    def __init__(self) -> None:
        super().__init__()
        self.typed_depth = 0  # inside np.float64(...) / np.float32(...): literals keep their type

    def visit_Call(self, node: cst.Call) -> bool:
        if _is_numpy(node.func, frozenset({"float64", "float32"})):
            self.typed_depth += 1
        return True

    def leave_Call(self, original: cst.Call, updated: cst.Call) -> cst.BaseExpression:
        if _is_numpy(original.func, frozenset({"float64", "float32"})):
            self.typed_depth -= 1
            return updated
        if isinstance(updated.func, cst.Name) and updated.func.value == "float":
            return updated.with_changes(func=cst.Attribute(cst.Name("np"), cst.Name("float32")))
        constructor = _is_numpy(updated.func, _FLOAT64_BY_DEFAULT)
        positional = updated.args and updated.args[0].keyword is None and updated.args[0].star == ""
        if constructor and positional and len(updated.args) == _FLOAT64_BY_DEFAULT[constructor]:
            dtype = cst.Arg(cst.Attribute(cst.Name("np"), cst.Name("float32")))
            return updated.with_changes(args=[*updated.args, dtype])
        return updated

    def leave_BinaryOperation(self, original: cst.BinaryOperation, updated: cst.BinaryOperation) -> cst.BaseExpression:
        if self.typed_depth:
            return updated
        left, right = updated.left, updated.right
        if _is_float32(left) and isinstance(right, cst.Name):
            return updated.with_changes(right=_weak(right))
        if _is_float32(right) and isinstance(left, cst.Name):
            return updated.with_changes(left=_weak(left))
        if isinstance(updated.operator, cst.Divide):
            return cst.Call(cst.Name(DIVIDE), [cst.Arg(left), cst.Arg(right)])
        return updated

    def leave_Float(self, original: cst.Float, updated: cst.Float) -> cst.BaseExpression:
        return updated if self.typed_depth else _float32(updated)

    def leave_Attribute(self, original: cst.Attribute, updated: cst.Attribute) -> cst.BaseExpression:
        return _float32(updated) if not self.typed_depth and _is_numpy(updated, _NUMPY_FLOATS) else updated


def in_float32(source: str) -> str:
    """The float32 twin of a generated Numba module's source (see the module docstring)."""
    text = cst.parse_module(source).visit(_InFloat32()).code
    used = [name for name in (DIVIDE, WEAK) if f"{name}(" in text]
    if not used:
        return text
    lines = text.split("\n")
    for k, line in enumerate(lines):
        if line.startswith(_HELPERS):
            names = sorted({*line[len(_HELPERS) :].split(", "), *used})
            lines[k] = _HELPERS + ", ".join(names)
            return "\n".join(lines)
    at = next(k for k, line in enumerate(lines) if line == "import numpy as np") + 1
    return "\n".join([*lines[:at], _HELPERS + ", ".join(used), *lines[at:]])


def _floating(value: Any) -> np.dtype | None:
    dtype = getattr(value, "dtype", None)
    if dtype is None or not isinstance(value, (np.ndarray, np.generic)):
        return None
    return dtype if dtype.kind in "fc" else None


def float32_call(values: tuple) -> bool:
    """Whether a call with these arguments (and module constants) runs the float32 twin."""
    found = False
    for value in values:
        dtype = _floating(value)
        if dtype is None:
            continue
        if dtype != np.float32:
            return False
        found = True
    return found


def as_float32(value: Any) -> Any:
    """A Python float as a float32 (a weak scalar meeting float32 arrays); anything else as it is."""
    return np.float32(value) if type(value) is float else value


def widened(value: Any) -> Any:
    """float16/float32 arrays and scalars as float64, for the float64 module: Numba types a
    variable once, and float32 values mixed with float64 ones would give a variable two types
    (`acc = 0.0`, then `acc = acc + x32`). Gradients are cast back to the argument's dtype."""
    dtype = getattr(value, "dtype", None)
    if dtype is None or dtype.kind != "f" or dtype.itemsize >= 8:
        return value
    return np.float64(value) if isinstance(value, np.generic) else value.astype(np.float64)


__all__ = ["as_float32", "float32_call", "in_float32", "widened"]
