"""An audit corpus of small functions for the Numba backend, one form each.

Every function here builds on the NumPy backend. On the Numba backend each
either gives the NumPy backend's gradient (`supported()`), or is refused
when the gradient is built, with its line (`REFUSED`, `REFUSED_AT_LOOP`).
Nothing may fail only at the first call, or give a different answer, but
what only the arguments' types decide (`CALL_TIME`).

Arguments come from the parameter names (`arguments`): `x`, `y` vectors of
length 5, `p` a positive vector, `A`, `C` (3, 4) matrices, `B` (4, 3), `T`
(2, 3, 4), `U` (2, 4, 3), `M` (2, 2), `s`, `t` scalars, `f` a float32
vector, `n` the integer 3, `flag` True. Each function is differentiated with
respect to its first argument.
"""

from __future__ import annotations

import inspect
import math

import numpy as np

WEIGHTS = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
GRID = np.arange(12.0).reshape(3, 4)
SCALE = 0.5
OFFSET = 2


# -- elementwise ------------------------------------------------------------------


def add_sub(x, y):
    return np.sum(x + y - 2.0 * x)


def div_both(x, p):
    return np.sum(x / p + p / (2.0 + x * x))


def pow_int(x):
    return np.sum(x**3)


def pow_float(p):
    return np.sum(p**1.5)


def pow_zero(x):
    return np.sum(x**0)


def pow_variable(x, n):
    return np.sum(x**n)


def pow_array(p, x):
    return np.sum(p**x)


def pow_base_scalar(x):
    return np.sum(2.0**x)


def neg_pos(x):
    return np.sum(-x * +x)


def mod_op(x):
    return np.sum((x % 1.5) * x)


def exp_log(p):
    return np.sum(np.exp(p) + np.log(p))


def log1p_expm1(p):
    return np.sum(np.log1p(p) * np.expm1(p))


def sqrt_square(p):
    return np.sum(np.sqrt(p) + np.square(p))


def trig(x):
    return np.sum(np.sin(x) * np.cos(x) + np.tan(0.3 * x))


def inverse_trig(x):
    return np.sum(np.arcsin(0.2 * x) + np.arccos(0.2 * x) * np.arctan(x))


def arctan2_op(x, y):
    return np.sum(np.arctan2(x, y + 3.0))


def hyperbolic(x):
    return np.sum(np.sinh(x) + np.cosh(x) * np.tanh(x))


def abs_op(x):
    return np.sum(np.abs(x) * x)


def maximum_minimum(x, y):
    return np.sum(np.maximum(x, y) + np.minimum(x, 0.2))


def where_op(x, y):
    return np.sum(np.where(x > y, x * y, x - y))


def clip_op(x):
    return np.sum(np.clip(x, -0.5, 0.5) * x)


def clip_method(x):
    return np.sum(x.clip(-0.3, 0.4) ** 2)


def logaddexp_op(x, y):
    return np.sum(np.logaddexp(x, y))


def float_of(s):
    return float(s) * s


def rounding(x):
    return np.sum(x * np.sign(x) + np.floor(x) + np.ceil(x) + np.round(x))


def floordiv_op(x):
    return np.sum(x * (x // 0.5))


def comparisons(x, y):
    mask = np.logical_and(x > 0.0, np.logical_not(y < 0.0))
    return np.sum(np.where(np.logical_or(mask, x == y), x, 2.0 * x))


def isfinite_op(x):
    return np.sum(np.where(np.isfinite(x), x * x, 0.0)) + np.sum(np.where(np.isnan(x), 0.0, x))


def scalar_args(s, t):
    return s * t + np.sin(s) / (1.0 + t * t)


def math_module(s):
    return math.exp(s) + math.sin(s) * math.sqrt(1.0 + s * s) + math.pow(s, 2.0) + math.atan2(s, 2.0)


def math_abs_builtins(s, t):
    return abs(s) + max(s, t) * min(s, t)


def int_argument(x, n):
    return np.sum(x * n) + np.sum(x ** float(n))


def bool_argument(x, flag):
    if flag:
        return np.sum(x * x)
    return np.sum(x)


def float32_chain(f):
    return np.sum(np.tanh(f) * f + np.exp(f))


def float32_mixed(f, x):
    return np.sum(f * x)


# -- broadcasting ----------------------------------------------------------------------


def broadcast_row(A, y):
    return np.sum(A * y[:4] + A)


def broadcast_column(A):
    return np.sum(A * A[:, :1])


def broadcast_scalar(s, A):
    return np.sum(s * A + s)


def broadcast_to_op(y):
    return np.sum(np.broadcast_to(y, (3, 5)) * GRID[:, :1])


def broadcast_3d(T, A):
    return np.sum(T * A)


def broadcast_outer(x, y):
    return np.sum(x[:, None] * y[None, :])


# -- reductions ------------------------------------------------------------------------


def sum_axis0(A):
    return np.sum(np.sum(A, axis=0) ** 2)


def sum_axis1_keep(A):
    return np.sum(A / np.sum(A * A, axis=1, keepdims=True))


def sum_negative_axis(T):
    return np.sum(np.sum(T, axis=-1) ** 2)


def sum_tuple_axis(T):
    return np.sum(np.sum(T, axis=(0, 2)) ** 2)


def mean_axis(A):
    return np.sum(np.mean(A, axis=0) ** 2) + np.mean(A)


def mean_keepdims(A):
    return np.sum((A - np.mean(A, axis=1, keepdims=True)) ** 2)


def prod_full(x):
    return np.prod(x)


def prod_axis(A):
    return np.sum(np.prod(A, axis=1))


def max_full(x):
    return np.max(x) * 2.0


def max_axis(A):
    return np.sum(np.max(A, axis=1))


def min_axis_keep(A):
    return np.sum(A - np.min(A, axis=0, keepdims=True))


def max_subtracted(x):
    return np.sum(np.exp(x - np.max(x)))


def max_subtracted_rows(A):
    return np.sum(np.exp(A - np.max(A, axis=1, keepdims=True)))


def logsumexp_rows(A):
    m = np.max(A, axis=1, keepdims=True)
    return np.sum(m + np.log(np.sum(np.exp(A - m), axis=1, keepdims=True)))


def softmax_rows(A, C):
    e = np.exp(A - np.max(A, axis=1, keepdims=True))
    return np.sum(e / np.sum(e, axis=1, keepdims=True) * C)


def var_std(A):
    return np.var(A) + np.sum(np.std(A, axis=0))


def norm_op(x):
    return np.linalg.norm(x)


def methods(A):
    return A.sum() + A.mean(axis=0).sum() + A.max() + A.min(axis=1).sum() + A.prod()


def amax_amin(A):
    return np.sum(np.amax(A, axis=0)) - np.amin(A)


def argmax_pick(x):
    return x[np.argmax(x)] + x[np.argmin(x)]


# -- linear algebra ----------------------------------------------------------------------


def matvec(A, y):
    return np.sum(A @ y[:4])


def vecmat(y, A):
    return np.sum(y[:3] @ A)


def matmat(A, B):
    return np.sum((A @ B) ** 2)


def vecvec(x, y):
    return x @ y


def batched_matmul(T, U):
    return np.sum((T @ U) ** 2)


def batched_times_matrix(T, B):
    return np.sum(np.tanh(T @ B))


def batched_vector(x, T):
    return np.sum(np.sin(x[:3] @ T)) + np.sum(np.cos(T @ x[:4]))


def matrix_of_scalars(x):
    m = np.array([[x[0], x[1]], [x[1] * x[0], 1.0]])
    return np.sum(m @ x[:2])


def dot_op(A, B):
    return np.sum(np.dot(A, B))


def dot_vectors(x, y):
    return np.dot(x, y) * 2.0


def dot_method(A, B):
    return np.sum(A.dot(B))


def outer_op(x, y):
    return np.sum(np.outer(x, y) ** 2)


def transpose_T(A, B):
    return np.sum(A.T * B)


def transpose_axes(T):
    return np.sum(np.transpose(T, (1, 0, 2)) * np.arange(24.0).reshape(3, 2, 4))


def swapaxes_op(T):
    return np.sum(np.swapaxes(T, 1, 2) ** 2 * np.arange(24.0).reshape(2, 4, 3))


def matmul_assign(A, B):
    C = A
    C = C @ B
    return np.sum(C)


def einsum_op(A, B):
    return np.sum(np.einsum("ij,jk->ik", A, B))


# -- shapes --------------------------------------------------------------------------------


def reshape_op(A):
    return np.sum(np.reshape(A, (4, 3)) * GRID.reshape(4, 3))


def reshape_method_minus_one(A):
    return np.sum(A.reshape(-1) * np.arange(12.0))


def reshape_to_3d(A):
    return np.sum(A.reshape(2, 3, 2) ** 2)


def ravel_flatten(A):
    return np.sum(np.ravel(A) * A.flatten())


def squeeze_axis(A):
    return np.sum(np.squeeze(A[:1], axis=0) ** 2)


def squeeze_no_axis(A):
    return np.sum(np.squeeze(A[:1]) ** 2)


def expand_dims_op(x):
    return np.sum(np.expand_dims(x, 0) * np.expand_dims(x, 1))


def concatenate_op(x, y):
    return np.sum(np.concatenate((x, 2.0 * y)) ** 2)


def concatenate_axis1(A, C):
    return np.sum(np.concatenate([A, C], axis=1) * np.arange(24.0).reshape(3, 8))


def stack_op(x, y):
    return np.sum(np.stack((x, y)) ** 2 * np.arange(10.0).reshape(2, 5))


def stack_axis1(x, y):
    return np.sum(np.stack([x, y], axis=1) ** 3)


def array_of_arrays(x, y):
    return np.sum(np.array([x, y]) * np.arange(10.0).reshape(2, 5))


def array_of_scalars(s, t):
    v = np.array([s, t, s * t])
    return np.sum(v * v)


def copy_op(x):
    z = np.copy(x)
    w = x.copy()
    return np.sum(z * w)


def shape_queries(A):
    return np.sum(A) * A.shape[0] + A.ndim * np.sum(A * A) + A.size + len(A)


# -- indexing --------------------------------------------------------------------------------


def element_index(x):
    return x[0] * x[-1] + x[2]


def element_2d(A):
    return A[1, 2] * A[-1, -1]


def slices(x):
    return np.sum(x[1:] * x[:-1]) + np.sum(x[::2])


def negative_slices(x):
    return np.sum(x[-3:] ** 2) + np.sum(x[:-2:2])


def reversed_slice(x):
    return np.sum(x[::-1] * WEIGHTS)


def slice_2d(A):
    return np.sum(A[1:, :2] ** 2) + np.sum(A[:, -1])


def row_and_column(A):
    return np.sum(A[1] * A[:, 0][:1])


def variable_slice(x, n):
    return np.sum(x[1:n] ** 2) + np.sum(x[n:])


def ellipsis_read(T):
    return np.sum(T[..., 0] ** 2) + np.sum(T[0, ...])


def newaxis_index(x):
    return np.sum(x[np.newaxis, :] * x[:, None])


def integer_array_index(x):
    return np.sum(x[np.array([0, 2, 2])] ** 2)


def list_index(x):
    return np.sum(x[[0, 2, 2]] ** 2)


def two_integer_arrays(M):
    r = np.array([0, 1, 1])
    c = np.array([1, 0, 1])
    return np.sum(M[r, c] * np.array([1.0, 2.0, 3.0]))


def dot_with_0d(x, A):
    """np.dot of a vector and a 0-d array (a mean over the last axis of a vector), and its adjoints."""
    m = np.mean(x, axis=-1)
    return np.sum(np.sin(x.dot(m))) + np.sum(np.dot(m, A))


def one_integer_array_among_slices(T, rows):
    """One integer array beside slices and integers: the gradient adds a row per entry (repeats add up)."""
    a = np.sum(np.sin(T[rows, :]) * np.arange(1.0, 5.0))
    b = np.sum(np.cos(T[0, rows, 1:3]))
    c = np.sum(np.cos(T[1, :, rows]) ** 3)  # the integer and the array apart: NumPy puts the array's axis first
    return a + b + c


def integer_array_rows(A):
    return np.sum(A[np.array([0, 2])] ** 2)


def mixed_index(A):
    return np.sum(A[:, [1]] * 3.0)


def mixed_mask_rows(A):
    return np.sum(A[A[:, 0] > 0.0, 1:] ** 2)


def boolean_mask(x):
    return np.sum(x[x > 0.0] ** 2)


def boolean_mask_2d(A):
    return np.sum(A[A > 0.0])


def boolean_mask_2d_chain(A):
    return np.sum(np.exp(A[A > 0.0]) * 2.0) + np.sum(np.where(A > 0.5, A, 0.0))


def list_plus_array(x):
    return np.sum(([x[0], 2.0 * x[1]] + x[:2]) ** 2)


def tuple_unpack(A):
    a, b, c = A
    return np.sum(a * b + c)


def index_by_argument(x, n):
    return x[n] * x[n - 1]


# -- writes ------------------------------------------------------------------------------------


def ellipsis_write(x):
    z = np.zeros(5)
    z[...] = x
    return np.sum(z * z)


def element_writes(x):
    z = np.zeros(3)
    z[0] = x[0] * 2.0
    z[1] = x[1] + x[2]
    z[-1] = np.sum(x)
    return np.sum(z**2)


def slice_write(x):
    z = np.zeros(8)
    z[2:7] = x
    z[:2] = 1.0
    return np.sum(np.sin(z) * z)


def row_write(A):
    out = np.ones((4, 4))
    out[1] = A[0]
    out[:, 2] = A[:, 1].sum() + np.zeros(4)
    return np.sum(out * out)


def augmented_write(x):
    z = np.zeros(5)
    z[1:] += x[:-1]
    z[0] += x[0]
    return np.sum(z**2)


def augmented_assign(x):
    y = x * 1.0
    y += x
    y *= x
    y -= 1.0
    y /= 2.0
    return np.sum(y)


def write_from_copy(x):
    z = np.copy(x)
    z[2] = 0.0
    return np.sum(z * x)


def integer_array_write(x):
    z = np.zeros(7)
    z[np.array([0, 3, 6, 1, 2])] = x
    return np.sum(z * z * np.arange(7.0))


def mask_write(x):
    z = x * 1.0
    z[x > 0.0] = 0.0
    return np.sum(z * z)


def newaxis_write(x):
    z = np.zeros((1, 5))
    z[0, :] = x
    return np.sum(z * z)


def repeated_index_write(x):
    out = np.zeros(3)
    out[np.array([0, 0, 2])] = x[:3]
    return np.sum(out * np.array([1.0, 2.0, 3.0]))


def repeated_rows_write(A):
    out = np.zeros((3, 4))
    out[np.array([0, -3, 2])] = A
    return np.sum(out * GRID)


def repeated_coordinates_write(A):
    out = np.zeros((2, 2))
    out[np.array([0, 1, 0, 1]), np.array([1, 0, 1, -1])] = A[0]
    return np.sum(out * np.array([[1.0, 2.0], [3.0, 4.0]]))


def mask_2d_write(A):
    out = np.zeros((3, 4))
    out[A > 0.0] = A[A > 0.0] * 2.0
    return np.sum(out * out)


# -- loops ---------------------------------------------------------------------------------------


def loop_scalar(s):
    for i in range(5):
        s = s * 0.9 + np.sin(s)
    return s


def loop_array(x):
    for i in range(4):
        x = np.tanh(x) + 0.1 * x
    return np.sum(x)


def loop_module_array(x):
    acc = WEIGHTS
    for i in range(3):
        acc = acc * x
    return np.sum(acc)


def loop_module_scalar(x):
    for i in range(3):
        x = x * SCALE + OFFSET
    return np.sum(x)


def loop_reads_module(x):
    total = 0.0
    for i in range(3):
        total = total + np.sum(x * WEIGHTS) * SCALE
    return total


def loop_starts_from_zero_scalar(x):
    acc = 0.0
    for i in range(3):
        acc = acc + x * i
    return np.sum(acc)


def loop_starts_from_zeros(x):
    acc = np.zeros(5)
    for i in range(3):
        acc = acc + x * i
    return np.sum(acc**2)


def loop_index_arithmetic(x):
    total = 0.0
    for i in range(1, 5):
        total = total + x[i] * x[i - 1]
    return total


def loop_writes_rows(x):
    hs = np.zeros((3, 5))
    h = x
    for t in range(3):
        h = np.sin(h)
        hs[t] = h
    return np.sum(hs**2)


def loop_augmented(x):
    acc = np.zeros(5)
    for i in range(3):
        acc += x * (i + 1.0)
    return np.sum(acc**2)


def loop_argument_bound(x, n):
    for i in range(n):
        x = x * np.cos(x)
    return np.sum(x)


def loop_step(x):
    for i in range(10, 0, -3):
        x = x + np.sin(x) * i
    return np.sum(x)


def nested_loop(x):
    total = 0.0
    for i in range(2):
        for j in range(3):
            total = total + np.sum(x * (i + j))
    return total


def loop_with_if(x):
    for i in range(4):
        if np.sum(x) > 1.0:
            x = x * 0.5
        else:
            x = x + 1.0
    return np.sum(x * x)


def while_scalar(s):
    k = 0
    while k < 4:
        s = s * 1.1 + 0.1
        k = k + 1
    return s


def while_array(x):
    while np.sum(x * x) < 50.0:
        x = x * 1.5 + 0.1
    return np.sum(x)


def while_counter_float(x):
    steps = 0.0
    while steps < 3.0:
        x = np.sin(x) + x
        steps = steps + 1.0
    return np.sum(x) + steps


def loop_matmul(A, B):
    h = A
    for i in range(2):
        h = np.tanh(h @ B) @ B.T
    return np.sum(h)


def loop_reduction_carry(A):
    s = np.sum(A, axis=0)
    for i in range(2):
        s = s + np.max(A, axis=0) * i
    return np.sum(s * s)


def loop_scalar_becomes_array(x):
    s = 0.0
    for i in range(2):
        s = s + x
    return np.sum(s)


def loop_float32(f):
    for i in range(3):
        f = f * 0.5 + f * f
    return np.sum(f)


def if_in_loop(x, n):
    s = 0.0
    for i in range(n):
        if x[i] > 0:
            t = x[i] * x[i]
        else:
            t = np.sin(x[i])
        s = s + t
    return s


def if_expression_in_loop(x, n):
    s = 0.0
    for i in range(n):
        s = s + (x[i] * x[i] if x[i] > 0 else np.sin(x[i]))
    return s


def if_array_arm_in_loop(x, n):
    s = x * 0.0
    for i in range(n):
        if np.sum(s) > 0.5:
            u = np.tanh(s + x)
            s = s + u * u
        else:
            s = s + x
    return np.sum(s)


def loop_scalar_becomes_constructed_array(x):
    acc = 0.0
    for i in range(3):
        acc = acc + np.sin(np.arange(5.0)) * x[i]
    return np.sum(acc)


# -- branches and subroutines ----------------------------------------------------------------------


def if_else_scalar(s):
    if s > 0.0:
        y = s * s
    else:
        y = -s
    return y


def if_array(x):
    if np.max(x) > 0.5:
        y = np.exp(x)
    else:
        y = x
    return np.sum(y)


def _helper(x, k=2.0):
    return np.sin(x) * k


def calls_helper(x):
    return np.sum(_helper(x) + _helper(x, 3.0))


def defaults(x, k=3.0):
    return np.sum(x * k)


def early_exit(s):
    if s < 0.0:
        return s * s
    return np.sin(s)


# -- constructors and models -----------------------------------------------------------------------


def constructors(x):
    a = np.zeros(5) + np.ones(5) + np.full(5, 2.0) + np.arange(5) + np.linspace(0.0, 1.0, 5)
    b = np.zeros_like(x) + np.ones_like(x) + np.full_like(x, 3.0)
    return np.sum(a * x + b * x) + np.sum(np.eye(5) @ x)


def empty_filled(x):
    z = np.empty(5)
    z[:] = x
    return np.sum(z**2)


def module_array(x):
    return np.sum(x * WEIGHTS) + np.sum(GRID[0, :1] * x)


def module_scalar(x):
    return np.sum(x * SCALE + OFFSET)


def layer_norm(A):
    mu = np.mean(A, axis=-1, keepdims=True)
    var = np.mean((A - mu) ** 2, axis=-1, keepdims=True)
    return np.sum((A - mu) / np.sqrt(var + 1e-5) * GRID)


def logistic(x, A):
    z = A @ x[:4]
    return np.sum(np.log1p(np.exp(-z)))


def mlp(A, B):
    h = np.maximum(A @ B, 0.0)
    return np.sum(h @ B[:3] * 0.5)


def cross_entropy(A):
    m = np.max(A, axis=1, keepdims=True)
    logp = A - m - np.log(np.sum(np.exp(A - m), axis=1, keepdims=True))
    return -np.sum(logp[:, 0])


def huber(x):
    r = np.abs(x)
    return np.sum(np.where(r < 1.0, 0.5 * x * x, r - 0.5))


def pairwise(x):
    d = x[:, None] - x[None, :]
    return np.sum(np.exp(-d * d))


def stencil(x):
    return np.sum((x[2:] - 2.0 * x[1:-1] + x[:-2]) ** 2)


def sigmoid_chain(x):
    s = 1.0 / (1.0 + np.exp(-x))
    return np.sum(s * (1.0 - s))


def power_series(s):
    total = 0.0
    term = 1.0
    for k in range(1, 6):
        term = term * s / k
        total = total + term
    return total


def scalar_from_array(x):
    a = x[0]
    b = np.sum(x)
    return a * b + np.sqrt(a * a + 1.0)


def integer_arithmetic(x, n):
    m = n * 2 + 1
    return np.sum(x[: m - 4] * m)


def division_by_zero(x):
    return np.sum(np.where(x > 0.0, x, 0.0) / np.maximum(np.abs(x), 0.0) * 0.0 + x)


# -- what the Numba backend does with them ---------------------------------------------------------

# Refused when the gradient is built, at the function's line (its first line of body).
REFUSED = ("einsum_op", "squeeze_no_axis", "mixed_index", "mixed_mask_rows")
# Refused when the gradient is built, at the loop's line (the body's second line).
REFUSED_AT_LOOP = ("loop_scalar_becomes_constructed_array",)
# Only the arguments' types decide, so Numba reports these at the first call (a complete, located
# NumbaCompileError): a loop variable that starts as 0.0 and becomes an array because an argument is one.
# (loop_float32 used to be here: float32 arguments are computed in float64 on Numba now.)
CALL_TIME = ("loop_starts_from_zero_scalar", "loop_scalar_becomes_array")


# -- argument factory ---------------------------------------------------------------------------------


def _values(rng: np.random.Generator) -> dict:
    return {
        "x": rng.normal(size=5), "y": rng.normal(size=5), "p": np.abs(rng.normal(size=5)) + 0.5,
        "A": rng.normal(size=(3, 4)), "C": rng.normal(size=(3, 4)), "B": rng.normal(size=(4, 3)),
        "T": rng.normal(size=(2, 3, 4)), "U": rng.normal(size=(2, 4, 3)), "M": rng.normal(size=(2, 2)),
        "rows": np.array([0, 1, 1]),
        "s": 0.7, "t": -0.4, "f": rng.normal(size=5).astype(np.float32), "n": 3, "flag": True,
    }  # fmt: skip


def arguments(function, seed: int = 0) -> tuple:
    """Arguments for `function`, chosen by its parameter names (see the module docstring)."""
    values = _values(np.random.default_rng(seed))
    names = [p.name for p in inspect.signature(function).parameters.values() if p.default is inspect.Parameter.empty]
    return tuple(values[name] for name in names)


FUNCTIONS = [
    value
    for name, value in list(globals().items())
    if inspect.isfunction(value) and value.__module__ == __name__ and not name.startswith("_")
    and name not in ("arguments", "supported")
]  # fmt: skip


def supported() -> list:
    """The functions whose Numba gradient must equal the NumPy backend's."""
    return [f for f in FUNCTIONS if f.__name__ not in REFUSED + REFUSED_AT_LOOP + CALL_TIME]
