"""The CUDA backend's lowering table: where each op runs and how it is spelled there.

Every op of the rule table falls in exactly one class (a test checks this):

- `HOST_OPS`: shape bookkeeping that runs in Python on the host (`np.shape`,
  `keepdims_shape`, tuples, ...); device operands are only asked their shape;
- `ELEMENT_TEMPLATES` and `ARITHMETIC`: elementwise ops, fused into
  generated kernels; the template is the scalar expression a device function
  computes per element (operands `{a0}`, `{a1}`, ...);
- `DEVICE_FUNCTIONS`: everything else that runs on the GPU, as a call to a
  `device_<op>` function of the runtime (`device_ops`,
  `device_index`), which takes NumPy's arguments;
- `HOST_ARRAY_OPS`: integer arrays built on the host for indexing (a list
  in an index runs only there);
- `UNSUPPORTED`: ops with a reason; anything in none of the classes is
  unsupported too, with a generic reason.

`HOST_VALUE_OPS` need their operands as Python values (casts, `not`, `and`,
`or`, `range`); so do `if` conditions and loop bounds. A device value in such
a position is copied back as one number (`host_scalar`, a synchronisation),
as `bool()` of a CuPy or PyTorch array does. The tape ops keep a loop's saved
values in a Python list on the host, whatever the values are.
"""

from __future__ import annotations

import libcst as cst
from libcst.helpers import parse_template_expression

from symdiff.codegen.expressions import build
from symdiff.ir.nodes import Const, Eqn
from symdiff.rules import RULES

HOST_OPS = frozenset({
    "shape", "size", "ndim", "len", "range", "make_tuple", "make_slice", "keepdims_shape", "concat_offset",
    "inverse_axes", "unit_axes", "grad_seed", "int", "bool", "not_", "and_", "or_", "broadcast_shapes",
    "tape_new", "tape_push", "tape_pop", "nbytes_of", "revolve_snapshots", "revolve_next",
})  # fmt: skip
HOST_VALUE_OPS = frozenset({"int", "bool", "not_", "and_", "or_", "range"})
SHAPE_ONLY_OPS = frozenset({"shape", "size", "ndim", "len", "grad_seed"})  # read a value's shape, never its data
HOST_HELPERS = (
    "keepdims_shape", "concat_offset", "inverse_axes", "unit_axes", "revolve_snapshots", "revolve_next",
)  # fmt: skip  # copied from rules/shapes.py
HOST_PATHS = {"grad_seed": "grad_seed"}  # host ops with a backend implementation (runtime.py)

ARITHMETIC = frozenset({
    "add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "neg", "pos", "lt", "le", "gt", "ge", "eq", "ne",
})  # fmt: skip
ELEMENT_TEMPLATES = {
    "exp": "math.exp({a0})", "log": "math.log({a0})", "log1p": "math.log1p({a0})", "expm1": "math.expm1({a0})",
    "sqrt": "math.sqrt({a0})", "square": "{a0} * {a0}", "sin": "math.sin({a0})", "cos": "math.cos({a0})",
    "tan": "math.tan({a0})", "arcsin": "math.asin({a0})", "arccos": "math.acos({a0})", "arctan": "math.atan({a0})",
    "arctan2": "math.atan2({a0}, {a1})", "sinh": "math.sinh({a0})", "cosh": "math.cosh({a0})",
    "tanh": "math.tanh({a0})", "abs": "abs({a0})", "maximum": "max({a0}, {a1})", "minimum": "min({a0}, {a1})",
    "where": "{a1} if {a0} else {a2}", "clip": "min(max({a0}, {a1}), {a2})",
    "logaddexp": "max({a0}, {a1}) + math.log1p(math.exp(-abs({a0} - {a1})))", "float": "np.float64({a0})",
    "sign": "1.0 if {a0} > 0 else (-1.0 if {a0} < 0 else {a0} * 0.0)",  # nan stays nan
    "floor": "math.floor({a0})", "ceil": "math.ceil({a0})",
    "round": "round({a0})", "isnan": "math.isnan({a0})", "isfinite": "math.isfinite({a0})",
    "logical_and": "bool({a0}) and bool({a1})", "logical_or": "bool({a0}) or bool({a1})",
    "logical_not": "not {a0}",
    "erf": "math.erf({a0})", "expit": "1.0 / (1.0 + math.exp(-{a0}))", "gammaln": "math.lgamma({a0})",
}  # fmt: skip
# "float" is np.float64(a), not float(a): the GPU compiler types float() of numbers only, not of a comparison's
# bool (the simulator, being Python, accepts both); tests/backends/test_cuda_control.py compiles every case to PTX

DEVICE_FUNCTIONS = {
    op: f"device_{op}"
    for op in (
        "sum", "mean", "prod", "max", "min", "sum_to", "matmul", "dot", "matmul_adjoint_a", "matmul_adjoint_b",
        "outer", "transpose", "swapaxes", "reshape", "ravel", "squeeze", "expand_dims", "broadcast_to", "copy",
        "getitem", "scatter_add", "axis_slice", "axis_pad", "concatenate", "stack", "zeros", "ones",
        "zeros_like", "ones_like", "full", "full_like", "arange", "eye", "linspace", "setitem", "written_values",
        "append_row", "argmax", "argmin", "cumsum", "flip",
    )
}  # fmt: skip
# Casts are elementwise, but a fused kernel's outputs take the operands' promoted dtype, not the one named.
CASTS = frozenset({"as_float", "as_integer"})
DEVICE_FUNCTIONS.update({op: "device_astype" for op in CASTS})
# zeros are one valid content for elements not set yet, and a uniform view of them costs no memory
DEVICE_FUNCTIONS.update(empty="device_zeros", empty_like="device_zeros_like", scatter_into_empty="device_scatter_add")
CONSTRUCTORS = frozenset({"zeros", "ones", "empty", "full", "arange", "eye", "linspace"})  # operands are host values
# Integer arrays made from host values (`np.array([0, 2])`, `x[[0, 2]]`'s list, `np.arange(n)`) and used only as
# indexes stay on the host, where the offsets an index selects are computed (planning.index_only_values).
# `index_array` (a list in an index) runs nowhere else.
HOST_ARRAY_OPS = frozenset({"index_array", "stack", "concatenate", "arange"})

UNSUPPORTED = {
    "einsum": "einsum has no CUDA kernel yet; write the contraction with @ and sum",
    "einsum_adjoint_subscripts": "einsum has no CUDA kernel yet",
    "einsum_summed_axes": "einsum has no CUDA kernel yet",
}
for _op in ("inv", "solve", "det", "slogdet_packed", "cholesky", "eigh_packed", "qr_packed"):
    UNSUPPORTED[_op] = "linear algebra (np.linalg) has no CUDA kernel yet; use the numpy backend"
for _op in ("cumprod", "sort", "argsort", "permute_along", "roll", "delete", "undelete", "repeat", "unrepeat", "tile",
            "untile", "tril", "triu", "trace", "triu_indices", "tril_indices", "diag"):  # fmt: skip
    UNSUPPORTED[_op] = f"np.{_op} has no CUDA kernel yet; use the numpy backend"
for _op in ("column_shape", "negated", "diagonal_mask", "trace_axes", "atleast_shape", "kron_layout", "kron_shape",
            "split_shape", "hstack_shape", "diag_adjoint"):  # fmt: skip
    UNSUPPORTED[_op] = "the helpers of trace, atleast_*d, kron, split, hstack and diag have no CUDA lowering yet"
UNSUPPORTED["tuple_add"] = "shapes joined as tuples ((n,) + np.shape(x)) are not supported by the CUDA backend yet"
for _op in ("batch_axis", "batch_shape", "batch_aligned", "batch_sum_axes", "batch_transposed", "batch_index",
            "product_shape"):  # fmt: skip
    UNSUPPORTED[_op] = "tangents batched on a first axis (hessian, jacobian) run on the numpy backend"
UNSUPPORTED["call"] = "random draws and other calls run as they are need the numpy backend"
UNSUPPORTED["float_tape"] = "a tape of numbers (array('d')) is made only by the numpy backend's build for numbers"
for _op in ("ndtr", "log_ndtr"):
    UNSUPPORTED[_op] = f"the special function {_op} has no CUDA kernel yet; use the numpy backend"
for _op in ("digamma", "polygamma"):  # math has no digamma: no kernel template
    UNSUPPORTED[_op] = f"the special function {_op} has no CUDA kernel yet; use the numpy backend"


def is_elementwise(op: str) -> bool:
    """Whether `op` can be computed per element inside a fused kernel."""
    return op in ARITHMETIC or op in ELEMENT_TEMPLATES


def unsupported_reason(op: str) -> str | None:
    """Why the CUDA backend cannot run `op`, or None when it can."""
    if op in HOST_OPS or is_elementwise(op) or op in DEVICE_FUNCTIONS or op in HOST_ARRAY_OPS:
        return None
    return UNSUPPORTED.get(op, f"the op {op!r} has no CUDA lowering")


def element_expression(eqn: Eqn, operands: list[cst.BaseExpression]) -> cst.BaseExpression:
    """The scalar expression computing one element of elementwise `eqn` from its operand expressions."""
    if eqn.op in ARITHMETIC:
        return build(eqn, operands, {}, RULES[eqn.op])
    names = {f"a{k}": operand for k, operand in enumerate(operands)}
    if eqn.op == "clip" and any(isinstance(a, Const) and a.value is None for a in eqn.ins[1:]):
        low, high = (not (isinstance(a, Const) and a.value is None) for a in eqn.ins[1:])  # np.clip(x, None, 0.5)
        template = "min(max({a0}, {a1}), {a2})" if low and high else "max({a0}, {a1})" if low else "min({a0}, {a2})"
        template = template if low or high else "{a0}"
        return parse_template_expression(template, **{k: v for k, v in names.items() if "{" + k + "}" in template})
    return parse_template_expression(ELEMENT_TEMPLATES[eqn.op], **names)
