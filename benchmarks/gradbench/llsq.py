"""GradBench `llsq` (cmpad's llsq_obj): a least-squares polynomial fit of sign(t).

y(x) = 1/2 sum_i (s_i - x_0 - x_1 t_i - x_2 t_i^2 - ...)^2 with
t_i = -1 + 2 i / (n - 1) and s_i = sign(t_i).
"""

import numpy as np

import symdiff as sd


def llsq(x, n):
    m = x.shape[0]
    t = -1.0 + np.arange(n) * 2.0 / (n - 1)
    s = np.sign(t)
    powers = t[:, None] ** np.arange(m)  # powers[i, j] = t_i ** j
    residual = s - powers @ x
    return 0.5 * np.sum(residual**2)


def primal(x, n):
    return llsq(x, n)


def gradient(x, n, backend="numpy"):
    return sd.grad(llsq, backend=backend)(x, n)


# GradBench protocol: arguments from the eval's input, outputs as it expects them.
def prepare(input):
    return np.asarray(input["x"], dtype=float), int(input["n"])


FUNCTIONS = {"primal": (primal, float), "gradient": (gradient, np.ndarray.tolist)}
