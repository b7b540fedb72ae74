"""Reduction rules: sum, mean, prod, max, min (with `axis` and `keepdims`), and the
scans and reorderings along an axis: cumsum, cumprod, sort, trace, diff.

The cotangent is put back as length-1 axes with `keepdims_shape` and then
broadcast; `var`, `std`, `linalg.norm` and `diff` are composites. A scan with
`axis=None` runs over the flattened array: its rule works on `a` reshaped like
`out` and reshapes the cotangent back.
"""

from __future__ import annotations

import numpy as np

from symdiff.errors import UnsupportedSyntax
from symdiff.rules.registry import register_composite, register_derivative
from symdiff.rules.shapes import axis_slice, diagonal_mask, keepdims_shape, permute_along, trace_axes


@register_derivative(np.sum, static=("axis", "keepdims"))
def sum_vjp(g, out, a, axis=None, keepdims=False):
    return np.broadcast_to(np.reshape(g, keepdims_shape(np.shape(a), axis)), np.shape(a))


@register_derivative(np.mean, static=("axis", "keepdims"))
def mean_vjp(g, out, a, axis=None, keepdims=False):
    # Count elements on a broadcast view (free), not on `a`, so `a` need not be kept;
    # divide before spreading, so the division touches one value per output element.
    kept = np.reshape(g, keepdims_shape(np.shape(a), axis))
    count = np.size(np.broadcast_to(kept, np.shape(a))) / np.maximum(np.size(g), 1)  # 0 / 0 for an empty mean
    return np.broadcast_to(kept / count, np.shape(a))


@register_derivative(np.prod, static=("axis", "keepdims"))
def prod_vjp(g, out, a, axis=None, keepdims=False):
    # The product of the others is out / a, except at a zero: a lone zero gets
    # the product of the nonzero elements, and with two or more zeros every
    # cotangent is zero. (Second order misses the Hessian entries between two
    # zeros of the same product.)
    kept = keepdims_shape(np.shape(a), axis)
    zero = a == 0.0
    safe = np.where(zero, 1.0, a)
    lone = np.sum(zero, axis=axis, keepdims=True) == 1
    others = np.where(zero, np.prod(safe, axis=axis, keepdims=True) * lone, np.reshape(out, kept) / safe)
    return np.reshape(g, kept) * others


@register_derivative(np.max, static=("axis", "keepdims"), aliases=(np.amax,))
def max_vjp(g, out, a, axis=None, keepdims=False):
    # Ties share the cotangent evenly, as in JAX. The mask takes a's dtype:
    # dividing by an integer count would turn float32 into float64. The share
    # g / count is taken per output element, before it spreads over `a`'s
    # shape (one pass over `a` fewer; the mask is 0 or 1, so the same values).
    kept = keepdims_shape(np.shape(a), axis)
    hit = (a == np.reshape(out, kept)) * np.ones_like(a)
    return np.reshape(g, kept) / np.sum(hit, axis=axis, keepdims=True) * hit


@register_derivative(np.min, static=("axis", "keepdims"), aliases=(np.amin,))
def min_vjp(g, out, a, axis=None, keepdims=False):
    kept = keepdims_shape(np.shape(a), axis)
    hit = (a == np.reshape(out, kept)) * np.ones_like(a)
    return np.reshape(g, kept) / np.sum(hit, axis=axis, keepdims=True) * hit


@register_composite(np.var)
def var(a, axis=None, keepdims=False):
    centred = a - np.mean(a, axis=axis, keepdims=True)
    return np.mean(centred * centred, axis=axis, keepdims=keepdims)


@register_composite(np.std)
def std(a, axis=None, keepdims=False):
    # sqrt's derivative is infinite at 0, where a spread of zero (np.std of one element, or of
    # equal ones) then gives inf * 0 = nan: there the root's cotangent is taken as 0, a subgradient
    # (and the derivative itself where the spread is zero whatever the input, as for one element).
    spread = np.var(a, axis=axis, keepdims=keepdims)
    return np.where(spread != 0.0, np.sqrt(np.where(spread != 0.0, spread, 1.0)), 0.0)


def check_norm(arguments: dict) -> None:
    """Only the 2-norm of vectors and the Frobenius norm are covered; anything else is refused."""
    order = arguments.get("ord")
    value = getattr(order, "value", order) if order is not None else None
    axis = arguments.get("axis")
    vector_axis = isinstance(getattr(axis, "value", None), int)
    if value is None or value == "fro" or (value == 2 and vector_axis):
        return
    raise UnsupportedSyntax(
        f"np.linalg.norm with ord={value!r} is not supported (only the 2-norm and the Frobenius norm)",
        hint="write the norm out, e.g. np.sum(np.abs(x)) for ord=1, or np.max(np.abs(x)) for ord=np.inf",
    )


@register_composite(np.linalg.norm, check=check_norm)
def norm(x, ord=None, axis=None, keepdims=False):
    # Only the 2-norm / Frobenius norm; the frontend rejects other `ord`s.
    # At the zero vector the gradient is 0 (a subgradient), not nan: see std.
    squares = np.sum(x * x, axis=axis, keepdims=keepdims)
    return np.where(squares != 0.0, np.sqrt(np.where(squares != 0.0, squares, 1.0)), 0.0)


@register_derivative(np.cumsum, static=("axis",))
def cumsum_vjp(g, out, a, axis=None):
    # Each element feeds every later partial sum: the reversed cumulative sum of g.
    return np.reshape(np.flip(np.cumsum(np.flip(g, axis), axis=axis), axis), np.shape(a))


@register_derivative(np.cumprod, static=("axis",))
def cumprod_vjp(g, out, a, axis=None):
    # a_bar[i] = sum_{j >= i} g[j] out[j] / a[i], exact away from zeros. Elements after the first zero
    # of a scan get 0 (every product they enter is 0); the first zero itself gets the same sum with
    # that zero taken as 1. Second order misses entries between two zeros, as np.prod's rule does.
    x = np.reshape(a, np.shape(out))
    zero = x == 0.0
    first = zero * (np.cumsum(zero, axis=axis) == 1)
    safe = np.where(zero, 1.0, x)
    later = np.flip(np.cumsum(np.flip(g * out, axis), axis=axis), axis) / safe
    bridged = np.flip(np.cumsum(np.flip(g * np.cumprod(np.where(first, 1.0, x), axis=axis), axis), axis=axis), axis)
    return np.reshape(np.where(first, bridged, later), np.shape(a))


@register_derivative(np.sort, static=("axis",))
def sort_vjp(g, out, a, axis=-1):
    # Send each cotangent back to where its element came from (ties keep argsort's stable order).
    x = np.reshape(a, np.shape(out))
    back = np.argsort(np.argsort(x, axis=axis), axis=axis)
    return np.reshape(permute_along(g, back, axis), np.shape(a))


@register_derivative(permute_along, static=("axis",), helper=True)
def permute_along_vjp(g, out, x, perm, axis):
    return permute_along(g, np.argsort(perm, axis=axis), axis), None


@register_derivative(np.trace, static=("offset", "axis1", "axis2"))
def trace_vjp(g, out, a, offset=0, axis1=0, axis2=1):
    summed = np.expand_dims(g, trace_axes(axis1, axis2, np.ndim(a)))
    return summed * diagonal_mask(np.shape(a), offset, axis1, axis2)


def check_diff(arguments: dict) -> None:
    """`n` must be known when the derivative is built; prepend/append are not covered."""
    if any(name in arguments for name in ("prepend", "append")):
        raise UnsupportedSyntax(
            "np.diff with prepend= or append= is not supported", hint="np.concatenate the values first"
        )
    n = arguments.get("n")
    if n is not None and getattr(n, "value", None) != 1:
        raise UnsupportedSyntax("np.diff is supported with n=1 only", hint="apply np.diff n times")


@register_composite(np.diff, check=check_diff)
def diff_composite(a, n=1, axis=-1, prepend=None, append=None):
    # The axis counted from the front: the Numba overload of axis_pad (the cotangent) needs it so.
    front = axis % np.ndim(a)
    length = np.shape(a)[front]
    return axis_slice(a, 1, length, front) - axis_slice(a, 0, length - 1, front)
