"""GradBench `lstm` (ADBench's diagonal LSTM): the mean log-likelihood of a
character sequence under a stacked LSTM whose weight matrices are diagonal.

main_params (2l, 4b): rows 2i and 2i+1 are layer i's weights and biases for
the forget, input, output and change gates; extra_params (3, b): input
weights, output weights, output biases; state (2l, b): rows 2i and 2i+1 are
layer i's hidden and cell state; sequence (c, b): one-hot-ish character bits.
"""

import numpy as np

import symdiff as sd


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def lstm_model(weight, bias, hidden, cell, inp):
    b = hidden.shape[0]
    gates = np.concatenate((inp, hidden, inp, hidden)) * weight + bias
    forget = sigmoid(gates[0:b])
    ingate = sigmoid(gates[b : 2 * b])
    outgate = sigmoid(gates[2 * b : 3 * b])
    change = np.tanh(gates[3 * b :])
    cell = cell * forget + ingate * change
    hidden = outgate * np.tanh(cell)
    return hidden, cell


def predict(main_params, extra_params, state, inp):
    new_state = np.zeros_like(state)
    x = inp * extra_params[0]
    for i in range(0, state.shape[0], 2):
        hidden, cell = lstm_model(main_params[i], main_params[i + 1], state[i], state[i + 1], x)
        new_state[i] = hidden
        new_state[i + 1] = cell
        x = hidden
    return x * extra_params[1] + extra_params[2], new_state


def lstm_objective(main_params, extra_params, state, sequence):
    c, b = sequence.shape
    total = 0.0
    for t in range(c - 1):
        ypred, state = predict(main_params, extra_params, state, sequence[t])
        # ADBench's log(sum(exp(ypred), 2)): a sum that starts at 2, kept for the same values.
        ynorm = ypred - np.log(np.sum(np.exp(ypred)) + 2.0)
        total = total + np.sum(sequence[t + 1] * ynorm)
    return -total / ((c - 1) * b)


def objective(main_params, extra_params, state, sequence):
    return lstm_objective(main_params, extra_params, state, sequence)


def jacobian(main_params, extra_params, state, sequence, backend="numpy"):
    """The gradient with respect to main_params and extra_params, flattened row by row and joined."""
    d_main, d_extra = sd.grad(lstm_objective, wrt=(0, 1), backend=backend)(main_params, extra_params, state, sequence)
    return np.concatenate((d_main.ravel(), d_extra.ravel()))


# GradBench protocol: arguments from the eval's input, outputs as it expects them.
def prepare(input):
    names = ("main_params", "extra_params", "state", "sequence")
    return tuple(np.asarray(input[name], dtype=float) for name in names)


FUNCTIONS = {"objective": (objective, float), "jacobian": (jacobian, np.ndarray.tolist)}
