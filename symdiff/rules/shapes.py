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


def float_tape():
    """A tape of float64 numbers, 8 bytes an entry: what a build for numbers prints for a
    `tape_new` whose pushes are all float64 numbers (optimize/known_shapes.py)."""
    from array import array  # here, so that a copy of this helper needs no import around it

    return array("d")


def keepdims_shape(shape, axis):
    """`shape` with the reduced `axis` (int, tuple or None) kept as length 1.

    Raises NumPy's own errors for an axis the reduction would refuse (out of range, repeated):
    a gradient whose reverse pass reads only shapes must still fail where the function fails.
    """
    if axis is None:
        return (1,) * len(shape)
    if not shape and axis in (0, -1) and not isinstance(axis, tuple):
        return ()  # NumPy lets axis=0 (or -1) reduce a 0-d array: nothing to keep
    axes = axis if isinstance(axis, tuple) else (axis,)
    rank = len(shape)
    for a in axes:
        if not -rank <= a < rank:
            raise np.exceptions.AxisError(a, rank)
    axes = [a % rank for a in axes]
    if len(set(axes)) != len(axes):
        raise ValueError("duplicate value in 'axis'")
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


def grad_seed(y):
    """The cotangent 1 for a scalar output; `grad` needs a scalar, or an array of one element
    (as autograd takes: `np.ravel(loss)`), whose cotangent is ones of its shape."""
    if np.size(y) != 1:
        raise NonScalarOutput(
            f"grad needs a scalar output, got shape {np.shape(y)}; "
            "use vjp for non-scalar outputs, or jacobian for the full matrix"
        )
    if np.ndim(y):
        return np.ones(np.shape(y), dtype=np.result_type(y, 1.0))
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


def undelete(g, obj, shape, axis):
    """Zeros of `shape` with `g` where `np.delete(x, obj, axis)` kept `x`'s elements (its transpose)."""
    if axis is None:
        size = int(np.prod(shape))
        out = np.zeros(size, dtype=np.result_type(g))
        out[np.delete(np.arange(size), obj)] = g
        return np.reshape(out, shape)
    out = np.zeros(shape, dtype=np.result_type(g))
    index = [slice(None)] * len(shape)
    index[axis] = np.delete(np.arange(shape[axis]), obj)
    out[tuple(index)] = g
    return out


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


# -- linear algebra with several results: one array holds them all ------------------------------------------------
# The IR gives each op one result, so a decomposition returns its results packed
# into one array; its composite (rules/linalg.py) unpacks them with indexing.


def slogdet_packed(a):
    """`np.linalg.slogdet(a)` as one array: `[..., 0]` the sign, `[..., 1]` log|det a|."""
    sign, logabsdet = np.linalg.slogdet(a)
    return np.stack((sign, logabsdet), axis=-1)


def eigh_packed(a):
    """`np.linalg.eigh(a)` as one array: row `[..., 0, :]` the eigenvalues, rows `[..., 1:, :]` the eigenvectors."""
    w, v = np.linalg.eigh(a)
    return np.concatenate((w[..., np.newaxis, :], v), axis=-2)


def qr_packed(a):
    """`np.linalg.qr(a)` (reduced, rows >= columns) as one array: `[..., :m, :]` is Q, `[..., m:, :]` is R."""
    if np.shape(a)[-2] < np.shape(a)[-1]:
        raise ValueError("symdiff differentiates np.linalg.qr of square or tall matrices only (rows >= columns)")
    q, r = np.linalg.qr(a)
    return np.concatenate((q, r), axis=-2)


def column_shape(shape, ndim_b):
    """`shape` with a trailing 1 when `np.linalg.solve`'s right-hand side is a vector (`ndim_b == 1`)."""
    return tuple(shape) + (1,) if ndim_b == 1 else tuple(shape)


# -- array manipulation -------------------------------------------------------------------------------------------
def permute_along(x, perm, axis):
    """`np.take_along_axis(x, perm, axis)` where `perm` is a permutation along `axis` (argsort's)."""
    return np.take_along_axis(x, perm, axis=axis)


def unrepeat(g, repeats, axis, shape):
    """Sum each run of `np.repeat(x, repeats, axis)` back into one element of `x` (of `shape`)."""
    if axis is None:
        g = np.ravel(g)
        axis, length = 0, int(np.prod(shape))
    else:
        length = shape[axis]
    counts = np.broadcast_to(np.asarray(repeats), (length,))
    owner = np.repeat(np.arange(length), counts)
    moved = np.moveaxis(g, axis, 0)
    total = np.zeros((length,) + moved.shape[1:], dtype=np.result_type(g))
    np.add.at(total, owner, moved)
    return np.reshape(np.moveaxis(total, 0, axis), shape)


def untile(g, reps, shape):
    """Sum the copies `np.tile(x, reps)` made back into `x` (of `shape`)."""
    reps = tuple(reps) if isinstance(reps, (tuple, list)) else (reps,)
    rank = max(len(reps), len(shape))
    reps = (1,) * (rank - len(reps)) + reps
    full = (1,) * (rank - len(shape)) + tuple(shape)
    grid = np.reshape(g, tuple(n for pair in zip(reps, full) for n in pair))
    return np.reshape(np.sum(grid, axis=tuple(range(0, 2 * rank, 2))), shape)


def negated(shift):
    """`-shift` for `np.roll`'s shift, an integer or a tuple of them."""
    return tuple(-s for s in shift) if isinstance(shift, (tuple, list)) else -shift


def diagonal_mask(shape, offset, axis1, axis2):
    """A boolean array broadcastable to `shape`, true on the diagonal `np.trace` sums."""
    rank = len(shape)
    eye = np.eye(shape[axis1], shape[axis2], offset, dtype=bool)
    first, second = axis1 % rank, axis2 % rank
    if first > second:
        eye = eye.T
    view = [1] * rank
    view[min(first, second)], view[max(first, second)] = eye.shape
    return np.reshape(eye, tuple(view))


def trace_axes(axis1, axis2, rank):
    """The two axes `np.trace` sums over, counted from the front, in increasing order."""
    return tuple(sorted((axis1 % rank, axis2 % rank)))


def atleast_shape(shape, ndim):
    """The shape `np.atleast_{ndim}d` gives an array of `shape`."""
    shape = tuple(shape)
    if len(shape) >= ndim:
        return shape
    if ndim == 3 and len(shape) == 2:
        return shape + (1,)
    if ndim == 3 and len(shape) == 1:
        return (1,) + shape + (1,)
    return (1,) * (ndim - len(shape)) + shape


def diag_adjoint(g, shape, k):
    """The cotangent of `v` in `np.diag(v, k)` given `g`: for a vector v, the k-th diagonal of g;
    for a matrix v (of `shape`), g placed on the k-th diagonal of zeros."""
    if len(shape) == 1:
        return np.diag(g, k)
    out = np.zeros(shape, dtype=np.result_type(g, 1.0))
    steps = np.arange(np.shape(g)[0])
    out[steps + max(-k, 0), steps + max(k, 0)] = g
    return out


def append_row(rows, item):
    """`rows` with `item` added as its last row: a list grown by `append` in a loop that runs as a
    loop, held as the array of its items. Rows of length 0 (a list that started empty) take the
    item's shape."""
    item = np.asarray(item)
    if np.shape(rows)[0] == 0:
        return item[None].astype(np.result_type(rows, item))
    if np.shape(rows)[1:] != np.shape(item):
        raise ValueError(
            f"a list grown by append in a loop is held as an array, so its items need one shape: "
            f"{np.shape(rows)[1:]}, then {np.shape(item)}"
        )
    return np.concatenate((rows, item[None]))


def nbytes_of(x):
    """The bytes a value holds: what one saved loop state costs (`revolve_snapshots`)."""
    return np.asarray(x).nbytes


def revolve_snapshots(trips, snapshots, memory, state_bytes):
    """How many loop states a binomially checkpointed loop (transforms/checkpoint.py) keeps at
    once: `snapshots` when it is positive, else as many as `memory` bytes hold at `state_bytes`
    a state, else the fewest with which no iteration runs more than three times. At least 1,
    and no more than the trip count."""
    if snapshots > 0:
        count = snapshots
    elif memory > 0:
        count = memory // max(state_bytes, 1)
    else:  # C(count + 2, 2) >= trips: at most two runs again
        count = 1
        while (count + 2) * (count + 1) // 2 < trips:
            count += 1
    return max(min(count, trips), 1)


def revolve_next(position, end, stop, held, snapshots):
    """Where a binomial checkpointing schedule (Griewank's revolve) next keeps a loop state.

    Iterations `position` to `end - 1` remain to be differentiated, the state
    before iteration `position` is at hand (and kept), and `held` states were
    kept before it. The loop runs from `position` to the result, at most
    `stop`, and keeps the state there unless that is `stop`. The split leaves
    the later part, with one state fewer, no more iterations than it can
    differentiate with as many runs again as the earlier part with one run
    fewer: binomial coefficients, as in Griewank and Walther (2000)."""
    free = snapshots - held  # the states this range may keep, the one at `position` included
    steps = end - position
    if free < 2 or steps < 2:
        return stop
    runs, most = 0, 1  # the fewest runs again with which `free` states cover `steps` iterations
    while most < steps:
        runs += 1
        most = most * (free + runs) // runs
    shortest = max(1, steps - most * free // (free + runs))
    longest = min(steps - 1, most * runs // (free + runs))
    return min(position + (shortest + longest) // 2, stop)


def batch_axis(axis, ndim):
    """`axis` of an array as the same axis of its tangents batched on a new first axis
    (forward mode with several directions, transforms/forward.py); None: every axis but the first."""
    if axis is None:
        return tuple(range(1, ndim + 1))
    if ndim == 0:  # NumPy reads axis 0 or -1 of a 0-d array as no axis: -1 would be the batch axis
        return ()
    if isinstance(axis, tuple):
        return tuple(a + 1 if a >= 0 else a for a in axis)
    return axis + 1 if axis >= 0 else axis


def batch_shape(count, shape):
    """`(count,) + shape`: the shape of `count` tangents of an array of `shape`."""
    return (count,) + tuple(shape)


def batch_aligned(shape, ndim):
    """A batch of tangents' shape, with 1s after the batch axis up to `ndim` array axes, so that
    it broadcasts against arrays of `ndim` axes as each tangent would."""
    return (shape[0],) + (1,) * (ndim - len(shape) + 1) + tuple(shape[1:])


def batch_sum_axes(have, shape):
    """The axes to sum a batch of tangents of shape `have` over, to tangents of `shape`."""
    lead = len(have) - 1 - len(shape)
    kept = tuple(1 + lead + i for i, n in enumerate(shape) if n == 1 and have[1 + lead + i] != 1)
    return tuple(range(1, 1 + lead)) + kept


def batch_transposed(axes, ndim):
    """`np.transpose`'s `axes` for a batch of tangents (None: the array's axes reversed)."""
    if axes is None:
        return (0,) + tuple(range(ndim, 0, -1))
    return (0,) + tuple(a % ndim + 1 for a in axes)


def batch_index(index, ndim):
    """`index` of an array of `ndim` axes as the same index of a batch of its tangents."""
    items = index if isinstance(index, tuple) else (index,)
    if any(item is Ellipsis for item in items):
        used = sum(
            np.ndim(item) if isinstance(item, np.ndarray) and item.dtype == bool else 1
            for item in items
            if item is not None and item is not Ellipsis
        )  # a mask takes as many axes as it has
        at = next(k for k, item in enumerate(items) if item is Ellipsis)
        items = items[:at] + (slice(None),) * (ndim - used) + items[at + 1 :]
    advanced = [k for k, item in enumerate(items) if isinstance(item, (list, np.ndarray))]
    if advanced and advanced[-1] - advanced[0] + 1 != len(advanced):
        # standalone modules hold helpers and NumPy only, so the message is spelled here; hessian and
        # jacobian recognise it and take one product per direction
        raise ValueError("array indices separated by a slice move their axes first: their tangents cannot be batched")
    return (slice(None),) + tuple(items)


def hstack_shape(joined, first):
    """The shape `np.hstack` gives, from that of its items joined by `np.atleast_2d` along axis 1:
    items of rank below 2 are joined along their one axis (the leading 1 is dropped)."""
    joined = tuple(joined)
    return joined[1:] if len(tuple(first)) < 2 else joined


def kron_layout(shape_a, shape_b, which):
    """Shape that interleaves operand `which` (0: a, 1: b) of `np.kron` with length-1 axes of the other."""
    rank = max(len(shape_a), len(shape_b))
    own = (1,) * (rank - len((shape_a, shape_b)[which])) + tuple((shape_a, shape_b)[which])
    return tuple(n for m in own for n in ((m, 1) if which == 0 else (1, m)))


def kron_shape(shape_a, shape_b):
    """The shape of `np.kron(a, b)`."""
    rank = max(len(shape_a), len(shape_b))
    a = (1,) * (rank - len(shape_a)) + tuple(shape_a)
    b = (1,) * (rank - len(shape_b)) + tuple(shape_b)
    return tuple(m * n for m, n in zip(a, b))


def split_shape(shape, sections, axis):
    """Shape that puts the equal parts of `np.swapaxes(x, 0, axis)` (`np.split`'s) on a new first axis."""
    moved = list(shape)
    axis = axis % len(moved)
    moved[0], moved[axis] = moved[axis], moved[0]  # np.swapaxes(x, 0, axis)
    return (sections, moved[0] // sections, *moved[1:])


# -- SciPy's special functions: imported where they are used, so generated modules need SciPy only then -------------
def erf(x):
    """`scipy.special.erf` (the error function)."""
    return __import__("scipy.special", fromlist=["erf"]).erf(x)


def expit(x):
    """`scipy.special.expit`, the logistic sigmoid 1 / (1 + exp(-x))."""
    return __import__("scipy.special", fromlist=["expit"]).expit(x)


def gammaln(x):
    """`scipy.special.gammaln`, log|Gamma(x)|."""
    return __import__("scipy.special", fromlist=["gammaln"]).gammaln(x)


def digamma(x):
    """`scipy.special.digamma`, the derivative of gammaln."""
    return __import__("scipy.special", fromlist=["digamma"]).digamma(x)


def polygamma(n, x):
    """`scipy.special.polygamma`, the n-th derivative of digamma."""
    return __import__("scipy.special", fromlist=["polygamma"]).polygamma(n, x)


def ndtr(x):
    """`scipy.special.ndtr`, the standard normal CDF, accurate far into both tails (unlike erf)."""
    return __import__("scipy.special", fromlist=["ndtr"]).ndtr(x)


def log_ndtr(x):
    """`scipy.special.log_ndtr`, the log of the standard normal CDF, finite down to x = -1e150."""
    return __import__("scipy.special", fromlist=["log_ndtr"]).log_ndtr(x)


def as_float(x, dtype):
    """`x.astype(dtype)` for a floating dtype: the same values, so it passes derivatives on."""
    return np.asarray(x).astype(dtype)


def as_integer(x, dtype):
    """`x.astype(dtype)` for an integer or boolean dtype: piecewise constant, no derivative."""
    return np.asarray(x).astype(dtype)
