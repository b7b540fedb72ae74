"""GradBench `gmm` (ADBench's GMM with GradBench's fixes): the log posterior of a
Gaussian mixture with a Wishart prior on the precision matrices, and its gradient
with respect to alpha, mu, q and l.

Component k's precision matrix is Q_k^T Q_k, with Q_k lower triangular:
exp(q_k) on the diagonal and l_k below it, filled column by column. The
objective is the simplified form of the eval's "Implementation" section.
"""

import math

import numpy as np
from scipy.special import multigammaln

import symdiff as sd


def logsumexp(v, axis):
    vmax = np.max(v, axis=axis, keepdims=True)
    return np.log(np.sum(np.exp(v - vmax), axis=axis)) + np.squeeze(vmax, axis=axis)


def gmm_objective(alpha, mu, q, l, x, m, gamma):
    n, d = x.shape
    k = alpha.shape[0]

    # Q[k] = lower triangular, exp(q[k]) on the diagonal, l[k] below it column by column.
    Q = np.zeros((k, d, d))
    idx = 0
    for j in range(d):
        Q[:, j, j] = np.exp(q[:, j])
        for i in range(j + 1, d):
            Q[:, i, j] = l[:, idx]
            idx += 1

    xcentered = x[:, None, :] - mu[None, :, :]  # (n, k, d)
    Qx = (Q @ xcentered[:, :, :, None])[:, :, :, 0]  # Q_k (x_i - mu_k)
    sum_q = np.sum(q, axis=1)
    beta = alpha + sum_q - 0.5 * np.sum(Qx**2, axis=2)  # (n, k)

    log_likelihood = np.sum(logsumexp(beta, axis=1)) - n * (0.5 * d * math.log(2 * math.pi) + logsumexp(alpha, axis=0))

    wishart_n = d + m + 1
    frobenius = np.sum(np.exp(q) ** 2) + np.sum(l**2)
    log_prior = (
        k * (wishart_n * d * math.log(gamma / math.sqrt(2)) - multigammaln(0.5 * wishart_n, d))
        - 0.5 * gamma**2 * frobenius
        + m * np.sum(sum_q)
    )
    return log_likelihood + log_prior


def objective(alpha, mu, q, l, x, m, gamma):
    return gmm_objective(alpha, mu, q, l, x, m, gamma)


def jacobian(alpha, mu, q, l, x, m, gamma, backend="numpy"):
    """The gradient with respect to (alpha, mu, q, l), as a tuple."""
    return sd.grad(gmm_objective, wrt=(0, 1, 2, 3), backend=backend)(alpha, mu, q, l, x, m, gamma)


# GradBench protocol: arguments from the eval's input, outputs as it expects them.
def prepare(input):
    def array(name):
        return np.asarray(input[name], dtype=float)

    return array("alpha"), array("mu"), array("q"), array("l"), array("x"), int(input["m"]), float(input["gamma"])


def _independent(grads):
    return dict(zip(("alpha", "mu", "q", "l"), (g.tolist() for g in grads)))


FUNCTIONS = {"objective": (objective, float), "jacobian": (jacobian, _independent)}
