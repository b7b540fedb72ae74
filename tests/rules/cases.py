"""The cases of tests/rules/test_table.py: one or more per differentiable op.

A case is a small module-level function (symdiff reads its source) that
applies one op, and the inputs to check it at: `Arg`s drawn at random inside
the op's domain, or fixed float arrays at chosen points (zeros for `prod`).
Integer and boolean arrays are constants (indices, masks), never
differentiated. Add a case here when you add a rule.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.special
import scipy.stats
from scipy.stats import norm

from symdiff.rules.shapes import (
    append_row,
    axis_pad,
    axis_slice,
    diag_adjoint,
    digamma,
    matmul_adjoint_a,
    matmul_adjoint_b,
    permute_along,
    polygamma,
    scatter_add,
    scatter_into_empty,
    sum_to,
    undelete,
    unrepeat,
    untile,
    written_values,
)

IDX = np.array([2, 0, 2, 1])  # repeats: the cotangents of row 2 must add up
MASK = np.array([[True, False, True, True], [False, True, False, True], [True, True, False, False]])


@dataclass(frozen=True)
class Arg:
    """A float input of `shape` drawn uniformly from (lo, hi), or away from zero."""

    shape: tuple[int, ...]
    lo: float = -2.0
    hi: float = 2.0
    nonzero: bool = False

    def draw(self, rng: np.random.Generator) -> Any:
        x = rng.uniform(self.lo, self.hi, size=self.shape)
        if self.nonzero:  # magnitudes in (0.5, hi): no kink or pole within reach of eps
            x = np.sign(x) * (0.5 + np.abs(x) * (self.hi - 0.5) / self.hi)
        return float(x) if self.shape == () else x


def _is_float(x: Any) -> bool:
    """Arguments differentiated: drawn ones, and fixed float arrays (chosen points such as zeros)."""
    return isinstance(x, Arg) or (isinstance(x, np.ndarray) and x.dtype.kind == "f")


def a(*shape: int, lo: float = -2.0, hi: float = 2.0, nonzero: bool = False) -> Arg:
    """Shorthand: `a(3, 4, lo=0.2)` is a (3, 4) input drawn from (0.2, 2)."""
    return Arg(tuple(shape), lo, hi, nonzero)


@dataclass(frozen=True)
class Case:
    """`func(*args)` exercises `op` (a table key, or a composite's name such as "var")."""

    op: str
    func: Callable
    args: tuple
    second: bool = True  # also check the VJP of the generated VJP

    @property
    def id(self) -> str:
        shapes = ",".join("x".join(map(str, x.shape)) or "s" if _is_float(x) else "c" for x in self.args)
        if any(isinstance(x, np.ndarray) and _is_float(x) for x in self.args):
            shapes += "-fixed"
        return f"{self.op}-{self.func.__name__}-{shapes}"


# -- elementwise ------------------------------------------------------------------------------------------------
def neg(x): return -x
def pos(x): return +x
def exp(x): return np.exp(x)
def log(x): return np.log(x)
def log1p(x): return np.log1p(x)
def expm1(x): return np.expm1(x)
def sqrt(x): return np.sqrt(x)
def square(x): return np.square(x)
def sin(x): return np.sin(x)
def cos(x): return np.cos(x)
def tan(x): return np.tan(x)
def arcsin(x): return np.arcsin(x)
def arccos(x): return np.arccos(x)
def arctan(x): return np.arctan(x)
def sinh(x): return np.sinh(x)
def cosh(x): return np.cosh(x)
def tanh(x): return np.tanh(x)
def tanh_saturated(x): return np.tanh(10.0 * x)
def abs_(x): return np.abs(x)
def builtin_abs(x): return abs(x)
def to_float(x): return float(x) * x
def float_of_sum(x): return float(np.sum(x * x))
def as_float(x): return x.astype(np.float64) * x + np.floor(x).astype(int)
def add(x, y): return x + y
def sub(x, y): return x - y
def mul(x, y): return x * y
def truediv(x, y): return x / y
def power(x, y): return x**y
def power_const(x): return x**3 + np.power(x, 2.5)
def mod(x, y): return x % y
def arctan2(x, y): return np.arctan2(x, y)
def maximum(x, y): return np.maximum(x, y)
def minimum(x, y): return np.minimum(x, y)
def logaddexp(x, y): return np.logaddexp(x, y)
def where(x, y): return np.where(x > 0.0, x * x, y)
def where_mask(x, y): return np.where(MASK, x, y)
def clip(x): return np.clip(x, -0.5, 0.7)
def clip_arrays(x, lo, hi): return np.clip(x, lo, hi)
def clip_upper(x): return np.clip(x, None, 0.5)
def clip_lower(x): return x.clip(-0.5, None)

UNARY = {
    "neg": (neg, a()), "pos": (pos, a()), "exp": (exp, a()), "log": (log, a(lo=0.2, hi=3.0)),
    "log1p": (log1p, a(lo=-0.6, hi=2.0)), "expm1": (expm1, a()), "sqrt": (sqrt, a(lo=0.2, hi=3.0)),
    "square": (square, a()), "sin": (sin, a()), "cos": (cos, a()), "tan": (tan, a(lo=-1.2, hi=1.2)),
    "arcsin": (arcsin, a(lo=-0.9, hi=0.9)), "arccos": (arccos, a(lo=-0.9, hi=0.9)), "arctan": (arctan, a()),
    "sinh": (sinh, a()), "cosh": (cosh, a()), "tanh": (tanh, a()), "abs": (abs_, a(nonzero=True)),
}  # fmt: skip
BINARY = {
    "add": (add, a(), a()), "sub": (sub, a(), a()), "mul": (mul, a(), a()),
    "truediv": (truediv, a(), a(nonzero=True)), "pow": (power, a(lo=0.3, hi=2.0), a()),
    "mod": (mod, a(lo=0.1, hi=3.0), a(lo=0.4, hi=1.0)), "arctan2": (arctan2, a(nonzero=True), a(nonzero=True)),
    "maximum": (maximum, a(), a()), "minimum": (minimum, a(), a()), "logaddexp": (logaddexp, a(), a()),
    "where": (where, a(nonzero=True), a()),
}  # fmt: skip
BROADCASTS = [((3, 4), (3, 4)), ((3, 4), (4,)), ((3, 1), (1, 4)), ((), (3, 4)), ((2, 3, 4), (3, 1))]


def _shaped(arg: Arg, shape: tuple[int, ...]) -> Arg:
    return Arg(shape, arg.lo, arg.hi, arg.nonzero)


def elementwise_cases() -> list[Case]:
    cases = [Case(op, f, (_shaped(x, s),)) for op, (f, x) in UNARY.items() for s in [(), (3, 4)]]
    for op, (f, x, y) in BINARY.items():
        cases += [Case(op, f, (_shaped(x, sx), _shaped(y, sy))) for sx, sy in BROADCASTS]
        cases.append(Case(op, f, (_shaped(x, (4,)), _shaped(y, (3, 4)))))
    return cases + [
        Case("tanh", tanh_saturated, (a(3, 4),)),
        Case("abs", builtin_abs, (a(3, nonzero=True),)),
        Case("float", to_float, (a(),)),
        Case("float", float_of_sum, (a(3),)),
        Case("as_float", as_float, (a(3, 4),)),
        Case("pow", power_const, (a(3, 4, lo=0.3, hi=2.0),)),
        Case("where", where_mask, (a(3, 4), a(4))),
        Case("clip", clip, (a(3, 4),)),
        Case("clip", clip_arrays, (a(3, 4), a(4, lo=-1.0, hi=-0.2), a(3, 1, lo=0.2, hi=1.0))),
        Case("clip", clip_upper, (a(3, 4),)),
        Case("clip", clip_lower, (a(3, 4),)),
    ]


# -- reductions -------------------------------------------------------------------------------------------------
def sum_all(x): return np.sum(x)
def sum_0(x): return np.sum(x, axis=0)
def sum_1k(x): return np.sum(x, axis=1, keepdims=True)
def sum_m1(x): return x.sum(axis=-1)
def sum_02k(x): return np.sum(x, axis=(0, 2), keepdims=True)
def sum_02(x): return np.sum(x, (0, 2))
def mean_all_k(x): return np.mean(x, keepdims=True)
def mean_1(x): return np.mean(x, axis=1)
def mean_02(x): return x.mean(axis=(0, 2))
def prod_all(x): return np.prod(x)
def prod_0k(x): return np.prod(x, axis=0, keepdims=True)
def prod_m1(x): return x.prod(axis=-1)
def max_all(x): return np.max(x)
def max_1(x): return np.max(x, axis=1)
def max_02k(x): return x.max(axis=(0, 2), keepdims=True)
def amax_m1(x): return np.amax(x, axis=-1)
def min_all_k(x): return np.min(x, keepdims=True)
def min_0(x): return x.min(axis=0)
def min_02(x): return np.min(x, axis=(0, 2))
def var_all(x): return np.var(x)
def var_1k(x): return np.var(x, axis=1, keepdims=True)
def std_0(x): return x.std(axis=0)
def std_02k(x): return np.std(x, axis=(0, 2), keepdims=True)
def norm_all(x): return np.linalg.norm(x)
def norm_m1(x): return np.linalg.norm(x, axis=-1)
def norm_1k(x): return np.linalg.norm(x, axis=1, keepdims=True)
def sum_1k_scalar(x): return np.sum(x, axis=-1, keepdims=True)  # NumPy reduces a 0-d array along axis 0 or -1
def max_0k(x): return np.max(x, axis=0, keepdims=True)

REDUCTIONS = {
    "sum": [sum_all, sum_0, sum_1k, sum_m1, sum_02k, sum_02], "mean": [mean_all_k, mean_1, mean_02],
    "prod": [prod_all, prod_0k, prod_m1], "max": [max_all, max_1, max_02k, amax_m1], "min": [min_all_k, min_0, min_02],
    "var": [var_all, var_1k], "std": [std_0, std_02k], "norm": [norm_all, norm_m1, norm_1k],
}  # fmt: skip


def reduction_cases() -> list[Case]:
    cases = []
    for op, funcs in REDUCTIONS.items():
        x = a(2, 3, 4, lo=0.5, hi=1.5) if op == "prod" else a(2, 3, 4)
        cases += [Case(op, f, (x,)) for f in funcs]
    zeros = np.array([[0.0, 2.0, 3.0], [1.5, -0.5, 0.0], [1.0, -2.0, 0.5]])  # one zero per row, or none
    two_zeros = np.array([[0.0, 2.0, 0.0], [1.5, -0.5, 1.2]])  # misses d2/dx00 dx02 = 2 (see prod_vjp)
    return cases + [
        Case("sum", sum_0, (a(5),)), Case("max", max_all, (a(),)), Case("prod", prod_all, (a(),)),
        Case("sum", sum_0, (a(),)), Case("sum", sum_1k_scalar, (a(),)), Case("max", max_0k, (a(),)),
        Case("prod", prod_m1, (zeros,)), Case("prod", prod_0k, (zeros,)), Case("prod", prod_all, (zeros[1:],)),
        Case("prod", prod_m1, (two_zeros,), second=False), Case("prod", prod_0k, (two_zeros,)),
    ]  # fmt: skip


# -- linear algebra ---------------------------------------------------------------------------------------------
def matmul(x, y): return x @ y
def np_matmul(x, y): return np.matmul(x, y)
def dot(x, y): return np.dot(x, y)
def dot_method(x, y): return x.dot(y)
def outer(x, y): return np.outer(x, y)
def transpose_t(x): return x.T
def transpose_axes(x): return np.transpose(x, (1, 0, 2))
def transpose_method(x): return x.transpose(2, 0, 1)
def transpose_negative(x): return np.transpose(x, (-1, 0, 1))
def swapaxes(x): return np.swapaxes(x, 0, 2)
def swapaxes_method(x): return x.swapaxes(-1, -2)
def adjoint_a(c, x, y): return matmul_adjoint_a(c, x, y)
def adjoint_b(c, x, y): return matmul_adjoint_b(c, x, y)
def einsum_matmul(x, y): return np.einsum("ij,jk->ik", x, y)
def einsum_implicit(x, y): return np.einsum("ij,jk", x, y)
def einsum_summed(x, y): return np.einsum("ij, jk -> k", x, y)
def einsum_inner(x, y): return np.einsum("i,i->", x, y)
def einsum_outer(x, y): return np.einsum("i,j->ij", x, y)
def einsum_batched(x, y): return np.einsum("bij,bjk->bik", x, y)
def einsum_chain(x, y, z): return np.einsum("ij,jk,kl->li", x, y, z)
def einsum_transpose(x): return np.einsum("ijk->kj", x)
def einsum_total(x): return np.einsum("ij->", x)
def einsum_twice(x): return np.einsum("ij,ij->i", x, x)
def einsum_operands(x, y): return np.einsum("ij,kj->ik", *(x, y))

MATMUL_SHAPES = [
    ((3, 4), (4, 5)), ((4,), (4, 5)), ((3, 4), (4,)), ((4,), (4,)), ((2, 3, 4), (4, 5)), ((2, 3, 4), (1, 4, 5)),
    ((4, 5), (2, 5, 6)), ((2, 1, 3, 4), (5, 4, 2)), ((4,), (2, 4, 5)), ((2, 3, 4), (4,)),
]  # fmt: skip


def _out_shape(sx: tuple, sy: tuple) -> tuple:
    return np.matmul(np.zeros(sx), np.zeros(sy)).shape


def linalg_cases() -> list[Case]:
    cases = [Case("matmul", matmul, (a(*sx), a(*sy))) for sx, sy in MATMUL_SHAPES]
    cases += [Case("matmul", np_matmul, (a(2, 3), a(3)))]
    cases += [Case("dot", dot, (a(*sx), a(*sy))) for sx, sy in MATMUL_SHAPES[:4]] + [Case("dot", dot_method, (a(3, 4), a(4)))]
    for op, f in [("matmul_adjoint_a", adjoint_a), ("matmul_adjoint_b", adjoint_b)]:
        cases += [Case(op, f, (a(*_out_shape(sx, sy)), a(*sx), a(*sy))) for sx, sy in MATMUL_SHAPES[:7]]
    return cases + [
        Case("outer", outer, (a(3), a(4))),
        Case("outer", outer, (a(2, 2), a(3))),
        Case("transpose", transpose_t, (a(3, 4),)),
        Case("transpose", transpose_t, (a(2, 3, 4),)),
        Case("transpose", transpose_axes, (a(2, 3, 4),)),
        Case("transpose", transpose_method, (a(2, 3, 4),)),
        Case("transpose", transpose_negative, (a(2, 3, 4),)),
        Case("swapaxes", swapaxes, (a(2, 3, 4),)),
        Case("swapaxes", swapaxes_method, (a(2, 3, 4),)),
        Case("einsum", einsum_matmul, (a(3, 4), a(4, 5))),
        Case("einsum", einsum_matmul, (a(3, 1), a(4, 5))),  # NumPy broadcasts j from length 1
        Case("einsum", einsum_implicit, (a(3, 4), a(4, 2))),
        Case("einsum", einsum_summed, (a(3, 4), a(4, 2))),
        Case("einsum", einsum_inner, (a(4), a(4))),
        Case("einsum", einsum_outer, (a(3), a(4))),
        Case("einsum", einsum_batched, (a(2, 3, 4), a(2, 4, 5))),
        Case("einsum", einsum_chain, (a(2, 3), a(3, 4), a(4, 2))),
        Case("einsum", einsum_transpose, (a(2, 3, 4),)),
        Case("einsum", einsum_total, (a(3, 4),)),
        Case("einsum", einsum_twice, (a(3, 4),)),
        Case("einsum", einsum_operands, (a(3, 4), a(2, 4))),
    ]


# -- shape ops and indexing -------------------------------------------------------------------------------------
def reshape(x): return np.reshape(x, (4, 3))
def reshape_method(x): return x.reshape(2, -1)
def ravel(x): return np.ravel(x)
def flatten(x): return x.flatten()
def squeeze(x): return np.squeeze(x)
def squeeze_axis(x): return np.squeeze(x, axis=1)
def expand_dims(x): return np.expand_dims(x, 0)
def expand_dims_last(x): return np.expand_dims(x, axis=-1)
def broadcast_row(x): return np.broadcast_to(x, (3, 4))
def broadcast_col(x): return np.broadcast_to(x, (2, 3, 4))
def sum_to_row(x): return sum_to(x, (4,))
def sum_to_col(x): return sum_to(x, (3, 1))
def sum_to_scalar(x): return sum_to(x, ())
def item(x): return x[1]
def item_negative(x): return x[-1, 2]
def slices(x): return x[1:3, ::2]
def slices_negative(x): return x[-2:, ::-1]
def ellipsis(x): return x[..., 1]
def newaxis(x): return x[np.newaxis, :, None, 1:]
def take_rows(x): return x[IDX]
def take_columns(x): return x[:, IDX]
def take_pairs(x): return x[IDX[:3], np.array([0, 3, 0])]
def take_list(x): return x[[2, 0, 2]] * x[:, [1, 3, 1, 0]]
def boolean_mask(x): return x[MASK]
def unpack(x): return x[0] * x[1]
def dynamic(x, i): return x[i, i - 2 :] * x[-i]
def scatter(x): return scatter_add(x, (5, 4), IDX)
def scatter_slice(x): return scatter_add(x, (3, 6), (slice(None), slice(1, 5)))
def slice_axis(x): return axis_slice(x, 1, 3, 1)
def pad_axis(x): return axis_pad(x, 1, 6, -1)
def concatenate(x, y): return np.concatenate((x, y))
def concatenate_1(x, y): return np.concatenate([x, y, x], axis=1)
def concatenate_m1(x, y): return np.concatenate((y, x), axis=-1)
def stack(x, y): return np.stack((x, y))
def stack_1(x, y): return np.stack([x, y, x], axis=1)
def stack_m1(x, y): return np.stack((y, x), axis=-1)
def array_of(x, y): return np.array([x, y])
def copy(x): return np.copy(x) * x
def copy_method(x): return x.copy()


def setitem(x, y):
    z = np.zeros((3, 4))
    z[1] = x
    z[:, 2] = y  # overwrites z[1, 2]: x[2] gets no cotangent
    return z * z


def unfilled(x, y):
    z = scatter_into_empty(x, (3, 6), (slice(None), slice(None, 4)))
    z[:, 4:] = y * y  # every element unset above is written before the read
    return np.sin(z)


def setitem_update(x, y):
    z = x * 1.0
    z[1:, IDX[:2]] += y
    z[-1] = y[0, 0]
    return z


def setitem_repeated(x, y):
    z = np.zeros(3)
    z[IDX] = x * y  # IDX writes z[2] twice: NumPy keeps the second, the first gets no cotangent
    return z * z


def written(x):
    return written_values(x, IDX) * x[IDX]


def shape_cases() -> list[Case]:
    return [
        Case("reshape", reshape, (a(3, 4),)),
        Case("reshape", reshape_method, (a(2, 3, 2),)),
        Case("ravel", ravel, (a(3, 4),)),
        Case("ravel", flatten, (a(2, 3, 2),)),
        Case("squeeze", squeeze, (a(3, 1, 4, 1),)),
        Case("squeeze", squeeze_axis, (a(3, 1, 4),)),
        Case("expand_dims", expand_dims, (a(3, 4),)),
        Case("expand_dims", expand_dims_last, (a(3),)),
        Case("broadcast_to", broadcast_row, (a(4),)),
        Case("broadcast_to", broadcast_row, (a(),)),
        Case("broadcast_to", broadcast_col, (a(3, 1),)),
        Case("sum_to", sum_to_row, (a(3, 4),)),
        Case("sum_to", sum_to_col, (a(2, 3, 4),)),
        Case("sum_to", sum_to_scalar, (a(3, 4),)),
        *[Case("getitem", f, (a(3, 4),)) for f in (item, item_negative, slices, slices_negative, ellipsis, newaxis)],
        *[Case("getitem", f, (a(3, 4),)) for f in (take_rows, take_columns, take_pairs, take_list, boolean_mask, unpack)],
        Case("getitem", take_rows, (a(4, 2, 3),)),
        Case("getitem", dynamic, (a(3, 4), 2)),
        Case("scatter_add", scatter, (a(4, 4),)),
        Case("scatter_add", scatter_slice, (a(3, 4),)),
        Case("axis_slice", slice_axis, (a(2, 4, 3),)),
        Case("axis_pad", pad_axis, (a(2, 3),)),
        Case("concatenate", concatenate, (a(2, 3), a(4, 3))),
        Case("concatenate", concatenate_1, (a(2, 3), a(2, 1))),
        Case("concatenate", concatenate_m1, (a(2, 3, 2), a(2, 3, 1))),
        Case("stack", stack, (a(2, 3), a(2, 3))),
        Case("stack", stack_1, (a(2, 3), a(2, 3))),
        Case("stack", stack_m1, (a(3), a(3))),
        Case("stack", array_of, (a(2), a(2))),
        Case("copy", copy, (a(3, 4),)),
        Case("copy", copy_method, (a(3),)),
        Case("setitem", setitem, (a(4), a(3))),
        Case("scatter_into_empty", unfilled, (a(3, 4), a(3, 2))),
        Case("setitem", setitem_update, (a(3, 4), a(2, 2))),
        Case("setitem", setitem_repeated, (a(4), a(4))),
        Case("written_values", written, (a(3),)),
    ]


# -- np.linalg matrix functions ---------------------------------------------------------------------------------
EYE3 = 3.0 * np.eye(3)  # keeps drawn matrices well conditioned
SPD = np.array([[2.0, 0.5, -0.3], [0.5, 1.5, 0.2], [-0.3, 0.2, 1.0]])  # only its lower triangle is read
SPD_STACK = np.stack([SPD, SPD[::-1, ::-1] + np.eye(3)])
def inv(x): return np.linalg.inv(x + EYE3)
def solve(x, y): return np.linalg.solve(x + EYE3, y)
def det(x): return np.linalg.det(x)
def slogdet(x):
    sign, logdet = np.linalg.slogdet(x + EYE3)
    return sign * logdet
def slogdet_index(x): return np.linalg.slogdet(x)[1]
def cholesky(x): return np.linalg.cholesky(x @ np.swapaxes(x, -1, -2) + EYE3)
def cholesky_lower(x): return np.linalg.cholesky(x)
def eigh(x):
    w, v = np.linalg.eigh(x + np.swapaxes(x, -1, -2))
    return w[..., np.newaxis, :] * v * v + v  # eigenvalues drawn apart: each eigenvector's sign is kept
def eigh_lower(x):
    w, v = np.linalg.eigh(x)
    return np.sum(w) * v
def qr(x):
    q, r = np.linalg.qr(x)
    return 2.0 * q + np.sum(r * r, axis=-2, keepdims=True)


def decomposition_cases() -> list[Case]:
    return [
        Case("inv", inv, (a(3, 3),)), Case("inv", inv, (a(2, 3, 3),)),
        Case("solve", solve, (a(3, 3), a(3))), Case("solve", solve, (a(2, 3, 3), a(3, 2))),
        Case("solve", solve, (a(2, 3, 3), a(3))), Case("solve", solve, (a(3, 3), a(2, 3, 1))),
        Case("det", det, (a(3, 3),)), Case("det", det, (a(2, 3, 3),)), Case("det", det, (a(1, 1),)),
        Case("slogdet_packed", slogdet, (a(2, 3, 3),)), Case("slogdet_packed", slogdet_index, (a(3, 3, lo=1.0),)),
        Case("cholesky", cholesky, (a(3, 3),)), Case("cholesky", cholesky, (a(2, 3, 3),)),
        Case("cholesky", cholesky_lower, (SPD,)), Case("cholesky", cholesky_lower, (SPD_STACK,)),
        Case("eigh_packed", eigh, (a(3, 3),)), Case("eigh_packed", eigh, (a(2, 3, 3),)),
        Case("eigh_packed", eigh_lower, (SPD,)),
        Case("qr_packed", qr, (a(4, 3),)), Case("qr_packed", qr, (a(2, 3, 3),)),
    ]  # fmt: skip


# -- scans, reorderings and array manipulation -------------------------------------------------------------------
ONE_ZERO = np.array([[1.5, 0.0, 2.0, -1.2], [0.0, 0.7, 1.3, 0.9], [0.8, -1.1, 1.4, 0.0]])  # one zero per row
TWO_ZEROS = np.array([[1.5, 0.0, 2.0, 0.0], [0.6, 0.7, 1.3, 0.9]])
PERM = np.array([[2, 0, 1, 3], [1, 3, 0, 2], [0, 1, 3, 2]])
def cumsum(x): return np.cumsum(x, axis=1)
def cumsum_flat(x): return np.cumsum(x)
def cumprod(x): return np.cumprod(x, axis=-1)
def cumprod_flat(x): return np.cumprod(x)
def sort(x): return np.sort(x)
def sort_0(x): return np.sort(x, axis=0)
def sort_flat(x): return np.sort(x, axis=None)
def permute(x): return permute_along(x, PERM, 1)
def trace(x): return np.trace(x)
def trace_axes(x): return np.trace(x, 1, 2, 0)
def diff(x): return np.diff(x)
def diff_0(x): return np.diff(x, axis=0)
def flip(x): return np.flip(x, 1)
def flip_all(x): return np.flip(x)
def roll(x): return np.roll(x, 2)
def roll_axes(x): return np.roll(x, (1, -2), axis=(0, 1))
def delete(x): return np.delete(x, 1, axis=1)
def full(x): return np.full((2, 3), x) * np.arange(6.0).reshape(2, 3)
def full_row(x): return np.full((2, 3), x, dtype=float) ** 2
def full_like(x): return np.full_like(np.ones((2, 3)), x) * np.arange(6.0).reshape(2, 3)
def linspace(x, y): return np.sin(np.linspace(x, y, 5))
def linspace_open(x, y): return np.linspace(x, y, 4, endpoint=False) ** 2
def linspace_one(x, y): return np.linspace(x, y, 1) * 3.0
def delete_last_axis(x): return np.delete(x, -1, axis=-1)
def delete_flat(x): return np.delete(x, [0, 2, 5])
def delete_rows(x): return np.delete(x, np.array([2, 0]), axis=0)
def undeleted(x): return undelete(x, 2, (3, 4), 1)
def undeleted_flat(x): return undelete(x, [1, 3], (2, 3), None)
def repeat(x): return np.repeat(x, 2, axis=1)
def repeat_counts(x): return np.repeat(x, [1, 0, 3], axis=0)
def repeat_flat(x): return np.repeat(x, 2)
def unrepeat_rows(x): return unrepeat(x, [1, 0, 3], 0, (3, 2))
def tile(x): return np.tile(x, 2)
def tile_grid(x): return np.tile(x, (2, 1, 3))
def untile_grid(x): return untile(x, (2, 3), (2, 2))
def tril(x): return np.tril(x)
def tril_k(x): return np.tril(x, -1)
def triu(x): return np.triu(x, 1)
def triu_stack(x): return np.triu(x)
def triangle_indices(x): return x[np.triu_indices(3)] * x[np.tril_indices(3, -1, 4)][0]
def atleast_1d(x): return np.atleast_1d(x)
def atleast_2d(x): return np.atleast_2d(x)
def atleast_3d(x): return np.atleast_3d(x)
def split(x):
    left, right = np.split(x, 2, axis=1)
    return left * right
def split_rows(x):
    parts = np.split(x, 3)
    return parts[0] - parts[2] * parts[1]
def split_last(x): return np.split(x, 2, axis=-1)[1]
def diag_of_vector(x): return np.diag(x, -1) * np.arange(16.0).reshape(4, 4)
def diag_of_matrix(x): return np.concatenate((np.diag(x, 1), np.diag(x), np.diag(x, -2) * 3.0))
def rows_appended(rows, item): return append_row(rows, item)
def row_appended_to_none(item): return append_row(np.zeros((0,)), item)
def diag_placed(x): return diag_adjoint(x, (3, 4), 1)
def diag_taken(x): return diag_adjoint(x, (3,), -1)
def hstack(x, y): return np.hstack((x, y * 2.0))
def vstack(x, y): return np.vstack([x, np.sin(y)])
def cross(x, y): return np.cross(x, y)
def kron(x, y): return np.kron(x, y)


def array_cases() -> list[Case]:
    return [
        Case("cumsum", cumsum, (a(3, 4),)), Case("cumsum", cumsum_flat, (a(3, 4),)), 
        Case("cumprod", cumprod, (a(3, 4),)), Case("cumprod", cumprod_flat, (a(3, 4),)),
        Case("cumprod", cumprod, (ONE_ZERO,)), Case("cumprod", cumprod_flat, (ONE_ZERO[:1],)),
        Case("cumprod", cumprod_flat, (ONE_ZERO,), second=False),  # three zeros in one scan: see cumprod_vjp
        Case("cumprod", cumprod, (TWO_ZEROS,), second=False),
        Case("sort", sort, (a(3, 4),)), Case("sort", sort_0, (a(3, 4),)), Case("sort", sort_flat, (a(3, 4),)),
        Case("sort", sort, (a(5),)), Case("permute_along", permute, (a(3, 4),)),
        Case("trace", trace, (a(3, 4),)), Case("trace", trace_axes, (a(3, 4, 5),)),
        Case("diff", diff, (a(3, 4),)), Case("diff", diff_0, (a(3, 4),)),
        Case("flip", flip, (a(3, 4),)), Case("flip", flip_all, (a(3, 4),)),
        Case("roll", roll, (a(3, 4),)), Case("roll", roll_axes, (a(3, 4),)),
        Case("delete", delete, (a(3, 4),)), Case("delete", delete_last_axis, (a(2, 3, 4),)),
        Case("full", full, (a(),)), Case("full", full_row, (a(3),)), Case("full_like", full_like, (a(3),)),
        Case("full_like", full_like, (a(),)), Case("linspace", linspace, (a(), a())),
        Case("linspace", linspace, (a(3), a(2, 1))), Case("linspace", linspace_open, (a(), a(2))),
        Case("linspace", linspace_one, (a(), a())),
        Case("delete", delete_flat, (a(2, 4),)), Case("delete", delete_rows, (a(4, 2),)),
        Case("undelete", undeleted, (a(3, 3),)), Case("undelete", undeleted_flat, (a(4),)),
        Case("repeat", repeat, (a(3, 2),)), Case("repeat", repeat_counts, (a(3, 2),)), Case("repeat", repeat_flat, (a(3, 2),)),
        Case("unrepeat", unrepeat_rows, (a(4, 2),)),
        Case("tile", tile, (a(3),)), Case("tile", tile_grid, (a(3, 4),)), Case("untile", untile_grid, (a(4, 6),)),
        Case("tril", tril, (a(3, 4),)), Case("tril", tril_k, (a(3, 3),)),
        Case("triu", triu, (a(4, 3),)), Case("triu", triu_stack, (a(2, 3, 3),)),
        Case("getitem", triangle_indices, (a(3, 4),)),
        Case("atleast_1d", atleast_1d, (a(),)), Case("atleast_2d", atleast_2d, (a(3),)),
        Case("atleast_3d", atleast_3d, (a(2, 3),)), Case("atleast_3d", atleast_3d, (a(3),)),
        Case("split", split, (a(3, 4),)), Case("split", split_rows, (a(6, 2),)), Case("split", split_last, (a(2, 3, 4),)),
        Case("append_row", rows_appended, (a(2, 3), a(3))), Case("append_row", rows_appended, (a(2), a())),
        Case("append_row", row_appended_to_none, (a(2, 3),)),
        Case("diag_adjoint", diag_placed, (a(3),)), Case("diag_adjoint", diag_taken, (a(4, 4),)),
        Case("diag", diag_of_vector, (a(3),)), Case("diag", diag_of_matrix, (a(3, 4),)), Case("diag", diag_of_matrix, (a(4, 3),)),
        Case("hstack", hstack, (a(3), a(2))), Case("hstack", hstack, (a(2, 3), a(2, 2))), Case("hstack", hstack, (a(2, 1, 3), a(2, 2, 3))),
        Case("vstack", vstack, (a(3), a(2, 3))), Case("vstack", vstack, (a(2, 2, 3), a(1, 2, 3))),
        Case("cross", cross, (a(2, 3), a(3))), Case("kron", kron, (a(2, 3), a(3, 2))), Case("kron", kron, (a(3), a(2, 2))),
    ]  # fmt: skip


# -- special functions ------------------------------------------------------------------------------------------
def erf(x): return scipy.special.erf(x)
def expit(x): return scipy.special.expit(x)
def gammaln(x): return scipy.special.gammaln(x)
def lgamma(x): return math.lgamma(x) * math.erf(x)
def digamma_(x): return digamma(x)
def polygamma_(x): return polygamma(2, x)
def logsumexp(x): return scipy.special.logsumexp(x, axis=1)
def logsumexp_all(x): return scipy.special.logsumexp(x, keepdims=True)
def multigammaln(x): return scipy.special.multigammaln(x, 3)
def ndtr(x): return scipy.special.ndtr(x)
def log_ndtr(x): return scipy.special.log_ndtr(x)


def special_cases() -> list[Case]:
    return [
        Case("erf", erf, (a(3, 4),)), Case("expit", expit, (a(3, 4, lo=-6.0, hi=6.0),)),
        Case("gammaln", gammaln, (a(3, 4, lo=0.3, hi=4.0),)), Case("gammaln", lgamma, (a(lo=0.3, hi=4.0),)),
        Case("digamma", digamma_, (a(3, lo=0.3, hi=4.0),)), Case("polygamma", polygamma_, (a(3, lo=0.3, hi=4.0),)),
        Case("logsumexp", logsumexp, (a(3, 4),)), Case("logsumexp", logsumexp_all, (a(3, 4),)),
        Case("multigammaln", multigammaln, (a(4, lo=1.5, hi=4.0),)),
        Case("ndtr", ndtr, (a(3, 4, lo=-6.0, hi=6.0),)), Case("log_ndtr", log_ndtr, (a(3, 4, lo=-8.0, hi=6.0),)),
        Case("log_ndtr", log_ndtr, (FAR_TAILS,)),
    ]  # fmt: skip


# -- scipy.stats: composites, checked with every float argument differentiated and broadcast --------------------
FAR_TAILS = np.array([-30.0, -12.0, 9.0])  # where 0.5 * (1 + erf(x / sqrt(2))) has lost every digit
COUNTS = np.array([[0, 1, 4, 2], [3, 0, 7, 1], [2, 5, 0, 9]])


def norm_logpdf(x, loc, scale): return scipy.stats.norm.logpdf(x, loc, scale)
def norm_logpdf_standard(x): return scipy.stats.norm.logpdf(x)
def norm_logpdf_keywords(x, loc, scale): return scipy.stats.norm.logpdf(x, scale=scale, loc=loc)
def norm_pdf(x, loc, scale): return scipy.stats.norm.pdf(x, loc, scale)
def norm_cdf(x, loc, scale): return scipy.stats.norm.cdf(x, loc, scale)
def norm_cdf_standard(z): return norm.cdf(z)  # autograd's examples: from scipy.stats import norm
def norm_logcdf(x, loc, scale): return scipy.stats.norm.logcdf(x, loc=loc, scale=scale)
def norm_sf(x, loc, scale): return norm.sf(x, loc, scale=scale)
def norm_logsf(x, loc, scale): return scipy.stats.norm.logsf(x, loc, scale)
def t_logpdf(x, df, loc, scale): return scipy.stats.t.logpdf(x, df, loc, scale)
def t_logpdf_standard(x, df): return scipy.stats.t.logpdf(x, df)
def t_pdf(x, df, scale): return scipy.stats.t.pdf(x, df, scale=scale)
def gamma_logpdf(x, a, loc, scale): return scipy.stats.gamma.logpdf(x, a, loc, scale)
def gamma_pdf(x, a, scale): return scipy.stats.gamma.pdf(x, a, scale=scale)
def beta_logpdf(x, a, b): return scipy.stats.beta.logpdf(x, a, b)
def beta_logpdf_shifted(x, a, b, loc, scale): return scipy.stats.beta.logpdf(x, a, b, loc=loc, scale=scale)
def beta_pdf(x, a, b): return scipy.stats.beta.pdf(x, a, b)
def poisson_logpmf(mu): return scipy.stats.poisson.logpmf(COUNTS, mu)
def poisson_pmf(mu): return scipy.stats.poisson.pmf(COUNTS, mu, loc=-1)
def mvn_logpdf(x, mean, factor): return scipy.stats.multivariate_normal.logpdf(x, mean, factor @ factor.T + 0.5 * np.eye(3))
def mvn_logpdf_point(x, mean, factor): return scipy.stats.multivariate_normal.logpdf(x, mean=mean, cov=factor @ factor.T + np.eye(3))


def stats_cases() -> list[Case]:
    return [
        Case("norm_logpdf", norm_logpdf, (a(3, 4), a(4), a(3, 1, lo=0.5, hi=2.0))),
        Case("norm_logpdf", norm_logpdf_standard, (a(5),)),
        Case("norm_logpdf", norm_logpdf_keywords, (a(3, 4), a(), a(4, lo=0.5, hi=2.0))),
        Case("norm_pdf", norm_pdf, (a(3, 4), a(4), a(3, 1, lo=0.5, hi=2.0))),
        Case("ndtr", norm_cdf, (a(3, 4), a(4), a(3, 1, lo=0.5, hi=2.0))), Case("ndtr", norm_cdf_standard, (a(5),)),
        Case("log_ndtr", norm_logcdf, (a(3, 4, lo=-6.0, hi=3.0), a(4), a(3, 1, lo=0.5, hi=2.0))),
        Case("ndtr", norm_sf, (a(3, 4), a(), a(3, 1, lo=0.5, hi=2.0))),
        Case("log_ndtr", norm_logsf, (a(3, 4, lo=-3.0, hi=6.0), a(4), a(lo=0.5, hi=2.0))),
        Case("t_logpdf", t_logpdf, (a(3, 4), a(4, lo=0.5, hi=6.0), a(), a(3, 1, lo=0.5, hi=2.0))),
        Case("t_logpdf", t_logpdf_standard, (a(5), a(lo=1.0, hi=30.0))),
        Case("t_pdf", t_pdf, (a(3, 4), a(3, 1, lo=0.5, hi=6.0), a(4, lo=0.5, hi=2.0))),
        Case("gamma_logpdf", gamma_logpdf, (a(3, 4, lo=0.5, hi=4.0), a(4, lo=0.5, hi=3.0), a(lo=-0.4, hi=0.4), a(3, 1, lo=0.5, hi=2.0))),
        Case("gamma_pdf", gamma_pdf, (a(3, 4, lo=0.1, hi=4.0), a(3, 1, lo=0.5, hi=3.0), a(4, lo=0.5, hi=2.0))),
        Case("beta_logpdf", beta_logpdf, (a(3, 4, lo=0.1, hi=0.9), a(4, lo=0.5, hi=3.0), a(3, 1, lo=0.5, hi=3.0))),
        Case("beta_logpdf", beta_logpdf_shifted, (a(5, lo=0.6, hi=1.3), a(lo=0.5, hi=3.0), a(5, lo=0.5, hi=3.0), a(lo=0.4, hi=0.5), a(lo=1.0, hi=1.2))),
        Case("beta_pdf", beta_pdf, (a(3, 4, lo=0.1, hi=0.9), a(lo=0.5, hi=3.0), a(3, 1, lo=0.5, hi=3.0))),
        Case("poisson_logpmf", poisson_logpmf, (a(4, lo=0.3, hi=4.0),)),
        Case("poisson_pmf", poisson_pmf, (a(3, 1, lo=0.3, hi=4.0),)),
        Case("mvn_logpdf", mvn_logpdf, (a(5, 3), a(3), a(3, 3))),
        Case("mvn_logpdf", mvn_logpdf_point, (a(3), a(3), a(3, 3))),
    ]  # fmt: skip


CASES = (
    elementwise_cases() + reduction_cases() + linalg_cases() + shape_cases() + decomposition_cases() + array_cases()
    + special_cases() + stats_cases()
)


def inputs(case: Case) -> tuple[list, tuple[int, ...], np.random.Generator]:
    """The case's arguments, the indices of those differentiated, and a generator seeded by its id."""
    rng = np.random.default_rng(zlib.crc32(case.id.encode()))
    args = [x.draw(rng) if isinstance(x, Arg) else x for x in case.args]
    return args, tuple(k for k, x in enumerate(case.args) if _is_float(x)), rng
