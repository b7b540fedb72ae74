"""A line on stderr when a build or a compile is slow (symdiff/progress.py, issue 18)."""

from __future__ import annotations

import time
from contextlib import contextmanager

import numpy as np

import symdiff as sd
from symdiff import api, progress


def test_a_slow_block_says_so_once_and_how_long_it_took(capfd, monkeypatch):
    monkeypatch.delenv("SYMDIFF_QUIET", raising=False)
    outer = progress.told_when_slow("building the derivative of f()", "built the derivative of f()", 0.0)
    with outer, progress.told_when_slow("inner", "inner done", 0.0):  # nested: the outer one speaks
        time.sleep(0.3)
    err = capfd.readouterr().err
    assert err.count("symdiff: building the derivative of f()\n") == 1
    assert "symdiff: built the derivative of f() in 0." in err and "inner" not in err


def test_a_fast_block_and_a_quiet_one_say_nothing(capfd, monkeypatch):
    with progress.told_when_slow("fast", "fast done", 5.0):
        pass
    monkeypatch.setenv("SYMDIFF_QUIET", "1")
    with progress.told_when_slow("quiet", "quiet done", 0.0):
        time.sleep(0.2)
    assert capfd.readouterr().err == ""


def _built_once(x):
    return np.sum(np.sin(x) * x)


def test_a_build_is_watched_and_a_cached_one_is_not(monkeypatch):
    said = []

    @contextmanager
    def recorder(start_line, end_line, after):
        said.append((start_line, end_line, after))
        yield

    monkeypatch.setattr(api, "told_when_slow", recorder)
    api._CACHE.clear()
    gradient = sd.grad(_built_once)
    sd.grad(_built_once)  # from the cache: nothing to wait for
    np.testing.assert_allclose(gradient(np.array([0.3])), np.cos(0.3) * 0.3 + np.sin(0.3), rtol=1e-13)
    assert said == [("building the derivative of _built_once()", "built the derivative of _built_once()", 1.0)]
