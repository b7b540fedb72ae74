"""The shared benchmark method (benchmarks/method.py) and the RESULTS.md generator, quickly."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from benchmarks import method

ROOT = Path(__file__).resolve().parents[1]


def test_cross_check_fails_loudly_on_a_disagreement():
    good = (np.ones(3), np.zeros(2))
    assert method.cross_check({"a": good, "b": (np.ones(3), np.zeros(2))})["b"] == 0.0
    with pytest.raises(AssertionError, match="b disagrees with a"):
        method.cross_check({"a": good, "b": (np.ones(3), np.full(2, 1e-3))})


def test_interleaved_keeps_every_sample_and_reports_the_median():
    calls = []
    stats = method.interleaved({"x": lambda: calls.append("x"), "y": lambda: calls.append("y")}, (), 5, budget=1e-4)
    assert {len(s.samples) for s in stats.values()} == {5}
    assert stats["x"].q1 <= stats["x"].median <= stats["x"].q3
    assert calls[:4] == ["x", "x", "y", "y"]  # the warm-up, apart from the samples


def test_fresh_process_seconds_runs_in_a_new_interpreter():
    assert method.fresh_process_seconds("import sys; print(0.5 if 'pytest' not in sys.modules else 9)") == 0.5


def test_results_quick_writes_a_table(tmp_path):
    out = tmp_path / "RESULTS.md"
    done = subprocess.run(
        [sys.executable, "benchmarks/results.py", "--quick", "--scripts", "bench_core.py", "--output", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    text = out.read_text()
    assert "load average" in text and "logistic regression 10000x100" in text and "CPU " in text
