"""Errors symdiff raises: typed, located, actionable and picklable.

Every error a user can meet derives from `SymdiffError`, and each subclass also
derives from the builtin it most resembles (`UnsupportedSyntax` is a
`SyntaxError`, `BadWrt` a `ValueError`, ...), so generic handlers still work.
An error keeps its `message` apart from its `Location`; inner stages raise
without a location and the frontend fills it in with `located()`. The rendered
form follows LibCST: ``file:line:col: message``, the source line, a caret, a
hint, and a pointer to ``docs/errors.md#ClassName``.

This module imports nothing from the rest of symdiff.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Location:
    """Where a construct sits in the user's source (1-based line, 0-based col)."""

    file: str
    line: int
    col: int
    source_line: str = ""
    end_col: int | None = None
    text: str = ""  # the whole statement, quoted in generated comments
    note: str = ""  # a comment generated code prints above the statement (transforms/stable.py)

    def render(self) -> str:
        """`file:line:col` followed by the source line and a caret under the construct."""
        head = f"{self.file}:{self.line}:{self.col + 1}"
        if not self.source_line:
            return head
        stripped = self.source_line.rstrip()
        indent = len(stripped) - len(stripped.lstrip())
        width = 1
        if self.end_col is not None and self.end_col > self.col:
            width = min(self.end_col, len(stripped)) - self.col
        caret = " " * (self.col - indent) + "^" * max(width, 1)
        return f"{head}\n    {stripped.lstrip()}\n    {caret}"


class SymdiffError(Exception):
    """Base class of every error symdiff raises on purpose."""

    default_hint = ""

    def __init__(self, message: str, location: Location | None = None, hint: str | None = None):
        super().__init__(message, location, hint)
        self.message = message
        self.location = location
        self.hint = self.default_hint if hint is None else hint

    def located(self, location: Location | None) -> SymdiffError:
        """This error with `location` filled in, unless it already has one."""
        if self.location is not None or location is None:
            return self
        located = type(self)(self.message, location, self.hint)
        located.__dict__.update({k: v for k, v in vars(self).items() if k not in ("message", "location", "hint")})
        return located  # with the flags callers read (`needs_structure`, ...)

    def __str__(self) -> str:
        parts = []
        if self.location is not None:
            where = self.location.render().split("\n", 1)
            parts.append(f"{where[0]}: {self.message}")
            parts.extend(where[1:])
        else:
            parts.append(self.message)
        if self.hint:
            parts.append(f"hint: {self.hint}")
        parts.append(f"see docs/errors.md#{type(self).__name__}")
        return "\n".join(parts)


class UnsupportedSyntax(SymdiffError, SyntaxError):
    """A Python construct outside the supported subset (docs/subset.md)."""

    default_hint = "see docs/subset.md for what symdiff can differentiate"

    def __init__(self, message: str, location: Location | None = None, hint: str | None = None):
        SymdiffError.__init__(self, message, location, hint)

    def __str__(self) -> str:
        return SymdiffError.__str__(self)


class NoDerivative(SymdiffError, NotImplementedError):
    """A call to something with no derivative rule and no readable source."""


class NoTangentRule(NoDerivative):
    """Forward mode has no tangent rule for an op (reverse mode may still differentiate it)."""

    default_hint = (
        "differentiate this function in reverse mode (grad, vjp); jvp and hvp fall back to it by themselves"
    )


class NoSparsityPattern(SymdiffError, ValueError):
    """`sparse_hessian`/`sparse_jacobian` cannot read the nonzeros from the code: an index or an
    order depends on the differentiated argument (or its branches combine more than 64 ways), so a
    pattern would hold for one x only."""

    default_hint = "pass pattern= (the nonzeros, as a scipy.sparse matrix or a boolean array), or use hessian/jacobian"


class UndefinedDerivative(SymdiffError, ValueError):
    """A derivative that does not exist mathematically (e.g. of a sort order)."""


class BadWrt(SymdiffError, ValueError):
    """`wrt` names no argument, is out of range, or names a non-differentiable one."""

    default_hint = "pass an argument index or name, or a tuple of them"


class BadPartition(SymdiffError, ValueError):
    """`symdiff.distributed`: the `data` arguments are not Dask arrays split alike into row blocks."""

    default_hint = "give every data argument the same row chunks: x.rechunk({0: chunks}) or from_array(x, chunks=...)"


class NonScalarOutput(SymdiffError, ValueError):
    """`grad` was asked for the gradient of a function whose output is not a scalar."""

    default_hint = "use symdiff.vjp for non-scalar outputs, or symdiff.jacobian for the full matrix"


class DuplicateRule(SymdiffError, ValueError):
    """A derivative rule was registered twice for the same operation."""


class BadRule(SymdiffError, ValueError):
    """A user's derivative rule returned cotangents that do not fit its operands (number, shape or dtype)."""

    default_hint = (
        "return one cotangent per operand, with that operand's shape and a floating dtype "
        "(an elementwise rule may also return the output's shape); see docs/custom-rules.md"
    )


class BackendError(SymdiffError, RuntimeError):
    """A backend cannot run this program (unsupported op or construct)."""


class SourceUnavailable(SymdiffError, OSError):
    """The source of a function cannot be read (built-in, lambda, REPL, exec)."""

    default_hint = "define the function in a .py file, or register a rule for it"


class SourceChanged(SourceUnavailable):
    """The function's source file was edited after the function was imported.

    symdiff differentiates the source text, so it refuses rather than
    differentiate text that is not the code that runs.
    """

    default_hint = "re-import the module (importlib.reload(module)) or restart the process, then build again"
