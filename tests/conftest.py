"""Test-wide settings: the CUDA simulator, IR verification after every pass."""

import os

# Must be set before numba is imported anywhere: CI has no GPU.
os.environ.setdefault("NUMBA_ENABLE_CUDASIM", "1")

from symdiff.optimize import pipeline

pipeline.verify_each = True

# SciPy's rules are registered when SciPy is first imported (`registry.register_later`); register
# them now, so that tests which save and restore the rule tables cannot drop them half-way.
# tests/rules/test_lazy_rules.py checks the lazy path in fresh processes.
from symdiff.rules.registry import resolve_pending

resolve_pending(imports=True)
