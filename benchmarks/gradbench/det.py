"""GradBench `det` (cmpad's det_by_minor): the determinant by expansion by minors.

The eval's point is the recursive, scalar-heavy formulation: O(l!) products,
not np.linalg.det.
"""

import numpy as np

import symdiff as sd


def det_by_minor(A):
    n = A.shape[0]
    if n == 1:
        return A[0, 0]
    total = 0.0
    sign = 1.0
    for j in range(n):
        minor = np.delete(A[1:], j, axis=1)  # drop row 0 and column j
        total = total + sign * A[0, j] * det_by_minor(minor)
        sign = -sign
    return total


def primal(A):
    return det_by_minor(A)


def gradient(A, backend="numpy"):
    return sd.grad(det_by_minor, backend=backend)(A)


# GradBench protocol: A comes flat, row-major, and its gradient goes back the same way.
def prepare(input):
    ell = int(input["ell"])
    return (np.asarray(input["A"], dtype=float).reshape(ell, ell),)


FUNCTIONS = {"primal": (primal, float), "gradient": (gradient, lambda g: g.ravel().tolist())}
