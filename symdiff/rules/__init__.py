"""The derivative table. Importing this package registers every built-in rule (and, in
`tangents`, forward mode's table, which builds on the vjp rules)."""

from symdiff.rules import elementwise, linalg, nondiff, opaque, reductions, shape_ops, special, stats, tangents  # noqa: F401
from symdiff.rules.registry import RULES, Composite, Rule, lookup_callable, register_derivative, rule

__all__ = ["RULES", "Composite", "Rule", "lookup_callable", "register_derivative", "rule"]
