"""A line on stderr when a build or a compile is slow (issue 18: no silent wait of many seconds).

`told_when_slow(start_line, end_line, after)` is a context manager: if what it
wraps is still running `after` seconds in, `start_line` goes to stderr, and at
the end `end_line` with the seconds it took. Nested uses in one thread speak
once, for the outermost (a build that builds a derivative of a derivative is one
wait). `SYMDIFF_QUIET=1` keeps it silent. Imports nothing of symdiff.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

_DEPTH = threading.local()


def quiet() -> bool:
    """Whether `SYMDIFF_QUIET` asks for silence."""
    return os.environ.get("SYMDIFF_QUIET", "").strip().lower() in ("1", "true", "yes", "on")


@contextmanager
def told_when_slow(start_line: str, end_line: str, after: float) -> Iterator[None]:
    """Write `start_line` to stderr once the block has run `after` seconds, and then, when it ends,
    `end_line` followed by " in <seconds> s"."""
    depth = getattr(_DEPTH, "value", 0)
    if depth or quiet():
        _DEPTH.value = depth + 1
        try:
            yield
        finally:
            _DEPTH.value = depth
        return
    start, told = time.perf_counter(), []

    def notice() -> None:
        told.append(True)
        sys.stderr.write(f"symdiff: {start_line}\n")
        sys.stderr.flush()

    timer = threading.Timer(after, notice)
    timer.daemon = True
    _DEPTH.value = 1
    timer.start()
    try:
        yield
    finally:
        _DEPTH.value = 0
        timer.cancel()
        if told:
            sys.stderr.write(f"symdiff: {end_line} in {time.perf_counter() - start:.1f} s\n")
            sys.stderr.flush()


__all__ = ["quiet", "told_when_slow"]
