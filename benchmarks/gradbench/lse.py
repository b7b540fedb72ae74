"""GradBench `lse`: LogSumExp with the max-shift trick, and its gradient."""

import numpy as np

import symdiff as sd


def logsumexp(x):
    a = np.max(x)
    return a + np.log(np.sum(np.exp(x - a)))


def primal(x):
    return logsumexp(x)


def gradient(x, backend="numpy"):
    return sd.grad(logsumexp, backend=backend)(x)


# GradBench protocol: arguments from the eval's input, outputs as it expects them.
def prepare(input):
    return (np.asarray(input["x"], dtype=float),)


FUNCTIONS = {"primal": (primal, float), "gradient": (gradient, np.ndarray.tolist)}
