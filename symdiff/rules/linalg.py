"""Linear-algebra rules: matmul (`@`), dot, outer, transpose, swapaxes, einsum, and
`np.linalg` inv, solve, det, slogdet, cholesky, eigh, qr.

Bilinear ops give each operand one more product with the other operand. The
rank bookkeeping for 1-D operands lives in `matmul_adjoint_a/b`, which form a
closed family under differentiation. The matrix functions follow Giles (2008),
"An extended collection of matrix derivative results", on stacks of matrices
(the last two axes) as NumPy computes them. Decompositions with several results
are composites over a `*_packed` primitive that returns them in one array.
Cholesky and eigh read only the lower triangle of their operand, as LAPACK
does, so their cotangents are lower triangular: for a symmetric operand built
from other variables this gives the same gradients as the symmetric form.
"""

from __future__ import annotations

import operator

import numpy as np

from symdiff.errors import UnsupportedSyntax
from symdiff.rules.registry import register_composite, register_derivative
from symdiff.rules.shapes import (
    column_shape,
    eigh_packed,
    einsum,
    einsum_adjoint_subscripts,
    einsum_summed_axes,
    inverse_axes,
    matmul_adjoint_a,
    matmul_adjoint_b,
    qr_packed,
    slogdet_packed,
    sum_to,
    unit_axes,
)


@register_derivative(np.matmul, op="matmul", aliases=(operator.matmul,))
def matmul_vjp(g, out, x1, x2):
    return matmul_adjoint_a(g, x1, x2), matmul_adjoint_b(g, x1, x2)


@register_derivative(np.dot)
def dot_vjp(g, out, a, b):
    # Same as matmul for operands of rank <= 2 (docs/limitations.md); the adjoint helpers
    # also take dot's scalar operands, where dot is a product.
    return matmul_adjoint_a(g, a, b), matmul_adjoint_b(g, a, b)


# The adjoint helpers are bilinear, so their own rules are products and
# adjoint helpers again: the family is closed under differentiation. The helpers
# sum `c` to the product's shape first (`c` may be wider), so `c`'s cotangent
# spreads back over `c`'s shape.
@register_derivative(matmul_adjoint_a, helper=True)
def matmul_adjoint_a_vjp(g, out, c, a, b):
    return np.broadcast_to(g @ b, np.shape(c)), None, matmul_adjoint_b(c, g, b)


@register_derivative(matmul_adjoint_b, helper=True)
def matmul_adjoint_b_vjp(g, out, c, a, b):
    return np.broadcast_to(a @ g, np.shape(c)), matmul_adjoint_a(c, a, g), None


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


# -- np.linalg -----------------------------------------------------------------------------------------------------
@register_derivative(np.linalg.inv)
def inv_vjp(g, out, a):
    inverse_t = np.swapaxes(out, -1, -2)
    return -(inverse_t @ g @ inverse_t)


@register_derivative(np.linalg.solve)
def solve_vjp(g, out, a, b):
    # b_bar solves the transposed system and a_bar = -b_bar x^T, a vector b (NumPy 2: b.ndim == 1)
    # taken as a column. sum_to folds the stack axes one operand got by broadcasting.
    columns = np.linalg.solve(np.swapaxes(a, -1, -2), np.reshape(g, column_shape(np.shape(g), np.ndim(b))))
    x = np.reshape(out, column_shape(np.shape(out), np.ndim(b)))
    a_bar = -(columns @ np.swapaxes(x, -1, -2))
    return sum_to(a_bar, np.shape(a)), sum_to(np.reshape(columns, np.shape(g)), np.shape(b))


@register_derivative(np.linalg.det)
def det_vjp(g, out, a):
    # d det = det * tr(a^-1 da). Undefined where a is singular (inv raises LinAlgError).
    return np.expand_dims(g * out, (-2, -1)) * np.swapaxes(np.linalg.inv(a), -1, -2)


@register_derivative(slogdet_packed, helper=True)
def slogdet_packed_vjp(g, out, a):
    # Only log|det| has a derivative; the sign is piecewise constant.
    return np.expand_dims(g[..., 1], (-2, -1)) * np.swapaxes(np.linalg.inv(a), -1, -2)


@register_composite(np.linalg.slogdet)
def slogdet_composite(a):
    packed = slogdet_packed(a)
    return packed[..., 0], packed[..., 1]


@register_derivative(np.linalg.cholesky)
def cholesky_vjp(g, out, a):
    # Murray (2016): S = L^-T Phi(L^T g) L^-1 with Phi the lower triangle, diagonal halved;
    # LAPACK reads only a's lower triangle, whose cotangent is Phi(S + S^T).
    inverse = np.linalg.inv(out)
    inner = np.swapaxes(out, -1, -2) @ g
    s = np.swapaxes(inverse, -1, -2) @ (0.5 * (np.tril(inner) + np.tril(inner, -1))) @ inverse
    both = s + np.swapaxes(s, -1, -2)
    return 0.5 * (np.tril(both) + np.tril(both, -1))


@register_derivative(eigh_packed, helper=True)
def eigh_packed_vjp(g, out, a):
    # Giles (2008) 3.1: a_bar = V (diag(w_bar) + F o (V^T V_bar)) V^T, F_ij = 1 / (w_j - w_i) off the
    # diagonal. Repeated eigenvalues make F infinite: the eigenvectors are then not unique.
    w = out[..., 0, :]
    v = out[..., 1:, :]
    eye = np.eye(np.shape(a)[-1]) > 0.5
    f = 1.0 / (w[..., np.newaxis, :] - w[..., :, np.newaxis] + eye) - eye
    inner = f * (np.swapaxes(v, -1, -2) @ g[..., 1:, :]) + g[..., 0:1, :] * eye
    s = v @ inner @ np.swapaxes(v, -1, -2)
    both = s + np.swapaxes(s, -1, -2)
    return 0.5 * (np.tril(both) + np.tril(both, -1))


def check_eigh(arguments: dict) -> None:
    """Only the default lower triangle (UPLO='L') is covered."""
    uplo = arguments.get("UPLO")
    if uplo is not None and getattr(uplo, "value", uplo) != "L":
        raise UnsupportedSyntax("np.linalg.eigh with UPLO='U' is not supported", hint="transpose the operand instead")


@register_composite(np.linalg.eigh, check=check_eigh)
def eigh_composite(a, UPLO="L"):
    packed = eigh_packed(a)
    return packed[..., 0, :], packed[..., 1:, :]


@register_derivative(qr_packed, helper=True)
def qr_packed_vjp(g, out, a):
    # Walter & Lehmann (2018), Seeger et al. (2017), rows >= columns:
    # M = R R_bar^T - Q_bar^T Q, a_bar = (Q_bar + Q copyltu(M)) R^-T, copyltu mirrors the lower triangle.
    m = np.shape(a)[-2]
    q = out[..., :m, :]
    r = out[..., m:, :]
    q_bar = g[..., :m, :]
    r_bar = g[..., m:, :]
    mid = r @ np.swapaxes(r_bar, -1, -2) - np.swapaxes(q_bar, -1, -2) @ q
    mirrored = np.tril(mid) + np.swapaxes(np.tril(mid, -1), -1, -2)
    return np.swapaxes(np.linalg.solve(r, np.swapaxes(q_bar + q @ mirrored, -1, -2)), -1, -2)


def check_qr(arguments: dict) -> None:
    """Only mode='reduced' (the default) is covered."""
    mode = arguments.get("mode")
    if mode is not None and getattr(mode, "value", mode) != "reduced":
        raise UnsupportedSyntax(
            f"np.linalg.qr with mode={getattr(mode, 'value', mode)!r} is not supported", hint="use mode='reduced'"
        )


@register_composite(np.linalg.qr, check=check_qr)
def qr_composite(a, mode="reduced"):
    packed = qr_packed(a)
    m = np.shape(a)[-2]
    return packed[..., :m, :], packed[..., m:, :]
