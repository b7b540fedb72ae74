"""Test-wide settings: the CUDA simulator, IR verification after every pass."""

import os

# Must be set before numba is imported anywhere: CI has no GPU.
os.environ.setdefault("NUMBA_ENABLE_CUDASIM", "1")

from symdiff.optimize import pipeline

pipeline.verify_each = True
