"""A Numba gradient whose first compile runs in a background thread, NumPy serving calls meanwhile.

With `Settings(background=True)` (`SYMDIFF_NUMBA_BACKGROUND=1`) the Numba
backend wraps its runner in a `Tiered`. Its first call looks for machine code
for the arguments' types, in the dispatcher or in Numba's on-disk cache
(`load_cached`: a warm process loads it there and then, with no NumPy tier).
If there is none, the call runs the NumPy backend's build of the same
derivative (`portable`, built then), and a thread compiles the Numba module
for those types; every call until that compile ends runs NumPy too. Then
calls switch to the compiled code. Both tiers are the same exact derivative:
results differ only in rounding.

What stays as in the blocking mode:

- The compile goes through the dispatcher's careful `_compile_for_args`
  (`runner._compile_carefully`): generous inlining, Numba's errors as
  `NumbaCompileError`, a damaged cache entry compiled again. If it fails,
  the next call (or `wait`) raises that error, or with
  `SYMDIFF_NUMBA_FALLBACK=numpy` warns and runs NumPy, as a blocking first
  call would have; from then on calls go through the runner, as in blocking
  mode.
- Calls with other argument types than the first call's compile when they
  come once the switch is made (during the compile they run NumPy); the
  float32 twin (`single.py`) compiles at its first call, blocking.
- Numba writes its cache with atomic renames (a temporary file, then
  `os.replace`), data before index, so a compile that stops half-way leaves
  no damaged entry; the thread is not a daemon anyway: a process that ends
  while it compiles waits for it (never exiting inside LLVM), which costs no
  more than the blocking first call would have, and leaves the machine code
  cached for the next process.

A process that forks (multiprocessing's default start method on Linux)
while a compile runs gives its child Numba's and LLVM's locks as held by a
thread the child does not have: call `wait` (or `wait_all`) before forking,
or use the "spawn" start method.

One lock guards the state; the NumPy call itself runs outside it, so threads
calling at once are served side by side. `wait(timeout)` blocks until the
compile ends (what tests and benchmarks use to be deterministic); `wait_all`
waits for every background compile of the process. Imports: threading,
warnings, Numba's compiler lock, and this package's `errors`, `runner`.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Callable
from typing import Any

from numba.core.compiler_lock import global_compiler_lock

from symdiff.backends.numba.errors import NumbaCompileError, NumbaFallbackWarning
from symdiff.backends.numba.runner import Call, in_background

_FIRST = "first"  # no call has looked for machine code yet
_PORTABLE = "portable"  # none was found: NumPy serves calls; the compile starts after a call succeeds
_COMPILING = "compiling"  # the thread compiles; NumPy serves calls
_FAILED = "failed"  # the compile failed: the next call (or wait) surfaces its error
_READY = "ready"  # the runner serves calls (compiled, loaded, or blocking mode after a failure)

_PENDING: set[Tiered] = set()  # compiles in flight, for `wait_all` (each removed when it ends)
_PENDING_LOCK = threading.Lock()


def load_cached(jitted: Any, argtypes: tuple) -> bool:
    """Whether `jitted` now holds machine code for `argtypes`: compiled earlier in this process, or
    loaded now from Numba's on-disk cache. Never compiles, and never waits for a compile.

    The load is the cache-hit branch of Numba's `Dispatcher.compile`, under the same global
    compiler lock. Where Numba's index has no entry for these types (a cold cache), the answer is
    False without loading Numba's registries (0.3-0.6 s: they import SciPy's BLAS); where another
    thread holds the compiler lock (compiling), False too: the background compile that follows
    loads the entry once it has the lock. A damaged entry answers False: the compile repairs it,
    with its warning (`runner._compile_carefully`)."""
    if argtypes in jitted.overloads:
        return True
    cache = getattr(jitted, "_cache", None)
    if cache is None or not _indexed(cache, jitted, argtypes):
        return False
    lock = getattr(global_compiler_lock, "_lock", None)
    if lock is None or not lock.acquire(blocking=False):
        return False
    try:
        if argtypes in jitted.overloads:
            return True
        try:
            result = cache.load_overload(argtypes, jitted.targetctx)
        except Exception:  # noqa: BLE001 - a damaged entry: compiling repairs it
            return False
        if result is None:
            return False
        if not result.objectmode:
            jitted.targetctx.insert_user_function(result.entry_point, result.fndesc, [result.library])
        jitted.add_overload(result)
        return True
    finally:
        lock.release()


def _indexed(cache: Any, jitted: Any, argtypes: tuple) -> bool:
    """Whether Numba's on-disk index may hold `argtypes` (True where this cannot be told: then
    `load_overload` decides). Reads the index as `Cache.load_overload` would, without first
    loading Numba's registries."""
    try:
        key = cache._index_key(argtypes, jitted.targetctx.codegen())
        return key in cache._cache_file._load_index()
    except Exception:  # noqa: BLE001 - another Numba's internals, or a damaged index: ask Numba itself
        return True


class Tiered:
    """A compiled gradient's runner, served by NumPy until its first compile ends (module docstring).

    `runner` is what blocking mode calls (`runner.runner_for`), `jitted` its dispatcher, `call`
    how the runner fills in defaults and constants, `portable` makes the NumPy backend's callable
    of the same derivative (built at most once, only if a compile is needed), and `fallback` is
    the NumPy callable the user allowed with `SYMDIFF_NUMBA_FALLBACK=numpy` (or None).
    """

    def __init__(
        self,
        runner: Callable,
        jitted: Any,
        call: Call,
        portable: Callable[[], Callable],
        fallback: Callable | None = None,
    ):
        self._runner, self.jitted, self._call = runner, jitted, call
        self._make_portable, self._portable = portable, None
        self._fallback = fallback
        self._lock = threading.Lock()
        self._state = _FIRST
        self._error: BaseException | None = None
        self._ended = threading.Event()  # set when no compile is in flight
        self._ended.set()
        self.__name__ = call.name

    @property
    def ready(self) -> bool:
        """Whether the next call (with the first call's types) runs compiled code."""
        return self._state == _READY

    def __call__(self, *args: Any) -> Any:
        if self._state == _READY:  # the hot path once compiled: one comparison more than blocking mode
            return self._runner(*args)
        return self._before_compiled(args)

    def _before_compiled(self, args: tuple) -> Any:
        with self._lock:
            if self._state == _FIRST:
                self._look_for_machine_code(args)
            state = self._state
            if state == _FAILED:
                error, self._error, self._state = self._error, None, _READY
                return self._surface(error, args)
            portable = self._portable
        if state == _READY:
            return self._runner(*args)
        result = portable(*args)
        if state == _PORTABLE:
            self._start(args)
        return result

    def _look_for_machine_code(self, args: tuple) -> None:
        """First call (under the lock): ready if machine code is at hand, else build the NumPy tier."""
        try:
            argtypes = tuple(self.jitted.typeof_pyval(a) for a in self._call.full(args))
            found = load_cached(self.jitted, argtypes)
        except Exception:  # noqa: BLE001 - types Numba cannot read: the runner reports them as before
            found = True
        if not found:
            try:
                self._portable = self._make_portable()
            except Exception:  # noqa: BLE001 - no NumPy tier: compile at this call, as in blocking mode
                found = True
        self._state = _READY if found else _PORTABLE

    def _start(self, args: tuple) -> None:
        """Start the compile for these arguments' types, unless another call already did."""
        with self._lock:
            if self._state != _PORTABLE:
                return
            self._state = _COMPILING
            self._ended.clear()
            with _PENDING_LOCK:  # in the set before anyone can see the state (never the other order)
                _PENDING.add(self)
        full = self._call.full(args)
        thread = threading.Thread(target=self._compile, args=(full,), name=f"symdiff compile {self.__name__}")
        try:
            thread.start()  # not a daemon: a process ending now waits for it (module docstring)
        except RuntimeError:  # no thread now (the interpreter is shutting down): compile at the next call
            self._ended_as(_READY, None)

    def _compile(self, full: tuple) -> None:
        error = None
        try:
            with in_background():
                self.jitted._compile_for_args(*full)
        except BaseException as caught:  # noqa: BLE001 - surfaced at the next call, as a blocking call would raise it
            error = caught
        self._ended_as(_READY if error is None else _FAILED, error)

    def _ended_as(self, state: str, error: BaseException | None) -> None:
        with self._lock:
            self._state, self._error = state, error
            self._ended.set()
        with _PENDING_LOCK:
            _PENDING.discard(self)

    def _surface(self, error: BaseException, args: tuple) -> Any:
        """What a blocking first call would have done with the compile's `error`."""
        if isinstance(error, NumbaCompileError) and self._fallback is not None:
            warnings.warn(
                f"numba could not compile {self.__name__}; running with NumPy", NumbaFallbackWarning, stacklevel=3
            )
            return self._fallback(*args)
        raise error

    def wait(self, timeout: float | None = None) -> bool:
        """Block until a compile in flight ends (at most `timeout` seconds); whether the next call
        runs compiled code. A failed compile's error is raised here (once: later calls then behave
        as in blocking mode). False before any call has started a compile."""
        if not self._ended.wait(timeout):
            return False
        with self._lock:
            if self._state == _FAILED:
                error, self._error, self._state = self._error, None, _READY
                raise error
            return self._state == _READY


def wait_all(timeout: float | None = None) -> bool:
    """Wait for every background compile of this process (`timeout` seconds at most for each); whether all ended."""
    with _PENDING_LOCK:
        pending = list(_PENDING)
    return all(tiered._ended.wait(timeout) for tiered in pending)


__all__ = ["Tiered", "load_cached", "wait_all"]
