"""Functions with calls that run as they are (random draws, meshgrid, isinstance), `.astype`,
expression defaults, None arguments and writes into an argument: the forms autograd's examples use."""

import numpy as np
import numpy.random as npr

rs = npr.RandomState(0)


def seeded_draws(x):
    r = np.random.RandomState(0)
    a = r.randn(3)
    r.randn(2)  # moves the generator on: `b` is the third to fifth number
    b = r.randn(3)
    return np.sum(x * b) + np.sum(np.sin(x) * a)


def reparametrised(params):
    mean, log_std = params[:3], params[3:]
    z = rs.randn(3)
    samples = z * np.exp(log_std) + mean
    return np.sum(samples * samples)


def draw_shaped_like(mean, log_std):
    """autograd's variational autoencoder: `*mean.shape` is a shape known only when running."""
    return np.sum((rs.randn(*mean.shape) * np.exp(log_std) + mean) ** 2)


def zeros_shaped_like(x):
    return np.sum(np.zeros(*x.shape) + x)


def draw_from_module(x):
    noise = npr.normal(0.0, 1.0, 3)
    return np.sum((x - noise) ** 2)


def draw_with_differentiated_mean(mu):
    return np.sum(rs.normal(mu, 1.0))  # the draw's derivative in mu is not defined here


def grid(f):
    rows, cols = f.shape
    ys, xs = np.meshgrid(np.arange(rows), np.arange(cols))
    return np.sum(f * (xs.T + 2.0 * ys.T))


def type_test(x, y):
    if isinstance(y, tuple):
        return np.sum(x)
    return np.sum(x * x)


def cell_weights(x):
    left = np.floor(x).astype(int)
    weight = x - left
    return np.sum(weight * weight) + np.sum(x.astype(np.float64) * 2.0)


def max_or_default(x, default=-np.inf):
    if x.size == 0:
        return default
    return np.max(x)


def plot(ax, field):
    ax.cla()
    ax.matshow(field)


def simulate(v, steps, ax=None):
    for _ in range(steps):
        if ax:
            plot(ax, v)
        v = np.sin(v) * 1.1
    return np.sum(v)


def project(vx):
    vx -= 0.5 * np.roll(vx, 1)
    return np.sum(vx * vx)


def scale_first(x):
    a = x[0]
    b = x[1]
    x[0] = a * b
    return np.sum(x)


def write_then_use(x):
    y = x**2.0
    x[0] = y[1] * y[2]
    return np.sum(x * y)


def write_in_a_loop(x):
    for i in range(1, 3):
        x[i] = x[i - 1] * np.sin(x[i])
    return np.sum(x)


def write_through_second_name(x):
    y = x
    y[0] = 1.0
    return np.sum(x)


def simulate_field(v, steps, ax=None):
    for _ in range(steps):
        if ax:
            plot(ax, v)
        v = np.sin(v) * 1.1
    return v


def scaled_sine(x, scale=2.0):
    return np.sin(x) * scale


def scaled_rows(a):
    return np.sum([r * 3.0 for r in a])  # Tangent's listcomp: a comprehension over an array's rows


def rows_then_array(x):
    return np.sum(np.array([np.sin(r) * r for r in x]) ** 2)


def generator_of_rows(x):
    return sum(np.tanh(r) for r in x)


def rows_joined_as_lists(x):
    rows = [r for r in x]
    return np.sum(rows + rows)


def simulate_rolled(v, steps, ax=None):
    for _ in range(steps):
        if ax:
            plot(ax, v)
        v = np.roll(v, 1) * 1.1
    return np.sum(v)


def weighted(x, w=None, bias=None):
    """`is None` on arguments: each call's arguments say which lines exist."""
    y = x if w is None else x * w
    if bias is not None:
        y = y + bias
    return np.sum(y**2)


def masked(x, mask):
    """`is not None` on an argument with no default: built for each call's arguments too."""
    if mask is not None:
        x = x * mask
    return np.sum(np.sin(x))


def best_of(x):
    """A name that is None before a loop and a number after: `is None` depends on the run."""
    best = None
    for i in range(3):
        v = np.sum(x * i)
        if best is None:
            best = v
        else:
            best = best + v
    return best


def same_object(x, y):
    return np.sum(x) if x is y else 0.0


def plot_step(x, t, ax=None):
    """An f-string in code left out where `ax` is None (autograd's wing example saves frames so)."""
    if ax:
        ax.savefig(f"step{t:03d}.png")
    return np.sum(np.sin(x) * t)


def labelled(x):
    label = f"{x}"
    return np.sum(x) if label else 0.0


def _draw(ax, x, t):
    if ax:
        ax.plot(x)
        ax.set_title(f"step {t}")


def simulate_and_draw(x, steps, ax=None):
    """A plotting helper called as a statement: with ax None it does nothing (autograd's wing)."""
    for t in range(steps):
        x = x * 0.9 + np.sin(x)
        _draw(ax, x, t)
    return np.sum(x**2)


def _scale_in_place(x):
    x *= 2.0


def scaled_through_a_helper(x):
    y = x + 1.0
    _scale_in_place(y)
    return np.sum(y)
