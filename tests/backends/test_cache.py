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
        "stored": gradient._function is None,  # read from the build cache, not built
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
    env = dict(os.environ, SYMDIFF_CACHE_DIR=cache_dir, PYTHONDONTWRITEBYTECODE="1", SYMDIFF_BUILD_CACHE="1")
    return subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(directory)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
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


def test_eight_concurrent_builds_agree_and_a_later_process_loads_from_disk(tmp_path: Path, private_cache: str):
    _write_module(tmp_path, 2.0)
    processes = [_spawn(tmp_path, private_cache) for _ in range(8)]  # all racing to write one entry
    results = [_result(process) for process in processes]
    for result in results:
        np.testing.assert_allclose(result["grad"], _expected(2.0), rtol=1e-12)
    assert len({result["file"] for result in results}) == 1
    generated = list(Path(private_cache).glob("loss_grad_*.py"))
    assert len(generated) == 1 and not list(Path(private_cache).glob(".*.tmp"))
    builds = list(Path(private_cache).glob("loss_build_*.json"))  # the build cache: one sound entry
    assert len(builds) == 1 and json.loads(builds[0].read_text())["key"] in builds[0].name
    third = _result(_spawn(tmp_path, private_cache))
    assert third["hits"] > 0  # machine code came from Numba's on-disk cache
    assert third["stored"]  # and the generated source from the build cache, without a build
    np.testing.assert_allclose(third["grad"], _expected(2.0), rtol=1e-12)


def test_editing_the_function_invalidates_the_cache(tmp_path: Path, private_cache: str):
    _write_module(tmp_path, 2.0)
    before = _result(_spawn(tmp_path, private_cache))
    _write_module(tmp_path, 3.0)
    after = _result(_spawn(tmp_path, private_cache))
    np.testing.assert_allclose(after["grad"], _expected(3.0), rtol=1e-12)
    assert before["file"] != after["file"]
    assert after["hits"] == 0 and not after["stored"]


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


def test_a_directory_anyone_may_write_to_is_refused_before_anything_is_read(monkeypatch, tmp_path: Path):
    from symdiff.errors import BackendError

    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    monkeypatch.setenv("SYMDIFF_CACHE_DIR", str(shared))
    with pytest.raises(BackendError, match="writable by every user"):
        cache.store("module", "x = 1\n", cache.content_key("x = 1\n"))
    assert list(shared.iterdir()) == []
    shared.chmod(0o700)
    (shared / "__pycache__").mkdir(mode=0o777)
    (shared / "__pycache__").chmod(0o777)  # Numba's index (a pickle) lives here
    with pytest.raises(BackendError, match="__pycache__ is writable by every user"):
        cache.store("module", "x = 1\n", cache.content_key("x = 1\n"))


@pytest.mark.skipif(not hasattr(os, "getuid") or os.getuid() != 0, reason="giving a directory away needs root")
def test_a_directory_another_user_owns_is_refused(monkeypatch, tmp_path: Path):
    from symdiff.errors import BackendError

    foreign = tmp_path / "foreign"
    foreign.mkdir(mode=0o755)
    os.chown(foreign, 65534, 65534)  # nobody
    monkeypatch.setenv("SYMDIFF_CACHE_DIR", str(foreign))
    with pytest.raises(BackendError, match="belongs to another user"):
        cache.store("module", "x = 1\n", cache.content_key("x = 1\n"))


def test_a_new_cache_directory_is_private_and_modules_run_from_their_source(monkeypatch, tmp_path: Path):
    monkeypatch.setenv("SYMDIFF_CACHE_DIR", str(tmp_path / "new" / "cache"))
    source = "VALUE = 41 + 1\n"
    path = cache.store("answer", source, cache.content_key(source))
    assert (path.parent.stat().st_mode & 0o777) == 0o700
    planted = path.with_name("__pycache__")
    planted.mkdir(mode=0o700)
    # A .pyc planted beside the module (a stale or hostile one) is never what runs.
    (planted / f"{path.stem}.cpython-{sys.version_info.major}{sys.version_info.minor}.pyc").write_bytes(b"junk")
    assert cache.import_file(path, source).VALUE == 42


def test_a_damaged_numba_cache_entry_is_compiled_again_not_fatal(tmp_path: Path, private_cache: str):
    _write_module(tmp_path, 2.0)
    _result(_spawn(tmp_path, private_cache))
    damaged = list((Path(private_cache) / "__pycache__").glob("*.nb[ic]"))
    assert damaged
    for path in damaged:
        path.write_text("garbage\n")
    process = _spawn(tmp_path, private_cache)
    out, err = process.communicate(timeout=240)
    assert process.returncode == 0, err
    np.testing.assert_allclose(json.loads(out.strip().splitlines()[-1])["grad"], _expected(2.0), rtol=1e-12)
    assert "was damaged; compiled it again" in err
    assert _result(_spawn(tmp_path, private_cache))["hits"] > 0  # and the entry is sound again


def _noisy_compile(x):
    return np.sum(np.tanh(x * 1.7) * np.cos(x) + 0.25 * x)


def _quiet_compile(x):
    return np.sum(np.tanh(x * 1.3) * np.sin(x) + 0.5 * x)


@pytest.mark.parametrize("f", [_noisy_compile, _quiet_compile], ids=lambda f: f.__name__)
def test_a_slow_first_compile_says_what_it_is_doing(monkeypatch, capfd, tmp_path: Path, f):
    import symdiff
    from symdiff.backends.numba import runner

    monkeypatch.setenv("SYMDIFF_CACHE_DIR", str(tmp_path / "fresh"))  # nothing cached: Numba compiles
    monkeypatch.setattr(runner, "NOTICE_AFTER", 0.0)
    quiet = f is _quiet_compile
    if quiet:
        monkeypatch.setenv("SYMDIFF_QUIET", "1")
    gradient = symdiff.grad(f, backend="numba")
    x = np.linspace(-1.0, 1.0, 4)
    np.testing.assert_allclose(gradient(x), symdiff.grad(f)(x), rtol=1e-13)
    assert sum(gradient._compiled.jitted.stats.cache_misses.values()) > 0  # it did compile, here
    err = capfd.readouterr().err
    said = f"symdiff: compiling {f.__name__}_grad with Numba" in err and f"compiled {f.__name__}_grad in" in err
    assert said != quiet, err


def test_the_helpers_cache_goes_stale_with_any_helper_source(monkeypatch, tmp_path: Path):
    """Numba stamps a cached function with its own file only; the backend's helpers link in code of
    other files, so their entries are stamped with all the helper sources together."""
    from symdiff.backends.numba import helper_cache, helpers

    locator = helpers._summed_to._cache._impl._locator  # an njit(cache=True) helper
    assert isinstance(locator, helper_cache.BackendLocator)
    assert locator.get_source_stamp() == helper_cache.stamp()
    other = tmp_path / "arrays.py"
    other.write_text("x = 1\n")
    monkeypatch.setattr(helper_cache, "_SOURCES", (*helper_cache._SOURCES, other))
    monkeypatch.setattr(helper_cache, "_STAMP", [])
    before = helper_cache.stamp()
    other.write_text("x = 2\n")
    monkeypatch.setattr(helper_cache, "_STAMP", [])
    assert helper_cache.stamp() != before
