"""An LSTM trained with a symdiff gradient to predict the next value of noisy sine waves.

    python examples/lstm.py            # full run (about 20 seconds)
    python examples/lstm.py --quick    # short run, as in CI (also: SYMDIFF_EXAMPLE_QUICK=1)
    python examples/lstm.py --show-source

Each training sequence is a sine wave with a random frequency, phase and
amplitude plus Gaussian noise; at every step the model sees the current value
and predicts the next one. Predicting well needs memory (the frequency has to
be inferred from the values seen so far), which is what the LSTM's cell state
provides.

The whole model, forward pass and loss, is one plain NumPy function,
`sequence_loss`: a `for` loop over time steps that calls the module-level
helpers `sigmoid` and `readout`. `symdiff.value_and_grad` turns it into a
function returning the loss and the gradients with respect to all five
parameter arrays. The generated source keeps the loop (it is not unrolled)
and saves per-step values on tapes for the backward pass: backpropagation
through time, derived from the forward code. The optimiser is Adam, written
below in a few lines of NumPy.
"""

from __future__ import annotations

import argparse
import os

import numpy as np

import symdiff as sd

PARAMETERS = ("wx", "wh", "b", "wy", "by")


def sigmoid(z):
    """The logistic function."""
    return 1.0 / (1.0 + np.exp(-z))


def readout(h, wy, by):
    """Linear map from the hidden state to the predicted next value."""
    return h @ wy + by


def sequence_loss(wx, wh, b, wy, by, xs, ys):
    """Mean squared error of next-value predictions over a batch of sequences.

    xs, ys: (time, batch, 1) inputs and targets. The four gates are stacked in
    the columns of wx (1, 4n), wh (n, 4n) and b (4n,) as input, forget,
    output and candidate.
    """
    n = wh.shape[0]
    h = np.zeros((xs.shape[1], n))
    c = np.zeros((xs.shape[1], n))
    total = 0.0
    for t in range(xs.shape[0]):
        z = xs[t] @ wx + h @ wh + b
        i = sigmoid(z[:, :n])
        f = sigmoid(z[:, n : 2 * n])
        o = sigmoid(z[:, 2 * n : 3 * n])
        g = np.tanh(z[:, 3 * n :])
        c = f * c + i * g
        h = o * np.tanh(c)
        total = total + np.mean((readout(h, wy, by) - ys[t]) ** 2)
    return total / xs.shape[0]


loss_and_grad = sd.value_and_grad(sequence_loss, wrt=PARAMETERS)


def make_sequences(rng, count, steps, noise):
    """Noisy sine waves, (steps, count, 1) inputs and next-step targets."""
    t = np.arange(steps + 1)[:, None]
    frequency = rng.uniform(0.1, 0.6, size=count)
    phase = rng.uniform(0.0, 2 * np.pi, size=count)
    amplitude = rng.uniform(0.5, 1.0, size=count)
    waves = amplitude * np.sin(frequency * t + phase) + noise * rng.normal(size=(steps + 1, count))
    return waves[:-1, :, None], waves[1:, :, None]


def init_parameters(rng, hidden):
    """Small random weights; the forget-gate bias starts at 1 so the cell remembers."""
    b = np.zeros(4 * hidden)
    b[hidden : 2 * hidden] = 1.0
    return {
        "wx": rng.normal(size=(1, 4 * hidden)) * 0.5,
        "wh": rng.normal(size=(hidden, 4 * hidden)) / np.sqrt(hidden),
        "b": b,
        "wy": rng.normal(size=(hidden, 1)) / np.sqrt(hidden),
        "by": np.zeros(1),
    }


class Adam:
    """Adam (Kingma and Ba, 2015) over a dict of NumPy arrays."""

    def __init__(self, params, learning_rate, beta1=0.9, beta2=0.999, eps=1e-8):
        self.learning_rate, self.beta1, self.beta2, self.eps = learning_rate, beta1, beta2, eps
        self.m = {k: np.zeros_like(v) for k, v in params.items()}
        self.v = {k: np.zeros_like(v) for k, v in params.items()}
        self.steps = 0

    def update(self, params, grads):
        self.steps += 1
        scale = np.sqrt(1 - self.beta2**self.steps) / (1 - self.beta1**self.steps)
        for k, g in grads.items():
            self.m[k] = self.beta1 * self.m[k] + (1 - self.beta1) * g
            self.v[k] = self.beta2 * self.v[k] + (1 - self.beta2) * g * g
            params[k] = params[k] - self.learning_rate * scale * self.m[k] / (np.sqrt(self.v[k]) + self.eps)


def evaluate(params, xs, ys):
    return float(sequence_loss(*(params[k] for k in PARAMETERS), xs, ys))


def train(params, rng, steps, batch, length, noise, learning_rate, report_every, x_val, y_val):
    optimiser = Adam(params, learning_rate)
    for step in range(steps + 1):
        xs, ys = make_sequences(rng, batch, length, noise)
        # With several wrt, value_and_grad returns the flat tuple (value, grad_wx, grad_wh, ...).
        value, grads = loss_and_grad(*(params[k] for k in PARAMETERS), xs, ys)
        if step % report_every == 0:
            print(f"step {step:4d}  train loss {value:.5f}  validation loss {evaluate(params, x_val, y_val):.5f}")
        optimiser.update(params, dict(zip(PARAMETERS, grads, strict=True)))
    return params


def main(argv=None):
    parser = argparse.ArgumentParser(description="Train an LSTM on noisy sine waves with a symdiff gradient.")
    parser.add_argument("--quick", action="store_true", help="a short run, as in CI")
    parser.add_argument("--show-source", action="store_true", help="print the generated gradient and exit")
    parser.add_argument("--seed", type=int, default=0)
    options = parser.parse_args(argv)
    quick = options.quick or os.environ.get("SYMDIFF_EXAMPLE_QUICK") == "1"

    if options.show_source:
        print(loss_and_grad.source)
        return

    rng = np.random.default_rng(options.seed)
    hidden, length, batch, noise = (8, 20, 16, 0.05) if quick else (32, 30, 64, 0.05)
    steps, report_every, learning_rate = (60, 15, 0.03) if quick else (800, 50, 0.01)
    x_val, y_val = make_sequences(rng, 256, length, noise)
    print(f"LSTM, hidden size {hidden}; sequences of {length} steps, batch {batch}, {steps} Adam steps")
    repeat_last = float(np.mean((x_val - y_val) ** 2))
    print(f"baseline (predict the current value again): validation loss {repeat_last:.5f}")
    print(f"noise floor (variance of the noise on the targets): {noise**2:.5f}")

    params = init_parameters(rng, hidden)
    params = train(params, rng, steps, batch, length, noise, learning_rate, report_every, x_val, y_val)
    final = evaluate(params, x_val, y_val)
    print(f"final validation loss {final:.5f} ({final / repeat_last:.2f} x the baseline)")


if __name__ == "__main__":
    main()
