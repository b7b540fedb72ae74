"""GradBench `hello`: `square(x) = x * x` and its derivative `double`."""

import symdiff as sd


def square(x):
    return x * x


def double(x, backend="numpy"):
    """d square / dx = 2x."""
    return sd.grad(square, backend=backend)(x)


# GradBench protocol: the input is a bare number.
def prepare(input):
    return (float(input),)


FUNCTIONS = {"square": (square, float), "double": (double, float)}
