"""Built derivatives on disk, so that a new process skips the build of an unchanged function.

`symdiff.grad(f)` in a fresh process reads `f`'s source, lowers it, differentiates,
optimises and prints the result (0.1 s for a small function, seconds for a long
one) before the backend even starts. When an earlier process built the same
derivative, this module hands back what that build printed instead: the
generated source, plus the few facts the caller needs to run it (the
function's name, its parameters and defaults, and for the Numba backend which
loop carried each variable, for error messages).

An entry is used only when everything the build read is the same, so its key
hashes:

- the source of the function and of every Python function it calls, each with
  the values its free names resolve to now (module scalars are folded into the
  generated code), the function's default arguments, and its code object;
- the options: mode, `wrt`, backend, `stable`, `checkpoint`, the Numba
  settings;
- symdiff's version and a hash of every source file of the installed symdiff
  package (the rules, the transforms, the code generators), and the versions of
  Python, NumPy and Numba.

A function that reads anything whose value cannot be stated in the key (a
module-level array, an object, a derivative) is built as before, and so is
everything while a user's derivative rule is registered: such a rule is
Python code of theirs that the key cannot describe. The in-process cache of
`api` still answers before this one.

Entries live in the verified cache directory (`backends/cache.py` refuses a
directory another user owns or anyone may write to, before anything is read),
as JSON text named `<function>_build_<key>.json`: nothing is unpickled, and
generated source is only ever run after the backend writes it to its own
content-addressed file. Each entry carries a SHA-256 of its payload; an
entry that does not parse or does not match it is deleted and built again, with
one `RuntimeWarning`. Writes are atomic (`cache._write_once`), so eight
processes building the same function at once leave one sound entry.

`SYMDIFF_BUILD_CACHE=0` turns the cache off (the test suite does, except in the
tests of this cache).
"""

from __future__ import annotations

import hashlib
import json
import sys
import types
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from symdiff.errors import Location, SymdiffError
from symdiff.version import __version__

FORMAT = 1
_LIBRARIES = frozenset(
    ("numpy", "scipy", "math", "cmath", "builtins", "symdiff", "numba", "operator", "functools", "itertools")
)
_SCALARS = (type(None), bool, int, float, complex, str, bytes)


def enabled() -> bool:
    """Whether built derivatives are read from and written to disk (`SYMDIFF_BUILD_CACHE`, default on)."""
    from symdiff.backends import cache  # late: keeps `import symdiff` from loading the backends' modules

    return cache.enabled()


@dataclass(frozen=True)
class Stored:
    """What a build printed, and what running it needs besides the text."""

    name: str  # the generated function's name (`loss_grad`)
    params: tuple[str, ...]
    defaults: tuple[tuple[str, Any], ...]
    wrt: tuple[str, ...]  # the names of the parameters it differentiates with respect to
    source: str  # what the backend runs and `.source` shows
    helpers: tuple[str, ...] = ()  # NumPy backend: symdiff helpers its namespace needs
    carried: dict[str, Location | None] = field(default_factory=dict)  # Numba backend: loop variables


@dataclass(frozen=True)
class Entry:
    """Where an entry for one build lives, and the reads its key was computed from."""

    path: Path
    key: str
    reads: tuple  # frontend.source.Dependency snapshots: what `current()` compares in this process


class _Uncacheable(Exception):
    """Something the build reads has no value that can stand in a key."""


# -- the key ------------------------------------------------------------------------


_PACKAGE_HASH: list[str] = []


def package_hash() -> str:
    """A SHA-256 of every source file of the symdiff package (computed once per process)."""
    if not _PACKAGE_HASH:
        root = Path(__file__).resolve().parent
        digest = hashlib.sha256()
        for path in sorted(root.rglob("*.py")):
            digest.update(path.relative_to(root).as_posix().encode("utf-8") + b"\0")
            digest.update(path.read_bytes() + b"\0")
        _PACKAGE_HASH.append(digest.hexdigest())
    return _PACKAGE_HASH[0]


def entry_for(primal: Callable, options: dict[str, Any]) -> Entry | None:
    """The entry that would hold the derivative of `primal` built with `options`, or None when the
    build cannot be cached (disabled, a user rule registered, a read with no stable value)."""
    if not enabled() or not isinstance(primal, types.FunctionType) or _user_rules_registered():
        return None
    try:
        fingerprint, reads = _fingerprint(primal)
    except (_Uncacheable, SymdiffError, OSError, TypeError, ValueError, RecursionError):
        return None  # the build reports what it cannot read
    versions = {
        "format": FORMAT,
        "symdiff": __version__,
        "package": package_hash(),
        "python": sys.version,
        "numpy": np.__version__,
        "numba": _version_of("numba") if options.get("backend") == "numba" else None,
    }
    text = json.dumps({"versions": versions, "options": options, "function": fingerprint}, sort_keys=True)
    key = hashlib.sha256(text.encode("utf-8")).hexdigest()[:24]
    label = "".join(c if c.isalnum() or c == "_" else "_" for c in primal.__name__).strip("_") or "f"
    if not label[0].isalpha():
        label = "f" + label
    from symdiff.backends import cache  # late: keeps `import symdiff` from loading the backends' modules

    return Entry(cache.cache_dir() / f"{label}_build_{key}.json", key, reads)


def _version_of(module: str) -> str | None:
    loaded = sys.modules.get(module)
    return getattr(loaded, "__version__", None)


def _user_rules_registered() -> bool:
    from symdiff.rules.registry import RULES

    return any(rule.user for rule in RULES.values())


def _fingerprint(primal: types.FunctionType) -> tuple[str, tuple]:
    """A digest of `primal`'s source and of everything its free names resolve to, recursively
    through the Python functions it calls; and the reads, to tell later whether they changed."""
    from symdiff.frontend.source import dependencies, read_source

    reads: list = []
    digests: dict[int, str] = {}

    def function(func: types.FunctionType) -> str:
        if id(func) in digests:
            return digests[id(func)]
        digests[id(func)] = f"cycle {len(digests)}"  # a recursive call refers back by position
        source = read_source(func)  # raises SourceChanged when the file was edited since the import
        found = dependencies([source])
        reads.extend(found)
        parts = [
            source.file,
            str(source.line_offset),
            str(source.col_offset),
            "\n".join(source.lines),
            _code(func.__code__),
            value(func.__defaults__),
            value(tuple(sorted((func.__kwdefaults__ or {}).items()))),
        ]
        parts += [f"{'.'.join(read.path)}={value(read.value)}" for read in found]
        digests[id(func)] = hashlib.sha256("\0".join(parts).encode("utf-8")).hexdigest()
        return digests[id(func)]

    def value(v: Any) -> str:
        kind = type(v)
        if kind in _SCALARS:
            return f"{kind.__name__}:{v!r}"
        if isinstance(v, np.generic):
            return f"np.{v.dtype.str}:{v!r}"
        if kind is tuple:
            return "(" + ",".join(value(item) for item in v) + ")"
        if kind is types.ModuleType:
            return f"module:{v.__name__}"
        if isinstance(v, np.ufunc):
            return f"ufunc:{v.__name__}"
        module = getattr(v, "__module__", None)
        library = isinstance(module, str) and module.split(".")[0] in _LIBRARIES
        if library and callable(v) and not hasattr(v, "__symdiff_source__"):
            return f"library:{module}.{getattr(v, '__qualname__', getattr(v, '__name__', '?'))}"
        if kind is types.FunctionType:
            return f"function:{function(v)}"
        if v is _missing():
            return "missing"
        raise _Uncacheable(kind.__name__)

    return function(primal), tuple(reads)


def _missing() -> object:
    from symdiff.frontend import source

    return source._MISSING


def _code(code: types.CodeType) -> str:
    """The parts of a code object that say what it does (`read_source` has checked the text)."""
    parts = [code.co_qualname, code.co_code.hex(), ",".join(code.co_names), ",".join(code.co_varnames)]
    parts.append(",".join(code.co_freevars))
    for const in code.co_consts:
        parts.append(_code(const) if isinstance(const, types.CodeType) else f"{type(const).__name__}:{const!r}")
    return "|".join(parts)


def current(reads: tuple) -> bool:
    """Whether every read still resolves to the value the key was computed from."""
    return all(read.unchanged() for read in reads)


# -- entries ------------------------------------------------------------------------


def load(entry: Entry) -> Stored | None:
    """The stored build for `entry`, or None. A damaged entry is deleted (and said once)."""
    from symdiff.backends import cache

    cache.checked(entry.path.parent)  # refuses a foreign-owned or world-writable directory
    try:
        text = entry.path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError):
        text = None
    stored = _parse(text, entry.key) if text is not None else None
    if stored is None:
        _discard(entry.path)
    return stored


def save(entry: Entry, stored: Stored) -> None:
    """Write `stored` as `entry`, atomically; a cache that cannot be written is left alone."""
    from symdiff.backends import cache

    payload = {
        "name": stored.name,
        "params": list(stored.params),
        "defaults": [[name, _scalar_out(v)] for name, v in stored.defaults],
        "wrt": list(stored.wrt),
        "source": stored.source,
        "helpers": list(stored.helpers),
        "carried": {name: _location_out(loc) for name, loc in stored.carried.items()},
    }
    body = json.dumps(payload, sort_keys=True)
    text = json.dumps(
        {
            "format": FORMAT,
            "key": entry.key,
            "digest": hashlib.sha256(body.encode("utf-8")).hexdigest(),
            "payload": body,
        }
    )
    try:
        cache.checked(entry.path.parent)
        cache._write_once(entry.path, text + "\n")
    except (OSError, SymdiffError):
        pass  # a read-only or refused cache: the next process builds again


def storable(defaults: tuple[tuple[str, Any], ...]) -> bool:
    """Whether default values can be written to an entry (scalars; an array cannot)."""
    return all(type(v) in (type(None), bool, int, float, str) for _, v in defaults)


def _parse(text: str, key: str) -> Stored | None:
    try:
        outer = json.loads(text)
        body = outer["payload"]
        if outer["format"] != FORMAT or outer["key"] != key:
            return None
        if hashlib.sha256(body.encode("utf-8")).hexdigest() != outer["digest"]:
            return None
        payload = json.loads(body)
        return Stored(
            name=_text(payload["name"]),
            params=tuple(_text(p) for p in payload["params"]),
            defaults=tuple((_text(name), _scalar_in(v)) for name, v in payload["defaults"]),
            wrt=tuple(_text(w) for w in payload["wrt"]),
            source=_text(payload["source"]),
            helpers=tuple(_text(h) for h in payload["helpers"]),
            carried={_text(name): _location_in(loc) for name, loc in payload["carried"].items()},
        )
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


def _text(v: Any) -> str:
    if not isinstance(v, str):
        raise TypeError(v)
    return v


def _scalar_out(v: Any) -> list:
    return [type(v).__name__, repr(v) if isinstance(v, float) else v]


def _scalar_in(tagged: list) -> Any:
    kind, v = tagged
    if kind == "float":
        return float(v)
    if kind == "NoneType" and v is None:
        return None
    if kind in ("bool", "int", "str") and type(v).__name__ == kind:
        return v
    raise TypeError(tagged)


def _location_out(loc: Location | None) -> dict | None:
    return None if loc is None else dict(vars(loc))


def _location_in(fields: dict | None) -> Location | None:
    return None if fields is None else Location(**fields)


def _discard(path: Path) -> None:
    try:
        path.unlink()
    except FileNotFoundError:
        return
    except OSError:
        pass
    warnings.warn(f"symdiff: the build cache entry {path.name} was damaged; building it again", RuntimeWarning, 3)


__all__ = ["Entry", "Stored", "current", "enabled", "entry_for", "load", "package_hash", "save", "storable"]
