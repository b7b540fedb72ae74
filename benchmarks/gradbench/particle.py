"""GradBench `particle` (Pearlmutter and Siskind): aim a charged particle at the origin.

The particle starts at (0, 8) with velocity (0.75, 0) and moves by Euler
steps (dt = 0.1) under the force -grad p(x; w) of two unit charges at
(10, 10 - w) and (10, 0); where it crosses the x axis, x_0(t_f)^2 is the
cost, minimised over w by gradient descent. Nested AD: the force is a
derivative inside the function whose derivative the descent needs. The
variants name the mode of each: `rr` reverse and reverse, `rf` reverse
for w and forward for the force, `fr`, `ff`.
"""

import functools

import numpy as np

import symdiff as sd
from benchmarks.gradbench.gd import multivariate_argmin


def potential(x, w):
    charges = np.array([[10.0, 10.0 - w], [10.0, 0.0]])
    return np.sum(1.0 / np.sqrt(np.sum((x - charges) ** 2, axis=1)))


potential_grad = sd.grad(potential)
potential_jvp = sd.jvp(potential)


def force_r(x, w):
    return -potential_grad(x, w)


def force_f(x, w):
    _, dx = potential_jvp(x, w, np.array([1.0, 0.0]))
    _, dy = potential_jvp(x, w, np.array([0.0, 1.0]))
    return -np.array([dx, dy])


def naive_euler(w, force):
    x = np.array([0.0, 8.0])
    xdot = np.array([0.75, 0.0])
    delta_t = 0.1
    while True:
        xddot = force(x, w)
        x_new = x + delta_t * xdot
        if x_new[1] <= 0.0:
            break
        x = x_new
        xdot = xdot + delta_t * xddot
    delta_t_f = -x[1] / xdot[1]
    x_t_f = x + delta_t_f * xdot
    return x_t_f[0] ** 2


def naive_euler_r(w):
    return naive_euler(w, force_r)


def naive_euler_f(w):
    return naive_euler(w, force_f)


OBJECTIVES = {"rr": naive_euler_r, "rf": naive_euler_f, "fr": naive_euler_r, "ff": naive_euler_f}


def derivative(variant, backend="numpy"):
    """d cost / dw for one variant: sd.grad for an `r` outer mode, sd.jvp for `f`."""
    cost = OBJECTIVES[variant]
    if variant[0] == "r":
        return sd.grad(cost, backend=backend)
    # sd.jvp takes no backend= argument: it is NumPy only, and asking for another backend is a TypeError.
    outer = sd.jvp(cost) if backend == "numpy" else sd.jvp(cost, backend=backend)
    return lambda w: outer(w, 1.0)[1]  # GradBench's argmin hands over np.float64 elements


def argmin_w(variant, w0, backend="numpy"):
    cost = OBJECTIVES[variant]
    d = derivative(variant, backend)
    return multivariate_argmin(lambda w: cost(w[0]), lambda w: np.array([d(w[0])]), np.array([w0]))[0]


# GradBench protocol: the input is the starting w; the output the w found.
def prepare(input):
    return (float(input["w"]),)


FUNCTIONS = {variant: (functools.partial(argmin_w, variant), float) for variant in OBJECTIVES}
