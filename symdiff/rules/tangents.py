"""The tangent table: how forward mode (`transforms/forward.py`) pushes a tangent through an op.

Elementwise ops need no entry: their Jacobian with respect to each operand is
diagonal, so the vector-Jacobian product of the derivative table, given the
operand's tangent as its cotangent, is the Jacobian-vector product (`g * cos(x)`
is `x_dot * cos(x)`). The other differentiable ops take one entry each:

- `linear=(k, ...)`: the op is linear in those operands together (`np.sum`,
  `np.reshape`, `x[i]`, `np.concatenate`): its tangent is the op itself applied
  to their tangents (zeros for those without one), the other operands as they are;
- `multilinear=(k, ...)`: linear in each of those operands separately
  (`a @ b`): one such term per operand with a tangent, summed;
- `@register_tangent(func, operand=k)`: a function `jvp(dot, out, *operands,
  **static)` in the supported subset, the tangent the output gets through
  operand `k` from that operand's tangent `dot` (linear in `dot`).

An op without an entry is refused where it is used, when the derivative is built.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from symdiff.rules.linalg import column_shape
from symdiff.rules.reductions import max_vjp, min_vjp, prod_vjp
from symdiff.rules.registry import RULES, lookup_callable
from symdiff.rules.shapes import (
    append_row,
    axis_pad,
    axis_slice,
    diag_adjoint,
    matmul_adjoint_a,
    matmul_adjoint_b,
    permute_along,
    scatter_add,
    scatter_into_empty,
    sum_to,
    undelete,
    unrepeat,
    untile,
    written_values,
)


@dataclass(frozen=True)
class Tangent:
    """How one op's output tangent is made from its operands' tangents (see the module docstring)."""

    linear: tuple[int, ...] = ()
    multilinear: tuple[int, ...] = ()
    rules: dict[int, Callable] = field(default_factory=dict)  # operand -> jvp(dot, out, *operands, **static)
    shape_only: tuple[int, ...] = ()  # operands read for their shape alone: no tangent flows from them


TANGENTS: dict[str, Tangent] = {}


def _op(func) -> str:
    if isinstance(func, str) and func in RULES:
        return func
    found = lookup_callable(func)
    if found is None or not hasattr(found, "op"):
        raise ValueError(f"{func!r} has no rule in the derivative table; register its vjp first")
    return found.op


def register_tangent(
    func, *, linear: tuple[int, ...] = (), multilinear: tuple[int, ...] = (), shape_only: tuple[int, ...] = (),
    operand=None,
):  # fmt: skip
    """Give `func`'s op its forward-mode entry; with `operand=k`, a decorator for a jvp function.
    `shape_only` names operands the op reads for their shape alone (`np.full_like`'s first)."""
    op = _op(func)
    if operand is None:
        TANGENTS[op] = Tangent(linear=tuple(linear), multilinear=tuple(multilinear), shape_only=tuple(shape_only))
        return None

    def add(jvp: Callable) -> Callable:
        entry = TANGENTS.get(op, Tangent())
        TANGENTS[op] = Tangent(entry.linear, entry.multilinear, {**entry.rules, operand: jvp}, entry.shape_only)
        return jvp

    return add


ALL = tuple(range(64))  # every operand of a variadic op

for _func in (
    np.sum, np.mean, np.reshape, np.ravel, np.transpose, np.swapaxes, np.expand_dims, np.squeeze,
    np.broadcast_to, np.copy, np.cumsum, np.flip, np.roll, np.tile, np.repeat, np.trace, np.tril,
    np.triu, np.diag, sum_to, axis_slice, axis_pad, scatter_add, scatter_into_empty, diag_adjoint,
    unrepeat, untile, written_values, permute_along, undelete, np.delete,
):  # fmt: skip
    register_tangent(_func, linear=(0,))
register_tangent("getitem", linear=(0,))
register_tangent("setitem", linear=(0, 1))
register_tangent(np.concatenate, linear=ALL)
register_tangent(np.stack, linear=ALL)
register_tangent(np.linspace, linear=(0, 1))
register_tangent(np.full, linear=(1,))
register_tangent(np.full_like, linear=(1,), shape_only=(0,))
register_tangent(append_row, linear=(0, 1))
register_tangent(np.matmul, multilinear=(0, 1))
register_tangent(np.dot, multilinear=(0, 1))
register_tangent(np.outer, multilinear=(0, 1))
register_tangent(matmul_adjoint_a, multilinear=(0, 2), shape_only=(1,))  # c @ b.T, summed to a's shape
register_tangent(matmul_adjoint_b, multilinear=(0, 1), shape_only=(2,))
register_tangent("einsum", multilinear=ALL)


@register_tangent(np.max, operand=0)
def max_jvp(dot, out, a, axis=None, keepdims=False):
    # A maximum moves with its element (ties: their mean, as the vjp shares the cotangent).
    return np.sum(dot * max_vjp(np.ones_like(out), out, a, axis, keepdims), axis=axis, keepdims=keepdims)


@register_tangent(np.min, operand=0)
def min_jvp(dot, out, a, axis=None, keepdims=False):
    return np.sum(dot * min_vjp(np.ones_like(out), out, a, axis, keepdims), axis=axis, keepdims=keepdims)


@register_tangent(np.prod, operand=0)
def prod_jvp(dot, out, a, axis=None, keepdims=False):
    # Each output is a product along `axis` alone: its partials are the vjp of a cotangent of ones.
    return np.sum(dot * prod_vjp(np.ones_like(out), out, a, axis, keepdims), axis=axis, keepdims=keepdims)


@register_tangent(np.sort, operand=0)
def sort_jvp(dot, out, a, axis=-1):
    return permute_along(dot, np.argsort(a, axis=axis), axis)


@register_tangent(np.linalg.inv, operand=0)
def inv_jvp(dot, out, a):
    return -(out @ dot @ out)


@register_tangent(np.linalg.solve, operand=0)
def solve_jvp_a(dot, out, a, b):
    x = np.reshape(out, column_shape(np.shape(out), np.ndim(b)))  # a vector b taken as a column
    return -np.reshape(np.linalg.solve(a, dot @ x), np.shape(out))


@register_tangent(np.linalg.solve, operand=1)
def solve_jvp_b(dot, out, a, b):
    return np.linalg.solve(a, np.broadcast_to(dot, np.shape(b)))


@register_tangent(np.linalg.det, operand=0)
def det_jvp(dot, out, a):
    return out * np.trace(np.linalg.solve(a, dot), axis1=-2, axis2=-1)


@register_tangent(np.linalg.cholesky, operand=0)
def cholesky_jvp(dot, out, a):
    # dL = L phi(L^-1 dA L^-T), phi: the lower triangle with half the diagonal.
    inner = np.linalg.solve(out, np.swapaxes(np.linalg.solve(out, dot), -1, -2))
    return out @ (np.tril(inner, -1) + 0.5 * inner * np.eye(np.shape(out)[-1]))


__all__ = ["ALL", "TANGENTS", "Tangent", "register_tangent"]
