"""Functions that symdiff once differentiated wrongly without an error (the "Trust" issue).

Each is the one-line repro from the issue, or a close variant; the tests
check every one against central finite differences of the function itself.
"""

import functools

import numpy as np


def sum_of_list(a):
    return np.sum([1.0, a * a, 2.0])


def max_of_tuple(a):
    return np.max((3 * a, a * a))


def mean_of_list(a):
    return np.mean([a, a * a])


def prod_of_list(a):
    return np.prod([a, a * a, 2.0])


def dot_of_lists(a):
    return np.dot([a, 2.0], [3.0, a])


def list_plus_array(x):
    return np.sum(([x[0], 2.0 * x[1]] + x) ** 2)


def nested_array(x):
    return np.sum(np.array([[x, 2 * x], [x * x, 1.0]]) ** 2)


def nested_array_of_rows(x):
    m = np.array([[x[0], x[1]], [x[1] * x[0], 1.0]])
    return np.sum(m @ x)


def joined_lists(a):
    parts = [a, 2.0 * a] + [a * a]
    return np.sum(np.stack(parts) * np.array([1.0, 2.0, 3.0]))


def write_a_tuple(x):
    out = np.zeros(3)
    out[0:2] = (x * x, 3.0 * x)
    return np.sum(out)


def repeated_write(x):
    out = np.zeros(3)
    out[np.array([0, 0, 2])] = x
    return np.sum(out * np.array([1.0, 2.0, 3.0]))


def repeated_write_of_values(x):
    out = np.zeros(4)
    out[np.array([1, 3, 1])] = x * x
    return np.sum(out * np.array([1.0, 2.0, 3.0, 4.0]))


def or_value(a, x):
    y = a or x
    return y * x


def and_value(a, x):
    y = a and x
    return y * a


def chained_or(a, b, x):
    y = a or b or x
    return y * x


def or_of_comparisons(x):
    flag = x > 1.0 or x < -1.0
    return np.where(flag, x * x, x)


def conditional_expression(x, a):
    y = np.sin(x) if a > 0 else x * x
    return y * x


def conditional_on_data(x):
    t = np.sum(x)
    return np.sum(x * (t if t > 0 else -t))


def scale_result(f):
    @functools.wraps(f)
    def wrapper(*args, **kwargs):
        return 3.0 * f(*args, **kwargs)

    return wrapper


@scale_result
def decorated(x):
    return x * x


@scale_result
def decorated_helper(x):
    return np.sin(x)


def calls_decorated(x):
    return decorated_helper(x) + x


def power_zero(x):
    return np.sum(x**0)


def power_of_variable(x, p):
    return np.sum(x**p)


def repeated_write_vector(x):
    out = np.zeros(3)
    out[np.array([0, 0, 2])] = x  # out[0] = x[1] (the later write), out[2] = x[2]
    return np.sum(out * np.array([1.0, 2.0, 3.0]))


def list_times_array(x):
    return np.sum([x[0], 2.0 * x[1]] * x)


def where_sqrt(x):
    return np.sum(np.where(x > 0, np.sqrt(x), 0.0))


def where_log_in_else(x, w):
    safe = np.where(x <= 0.0, x * w, np.log(np.sqrt(x) * w) + x)
    return np.sum(safe)


def where_two_sided(x):
    inner = np.arcsin(x)
    return np.sum(np.where(np.abs(x) < 1.0, inner * inner, 2.0 * x))


def where_value_used_twice(x):
    root = np.sqrt(x)
    return np.sum(np.where(x > 0, root, 0.0)) + np.sum(root * 0.0)


class Counted:
    """A decorator object: symdiff cannot read what its __call__ does to the result."""

    def __init__(self, f):
        functools.update_wrapper(self, f)
        self.f = f

    def __call__(self, *args):
        return 2.0 * self.f(*args)


@Counted
def wrapped_by_an_object(x):
    return x * x


@functools.cache
def cached(x):
    return x * x * x


def fill_from_argument(x):
    y = np.zeros_like(x)  # the adjoint of x also starts as zeros_like(x): never the same buffer
    for i in range(len(x)):
        y[i] = x[i]
    return np.sum(y)


def dot_with_a_scalar(s, w):
    return np.sum(np.dot(s, w))


def write_after_saving(x):
    out = np.zeros(2)
    out[1] = x * 1.0
    t2 = np.sum(out * out)  # reads out before the loop writes into it
    for i in range(2):
        out[i] = 0.5 * x
    return t2 + np.sum(out)


def narrow_and_wide_terms(x, y):
    t1 = np.log1p(0.5 * np.tanh(x))
    t2 = y % (1.5 + t1 * t1)  # y is wider than t1: t1's adjoint has a term per row of y
    return np.sum(np.sin(t2)) + np.sum(np.cos(t1))


def where_in_branch(a):
    if np.sum(a) > 0:
        t = np.where(a > 0, np.sqrt(a), 0.0)
    else:
        t = a
    return np.sum(t)


def where_in_loop(a):
    total = 0.0
    for i in range(3):
        t = np.where(a > 0, np.sqrt(a * (i + 1)), 0.0)
        total = total + np.sum(t)
    return total


def spread_of_one_element(x):
    return np.std(x[0:1]) + np.sum(x)


def norm_of_zero(x):
    return np.linalg.norm(x - x) + np.sum(x)


def loop_local_in_an_arm(x):
    if np.max(x) > 0.5:
        t2 = x * 2.0
    else:
        for i in range(2):
            t8 = np.tan(x)  # noqa: F841 - assigned in a loop in one arm only: unreadable after
        t2 = x * 3.0
    return np.sum(t2)


def second_name_of_an_unpacked_value(x):
    p1, q2 = x % (1.5 + (x * 0.5 + 0.1) * (x * 0.5 + 0.1)), 2.0 + x  # noqa: F841
    t3 = np.asarray(q2)  # noqa: F841 - a second name, not a new value
    t4 = np.where(q2 > -1.0, np.log1p(q2), 0.0)
    return np.sum(np.sin(t4)) + q2 + x


def mean_of_a_scalar(x, y):
    return np.mean(y * y) + np.sum(x)


def mean_of_no_rows(x):
    return np.sum(np.mean(x[:0], axis=1)) + np.sum(x * x)  # np.mean over an empty axis: 0 / 0 elements


def joined_shapes(x):
    first = np.sin(x[0])
    out = np.zeros((len(x),) + np.shape(first))  # a tuple joined with a shape, not NumPy's sum of them
    for k in range(len(x)):
        out[k] = np.sin(x[k]) * 3.0
    return np.sum(out)


def filled_with_a_value(x, s):
    """np.full and np.full_like take a value, not only a size: it was given a zero derivative."""
    return np.sum(np.full((2, 3), s) * x) + np.sum(np.full_like(x, s * s))


def grid_up_to(x, s):
    """np.linspace's samples move with its ends: they were constants."""
    return np.sum(np.sin(np.linspace(s, 2.0 * s + 1.0, 5)) * x[0]) + np.sum(np.linspace(0.0, x, 4))


def counted_from(s):
    return np.sum(np.arange(s, s + 3.0) ** 2)


def filled_with_whole_numbers(s):
    """dtype=int truncates: the filled array has no derivative (it had s's)."""
    return np.sum(np.full((3,), s, dtype=int) * s) + np.sum(np.full_like(np.ones(2), s, dtype=bool))
