

import numpy as np


def sum_to(x, shape):
    """Sum `x` down to `shape`, undoing NumPy broadcasting."""
    # Most calls are no-ops; reading the attribute is 4x faster than np.shape on an array, and
    # 7-10x on a number (np.shape converts it to an array first), which a scalar loop's step pays.
    kind = type(x)
    have = x.shape if kind is np.ndarray or kind is np.float64 else () if kind is float else np.shape(x)
    if have == shape:
        return x
    shape = tuple(shape)
    if have == shape:
        return x
    lead = len(have) - len(shape)
    if lead < 0 or any(n != 1 and n != have[lead + i] for i, n in enumerate(shape)):
        # `shape` does not broadcast to `have`: the forward (np.broadcast_to(x, s)) raises here too
        raise ValueError(f"cannot sum an array of shape {have} down to shape {shape}: it does not broadcast to it")
    kept = tuple(lead + i for i, n in enumerate(shape) if n == 1 and have[lead + i] != 1)
    total = np.add.reduce(x, axis=tuple(range(lead)) + kept)
    return np.reshape(total, shape) if kept else total


def _promote(a, b, g):
    """2-D views of matmul operands and cotangent, so one formula covers 1-D cases."""
    a2 = a[np.newaxis, :] if np.ndim(a) == 1 else a
    b2 = b[:, np.newaxis] if np.ndim(b) == 1 else b
    g2 = g
    if np.ndim(b) == 1:
        g2 = np.expand_dims(g2, -1)
    if np.ndim(a) == 1:
        g2 = np.expand_dims(g2, -2)
    return a2, b2, g2


def _product_summed_to(x, y, stack):
    """`x @ y` (stacks of matrices) summed over the stack axes that `stack` broadcasts, as the
    cotangent of a broadcast operand needs it.

    Summing after the product materialises one matrix per stack entry, e.g. a (1000, 5, 10, 10)
    array for 5 matrices applied to 1000 vectors each; here the summed stack axes join the
    contracted axis instead (one matmul of copies of `x` and `y`), when those copies are the
    smaller. The caller's `sum_to` then only drops leading axes of length 1.
    """
    if np.ndim(x) <= 2 and np.ndim(y) <= 2:  # no stack
        return x @ y
    full = np.broadcast_shapes(np.shape(x)[:-2], np.shape(y)[:-2])
    rank = len(full)
    target = (1,) * (rank - len(stack)) + tuple(stack)
    summed = [d for d in range(rank) if target[d] == 1 and full[d] != 1]
    (m, inner), n = np.shape(x)[-2:], np.shape(y)[-1]
    copies = (m + n) * inner
    if not summed or m * n <= copies:
        return x @ y
    kept = [d for d in range(rank) if d not in summed]
    kept_shape = tuple(full[d] for d in kept)
    contracted = int(np.prod([full[d] for d in summed])) * inner  # not -1: a stack may have no entries
    x = np.broadcast_to(x, full + (m, inner))
    y = np.broadcast_to(y, full + (inner, n))
    x = np.reshape(np.transpose(x, kept + [rank] + summed + [rank + 1]), kept_shape + (m, contracted))
    y = np.reshape(np.transpose(y, kept + summed + [rank, rank + 1]), kept_shape + (contracted, n))
    return np.reshape(x @ y, target + (m, n))


def product_shape(a, b):
    """The shape of `a @ b` for operands of rank 1 or more (stacks broadcast; a 1-D operand's
    axis is dropped)."""
    sa, sb = np.shape(a), np.shape(b)
    if len(sa) == 2 and len(sb) == 2:
        return (sa[0], sb[1])
    if len(sb) == 1:
        return sa[:-1]
    if len(sa) == 1:
        return sb[:-2] + sb[-1:]
    return np.broadcast_shapes(sa[:-2], sb[:-2]) + (sa[-2], sb[-1])


def matmul_adjoint_b(g, a, b):
    """Cotangent of `b` in `a @ b` given the cotangent `g` of the product, or of an elementwise
    result it broadcast into (as `matmul_adjoint_a`). Any ranks; a scalar operand, which only
    `np.dot` takes, makes the product `a * b`."""
    if np.ndim(a) == 0 or np.ndim(b) == 0:
        return sum_to(g * a, np.shape(b))
    g = sum_to(g, product_shape(a, b))
    if np.ndim(a) == 2 and np.ndim(b) <= 2:
        return a.T @ g
    if np.ndim(a) == 1 and np.ndim(b) == 1:  # a dot product: g is a scalar
        return g * a
    a2, b2, g2 = _promote(a, b, g)
    b_bar = _product_summed_to(np.swapaxes(a2, -1, -2), g2, np.shape(b2)[:-2])
    if np.ndim(b) == 1:
        b_bar = b_bar[..., 0]
    return sum_to(b_bar, np.shape(b))


def logistic_loss_grad(w, x, y):
    """Gradient of logistic_loss with respect to w."""
    p = 1.0 / (1.0 + np.exp(-(x @ w)))

    # grad of: p = 1.0 / (1.0 + np.exp(-(x @ w)))
    p_1_bar = y - p
    w_bar = matmul_adjoint_b(-p_1_bar / np.size(p_1_bar), x, w)
    return w_bar
