"""The on-disk cache: shared across processes, atomic, keyed by content.

Each subprocess builds a gradient with the Numba backend for a function in a
module written to a temporary directory, evaluates it, and reports the result,
the cache file it used and whether Numba loaded machine code from disk.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from symdiff.backends import cache

_CHILD = textwrap.dedent(
    """
    import json, sys, time
    import numpy as np
    sys.path.insert(0, sys.argv[1])
    import loss_module
    import symdiff
    start = time.perf_counter()
    gradient = symdiff.grad(loss_module.loss, backend="numba")
    value = gradient(np.linspace(-1.0, 1.0, 5))
    jitted = gradient._compiled.jitted
    print(json.dumps({
        "grad": value.tolist(),
        "file": jitted.py_func.__code__.co_filename,
        "hits": sum(jitted.stats.cache_hits.values()),
        "seconds": time.perf_counter() - start,
    }))
    """
)

_LOSS = textwrap.dedent(
    """
    import numpy as np

    def loss(x):
        return np.sum(np.tanh(x) * {scale} * x)
    """
)


def _write_module(directory: Path, scale: float) -> None:
    (directory / "loss_module.py").write_text(_LOSS.format(scale=scale))


def _spawn(directory: Path, cache_dir: str) -> subprocess.Popen:
    env = dict(os.environ, SYMDIFF_CACHE_DIR=cache_dir, PYTHONDONTWRITEBYTECODE="1")
    return subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(directory)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def _result(process: subprocess.Popen) -> dict:
    out, err = process.communicate(timeout=240)
    assert process.returncode == 0, err
    return json.loads(out.strip().splitlines()[-1])


def _expected(scale: float) -> np.ndarray:
    x = np.linspace(-1.0, 1.0, 5)
    t = np.tanh(x)
    return scale * (t + x * (1.0 - t * t))


@pytest.fixture
def private_cache(tmp_path: Path) -> str:
    path = tmp_path / "cache"
    path.mkdir()
    return str(path)


def test_concurrent_builds_agree_and_a_third_process_loads_from_disk(tmp_path: Path, private_cache: str):
    _write_module(tmp_path, 2.0)
    first, second = _spawn(tmp_path, private_cache), _spawn(tmp_path, private_cache)
    results = [_result(first), _result(second)]
    for result in results:
        np.testing.assert_allclose(result["grad"], _expected(2.0), rtol=1e-12)
    assert results[0]["file"] == results[1]["file"]
    generated = list(Path(private_cache).glob("loss_grad_*.py"))
    assert len(generated) == 1 and not list(Path(private_cache).glob(".*.tmp"))
    third = _result(_spawn(tmp_path, private_cache))
    assert third["hits"] > 0  # machine code came from Numba's on-disk cache
    np.testing.assert_allclose(third["grad"], _expected(2.0), rtol=1e-12)


def test_editing_the_function_invalidates_the_cache(tmp_path: Path, private_cache: str):
    _write_module(tmp_path, 2.0)
    before = _result(_spawn(tmp_path, private_cache))
    _write_module(tmp_path, 3.0)
    after = _result(_spawn(tmp_path, private_cache))
    np.testing.assert_allclose(after["grad"], _expected(3.0), rtol=1e-12)
    assert before["file"] != after["file"]
    assert after["hits"] == 0


def test_store_is_write_once_and_repairs_damaged_files(monkeypatch, tmp_path: Path):
    monkeypatch.setenv("SYMDIFF_CACHE_DIR", str(tmp_path))
    key = cache.content_key("x = 1\n", "v1")
    path = cache.store("module", "x = 1\n", key)
    stamp = path.stat().st_mtime_ns
    assert cache.store("module", "x = 1\n", key) == path and path.stat().st_mtime_ns == stamp
    path.write_text("x = ")  # a damaged file (not something symdiff writes) is replaced as a whole
    assert cache.store("module", "x = 1\n", key).read_text() == "x = 1\n"
    assert cache.content_key("x = 1\n", "v2") != key


def test_cache_dir_follows_the_environment(monkeypatch, tmp_path: Path):
    monkeypatch.setenv("SYMDIFF_CACHE_DIR", str(tmp_path / "here"))
    assert cache.cache_dir() == tmp_path / "here"
    monkeypatch.delenv("SYMDIFF_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert cache.cache_dir() == tmp_path / "symdiff"
