"""Numba's on-disk cache of the backend's own helpers, invalidated by any change to the backend.

The helpers (`njit(cache=True)` functions and, through `CACHED`, the
implementations their `numba.extending.overload`s return) are compiled once
per signature, by the first process ever to need them, into this package's
`__pycache__`; a new gradient in a new process then compiles only its own
function. Numba stamps such an entry with its own file's content only, yet a
helper in `helpers.py` calls helpers of `arrays.py`, `blas.py` and
`rules/shapes.py`, whose code it links in: after an edit of one of those,
Numba would go on loading the old machine code. So the locator registered
here (for this package's files only) stamps every entry with a hash of all the
backend's helper sources together: any change to one of them makes every
entry stale, and Numba compiles it again. Where `__pycache__` is not writable
Numba's own locators apply (a user-wide cache stamped per file).

Importing this module registers the locator; the backend's modules import it
before they define a cached function.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from numba.core import caching

HERE = Path(__file__).resolve().parent
_SOURCES = (*sorted(HERE.glob("*.py")), HERE.parent.parent / "rules" / "shapes.py")

# `jit_options` of the backend's overloads: their implementations are cached like the helpers.
# Not for implementations made with `exec` (Numba cannot cache a function without a file) nor
# for `inline="always"` ones (inlined into the caller, never called).
CACHED = {"cache": True}

_STAMP: list[bytes] = []


def stamp() -> bytes:
    """A SHA-256 of every helper source of the backend (computed once per process)."""
    if not _STAMP:
        digest = hashlib.sha256()
        for path in _SOURCES:
            digest.update(path.name.encode("utf-8") + b"\0" + path.read_bytes() + b"\0")
        _STAMP.append(digest.digest())
    return _STAMP[0]


_InTree = getattr(caching, "InTreeCacheLocator", None) or getattr(caching, "_InTreeCacheLocator", None)
_Impl = getattr(caching, "CacheImpl", None) or getattr(caching, "_CacheImpl", None)

if _InTree is not None and _Impl is not None:

    class BackendLocator(_InTree):
        """Numba's in-tree locator for this package's files, stamped by all the helper sources."""

        def get_source_stamp(self):
            return stamp()

        @classmethod
        def from_function(cls, py_func, py_file):
            if Path(py_file).resolve().parent != HERE:
                return None
            return super().from_function(py_func, py_file)

    if not any(c.__name__ == "BackendLocator" for c in _Impl._locator_classes):
        _Impl._locator_classes.insert(0, BackendLocator)  # the list every cache implementation shares


__all__ = ["CACHED", "stamp"]
