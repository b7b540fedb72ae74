"""Expression templates for the fuzzer's programs, keyed by the derivative table's op names.

`{0}` and `{1}` stand for operands (names or small expressions). Each template
keeps its op inside its domain for any real operand (`np.log(1.5 +
np.sin(a))`, `np.sqrt(1.0 + a * a)`, `np.arcsin(0.9 * np.tanh(a))`) and its
value bounded, so a program of them runs finitely almost everywhere. The few
templates that leave the domain on purpose are in `GUARDED` (NumPy computes
both branches of `np.where`; the untaken one may be `nan`). Some are the
textbook forms the stability pass rewrites (`np.log(1.0 + np.exp(a))`,
`np.log(np.sum(np.exp(a)))`), so its stable forms meet both oracles too.

`tests/fuzz/test_fuzz.py` checks that every elementwise op of
`symdiff.rules.RULES` has a template here, so the table cannot grow past the
fuzzer unnoticed.
"""

from __future__ import annotations

# Elementwise ops of one operand: any shape.
UNARY: dict[str, list[str]] = {
    "neg": ["-{0}", "np.negative({0})"],
    "pos": ["+{0}", "np.positive({0})"],
    "exp": ["np.exp(np.tanh({0}))", "np.exp(-{0} * {0})", "np.exp(np.sin({0}))"],
    "log": [
        "np.log(1.5 + np.sin({0}))", "np.log(1.0 + {0} * {0})", "np.log(np.exp(np.tanh({0})))",
        "np.log(1.0 + np.exp({0}))", "np.log1p(np.exp(2.0 * {0}))", "np.log(1.0 / (1.0 + np.exp(-{0})))",
    ],
    "log1p": ["np.log1p({0} * {0})", "np.log1p(0.5 * np.tanh({0}))"],
    "expm1": ["np.expm1(np.cos({0}))", "np.expm1(np.tanh({0}))", "np.exp(np.sin({0})) - 1.0"],
    "sqrt": ["np.sqrt(1.0 + {0} * {0})", "np.sqrt(np.exp(np.sin({0})))", "np.sqrt(np.abs({0}) + 0.5)"],
    "square": ["np.square({0})", "np.square(np.sin({0}))"],
    "sin": ["np.sin({0})"],
    "cos": ["np.cos({0})"],
    "tan": ["np.tan(0.5 * np.tanh({0}))", "np.tan(np.sin({0}))"],
    "arcsin": ["np.arcsin(0.9 * np.tanh({0}))", "np.arcsin(0.5 * np.sin({0}))"],
    "arccos": ["np.arccos(0.9 * np.sin({0}))", "np.arccos(0.9 * np.tanh({0}))"],
    "arctan": ["np.arctan({0})"],
    "sinh": ["np.sinh(np.tanh({0}))", "np.sinh(0.5 * np.sin({0}))"],
    "cosh": ["np.cosh(np.sin({0}))", "np.cosh(np.tanh({0}))"],
    "tanh": ["np.tanh({0})"],
    "abs": ["np.abs({0})", "np.absolute({0})", "np.fabs({0})", "abs({0})"],
    "clip": ["np.clip({0}, -0.5, 0.5)", "{0}.clip(-1.0, 1.0)", "np.clip({0}, 0.2, 0.8)"],
    "pow": [
        "{0} ** 2", "{0} ** 3", "{0} ** 0", "{0} ** 1", "{0} ** 2.0", "np.power({0}, 2)",
        "(1.0 + {0} * {0}) ** 0.5", "(1.0 + {0} * {0}) ** -1.5", "np.power(2.0 + np.tanh({0}), 1.5)",
        "2.0 ** np.tanh({0})",
    ],
    "mod": ["{0} % 1.5", "np.remainder({0}, 2.0)"],
    "add": ["{0} + 1.0", "2.0 + {0}"],
    "sub": ["{0} - 0.5", "1.0 - {0}"],
    "mul": ["0.5 * {0}", "{0} * {0}", "{0} * -2.0"],
    "truediv": ["{0} / 3.0", "1.0 / (1.5 + np.sin({0}))", "{0} / (1.0 + {0} * {0})"],
    # SciPy's special functions (scipy.special, imported by the program).
    "erf": ["scipy.special.erf({0})"],
    "expit": ["scipy.special.expit({0})"],
    "gammaln": ["scipy.special.gammaln(1.5 + {0} * {0})"],
    "digamma": ["scipy.special.digamma(1.0 + np.exp(np.sin({0})))", "scipy.special.psi(1.5 + {0} * {0})"],
    "polygamma": ["scipy.special.polygamma(1, 1.5 + {0} * {0})"],
    "ndtr": ["scipy.special.ndtr({0})"],
    "log_ndtr": ["scipy.special.log_ndtr({0})", "scipy.special.log_ndtr(-{0} * {0})"],
    # Ops with derivative zero, mixed with a differentiable term.
    "sign": ["np.sign({0}) * 0.5 + {0}"],
    "floor": ["np.floor({0}) + {0}"],
    "as_float": ["np.sin({0}).astype(np.float64) * {0}", "np.floor({0}).astype(int) + {0}"],
    "ceil": ["np.ceil({0}) * 0.5 + np.sin({0})"],
    "round": ["np.round({0}) + 0.5 * {0}"],
    "floordiv": ["{0} // 1.0 + {0}"],
}  # fmt: skip

# Elementwise ops of two operands, broadcast together.
BINARY: dict[str, list[str]] = {
    "add": ["{0} + {1}", "np.add({0}, {1})"],
    "sub": ["{0} - {1}", "np.subtract({0}, {1})"],
    "mul": ["{0} * {1}", "np.multiply({0}, {1})"],
    "truediv": ["{0} / (1.0 + {1} * {1})", "np.divide({0}, 2.0 + np.cos({1}))", "{0} / (0.5 + np.abs({1}))"],
    "pow": ["np.power(1.0 + {0} * {0}, np.sin({1}))", "(1.5 + np.tanh({0})) ** np.tanh({1})"],
    "arctan2": ["np.arctan2({0}, 1.0 + {1} * {1})", "np.arctan2({0}, {1})"],
    "maximum": ["np.maximum({0}, {1})", "np.maximum({0}, 0.0) + {1}"],
    "minimum": ["np.minimum({0}, {1})"],
    "logaddexp": ["np.logaddexp({0}, {1})"],
    "where": [
        "np.where({0} > {1}, {0}, 0.5 * {1})", "np.where({0} < 0.3, {1}, np.sin({0}))",
        "np.where(np.logical_and({0} > -0.5, {1} < 0.5), {0} * {1}, {1})",
        "np.where(np.logical_or({0} > 1.0, np.logical_not({1} > 0)), {0}, -{1})",
        "np.where({0} >= {1}, {0} - {1}, 0.0)", "np.where({0} != {1}, {0}, {1})",
    ],
    "mod": ["{0} % (1.5 + {1} * {1})"],
}  # fmt: skip

# `np.where` whose untaken branch leaves the domain: the gradient there must be 0, not nan.
GUARDED = [
    "np.where({0} > 0, np.sqrt({0}), 0.0)", "np.where({0} > 0.1, np.log({0}), {0})",
    "np.where(np.abs({0}) < 0.9, np.arcsin({0}), 0.0)", "np.where({0} != 0, np.sin({0}) / {0}, 1.0)",
    "np.where({0} > -1.0, np.log1p({0}), 0.0)",
]  # fmt: skip

# Templates that need a 0-d operand (Python's own functions and operators).
SCALAR_UNARY: dict[str, list[str]] = {
    "float": ["float({0})"],
    "exp": ["math.exp(math.tanh({0}))"],
    "log": ["math.log(1.5 + math.cos({0}))"],
    "log1p": ["math.log1p({0} * {0})"],
    "expm1": ["math.expm1(math.sin({0}))"],
    "sqrt": ["math.sqrt(1.0 + {0} * {0})"],
    "sin": ["math.sin({0})"],
    "cos": ["math.cos({0})"],
    "tan": ["math.tan(0.5 * math.tanh({0}))"],
    "arcsin": ["math.asin(0.5 * math.tanh({0}))"],
    "arccos": ["math.acos(0.5 * math.sin({0}))"],
    "arctan": ["math.atan({0})"],
    "sinh": ["math.sinh(math.tanh({0}))"],
    "cosh": ["math.cosh(math.sin({0}))"],
    "tanh": ["math.tanh({0})"],
    "abs": ["math.fabs({0})"],
    "pow": ["math.pow(1.0 + {0} * {0}, 0.5)"],
    "erf": ["math.erf({0})"],
    "gammaln": ["math.lgamma(2.0 + {0} * {0})"],
}
SCALAR_BINARY: dict[str, list[str]] = {
    "arctan2": ["math.atan2({0}, 1.0 + {1} * {1})"],
    "maximum": ["max({0}, {1})"],
    "minimum": ["min({0}, {1})"],
    "and_": ["{0} and {1}", "({0} > {1}) and {0} or {1}"],
    # A bare comparison's True would reach NumPy as a bool, whose np.tanh is float16: finite
    # differences of that path are all rounding, so the truth value is made a float first.
    "or_": ["{0} or {1}", "float({0} < 0.2) or {1}"],
    "not_": ["(not {0} > 0.5) * {1} + {0}"],
}

REDUCTIONS = ["np.sum", "np.mean", "np.prod", "np.max", "np.min", "np.var", "np.std", "np.amax", "np.amin"]
METHODS = [".sum", ".mean", ".prod", ".max", ".min", ".var", ".std"]

PRODUCTS = [
    "{0} @ {1}", "np.dot({0}, {1})", "np.matmul({0}, {1})", "{0}.T @ {1}", "{0} @ {1}.T", "{0}.dot({1})",
    "np.outer({0}, {1})", "np.einsum('ij,jk->ik', {0}, {1})", "np.einsum('ij,ij->i', {0}, {1})",
    "np.einsum('i,i->', {0}, {1})", "np.einsum('ij,j->i', {0}, {1})",
]  # fmt: skip

# Shapes and indexing. Those in VIEWS give NumPy views (or the array itself).
VIEWS = [
    "{0}.reshape(-1)", "np.reshape({0}, (-1, 1))", "{0}.T", "np.transpose({0})", "{0}.transpose()",
    "np.swapaxes({0}, 0, 1)", "{0}[0]", "{0}[-1]", "{0}[1:]", "{0}[:-1]", "{0}[::2]", "{0}[:, 0]", "{0}[:, 1:]",
    "{0}[..., 0]", "{0}[None]", "{0}[:, np.newaxis]", "np.expand_dims({0}, 0)", "np.squeeze({0})",
    "{0}.ravel()", "np.ravel({0})", "np.broadcast_to({0}, (2, 3))", "np.asarray({0})", "{0}[1, 2]",
    "{0}[0, :]", "{0}[-1, ::-1]",
]  # fmt: skip
COPIES = [
    "{0}.flatten()", "{0}[[0, 0, 1]]", "{0}[np.array([1, 0])]", "np.copy({0})", "{0}.copy()", "np.array({0})",
    "np.sum({0}[{0} > 0.2])", "np.sum({0}[{0} < {1}])",
]  # fmt: skip

# Lists and tuples built in the program, fed to NumPy.
SEQUENCES = [
    "np.stack([{0}, {1}])", "np.stack(({0}, {1}), axis=-1)", "np.array([{0}, {1}])", "np.sum([{0}, {1} * {1}])",
    "np.array([[{0}, {1}], [{1}, {0}]])", "np.sum(np.array([{0}, {1}]), axis=0)", "np.concatenate([{0}, {1}])",
    "np.concatenate(({0}, {1}), axis=-1)", "np.mean(({0}, {1}), axis=0)", "np.max([{0}, {1}])",
    "np.prod([{0}, 0.5, {1}])", "np.array([{0}, 2.0 * {1}, 1.0])", "np.stack([{0}, {0} * {1}], axis=0)",
    "np.sum(({0}, {1}))", "np.array(({0}, {1}))",
]  # fmt: skip

# Other functions, drawn rarely: scans, sorts and the like, and a few with no rule (refused at build time).
OUTSIDE = [
    "np.cumsum({0})", "np.cumprod(0.5 + 0.5 * np.tanh({0}))", "np.sort({0})", "np.flip({0})", "np.trace({0})",
    "np.tril({0})", "np.roll({0}, 1)", "np.tile({0}, 2)", "np.repeat({0}, 2)", "np.diff({0})", "np.cbrt({0})",
    "np.exp2({0})", "np.log(np.sum(np.exp({0})))", "{0} - np.log(np.sum(np.exp({0}), axis=-1, keepdims=True))",
    "np.log(np.exp({0}) / np.sum(np.exp({0}), axis=0, keepdims=True))",
    "np.delete({0}, 0)", "np.delete({0}, -1, axis=0)", "np.full_like({0}, np.sum({0}))",
    "np.full(np.shape({0}), np.mean({0}))", "np.linspace(np.min({0}), np.sum({0}), 3)",
]  # fmt: skip

# Data-dependent conditions of `if` and `while` over 0-d or array values.
CONDITIONS = [
    "np.sum({0}) > 0.3", "np.max({0}) > 0.5 and np.min({1}) < 0.2", "not np.mean({0}) > 0",
    "np.sum({0}) > np.sum({1})", "np.mean({0}) < 0.1 or np.max({1}) > 1.0", "-0.5 < np.sum({0}) < 0.5",
    "np.prod({0}) >= 0.0",
]  # fmt: skip
SCALAR_CONDITIONS = ["{0} > {1}", "{0} < 0.25", "{0} != {1} and {0} > 0", "abs({0}) <= 0.6"]

# Loop-carried updates of `acc` by `v`; the result has acc's shape when v broadcasts to it.
CARRIED = [
    "{acc} + {v}", "0.5 * {acc} + np.tanh({v})", "np.tanh({acc} * {v} + 0.1)", "{acc} * np.cos({v})",
    "np.maximum({acc}, {v})", "{acc} - 0.3 * {v} * {acc}", "np.sin({acc}) + {v}",
]  # fmt: skip
