"""GradBench `ode` (cmpad's an_ode): s steps of 4th-order Runge-Kutta.

y_0' = x_0 and y_i' = x_i y_{i-1} for i > 0, y(0) = 0, integrated to t = 2;
the derivative asked for is the gradient of the last component of y(2).
"""

import numpy as np

import symdiff as sd


def ode_fun(x, y):
    z = np.zeros_like(y)
    z[0] = x[0]
    z[1:] = x[1:] * y[:-1]
    return z


def runge_kutta(x, s):
    tf = 2.0
    h = tf / s
    y = np.zeros_like(x)
    for _ in range(s):
        k1 = ode_fun(x, y)
        k2 = ode_fun(x, y + h / 2 * k1)
        k3 = ode_fun(x, y + h / 2 * k2)
        k4 = ode_fun(x, y + h * k3)
        y = y + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
    return y


def last(x, s):
    return runge_kutta(x, s)[-1]


def primal(x, s):
    return runge_kutta(x, s)


def gradient(x, s, backend="numpy"):
    return sd.grad(last, backend=backend)(x, s)


# GradBench protocol: arguments from the eval's input, outputs as it expects them.
def prepare(input):
    return np.asarray(input["x"], dtype=float), int(input["s"])


FUNCTIONS = {"primal": (primal, np.ndarray.tolist), "gradient": (gradient, np.ndarray.tolist)}
