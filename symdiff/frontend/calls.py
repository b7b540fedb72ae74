"""Lowering of calls: rules, composites, the user's own functions, nested functions, methods.

A call resolves through the function's closure and globals to a rule (one
equation), a composite (its body inlined at the call's location), a function
whose source can be read (inlined under the caller's names, so shared weights
accumulate), or a `def`/`lambda` of the function itself (inlined with its
enclosing scope). Anything else is a `NoDerivative` at the call. `Calls` is a
mixin of `Lowering` (frontend/lower.py), as `ControlFlow` is.
"""

from __future__ import annotations

import ast
import functools
import inspect
from dataclasses import replace
from typing import Any

import numpy as np

from symdiff.errors import NoDerivative, SymdiffError, UnsupportedSyntax
from symdiff.frontend.source import FunctionSource, read_source
from symdiff.frontend.subset import check_subset
from symdiff.frontend.values import (
    GROW_ROWS,
    Keywords,
    LocalFunction,
    Pack,
    Partial,
    Record,
    Rows,
    Splat,
    as_value,
    value_structure,
)
from symdiff.ir.nodes import Const, Eqn, Var
from symdiff.misc.flatten import flatten
from symdiff.rules import Composite, Rule, lookup_callable
from symdiff.rules.opaque import OP as OPAQUE
from symdiff.rules.opaque import runs_as_is
from symdiff.rules.shapes import append_row, as_float, as_integer
from symdiff.structured import Deferred

RECURSION_LIMIT = 16  # nested calls of one function while building, before it is refused

_METHODS = {
    "sum": np.sum, "mean": np.mean, "prod": np.prod, "max": np.max, "min": np.min, "var": np.var,
    "std": np.std, "reshape": np.reshape, "ravel": np.ravel, "flatten": np.ravel, "squeeze": np.squeeze,
    "transpose": np.transpose, "dot": np.dot, "clip": np.clip, "copy": np.copy, "swapaxes": np.swapaxes,
    "cumsum": np.cumsum, "cumprod": np.cumprod, "trace": np.trace, "repeat": np.repeat,
}  # fmt: skip
_PACKED_METHODS = {"reshape", "transpose"}  # x.reshape(3, 4) means x.reshape((3, 4))


class Calls:
    """Mixin for `Lowering`: calls and what they resolve to."""

    def lower_Call(self, node: ast.Call, name):
        func = node.func
        if isinstance(func, ast.Attribute):
            base = self._expr(func.value, None)
            if isinstance(base, Var):
                return self.method_call(base, func.attr, node, name)
            if isinstance(base, Pack) and base.kind is list and func.attr in ("append", "extend"):
                return self.grow_list(func, base, node)
            if isinstance(base, (Record, Keywords)) and func.attr in ("items", "keys", "values") and not node.args:
                position = ("items", "keys", "values").index(func.attr)
                return Pack(tuple(Pack(kv) if position == 0 else kv[position - 1] for kv in base.items))
            callee = self.lower_Attribute(func, None) if not isinstance(base, Var) else None
        else:
            callee = self._expr(func, None)
        return self.apply(callee, self.call_args(node), self.call_keywords(node), node, name)

    def call_keywords(self, node: ast.Call) -> dict:
        kwargs: dict = {}
        for kw in node.keywords:
            value = self._expr(kw.value, None)
            if kw.arg is not None:
                kwargs[kw.arg] = value
            elif isinstance(value, Keywords):  # f(**kwargs), passing on what this function was given
                kwargs.update(value.items)
            else:
                raise self.fail("**mapping in a call is only supported for a function's own **kwargs", kw.value)
        return kwargs

    def call_args(self, node: ast.Call) -> list:
        args: list = []
        for arg in node.args:
            if isinstance(arg, ast.Starred):
                value = self._expr(arg.value, None)
                if isinstance(value, Var):  # a shape known when running: a call run as it is takes it
                    args.append(Splat(value, arg))
                    continue
                if not isinstance(value, Pack):
                    raise self.fail("only tuples known at build time can be unpacked with *", arg)
                args.extend(value.items)
            else:
                args.append(self._expr(arg, None))
        return args

    def method_call(self, base: Var, method: str, node: ast.Call, name):
        func = _METHODS.get(method)
        if method == "astype":
            return self.astype(base, node, name)
        if func is None and self.made_by_call(base):  # rs = np.random.RandomState(0); rs.randn(3)
            return self.emit_call(method, [base, *self.call_args(node)], self.call_keywords(node), node, name, True)
        if func is None:
            error = self.fail(f"the array method .{method}() is not supported", node.func)
            error.needs_structure = method in ("items", "keys", "values")  # a dict argument's methods
            raise error
        args = self.call_args(node)
        if method in _PACKED_METHODS and len(args) > 1:
            args = [Pack(tuple(args))]
        return self.apply(func, [base, *args], self.call_keywords(node), node, name)

    # -- calls ----------------------------------------------------------------

    def apply(self, callee: Any, args: list, kwargs: dict, node: ast.Call, name):
        if not runs_as_is(callee):
            self.refuse_splat(args)
        if callee is dict and not args:  # dict(a=..., b=...): a dict known key by key
            return Record(tuple(kwargs.items()))
        if callee is len and len(args) == 1 and isinstance(args[0], (Pack, Record)):
            return Const(len(args[0].items))
        if callee is sum and len(args) == 1 and isinstance(args[0], Rows) and not kwargs:  # adds the rows up
            return self.apply(np.sum, [args[0].array], {"axis": Const(0)}, node, name)
        if callee is GROW_ROWS:  # out.append(item) in a loop that runs as a loop
            return Rows(self.apply(append_row, [args[0].array, args[1]], {}, node, name))
        if callee is len and len(args) == 1 and isinstance(args[0], Rows):
            return self.apply(len, [args[0].array], {}, node, name)
        if callee in (sum, max, min) and len(args) == 1 and isinstance(args[0], Pack) and not kwargs:
            return self.fold_items(callee, args[0].items, node, name)
        if isinstance(callee, LocalFunction):
            return self.inline_local(callee, args, kwargs, node, name)
        if callee is functools.partial and args:  # called later with these arguments first
            return Partial(args[0], tuple(args[1:]), tuple(kwargs.items()))
        if isinstance(callee, (Partial, functools.partial)):
            first = (
                callee.args if isinstance(callee, Partial) else self.python_value("partial", callee.args, None).items
            )
            keywords = dict(callee.keywords) if isinstance(callee, Partial) else callee.keywords
            return self.apply(callee.func, [*first, *args], {**keywords, **kwargs}, node, name)
        if callee is isinstance and len(args) == 2 and not kwargs:
            known = self.static_isinstance(args[0], args[1], node)
            if known is not None:
                return known
        if callee is flatten and len(args) == 1 and not kwargs:
            return self.flatten_value(args[0], node, name)
        if callee is map and len(args) >= 2 and not kwargs:  # over lists and tuples known item by item
            columns = [self.known_items(a, node) for a in args[1:]]
            return Pack(tuple(self.apply(args[0], list(items), {}, node, None) for items in zip(*columns)))
        if callee in (np.array, np.asarray):
            return self.array_call(callee, args, kwargs, node, name)
        entry = lookup_callable(callee)
        if isinstance(entry, Rule):
            return self.apply_rule(entry, args, kwargs, node, name)
        if isinstance(entry, Composite):
            if entry.check is not None:
                self.check_composite(entry, args, kwargs, node)
            return self.inline(entry.impl, args, kwargs, node, name, at_call=True)
        if callee is range:
            raise self.fail("range() is only supported as the iterable of a for loop", node)
        if getattr(callee, "__symdiff_operator__", False):
            return self.operator_call(callee, args, kwargs, node)
        if isinstance(callee, Deferred) or (hasattr(callee, "structured") and _containers(args, kwargs)):
            return self.inline_structured(callee.structured(), args, kwargs, node, name)
        if callable(callee) and (hasattr(callee, "__symdiff_source__") or _has_source(callee)):
            return self.inline(callee, args, kwargs, node, name)
        if runs_as_is(callee):
            return self.call_as_is(callee, args, kwargs, node, name)
        label = _label(callee)
        raise NoDerivative(
            f"no derivative rule for {label} and its source cannot be read",
            self.where(node),
            f"register one with @symdiff.register_derivative({label})",
        )

    def astype(self, base: Var, node: ast.Call, name):
        """`x.astype(dtype)`: a float dtype keeps the derivative, an integer or bool one has none."""
        args, kwargs = self.call_args(node), self.call_keywords(node)
        dtype = args[0] if len(args) == 1 and not kwargs else kwargs.get("dtype") if not args else None
        value = dtype.value if isinstance(dtype, Const) else dtype
        try:
            kind = np.dtype(value).kind if isinstance(value, (type, str)) else None
        except TypeError:
            kind = None
        if kind not in ("f", "i", "u", "b"):
            raise self.fail(".astype() takes one float, integer or bool dtype known when the derivative is built", node)
        helper = as_float if kind == "f" else as_integer
        return self.apply(helper, [base, Const(value)], {}, node, name)

    def call_as_is(self, callee: Any, args: list, kwargs: dict, node: ast.Call, name):
        """A call with no derivative that runs as it is (`rules/opaque.py`), printed as written.

        The name it is called through (`npr` in `npr.randn(3)`, `rs` in `rs.normal(...)`) is
        read from the function's globals or closure and passed to generated code with it.
        """
        root = node.func
        while isinstance(root, ast.Attribute):
            root = root.value
        if not isinstance(root, ast.Name):
            raise self.fail(f"call {_label(callee)} through a name", node)
        text = ast.unparse(node.func)
        value = self.lower_Name(root, None)  # the name as the function sees it: local, closure, global
        if isinstance(value, (Var, Const, Pack, Record, Keywords, LocalFunction)):
            raise self.fail(f"call {text}() through a module-level name", node)
        self.capture(root.id, value, node)  # the generated code says root.id
        return self.emit_call(text, args, kwargs, node, name, False)

    def emit_call(self, callee: str, args: list, kwargs: dict, node: ast.Call, name, method: bool):
        splats = [k for k, a in enumerate(args) if isinstance(a, Splat)]
        if len(splats) > 1:
            raise self.fail("one *tuple known only when running per call", args[splats[1]].node)
        args = [a.value if isinstance(a, Splat) else a for a in args]
        ins = [self.atom(a, node) for a in [*args, *kwargs.values()]]
        static = [("callee", Const(callee)), ("keywords", Const(tuple(kwargs))), ("method", Const(method))]
        if splats:
            static.append(("starred", Const(splats[0])))  # printed `*shape`
        return self.emit(OPAQUE, ins, static, node, name)

    def refuse_splat(self, args: list) -> None:
        """`f(*shape)` with `shape` known only when running, for an `f` that is not run as it is."""
        for arg in args:
            if isinstance(arg, Splat):
                raise self.fail("only tuples known at build time can be unpacked with *", arg.node)

    def made_by_call(self, value: Var) -> bool:
        """Whether `value` is the result of a call run as it is (a random generator made here)."""
        eqn = self.defining(value)
        return eqn is not None and eqn.op == OPAQUE

    def fold_items(self, callee, items: tuple, node: ast.Call, name):
        """`sum(xs)`, `max(xs)`, `min(xs)` of a list known item by item, as Python adds or compares them."""
        if not items:
            if callee is sum:
                return Const(0)
            raise self.fail(f"{callee.__name__}() of an empty sequence", node)
        total = Const(0) if callee is sum else None
        for k, item in enumerate(items):
            last = k == len(items) - 1
            if total is None:
                total = item
                continue
            if callee is sum:
                total = self.emit(
                    "add", [self.atom(total, node), self.atom(item, node)], (), node, name if last else None
                )
            else:
                total = self.apply(callee, [total, item], {}, node, name if last else None)
        return total

    def check_composite(self, entry: Composite, args: list, kwargs: dict, node: ast.Call) -> None:
        try:
            bound = inspect.signature(entry.impl).bind(*args, **kwargs)
        except TypeError as error:
            raise self.fail(f"{_label(entry.func)}(): {error}", node) from None
        try:
            entry.check(bound.arguments)
        except SymdiffError as error:
            raise error.located(self.where(node)) from None

    def array_call(self, callee, args, kwargs, node, name):
        if len(args) != 1 or kwargs:
            raise self.fail("np.array(...) takes one argument here", node)
        if isinstance(args[0], Pack):  # np.stack makes each item an array first, nested lists included
            return self.apply(np.stack, [args[0]], {}, node, name)
        if callee is np.asarray and isinstance(args[0], Var):
            return args[0]  # NumPy returns the array itself: a second name for it, not a copy
        return self.apply(np.copy, args, {}, node, name)

    def joined_rows(self, rule: Rule, args: list, kwargs: dict, node: ast.Call, name):
        """`np.stack(items)` / `np.concatenate(items)` of a list held as the array of its items (one
        shape): the array itself, or its first two axes merged. Along another axis it is refused."""
        axis = kwargs.get("axis", args[1] if len(args) > 1 else Const(0))
        if rule.op not in ("stack", "concatenate") or len(args) > 2 or set(kwargs) - {"axis"} or axis != Const(0):
            raise self.fail(
                f"{rule.path} of a list grown in a loop (held as the array of its items) is supported along "
                "axis 0 only",
                node,
                "np.stack(items) then np.moveaxis / np.reshape",
            )
        rows = args[0].array
        if rule.op == "stack":
            return rows
        shape = self.emit("shape", [rows], (), node)
        first, second = (self.emit("getitem", [shape], [("index", Const(k))], node) for k in (0, 1))
        rest = self.emit("getitem", [shape], [("index", Const(slice(2, None)))], node)
        joined = self.atom(Pack((self.emit("mul", [first, second], (), node),)), node)
        return self.apply(np.reshape, [rows, self.emit("tuple_add", [joined, rest], (), node)], {}, node, name)

    def apply_rule(self, rule: Rule, args: list, kwargs: dict, node: ast.Call, name):
        if not rule.differentiable or not (rule.params or rule.variadic):
            ins = [self.atom(a, node) for a in args]
            static = [(k, self.atom(v, node)) for k, v in kwargs.items()]
            self.check_rule(rule, static, node)
            return as_value(self.emit(rule.op, ins, static, node, name))
        if rule.variadic and rule.static_first and args and not isinstance(args[0], Pack):
            operands, args = list(args[len(rule.static) :]), args[: len(rule.static)]  # np.einsum(s, a, b)
            if any(isinstance(o, Pack) for o in operands):  # np.einsum(a, [0, 1], b, [1, 2]) would drop `a`
                raise self.fail(f"{rule.path}() takes its {', '.join(rule.static)} first, then array operands", node)
        elif rule.variadic and args and isinstance(args[0], Rows):
            return self.joined_rows(rule, args, kwargs, node, name)
        elif rule.variadic:
            if not args or not isinstance(args[0], Pack):
                raise self.fail(f"{rule.path} expects a list or tuple of arrays", node)
            operands, args = [self.as_array(item, node) for item in args[0].items], args[1:]
        else:
            operands = []
        order = list(rule.params if not rule.variadic else ()) + list(rule.static)
        if len(args) > len(order):
            raise self.fail(f"{rule.path} takes at most {len(order)} positional arguments here", node)
        bound = dict(zip(order, args))
        for key, value in kwargs.items():
            if key not in order or key in bound:
                raise self.fail(f"{rule.path}() does not support the keyword {key!r} here", node)
            bound[key] = value
        defaults = dict(rule.defaults)
        missing = [p for p in order if p not in bound and p not in defaults]
        if missing:
            raise self.fail(f"{rule.path}() is missing the argument {missing[0]!r}", node)
        for p in rule.params if not rule.variadic else ():  # an operand left out takes its default
            value = bound[p] if p in bound else Const(defaults[p])
            # a tuple of sizes (np.full's shape) stays a tuple, never stacked into an array
            operands.append(self.atom(value, node) if p in rule.sizes else self.as_array(value, node))
        ins = [self.atom(a, node) for a in operands]
        static = [(s, self.atom(bound.get(s, defaults.get(s)), node)) for s in rule.static]
        self.check_rule(rule, static, node)
        return self.emit(rule.op, ins, static, node, name)

    def check_rule(self, rule: Rule, static: list, node: ast.Call) -> None:
        if rule.check is not None:
            try:
                rule.check(dict(static))
            except SymdiffError as error:
                raise error.located(self.where(node)) from None

    def inline(self, func: Any, args: list, kwargs: dict, node: ast.Call, name, at_call: bool = False):
        """Lower `func`'s body here; `at_call` locates all its equations at this call (a composite's
        body is symdiff's code: errors and comments point to the user's line instead)."""
        label = _label(func)
        try:
            source = read_source(func)
        except SymdiffError as error:
            raise error.located(self.where(node)) from None
        if not isinstance(lookup_callable(func), Composite):
            self.check_recursion(source, node)
        check_subset(source, called=True)
        callee = type(self)(source, self.names, self.body, self.stack, self.free, self.in_place)
        callee.maybe_none, callee.plain = self.maybe_none, self.plain
        callee.target_hint = self.target
        callee.maybe_lists = self.maybe_lists
        callee.known = self.known
        callee.runtime_defaults = runtime_defaults(func)
        callee.bind(args, kwargs, self.where(node), label)
        if at_call:
            callee.located_at = self.where(node)
        elif getattr(self, "located_at", None) is not None:  # called from a composite: the user's line
            callee.located_at = self.located_at
        result = callee.run()
        if result is None:
            if self.discarding:  # a call used as a statement (`plot(ax, x)`): judged by the caller
                return None
            raise self.fail(f"{label}() returns no value", node)
        if name and isinstance(result, Var) and result.temp and self.body and self.body[-1].outs == (result,):
            last = self.body[-1]
            self.body[-1] = Eqn((Var(name),), last.op, last.ins, last.static, last.loc)
            return Var(name)
        return result

    def check_recursion(self, source: FunctionSource, node: ast.Call) -> None:
        """A function may call itself while each call is lowered with what it is called with (a
        list argument's items, a flag known while building), as long as that ends: beyond
        RECURSION_LIMIT nested calls, the depth is taken to be known only when running."""
        if self.stack.count(_definition(source)) >= RECURSION_LIMIT:
            known = self.known is not None
            error = self.fail(
                f"recursive call to {source.node.name}() is not supported: {RECURSION_LIMIT} nested calls while "
                "building and no end in sight (its depth must be known when the derivative is built"
                + (", and the arguments' shapes do not decide it)" if known else ")"),
                node,
                "end the recursion under an if whose condition is known when building (such as one on "
                "np.shape(x) of the arguments), or write a loop",
            )
            # A depth read from the arguments' shapes (det's A.shape[0]) is known once they are: the
            # derivative is then built for each new shape at its first call (symdiff.structured).
            error.needs_shapes = not known and _reads_shapes(source.node)
            raise error

    def inline_generator(self, func: Any, args: list, kwargs: dict, node: ast.Call, consumer) -> None:
        """Lower a generator's body here, `consumer` lowering the for loop's body at each yield."""
        if isinstance(func, LocalFunction):
            label = func.node.name
            source = replace(func.scope.source, node=func.node, name=label)
        else:
            label = _label(func)
            try:
                source = read_source(func)
            except SymdiffError as error:
                raise error.located(self.where(node)) from None
            check_subset(source, called=True, generator=True)
        self.check_recursion(source, node)
        callee = type(self)(source, self.names, self.body, self.stack, self.free, self.in_place)
        callee.maybe_none, callee.plain = self.maybe_none, self.plain
        callee.target_hint = self.target
        callee.maybe_lists = self.maybe_lists
        callee.known = self.known
        if isinstance(func, LocalFunction):
            callee.enclosing = func.scope
        else:
            callee.runtime_defaults = runtime_defaults(func)
        callee.bind(args, kwargs, self.where(node), label)
        callee.consumer, callee.top_body = consumer, callee.body
        callee.run()
        self.body = callee.body

    def inline_local(self, function: LocalFunction, args: list, kwargs: dict, node: ast.Call, name):
        """Call a nested `def` or `lambda`: its body is lowered here, its free names read from its scope."""
        definition = function.node
        label = definition.name
        source = replace(function.scope.source, node=definition, name=label)
        self.check_recursion(source, node)
        callee = type(self)(source, self.names, self.body, self.stack, self.free, self.in_place)
        callee.maybe_none, callee.plain = self.maybe_none, self.plain
        callee.enclosing = function.scope
        callee.target_hint = self.target
        callee.maybe_lists = self.maybe_lists
        callee.known = self.known
        callee.bind(args, kwargs, self.where(node), label)
        result = callee.run()
        if result is None:
            if self.discarding:  # a call used as a statement (`plot(ax, x)`): judged by the caller
                return None
            raise self.fail(f"{label}() returns no value", node)
        return result

    def bind(self, args: list, kwargs: dict, where, label: str) -> None:
        spec = self.source.node.args
        positional = [a.arg for a in spec.args]
        defaults = dict(zip(positional[len(positional) - len(spec.defaults) :], spec.defaults))
        defaults.update({a.arg: d for a, d in zip(spec.kwonlyargs, spec.kw_defaults) if d is not None})
        if spec.vararg is not None:
            self.env[spec.vararg.arg] = Pack(tuple(args[len(positional) :]))
            args = args[: len(positional)]
        if len(args) > len(positional):
            raise UnsupportedSyntax(f"{label}() takes {len(positional)} arguments, got {len(args)}", where)
        params = positional + [a.arg for a in spec.kwonlyargs]
        bound = dict(zip(positional, args))
        extra = {}
        for key, value in kwargs.items():
            if key in bound or key not in params and spec.kwarg is None:
                raise UnsupportedSyntax(f"{label}() got an unexpected argument {key!r}", where)
            if key in params:
                bound[key] = value
            else:
                extra[key] = value
        if spec.kwarg is not None:
            self.env[spec.kwarg.arg] = Keywords(tuple(extra.items()))
        for param in params:
            if param not in bound:
                if param not in defaults:
                    raise UnsupportedSyntax(f"{label}() is missing the argument {param!r}", where)
                if param in self.runtime_defaults:  # the value Python computed when the def ran
                    bound[param] = self.python_value(f"{label}_{param}", self.runtime_defaults[param], where)
                else:
                    bound[param] = self._expr(defaults[param], None)
        self.env.update(bound)
        self.params = set(params)
        self.initial = dict(bound)


def runtime_defaults(func: Any) -> dict[str, Any]:
    """The default values of a Python function's parameters, as its `def` computed them
    (`def predict(x, X=X)` inside a loop reads the loop's X, not a module name)."""
    if not inspect.isfunction(func):
        return {}
    try:
        params = inspect.signature(func).parameters.values()
    except (TypeError, ValueError):
        return {}
    return {p.name: p.default for p in params if p.default is not inspect.Parameter.empty}


def _definition(source: FunctionSource) -> tuple:
    """Which `def` this is: two functions may share a name, one function is one place in a file."""
    return (source.file, source.line_offset + source.node.lineno, source.node.col_offset, source.node.name)


def _has_source(func: Any) -> bool:
    return inspect.isfunction(func)


def _containers(args: list, kwargs: dict) -> bool:
    """Whether a call passes a list, tuple, dict or None (a derivative is built for their structure)."""
    return any(value_structure(v) is not None for v in [*args, *kwargs.values()])


_SHAPE_READS = frozenset(("shape", "ndim", "size", "len"))


def _reads_shapes(definition: ast.AST) -> bool:
    """`definition` reads a shape: `x.shape`, `len(x)`, `np.ndim(x)`, ..."""
    for node in ast.walk(definition):
        if isinstance(node, ast.Attribute) and node.attr in _SHAPE_READS:
            return True
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _SHAPE_READS:
            return True
    return False


def _label(value: Any) -> str:
    module = getattr(value, "__module__", None) or ""
    name = getattr(value, "__qualname__", None) or getattr(value, "__name__", None) or type(value).__name__
    short = {"numpy": "np", "math": "math"}.get(module.split(".")[0], module)
    return f"{short}.{name}" if short else name
