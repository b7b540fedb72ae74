"""Programs whose values change type with their arguments (found by the fuzzer on Numba)."""

import numpy as np


def arms_scalar_and_zero_d(x):
    if np.mean(x) < 0.1:
        t = x @ x.T  # a float for a vector
    else:
        t = x.std(axis=-1)  # NumPy's 0-d array (np.where of scalars) for a vector
    return t + np.sum(np.cos(x))


def ravel_of_a_number(x):
    t = np.sum(x * x)
    return np.sum(np.ravel(t) * 3.0)


def dot_and_transpose_of_numbers(x):
    return np.sum(np.dot(2.0, x) * x) + np.sum(np.transpose(x[0]) * x)


def steps_of_zero_d_arrays(x):
    acc = 0.0
    for i in range(3):
        acc = acc + np.where(x[i] > 0.0, x[i], 0.5 * x[i])
    return acc


def float32_scalar_argument(x, y):
    return np.sum(np.sin(x)) * y


def float_of_a_comparison(x):
    return np.sum(x * float(np.sum(x) > 0.0))


def expand_dims_of_a_number(x):
    return np.sum(np.expand_dims(np.sum(x * x), 0) * 2.0)


def array_of_a_number_and_a_kept_sum(x):
    kept = np.sum(x, axis=None, keepdims=True)  # a 0-d array for a number
    return np.sum(np.array([np.sin(kept), x]) ** 2)


def float32_loop(x):
    acc = np.zeros_like(x)  # float32 for float32 x; NumPy keeps it float32 through `acc + x * 0.5`
    for i in range(3):
        acc = acc + x * 0.5
    return np.sum(acc * acc)


def logistic_mean(w, x, y):
    return np.mean(np.log1p(np.exp(-y * (x @ w))))  # the mean's cotangent divides by an integer count


def variance_and_spread(x):
    return np.var(x) + np.std(x, axis=0).sum() / x.shape[0]  # counts of a mean, a shape entry


def float32_counter_loop(x, a):
    s = 0.0
    for i in range(5):
        s = s + np.sum(np.sin(x * a) * i)
        x = x * 0.9
    return s


def nested_list_of_a_number(w):
    charges = np.array([[10.0, 10.0 - w], [10.0, 0.0]])  # GradBench's particle
    return np.sum(charges**2)


def clip_and_reshape_of_a_number(x):
    t = np.reshape(x, (-1, 1))
    return np.sum(np.clip(x * 2.0, 0.0, 1.5)) + np.sum(np.sin(t)) + np.clip(x, None, 0.5)
