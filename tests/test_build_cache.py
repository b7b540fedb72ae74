"""The build cache (symdiff/build_cache.py): a new process reuses what an earlier one built.

The suite runs with the cache off (conftest.py); these tests turn it on for a
private directory. A hit is recognisable: the derivative has no IR until asked
(`_function is None`). Every gradient is checked against central finite
differences.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import os
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import numpy as np
import pytest

import symdiff
from symdiff import api, build_cache

_MODULE = textwrap.dedent(
    """
    import numpy as np

    SCALE = {scale}


    def helper(x):
        return np.tanh(x) * SCALE


    def loss(x, w):
        return np.sum(helper(x @ w) ** 2) + {extra} * np.sum(w * w)
    """
)


@pytest.fixture(autouse=True)
def _no_user_rules_from_other_tests(monkeypatch):
    """A user rule turns the build cache off for the whole process; tests that ran before these
    in the same worker may have left one registered (tests/check_fixtures registers `wobble` at
    import), so each test here runs with only symdiff's own rules."""
    from symdiff.rules.registry import RULES

    for name in [name for name, rule in RULES.items() if rule.user]:
        monkeypatch.delitem(RULES, name)


def _write(directory: Path, scale: float = 2.0, extra: float = 0.5, name: str = "loss_module") -> object:
    path = directory / f"{name}.py"
    path.write_text(_MODULE.format(scale=scale, extra=extra))
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(3)
    return rng.normal(size=(4, 3)), rng.normal(size=3)


def _finite_differences(f, x, w, eps: float = 1e-6) -> np.ndarray:
    out = np.zeros_like(w)
    for k in range(w.size):
        step = np.zeros_like(w)
        step[k] = eps
        out[k] = (f(x, w + step) - f(x, w - step)) / (2 * eps)
    return out


@pytest.fixture
def cache_on(monkeypatch, tmp_path: Path) -> Path:
    directory = tmp_path / "cache"
    monkeypatch.setenv("SYMDIFF_CACHE_DIR", str(directory))
    monkeypatch.setenv("SYMDIFF_BUILD_CACHE", "1")
    return directory


def _fresh_build(f, **options):
    """A build as a new process would start it: nothing in the in-process caches."""
    api._CACHE.clear()
    api._lowered.cache_clear()
    return symdiff.grad(f, wrt=1, **options)


def test_a_second_build_is_read_from_disk_and_agrees(cache_on: Path, tmp_path: Path):
    module = _write(tmp_path)
    x, w = _data()
    first = _fresh_build(module.loss)
    assert first._function is not None  # built
    assert len(list(cache_on.glob("loss_build_*.json"))) == 1
    second = _fresh_build(module.loss)
    assert second._function is None  # read from disk: no IR until asked for
    assert second.source == first.source
    np.testing.assert_array_equal(second(x, w), first(x, w))
    np.testing.assert_allclose(second(x, w), _finite_differences(module.loss, x, w), rtol=1e-6, atol=1e-8)
    assert second.function == first.function  # built again on demand, the same IR


def test_a_changed_global_or_source_misses(cache_on: Path, tmp_path: Path):
    x, w = _data()
    module = _write(tmp_path, scale=2.0)
    _fresh_build(module.loss)
    module.SCALE = 3.0  # a global the callee folds into the generated code
    changed = _fresh_build(module.loss)
    assert changed._function is not None
    np.testing.assert_allclose(changed(x, w), _finite_differences(module.loss, x, w), rtol=1e-6, atol=1e-8)
    edited = _write(tmp_path, scale=2.0, extra=0.75)  # the same file, edited: its source differs
    rebuilt = _fresh_build(edited.loss)
    assert rebuilt._function is not None
    np.testing.assert_allclose(rebuilt(x, w), _finite_differences(edited.loss, x, w), rtol=1e-6, atol=1e-8)
    assert len(list(cache_on.glob("loss_build_*.json"))) == 3


def test_in_one_process_a_changed_global_is_seen_after_a_hit(cache_on: Path, tmp_path: Path):
    x, w = _data()
    module = _write(tmp_path, scale=2.0)
    _fresh_build(module.loss)
    hit = _fresh_build(module.loss)
    assert hit._function is None
    module.SCALE = 5.0
    again = symdiff.grad(module.loss, wrt=1)  # the in-process cache must not answer
    assert again is not hit
    np.testing.assert_allclose(again(x, w), _finite_differences(module.loss, x, w), rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("damage", ["truncated", "edited source", "not json"])
def test_a_damaged_entry_is_built_again(cache_on: Path, tmp_path: Path, damage: str):
    x, w = _data()
    module = _write(tmp_path)
    expected = _fresh_build(module.loss)(x, w)
    (path,) = cache_on.glob("loss_build_*.json")
    text = path.read_text()
    if damage == "truncated":
        path.write_text(text[: len(text) // 2])
    elif damage == "edited source":  # still valid JSON: the digest catches it
        outer = json.loads(text)
        outer["payload"] = outer["payload"].replace("np.tanh", "np.sinh")
        path.write_text(json.dumps(outer))
    else:
        path.write_bytes(b"\x80\x81 garbage")
    with pytest.warns(RuntimeWarning, match="was damaged; building it again"):
        rebuilt = _fresh_build(module.loss)
    assert rebuilt._function is not None
    np.testing.assert_array_equal(rebuilt(x, w), expected)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sound = _fresh_build(module.loss)  # the rebuilt entry is sound again
    assert sound._function is None
    np.testing.assert_array_equal(sound(x, w), expected)


def test_what_cannot_be_keyed_is_not_cached(cache_on: Path, tmp_path: Path):
    path = tmp_path / "array_module.py"
    path.write_text("import numpy as np\n\nW = np.ones(3)\n\n\ndef loss(x):\n    return np.sum(W * np.sin(x))\n")
    spec = importlib.util.spec_from_file_location("array_module", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert build_cache.entry_for(module.loss, {"mode": "grad"}) is None  # a module-level array
    symdiff.grad(module.loss)
    assert not list(cache_on.glob("*.json"))


def test_a_user_rule_turns_the_cache_off(cache_on: Path, tmp_path: Path, monkeypatch):
    from symdiff.rules import registry

    module = _write(tmp_path)
    assert build_cache.entry_for(module.loss, {"mode": "grad"}) is not None
    user = next(iter(registry.RULES.values()))
    monkeypatch.setitem(registry.RULES, "symdiff_test_user_rule", dataclasses.replace(user, user=True))
    assert build_cache.entry_for(module.loss, {"mode": "grad"}) is None


def test_a_world_writable_directory_is_refused_before_an_entry_is_read(cache_on: Path, tmp_path: Path):
    module = _write(tmp_path)
    _fresh_build(module.loss)
    os.chmod(cache_on, 0o777)
    try:
        derivative = _fresh_build(module.loss)  # the NumPy backend needs no cache: it builds
        assert derivative._function is not None
        with pytest.raises(symdiff.SymdiffError, match="writable by every user"):
            _fresh_build(module.loss, backend="numba")
    finally:
        os.chmod(cache_on, 0o700)


_CHILD = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    sys.path.insert(0, sys.argv[1])
    import loss_module
    import symdiff
    x, w = np.linspace(-1.0, 1.0, 12).reshape(4, 3), np.array([0.3, -0.2, 0.5])
    gradient = symdiff.grad(loss_module.loss, wrt=1, backend=sys.argv[2])
    print(json.dumps({"grad": gradient(x, w).tolist(), "hit": gradient._function is None}))
    """
)


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_two_fresh_processes_the_second_reads_the_build(tmp_path: Path, backend: str):
    module = _write(tmp_path)
    env = dict(os.environ, SYMDIFF_CACHE_DIR=str(tmp_path / "cache"), SYMDIFF_BUILD_CACHE="1")
    results = []
    for _ in range(2):
        done = subprocess.run(
            [sys.executable, "-c", _CHILD, str(tmp_path), backend], env=env, capture_output=True, text=True, check=False
        )
        assert done.returncode == 0, done.stderr
        results.append(json.loads(done.stdout.strip().splitlines()[-1]))
    assert [r["hit"] for r in results] == [False, True]
    assert results[0]["grad"] == results[1]["grad"]
    x, w = np.linspace(-1.0, 1.0, 12).reshape(4, 3), np.array([0.3, -0.2, 0.5])
    expected = _finite_differences(module.loss, x, w)
    np.testing.assert_allclose(results[1]["grad"], expected, rtol=1e-6, atol=1e-8)
