"""Scalar elementwise rules against SymPy: first and second derivatives.

The table below maps each elementwise op to the NumPy expression a user
writes and the same expression in SymPy. The NumPy side is written out as a
module of small functions (symdiff reads source, so they go to a file) and
differentiated with `symdiff.grad`, twice for second derivatives; the SymPy
side with `sympy.diff`. They must agree to near machine precision at points
inside each op's domain, away from kinks, so this is a stricter check than
finite differences.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
import sympy as sp

import symdiff as sd
from symdiff.rules import RULES

X, Y = sp.symbols("x y", real=True)
RTOL, ATOL = 1e-10, 1e-12
POINTS = (-1.3, -0.4, 0.3, 1.7)
POSITIVE = (0.3, 1.1, 2.5)
INSIDE = (-0.7, 0.1, 0.6)

# op: (NumPy expression in x, SymPy expression in X, points)
UNARY = {
    "neg": ("-x", -X, POINTS),
    "pos": ("+x", X, POINTS),
    "exp": ("np.exp(x)", sp.exp(X), POINTS),
    "log": ("np.log(x)", sp.log(X), POSITIVE),
    "log1p": ("np.log1p(x)", sp.log(1 + X), (-0.6, 0.3, 2.5)),
    "expm1": ("np.expm1(x)", sp.exp(X) - 1, POINTS),
    "sqrt": ("np.sqrt(x)", sp.sqrt(X), POSITIVE),
    "square": ("np.square(x)", X**2, POINTS),
    "sin": ("np.sin(x)", sp.sin(X), POINTS),
    "cos": ("np.cos(x)", sp.cos(X), POINTS),
    "tan": ("np.tan(x)", sp.tan(X), (-1.2, 0.3, 1.1)),
    "arcsin": ("np.arcsin(x)", sp.asin(X), INSIDE),
    "arccos": ("np.arccos(x)", sp.acos(X), INSIDE),
    "arctan": ("np.arctan(x)", sp.atan(X), POINTS),
    "sinh": ("np.sinh(x)", sp.sinh(X), POINTS),
    "cosh": ("np.cosh(x)", sp.cosh(X), POINTS),
    "tanh": ("np.tanh(x)", sp.tanh(X), POINTS),
    "abs": ("np.abs(x)", sp.Abs(X), POINTS),
    "float": ("float(x) * x", X**2, POINTS),
    "as_float": ("np.sin(x).astype(np.float64) * x", sp.sin(X) * X, POINTS),
    "clip": ("np.clip(x, -0.5, 0.7)", sp.Min(sp.Max(X, -0.5), 0.7), POINTS + (0.1,)),
    "pow": ("x**3.5 + 2.0**x", X**3.5 + 2**X, POSITIVE),
    "erf": ("scipy.special.erf(x)", sp.erf(X), POINTS),
    "expit": ("scipy.special.expit(x)", 1 / (1 + sp.exp(-X)), POINTS),
    "gammaln": ("scipy.special.gammaln(x)", sp.loggamma(X), POSITIVE),
    "digamma": ("scipy.special.digamma(x)", sp.polygamma(0, X), POSITIVE),
    "polygamma": ("scipy.special.polygamma(1, x)", sp.polygamma(1, X), POSITIVE),
    "ndtr": ("scipy.special.ndtr(x)", (1 + sp.erf(X / sp.sqrt(2))) / 2, POINTS),
    "log_ndtr": ("scipy.special.log_ndtr(x)", sp.log((1 + sp.erf(X / sp.sqrt(2))) / 2), POINTS + (-9.0,)),
}
# Aliases from the math module resolve to the same rules.
MATH = {
    "math_exp": ("math.exp(x)", sp.exp(X), POINTS),
    "math_tanh": ("math.tanh(x)", sp.tanh(X), POINTS),
    "math_sqrt": ("math.sqrt(x)", sp.sqrt(X), POSITIVE),
    "math_atan2": ("math.atan2(x, 1.5)", sp.atan2(X, 1.5), POINTS),
    "math_erf": ("math.erf(x)", sp.erf(X), POINTS),
    "math_lgamma": ("math.lgamma(x)", sp.loggamma(X), POSITIVE),
}
PAIRS = ((0.7, -1.3), (-0.4, 0.9), (1.6, 0.35))
# op: (NumPy expression in x and y, SymPy expression, points (x, y))
BINARY = {
    "add": ("x + y", X + Y, PAIRS),
    "sub": ("x - y", X - Y, PAIRS),
    "mul": ("x * y", X * Y, PAIRS),
    "truediv": ("x / y", X / Y, PAIRS),
    "pow": ("x**y", X**Y, ((0.7, -1.3), (1.4, 0.9), (2.6, 0.35))),
    "mod": ("x % y", X - Y * sp.floor(X / Y), ((2.3, 0.7), (-1.3, 0.9), (0.4, 1.1))),
    "arctan2": ("np.arctan2(x, y)", sp.atan2(X, Y), PAIRS),
    "maximum": ("np.maximum(x, y)", sp.Max(X, Y), PAIRS),
    "minimum": ("np.minimum(x, y)", sp.Min(X, Y), PAIRS),
    "logaddexp": ("np.logaddexp(x, y)", sp.log(sp.exp(X) + sp.exp(Y)), PAIRS),
    "where": ("np.where(x > y, x * y, y**2)", sp.Piecewise((X * Y, X > Y), (Y**2, True)), PAIRS),
}


def _source() -> str:
    lines = ["import math\n\nimport numpy as np\nimport scipy.special\n"]
    for name, (expression, _, _) in {**UNARY, **MATH}.items():
        lines.append(f"\ndef f_{name}(x):\n    return {expression}\n")
    for name, (expression, _, _) in BINARY.items():
        lines.append(f"\ndef g_{name}(x, y):\n    return {expression}\n")
    return "".join(lines)


@pytest.fixture(scope="module")
def functions(tmp_path_factory: pytest.TempPathFactory) -> ModuleType:
    """The NumPy side of the table, written to a module symdiff can read."""
    path: Path = tmp_path_factory.mktemp("sympy_rules") / "sympy_rules.py"
    path.write_text(_source())
    spec = importlib.util.spec_from_file_location("sympy_rules", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules.pop("sympy_rules", None)
    spec.loader.exec_module(module)
    return module


def _value(expression: sp.Expr, point: dict) -> float:
    # d/dx floor(x / y) is zero where it exists; SymPy leaves it unevaluated.
    expression = expression.replace(lambda e: isinstance(e, sp.Subs) and e.has(sp.floor), lambda e: sp.Integer(0))
    return float(expression.subs(point).evalf(30))


def _close(got: float, want: float, what: str) -> None:
    assert abs(got - want) <= ATOL + RTOL * abs(want), f"{what}: symdiff {got!r}, sympy {want!r}"


def test_every_elementwise_op_is_in_the_table() -> None:
    elementwise = {op for op, rule in RULES.items() if rule.elementwise and rule.differentiable}
    assert elementwise <= set(UNARY) | set(BINARY), sorted(elementwise - set(UNARY) - set(BINARY))


@pytest.mark.parametrize("name", [*UNARY, *MATH])
def test_unary_first_and_second_derivative(functions: ModuleType, name: str) -> None:
    _, expression, points = {**UNARY, **MATH}[name]
    f = getattr(functions, f"f_{name}")
    first, second = sd.grad(f), sd.grad(sd.grad(f))
    for p in points:
        _close(float(first(p)), _value(sp.diff(expression, X), {X: p}), f"d/dx {name} at {p}")
        _close(float(second(p)), _value(sp.diff(expression, X, 2), {X: p}), f"d2/dx2 {name} at {p}")


@pytest.mark.parametrize("name", BINARY)
def test_binary_partials_and_hessian(functions: ModuleType, name: str) -> None:
    _, expression, points = BINARY[name]
    g = getattr(functions, f"g_{name}")
    gradient = sd.grad(g, wrt=(0, 1))
    hessian_rows = [sd.grad(sd.grad(g, wrt=k), wrt=(0, 1)) for k in (0, 1)]
    for p, q in points:
        at = {X: p, Y: q}
        for k, (got, var) in enumerate(zip(gradient(p, q), (X, Y))):
            _close(float(got), _value(sp.diff(expression, var), at), f"d{name}/d{var} at {p, q}")
            for got2, var2 in zip(hessian_rows[k](p, q), (X, Y)):
                _close(float(got2), _value(sp.diff(expression, var, var2), at), f"d2{name}/d{var}d{var2} at {p, q}")


def test_tanh_reuses_its_output_accurately_where_it_saturates(functions: ModuleType) -> None:
    # The rule writes (1 - out)(1 + out): tiny absolute error, growing relative error (STYLE.md).
    for p in (5.0, 8.0, 12.0):
        exact = _value(sp.diff(sp.tanh(X), X), {X: p})
        assert abs(float(sd.grad(functions.f_tanh)(p)) - exact) <= 1e-15
        assert np.isfinite(float(sd.grad(sd.grad(functions.f_tanh))(p)))
