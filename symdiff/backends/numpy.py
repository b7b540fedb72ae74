"""The NumPy backend: execute the generated source as it is.

The source is compiled under a pseudo file name registered with `linecache`,
so tracebacks and pdb show the generated lines. The namespace holds NumPy,
the real helper objects from `symdiff.rules.shapes` (so symdiff recognises
them as primitives when it differentiates this code again) and any module
constants the function reads.
"""

from __future__ import annotations

import builtins
import linecache
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from symdiff.codegen.emit import function_source, helpers_used
from symdiff.ir.nodes import Function, walk
from symdiff.rules import RULES


def namespace_for(function: Function) -> dict[str, Any]:
    """Globals the generated function needs."""
    namespace: dict[str, Any] = {"np": np, "__name__": "symdiff_generated"}
    for name in helpers_used(function):
        rule = next(r for r in RULES.values() if r.path == name and r.helper)
        namespace[name] = rule.func
    for eqn in walk(function.body):
        rule = RULES[eqn.op]
        if _is_user_rule(rule):
            namespace.setdefault(rule.path, rule.func)  # a user's function with a registered rule
    namespace.update(dict(function.free))
    return namespace


def compile_source(source: str, name: str, namespace: dict[str, Any], filename: str) -> Callable:
    """Execute `source` in `namespace` and return the function called `name`."""
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    exec(compile(source, filename, "exec"), namespace)  # noqa: S102 - our own generated code
    return namespace[name]


@dataclass(frozen=True)
class Compiled:
    """What every backend returns: the callable, the source it runs, its globals (and for the Numba
    backend where each printed loop variable is carried, for its error messages, and the callable
    for arguments of other dtypes than float64)."""

    function: Callable
    source: str
    namespace: dict[str, Any]
    carried: dict[str, Any] = field(default_factory=dict)
    # Numba: what a call runs whose differentiated arguments are not all float64 (a float32 twin)
    mixed: Callable | None = None


def compile_function(function: Function, filename: str) -> Compiled:
    """Compile `function` for the NumPy backend: its readable source, executed as is."""
    source = function_source(function)
    namespace = namespace_for(function)
    return Compiled(compile_source(source, function.name, namespace, filename), source, namespace)


def build_options() -> dict[str, Any]:
    """What, besides the IR, decides this backend's output: nothing (a key part for build_cache.py)."""
    return {}


def compile_stored(stored, filename: str) -> Compiled:
    """Run the source a build printed earlier (`build_cache.Stored`): its helpers by name, from the rule
    table. A stored build has no user rules and no module arrays (build_cache.py refuses those)."""
    namespace: dict[str, Any] = {"np": np, "__name__": "symdiff_generated"}
    for name in stored.helpers:
        rule = next(r for r in RULES.values() if r.path == name and r.helper)
        namespace[name] = rule.func
    return Compiled(compile_source(stored.source, stored.name, namespace, filename), stored.source, namespace)


def _is_user_rule(rule) -> bool:
    """A rule registered by a user for one of their own functions (called by its name)."""
    module = getattr(rule.func, "__module__", "") or ""
    return rule.path.isidentifier() and not hasattr(builtins, rule.path) and not module.startswith("symdiff")
