"""Numba's compile errors at the first call, rewritten as `NumbaCompileError`s a user can act on.

What the Numba backend cannot compile whatever the arguments is refused when
the gradient is built (`support`). What is left depends on the types
of the arguments (a rank-3 array given to `@`, a loop variable that starts as
a float and becomes an array), and Numba reports it as a page of nested
typing errors whose first line ends at "found for signature:". `explain`
keeps what matters: the reason (the innermost error, preferring the
backend's own messages), the call and argument types that failed, and the
generated line with the user's statement it differentiates.

Imports only the standard library and `symdiff.errors`.
"""

from __future__ import annotations

import os
import re

from symdiff.errors import BackendError


class NumbaCompileError(BackendError):
    """Numba could not compile a gradient for the types of the arguments it was called with."""


class NumbaFallbackWarning(RuntimeWarning):
    """The numba backend ran a gradient with NumPy because the user allowed a fallback."""


_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_UNIFY = re.compile(r"Cannot unify (.+?) and (.+?) for '([A-Za-z_]\w*)")
_REASON = re.compile(r"^\s*(?:\w+Error|\w+Exception): (.+)$")
_CALL = re.compile(r"^\s*>>> (.+)$")
_FILE_LINE = re.compile(r'File "([^"]+)", line (\d+)')
_BOILERPLATE = ("Failed in ", "No implementation of function", "Rejected as the implementation")
_HINT = "use backend='numpy' for these arguments, or set SYMDIFF_NUMBA_FALLBACK=numpy to fall back with a warning"


def explain(error: Exception, name: str, carried: dict, source: str = "") -> NumbaCompileError:
    """A `NumbaCompileError` for `error`, raised while Numba compiled the generated function `name`."""
    text = _ANSI.sub("", str(error))
    match = _UNIFY.search(text)
    if match is not None and match.group(3) in carried:
        first, second, variable = match.groups()
        hint = f"start {variable!r} with the type the loop gives it (e.g. np.zeros_like(...) instead of 0.0)"
        if "float32" in first and "float64" in second:
            hint = "pass float64 arrays (Numba computes a float32 array times a Python float in float64, NumPy in float32)"
        return NumbaCompileError(
            f"numba cannot compile {name}: the loop variable {variable!r} is {first} before an iteration "
            f"and {second} after it, and Numba gives each variable one type",
            carried[variable],
            f"{hint}, or use backend='numpy'",
        )
    parts = [f"numba could not compile {name} for these arguments: {reason(error, text)}"]
    calls = [m.group(1).strip() for m in map(_CALL.match, text.splitlines()) if m]
    if calls:
        parts.append(f"the call that failed: {calls[0]}")
    where = generated_line(text, name, source)
    if where:
        parts.append(where)
    return NumbaCompileError("; ".join(parts), None, _HINT)


def reason(error: Exception, text: str) -> str:
    """The innermost error message in Numba's report, the backend's own if there is one."""
    reasons = [m.group(1).strip() for m in map(_REASON.match, text.splitlines()) if m]
    reasons = [r for r in reasons if not r.startswith(_BOILERPLATE)]
    own = [r for r in reasons if "numba backend" in r]
    if own or reasons:
        return (own or reasons)[-1]
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith(_BOILERPLATE)]
    return lines[0] if lines else type(error).__name__


def generated_line(text: str, name: str, source: str) -> str:
    """`generated line N: <code>`, and the user's statement it belongs to, for the last frame in `name`'s module."""
    frames = [int(m.group(2)) for m in _FILE_LINE.finditer(text) if os.path.basename(m.group(1)).startswith(f"{name}_")]
    lines = source.splitlines()
    if not frames or not 0 < frames[-1] <= len(lines):
        return ""
    number = frames[-1]
    found = f"generated line {number}: `{lines[number - 1].strip()}`"
    for line in reversed(lines[: number - 1]):
        if line.strip().startswith("# grad of:"):
            return f"{found}, in the backward pass of `{line.strip()[len('# grad of:'):].strip()}`"
        if line.strip().startswith("def "):
            break
    return found


__all__ = ["NumbaCompileError", "explain"]
