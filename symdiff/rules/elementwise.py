"""Elementwise rules: arithmetic operators and NumPy ufuncs.

Every rule here is flagged `elementwise`, so the reverse transform wraps each
cotangent in `sum_to(..., np.shape(arg))` to undo broadcasting; the rules state
only the calculus. Rules reuse the forward value `out` where that saves a
transcendental (exp, tanh, sqrt). The cotangent multiplies last, `g * (factor)`:
forward mode passes a batch of tangents as `g` (`hessian`, `jacobian`), so the
factor is made once at the operand's size and the batch is swept once. Checked
against SymPy in tests/rules.
"""

from __future__ import annotations

import math
import operator

import numpy as np

from symdiff.rules.registry import register_derivative, register_nondiff
from symdiff.rules.shapes import as_float, as_integer


@register_derivative(np.add, op="add", elementwise=True, aliases=(operator.add,))
def add_vjp(g, out, x1, x2):
    return g, g


@register_derivative(np.subtract, op="sub", elementwise=True, aliases=(operator.sub,))
def sub_vjp(g, out, x1, x2):
    return g, -g


@register_derivative(np.multiply, op="mul", elementwise=True, aliases=(operator.mul,))
def mul_vjp(g, out, x1, x2):
    return g * x2, g * x1


@register_derivative(np.true_divide, op="truediv", elementwise=True, aliases=(operator.truediv, np.divide))
def truediv_vjp(g, out, x1, x2):
    return g / x2, -g * out / x2


@register_derivative(np.power, op="pow", elementwise=True, aliases=(operator.pow, math.pow))
def pow_vjp(g, out, x1, x2):
    # Where x2 is 0 the factor is 0 (x ** 0 is constant), not 0 * 0 ** -1 = nan at x1 = 0: the
    # exponent is swapped for 1 there; a constant exponent folds the where away. The exponent is
    # a float because Numba raises ZeroDivisionError for 0.0 ** -1 (NumPy and 0.0 ** -1.0 give inf).
    # d/dx2 needs log(x1): only computed when x2 is differentiated.
    return g * (x2 * x1 ** np.where(x2 == 0, 1.0, x2 - 1.0)), g * (out * np.log(x1))


@register_derivative(np.negative, op="neg", elementwise=True, aliases=(operator.neg,))
def neg_vjp(g, out, x):
    return -g


@register_derivative(np.positive, op="pos", elementwise=True, aliases=(operator.pos,))
def pos_vjp(g, out, x):
    return g


@register_derivative(np.mod, op="mod", elementwise=True, aliases=(operator.mod, np.remainder))
def mod_vjp(g, out, x1, x2):
    return g, -g * np.floor(x1 / x2)


@register_derivative(np.exp, elementwise=True, aliases=(math.exp,))
def exp_vjp(g, out, x):
    return g * out


@register_derivative(np.log, elementwise=True, aliases=(math.log,))
def log_vjp(g, out, x):
    return g / x


@register_derivative(np.log1p, elementwise=True, aliases=(math.log1p,))
def log1p_vjp(g, out, x):
    return g / (1.0 + x)


@register_derivative(np.expm1, elementwise=True, aliases=(math.expm1,))
def expm1_vjp(g, out, x):
    return g * (out + 1.0)


@register_derivative(np.sqrt, elementwise=True, aliases=(math.sqrt,))
def sqrt_vjp(g, out, x):
    # At 0 the slope is infinite; 0 is taken instead (as for abs and norm), so that
    # np.sqrt(np.sum(x * x)) has the gradient 0 at x = 0 rather than inf * 0 = nan.
    return g * 0.5 / np.where(out == 0.0, np.inf, out)


@register_derivative(np.square, elementwise=True)
def square_vjp(g, out, x):
    return g * (2.0 * x)


@register_derivative(np.sin, elementwise=True, aliases=(math.sin,))
def sin_vjp(g, out, x):
    return g * np.cos(x)


@register_derivative(np.cos, elementwise=True, aliases=(math.cos,))
def cos_vjp(g, out, x):
    return -g * np.sin(x)


@register_derivative(np.tan, elementwise=True, aliases=(math.tan,))
def tan_vjp(g, out, x):
    return g * (1.0 + out * out)


@register_derivative(np.arcsin, elementwise=True, aliases=(math.asin,))
def arcsin_vjp(g, out, x):
    return g / np.sqrt(1.0 - x * x)


@register_derivative(np.arccos, elementwise=True, aliases=(math.acos,))
def arccos_vjp(g, out, x):
    return -g / np.sqrt(1.0 - x * x)


@register_derivative(np.arctan, elementwise=True, aliases=(math.atan,))
def arctan_vjp(g, out, x):
    return g / (1.0 + x * x)


@register_derivative(np.arctan2, elementwise=True, aliases=(math.atan2,))
def arctan2_vjp(g, out, x1, x2):
    # At the origin (a jump, no derivative) both partials are taken as 0, as for |x| at 0, so a
    # zero cotangent through it stays 0 instead of 0 * nan.
    squares = x1 * x1 + x2 * x2
    safe = np.where(squares == 0.0, 1.0, squares)
    return g * x2 / safe, -g * x1 / safe


@register_derivative(np.sinh, elementwise=True, aliases=(math.sinh,))
def sinh_vjp(g, out, x):
    return g * np.cosh(x)


@register_derivative(np.cosh, elementwise=True, aliases=(math.cosh,))
def cosh_vjp(g, out, x):
    return g * np.sinh(x)


@register_derivative(np.tanh, elementwise=True, aliases=(math.tanh,))
def tanh_vjp(g, out, x):
    # Reuses the forward value; tests use an absolute tolerance where tanh saturates.
    return g * ((1.0 - out) * (1.0 + out))


@register_derivative(np.absolute, op="abs", elementwise=True, path="np.abs", aliases=(abs, math.fabs, np.fabs))
def abs_vjp(g, out, x):
    return g * np.sign(x)


@register_derivative(np.maximum, elementwise=True, aliases=(max,))
def maximum_vjp(g, out, x1, x2):
    # Ties split the cotangent evenly, as JAX does. Masks multiply g directly,
    # so a float32 cotangent stays float32 (0.5 * a bool mask would be float64).
    tie = 0.5 * g * (x1 == x2)
    return g * (x1 > x2) + tie, g * (x2 > x1) + tie


@register_derivative(np.minimum, elementwise=True, aliases=(min,))
def minimum_vjp(g, out, x1, x2):
    tie = 0.5 * g * (x1 == x2)
    return g * (x1 < x2) + tie, g * (x2 < x1) + tie


@register_derivative(np.where, elementwise=True)
def where_vjp(g, out, condition, x, y):
    return None, np.where(condition, g, 0.0), np.where(condition, 0.0, g)


@register_derivative(np.clip, elementwise=True)
def clip_vjp(g, out, a, a_min, a_max):
    # `out == a` marks the unclipped elements and works with a bound of None;
    # a None bound has no cotangent, so its comparison is never computed.
    return g * (out == a), g * (a < a_min), g * (a > a_max)


@register_derivative(np.logaddexp, elementwise=True)
def logaddexp_vjp(g, out, x1, x2):
    # The weights exp(x1 - out) and exp(x2 - out), from exponentials of numbers <= 0 (no overflow)
    # rather than through the rounded `out` (which costs up to |out| ulp): accurate to a few ulp.
    e1 = np.exp(np.minimum(x1 - x2, 0.0))
    e2 = np.exp(np.minimum(x2 - x1, 0.0))
    return g * e1 / (e1 + e2), g * e2 / (e1 + e2)


@register_derivative(float, op="float", elementwise=True, path="float")
def float_vjp(g, out, x):
    return g


@register_derivative(as_float, static=("dtype",), elementwise=True, helper=True)
def as_float_vjp(g, out, x, dtype):
    return g


register_nondiff(as_integer, helper=True)


# Piecewise-constant functions and predicates: zero derivative by structure.
for _func, _op, _aliases in [
    (np.sign, "sign", ()),
    (np.floor, "floor", (math.floor,)),
    (np.ceil, "ceil", (math.ceil,)),
    (np.round, "round", ()),
    (np.floor_divide, "floordiv", (operator.floordiv,)),
    (np.less, "lt", (operator.lt,)),
    (np.less_equal, "le", (operator.le,)),
    (np.greater, "gt", (operator.gt,)),
    (np.greater_equal, "ge", (operator.ge,)),
    (np.equal, "eq", (operator.eq,)),
    (np.not_equal, "ne", (operator.ne,)),
    (np.logical_and, "logical_and", ()),
    (np.logical_or, "logical_or", ()),
    (np.logical_not, "logical_not", ()),
    (np.isnan, "isnan", (math.isnan,)),
    (np.isfinite, "isfinite", (math.isfinite,)),
    (operator.not_, "not_", ()),
    (operator.and_, "and_", ()),
    (operator.or_, "or_", ()),
    (int, "int", ()),
    (bool, "bool", ()),
]:
    register_nondiff(_func, op=_op, aliases=_aliases, path=None if _op not in ("int", "bool") else _op)
