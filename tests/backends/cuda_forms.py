"""Forms the CUDA backend runs beyond the Numba corpora: integer-array indexes with repeated entries,
indexes computed on the device (read back to the host), casts, arg-reductions, cumulative sums and flips. tests/backends/test_cuda_control.py runs each against
the NumPy backend and central differences (float32 ones against the NumPy backend only), and compiles
every kernel they launch to PTX."""

from __future__ import annotations

import numpy as np

IDX = np.array([2, 0, 2, 2])  # a module-level index array, repeated entries


def index_argument_repeated(x, idx):
    return np.sum(np.sin(x[idx]) * np.arange(1.0, 1.0 + len(idx)))


def index_arguments_beside_slices(A, r, c):
    return np.sum(A[r, 1:] ** 2) + np.sum(np.cos(A[r, c])) + np.sum(A[:, c][1] * 3.0) + np.sum(A[1:, r[:2]])


def module_index_array(A):
    return np.sum(A[IDX] * A[IDX, ::-1])


def list_index_in_a_loop(x):
    total = 0.0
    for t in range(len(x) - 1):
        total = total + np.sum(x[[t, t + 1, t]] ** 2) * (t + 1.0)
    return total


def index_argument_write_repeated(x, idx):
    out = np.zeros(4)
    out[idx] = x[: len(idx)] * 2.0
    return np.sum(out * np.array([1.0, -2.0, 3.0, 0.5]) * out)


def mask_argument(x, mask):
    return np.sum(np.exp(x[mask]))


def cumsum_axes(A):
    return np.sum(np.cumsum(A, axis=1) ** 2) + np.sum(np.sin(np.cumsum(A))) + np.sum(np.cumsum(A * A, axis=0)[-1])


def flip_and_cumsum_from_the_end(x):
    return np.sum(np.flip(np.cumsum(np.flip(x))) * np.arange(len(x)))


def astype_casts(A):
    return np.sum(A * A.astype(int)) + np.sum(A * (A > 0.0).astype(float)) + np.sum(np.exp(A.astype(np.float64)))


def astype_float32_sum(A):
    return np.sum(A.astype(np.float32) * 1.5) * A[0, 0]


def argmax_argmin_as_weights(A):
    i = np.argmax(A, axis=1)
    j = np.argmin(A, axis=0)
    return np.sum(A * i[:, None]) + np.sum(A * j) * np.argmax(A) + np.sum(A * np.argmin(A, axis=1, keepdims=True))


def indexes_computed_on_the_device(A):
    best = A[np.arange(3), np.argmax(A, axis=1)]  # host positions beside device ones, in one tuple
    signs = A[0][(A[1] > 0.0).astype(int)]  # an integer cast computed on the device
    return np.sum(best**2) + np.sum(signs * 3.0) + np.sum(np.exp(A[A > 0.5]))


def mask_in_a_loop(x):
    h = x
    for t in range(3):
        h = h * 0.9 + 0.1
        h[h > 0.5] = h[h > 0.5] ** 2
    return np.sum(h)


def index_argument_read_as_data_too(A, idx):
    return np.sum(A[idx, 0] * idx) + np.sum(A[:, 1][idx]) * np.sum(idx) + np.sum(A[idx[0]] * idx[1])


def _grid(shape: tuple) -> np.ndarray:
    return np.sin(np.arange(float(np.prod(shape))).reshape(shape) * 1.7) * 2.0


ARGUMENTS = {
    index_argument_repeated: (np.array([0.3, -1.2, 0.7, 2.0]), np.array([1, 3, 1, 1, 0, 3])),
    index_arguments_beside_slices: (_grid((3, 4)), np.array([0, 2, 0, 0]), np.array([3, 1, 3, -1])),
    module_index_array: (_grid((3, 4)),),
    list_index_in_a_loop: (np.array([0.5, -0.25, 1.5, 2.0]),),
    index_argument_write_repeated: (np.array([0.4, -1.1, 0.9, 1.3, 0.2]), np.array([3, 0, 3, 1, 3])),
    mask_argument: (np.array([0.1, -0.4, 0.8]), np.array([True, False, True])),
    cumsum_axes: (_grid((3, 4)),),
    flip_and_cumsum_from_the_end: (np.array([0.3, -0.7, 1.1, 0.2, -0.5]),),
    astype_casts: (_grid((3, 4)) + 0.25,),
    astype_float32_sum: (_grid((2, 3)),),
    argmax_argmin_as_weights: (_grid((3, 4)),),
    indexes_computed_on_the_device: (_grid((3, 4)),),
    mask_in_a_loop: (np.array([0.3, -0.7, 1.1, 0.2, -0.5]),),
    index_argument_read_as_data_too: (_grid((3, 2)), np.array([2, 0, 2])),
}
