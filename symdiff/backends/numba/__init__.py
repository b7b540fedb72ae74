"""The Numba backend: the gradient compiled to machine code with `numba.njit`.

This file is the package's public face: `compile_function` (what
`symdiff.backends.load("numba")` hands to `api`), `over_directions` (many
directions of a compiled product in one call, `batched`), `numba_source`,
`numba_build`, `Settings` and `settings`, and the two error types. The other
modules are private to the backend, except `helpers`, which generated modules
import by its dotted path (`from symdiff.backends.numba.helpers import ...`).

`compile_function(function, filename)` runs these steps:

1. refuse, with a `BackendError` naming the construct and its line, anything
   Numba cannot compile (`support.check_supported`);
2. rewrite the IR for Numba (`rewrites`: slice cotangents accumulated in
   place, one tape per loop) and plan fusion (`optimize.fuse.plan_fusion`):
   elementwise chains become one expression each, hence one loop, and full
   sums of them, their sums along axes (or `sum_to`) over a broadcast, or
   their writes into a slice, one-pass kernels;
3. print the Numba-ready module (`lowering`, `statements`,
   `names`), which is what `.source` shows: `if`/`for`/`while` stay
   native branches and loops, tapes are Numba lists, element writes happen
   in place where nothing else can see the old value, and `exp`, `log`,
   `tanh` are the vectorisable versions of `math.py` (this package's);
4. write it to the content-addressed cache directory (`backends/cache.py`)
   and import it, so `cache=True` lets later processes load the machine code
   from disk; `runner.py` wraps the jitted function where it must.

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
- `SYMDIFF_NUMBA_BACKGROUND=1`: a tiered first call (`tiered.py`): when no
  machine code for the first call's types is cached, that call and the ones
  after it run the NumPy backend's build of the same derivative while a
  thread compiles; calls switch to the compiled code once it is done
  (`Derivative.wait()` waits for it, `wait_all()` for every compile of the
  process). Off by default: a Numba user expects the first call to compile,
  and the tests of this backend test compiled code.
- `SYMDIFF_NUMBA_PARALLEL=1`: `parallel=True`; fused loops use `prange` and
  array expressions run on several threads. Numba's parallel array
  expressions do not stretch axes of length 1 (`logits - max(logits, axis=1,
  keepdims=True)`): such a gradient raises a `BackendError` saying so, and
  runs with the option off.
- `SYMDIFF_CACHE_DIR`: where generated modules and Numba's cache live.
- `SYMDIFF_QUIET=1`: no note on stderr when a compile (or a build) takes more than a second.
"""

from __future__ import annotations

import functools
import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numba

from symdiff.backends import cache
from symdiff.backends import numpy as numpy_backend
from symdiff.backends.numba import helper_cache  # noqa: F401 - Numba's locator for the helpers, first
from symdiff.backends.numba.batched import over_directions
from symdiff.backends.numba.errors import NumbaCompileError, NumbaFallbackWarning
from symdiff.backends.numba.kernels import worth_a_loop_nest
from symdiff.backends.numba.lowering import NumbaModule, NumbaOptions, check_supported, numba_module
from symdiff.backends.numba.rewrites import numba_rewrites
from symdiff.backends.numba.runner import Call, runner_for
from symdiff.backends.numba.single import as_float32, float32_call, in_float32, widened
from symdiff.backends.numba.tiered import Tiered, wait_all
from symdiff.backends.numpy import Compiled
from symdiff.errors import BackendError
from symdiff.ir.nodes import Function
from symdiff.optimize.fuse import plan_fusion
from symdiff.version import __version__

# The modules generated code calls into: their text is part of every cache key.
_HELPER_FILES = (
    "helpers.py", "reductions.py", "arrays.py", "math.py", "blas.py", "special.py", "../../rules/shapes.py",
)  # fmt: skip


@dataclass
class Settings:
    """Backend switches; `from_env()` reads the SYMDIFF_NUMBA_* variables."""

    fallback: bool = False
    fastmath: bool = False
    parallel: bool = False
    background: bool = False

    @classmethod
    def from_env(cls) -> Settings:
        def flag(name: str) -> bool:
            return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")

        return cls(
            fallback=os.environ.get("SYMDIFF_NUMBA_FALLBACK", "").strip().lower() == "numpy",
            fastmath=flag("SYMDIFF_NUMBA_FASTMATH"),
            parallel=flag("SYMDIFF_NUMBA_PARALLEL"),
            background=flag("SYMDIFF_NUMBA_BACKGROUND"),
        )


settings: Settings | None = None  # None: read the environment at each build


def _versions() -> tuple[str, ...]:
    here = Path(__file__).parent
    helpers = "".join((here / name).read_text(encoding="utf-8") for name in _HELPER_FILES)
    return (__version__, numba.__version__, helpers)


def numba_build(function: Function, options: NumbaOptions) -> NumbaModule:
    """The Numba-ready module for `function` (raises `BackendError` if unsupported)."""
    check_supported(function)
    plan = worth_a_loop_nest(plan_fusion(numba_rewrites(function)))
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
    module = _imported(function.name, built.source)
    fallback = numpy_backend.compile_function(function, filename).function if current.fallback else None
    params = tuple(p.name for p in function.params)
    call = Call(function.name, params, dict(function.defaults), tuple(value for _, value in function.free))
    jitted = getattr(module, function.name)
    runner = runner_for(jitted, call, fallback, built, current.parallel)
    if current.background:
        portable = functools.partial(_portable, function, filename)
        runner = Tiered(runner, jitted, call, portable, fallback)
    mixed = _other_dtypes(runner, call, built, current.parallel)
    return Compiled(runner, built.source, vars(module), built.carried, mixed)


def _portable(function: Function, filename: str) -> Callable:
    """The NumPy backend's callable of `function`: what a tiered first call runs while Numba compiles."""
    return numpy_backend.compile_function(function, f"{filename} (numpy, while numba compiles)").function


def _imported(name: str, source: str):
    """The module of `source`, through its content-addressed cache file."""
    return cache.import_file(cache.store(name, source, cache.content_key(source, *_versions())), source)


_UNCOMPILED = object()  # the float32 twin did not compile


def _other_dtypes(runner: Callable, call: Call, built: NumbaModule, parallel: bool) -> Callable:
    """What a call with arguments other than float64 ones runs (`single.py`): the float32 twin of
    the module when every floating value is float32, else the float64 module on widened copies.

    The twin is printed and compiled at the first float32 call. If Numba cannot compile it for
    those types (a variable given float32 and float64 values), the call, and every later one,
    runs the float64 module instead, as every float32 call did before the twin existed.
    """
    twin: list = []  # [runner], or [None] once the twin failed to compile

    def run_twin(args: tuple) -> Any:
        if not twin:
            source = in_float32(built.source)
            module = _imported(call.name, source)
            single = Call(call.name, call.params, call.defaults, tuple(as_float32(c) for c in call.constants))
            twin.append(
                runner_for(getattr(module, call.name), single, None, NumbaModule(source, built.carried), parallel)
            )
        try:
            return twin[0](*[as_float32(a) for a in args])
        except NumbaCompileError:
            twin[0] = None
            return _UNCOMPILED

    def mixed(*args: Any) -> Any:
        if (not twin or twin[0] is not None) and float32_call(args + call.constants):
            result = run_twin(args)
            if result is not _UNCOMPILED:
                return result
        return runner(*[widened(a) for a in args])

    mixed.__name__ = call.name
    return mixed


def build_options() -> dict[str, bool] | None:
    """The settings that change what a build prints (a key part for symdiff/build_cache.py); None
    with the NumPy fallback on, whose NumPy twin a stored build does not hold."""
    current = settings or Settings.from_env()
    return None if current.fallback else {"fastmath": current.fastmath, "parallel": current.parallel}


def compile_stored(stored, filename: str, rebuild: Callable[[], Function] | None = None) -> Compiled:
    """Load the module a build printed earlier (`build_cache.Stored`) as `compile_function` loads a
    new one: through the content-addressed cache file, whose machine code Numba may have cached.
    `rebuild` gives the derivative's IR, for the NumPy tier of a background compile, which is
    built only when Numba's cache lacks the first call's machine code."""
    current = settings or Settings.from_env()
    module = _imported(stored.name, stored.source)
    built = NumbaModule(stored.source, stored.carried)
    call = Call(stored.name, stored.params, dict(stored.defaults), ())
    jitted = getattr(module, stored.name)
    runner = runner_for(jitted, call, None, built, current.parallel)
    if current.background and rebuild is not None:
        runner = Tiered(runner, jitted, call, lambda: _portable(rebuild(), filename))
    return Compiled(
        runner, stored.source, vars(module), stored.carried, _other_dtypes(runner, call, built, current.parallel)
    )


__all__ = [
    "NumbaCompileError",
    "NumbaFallbackWarning",
    "Settings",
    "compile_function",
    "numba_build",
    "numba_source",
    "over_directions",
    "settings",
    "wait_all",
]
