"""Quick-mode runs of the LSTM, learned-optimizer, digits-MLP and emit examples, and of two benchmarks.

Each example runs in a subprocess, as a user would run it, and the test reads
its printed output: the loss fell, the accuracy or comparison table was
printed, the emitted file was correct. Plots go to pytest's tmp_path.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
NUMBER = r"([-+]?[\d.]+(?:e[-+]?\d+)?)"


# One BLAS thread: the benchmarks' smoke runs stay quick on a busy 2-core CI machine.
ONE_THREAD = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def run_example(relative: str, *args: str, env: dict | None = None) -> str:
    done = subprocess.run(
        [sys.executable, str(ROOT / relative), *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        check=False,
    )
    assert done.returncode == 0, f"{relative} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def numbers_after(label: str, text: str) -> list[float]:
    return [float(v) for v in re.findall(rf"{label}\s+{NUMBER}", text)]


def test_lstm_loss_falls_below_the_repeat_last_value_baseline():
    out = run_example("examples/lstm.py", "--quick")
    train = numbers_after("train loss", out)
    validation = numbers_after("validation loss", out)
    assert len(train) >= 3, out
    assert validation[-1] < 0.5 * validation[1], out  # validation[0] is the baseline line
    baseline = float(re.search(rf"baseline .* validation loss {NUMBER}", out).group(1))
    final = float(re.search(rf"final validation loss {NUMBER}", out).group(1))
    assert final < baseline, out


def test_lstm_quick_mode_from_environment_and_source():
    out = run_example("examples/lstm.py", env={"SYMDIFF_EXAMPLE_QUICK": "1"})
    assert "hidden size 8" in out, out
    source = run_example("examples/lstm.py", "--show-source")
    assert source.startswith("def sequence_loss_value_and_grad("), source
    assert "for t in reversed(range(" in source, source  # the loop is kept, not unrolled


def test_learned_optimizer_prints_its_comparison(tmp_path):
    plot = tmp_path / "learned.png"
    out = run_example("examples/learned_optimizer.py", "--quick", "--plot", str(plot))
    meta = numbers_after("meta-loss", out)
    assert len(meta) >= 3 and meta[-1] < meta[0], out
    rows = {
        name: float(value)
        for name, value in re.findall(rf"^(learned rule|SGD \(lr=\S+\)|Adam \(lr=\S+\))\s+{NUMBER}", out, re.MULTILINE)
    }
    assert len(rows) == 3, out
    learned = rows.pop("learned rule")
    sgd = next(v for k, v in rows.items() if k.startswith("SGD"))
    assert learned < sgd, out  # even a short meta-training beats tuned plain SGD on these problems
    if importlib.util.find_spec("matplotlib"):
        assert plot.stat().st_size > 0, out


def test_learned_optimizer_meta_trains_through_a_checkpointed_unroll():
    out = run_example("examples/learned_optimizer.py", "--unroll", "20", "--checkpoint", "5", "--quick", "--no-plot")
    assert "checkpoint=5" in out, out
    reports = re.findall(rf"meta-loss\s+{NUMBER}.*?{NUMBER} s per meta-gradient\s+peak\s+{NUMBER} MB", out)
    assert len(reports) >= 3, out
    meta = [float(loss) for loss, _, _ in reports]
    assert meta[-1] < meta[0], out
    assert all(float(seconds) > 0 and float(peak) > 0 for _, seconds, peak in reports), out
    assert re.search(rf"^learned rule\s+{NUMBER}", out, re.MULTILINE), out
    assert "held-out comparison: 256 problems, 20 steps each" in out, out


def test_mlp_digits_trains_and_reports_accuracy(tmp_path):
    pytest.importorskip("sklearn")
    plot = tmp_path / "digits.png"
    out = run_example("examples/mlp_digits.py", "--quick", "--plot", str(plot))
    losses = numbers_after("loss", out)
    assert len(losses) >= 2 and losses[-1] < losses[0], out
    accuracy = float(re.search(rf"^test accuracy {NUMBER}$", out, re.MULTILINE).group(1))
    assert accuracy > 0.85, out
    if importlib.util.find_spec("matplotlib"):
        assert plot.stat().st_size > 0 and "plot saved" in out, out


def test_emitted_gradient_file_is_correct(tmp_path):
    target = tmp_path / "loss_grad.py"
    out = run_example("examples/emit_gradient_file.py", "--out", str(target))
    assert "emitted gradient matches finite differences" in out, out
    assert "imported and ran without symdiff" in out, out
    assert "the command line's file imports and agrees with finite differences" in out, out
    assert "the command line and symdiff.emit wrote the same gradient function: True" in out, out
    text = target.read_text()
    assert "import symdiff" not in text and str(ROOT) not in text
    spec = importlib.util.spec_from_file_location("emitted_loss_grad", target)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    rng = np.random.default_rng(5)
    w, x, y = rng.normal(size=3), rng.normal(size=(7, 3)), np.sign(rng.normal(size=7))
    margin = y * (np.tanh(x) @ w + 0.2)
    expected = -np.tanh(x).T @ (y / (1.0 + np.exp(margin))) / 7 + 0.02 * w
    np.testing.assert_allclose(module.loss_grad(w, 0.2, x, y), expected, rtol=1e-10)


def test_control_flow_benchmark_runs_in_quick_mode():
    # The benchmark checks symdiff's LSTM gradient against the hand-written BPTT before timing.
    out = run_example("benchmarks/bench_control.py", "--quick", "--profile", env=ONE_THREAD)
    assert re.search(r"^LSTM gradient\s+[\d.]+", out, re.MULTILINE), out
    assert "most expensive statements of lstm_loss_grad" in out, out


def test_higher_order_benchmark_runs_in_quick_mode():
    # The benchmark checks the hvp against finite differences and the Hessian against its analytic form.
    out = run_example("benchmarks/bench_higher.py", "--quick", env=ONE_THREAD)
    assert "hvp wrt w1 (symdiff, fwd over rev)" in out and "f'' (hvp wrt w1)" in out, out
    assert "symdiff agrees with the analytic Hessian" in out, out
    assert "symdiff.hessian (3 directions)" in out and "hessian(sparsity=False), batched" in out, out
    assert "symdiff.jacobian (batched forward)" in out and "symdiff.jacobian (batched reverse)" in out, out
    assert "dense Hessian of log(sum(exp(a @ x)))" in out, out


def test_newton_with_a_sparse_hessian_converges_quadratically(tmp_path):
    plot = tmp_path / "newton.png"
    out = run_example("examples/newton_sparse.py", "--quick", "--plot", str(plot))
    assert "sparse Hessian equals the dense one: max |difference|" in out, out
    difference = float(re.search(rf"sparse Hessian equals the dense one: max \|difference\| {NUMBER}", out).group(1))
    assert difference < 1e-10, out
    norms = [float(v) for v in re.findall(rf"^step .*\|gradient\| {NUMBER}", out, re.MULTILINE)]
    final = float(re.search(rf"^converged: \|gradient\| {NUMBER}", out, re.MULTILINE).group(1))
    assert final < 1e-9 and len(norms) <= 15, out  # converged, in few steps
    assert final < 1e-4 * norms[-1] and norms[-1] < 1e-2 * norms[-2], out  # the last steps square the error
    if importlib.util.find_spec("matplotlib"):
        assert plot.exists() and plot.stat().st_size > 0


@pytest.mark.skipif(importlib.util.find_spec("distributed") is None, reason="needs the distributed extra (in dev)")
def test_distributed_logistic_regression_matches_the_single_machine_run(tmp_path):
    plot = tmp_path / "distributed.png"
    out = run_example("examples/distributed_logistic.py", "--quick", "--workers", "2", "--plot", str(plot))
    distributed = float(re.search(rf"^distributed final loss {NUMBER}", out, re.MULTILINE).group(1))
    single = float(re.search(rf"^single-machine final loss {NUMBER} on 200,000 rows", out, re.MULTILINE).group(1))
    assert np.isclose(distributed, single, rtol=1e-9, atol=0), out  # the same data, in blocks or whole
    assert 0.3 < distributed < 0.6, out  # a fitted model: the loss at zero weights is log 2 = 0.693
    timing = r"^distributed: \d+ iterations, \d+ gradient calls in [\d.]+ s: gradient calls [\d.]+ s"
    assert re.search(timing, out, re.MULTILINE), out  # where the time went
    if importlib.util.find_spec("matplotlib"):
        assert plot.exists() and plot.stat().st_size > 0
