

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


def matmul_adjoint_a(g, a, b):
    """Cotangent of `a` in `a @ b` given the cotangent `g` of the product, or of an elementwise
    result it broadcast into (summed to the product's shape first: `x @ w + c` with a wider `c`
    needs no `sum_to` between the two). Any ranks; a scalar operand, which only `np.dot` takes,
    makes the product `a * b`."""
    if np.ndim(a) == 0 or np.ndim(b) == 0:
        return sum_to(g * b, np.shape(a))
    g = sum_to(g, product_shape(a, b))
    if np.ndim(a) == 2 and np.ndim(b) == 2:
        return g @ b.T
    if np.ndim(a) == 2 and np.ndim(b) == 1:
        return np.outer(g, b)
    if np.ndim(a) == 1 and np.ndim(b) == 1:  # a dot product: g is a scalar
        return g * b
    a2, b2, g2 = _promote(a, b, g)
    a_bar = _product_summed_to(g2, np.swapaxes(b2, -1, -2), np.shape(a2)[:-2])
    if np.ndim(a) == 1:
        a_bar = a_bar[..., 0, :]
    return sum_to(a_bar, np.shape(a))


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


def mlp_loss_grad(w1, b1, w2, b2, x, y):
    """Gradient of mlp_loss with respect to w1, b1, w2, b2."""
    h = np.tanh(x @ w1 + b1)
    logits = h @ w2 + b2
    z_1 = np.max(logits, axis=1, keepdims=True)
    z = logits - z_1
    log_probs_1 = np.exp(z)
    log_probs_2 = np.sum(log_probs_1, axis=1, keepdims=True)
    log_probs = z - np.log(log_probs_2)
    mlp_loss_1 = y * log_probs

    # grad of: return -np.mean(np.sum(y * log_probs, axis=1))
    mlp_loss_1_bar = np.broadcast_to(-1.0 / np.size(np.broadcast_to(-1.0, np.shape(np.sum(mlp_loss_1, axis=1)))), np.shape(mlp_loss_1))
    log_probs_bar = mlp_loss_1_bar * y

    # grad of: log_probs = z - np.log(np.sum(np.exp(z), axis=1, keepdims=True))
    z_bar = sum_to(log_probs_bar, np.shape(z))
    z_bar = z_bar + sum_to(-log_probs_bar / log_probs_2, np.shape(log_probs_2)) * log_probs_1

    # grad of: z = logits - np.max(logits, axis=1, keepdims=True)
    hit = (logits == z_1) * np.ones_like(logits)
    logits_bar = sum_to(z_bar, np.shape(logits))
    logits_bar = logits_bar + sum_to(-z_bar, np.shape(z_1)) / np.sum(hit, axis=1, keepdims=True) * hit

    # grad of: logits = h @ w2 + b2
    b2_bar = sum_to(logits_bar, np.shape(b2))
    w2_bar = matmul_adjoint_b(logits_bar, h, w2)

    # grad of: h = np.tanh(x @ w1 + b1)
    h_2_bar = matmul_adjoint_a(logits_bar, h, w2) * ((1.0 - h) * (1.0 + h))
    b1_bar = sum_to(h_2_bar, np.shape(b1))
    w1_bar = matmul_adjoint_b(h_2_bar, x, w1)
    return w1_bar, b1_bar, w2_bar, b2_bar
