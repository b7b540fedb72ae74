"""Checking a user's derivative rule the first time a derivative that uses it runs.

A rule registered by a user (`Rule.user`) is trusted to return one cotangent
per operand with the operand's shape, but a mistake (a scalar for a vector
operand) would otherwise be broadcast silently into a wrong gradient. So the
first call of such a derivative runs the function's forward program once
with NumPy, with each user op's call replaced by `checking_call`: it computes
the op as before, calls the rule's vjp (a plain function) on the same
operands, and raises `BadRule`, naming the rule and the call site, unless the
cotangents fit (`check_cotangents`). The generated source is not changed and
later calls cost nothing.

Imports: errors and the registry only.
"""

from __future__ import annotations

import linecache
from collections.abc import Callable, Collection, Sequence
from typing import Any

import numpy as np

from symdiff.errors import BadRule, Location
from symdiff.rules.registry import Rule, _describe


def checking_call(rule: Rule, positions: Collection[int], where: str) -> Callable:
    """`rule.func` called as generated code calls it, that also checks the rule's cotangents.

    The wrapper computes the op's output, then calls the rule's vjp (a plain
    function) on the same operands with a cotangent of ones shaped like the
    output, and raises `BadRule` unless every cotangent for an operand at
    `positions` fits it (`check_cotangents`). `where` names the call site for
    the message. Generated code spells a call `path(*operands, *required
    static, **other static)`, or `path(operands, **static)` for variadic ops.
    """
    defaults = dict(rule.defaults)
    required = [name for name in rule.static if name not in defaults]

    def checked(*args: Any, **kwargs: Any) -> Any:
        out = rule.func(*args, **kwargs)
        if rule.variadic:
            operands, static = list(args[0]), dict(kwargs)
        else:
            count = len(rule.params)
            operands, static = list(args[:count]), {**dict(zip(required, args[count:])), **kwargs}
        seed = np.ones(np.shape(out), dtype=_floating(out))
        try:
            if rule.vjp_each is not None:
                cotangents = tuple(rule.vjp_each(seed, out, k, *operands, **static) for k in range(len(operands)))
            else:
                cotangents = rule.vjp(seed, out, *operands, **static)
        except Exception as error:  # any failure of the user's rule is reported as its failure
            raise BadRule(
                f"the derivative rule {_describe(rule.vjp or rule.vjp_each)} for {rule.path} (called at {where}) "
                f"raised {type(error).__name__}: {error}",
                rule_location(rule),
            ) from error
        if not isinstance(cotangents, tuple):
            cotangents = (cotangents,)
        check_cotangents(rule, out, operands, cotangents, positions, where)
        return out

    return checked


def check_cotangents(
    rule: Rule, out: Any, operands: Sequence, cotangents: Sequence, positions: Collection[int], where: str
) -> None:
    """Raise `BadRule` unless each cotangent for an operand at `positions` fits that operand.

    Fitting means: the operand's shape (or, for an elementwise rule, the
    output's shape, which the reverse pass sums back), and a floating dtype
    (complex only for a complex operand). Operands that are not floating
    (indices, flags) are not checked; a `None` cotangent means none.
    """
    name = _describe(rule.vjp or rule.vjp_each)
    if len(cotangents) != len(operands):
        raise BadRule(
            f"the derivative rule {name} for {rule.path} (called at {where}) returned {len(cotangents)} "
            f"cotangents for {len(operands)} operands",
            rule_location(rule),
        )
    for k in sorted(positions):
        operand, cotangent = operands[k], cotangents[k]
        kind = np.result_type(operand).kind if _is_numeric(operand) else None
        if cotangent is None or kind not in ("f", "c"):
            continue
        label = f"operand {rule.params[k]!r}" if k < len(rule.params) and not rule.variadic else f"operand {k}"
        allowed = {np.shape(operand)} | ({np.shape(out)} if rule.elementwise else set())
        problem = None
        if not _is_numeric(cotangent):
            problem = f"a {type(cotangent).__name__}"
        elif np.shape(cotangent) not in allowed:
            problem = f"a cotangent of shape {np.shape(cotangent)} for {label} of shape {np.shape(operand)}"
        elif np.result_type(cotangent).kind not in ("fc" if kind == "c" else "f"):
            problem = f"a cotangent of dtype {np.result_type(cotangent)} for {label} of dtype {np.result_type(operand)}"
        if problem is not None:
            if not problem.startswith("a cotangent"):
                problem = f"{problem} as the cotangent of {label}"
            raise BadRule(
                f"the derivative rule {name} for {rule.path} (called at {where}) returned {problem}",
                rule_location(rule),
            )


def rule_location(rule: Rule) -> Location | None:
    """Where the rule's vjp is defined, for errors about what it returns."""
    code = getattr(rule.vjp or rule.vjp_each, "__code__", None)
    if code is None:
        return None
    return Location(code.co_filename, code.co_firstlineno, 0, linecache.getline(code.co_filename, code.co_firstlineno))


def _is_numeric(value: Any) -> bool:
    return isinstance(value, (np.ndarray, np.generic, int, float, complex)) and not isinstance(value, bool)


def _floating(value: Any) -> np.dtype:
    dtype = np.result_type(value) if _is_numeric(value) else np.dtype(float)
    return dtype if dtype.kind in "fc" else np.dtype(float)


class _Checked:
    """A module as generated code sees it, with some of its functions replaced by checking wrappers."""

    def __init__(self, module: Any, replaced: dict[str, Any]):
        self._module, self._replaced = module, replaced

    def __getattr__(self, name: str) -> Any:
        found = self._replaced.get(name)
        if found is None:
            return getattr(self._module, name)
        return _Checked(getattr(self._module, name), found) if isinstance(found, dict) else found


def install_checks(namespace: dict[str, Any], checks: dict[str, tuple[Rule, set[int], str]]) -> None:
    """Point each user op's path (`np.cbrt`, `softplus`) in `namespace` at its `checking_call`."""
    replaced: dict[str, Any] = {}
    for rule, positions, where in checks.values():
        root, *attributes = rule.path.split(".")
        wrapper = checking_call(rule, positions, where)
        if not attributes:
            namespace[root] = wrapper
            continue
        node = replaced.setdefault(root, {})
        for attribute in attributes[:-1]:
            node = node.setdefault(attribute, {})
        node[attributes[-1]] = wrapper
    for root, inner in replaced.items():
        if root in namespace:
            namespace[root] = _Checked(namespace[root], inner)


__all__ = ["check_cotangents", "checking_call", "install_checks", "rule_location"]
