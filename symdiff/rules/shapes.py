"""Shape helpers that generated code calls: the only helpers rules may use.

Each is a primitive in the rule table (linear ones in transpose pairs:
`sum_to` <-> `np.broadcast_to`, `scatter_add` <-> getitem, `axis_slice` <->
`axis_pad`), so generated code that calls them can be differentiated again.
Pure shape functions (`keepdims_shape`, `concat_offset`) read only shapes and
have zero derivative. Their source is copied verbatim into standalone modules,
so each must depend on NumPy alone.
"""

from __future__ import annotations

import numpy as np

from symdiff.errors import NonScalarOutput


def sum_to(x, shape):
    """Sum `x` down to `shape`, undoing NumPy broadcasting."""
    # Most calls are no-ops; reading the attribute is 4x faster than np.shape.
    have = x.shape if type(x) is np.ndarray else np.shape(x)
    if have == shape:
        return x
    shape = tuple(shape)
    if have == shape:
        return x
    lead = len(have) - len(shape)
    kept = tuple(lead + i for i, n in enumerate(shape) if n == 1 and have[lead + i] != 1)
    total = np.add.reduce(x, axis=tuple(range(lead)) + kept)
    return np.reshape(total, shape) if kept else total


def keepdims_shape(shape, axis):
    """`shape` with the reduced `axis` (int, tuple or None) kept as length 1."""
    if axis is None:
        return (1,) * len(shape)
    axes = axis if isinstance(axis, tuple) else (axis,)
    axes = [a % len(shape) for a in axes]
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


def grad_seed(y):
    """The cotangent 1 for a scalar output; `grad` needs a scalar."""
    if np.ndim(y) != 0:
        raise NonScalarOutput(
            f"grad needs a scalar output, got shape {np.shape(y)}; "
            "use vjp for non-scalar outputs, or jacobian for the full matrix"
        )
    return np.ones((), dtype=np.result_type(y, 1.0))[()]


def scatter_add(g, shape, index):
    """Zeros of `shape` with `g` added at `index` (repeated integer indices add up)."""
    out = np.zeros(shape, dtype=np.result_type(g))
    for item in index if isinstance(index, tuple) else (index,):
        if isinstance(item, (np.ndarray, list)) and np.asarray(item).dtype != bool:
            np.add.at(out, index, g)
            return out
    out[index] = g  # slices, integers and masks reach each element at most once
    return out


def scatter_into_empty(g, shape, index):
    """An array of `shape` holding `g` at `index`, its other elements unset.

    Codegen prints it for `scatter_add` only where the lines that follow
    write every other element, each into elements nothing wrote yet (the four
    gate cotangents of an LSTM), so filling zeros first would be wasted work.
    """
    out = np.empty(shape, dtype=np.result_type(g))
    out[index] = g
    return out


def index_update(x, value, index):
    """A copy of `x` with `x[index] = value` (the functional form of element assignment)."""
    out = np.array(x, dtype=np.result_type(x, value), copy=True)
    out[index] = value
    return out


def written_values(g, index):
    """`g[index]`, except that an element `x[index] = value` wrote several times (a repeated integer
    index) reads as 0 everywhere but at the write NumPy kept: the cotangent of `value` in that write."""
    picked = g[index]
    items = index if isinstance(index, tuple) else (index,)
    if not any(isinstance(item, (np.ndarray, list)) and np.asarray(item).dtype != bool for item in items):
        return picked  # basic indexes and masks write each element at most once
    order = np.reshape(np.arange(np.size(picked)), np.shape(picked))
    slots = np.zeros(np.shape(g), dtype=order.dtype)
    slots[index] = order  # the same assignment, so the same write wins
    return np.where(slots[index] == order, picked, np.zeros_like(picked))


def axis_slice(x, start, stop, axis):
    """`x` restricted to `start:stop` along `axis`."""
    index = [slice(None)] * np.ndim(x)
    index[axis] = slice(start, stop)
    return x[tuple(index)]


def axis_pad(x, start, total, axis):
    """Zeros of length `total` along `axis` with `x` placed from `start` (axis_slice's transpose)."""
    shape = list(np.shape(x))
    stop = start + shape[axis]
    shape[axis] = total
    out = np.zeros(shape, dtype=np.result_type(x))
    index = [slice(None)] * len(shape)
    index[axis] = slice(start, stop)
    out[tuple(index)] = x
    return out


def concat_offset(k, axis, *arrays):
    """Where operand `k` starts along `axis` in `np.concatenate(arrays, axis)`."""
    return sum(np.shape(a)[axis] for a in arrays[:k])


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


def matmul_adjoint_a(g, a, b):
    """Cotangent of `a` in `a @ b` given the output cotangent `g` (any ranks)."""
    if np.ndim(a) == 2 and np.ndim(b) == 2:
        return g @ b.T
    if np.ndim(a) == 2 and np.ndim(b) == 1:
        return np.outer(g, b)
    _, b2, g2 = _promote(a, b, g)
    a_bar = g2 @ np.swapaxes(b2, -1, -2)
    if np.ndim(a) == 1:
        a_bar = a_bar[..., 0, :]
    return sum_to(a_bar, np.shape(a))


def matmul_adjoint_b(g, a, b):
    """Cotangent of `b` in `a @ b` given the output cotangent `g` (any ranks)."""
    if np.ndim(a) == 2 and np.ndim(b) <= 2:
        return a.T @ g
    a2, _, g2 = _promote(a, b, g)
    b_bar = np.swapaxes(a2, -1, -2) @ g2
    if np.ndim(b) == 1:
        b_bar = b_bar[..., 0]
    return sum_to(b_bar, np.shape(b))


def inverse_axes(axes, ndim):
    """The permutation that undoes `np.transpose(x, axes)`."""
    if axes is None:
        return tuple(range(ndim))[::-1]
    return tuple(int(i) for i in np.argsort([a % ndim for a in axes]))



def einsum(operands, subscripts):
    """`np.einsum(subscripts, *operands)`, taking the operands as one tuple (how generated code calls it)."""
    return np.einsum(subscripts, *operands)


def _einsum_terms(subscripts):
    """`'ij,jk->ik'` -> (['ij', 'jk'], 'ik'); an implicit output is NumPy's: letters used once, sorted."""
    inputs, arrow, output = subscripts.replace(" ", "").partition("->")
    terms = inputs.split(",")
    if not arrow:
        letters = "".join(terms)
        output = "".join(sorted(c for c in set(letters) if letters.count(c) == 1))
    return terms, output


def einsum_adjoint_subscripts(subscripts, k):
    """Subscripts contracting the output cotangent with every operand but `k`.

    The result carries operand k's letters that appear in the output or in
    another operand; `einsum_summed_axes` lists the others.
    """
    terms, output = _einsum_terms(subscripts)
    others = terms[:k] + terms[k + 1 :]
    seen = output + "".join(others)
    return ",".join([output, *others]) + "->" + "".join(c for c in terms[k] if c in seen)


def einsum_summed_axes(subscripts, k):
    """Axes of operand `k` whose letter appears nowhere else: summed away by the einsum."""
    terms, output = _einsum_terms(subscripts)
    seen = output + "".join(terms[:k] + terms[k + 1 :])
    return tuple(i for i, c in enumerate(terms[k]) if c not in seen)


def unit_axes(shape):
    """The axes of length 1 in `shape`: where NumPy may have broadcast an operand."""
    return tuple(i for i, n in enumerate(shape) if n == 1)
