"""A content-addressed cache of generated modules on disk, safe across processes.

Numba's on-disk cache (`cache=True`) only works for functions defined in a
real file, and keys its entries by that file's path and modification time.
So each generated module is written once to
`<cache dir>/<name>_<key>.py`, where `key` hashes the source together with
the versions of symdiff, Numba and the helper modules it imports: a changed
function, a changed helper or an upgrade gives a new file, never a stale one.

Writes are atomic: the text goes to a temporary file in the same directory,
which is then linked to the final name only if that name is still free
(`os.link` fails rather than overwrite), falling back to `os.replace` on file
systems without hard links. A file that exists is never rewritten when its
content is right, so its modification time, and with it Numba's cache index,
stays valid for every process. A reader therefore sees either no file or a
complete one.

The directory is `$SYMDIFF_CACHE_DIR`, else `$XDG_CACHE_HOME/symdiff`, else
`~/.cache/symdiff`. What is in it runs as code (the modules, and Numba's
index, a pickle), so a directory another user owns or anyone may write to is
refused, with its `__pycache__`, before anything is read from it; symdiff
creates its directory readable by its owner only. A module is executed from
the source symdiff generated and verified, never from a `.pyc`.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import re
import sys
import tempfile
from pathlib import Path
from types import ModuleType

from symdiff.errors import BackendError


def cache_dir() -> Path:
    """Where generated modules live (created on first use)."""
    configured = os.environ.get("SYMDIFF_CACHE_DIR")
    if configured:
        return Path(configured).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "symdiff"


def enabled() -> bool:
    """Whether `SYMDIFF_BUILD_CACHE` (default on) leaves the caches it governs on: built derivatives
    (symdiff/build_cache.py) and the CUDA backend's modules and kernels."""
    return os.environ.get("SYMDIFF_BUILD_CACHE", "1").strip().lower() not in ("0", "false", "no", "off")


def content_key(source: str, *versions: str) -> str:
    """A hex digest of `source` and the versions it depends on."""
    digest = hashlib.sha256()
    for part in (source, *versions):
        digest.update(part.encode("utf-8"))
        digest.update(b"\0")
    return digest.hexdigest()[:24]


def _write_once(path: Path, text: str) -> None:
    handle, temporary = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        try:
            os.link(temporary, path)  # fails if another process got there first: keep theirs
        except FileExistsError:
            pass
        except OSError:
            os.replace(temporary, path)
            return
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)


def checked(directory: Path) -> Path:
    """`directory`, after refusing one that another user owns or that anyone may write to
    (its `__pycache__` too): code is read from it. Creates it, private, if it is missing."""
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        for place in (directory, directory / "__pycache__"):
            if place.exists():
                _refuse_unsafe(place)
    except OSError as error:
        raise BackendError(
            f"cannot use the numba cache in {directory}: {error}",
            hint="set SYMDIFF_CACHE_DIR to a writable directory",
        ) from None
    return directory


def _refuse_unsafe(place: Path) -> None:
    status = place.stat()
    if hasattr(os, "getuid") and status.st_uid != os.getuid():
        problem = f"{place} belongs to another user (uid {status.st_uid})"
    elif status.st_mode & 0o002:
        problem = f"{place} is writable by every user (mode {oct(status.st_mode & 0o777)})"
    else:
        return
    raise BackendError(
        f"refusing the numba cache: {problem}, and what is in it runs as code",
        hint="set SYMDIFF_CACHE_DIR to a directory of your own that only you can write to",
    )


def store(name: str, source: str, key: str) -> Path:
    """The path of a file holding exactly `source`, written atomically if missing."""
    directory = checked(cache_dir())
    try:
        path = directory / f"{name}_{key}.py"
        if _read(path) != source:
            if path.exists():  # damaged (e.g. edited by hand): replace it as a whole
                path.unlink()
            _write_once(path, source)
    except OSError as error:
        raise BackendError(
            f"cannot write the numba cache in {directory}: {error}",
            hint="set SYMDIFF_CACHE_DIR to a writable directory",
        ) from None
    return path


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except (FileNotFoundError, UnicodeDecodeError):
        return None


def import_file(path: Path, source: str | None = None) -> ModuleType:
    """Import the module at `path` under a name derived from its file name.

    Given `source` (what `store` wrote there), that text is compiled and run under the
    file's name (which Numba's cache keys on): no `.pyc` is read or written for it.
    """
    module_name = f"symdiff_cache_{path.stem}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    checked(path.parent)
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise BackendError(f"cannot import the generated module {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        if source is None:
            spec.loader.exec_module(module)
        else:
            exec(compile(source, str(path), "exec"), module.__dict__)  # noqa: S102 - our own generated code
    except BaseException:
        del sys.modules[module_name]
        raise
    return module


_ENTRY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*_[0-9a-f]{24}\.(py|json)$")


def entries(directory: Path) -> list[Path]:
    """The files symdiff wrote in `directory`: generated modules named `<name>_<key>.py`, built
    derivatives `<name>_build_<key>.json` (symdiff/build_cache.py) and what Python and Numba
    cached for the modules in `__pycache__` (other files are not symdiff's)."""
    if not directory.is_dir():
        return []
    modules = [path for path in directory.iterdir() if path.is_file() and _ENTRY.match(path.name)]
    stems = {path.stem for path in modules}
    cached = directory / "__pycache__"
    compiled = [
        path for path in (cached.iterdir() if cached.is_dir() else ())
        if path.is_file() and path.name.split(".")[0] in stems
    ]  # fmt: skip
    return modules + compiled


def clear(directory: Path) -> int:
    """Remove `entries(directory)`; returns how many files went."""
    removed = 0
    for path in entries(directory):
        try:
            path.unlink()
            removed += 1
        except FileNotFoundError:  # another process removed it first
            pass
    return removed


__all__ = ["cache_dir", "checked", "clear", "content_key", "enabled", "entries", "import_file", "store"]
