"""The gradient-descent solver of GradBench's `particle` and `saddle` evals.

As GradBench's `cpp/gradbench/gd.hpp`: steps of size eta along the negative
gradient, eta halved after a step that does not lower f and doubled after
ten that do; stop when the gradient or the step is below 1e-5. `saddle`
differentiates through it (its inner argmax), so it is plain NumPy.
"""

import numpy as np


def multivariate_argmin(f, g, x):
    fx = f(x)
    gx = g(x)
    i = 0
    eta = 1e-5
    while True:
        if np.sqrt(np.sum(gx**2)) <= 1e-5:
            return x
        if i == 10:
            eta = eta * 2.0
            i = 0
        else:
            x_prime = x - eta * gx
            if np.sqrt(np.sum((x - x_prime) ** 2)) <= 1e-5:
                return x
            fx_prime = f(x_prime)
            if fx_prime < fx:
                x = x_prime
                fx = fx_prime
                gx = g(x)
                i = i + 1
            else:
                eta = eta / 2.0
                i = 0


def multivariate_argmax(f, g, x):
    return multivariate_argmin(lambda y: -f(y), lambda y: -g(y), x)


def multivariate_max(f, g, x):
    return f(multivariate_argmax(f, g, x))
