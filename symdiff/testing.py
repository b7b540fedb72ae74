"""Checking derivatives numerically: `check_derivative`, shipped for users.

Use it to test a rule registered with `symdiff.register_derivative`, or any
function before trusting its generated gradient. The check is the dot-product
test: for a random output cotangent `u` and random input directions `v`,

    <vjp(u), v>  ==  <u, (f(x + eps v) - f(x - eps v)) / (2 eps)>

where the left side is symdiff's reverse mode and the right side a central
finite difference in float64. `order=2` runs the same test one level up, on
the gradient of a function that calls the generated derivative, so it checks
that the rules' bodies are themselves differentiated correctly.

This module uses only the public operators (`vjp`, `grad`) and
`symdiff.compose` to write the calling function.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from symdiff.api import grad, vjp
from symdiff.compose import SourceFunction, fresh_param
from symdiff.errors import BadWrt

__all__ = ["check_derivative", "check_grads"]


def check_derivative(
    f: Callable,
    args: Sequence[Any],
    wrt: int | str | Sequence[int | str] = 0,
    order: int = 1,
    rtol: float = 1e-6,
    atol: float = 1e-8,
    *,
    eps: float = 1e-6,
    trials: int = 2,
    seed: int = 0,
) -> None:
    """Check symdiff's derivatives of `f` at `args` against central finite differences.

    `wrt` is an argument index or name, or several. `order=1` checks the
    vector-Jacobian product; `order=2` also checks the derivative of that
    derivative with respect to every `wrt` argument (mixed partials
    included). Each of `trials` rounds draws a fresh random cotangent and
    random directions from `seed`, never all ones. The two sides must agree
    within `atol + rtol * scale`, where `scale` sums the magnitudes of the
    terms of the dot product. Raises `AssertionError` saying which order
    disagrees and by how much; returns None when all agree.

    Example::

        import numpy as np
        from symdiff.testing import check_derivative

        def loss(w, x):
            return np.sum(np.tanh(x @ w) ** 2)

        check_derivative(loss, (np.ones(3), np.eye(3)), wrt="w", order=2)

    Inputs should lie where `f` is smooth (no kink of `abs`, `max` or
    `clip` within `eps`) and inside its domain.
    """
    if order not in (1, 2):
        raise ValueError(f"order must be 1 or 2, got {order!r}")
    args = [_as_float(a) for a in args]
    indices = _indices(f, wrt, len(args))
    rng = np.random.default_rng(seed)
    for _ in range(trials):
        _dot_product_test(f, args, indices, rng, rtol, atol, eps, "first derivative")
    if order == 2:
        for k in indices:
            first = vjp(f, wrt=k)  # (*args, u) -> d<u, f>/d args[k]
            cotangent = _random_like(f(*args), rng)
            through = _calling(first, len(args) + 1)
            for _ in range(trials):
                _dot_product_test(
                    first, [*args, cotangent], indices, rng, rtol, atol, eps,
                    f"second derivative (through the derivative with respect to argument {k})", through,
                )  # fmt: skip


def _dot_product_test(f, args, indices, rng, rtol, atol, eps, what, reverse=None) -> None:
    """One round of the dot-product test; `reverse` computes the VJP (default: `vjp(f)`)."""
    out = f(*args)
    u = _random_like(out, rng)
    directions = {k: _random_like(args[k], rng) for k in indices}
    if reverse is None:
        cotangents = vjp(f, wrt=tuple(indices))(*args, u)
    else:
        cotangents = reverse(tuple(indices))(*args, u)
    cotangents = cotangents if isinstance(cotangents, tuple) else (cotangents,)
    terms = [np.asarray(c) * directions[k] for k, c in zip(indices, cotangents)]
    symbolic = float(sum(np.sum(t) for t in terms))
    plus = f(*_moved(args, directions, eps))
    minus = f(*_moved(args, directions, -eps))
    numeric = float(np.sum(u * (np.asarray(plus) - np.asarray(minus)) / (2 * eps)))
    scale = max(float(sum(np.sum(np.abs(t)) for t in terms)), abs(numeric))
    allowed = atol + rtol * scale
    if not abs(symbolic - numeric) <= allowed:  # written so that NaN fails
        raise AssertionError(
            f"{what} of {getattr(f, '__name__', f)!r} disagrees with finite differences: "
            f"<vjp(u), v> = {symbolic!r} but <u, J v> = {numeric!r} "
            f"(difference {abs(symbolic - numeric):.3g}, allowed {allowed:.3g})"
        )


def _calling(first: Callable, arity: int) -> Callable[[tuple[int, ...]], Callable]:
    """`wrt -> grad of (lambda *a, w: sum(w * first(*a)))`: the meta-gradient of `first`.

    The wrapper is written as source text, so symdiff differentiates a
    function that calls the generated derivative, as a user's meta-learning
    code would. Its VJP with cotangent `w` is the gradient with respect to `wrt`.
    """
    names = [f"a{i}" for i in range(arity)]
    w = fresh_param(names, "w")
    text = f"def calls_derivative({', '.join(names)}, {w}):\n    return np.sum(first({', '.join(names)}) * {w})\n"
    wrapper = SourceFunction(text, {"np": np, "first": first}, "calls_derivative")

    def reverse(wrt: tuple[int, ...]) -> Callable:
        return grad(wrapper, wrt=wrt)

    return reverse


def _indices(f: Callable, wrt: Any, count: int) -> list[int]:
    items = list(wrt) if isinstance(wrt, (tuple, list)) else [wrt]
    indices = []
    for item in items:
        if isinstance(item, str):
            try:
                names = list(inspect.signature(f).parameters)
            except (TypeError, ValueError):
                raise BadWrt(f"cannot look up argument {item!r} by name; pass its index") from None
            if item not in names:
                raise BadWrt(f"{getattr(f, '__name__', f)!r} has no argument {item!r}")
            item = names.index(item)
        if isinstance(item, bool) or not isinstance(item, int) or not -count <= item < count:
            raise BadWrt(f"wrt={item!r} is not an index of one of the {count} arguments")
        indices.append(item % count)
    return indices


def _as_float(value: Any) -> Any:
    """Float arguments in float64 (the finite differences need it); others unchanged."""
    if isinstance(value, (float, np.floating)):
        return float(value)
    if isinstance(value, np.ndarray) and value.dtype.kind == "f":
        return value.astype(np.float64)
    return value


def _random_like(value: Any, rng: np.random.Generator) -> Any:
    drawn = rng.normal(size=np.shape(value))
    return float(drawn) if np.ndim(value) == 0 else drawn


def _moved(args: list, directions: dict[int, Any], step: float) -> list:
    return [a + step * directions[k] if k in directions else a for k, a in enumerate(args)]


def check_grads(f: Callable, modes: Sequence[str] = ("fwd", "rev"), order: int = 2) -> Callable[..., None]:
    """autograd's `check_grads`: `check_grads(f, modes=["rev"], order=2)(*args)` checks the
    derivatives of `f` at `args` with respect to every floating-point argument.

    symdiff's forward mode is built from its reverse mode, so `modes` (any of
    "fwd" and "rev") select the same check; `order` is 1 or 2. Raises
    `AssertionError` where a derivative disagrees with finite differences
    (see `check_derivative`).
    """
    unknown = set(modes) - {"fwd", "rev"}
    if unknown or not modes:
        raise ValueError(f"modes must be 'fwd' and/or 'rev', got {modes!r}")
    if order not in (1, 2):
        raise ValueError(f"symdiff checks derivatives of order 1 or 2, got order={order!r}")

    def check(*args: Any) -> None:
        wrt = tuple(k for k, a in enumerate(args) if np.issubdtype(np.asarray(a).dtype, np.floating))
        if wrt:
            check_derivative(f, args, wrt=wrt, order=order)

    return check
