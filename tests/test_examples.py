"""End-to-end runs of the examples and the benchmark, in their quick modes."""

from __future__ import annotations

import itertools
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_script(relative: str, *args: str, env: dict | None = None) -> str:
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


def test_logistic_regression_loss_falls():
    out = run_script("examples/logistic_regression.py", "--quick")
    losses = [float(v) for v in re.findall(r"^step\s+\d+\s+loss\s+([\d.]+)$", out, flags=re.MULTILINE)]
    assert len(losses) >= 3, out
    assert losses[-1] < 0.9 * losses[0], out
    assert all(later <= earlier for earlier, later in itertools.pairwise(losses)), out
    test_accuracy = float(re.search(r"^test accuracy ([\d.]+)$", out, flags=re.MULTILINE).group(1))
    assert test_accuracy > 0.6, out


def test_logistic_regression_quick_mode_from_environment():
    out = run_script("examples/logistic_regression.py", env={"SYMDIFF_EXAMPLE_QUICK": "1"})
    assert out.startswith("400 training"), out


def test_benchmark_runs_in_quick_mode():
    # The benchmark checks symdiff's gradients against the hand-written ones before timing.
    out = run_script("benchmarks/bench_core.py", "--quick")
    assert "logistic regression 10000x100" in out and "MLP 784-256-10, batch 256" in out, out
