"""What a compiled Numba gradient is called through: the jitted function, wrapped only where needed.

`runner_for` returns the dispatcher itself when nothing needs Python around
it, else a small wrapper (defaults, module constants, the NumPy fallback the
user allowed, the parallel-broadcast error). Either way new argument types
compile under `generous_inlining`, with a note on stderr when a compile is
slow, and Numba's errors come out as `NumbaCompileError`s. Imports: errors,
and this package's `errors`, `lowering` and `math` modules.
"""

from __future__ import annotations

import os
import re
import threading
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from symdiff.backends.numba.errors import NumbaCompileError, NumbaFallbackWarning, explain
from symdiff.backends.numba.lowering import NumbaModule
from symdiff.backends.numba.math import generous_inlining
from symdiff.errors import BackendError, SymdiffError
from symdiff.progress import told_when_slow


@dataclass(frozen=True)
class Call:
    """How the generated function is called: its name, parameters, defaults and module constants."""

    name: str
    params: tuple[str, ...]
    defaults: dict[str, Any]
    constants: tuple[Any, ...]

    def full(self, args: tuple) -> tuple:
        """The arguments the jitted function receives for a call with `args`: missing ones from
        the defaults, then the module constants (what `runner_for`'s wrapper passes)."""
        if len(args) < len(self.params):
            args = args + tuple(self.defaults[name] for name in self.params[len(args) :])
        return args + self.constants


def runner_for(
    jitted: Callable, function: Call, fallback: Callable | None, built: NumbaModule, parallel: bool
) -> Callable:
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
    if not function.defaults and not function.constants and fallback is None and not parallel:
        jitted.jitted = jitted  # the numba dispatcher, for inspection, wrapped or not
        return jitted
    names = list(function.params)
    defaults = dict(function.defaults)
    constants = function.constants

    def run(*args: Any) -> Any:
        if len(args) < len(names):
            args = args + tuple(defaults[name] for name in names[len(args) :])
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
            warnings.warn(
                f"numba could not compile {function.name}; running with NumPy", NumbaFallbackWarning, stacklevel=2
            )
            return fallback(*args)

    run.__name__ = function.name
    run.call = function  # its defaults and module constants (batched.over_directions passes the constants)
    run.jitted = jitted  # the numba dispatcher, for inspection (signatures, inspect_types)
    return run


def _compile_carefully(jitted, name: str, built: NumbaModule) -> None:
    """Make `jitted` compile new signatures under `generous_inlining`, raising `NumbaCompileError`.

    Numba's dispatcher calls `_compile_for_args` when no compiled version
    matches the arguments (loads from the on-disk cache go through it too);
    wrapping it leaves the fast path of every other call untouched. Installed
    once per dispatcher: a module with the same source is shared by every
    gradient that prints it, and so are `name` and `built`. Any exception
    but symdiff's own becomes a `NumbaCompileError` (`errors.explain`):
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


NOTICE_AFTER = 1.0  # seconds a compile runs before symdiff says what it is doing
_BACKGROUND = threading.local()


@contextmanager
def in_background() -> Iterator[None]:
    """Mark the compiles of this thread as background ones (`tiered.py`), for the note on stderr."""
    _BACKGROUND.value = True
    try:
        yield
    finally:
        _BACKGROUND.value = False


def _told_when_slow(name: str):
    """Say on stderr, once a compile has taken NOTICE_AFTER seconds, what is compiling and, at
    the end, how long it took: a first Numba call can take many seconds (SYMDIFF_QUIET=1: silent)."""
    if getattr(_BACKGROUND, "value", False):
        start = f"compiling {name} with Numba in the background (calls run its NumPy build until it is done)"
        return told_when_slow(start, f"compiled {name}; calls run the compiled code from now on", NOTICE_AFTER)
    return told_when_slow(
        f"compiling {name} with Numba (a first call for these argument types; "
        "the machine code is cached on disk for later calls and processes)",
        f"compiled {name}",
        NOTICE_AFTER,
    )


_PARFOR_SIZES = re.compile(r"Sizes of .* do not match")


def _from_the_cache(error: BaseException) -> bool:
    """Whether `error` was raised while Numba read its on-disk cache."""
    trace = error.__traceback__
    while trace is not None:
        if trace.tb_frame.f_code.co_filename.endswith(os.path.join("numba", "core", "caching.py")):
            return True
        trace = trace.tb_next
    return False
