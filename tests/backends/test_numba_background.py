"""The Numba backend's tiered first call (`SYMDIFF_NUMBA_BACKGROUND=1`, backends/numba/tiered.py).

Each test gets an empty cache directory, so Numba has no machine code for its
gradient and the first call must take the NumPy tier. While a test holds
Numba's global compiler lock, the background compile cannot start (it takes
that lock first): what runs before and after the switch is then decided by the
test, not by how fast the machine compiles. Each test differentiates its own
functions: derivatives and generated modules are shared within a process.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from numba.core.compiler_lock import global_compiler_lock

import symdiff as sd
from symdiff.backends import numba as numba_backend
from symdiff.backends.numba import NumbaCompileError, NumbaFallbackWarning
from symdiff.backends.numba.tiered import Tiered
from tests.backends.numba_forms import loop_scalar_becomes_array as scalar_becomes_array
from tests.oracles import numeric_grad


@pytest.fixture
def background(monkeypatch, tmp_path):
    monkeypatch.setenv("SYMDIFF_NUMBA_BACKGROUND", "1")
    monkeypatch.setenv("SYMDIFF_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("SYMDIFF_QUIET", "1")
    return tmp_path


def layer_loss(w, x):
    return np.sum(np.tanh(x @ w) ** 2) + 0.5 * np.sum(w * w)


def layer_loss_threads(w, x):
    return np.sum(np.tanh(x @ w) ** 2) - 0.25 * np.sum(w * w)


def layer_loss_vjp(w, x):
    return np.tanh(x @ w)


def softplus_sum(x):
    return np.sum(np.log(1.0 + np.exp(x)) * x)


def scalar_becomes_array_with_fallback(x):
    s = 0.0
    for i in range(2):
        s = x + s
    return np.sum(s)


def scalar_becomes_array_again(x):
    s = 0.0
    for i in range(3):
        s = s + x
    return np.sum(s)


def _data(seed: int = 0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(3, 2)), rng.normal(size=(4, 3))


class _Counted:
    """Wraps a tier's callable, counting calls."""

    def __init__(self, function):
        self.function, self.calls = function, 0

    def __call__(self, *args):
        self.calls += 1
        return self.function(*args)


def test_calls_run_numpy_until_the_compile_ends_then_the_compiled_code(background):
    w, x = _data()
    gradient = sd.grad(layer_loss, backend="numba")
    tiered = gradient._compiled
    assert isinstance(tiered, Tiered) and not gradient.ready
    with global_compiler_lock:  # the compile waits for this lock
        before = gradient(w, x)
        numpy_tier = tiered._portable = _Counted(tiered._portable)
        again = gradient(w, x)
        assert numpy_tier.calls == 1
        assert not gradient.ready
        assert gradient.wait(timeout=0.05) is False
        assert tiered.jitted.signatures == []  # nothing compiled yet
    assert gradient.wait() is True and gradient.ready
    assert len(tiered.jitted.signatures) == 1
    after = gradient(w, x)
    assert numpy_tier.calls == 1  # the compiled code ran
    np.testing.assert_array_equal(before, again)
    np.testing.assert_allclose(after, before, rtol=1e-12, atol=1e-14)  # both exact: rounding apart
    np.testing.assert_allclose(after, numeric_grad(layer_loss, (w, x), 0), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(after, sd.grad(layer_loss)(w, x), rtol=1e-12, atol=1e-14)


def test_a_failed_compile_raises_at_the_next_call_as_a_blocking_call_would(background):
    x = np.arange(4.0)
    gradient = sd.grad(scalar_becomes_array, backend="numba")
    np.testing.assert_allclose(gradient(x), np.full(4, 2.0))  # the NumPy tier: right, meanwhile
    with pytest.raises(NumbaCompileError, match="the loop variable 's' is float64"):
        gradient.wait()
    with pytest.raises(NumbaCompileError, match="the loop variable 's' is float64"):
        gradient(x)  # from then on, blocking mode: each call compiles and raises again


def test_a_failed_compile_raises_at_the_next_call(background):
    x = np.arange(4.0)
    gradient = sd.grad(scalar_becomes_array_again, backend="numba")
    gradient(x)
    numba_backend.wait_all()
    with pytest.raises(NumbaCompileError, match="the loop variable 's' is float64"):
        gradient(x)


def test_a_failed_compile_with_the_fallback_warns_and_runs_numpy(background, monkeypatch):
    monkeypatch.setenv("SYMDIFF_NUMBA_FALLBACK", "numpy")
    x = np.arange(5.0)
    gradient = sd.grad(scalar_becomes_array_with_fallback, backend="numba")
    gradient(x)
    assert numba_backend.wait_all()
    with pytest.warns(NumbaFallbackWarning, match="could not compile"):
        np.testing.assert_allclose(gradient(x), np.full(5, 2.0))


def test_threads_calling_during_the_switch_all_get_the_gradient(background):
    w, x = _data(1)
    want = numeric_grad(layer_loss_threads, (w, x), 0)
    gradient = sd.grad(layer_loss_threads, backend="numba")
    results, errors = [], []

    def calls():
        try:
            for _ in range(40):
                results.append(gradient(w, x))
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(error)

    global_compiler_lock.acquire()
    try:
        threads = [threading.Thread(target=calls) for _ in range(6)]
        for thread in threads:
            thread.start()
        while not results:  # a first call has taken the NumPy tier
            threading.Event().wait(0.001)
    finally:
        global_compiler_lock.release()  # the compile runs while the threads call
    for thread in threads:
        thread.join()
    assert gradient.wait()
    assert not errors and len(results) == 240
    for result in results:
        np.testing.assert_allclose(result, want, rtol=1e-6, atol=1e-8)
    assert len(gradient._compiled.jitted.signatures) == 1  # one compile, whoever started it


def test_other_operators_compose(background):
    w, x = _data(2)
    value_and_grad = sd.value_and_grad(softplus_sum, backend="numba")
    vjp = sd.vjp(layer_loss_vjp, backend="numba")
    hvp = sd.hvp(softplus_sum, backend="numba")
    y, seed, v = w[:, 0].copy(), np.ones((4, 2)), np.linspace(-1.0, 1.0, 3)
    before = [*value_and_grad(y), vjp(w, x, seed), hvp(y, v)]
    assert not value_and_grad.ready and not vjp.ready
    assert numba_backend.wait_all()
    after = [*value_and_grad(y), vjp(w, x, seed), hvp(y, v)]
    assert value_and_grad.ready and vjp.ready
    for one, two in zip(before, after):
        np.testing.assert_allclose(one, two, rtol=1e-12, atol=1e-14)
    assert after[0] == pytest.approx(softplus_sum(y), rel=1e-14)
    np.testing.assert_allclose(after[1], numeric_grad(softplus_sum, (y,), 0), rtol=1e-6)
    want = numeric_grad(lambda w, x: np.sum(seed * layer_loss_vjp(w, x)), (w, x), 0)
    np.testing.assert_allclose(after[2], want, rtol=1e-6, atol=1e-8)
    hessian_v = numeric_grad(lambda y: np.dot(sd.grad(softplus_sum)(y), v), (y,), 0)
    np.testing.assert_allclose(after[3], hessian_v, rtol=1e-5, atol=1e-8)


PROCESS = r"""
import numpy as np, symdiff as sd
from tests.backends.test_numba_background import layer_loss, _data
w, x = _data()
if {fortran}:
    x = np.asfortranarray(x)  # another layout: machine code Numba has not cached
gradient = sd.grad(layer_loss, backend="numba")
result = gradient(w, x)
print("ready" if gradient.ready else "numpy tier")
np.testing.assert_allclose(result, sd.grad(layer_loss)(w, x), rtol=1e-12, atol=1e-14)
if {wait}:
    assert gradient.wait() and gradient.ready
"""


def test_a_warm_process_loads_the_machine_code_with_no_numpy_tier(background):
    """Fresh processes with the build cache on: a cold one compiles in the background and ends
    without waiting (its exit waits for the compile, which fills the cache), a warm one loads the
    machine code at its first call, and one whose types Numba has not cached (a Fortran-ordered
    array) takes the NumPy tier, its IR rebuilt from the stored build."""
    env = {**os.environ, "SYMDIFF_BUILD_CACHE": "1"}
    root = Path(__file__).resolve().parents[2]
    said = []
    for fortran, wait in ((False, False), (False, True), (True, True)):
        code = PROCESS.format(fortran=fortran, wait=wait)
        done = subprocess.run(
            [sys.executable, "-c", code], env=env, cwd=root, capture_output=True, text=True, timeout=600, check=False
        )
        assert done.returncode == 0, done.stderr
        said.append(done.stdout.strip())
    assert said == ["numpy tier", "ready", "numpy tier"]
    assert list(background.glob("layer_loss_build_*.json"))  # the second process read the build cache


def blocking_loss(x):
    return np.sum(np.sin(x) * x)


def test_blocking_is_the_default(monkeypatch, tmp_path):
    monkeypatch.delenv("SYMDIFF_NUMBA_BACKGROUND", raising=False)
    monkeypatch.setenv("SYMDIFF_CACHE_DIR", str(tmp_path))
    gradient = sd.grad(blocking_loss, backend="numba")
    assert not isinstance(gradient._compiled, Tiered) and gradient.ready
    x = np.linspace(0.0, 1.0, 5)
    np.testing.assert_allclose(gradient(x), np.sin(x) + x * np.cos(x), rtol=1e-12)
    assert len(gradient._compiled.signatures) == 1  # the first call compiled, there and then
