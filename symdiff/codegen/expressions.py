"""LibCST expressions for single ops, with parentheses from operator precedence.

`build(eqn, operands, statics, rule)` returns the expression for one equation
given expressions for its operands. LibCST never adds parentheses by itself,
so every compound operand goes through `parenthesize`, which compares
precedence levels (Python's own table, higher binds tighter).
"""

from __future__ import annotations

import functools
import math

import libcst as cst

from symdiff.ir.nodes import Const, Eqn
from symdiff.rules import Rule

_BINARY = {
    "add": (cst.Add, 9), "sub": (cst.Subtract, 9), "mul": (cst.Multiply, 10),
    "truediv": (cst.Divide, 10), "floordiv": (cst.FloorDivide, 10), "mod": (cst.Modulo, 10),
    "matmul": (cst.MatrixMultiply, 10), "pow": (cst.Power, 12), "tuple_add": (cst.Add, 9),
}  # fmt: skip
_COMPARE = {
    "lt": cst.LessThan, "le": cst.LessThanEqual, "gt": cst.GreaterThan, "ge": cst.GreaterThanEqual,
    "eq": cst.Equal, "ne": cst.NotEqual,
}  # fmt: skip
_UNARY = {"neg": (cst.Minus, 11), "pos": (cst.Plus, 11), "not_": (cst.Not, 3)}
_BOOLEAN = {"and_": (cst.And, 2), "or_": (cst.Or, 1)}
ATOM = 14


def precedence(node: cst.BaseExpression) -> int:
    """How tightly `node` binds, on Python's scale (atoms highest)."""
    if node.lpar:
        return ATOM
    if isinstance(node, cst.BinaryOperation):
        for table_op, level in _BINARY.values():
            if isinstance(node.operator, table_op):
                return level
    if isinstance(node, cst.UnaryOperation):
        return 3 if isinstance(node.operator, cst.Not) else 11
    if isinstance(node, cst.Comparison):
        return 4
    if isinstance(node, cst.BooleanOperation):
        return 2 if isinstance(node.operator, cst.And) else 1
    return ATOM


def parenthesize(node: cst.BaseExpression, needed: bool) -> cst.BaseExpression:
    """`node` wrapped in parentheses when `needed`."""
    if not needed or node.lpar:
        return node
    return node.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()])


@functools.lru_cache(maxsize=1024)
def parsed(text: str) -> cst.BaseExpression:
    """`text` parsed as an expression, once per process: the same paths (`np.tanh`) and
    literals recur in every statement, and parsing costs more than building the statement.
    LibCST nodes are immutable, so one node may appear in many places of a tree."""
    return cst.parse_expression(text)


def constant(value, in_index: bool = False) -> cst.BaseExpression:
    """A literal: numbers, None, tuples, slices, Ellipsis, dtypes, infinities."""
    if isinstance(value, float) and not math.isfinite(value):
        text = "np.nan" if math.isnan(value) else ("np.inf" if value > 0 else "-np.inf")
        return parsed(text)
    if isinstance(value, type):
        return parsed(f"np.{value.__name__}" if value.__module__ == "numpy" else value.__name__)
    if value is Ellipsis:
        return cst.Ellipsis()
    if isinstance(value, slice):
        if in_index:
            return _slice(*(None if v is None else constant(v) for v in (value.start, value.stop, value.step)))
        return parsed(repr(value))
    if isinstance(value, tuple):
        return tuple_of([constant(v, in_index) for v in value])
    if hasattr(value, "item") and not isinstance(value, (list, dict)):
        value = value.item()
    return parsed(repr(value))


def tuple_of(items: list) -> cst.Tuple:
    elements = [cst.Element(item) for item in items]
    if len(elements) == 1:
        elements = [cst.Element(items[0], comma=cst.Comma())]
    return cst.Tuple(elements)


def _slice(lower, upper, step) -> cst.Slice:
    return cst.Slice(lower=lower, upper=upper, step=step)


def call(path: str, args: list, keywords: list[tuple[str, cst.BaseExpression]] = ()) -> cst.Call:
    """`path(args..., key=value...)`."""
    nospace = cst.SimpleWhitespace("")
    arguments = [cst.Arg(a) for a in args] + [
        cst.Arg(v, keyword=cst.Name(k), equal=cst.AssignEqual(whitespace_before=nospace, whitespace_after=nospace))
        for k, v in keywords
    ]
    return cst.Call(func=parsed(path), args=arguments)


def subscript(base: cst.BaseExpression, index: cst.BaseExpression) -> cst.Subscript:
    """`base[index]`, spreading a tuple index into elements and printing slices as `a:b`."""
    items = [e.value for e in index.elements] if isinstance(index, cst.Tuple) and index.elements else [index]
    elements = [cst.SubscriptElement(_index_item(i)) for i in items]
    return cst.Subscript(value=parenthesize(base, precedence(base) < ATOM), slice=elements)


def _index_item(item):
    if isinstance(item, cst.Slice):
        return item
    if isinstance(item, cst.Call) and isinstance(item.func, cst.Name) and item.func.value == "slice":
        parts = [a.value for a in item.args] + [cst.Name("None")] * (3 - len(item.args))
        parts = [None if isinstance(p, cst.Name) and p.value == "None" else p for p in parts]
        return _slice(*parts)
    return cst.Index(item)


def build(eqn: Eqn, operands: list, statics: dict, rule: Rule) -> cst.BaseExpression:
    """The expression computing `eqn` from already-built operand expressions."""
    op = eqn.op
    if op in _BINARY:
        kind, level = _BINARY[op]
        left, right = operands
        right_assoc = op == "pow"
        left = parenthesize(left, precedence(left) < level or (right_assoc and precedence(left) <= level))
        right = parenthesize(right, precedence(right) < level or (not right_assoc and precedence(right) <= level))
        return cst.BinaryOperation(left=left, operator=kind(), right=right)
    if op in _COMPARE:
        left, right = (parenthesize(x, precedence(x) <= 4) for x in operands)
        return cst.Comparison(left=left, comparisons=[cst.ComparisonTarget(_COMPARE[op](), right)])
    if op in _UNARY:
        kind, level = _UNARY[op]
        return cst.UnaryOperation(operator=kind(), expression=parenthesize(operands[0], precedence(operands[0]) < level))
    if op in _BOOLEAN:
        kind, level = _BOOLEAN[op]
        left, right = (parenthesize(x, precedence(x) <= level) for x in operands)
        return cst.BooleanOperation(left=left, operator=kind(), right=right)
    if op == "getitem":
        return subscript(operands[0], statics["index"])
    if op == "make_tuple":
        return tuple_of(operands)
    if op == "call":  # a call that runs as it is (rules/opaque.py), printed as the user wrote it
        return _as_written(eqn, operands)
    if rule.variadic:
        return call(rule.path, [tuple_of(operands)], _keywords(eqn, statics, rule))
    positional = list(operands)
    keywords = _keywords(eqn, statics, rule)
    required = [k for k in rule.static if k not in dict(rule.defaults)]
    positional += [statics[k] for k in required if k in statics]
    keywords = [(k, v) for k, v in keywords if k not in required]
    return call(rule.path, positional, keywords)


def _as_written(eqn: Eqn, operands: list) -> cst.Call:
    static = eqn.static_dict()
    callee, keywords, method = (static[k].value for k in ("callee", "keywords", "method"))
    positional = operands[: len(operands) - len(keywords)]
    named = list(zip(keywords, operands[len(positional) :]))
    starred = static["starred"].value if "starred" in static else None  # `rs.randn(*shape)`
    if method:
        receiver, *positional = positional
        starred = None if starred is None else starred - 1
    printed = call("f" if method else callee, positional, named)
    if starred is not None:
        arguments = list(printed.args)
        arguments[starred] = arguments[starred].with_changes(star="*")
        printed = printed.with_changes(args=arguments)
    if not method:
        return printed
    func = cst.Attribute(value=parenthesize(receiver, precedence(receiver) < ATOM), attr=cst.Name(callee))
    return printed.with_changes(func=func)


def _keywords(eqn: Eqn, statics: dict, rule: Rule) -> list:
    defaults = dict(rule.defaults)
    out = []
    for key, atom in eqn.static:
        if key in defaults and isinstance(atom, Const) and atom == Const(defaults[key]):
            continue
        out.append((key, statics[key]))
    return out
