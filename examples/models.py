"""Small model losses, written in the NumPy subset symdiff reads, for the command-line examples.

    symdiff grad examples/models.py:loss --wrt w --out loss_grad.py

writes `loss_grad.py`, a standalone module (NumPy only) whose `loss_grad(w, b, x, y)`
returns the gradient of `loss` with respect to `w`. See examples/emit_gradient_file.py,
which does the same from Python with `symdiff.emit` and checks the result.
"""

import numpy as np


def features(x):
    """A fixed nonlinear feature map (a helper: symdiff inlines it)."""
    return np.tanh(x)


def loss(w, b, x, y):
    """Logistic loss of a linear model on tanh features, labels y in {-1, +1}, with an L2 penalty."""
    margin = y * (features(x) @ w + b)
    return np.mean(np.logaddexp(0.0, -margin)) + 0.01 * np.sum(w**2)
