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
from dataclasses import dataclass, field, replace

import numpy as np

from symdiff.rules.linalg import column_shape
from symdiff.rules.reductions import max_vjp, min_vjp, prod_vjp
from symdiff.rules.registry import RULES, lookup_callable
from symdiff.rules.shapes import (
    append_row,
    axis_pad,
    axis_slice,
    batch_aligned,
    batch_axis,
    batch_index,
    batch_shape,
    batch_sum_axes,
    batch_transposed,
    diag_adjoint,
    index_update,
    matmul_adjoint_a,
    matmul_adjoint_b,
    permute_along,
    product_shape,
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
    batched: dict[int, Callable] = field(default_factory=dict)  # the same, for tangents batched on axis 0


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
        entry = TANGENTS.get(op, Tangent())
        TANGENTS[op] = replace(
            entry, linear=tuple(linear), multilinear=tuple(multilinear), shape_only=tuple(shape_only)
        )
        return None

    def add(jvp: Callable) -> Callable:
        entry = TANGENTS.get(op, Tangent())
        TANGENTS[op] = replace(entry, rules={**entry.rules, operand: jvp})
        return jvp

    return add


def register_batched(func, operand: int = 0):
    """Decorator: `jvp(dot, out, *operands, **static)` for `dot` holding several tangents of
    operand `operand` along a new first axis (forward mode with several directions at once)."""
    op = _op(func)

    def add(jvp: Callable) -> Callable:
        entry = TANGENTS.get(op, Tangent())
        TANGENTS[op] = replace(entry, batched={**entry.batched, operand: jvp})
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


# -- several tangents at once, on a new first axis (`jvp_function(..., batched=True)`) --------
# Elementwise ops need nothing more: their vjp rules broadcast the batch axis through. A
# linear op gets the op itself on the batch, its axes moved past the batch axis.


@register_batched(np.sum)
def sum_batched(dot, out, a, axis=None, keepdims=False):
    return np.sum(dot, axis=batch_axis(axis, np.ndim(a)), keepdims=keepdims)


@register_batched(np.mean)
def mean_batched(dot, out, a, axis=None, keepdims=False):
    return np.mean(dot, axis=batch_axis(axis, np.ndim(a)), keepdims=keepdims)


def _as_out(dot, out):
    return np.reshape(dot, batch_shape(np.shape(dot)[0], np.shape(out)))


@register_batched(np.reshape)
def reshape_batched(dot, out, a, shape):
    return _as_out(dot, out)


@register_batched(np.ravel)
def ravel_batched(dot, out, a):
    return _as_out(dot, out)


@register_batched(np.expand_dims)
def expand_dims_batched(dot, out, a, axis):
    return _as_out(dot, out)


@register_batched(np.squeeze)
def squeeze_batched(dot, out, a, axis=None):
    return _as_out(dot, out)


@register_batched(np.copy)
def copy_batched(dot, out, a):
    return dot


@register_batched(np.transpose)
def transpose_batched(dot, out, a, axes=None):
    return np.transpose(dot, batch_transposed(axes, np.ndim(a)))


@register_batched(np.swapaxes)
def swapaxes_batched(dot, out, a, axis1, axis2):
    return np.swapaxes(dot, batch_axis(axis1, np.ndim(a)), batch_axis(axis2, np.ndim(a)))


@register_batched(np.broadcast_to)
def broadcast_to_batched(dot, out, array, shape):
    aligned = np.reshape(dot, batch_aligned(np.shape(dot), np.ndim(out)))
    return np.broadcast_to(aligned, batch_shape(np.shape(dot)[0], np.shape(out)))


@register_batched(sum_to)
def sum_to_batched(dot, out, x, shape):
    return _as_out(np.sum(dot, axis=batch_sum_axes(np.shape(dot), np.shape(out)), keepdims=True), out)


@register_batched("getitem")
def getitem_batched(dot, out, a, index):
    return dot[batch_index(index, np.ndim(a))]


@register_batched(scatter_add)
def scatter_add_batched(dot, out, x, shape, index):
    return scatter_add(dot, batch_shape(np.shape(dot)[0], shape), batch_index(index, len(shape)))


@register_batched("setitem", 0)
def setitem_batched_x(dot, out, x, value, index):
    return index_update(dot, 0.0, batch_index(index, np.ndim(x)))


@register_batched("setitem", 1)
def setitem_batched_value(dot, out, x, value, index):
    written = np.ndim(x[index])
    zeros = np.zeros(batch_shape(np.shape(dot)[0], np.shape(x)))
    return index_update(zeros, np.reshape(dot, batch_aligned(np.shape(dot), written)), batch_index(index, np.ndim(x)))


def setitem_batched_both(dot, value_dot, out, x, value, index):
    """Both operands of `x[index] = value` have tangents: the value's written into x's (one write,
    not x's with the region zeroed plus zeros with the value's written, added)."""
    written = np.ndim(x[index])
    aligned = np.reshape(value_dot, batch_aligned(np.shape(value_dot), written))
    return index_update(dot, aligned, batch_index(index, np.ndim(x)))


def setitem_batched_one_rank(dot, value_dot, out, x, value, index):
    """The same where the value has the rank of the region written (slices of x, a value of x's rank)."""
    return index_update(dot, value_dot, batch_index(index, np.ndim(x)))


@register_batched(np.max)
def max_batched(dot, out, a, axis=None, keepdims=False):
    partials = max_vjp(np.ones_like(out), out, a, axis, keepdims)
    return np.sum(dot * partials, axis=batch_axis(axis, np.ndim(a)), keepdims=keepdims)


@register_batched(np.min)
def min_batched(dot, out, a, axis=None, keepdims=False):
    partials = min_vjp(np.ones_like(out), out, a, axis, keepdims)
    return np.sum(dot * partials, axis=batch_axis(axis, np.ndim(a)), keepdims=keepdims)


@register_batched(np.prod)
def prod_batched(dot, out, a, axis=None, keepdims=False):
    partials = prod_vjp(np.ones_like(out), out, a, axis, keepdims)
    return np.sum(dot * partials, axis=batch_axis(axis, np.ndim(a)), keepdims=keepdims)


@register_batched(np.outer, 0)
def outer_batched_a(dot, out, a, b):
    return np.reshape(dot, batch_shape(np.shape(dot)[0], (-1, 1))) * np.ravel(b)


@register_batched(np.outer, 1)
def outer_batched_b(dot, out, a, b):
    return np.expand_dims(np.ravel(a), -1) * np.reshape(dot, batch_shape(np.shape(dot)[0], (1, -1)))


def _aligned(dot, ndim):
    return np.reshape(dot, batch_aligned(np.shape(dot), ndim))


def _summed_to(full, a):
    """A batch of tangents summed to the tangents of `a` (sum_to, past the batch axis)."""
    return _as_out(np.sum(full, axis=batch_sum_axes(np.shape(full), np.shape(a)), keepdims=True), a)


@register_batched(np.matmul, 0)
def matmul_batched_a(dot, out, x1, x2):
    if np.ndim(x2) == 1:
        return dot @ x2
    if np.ndim(x1) == 1:
        if np.ndim(x2) == 2:  # every tangent row against one matrix: one matrix product
            return dot @ x2
        # a row against x2's matrices, the batch axis in front of their stack
        return np.squeeze(np.expand_dims(_aligned(dot, np.ndim(out)), -2) @ x2, -2)
    return _aligned(dot, np.ndim(out)) @ x2


@register_batched(np.matmul, 1)
def matmul_batched_b(dot, out, x1, x2):
    if np.ndim(x2) == 1:
        if np.ndim(x1) == 1:  # a dot product: each tangent row against x1 (x1 @ dot would read dot as a matrix)
            return dot @ x1
        if np.ndim(x1) == 2:  # one matrix times each tangent row: one matrix product, not a stack of them
            return dot @ np.transpose(x1)
        return np.squeeze(x1 @ np.expand_dims(_aligned(dot, np.ndim(out)), -1), -1)  # each tangent as a column
    if np.ndim(x1) == 1:
        return x1 @ dot
    return x1 @ _aligned(dot, np.ndim(out))


def _product_tangents(dot, a, b):
    """A batch of tangents of `matmul_adjoint_*`'s `c` summed, past the batch axis, to the shape
    of `a @ b` (the helpers sum `c` so first)."""
    shape = product_shape(a, b)
    return np.reshape(np.sum(dot, axis=batch_sum_axes(np.shape(dot), shape)), batch_shape(np.shape(dot)[0], shape))


@register_batched(matmul_adjoint_a, 0)
def matmul_adjoint_a_batched_c(dot, out, c, a, b):
    if np.ndim(a) == 0 or np.ndim(b) == 0:
        return _summed_to(dot * b, a)
    dot = _product_tangents(dot, a, b)
    if np.ndim(b) == 1:
        return _summed_to(np.expand_dims(dot, -1) * b, a)
    if np.ndim(a) == 1:
        if np.ndim(b) == 2:  # each cotangent row against one matrix: one matrix product
            return dot @ np.transpose(b)
        return _summed_to(np.squeeze(np.expand_dims(dot, -2) @ np.swapaxes(b, -1, -2), -2), a)
    return _summed_to(dot @ np.swapaxes(b, -1, -2), a)


@register_batched(matmul_adjoint_a, 2)
def matmul_adjoint_a_batched_b(dot, out, c, a, b):
    if np.ndim(a) == 0 or np.ndim(b) == 0:
        return _summed_to(c * _aligned(dot, np.ndim(c)), a)
    c = sum_to(c, product_shape(a, b))
    if np.ndim(b) == 1:
        return _summed_to(np.expand_dims(c, -1) * _aligned(dot, np.ndim(c) + 1), a)
    if np.ndim(a) == 1:
        return _summed_to(np.squeeze(np.expand_dims(c, -2) @ np.swapaxes(dot, -1, -2), -2), a)
    return _summed_to(c @ np.swapaxes(_aligned(dot, np.ndim(c)), -1, -2), a)


@register_batched(matmul_adjoint_b, 0)
def matmul_adjoint_b_batched_c(dot, out, c, a, b):
    if np.ndim(a) == 0 or np.ndim(b) == 0:
        return _summed_to(dot * a, b)
    dot = _product_tangents(dot, a, b)
    if np.ndim(a) == 1 and np.ndim(b) == 1:
        return _summed_to(np.expand_dims(dot, -1) * a, b)
    if np.ndim(a) == 1:
        return _summed_to(np.expand_dims(a, -1) * np.expand_dims(dot, -2), b)
    if np.ndim(b) == 1:
        if np.ndim(a) == 2:  # one matrix's transpose times each cotangent row: one matrix product
            return dot @ a
        return _summed_to(np.squeeze(np.swapaxes(a, -1, -2) @ np.expand_dims(dot, -1), -1), b)
    return _summed_to(np.swapaxes(a, -1, -2) @ dot, b)


@register_batched(matmul_adjoint_b, 1)
def matmul_adjoint_b_batched_a(dot, out, c, a, b):
    if np.ndim(a) == 0 or np.ndim(b) == 0:
        return _summed_to(c * _aligned(dot, np.ndim(c)), b)
    c = sum_to(c, product_shape(a, b))
    if np.ndim(a) == 1 and np.ndim(b) == 1:
        return _summed_to(c * dot, b)
    if np.ndim(a) == 1:
        return _summed_to(np.expand_dims(_aligned(dot, np.ndim(c)), -1) * np.expand_dims(c, -2), b)
    if np.ndim(b) == 1:
        return _summed_to(np.squeeze(np.swapaxes(_aligned(dot, np.ndim(c) + 1), -1, -2) @ np.expand_dims(c, -1), -1), b)
    return _summed_to(np.swapaxes(_aligned(dot, np.ndim(c)), -1, -2) @ c, b)


__all__ = ["ALL", "TANGENTS", "Tangent", "register_tangent"]
