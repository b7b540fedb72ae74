"""autograd's way to give a function its own derivative: `primitive` and `defvjp`.

Code written for autograd marks a function `@primitive` and registers a
*VJP maker* for it: `defvjp(f, maker)`, where `maker(ans, *args)` returns the
function `g -> cotangent` (a closure over what it needs). symdiff keeps calls
to such a function as calls and inlines the maker's closure, applied to the
cotangent, into the backward pass, so the derivative reads as the user wrote
it and can be differentiated again when the maker's code is in the supported
subset. It is `symdiff.register_derivative` with autograd's calling
convention::

    from symdiff.extend import defvjp, primitive

    @primitive
    def logsumexp(x):
        m = np.max(x)
        return m + np.log(np.sum(np.exp(x - m)))

    defvjp(logsumexp, lambda ans, x: lambda g: np.full(x.shape, g) * np.exp(x - ans))
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import numpy as np

from symdiff.compose import SourceFunction, fresh_param, identifier
from symdiff.errors import SymdiffError
from symdiff.rules.registry import RULES, register_derivative

__all__ = ["defvjp", "primitive"]


def primitive(f: Callable) -> Callable:
    """Mark `f` as a primitive, as autograd does; `f` is returned unchanged.

    symdiff needs no mark: until `defvjp` gives `f` a derivative, calls to it
    are differentiated through its source like any other function.
    """
    return f


def defvjp(f: Callable, *makers: Callable | None, argnums: tuple[int, ...] | None = None) -> None:
    """Give `f` the derivative autograd's `defvjp(f, *makers)` describes.

    `makers[k](ans, *args)` returns `g -> cotangent` for the argument at
    position `argnums[k]` (by default `k`); a maker of None means that
    argument gets no cotangent. Every positional parameter of `f` is an
    operand; parameters with defaults keep them. Raises `SymdiffError` for
    an `f` whose signature cannot be read or has `*args`/`**kwargs`.
    """
    params = _parameters(f)
    argnums = tuple(range(len(makers))) if argnums is None else tuple(argnums)
    if len(argnums) != len(makers) or any(not 0 <= k < len(params) for k in argnums):
        raise SymdiffError(f"defvjp({identifier(f)}): {len(makers)} makers for argnums {argnums!r}")
    names = [name for name, _ in params]
    g = fresh_param(names, "g")
    out = fresh_param([*names, g], "out")
    namespace: dict[str, Any] = {"np": np}
    cotangents = ["None"] * len(params)
    for position, maker in zip(argnums, makers):
        if maker is not None:
            label = fresh_param([*names, g, out], f"maker_{position}")
            namespace[label] = maker
            cotangents[position] = f"{label}({out}, {', '.join(names)})({g})"
    signature = ", ".join(
        name if default is inspect.Parameter.empty else f"{name}={default!r}" for name, default in params
    )
    name = f"{identifier(f)}_vjp"
    returned = ", ".join(cotangents) if len(cotangents) > 1 else cotangents[0]
    rule = SourceFunction(f"def {name}({g}, {out}, {signature}):\n    return {returned}\n", namespace, name)
    rule.__module__ = getattr(f, "__module__", None) or "__main__"  # a user's rule: checked at its first use
    register_derivative(f, op=_op_name(f), override=True)(rule)


def _op_name(f: Callable) -> str:
    """`f`'s name, unless another function's rule has it (`exp` must stay np.exp's)."""
    name, k = identifier(f), 1
    while name in RULES and RULES[name].func is not f:
        k += 1
        name = f"{identifier(f)}_{k}"
    return name


def _parameters(f: Callable) -> list[tuple[str, Any]]:
    try:
        signature = inspect.signature(f)
    except (TypeError, ValueError):
        raise SymdiffError(f"defvjp: cannot read the signature of {identifier(f)}") from None
    params = []
    for p in signature.parameters.values():
        if p.kind not in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            raise SymdiffError(f"defvjp({identifier(f)}): parameter {p.name!r} is not positional")
        if p.default is not inspect.Parameter.empty and not isinstance(p.default, (int, float, bool, str, type(None))):
            raise SymdiffError(f"defvjp({identifier(f)}): the default of {p.name!r} is not a constant")
        params.append((p.name, p.default))
    return params
