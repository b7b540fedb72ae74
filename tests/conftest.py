"""Test-wide settings: the CUDA simulator, IR verification after every pass."""

import os

# Must be set before numba is imported anywhere: CI has no GPU.
os.environ.setdefault("NUMBA_ENABLE_CUDASIM", "1")
# Tests build each derivative through the pipeline they test, not from an earlier process's build:
# the build cache is off but for tests/test_build_cache.py and the cache tests that turn it on.
os.environ.setdefault("SYMDIFF_BUILD_CACHE", "0")
# The Numba backend's tests test compiled code: no NumPy tier while a background compile runs
# (tests/backends/test_numba_background.py turns it on where it tests it).
os.environ["SYMDIFF_NUMBA_BACKGROUND"] = "0"

from symdiff.optimize import pipeline

pipeline.verify_each = True

# SciPy's rules are registered when SciPy is first imported (`registry.register_later`); register
# them now, so that tests which save and restore the rule tables cannot drop them half-way.
# tests/rules/test_lazy_rules.py checks the lazy path in fresh processes.
from symdiff.rules.registry import resolve_pending

resolve_pending(imports=True)
