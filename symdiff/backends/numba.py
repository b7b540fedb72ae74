"""The Numba backend: the gradient compiled to machine code with `numba.njit`.

`compile_function(function, filename)` runs these steps:

1. refuse, with a `BackendError` naming the construct and its line, anything
   Numba cannot compile (`numba_lowering.check_supported`);
2. rewrite the IR for Numba (`numba_rewrites`: slice cotangents accumulated in
   place, one tape per loop) and plan fusion (`optimize.fuse.plan_fusion`):
   elementwise chains become one expression each, hence one loop, and full
   sums of them, or their writes into a slice, one-pass kernels;
3. print the Numba-ready module (`numba_lowering`, `numba_statements`,
   `numba_names`), which is what `.source` shows: `if`/`for`/`while` stay
   native branches and loops, tapes are Numba lists, element writes happen
   in place where nothing else can see the old value, and `exp`, `log`,
   `tanh` are the vectorisable versions of `numba_math`;
4. write it to the content-addressed cache directory (`cache.py`) and import
   it, so `cache=True` lets later processes load the machine code from disk.

Types are known only when the gradient is first called, so what depends on
them is reported then: a loop variable that changes type between iterations
(`s = 0.0` that becomes an array) raises a `BackendError` naming the variable
and its loop.

Settings (read from the environment when a gradient is built, or set on
`settings` directly):

- `SYMDIFF_NUMBA_FALLBACK=numpy`: instead of raising, fall back to the NumPy
  backend with a `NumbaFallbackWarning` when a construct is unsupported (at
  build time) or Numba fails to compile the arguments' types (at call time).
  Off by default: a silent fallback would hide a slow path (SPEC section 5).
- `SYMDIFF_NUMBA_FASTMATH=1`: `fastmath=True` (reassociation; results may
  differ in the last bits).
- `SYMDIFF_NUMBA_PARALLEL=1`: `parallel=True`; fused loops use `prange` and
  array expressions run on several threads. Numba's parallel array
  expressions do not stretch axes of length 1 (`logits - max(logits, axis=1,
  keepdims=True)`): such a gradient raises a `BackendError` saying so, and
  runs with the option off.
- `SYMDIFF_CACHE_DIR`: where generated modules and Numba's cache live.
"""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numba
from numba.core.errors import NumbaError

from symdiff.backends import cache
from symdiff.backends import numpy as numpy_backend
from symdiff.backends.numba_lowering import NumbaModule, NumbaOptions, check_supported, numba_module
from symdiff.backends.numba_math import generous_inlining
from symdiff.backends.numba_rewrites import numba_rewrites
from symdiff.backends.numpy import Compiled
from symdiff.errors import BackendError
from symdiff.ir.nodes import Function
from symdiff.optimize.fuse import plan_fusion

_HELPER_FILES = (
    "numba_helpers.py", "numba_reductions.py", "numba_arrays.py", "numba_math.py", "numba_blas.py", "../rules/shapes.py",
)  # fmt: skip


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


def numba_build(function: Function, options: NumbaOptions) -> NumbaModule:
    """The Numba-ready module for `function` (raises `BackendError` if unsupported)."""
    check_supported(function)
    plan = plan_fusion(numba_rewrites(function))
    header = f"symdiff numba backend: {function.name}. Generated; do not edit (content-addressed cache file)."
    return numba_module(plan, options, header)


def numba_source(function: Function, options: NumbaOptions) -> str:
    """The source text of `numba_build(function, options)`."""
    return numba_build(function, options).source


def compile_function(function: Function, filename: str) -> Compiled:
    """Compile `function` with Numba; see the module docstring for the steps."""
    current = settings or Settings.from_env()
    options = NumbaOptions(fastmath=current.fastmath, parallel=current.parallel)
    try:
        built = numba_build(function, options)
    except BackendError as error:
        if not current.fallback:
            raise
        warnings.warn(f"numba backend: {error.message}; running with NumPy", NumbaFallbackWarning, stacklevel=3)
        return numpy_backend.compile_function(function, filename)
    path = cache.store(function.name, built.source, cache.content_key(built.source, *_versions()))
    module = cache.import_file(path)
    fallback = numpy_backend.compile_function(function, filename).function if current.fallback else None
    runner = _runner(getattr(module, function.name), function, fallback, built.carried, current.parallel)
    return Compiled(runner, built.source, vars(module))


def _runner(jitted: Callable, function: Function, fallback: Callable | None, carried: dict, parallel: bool) -> Callable:
    """What `Derivative.__call__` calls: the jitted function itself where nothing needs Python around it.

    New argument types compile with generous inlining, and Numba's typing
    errors become a `BackendError` (`_compile_carefully`). A Python wrapper
    is added only where needed: to fill in default arguments and append module
    constants, to run the NumPy fallback when the user allowed one, and to
    explain the run-time error of parallel broadcasting. Otherwise the
    dispatcher is returned as it is, so a call costs Numba's own dispatch
    and no Python frame.
    """
    _compile_carefully(jitted, function.name, carried)
    if not function.defaults and not function.free and fallback is None and not parallel:
        jitted.jitted = jitted  # the numba dispatcher, for inspection, wrapped or not
        return jitted
    names = [p.name for p in function.params]
    defaults = dict(function.defaults)
    constants = tuple(value for _, value in function.free)

    def run(*args: Any) -> Any:
        if len(args) < len(names):
            args = args + tuple(defaults[name] for name in names[len(args):])
        try:
            return jitted(*args, *constants)
        except AssertionError as error:
            if not _PARFOR_SIZES.match(str(error)):
                raise
            raise BackendError(
                f"{function.name} broadcasts an axis of length 1, which Numba's parallel array expressions "
                f"cannot do ({error})",
                hint="unset SYMDIFF_NUMBA_PARALLEL (or set numba backend settings.parallel = False) for this function",
            ) from None
        except NumbaCompileError:
            if fallback is None:
                raise
            warnings.warn(f"numba could not compile {function.name}; running with NumPy", NumbaFallbackWarning, stacklevel=2)
            return fallback(*args)

    run.__name__ = function.name
    run.jitted = jitted  # the numba dispatcher, for inspection (signatures, inspect_types)
    return run


class NumbaCompileError(BackendError):
    """Numba could not compile a gradient for the types of the arguments it was called with."""


def _compile_carefully(jitted, name: str, carried: dict) -> None:
    """Make `jitted` compile new signatures under `generous_inlining`, raising `NumbaCompileError`.

    Numba's dispatcher calls `_compile_for_args` when no compiled version
    matches the arguments (loads from the on-disk cache go through it too);
    wrapping it leaves the fast path of every other call untouched. Installed
    once per dispatcher: a module with the same source is shared by every
    gradient that prints it, and so are `name` and `carried`.
    """
    if getattr(jitted, "_symdiff_careful", False):
        return
    compile_for_args = jitted._compile_for_args

    def compile_for(*args: Any, **kwargs: Any) -> Any:
        with generous_inlining():
            try:
                return compile_for_args(*args, **kwargs)
            except NumbaError as error:
                raise _explain(error, name, carried) from None

    jitted._compile_for_args = compile_for
    jitted._symdiff_careful = True


_PARFOR_SIZES = re.compile(r"Sizes of .* do not match")
_UNIFY = re.compile(r"Cannot unify (.+?) and (.+?) for '([A-Za-z_]\w*)")


def _explain(error: Exception, name: str, carried: dict) -> NumbaCompileError:
    """A `NumbaCompileError` for Numba's typing error, naming the loop variable that changes type."""
    text = str(error).replace("\x1b[1m", "").replace("\x1b[0m", "")
    match = _UNIFY.search(text)
    if match is not None and match.group(3) in carried:
        first, second, variable = match.groups()
        return NumbaCompileError(
            f"numba cannot compile {name}: the loop variable {variable!r} is {first} before an iteration "
            f"and {second} after it, and Numba gives each variable one type",
            carried[variable],
            f"start {variable!r} with the type the loop gives it (e.g. np.zeros_like(...) instead of 0.0), "
            "or use backend='numpy'",
        )
    return NumbaCompileError(
        f"numba could not compile {name} for these arguments: {_first_line(error)}",
        hint="check the argument types (numba supports float/int scalars and arrays of rank <= 2 for @), "
        "or set SYMDIFF_NUMBA_FALLBACK=numpy",
    )


def _first_line(error: Exception) -> str:
    for line in str(error).splitlines():
        text = line.replace("\x1b[1m", "").replace("\x1b[0m", "").strip()
        if text and not text.startswith("Failed in nopython mode"):
            return text
    return type(error).__name__


__all__ = ["NumbaCompileError", "NumbaFallbackWarning", "Settings", "compile_function", "numba_build", "numba_source", "settings"]
