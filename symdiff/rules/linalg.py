"""Linear-algebra rules: matmul (`@`), dot, outer, transpose, swapaxes, einsum.

Bilinear ops give each operand one more product with the other operand. The
rank bookkeeping for 1-D operands lives in `matmul_adjoint_a/b`, which form a
closed family under differentiation.
"""

from __future__ import annotations

import operator

import numpy as np

from symdiff.rules.registry import register_derivative
from symdiff.rules.shapes import inverse_axes, matmul_adjoint_a, matmul_adjoint_b


@register_derivative(np.matmul, op="matmul", aliases=(operator.matmul,))
def matmul_vjp(g, out, x1, x2):
    return matmul_adjoint_a(g, x1, x2), matmul_adjoint_b(g, x1, x2)


@register_derivative(np.dot)
def dot_vjp(g, out, a, b):
    # Same as matmul for operands of rank <= 2 (docs/limitations.md).
    return matmul_adjoint_a(g, a, b), matmul_adjoint_b(g, a, b)


# The adjoint helpers are bilinear, so their own rules are products and
# adjoint helpers again: the family is closed under differentiation.
@register_derivative(matmul_adjoint_a, helper=True)
def matmul_adjoint_a_vjp(g, out, c, a, b):
    return g @ b, None, matmul_adjoint_b(c, g, b)


@register_derivative(matmul_adjoint_b, helper=True)
def matmul_adjoint_b_vjp(g, out, c, a, b):
    return a @ g, matmul_adjoint_a(c, a, g), None


@register_derivative(np.outer)
def outer_vjp(g, out, a, b):
    return np.reshape(g @ np.ravel(b), np.shape(a)), np.reshape(np.ravel(a) @ g, np.shape(b))


@register_derivative(np.transpose, static=("axes",))
def transpose_vjp(g, out, a, axes=None):
    return np.transpose(g, inverse_axes(axes, np.ndim(a)))


@register_derivative(np.swapaxes, static=("axis1", "axis2"))
def swapaxes_vjp(g, out, a, axis1, axis2):
    return np.swapaxes(g, axis1, axis2)
