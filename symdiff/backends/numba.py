"""The Numba backend: the gradient compiled to machine code with `numba.njit`.

`compile_function(function, filename)` runs these steps:

1. refuse, with a `BackendError` naming the construct and its line, anything
   Numba cannot compile (`numba_support.check_supported`);
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
- `SYMDIFF_QUIET=1`: no note on stderr when a compile takes more than two seconds.
"""

from __future__ import annotations

import os
import re
import sys
import threading
import time
import warnings
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numba

from symdiff.backends import cache
from symdiff.backends import numpy as numpy_backend
from symdiff.backends.numba_errors import NumbaCompileError, explain
from symdiff.backends.numba_lowering import NumbaModule, NumbaOptions, check_supported, numba_module
from symdiff.backends.numba_math import generous_inlining
from symdiff.backends.numba_rewrites import numba_rewrites
from symdiff.backends.numpy import Compiled
from symdiff.errors import BackendError, SymdiffError
from symdiff.ir.nodes import Function
from symdiff.optimize.fuse import plan_fusion
from symdiff.version import __version__

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
    module = cache.import_file(path, built.source)
    fallback = numpy_backend.compile_function(function, filename).function if current.fallback else None
    runner = _runner(getattr(module, function.name), function, fallback, built, current.parallel)
    return Compiled(runner, built.source, vars(module))


def _runner(jitted: Callable, function: Function, fallback: Callable | None, built: NumbaModule, parallel: bool) -> Callable:
    """What `Derivative.__call__` calls: the jitted function itself where nothing needs Python around it.

    New argument types compile with generous inlining, and Numba's typing
    errors become a `BackendError` (`_compile_carefully`). A Python wrapper
    is added only where needed: to fill in default arguments and append module
    constants, to run the NumPy fallback when the user allowed one, and to
    explain the run-time error of parallel broadcasting. Otherwise the
    dispatcher is returned as it is, so a call costs Numba's own dispatch
    and no Python frame.
    """
    _compile_carefully(jitted, function.name, built)
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


def _compile_carefully(jitted, name: str, built: NumbaModule) -> None:
    """Make `jitted` compile new signatures under `generous_inlining`, raising `NumbaCompileError`.

    Numba's dispatcher calls `_compile_for_args` when no compiled version
    matches the arguments (loads from the on-disk cache go through it too);
    wrapping it leaves the fast path of every other call untouched. Installed
    once per dispatcher: a module with the same source is shared by every
    gradient that prints it, and so are `name` and `built`. Any exception
    but symdiff's own becomes a `NumbaCompileError` (`numba_errors.explain`):
    Numba also raises NotImplementedError and friends from its lowering.
    """
    if getattr(jitted, "_symdiff_careful", False):
        return
    compile_for_args = jitted._compile_for_args

    def compile_for(*args: Any, **kwargs: Any) -> Any:
        with generous_inlining(), _told_when_slow(name):
            try:
                return compile_for_args(*args, **kwargs)
            except SymdiffError:
                raise
            except Exception as error:  # noqa: BLE001 - Numba's lowering raises NotImplementedError, KeyError, ...
                if not _from_the_cache(error) or getattr(jitted, "_cache", None) is None:
                    raise explain(error, name, built.carried, built.source) from None
            # A damaged on-disk cache entry (a truncated or overwritten index) failed to load:
            # forget this function's entries and compile again, once, rather than fail forever.
            jitted._cache.flush()
            warnings.warn(f"the numba cache of {name} was damaged; compiled it again", RuntimeWarning, stacklevel=2)
            try:
                return compile_for_args(*args, **kwargs)
            except SymdiffError:
                raise
            except Exception as error:  # noqa: BLE001
                raise explain(error, name, built.carried, built.source) from None

    jitted._compile_for_args = compile_for
    jitted._symdiff_careful = True


NOTICE_AFTER = 2.0  # seconds a compile runs before symdiff says what it is doing


@contextmanager
def _told_when_slow(name: str):
    """Say on stderr, once a compile has taken NOTICE_AFTER seconds, what is compiling and, at
    the end, how long it took: a first Numba call can take tens of seconds (SYMDIFF_QUIET=1:
    silent)."""
    if os.environ.get("SYMDIFF_QUIET", "").strip().lower() in ("1", "true", "yes", "on"):
        yield
        return
    start, told = time.perf_counter(), []

    def notice() -> None:
        told.append(True)
        sys.stderr.write(
            f"symdiff: compiling {name} with Numba (a first call for these argument types; "
            "the machine code is cached on disk for later calls and processes)\n"
        )
        sys.stderr.flush()

    timer = threading.Timer(NOTICE_AFTER, notice)
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()
        if told:
            sys.stderr.write(f"symdiff: compiled {name} in {time.perf_counter() - start:.1f} s\n")


_PARFOR_SIZES = re.compile(r"Sizes of .* do not match")


def _from_the_cache(error: BaseException) -> bool:
    """Whether `error` was raised while Numba read its on-disk cache."""
    trace = error.__traceback__
    while trace is not None:
        if trace.tb_frame.f_code.co_filename.endswith(os.path.join("numba", "core", "caching.py")):
            return True
        trace = trace.tb_next
    return False


__all__ = ["NumbaCompileError", "NumbaFallbackWarning", "Settings", "compile_function", "numba_build", "numba_source", "settings"]
