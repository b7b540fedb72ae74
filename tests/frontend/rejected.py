"""One function per construct outside the supported subset (SPEC §3)."""

import numpy as np

SCALE = 2.0


def uses_class(x):
    class Box:
        pass

    return x


def uses_try(x):
    try:
        y = x * 2
    except ValueError:
        y = x
    return y


def uses_with(x):
    with open("f") as handle:
        handle.read()
    return x


def uses_generator(x):
    return sum(t for t in np.sin(x) if t > 0.0)  # over an array's rows, filtered by their values


def uses_global(x):
    global SCALE
    SCALE = 3.0
    return x * SCALE


def mutates_argument_through_a_second_name(x):
    y = x
    y[0] = 1.0
    return np.sum(x)


def unknown_call(x):
    return np.sum(np.median(x, axis=0))


def non_scalar(x):
    return x * 2.0


def recursive(x):
    return recursive(x * 0.5)


def undefined_name(x):
    return x * not_defined_anywhere  # noqa: F821


def no_return(x):
    x = x * 2


def two_args(x, y):
    return np.sum(x * y)


def default_from_constant(x, k=SCALE):
    return np.sum(x * k)


def default_from_call(x, k=np.ones(2)):  # noqa: B008
    return np.sum(x * k)


def like_with_other_shape(x):
    return np.sum(np.ones_like(x, shape=(3, 2)) * x)
