"""Backends: turn an optimised IR function into a callable.

Each backend module (`numpy`, `numba`, `cuda`) exposes
`compile_function(function, filename) -> Compiled`; `load(name)` finds it.
A backend that needs hardware may also expose `check_runnable()`, which
`api.build` calls before each build so that a derivative that could never
run is refused when it is built; inside `source_only()` (what `symdiff.emit`
and `symdiff grad --out` use) only the source is wanted, and the check
passes.
"""

from __future__ import annotations

import contextlib
import contextvars
import importlib
from collections.abc import Iterator
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


_SOURCE_ONLY: contextvars.ContextVar[bool] = contextvars.ContextVar("symdiff_source_only", default=False)


@contextlib.contextmanager
def source_only() -> Iterator[None]:
    """While active, derivatives are built to print their source: a backend's `check_runnable`
    lets a build through on a machine that could not run it (a CUDA module emitted without a GPU)."""
    token = _SOURCE_ONLY.set(True)
    try:
        yield
    finally:
        _SOURCE_ONLY.reset(token)


def building_source_only() -> bool:
    """Whether the current build only prints source (inside `source_only()`)."""
    return _SOURCE_ONLY.get()
