"""Calls that run as they are: random draws, meshgrids, type tests.

Code written for autograd draws random numbers inside the function it
differentiates (`rs.randn(n, d) * np.exp(log_std) + mean`), builds grids
with `np.meshgrid` and tests types with `isinstance`. None of these needs a
derivative: their arguments are sizes, seeds and index arrays. A call to one
of them is lowered to one `call` equation that generated code prints as the
user wrote it (`rs.randn(n, d)`, `npr.normal(0.0, 1.0, n)`); its result is a
constant to the derivative, as in autograd and JAX. An argument that does
depend on a differentiated input is refused when the gradient is built
(`rs.normal(mu, 1.0)` has no derivative in `mu` here; write
`mu + rs.normal(0.0, 1.0)`).

A random draw changes its generator's state, so the optimizer never shares
two `call`s nor drops one whose result is unused (`optimize/cse.py`,
`optimize/dce.py`): the gradient sees the same draws the function does.
"""

from __future__ import annotations

import builtins
from typing import Any

import numpy as np

from symdiff.rules.registry import register_nondiff

OP = "call"
_GENERATORS = (np.random.RandomState, np.random.Generator)
_FUNCTIONS = (np.meshgrid, isinstance, np.random.default_rng, np.random.RandomState, np.random.seed)


def call(*args: Any, **kwargs: Any) -> Any:
    """Stands for every call that runs as it is (the `call` op); never called itself."""
    raise NotImplementedError("symdiff's `call` op is printed as the call it stands for")


register_nondiff(call, op=OP, path=OP)


def runs_as_is(callee: Any) -> bool:
    """Whether `callee` is called as it is, its result a constant to the derivative."""
    if isinstance(getattr(callee, "__self__", None), _GENERATORS):
        return True  # rs.randn, np.random.normal (a method of NumPy's global RandomState), rng.normal
    if any(callee is known for known in _FUNCTIONS):
        return True
    module = getattr(callee, "__module__", None) or ""
    return module.startswith("numpy.random") and callable(callee)


def is_generator(value: Any) -> bool:
    """A random generator object: its methods draw numbers (`rs.randn(3)`)."""
    return isinstance(value, _GENERATORS)


def import_line(label: str, value: Any) -> str | None:
    """How a standalone module gets the name `label` a printed `call` reads (None: it needs none).

    Raises ValueError for objects that have no import (a RandomState made at run time).
    """
    if label == "np" and value is np or getattr(builtins, label, None) is value:
        return None
    if isinstance(value, type(np)):
        return f"import {value.__name__} as {label}\n"
    module, name = getattr(value, "__module__", None), getattr(value, "__qualname__", None)
    if module and name and "." not in name:
        return f"from {module} import {name} as {label}\n"
    raise ValueError(f"{label!r} is a {type(value).__name__} object, which a module's text cannot hold")
