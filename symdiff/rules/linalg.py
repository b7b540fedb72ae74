"""Linear-algebra rules: matmul (`@`), dot, outer, transpose, swapaxes, einsum.

Bilinear ops give each operand one more product with the other operand. The
rank bookkeeping for 1-D operands lives in `matmul_adjoint_a/b`, which form a
closed family under differentiation.
"""

from __future__ import annotations

import operator

import numpy as np

from symdiff.errors import UnsupportedSyntax
from symdiff.rules.registry import register_derivative
from symdiff.rules.shapes import (
    einsum,
    einsum_adjoint_subscripts,
    einsum_summed_axes,
    inverse_axes,
    matmul_adjoint_a,
    matmul_adjoint_b,
    unit_axes,
)


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


def check_einsum(static: dict) -> None:
    """Reject subscripts the einsum rule does not cover, when they are known at build time."""
    subscripts = getattr(static["subscripts"], "value", None)
    if not isinstance(subscripts, str):
        return  # computed at run time: generated code passes adjoint subscripts along
    hint = "write each axis out with its own letter, e.g. np.einsum('bij,bjk->bik', a, b)"
    if "." in subscripts:
        raise UnsupportedSyntax("np.einsum with '...' (broadcast axes) is not supported", hint=hint)
    inputs, arrow, output = subscripts.replace(" ", "").partition("->")
    unknown = sorted(set(output) - set(inputs)) if arrow else []
    if unknown:
        raise UnsupportedSyntax(f"np.einsum output index {unknown[0]!r} appears in no operand", hint=hint)
    for term in [*inputs.split(","), output]:
        if not all(c.isalpha() for c in term):
            raise UnsupportedSyntax(f"np.einsum subscripts {subscripts!r} are not letters and commas", hint=hint)
        repeated = sorted({c for c in term if term.count(c) > 1})
        if repeated:
            raise UnsupportedSyntax(
                f"np.einsum index {repeated[0]!r} repeats within {term!r} (a trace or diagonal), "
                "which is not supported",
                hint="take the diagonal with integer-array indexing, e.g. x[np.arange(n), np.arange(n)]",
            )


# Generated code calls the `einsum(operands, subscripts)` helper; users write np.einsum.
@register_derivative(
    einsum, static=("subscripts",), each=True, helper=True, aliases=(np.einsum,), check=check_einsum, static_first=True
)
def einsum_vjp(g, out, k, *operands, subscripts):
    # Contract g with the other operands. Axes that only operand k carries
    # were summed away: they come back as length 1, then by broadcasting.
    # Axes of length 1 that NumPy broadcast inside the einsum are summed back.
    summed = einsum_summed_axes(subscripts, k)
    partial = np.einsum(einsum_adjoint_subscripts(subscripts, k), g, *operands[:k], *operands[k:][1:])
    shape = np.shape(operands[k])
    kept = np.sum(np.expand_dims(partial, summed), axis=unit_axes(shape), keepdims=True)
    return np.broadcast_to(kept, shape)
