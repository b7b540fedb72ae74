"""GradBench `kmeans`: one Newton step direction for k-means.

cost(P, C) = sum_i min_j |C_j - P_i|^2. `direction` (the eval's `dir`) is
J / H: the gradient with respect to the centroids divided elementwise by the
Hessian's diagonal (the Hessian is diagonal, so H @ ones is that diagonal).
The Hessian-vector product is nested AD, the gradient of a function that
calls the gradient, as sd.hvp builds it (sd.hvp itself takes no backend=).
"""

import numpy as np

import symdiff as sd


def cost(points, centroids):
    diff = points[:, None, :] - centroids[None, :, :]
    dist2 = np.sum(diff**2, axis=2)  # dist2[i, j] = |P_i - C_j|^2
    return np.sum(np.min(dist2, axis=1))


cost_gradient = sd.grad(cost, wrt=1)  # read by gradient_along, whose gradient symdiff takes through it


def gradient_along(points, centroids, v):
    """<dcost/dC, v>, whose gradient in C is H @ v."""
    return np.sum(cost_gradient(points, centroids) * v)


def direction(points, centroids, backend="numpy"):
    J = sd.grad(cost, wrt=1, backend=backend)(points, centroids)
    H = sd.grad(gradient_along, wrt=1, backend=backend)(points, centroids, np.ones_like(centroids))
    return J / H


# GradBench protocol: arguments from the eval's input, outputs as it expects them.
def prepare(input):
    return np.asarray(input["points"], dtype=float), np.asarray(input["centroids"], dtype=float)


FUNCTIONS = {"cost": (cost, float), "dir": (direction, np.ndarray.tolist)}
