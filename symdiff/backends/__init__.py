"""Backends: turn an optimised IR function into a callable.

Each backend module (`numpy`, `numba`, `cuda`) exposes
`compile_function(function, filename) -> Compiled`; `load(name)` finds it.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from symdiff.errors import BackendError

BACKENDS = ("numpy", "numba", "cuda")


def load(name: str) -> ModuleType:
    """The backend module called `name`, or a `BackendError` naming the choices."""
    if name not in BACKENDS:
        raise BackendError(f"unknown backend {name!r}", hint=f"choose one of: {', '.join(BACKENDS)}")
    try:
        return importlib.import_module(f"symdiff.backends.{name}")
    except ImportError as error:
        raise BackendError(f"the {name} backend is not available: {error}") from None
