"""The CUDA backend's runtime: no-GPU refusal, the disk cache of kernels, cuBLAS, device arrays, the benchmark.

Most tests run on Numba's CUDA simulator (tests/conftest.py turns it on).
Those marked `needs_gpu` run only where a real GPU answers (and, for cuBLAS,
cupy is importable): they are skipped in CI and on machines without one.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import symdiff as sd
from symdiff import cli
from symdiff.backends import cuda as cuda_backend
from symdiff.errors import BackendError

ROOT = Path(__file__).resolve().parents[2]


def _real_gpu() -> bool:
    """Whether a real GPU answers in a process without the simulator (asked in a subprocess:
    this one runs the simulator)."""
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="0")
    probe = "from numba import cuda; print(cuda.is_available())"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, check=False)
    return done.stdout.strip().endswith("True")


REAL_GPU = _real_gpu()
needs_gpu = pytest.mark.skipif(not REAL_GPU, reason="needs an NVIDIA GPU with a working driver")


def tanh_loss(w, x):
    return np.sum(np.tanh(x @ w) ** 2)


# -- no GPU, no simulator ---------------------------------------------------------


@pytest.fixture
def no_device(monkeypatch):
    """This process as it would be on a machine with neither a GPU nor the simulator."""
    monkeypatch.setattr(cuda_backend, "_AVAILABLE", [False])


def _fresh_function(directory: Path, name: str):
    """A function defined in a new file, so no cache of an earlier build answers."""
    path = directory / f"{name}_module.py"
    path.write_text(f"import numpy as np\n\n\ndef {name}(w, x):\n    return np.sum(np.tanh(x @ w) ** 2)\n")
    spec = importlib.util.spec_from_file_location(f"{name}_module", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return getattr(module, name)


def test_no_gpu_refuses_at_build_time(no_device, tmp_path):
    with pytest.raises(BackendError, match="no NVIDIA GPU") as caught:
        sd.grad(_fresh_function(tmp_path, "no_gpu_loss"), backend="cuda")
    assert "NUMBA_ENABLE_CUDASIM=1" in str(caught.value) and "emit" in str(caught.value)
    with pytest.raises(BackendError, match="no NVIDIA GPU"):
        sd.value_and_grad(tanh_loss, backend="cuda")  # a derivative built earlier is refused too


def test_no_gpu_still_emits_the_module(no_device, tmp_path):
    function = _fresh_function(tmp_path, "emitted_loss")
    text = sd.emit(function, str(tmp_path / "emitted.py"), backend="cuda")
    assert "@cuda.jit\ndef emitted_loss_grad_kernel_" in text
    assert (tmp_path / "emitted.py").read_text() == text
    with pytest.raises(BackendError, match="no NVIDIA GPU"):  # emitting it did not make it runnable
        sd.grad(function, backend="cuda")


def test_no_gpu_cli_writes_the_module(no_device, tmp_path, monkeypatch):
    (tmp_path / "model.py").write_text(
        "import numpy as np\n\n\ndef loss(w, x):\n    return np.sum(np.tanh(x @ w) ** 2)\n"
    )
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "loss_grad_cuda.py"
    assert cli.main(["grad", "model.py:loss", "--backend", "cuda", "--out", str(out)]) == 0
    assert "def loss_grad(w, x, *, device_results=False):" in out.read_text()
