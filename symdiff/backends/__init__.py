"""Backends: turn generated source into a callable (numpy, numba, cuda)."""

from symdiff.backends.numpy import compile_numpy

__all__ = ["compile_numpy"]
