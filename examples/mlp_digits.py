"""An MLP trained with a symdiff gradient on the handwritten digits that scikit-learn ships.

    python examples/mlp_digits.py                       # full run (a few seconds), >= 95% test accuracy
    python examples/mlp_digits.py --quick               # short run, as in CI (also: SYMDIFF_EXAMPLE_QUICK=1)
    python examples/mlp_digits.py --plot curves.png     # where to save the loss/accuracy plot

Needs scikit-learn for the data (`sklearn.datasets.load_digits`: 1797 8x8
images bundled with the package, no download). tqdm (progress bar) and
matplotlib (plot) are optional: `pip install "symdiff[examples]"` installs all
three.

The network is 64-128-10 with tanh hidden units and a softmax cross-entropy
loss plus a little L2 weight decay, written as one plain NumPy function.
`symdiff.value_and_grad` makes it return the loss and the gradients with
respect to all four parameter arrays; training is mini-batch SGD with
momentum, written below in NumPy.
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np

import symdiff as sd

PARAMETERS = ("w1", "b1", "w2", "b2")


def log_softmax(logits):
    """Row-wise log-softmax, shifted by the row maximum for stability."""
    z = logits - np.max(logits, axis=1, keepdims=True)
    return z - np.log(np.sum(np.exp(z), axis=1, keepdims=True))


def loss(w1, b1, w2, b2, x, y, decay):
    """Mean cross-entropy of a tanh MLP on one-hot labels y, plus decay/2 * |weights|^2."""
    h = np.tanh(x @ w1 + b1)
    log_probs = log_softmax(h @ w2 + b2)
    penalty = 0.5 * decay * (np.sum(w1**2) + np.sum(w2**2))
    return -np.mean(np.sum(y * log_probs, axis=1)) + penalty


loss_and_grad = sd.value_and_grad(loss, wrt=PARAMETERS)


def predict(params, x):
    h = np.tanh(x @ params["w1"] + params["b1"])
    return np.argmax(h @ params["w2"] + params["b2"], axis=1)


def accuracy(params, x, labels):
    return float(np.mean(predict(params, x) == labels))


def load_data(rng, test_fraction=0.25):
    """Digits scaled to [0, 1], split into a training and a test set."""
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        sys.exit("this example needs scikit-learn for its data: pip install scikit-learn")
    digits = load_digits()
    x, labels = digits.data / 16.0, digits.target
    order = rng.permutation(len(labels))
    cut = int(len(labels) * (1 - test_fraction))
    train, test = order[:cut], order[cut:]
    return x[train], labels[train], x[test], labels[test]


def progress(epochs):
    """A tqdm progress bar over the epochs when tqdm is installed, else a plain range."""
    try:
        from tqdm import tqdm
    except ImportError:
        print("(tqdm is not installed: no progress bar)")
        return range(epochs)
    return tqdm(range(epochs), desc="training", unit="epoch")


def train(params, data, epochs, batch, learning_rate, decay, rng, report_every):
    """Mini-batch SGD with momentum 0.9; returns the per-epoch training loss and test accuracy."""
    x_train, labels_train, x_test, labels_test = data
    y_train = np.eye(10)[labels_train]
    velocity = {k: np.zeros_like(v) for k, v in params.items()}
    history = {"loss": [], "test accuracy": []}
    bar = progress(epochs)
    for epoch in bar:
        order = rng.permutation(len(x_train))
        losses = []
        for start in range(0, len(order), batch):
            rows = order[start : start + batch]
            # With several wrt, value_and_grad returns the flat tuple (value, grad_w1, grad_b1, ...).
            value, grads = loss_and_grad(*(params[k] for k in PARAMETERS), x_train[rows], y_train[rows], decay)
            losses.append(value)
            for k, g in zip(PARAMETERS, grads, strict=True):
                velocity[k] = 0.9 * velocity[k] - learning_rate * g
                params[k] = params[k] + velocity[k]
        history["loss"].append(float(np.mean(losses)))
        history["test accuracy"].append(accuracy(params, x_test, labels_test))
        if hasattr(bar, "set_postfix"):
            bar.set_postfix(loss=f"{history['loss'][-1]:.4f}", test_acc=f"{history['test accuracy'][-1]:.3f}")
        if (epoch + 1) % report_every == 0 or epoch == 0:
            say = getattr(bar, "write", print)  # tqdm.write keeps the bar intact
            say(
                f"epoch {epoch + 1:3d}  loss {history['loss'][-1]:.4f}  test accuracy {history['test accuracy'][-1]:.4f}"
            )
    return history


def save_plot(path, history):
    """Training loss and test accuracy per epoch; skipped with a message without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: skipping the plot (pip install matplotlib)")
        return
    epochs = np.arange(1, len(history["loss"]) + 1)
    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    left.plot(epochs, history["loss"])
    left.set(xlabel="epoch", ylabel="training loss", title="loss", yscale="log")
    right.plot(epochs, history["test accuracy"])
    right.set(xlabel="epoch", ylabel="test accuracy", title="accuracy")
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
    print(f"plot saved to {path}")


def main(argv=None):
    parser = argparse.ArgumentParser(description="Train an MLP on scikit-learn's digits with a symdiff gradient.")
    parser.add_argument("--quick", action="store_true", help="a short run, as in CI")
    parser.add_argument("--plot", default="mlp_digits.png", help="where to save the plot (PNG)")
    parser.add_argument("--no-plot", action="store_true", help="do not save a plot")
    parser.add_argument("--show-source", action="store_true", help="print the generated gradient and exit")
    parser.add_argument("--seed", type=int, default=0)
    options = parser.parse_args(argv)
    quick = options.quick or os.environ.get("SYMDIFF_EXAMPLE_QUICK") == "1"

    if options.show_source:
        print(loss_and_grad.source)
        return

    rng = np.random.default_rng(options.seed)
    data = load_data(rng)
    hidden, batch, learning_rate, decay = 128, 32, 0.05, 1e-4
    epochs, report_every = (3, 1) if quick else (60, 10)
    print(f"digits: {len(data[0])} training and {len(data[2])} test images of 8x8 pixels")
    print(f"MLP 64-{hidden}-10, {epochs} epochs of SGD with momentum, batch {batch}")
    params = {
        "w1": rng.normal(size=(64, hidden)) / np.sqrt(64),
        "b1": np.zeros(hidden),
        "w2": rng.normal(size=(hidden, 10)) / np.sqrt(hidden),
        "b2": np.zeros(10),
    }
    history = train(params, data, epochs, batch, learning_rate, decay, rng, report_every)
    print(f"train accuracy {accuracy(params, data[0], data[1]):.4f}")
    print(f"test accuracy {accuracy(params, data[2], data[3]):.4f}")
    if not options.no_plot:
        save_plot(options.plot, history)


if __name__ == "__main__":
    main()
