"""Logistic regression trained by gradient descent with a symdiff gradient.

    python examples/logistic_regression.py            # full run
    python examples/logistic_regression.py --quick    # short run (also: SYMDIFF_EXAMPLE_QUICK=1)
    python examples/logistic_regression.py --show-source

Synthetic data: features drawn from a normal distribution, labels drawn from
a logistic model with known weights. The loss is the mean binary
cross-entropy, written in the numerically stable form
log(1 + exp(z)) - y * z = logaddexp(0, z) - y * z, plus an L2 penalty.
`symdiff.value_and_grad` turns it into one function returning the loss and its
gradient from a single forward pass.
"""

from __future__ import annotations

import argparse
import os

import numpy as np

import symdiff as sd


def loss(w, x, y, l2):
    """Mean binary cross-entropy of a linear model with an L2 penalty (x has a bias column)."""
    z = x @ w
    return np.mean(np.logaddexp(0.0, z) - y * z) + 0.5 * l2 * np.sum(w[:-1] ** 2)


loss_and_grad = sd.value_and_grad(loss)  # built once, here; the gradient is with respect to w


def make_data(rng, samples, features):
    """Standard-normal features plus a bias column, and labels from a logistic model."""
    true_w = rng.normal(size=features + 1) * 2.0
    x = np.hstack([rng.normal(size=(samples, features)), np.ones((samples, 1))])
    probability = 1.0 / (1.0 + np.exp(-(x @ true_w)))
    y = (rng.uniform(size=samples) < probability).astype(float)
    return x, y


def accuracy(w, x, y):
    return float(np.mean((x @ w > 0.0) == (y > 0.5)))


def train(x, y, steps, learning_rate, l2, report_every):
    w = np.zeros(x.shape[1])
    for step in range(steps + 1):
        value, gradient = loss_and_grad(w, x, y, l2)
        if step % report_every == 0:
            print(f"step {step:4d}  loss {value:.6f}")
        w = w - learning_rate * gradient
    return w


def main(argv=None):
    parser = argparse.ArgumentParser(description="Logistic regression with a symdiff gradient.")
    parser.add_argument("--quick", action="store_true", help="a short run, as in CI")
    parser.add_argument("--show-source", action="store_true", help="print the generated gradient and exit")
    options = parser.parse_args(argv)
    quick = options.quick or os.environ.get("SYMDIFF_EXAMPLE_QUICK") == "1"

    if options.show_source:
        print(loss_and_grad.source)
        return

    rng = np.random.default_rng(0)
    samples, features = (400, 5) if quick else (5000, 20)
    steps, report_every = (40, 10) if quick else (300, 30)
    x, y = make_data(rng, 2 * samples, features)
    x_train, y_train, x_test, y_test = x[:samples], y[:samples], x[samples:], y[samples:]

    print(f"{samples} training and {samples} test samples, {features} features, {steps} steps")
    w = train(x_train, y_train, steps, learning_rate=0.5, l2=1e-3, report_every=report_every)
    print(f"train accuracy {accuracy(w, x_train, y_train):.3f}")
    print(f"test accuracy {accuracy(w, x_test, y_test):.3f}")


if __name__ == "__main__":
    main()
