"""Learning to learn by gradient descent by gradient descent, in miniature, with symdiff meta-gradients.

    python examples/learned_optimizer.py                 # full run (under a minute)
    python examples/learned_optimizer.py --quick         # short run, as in CI (also: SYMDIFF_EXAMPLE_QUICK=1)
    python examples/learned_optimizer.py --plot out.png  # where to save the plot (needs matplotlib)
    python examples/learned_optimizer.py --unroll 1000   # through 1,000 inner steps, checkpointed (~10 min)

After Andrychowicz et al. (2016). The inner problems are random, badly scaled
least-squares fits: each has its own data matrix whose columns are scaled by
factors spread over two orders of magnitude, so a single learning rate is too
large for some coordinates and too small for others.

The update rule is a tiny coordinate-wise neural network, shared by every
coordinate of every problem. At each step it sees the gradient g and its
momentum m, both divided by a running root-mean-square of g, and proposes the
step: a linear term plus a one-hidden-layer tanh network of those two
features, scaled by a learned step size.

Meta-training, in three pieces of plain NumPy code:

1. `inner_loss(w, x, y)`: the summed least-squares losses of a batch of
   problems; `inner_grad = symdiff.grad(inner_loss)` is built once, at module
   level.
2. `unrolled(...)`: K steps of the learned rule, each calling `inner_grad`,
   returning the mean log-loss along the trajectory (the meta-loss).
3. `meta_grad = symdiff.grad(unrolled, wrt=rule parameters)`: symdiff
   differentiates through the K calls of the generated gradient (second-order
   terms included) to the rule's parameters. Adam then trains the rule.

The rule is finally compared, on held-out problems, with SGD and Adam whose
learning rates were each tuned over a grid on the training problems.

A long unroll (`--unroll N`, docs/checkpointing.md) builds the meta-gradient
as `symdiff.grad(unrolled, wrt=RULE, checkpoint="auto")` (or `--checkpoint K`
for segments of K steps, `--checkpoint none` to save every step): the inner
loop runs in segments of about sqrt(N) steps, the backward pass running each
segment again, so memory grows as sqrt(N) instead of N. Each report then
gives the seconds per meta-gradient and the peak memory of one meta-gradient
call, traced by tracemalloc.
"""

from __future__ import annotations

import argparse
import os
import time
import tracemalloc

import numpy as np

import symdiff as sd

RULE = ("w_in", "b_in", "w_out", "linear", "log_step")
BETA_MOMENTUM, BETA_RMS, EPS = 0.9, 0.95, 1e-8


def inner_loss(w, x, y):
    """Sum over problems p of the mean squared residual of x[p] @ w[p] against y[p]."""
    residual = np.sum(x * w[:, np.newaxis, :], axis=2) - y
    return np.sum(np.mean(residual**2, axis=1))


inner_grad = sd.grad(inner_loss)


def problem_losses(w, x, y):
    """The loss of each problem separately, shape (problems,)."""
    residual = np.sum(x * w[:, np.newaxis, :], axis=2) - y
    return np.mean(residual**2, axis=1)


def rule_step(w_in, b_in, w_out, linear, log_step, g, m, rms):
    """The learned update for every coordinate: a linear map plus a tiny tanh MLP of (g, m) / rms."""
    g_hat = g / rms
    m_hat = m / rms
    hidden = np.tanh(g_hat[:, :, None] * w_in[0] + m_hat[:, :, None] * w_in[1] + b_in)
    return np.exp(log_step) * (hidden @ w_out + linear[0] * g_hat + linear[1] * m_hat)


def unrolled(w_in, b_in, w_out, linear, log_step, w0, x, y, steps):
    """Meta-loss: the mean log-loss over `steps` steps of the learned rule, averaged over the problems."""
    w = w0
    g = inner_grad(w, x, y)
    m = np.zeros_like(w0)
    v = g * g
    total = 0.0
    for k in range(steps):
        g = inner_grad(w, x, y)
        m = BETA_MOMENTUM * m + (1.0 - BETA_MOMENTUM) * g
        v = BETA_RMS * v + (1.0 - BETA_RMS) * g * g
        w = w - rule_step(w_in, b_in, w_out, linear, log_step, g, m, np.sqrt(v) + EPS)
        total = total + np.mean(np.log(problem_losses(w, x, y)))
    return total / steps


meta_grad = sd.grad(unrolled, wrt=RULE)


# -- the problem family ----------------------------------------------------------


def make_problems(rng, count, samples, dims, noise=0.01):
    """Badly scaled least-squares problems: w0 = 0, columns scaled by 10**uniform(-1, 1)."""
    scales = 10.0 ** rng.uniform(-1.0, 1.0, size=(count, 1, dims))
    x = rng.normal(size=(count, samples, dims)) * scales
    w_true = rng.normal(size=(count, dims)) / scales[:, 0, :]
    y = np.sum(x * w_true[:, np.newaxis, :], axis=2) + noise * rng.normal(size=(count, samples))
    return np.zeros((count, dims)), x, y


# -- optimisers run on a batch of problems, recording each step's losses ----------------


def run_learned(rule, w0, x, y, steps):
    """Losses (steps + 1, problems) along the learned rule's trajectory (the same updates as `unrolled`)."""
    w, m = w0, np.zeros_like(w0)
    v = inner_grad(w, x, y) ** 2
    history = [problem_losses(w, x, y)]
    for _ in range(steps):
        g = inner_grad(w, x, y)
        m = BETA_MOMENTUM * m + (1.0 - BETA_MOMENTUM) * g
        v = BETA_RMS * v + (1.0 - BETA_RMS) * g * g
        w = w - rule_step(*(rule[k] for k in RULE), g, m, np.sqrt(v) + EPS)
        history.append(problem_losses(w, x, y))
    return np.array(history)


def run_sgd(learning_rate, w0, x, y, steps):
    """Losses along plain gradient descent."""
    w = w0
    history = [problem_losses(w, x, y)]
    with np.errstate(over="ignore", invalid="ignore"):
        for _ in range(steps):
            w = w - learning_rate * inner_grad(w, x, y)
            history.append(problem_losses(w, x, y))
    return np.array(history)


def run_adam(learning_rate, w0, x, y, steps, beta1=0.9, beta2=0.999):
    """Losses along Adam with bias correction."""
    w, m, v = w0, np.zeros_like(w0), np.zeros_like(w0)
    history = [problem_losses(w, x, y)]
    for k in range(1, steps + 1):
        g = inner_grad(w, x, y)
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        w = w - learning_rate * (m / (1 - beta1**k)) / (np.sqrt(v / (1 - beta2**k)) + EPS)
        history.append(problem_losses(w, x, y))
    return np.array(history)


def trajectory_score(history):
    """The meta-objective of a trajectory: mean log-loss over steps 1..K and problems (inf if it diverged)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        score = float(np.mean(np.log(history[1:])))
    return score if np.isfinite(score) else float("inf")


def tune(run, grid, problems, steps):
    """The learning rate in `grid` with the best trajectory score on `problems`."""
    scores = {lr: trajectory_score(run(lr, *problems, steps)) for lr in grid}
    return min(scores, key=scores.get)


# -- meta-training ----------------------------------------------------------------


def init_rule(rng, hidden):
    """Start as RMSprop with a small step (linear term on g / rms), plus a small random MLP."""
    return {
        "w_in": rng.normal(size=(2, hidden)) * 0.5,
        "b_in": rng.normal(size=hidden) * 0.1,
        "w_out": rng.normal(size=hidden) * 0.01,
        "linear": np.array([1.0, 0.0]),
        "log_step": np.array(np.log(0.01)),
    }


def meta_train(
    rule, rng, iterations, batch, samples, dims, steps, meta_lr, report_every, gradient=meta_grad, measure=False
):
    """Adam on the rule's parameters with symdiff meta-gradients; returns the meta-loss curve.

    With `measure`, the reports come every `report_every` iterations and also give the mean
    seconds of the meta-gradients since the last report and the peak memory of the report's
    own meta-gradient, run under tracemalloc (which slows this code about tenfold, so that
    call is left out of the timing).
    """
    moments = {k: (np.zeros_like(v), np.zeros_like(v)) for k, v in rule.items()}
    curve, seconds = [], []
    for it in range(1, iterations + 1):
        problems = make_problems(rng, batch, samples, dims)
        report = it % report_every == 0 or (it == 1 and not measure)
        if measure and report:
            grads, peak = traced(gradient, *(rule[k] for k in RULE), *problems, steps)
        else:
            start = time.perf_counter()
            grads = gradient(*(rule[k] for k in RULE), *problems, steps)
            seconds.append(time.perf_counter() - start)
        curve.append(float(unrolled(*(rule[k] for k in RULE), *problems, steps)))
        for k, g in zip(RULE, grads, strict=True):
            m, v = moments[k]
            m, v = 0.9 * m + 0.1 * g, 0.999 * v + 0.001 * g * g
            moments[k] = (m, v)
            step = meta_lr * (m / (1 - 0.9**it)) / (np.sqrt(v / (1 - 0.999**it)) + 1e-8)
            rule[k] = rule[k] - step
        if report:
            recent = curve[-report_every:] if it > 1 else curve
            line = f"meta-iteration {it:4d}  meta-loss {np.mean(recent):8.4f}  (mean of the last {len(recent)})"
            if measure:
                line += f"  {np.mean(seconds):6.2f} s per meta-gradient  peak {peak / 1e6:6.2f} MB"
                seconds = []
            print(line, flush=True)
    return curve


def traced(function, *args):
    """`function(*args)` and the peak memory, in bytes, that tracemalloc saw it allocate."""
    tracemalloc.start()
    try:
        result = function(*args)
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


# -- report ---------------------------------------------------------------------------


def compare(rule, train_problems, test_problems, steps, grid):
    """Tune SGD and Adam on the training problems, then run all three on the held-out problems."""
    sgd_lr = tune(run_sgd, grid, train_problems, steps)
    adam_lr = tune(run_adam, grid, train_problems, steps)
    histories = {
        "learned rule": run_learned(rule, *test_problems, steps),
        f"SGD (lr={sgd_lr:.2g})": run_sgd(sgd_lr, *test_problems, steps),
        f"Adam (lr={adam_lr:.2g})": run_adam(adam_lr, *test_problems, steps),
    }
    learned_final = histories["learned rule"][-1]
    print()
    print(f"held-out comparison: {test_problems[1].shape[0]} problems, {steps} steps each, initial loss "
          f"{np.exp(np.mean(np.log(histories['learned rule'][0]))):.4g} (geometric mean)")  # fmt: skip
    print(f"{'optimizer':<22}{'final loss':>14}{'mean log-loss':>16}{'learned rule better on':>26}")
    for name, history in histories.items():
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            final = float(np.exp(np.mean(np.log(history[-1]))))
            wins = np.mean(learned_final < history[-1]) if name != "learned rule" else float("nan")
        column = "" if name == "learned rule" else f"{100 * wins:.0f}% of problems"
        print(f"{name:<22}{final:>14.4g}{trajectory_score(history):>16.3f}{column:>26}")
    print("(final loss: geometric mean over the problems after the last step; lower is better)")
    return histories


def save_plot(path, curve, histories):
    """Meta-training curve and held-out inner losses, side by side; skipped without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: skipping the plot (pip install matplotlib)")
        return
    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    window = max(1, len(curve) // 20)
    smooth = np.convolve(curve, np.ones(window) / window, mode="valid")
    left.plot(np.arange(1, len(curve) + 1), curve, alpha=0.3, label="each meta-batch")
    left.plot(np.arange(window, len(curve) + 1), smooth, label=f"mean of {window}")
    left.legend()
    left.set(xlabel="meta-iteration", ylabel="meta-loss (mean log inner loss)", title="meta-training")
    for name, history in histories.items():
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            right.semilogy(np.exp(np.mean(np.log(history), axis=1)), label=name)
    right.set(xlabel="inner step", ylabel="loss (geometric mean)", title="held-out problems")
    right.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
    print(f"plot saved to {path}")


def checkpoint_option(text):
    """--checkpoint: "auto", "none" (every step saved) or a segment length K >= 1."""
    if text in ("auto", "none"):
        return text
    try:
        length = int(text)
    except ValueError:
        length = 0
    if length < 1:
        raise argparse.ArgumentTypeError(f"expected auto, none or a segment length >= 1, got {text!r}")
    return length


def main(argv=None):
    parser = argparse.ArgumentParser(description="Meta-train a learned optimizer with symdiff meta-gradients.")
    parser.add_argument("--quick", action="store_true", help="a short run, as in CI")
    parser.add_argument("--plot", default="learned_optimizer.png", help="where to save the plot (PNG)")
    parser.add_argument("--no-plot", action="store_true", help="do not save a plot")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--unroll", type=int, metavar="N", help="meta-train through N inner steps, reporting time and peak memory"
    )
    parser.add_argument(
        "--checkpoint",
        type=checkpoint_option,
        default="auto",
        help="with --unroll: auto (segments of sqrt(N) steps, the default), none, or a segment length K",
    )
    parser.add_argument(
        "--iterations", type=int, help="meta-iterations (default 1000; 40 with --quick; 200 with --unroll)"
    )
    options = parser.parse_args(argv)
    quick = options.quick or os.environ.get("SYMDIFF_EXAMPLE_QUICK") == "1"

    rng = np.random.default_rng(options.seed)
    dims, samples, steps, hidden = 10, 30, 20, 8
    iterations, batch, report_every = (40, 16, 10) if quick else (1000, 32, 50)
    gradient, long_unroll = meta_grad, options.unroll is not None
    if long_unroll:
        # A meta-gradient through 1,000 steps takes about a second, mostly Python overhead per
        # step: 200 meta-iterations of 16 problems keep the run near ten minutes.
        steps, batch, report_every = options.unroll, 16, 10
        iterations = 40 if quick else 200
        checkpoint = None if options.checkpoint == "none" else options.checkpoint
        gradient = sd.grad(unrolled, wrt=RULE, checkpoint=checkpoint)
    iterations = options.iterations or iterations
    print(f"inner problems: least squares, {samples} samples x {dims} features, badly scaled columns")
    print(f"rule: coordinate-wise tanh MLP with {hidden} hidden units; unrolled over {steps} inner steps")
    print(f"meta-training: {iterations} iterations of Adam, {batch} fresh problems each")
    if long_unroll and not quick:
        print("(the 20-step run meta-trains 1000 iterations on 32 problems each; the long run does less to stay near ten minutes)")  # fmt: skip
    if long_unroll:
        print(f"meta-gradient: sd.grad(unrolled, wrt=RULE, checkpoint={checkpoint!r}); each report: mean meta-loss, "
              f"mean seconds per meta-gradient, peak memory of one meta-gradient (tracemalloc)")  # fmt: skip
    rule = init_rule(rng, hidden)
    curve = meta_train(
        rule, rng, iterations, batch, samples, dims, steps, 0.01, report_every, gradient, measure=long_unroll
    )

    train_problems = make_problems(rng, 64, samples, dims)
    test_problems = make_problems(rng, 256, samples, dims)
    grid = [float(v) for v in np.logspace(-4, 0, 13)]
    histories = compare(rule, train_problems, test_problems, steps, grid)
    if not options.no_plot:
        save_plot(options.plot, curve, histories)


if __name__ == "__main__":
    main()
