"""The Numba backend: the gradient compiled to machine code with `numba.njit`.

`compile_function(function, filename)` runs these steps:

1. refuse, with a `BackendError` naming the construct and its line, anything
   Numba cannot compile (`numba_lowering.check_supported`);
2. plan fusion (`optimize.fuse.plan_fusion`): elementwise chains become one
   expression each, hence one loop, and full sums of them one-pass kernels;
3. print the Numba-ready module (`numba_lowering`), which is what `.source`
   shows;
4. write it to the content-addressed cache directory (`cache.py`) and import
   it, so `cache=True` lets later processes load the machine code from disk.

Settings (read from the environment when a gradient is built, or set on
`settings` directly):

- `SYMDIFF_NUMBA_FALLBACK=numpy`: instead of raising, fall back to the NumPy
  backend with a `NumbaFallbackWarning` when a construct is unsupported (at
  build time) or Numba fails to compile the arguments' types (at call time).
  Off by default: a silent fallback would hide a slow path (SPEC section 5).
- `SYMDIFF_NUMBA_FASTMATH=1`: `fastmath=True` (reassociation; results may
  differ in the last bits).
- `SYMDIFF_NUMBA_PARALLEL=1`: `parallel=True`; fused loops use `prange` and
  array expressions run on several threads.
- `SYMDIFF_CACHE_DIR`: where generated modules and Numba's cache live.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numba
from numba.core.errors import NumbaError

from symdiff.backends import cache
from symdiff.backends import numpy as numpy_backend
from symdiff.backends.numba_lowering import NumbaOptions, check_supported, numba_module, numba_peepholes
from symdiff.backends.numpy import Compiled
from symdiff.errors import BackendError
from symdiff.ir.nodes import Function
from symdiff.optimize.fuse import plan_fusion

_HELPER_FILES = ("numba_helpers.py", "numba_reductions.py", "numba_lowering.py", "../rules/shapes.py")


class NumbaFallbackWarning(RuntimeWarning):
    """The numba backend ran a gradient with NumPy because the user allowed a fallback."""


@dataclass
class Settings:
    """Backend switches; `from_env()` reads the SYMDIFF_NUMBA_* variables."""

    fallback: bool = False
    fastmath: bool = False
    parallel: bool = False

    @classmethod
    def from_env(cls) -> Settings:
        def flag(name: str) -> bool:
            return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")

        return cls(
            fallback=os.environ.get("SYMDIFF_NUMBA_FALLBACK", "").strip().lower() == "numpy",
            fastmath=flag("SYMDIFF_NUMBA_FASTMATH"),
            parallel=flag("SYMDIFF_NUMBA_PARALLEL"),
        )


settings: Settings | None = None  # None: read the environment at each build


def _versions() -> tuple[str, ...]:
    from symdiff import __version__

    here = Path(__file__).parent
    helpers = "".join((here / name).read_text(encoding="utf-8") for name in _HELPER_FILES)
    return (__version__, numba.__version__, helpers)


def numba_source(function: Function, options: NumbaOptions) -> str:
    """The Numba-ready module for `function` (raises `BackendError` if unsupported)."""
    check_supported(function)
    plan = plan_fusion(numba_peepholes(function))
    header = f"symdiff numba backend: {function.name}. Generated; do not edit (content-addressed cache file)."
    return numba_module(plan, options, header)


def compile_function(function: Function, filename: str) -> Compiled:
    """Compile `function` with Numba; see the module docstring for the steps."""
    current = settings or Settings.from_env()
    options = NumbaOptions(fastmath=current.fastmath, parallel=current.parallel)
    try:
        source = numba_source(function, options)
    except BackendError as error:
        if not current.fallback:
            raise
        warnings.warn(f"numba backend: {error.message}; running with NumPy", NumbaFallbackWarning, stacklevel=3)
        return numpy_backend.compile_function(function, filename)
    path = cache.store(function.name, source, cache.content_key(source, *_versions()))
    module = cache.import_file(path)
    fallback = numpy_backend.compile_function(function, filename).function if current.fallback else None
    runner = _runner(getattr(module, function.name), function, fallback)
    return Compiled(runner, source, vars(module))


def _runner(jitted: Callable, function: Function, fallback: Callable | None) -> Callable:
    """A Python callable with the gradient's signature around the jitted function.

    It fills in default arguments, appends module constants, and turns Numba's
    typing errors into a `BackendError` (or the NumPy fallback, if allowed).
    """
    names = [p.name for p in function.params]
    defaults = dict(function.defaults)
    constants = tuple(value for _, value in function.free)

    def run(*args: Any) -> Any:
        if len(args) < len(names):
            args = args + tuple(defaults[name] for name in names[len(args):])
        try:
            return jitted(*args, *constants)
        except NumbaError as error:
            if fallback is not None:
                warnings.warn(f"numba could not compile {function.name}; running with NumPy", NumbaFallbackWarning, stacklevel=2)
                return fallback(*args)
            raise BackendError(
                f"numba could not compile {function.name} for these arguments: {_first_line(error)}",
                hint="check the argument types (numba supports float/int scalars and arrays of rank <= 2 for @), "
                "or set SYMDIFF_NUMBA_FALLBACK=numpy",
            ) from None

    run.__name__ = function.name
    run.jitted = jitted  # the numba dispatcher, for inspection (signatures, inspect_types)
    return run


def _first_line(error: Exception) -> str:
    for line in str(error).splitlines():
        text = line.replace("\x1b[1m", "").replace("\x1b[0m", "").strip()
        if text and not text.startswith("Failed in nopython mode"):
            return text
    return type(error).__name__


__all__ = ["NumbaFallbackWarning", "Settings", "compile_function", "numba_source", "settings"]
