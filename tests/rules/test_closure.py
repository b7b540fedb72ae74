"""The rule table is closed: every rule body calls only ops that have rules.

A rule's body is inlined into generated code, and symdiff differentiates
generated code again for second and higher derivatives. That works exactly
when every call, operator and subscript in every rule body resolves (through
the rule module's globals) to a registered rule or composite, and the body is
straight-line code in the supported subset. These tests read each body's
source and check both, so a rule calling an unregistered helper fails here
rather than in some user's Hessian.
"""

from __future__ import annotations

import ast
import builtins
import inspect
import operator
import textwrap
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from symdiff.rules import RULES, lookup_callable
from symdiff.rules import shapes as shape_helpers

# What the frontend turns Python syntax into; each must itself be a registered op.
_OPERATORS = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
    ast.Pow: operator.pow, ast.MatMult: operator.matmul, ast.Mod: operator.mod, ast.FloorDiv: operator.floordiv,
    ast.USub: operator.neg, ast.UAdd: operator.pos, ast.Not: operator.not_,
    ast.Lt: operator.lt, ast.LtE: operator.le, ast.Gt: operator.gt, ast.GtE: operator.ge,
    ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.And: operator.and_, ast.Or: operator.or_,
}  # fmt: skip
_ATTRIBUTES = {"T": np.transpose, "shape": np.shape, "ndim": np.ndim, "size": np.size}
# Straight-line code only: anything else in a rule body is a bug.
_ALLOWED = (
    ast.FunctionDef, ast.arguments, ast.arg, ast.Return, ast.Assign, ast.Expr, ast.Name, ast.Load, ast.Store,
    ast.Call, ast.keyword, ast.Starred, ast.Attribute, ast.BinOp, ast.UnaryOp, ast.BoolOp, ast.Compare,
    ast.Subscript, ast.Slice, ast.Tuple, ast.List, ast.Constant, ast.operator, ast.unaryop, ast.cmpop, ast.boolop,
)  # fmt: skip
_MISSING = object()

DIFFERENTIABLE = sorted(op for op, rule in RULES.items() if rule.differentiable)


def _body(op: str) -> tuple[ast.FunctionDef, dict[str, Any]]:
    vjp = RULES[op].vjp or RULES[op].vjp_each
    tree = ast.parse(textwrap.dedent(inspect.getsource(vjp))).body[0]
    tree.decorator_list = []  # the registration is not part of the body
    return tree, vjp.__globals__


def _resolve(node: ast.expr, namespace: dict[str, Any]) -> Any:
    """The object a call target names: a global, a builtin, or an attribute of one."""
    if isinstance(node, ast.Name):
        return namespace.get(node.id, getattr(builtins, node.id, _MISSING))
    if isinstance(node, ast.Attribute):
        base = _resolve(node.value, namespace)
        return _MISSING if base is _MISSING else getattr(base, node.attr, _MISSING)
    return _MISSING


def _callees(tree: ast.FunctionDef, namespace: dict[str, Any]) -> list[tuple[str, Any]]:
    """Every (source text, Python callable) that the body applies, syntax included."""
    found: list[tuple[str, Any]] = []
    for node in ast.walk(tree):
        text = ast.unparse(node) if isinstance(node, ast.expr) else type(node).__name__
        if isinstance(node, ast.Call):
            found.append((ast.unparse(node.func), _resolve(node.func, namespace)))
        elif isinstance(node, (ast.BinOp, ast.UnaryOp, ast.BoolOp)):
            found.append((text, _OPERATORS.get(type(node.op), _MISSING)))
        elif isinstance(node, ast.Compare):
            found += [(text, _OPERATORS.get(type(op), _MISSING)) for op in node.ops]
        elif isinstance(node, ast.Subscript) and _is_array(node.value, tree):
            found.append((text, operator.getitem))
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and _is_local(node.value.id, tree):
            found.append((text, _ATTRIBUTES.get(node.attr, _MISSING)))
    return found


def _is_local(name: str, tree: ast.FunctionDef) -> bool:
    args = tree.args
    params = {a.arg for a in [*args.args, *args.kwonlyargs]}
    assigned = {t.id for node in ast.walk(tree) if isinstance(node, ast.Assign) for t in node.targets if isinstance(t, ast.Name)}
    return name in params | assigned


def _is_array(node: ast.expr, tree: ast.FunctionDef) -> bool:
    """Subscripts of the variadic operand tuple pick operands at build time: not an op."""
    vararg = tree.args.vararg.arg if tree.args.vararg else None
    while isinstance(node, ast.Subscript):
        node = node.value
    return not (isinstance(node, ast.Name) and node.id == vararg)


@pytest.mark.parametrize("op", DIFFERENTIABLE)
def test_rule_body_is_straight_line(op: str) -> None:
    tree, _ = _body(op)
    for node in ast.walk(tree):
        assert isinstance(node, _ALLOWED), f"rule for {op!r}: {type(node).__name__} is not straight-line code"


@pytest.mark.parametrize("op", DIFFERENTIABLE)
def test_rule_body_calls_only_registered_ops(op: str) -> None:
    tree, namespace = _body(op)
    unresolved = [text for text, target in _callees(tree, namespace) if _registered(target) is None]
    assert not unresolved, f"rule for {op!r} calls what has no rule (second order would fail): {unresolved}"


def _registered(target: Any) -> Any:
    return None if target is _MISSING else lookup_callable(target)


def test_the_check_can_fail() -> None:
    tree = ast.parse("def vjp(g, out, x):\n    return np.nancumsum(g) + sorted(x) + x.mean() + g[0]\n").body[0]
    calls = dict(_callees(tree, {"np": np}))
    unresolved = sorted(text for text, target in calls.items() if _registered(target) is None)
    assert unresolved == ["np.nancumsum", "sorted", "x.mean"]


@pytest.mark.parametrize("op", sorted(op for op, rule in RULES.items() if rule.helper))
def test_helpers_run_without_symdiff(op: str) -> None:
    """Helpers are copied into standalone modules: they may use only NumPy and each other."""
    func: Callable = RULES[op].func
    assert func.__module__ == shape_helpers.__name__, f"helper {op!r} must live in symdiff/rules/shapes.py"
    tree = ast.parse(textwrap.dedent(inspect.getsource(func)))
    local = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
    local |= {a.arg for n in ast.walk(tree) if isinstance(n, ast.arguments) for a in [*n.args, *n.kwonlyargs, n.vararg] if a}
    imports = [n for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))]  # the helper's own
    local |= {alias.asname or alias.name.split(".")[0] for n in imports for alias in n.names}
    free = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)} - local
    helpers = {name for name, value in vars(shape_helpers).items() if inspect.isfunction(value)}
    outside = sorted(free - helpers - set(dir(builtins)) - {"np", "NonScalarOutput"})
    assert not outside, f"helper {op!r} depends on {outside}, which standalone modules do not have"
