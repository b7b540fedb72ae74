"""GradBench `saddle` (Pearlmutter and Siskind): a saddle point by nested gradient descent.

f(p1, p2) = |p1|^2 - |p2|^2. Step 1: p1 = argmin over p1 of (max over p2 of
f(p1, p2)), where the inner max is itself a gradient ascent from `start`, so
the outer gradient differentiates through the inner solver. Step 2:
p2 = argmax over p2 of f(p1, p2). Variants name the mode of the outer and
inner derivatives: `rr`, `rf`, `fr`, `ff` (r: reverse, sd.grad; f: forward,
sd.jvp).
"""

import functools

import numpy as np

import symdiff as sd
from benchmarks.gradbench.gd import multivariate_argmax, multivariate_argmin, multivariate_max


def saddle_f(p1, p2):
    return (p1[0] ** 2 + p1[1] ** 2) - (p2[0] ** 2 + p2[1] ** 2)


inner_grad = sd.grad(saddle_f, wrt=1)
inner_jvp = sd.jvp(saddle_f, wrt=1)


def inner_gradient_r(p1, p2):
    return inner_grad(p1, p2)


def inner_gradient_f(p1, p2):
    _, d0 = inner_jvp(p1, p2, np.array([1.0, 0.0]))
    _, d1 = inner_jvp(p1, p2, np.array([0.0, 1.0]))
    return np.array([d0, d1])


def max_over_p2(p1, start, inner_gradient):
    return multivariate_max(lambda p2: saddle_f(p1, p2), lambda p2: inner_gradient(p1, p2), start)


def r1_cost_r(p1, start):
    return max_over_p2(p1, start, inner_gradient_r)


def r1_cost_f(p1, start):
    return max_over_p2(p1, start, inner_gradient_f)


def outer_gradient(variant, backend="numpy"):
    """The gradient of p1 -> max_p2 f(p1, p2): sd.grad for an `r` outer mode, sd.jvp per axis for `f`."""
    cost = r1_cost_r if variant[1] == "r" else r1_cost_f
    if variant[0] == "r":
        return sd.grad(cost, backend=backend)
    # sd.jvp takes no backend= argument: it is NumPy only.
    outer = sd.jvp(cost) if backend == "numpy" else sd.jvp(cost, backend=backend)
    return lambda p1, start: np.array(
        [outer(p1, start, np.array([1.0, 0.0]))[1], outer(p1, start, np.array([0.0, 1.0]))[1]]
    )


def saddle(variant, start, backend="numpy"):
    """(p1, p2) concatenated, as the eval reports them."""
    cost = r1_cost_r if variant[1] == "r" else r1_cost_f
    inner_gradient = inner_gradient_r if variant[1] == "r" else inner_gradient_f
    g = outer_gradient(variant, backend)
    p1 = multivariate_argmin(lambda p: cost(p, start), lambda p: g(p, start), start)
    p2 = multivariate_argmax(lambda p: saddle_f(p1, p), lambda p: inner_gradient(p1, p), start)
    return np.concatenate((p1, p2))


# GradBench protocol: the input is the starting point; the output p1 and p2 joined.
def prepare(input):
    return (np.asarray(input["start"], dtype=float),)


FUNCTIONS = {variant: (functools.partial(saddle, variant), np.ndarray.tolist) for variant in ("rr", "rf", "fr", "ff")}
