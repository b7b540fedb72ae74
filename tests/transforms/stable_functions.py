"""Losses written the textbook way, each one composition that `transforms/stable.py` rewrites.

In a file of their own because symdiff reads functions from their source.
"""

import numpy as np
import scipy.special


def softplus(x):
    return np.sum(np.log(1.0 + np.exp(x)))


def softplus_log1p(x):
    return np.sum(np.log1p(np.exp(x)))


def log_expit(x):
    return np.sum(np.log(scipy.special.expit(x)))


def log_one_minus_expit(x):
    return np.sum(np.log(1.0 - scipy.special.expit(x)))


def log_sigmoid(x):
    return np.sum(np.log(1.0 / (1.0 + np.exp(-x))))


def log_one_minus_sigmoid(x):
    return np.sum(np.log(1.0 - 1.0 / (1.0 + np.exp(-x))))


SLOPES = np.array([1.0, 0.5, 0.25])


def log_sum_exp(x):
    return np.log(np.sum(np.exp(x * SLOPES)))


def log_softmax(x):
    e = np.exp(x * SLOPES)
    return np.log(e / np.sum(e))[1]


def log_exp(x):
    return np.sum(np.log(np.exp(x)))


def log_one_plus(x):
    return np.sum(np.log(1.0 + x))


def exp_minus_one(x):
    return np.sum(np.exp(x) - 1.0)


# The four cases of the numerical-robustness issue.


def cross_entropy(z):
    return -z[2] + np.log(np.sum(np.exp(z)))


def where_sqrt(x):
    return np.sum(np.where(x > 0, np.sqrt(x), 0.0))


def norm(x):
    return np.linalg.norm(x)


def norm_by_hand(x):
    return np.sqrt(np.sum(x * x))


# Forms the pass must leave alone or handle with care.


def logistic(w, x, y):
    p = 1.0 / (1.0 + np.exp(-(x @ w)))
    return -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))


def log_sigmoid_times(z):
    p = 1.0 / (1.0 + np.exp(-z))
    return np.sum(np.log(p) * z)


def shared_exp(x):
    e = np.exp(x)
    return np.sum(np.log(1.0 + e) + e)


def shifted_softmax(logits):
    z = logits - np.max(logits, axis=1, keepdims=True)
    return np.sum(z - np.log(np.sum(np.exp(z), axis=1, keepdims=True)))


def shifted_logsumexp(x):
    a = np.max(x)
    return a + np.log(np.sum(np.exp(x - a)))


def rows_log_softmax(z):
    e = np.exp(z)
    return np.sum(np.log(e / np.sum(e, axis=1, keepdims=True)) * np.arange(3.0))


def softplus_in_loop(x, n):
    total = 0.0
    for i in range(n):
        total = total + np.sum(np.log(1.0 + np.exp(x * (i + 1))))
    return total


def where_log_other_arm(x):
    return np.sum(np.where(x <= 0.0, 0.0, np.log(x) / x))


def where_in_loop(x, n):
    total = 0.0
    for i in range(n):
        total = total + np.sum(np.where(x > i, np.sqrt(x - i), 0.0))
    return total


def total_log_ndtr(x):
    return np.sum(scipy.special.log_ndtr(x))
