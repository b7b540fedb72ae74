"""Lowering: a checked `ast.FunctionDef` -> a `Function` (the Wengert list).

Each user statement becomes one or more equations with one primitive each;
nested expressions get temporaries named after the statement's target
(`h_1`, `h_2` for `h = ...`). Calls are lowered by the `Calls` mixin
(frontend/calls.py), control flow by `ControlFlow` (frontend/control.py, after
frontend/jumps.py has made loop jumps flags). Python-level values that are not
arrays (lists, tuples, dicts, modules, functions; frontend/values.py) live only
here, at lowering time; the IR sees atoms.

Imports: errors, ir, rules (as data), and the frontend's own modules.
"""

from __future__ import annotations

import ast
import inspect
from typing import Any

import numpy as np

from symdiff.analysis.static_shapes import KnownShapes
from symdiff.errors import UnsupportedSyntax
from symdiff.frontend.calls import Calls, _definition, _label, runtime_defaults
from symdiff.frontend.control import RETURN, ControlFlow, LoopLocal, normalize_returns
from symdiff.frontend.jumps import rewrite_jumps
from symdiff.frontend.pycalls import PythonCalls
from symdiff.frontend.source import FunctionSource, read_source
from symdiff.frontend.subset import check_subset
from symdiff.frontend.values import LocalFunction, Pack, Record, Rows, as_value, structured_value
from symdiff.frontend.views import check_views
from symdiff.ir.names import Names
from symdiff.ir.nodes import Atom, Const, Eqn, Function, If, Loop, Var, walk
from symdiff.rules import RULES, lookup_callable
from symdiff.rules.opaque import OP as OPAQUE
from symdiff.rules.registry import global_names

_BINOPS = {
    ast.Add: "add", ast.Sub: "sub", ast.Mult: "mul", ast.Div: "truediv", ast.Pow: "pow",
    ast.MatMult: "matmul", ast.Mod: "mod", ast.FloorDiv: "floordiv",
}  # fmt: skip
_UNARY = {ast.USub: "neg", ast.UAdd: "pos", ast.Not: "not_"}
_COMPARE = {ast.Lt: "lt", ast.LtE: "le", ast.Gt: "gt", ast.GtE: "ge", ast.Eq: "eq", ast.NotEq: "ne"}
_BOOLEAN_OPS = frozenset(
    ("lt", "le", "gt", "ge", "eq", "ne", "not_", "and_", "or_", "logical_and", "logical_or", "logical_not", "isnan",
     "isfinite", "bool")
)  # fmt: skip
_ATTRIBUTES = {"shape": np.shape, "ndim": np.ndim, "size": np.size}
_SCALARS = (int, float, bool, complex, np.number, np.bool_, str, type(None))
_NUMBERS = (int, float, bool, complex, np.number, np.bool_, type(None))


class Lowering(ControlFlow, Calls, PythonCalls):
    """Lowers one function body into a shared equation list."""

    def __init__(
        self, source: FunctionSource, names: Names, body: list, stack: tuple, free: dict, in_place: set | None = None
    ):
        self.source = source
        self.in_place = set() if in_place is None else in_place  # results of `x[i] = v` and `x += v`
        self.maybe_none: set[Var] = set()  # if/loop results that are None on some path (`best = None`)
        self.runtime_defaults: dict[str, Any] = {}  # an inlined Python function's default values
        self.consumer = None  # in a generator inlined into a for loop: runs the loop's body at each yield
        self.discarding = False  # lowering a call used as a statement
        self.plain = False
        self.names = names
        self.body = body
        self.stack = stack + (_definition(source),)  # the functions being lowered, to catch recursion
        self.free = free
        self.env: dict[str, Any] = {}
        self.params: set[str] = set()
        self.statement: ast.stmt | None = None
        self.target = "t"
        self.counter = 0
        self.returned = False
        self.fixed_loc = None  # set when inlining derivative rules
        self.located_at = None  # set when inlining a composite: its equations take the call's location
        self.maybe_lists: set[str] = set()  # parameters that may be lists when called (built without structures)
        self.row_sources: dict = {}  # row loops being lowered: what each iteration's target takes
        self.enclosing: Lowering | None = None  # for a nested def or lambda: the scope it closes over
        self.known: KnownShapes | None = None  # a build for the arguments' shapes: what they decide

    # -- emission -----------------------------------------------------------

    def where(self, node: ast.AST):
        if self.fixed_loc is not None:
            return self.fixed_loc
        if self.located_at is not None:
            return self.located_at
        return self.source.location(node, self.statement)

    def fail(self, message: str, node: ast.AST, hint: str | None = None) -> UnsupportedSyntax:
        return UnsupportedSyntax(message, self.where(node), hint)

    def temp_name(self) -> str:
        self.counter += 1
        return self.names.fresh(f"{self.target}_{self.counter}")

    def emit(self, op: str, ins, static=(), node: ast.AST | None = None, name: str | None = None) -> Var:
        if self.known is not None:
            folded = self.known.query(op, ins)
            if folded is not None:
                return folded
        out = Var(name, temp=False) if name else Var(self.temp_name(), temp=True)
        loc = self.where(node or self.statement)
        eqn = Eqn((out,), op, tuple(ins), tuple(static), loc)
        self.body.append(eqn)
        if self.known is not None:
            self.known.learn(eqn)
        return out

    def atom(self, value: Any, node: ast.AST) -> Atom:
        """Turn a lowering-time value into an IR atom (tuples become make_tuple)."""
        if isinstance(value, (Var, Const)):
            return value
        if isinstance(value, Pack):
            items = [self.atom(v, node) for v in value.items]
            if all(isinstance(i, Const) for i in items):
                return Const(tuple(i.value for i in items))
            return self.emit("make_tuple", items, node=node)
        if isinstance(value, (*_SCALARS, slice, type(Ellipsis), type)):
            return Const(value)
        if isinstance(value, tuple):
            return self.atom(Pack(value), node)
        if isinstance(value, Record):
            raise self.fail("a dict cannot be used as an array here", node, "index it by its keys: d['key']")
        if isinstance(value, Rows):
            raise self.fail(
                "a list made by a comprehension over an array's rows can only be passed to a NumPy function here",
                node,
                "make it an array: np.array([... for row in x])",
            )
        raise self.fail(f"{type(value).__name__} values cannot be used here", node)

    def as_array(self, value: Any, node: ast.AST) -> Any:
        """A list or tuple where NumPy wants an array: `np.sum([a, b])` stacks, nested lists included.

        Constant lists stay constants (NumPy reads them as arrays; nothing to differentiate).
        """
        if isinstance(value, Rows):
            return value.array
        if not isinstance(value, Pack) or _constant(value):
            return value
        items = tuple(self.as_array(item, node) for item in value.items)
        return self.apply_rule(lookup_callable(np.stack), [Pack(items)], {}, node, None)

    # -- statements ---------------------------------------------------------

    def run(self) -> Any:
        """Lower the whole body; return the value of its return statement(s)."""
        params = frozenset(a.arg for a in self.source.node.args.args)
        self.statements(normalize_returns(rewrite_jumps(self.source.node.body, params)))
        return self.env.get(RETURN) if self.returned else None

    def statements(self, body: list[ast.stmt]) -> None:
        for statement in body:
            if self.returned:
                raise self.fail("code after return is never run", statement)
            self.statement, self.counter = statement, 0
            self.stmt(statement)

    def stmt(self, node: ast.stmt) -> None:
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            return  # docstring
        if isinstance(node, ast.Pass):
            return
        if isinstance(node, ast.Assign):
            for target in node.targets:
                self.assign(target, node.value, node)
            return
        if isinstance(node, ast.AugAssign):
            return self.aug_assign(node)
        if isinstance(node, ast.Return):
            if node.value is None:
                raise self.fail("a function to differentiate must return a value", node)
            self.target = self.source.node.name if len(self.stack) == 1 and self.fixed_loc is None else self.target_hint
            # A rule's results are renamed by the reverse transform, so keep them temporary.
            self.env[RETURN] = self.expr(node.value, top=self.fixed_loc is None)
            self.returned = True
            return
        if isinstance(node, ast.FunctionDef):
            if node.decorator_list:
                raise self.fail("decorators on nested functions are not supported", node.decorator_list[0])
            self.env[node.name] = LocalFunction(node, self)
            return
        if isinstance(node, ast.If):
            return self.lower_if(node)
        if isinstance(node, ast.For):
            return self.lower_for(node)
        if isinstance(node, ast.While):
            return self.lower_while(node)
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Yield) and self.consumer is not None:
            return self.consumer(self, node.value)
        if isinstance(node, ast.Expr) and _is_list_growth(node.value, self.env):
            return self.grow_list(node.value.func, self.env[node.value.func.value.id], node.value)
        if isinstance(node, ast.Expr) and _is_tape_call(node.value, "append", self.env):
            return self.tape_append(node.value)
        if isinstance(node, ast.Expr) and _is_print(node.value, self):
            return  # output for a person: nothing a derivative depends on
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
            start = len(self.body)
            self.discarding = True
            try:
                result = self._expr(node.value, None)  # a random draw (`rs.randn(2)`) moves its generator on
            finally:
                self.discarding = False
            if result is None and len(self.body) == start:
                return  # a function of yours that returns nothing and does nothing here (`plot(None, x)`)
            if not any(isinstance(e, Eqn) and e.op == OPAQUE for e in self.body[start:]):
                del self.body[start:]
                raise self.fail("a call used as a statement has no effect on the result", node)
            return
        if isinstance(node, ast.Expr):
            raise self.fail("expression statements have no effect on the result", node)
        raise self.fail(f"{type(node).__name__} statements are not supported", node)

    target_hint = "out"

    def assign(self, target: ast.expr, value: ast.expr, node: ast.stmt) -> None:
        if isinstance(target, ast.Name) and isinstance(value, ast.List) and not value.elts and self.pops(target.id):
            self.target = target.id  # an empty list the function pops saves loop values (a tape)
            self.env[target.id] = self.emit("tape_new", [], (), value, self.names.fresh(target.id))
            return
        if isinstance(target, ast.Name) and _is_tape_call(value, "pop", self.env):
            self.target = target.id
            self.env[target.id] = self.tape_pop(value, self.names.fresh(target.id))
            return
        if isinstance(target, ast.Name):
            self.target = target.id
            self.env[target.id] = self.expr(value, top=True)
            return
        if isinstance(target, (ast.Tuple, ast.List)):
            self.target = "_".join(t.id for t in target.elts if isinstance(t, ast.Name)) or "t"
            packed = self.expr(value)
            self.unpack(target, packed, value)
            return
        if isinstance(target, ast.Subscript):
            return self.assign_item(target, value)
        raise self.fail(f"assignment to {type(target).__name__} is not supported", target)

    def tape_append(self, call: ast.Call) -> None:
        """`tape.append(value)`: a new version of the tape in the IR."""
        name = call.func.value.id
        if len(call.args) != 1 or call.keywords:
            raise self.fail("list.append takes one argument", call)
        self.target = name
        item = self.atom(self.expr(call.args[0]), call.args[0])
        self.env[name] = self.emit("tape_push", [self.env[name], item], (), call, self.names.fresh(name))

    def tape_pop(self, call: ast.Call, value_name: str) -> Var:
        """`value = tape.pop()`: the IR gets the shorter tape and the value."""
        name = call.func.value.id
        if call.args or call.keywords:
            raise self.fail("only list.pop() with no arguments is supported", call)
        rest, value = Var(self.names.fresh(name)), Var(value_name)
        self.body.append(Eqn((rest, value), "tape_pop", (self.env[name],), (), self.where(call)))
        self.env[name] = rest
        return value

    def assign_item(self, target: ast.Subscript, value: ast.expr) -> None:
        """`x[index] = value` into an array the function created (a functional update in the IR)."""
        if not isinstance(target.value, ast.Name):
            raise self.fail("only `name[index] = value` element assignment is supported", target)
        base = target.value.id
        current = self.env.get(base)
        if current is None or isinstance(current, LoopLocal):
            raise self.fail(f"{base!r} must be created before assigning into it", target)
        owner = next((p for p, v in self.initial.items() if current is v), None)
        if owner is not None and owner != base:  # NumPy would change `owner` too (views.py follows that)
            raise self.fail(
                f"in-place mutation of argument {owner!r} (through the name {base!r})",
                target,
                f"copy it first: `{base} = np.copy({owner})`",
            )
        self.target = base
        index = self.index(target.slice)
        item = self.atom(self.as_array(self.expr(value), value), value)
        array = self.atom(current, target)
        self.env[base] = self.emit("setitem", [array, item], [("index", index)], target, self.names.fresh(base))
        self.in_place.add(self.env[base].name)

    def unpack(self, target: ast.expr, value: Any, node: ast.expr) -> None:
        self.bind_target(target, value, node)

    def bind_target(self, target: ast.expr, value: Any, node: ast.AST) -> None:
        """Assign `value` to a name or a (nested) tuple of names, as Python unpacks."""
        if isinstance(target, ast.Name):
            self.env[target.id] = value
            return
        if not isinstance(target, (ast.Tuple, ast.List)):
            raise self.fail("only names and tuples of names can be assigned here", target)
        names = target.elts
        if isinstance(value, Pack):
            if len(value.items) != len(names):
                raise self.fail(f"cannot unpack {len(value.items)} values into {len(names)} names", target)
            for inner, item in zip(names, value.items):
                self.bind_target(inner, item, node)
            return
        array = self.atom(value, node)
        for k, inner in enumerate(names):
            self.target = inner.id if isinstance(inner, ast.Name) else self.target
            name = self.names.fresh(inner.id) if isinstance(inner, ast.Name) else None
            item = self.emit("getitem", [array], [("index", Const(k))], node, name)
            self.bind_target(inner, item, node)

    def aug_assign(self, node: ast.AugAssign) -> None:
        if isinstance(node.target, ast.Subscript):
            load = ast.Subscript(value=node.target.value, slice=node.target.slice, ctx=ast.Load())
            ast.copy_location(load, node.target)
            update = ast.copy_location(ast.BinOp(left=load, op=node.op, right=node.value), node)
            return self.assign_item(node.target, update)
        if not isinstance(node.target, ast.Name):
            raise self.fail("augmented assignment to this target is not supported", node.target)
        name = node.target.id
        load = ast.copy_location(ast.Name(name, ast.Load()), node.target)
        self.assign(node.target, ast.copy_location(ast.BinOp(left=load, op=node.op, right=node.value), node), node)
        updated = self.env[name]
        if isinstance(updated, Var) and self.body and self.body[-1].outs == (updated,):
            self.in_place.add(updated.name)  # NumPy updates an array in place: views of it see the change

    # -- expressions --------------------------------------------------------

    def expr(self, node: ast.expr, top: bool = False) -> Any:
        """Lower `node`; `top` names the final equation after the statement's target."""
        name = self.names.fresh(self.target) if top else None
        start = len(self.body)
        value = self._expr(node, name)
        made_here = len(self.body) > start  # an existing value (np.asarray(q)) keeps its name
        if top and made_here and isinstance(value, Var) and value.name != name and value.temp:
            value = self._rename_last(value, name)
        elif name and not any(isinstance(v, Var) and v.name == name for v in (value, getattr(value, "array", None))):
            self.names.used.discard(name)  # not used: a Rows' array may have taken it
        return value

    def _rename_last(self, value: Var, name: str) -> Var:
        last = self.body[-1] if self.body else None
        if last is None or last.outs != (value,):
            self.names.used.discard(name)
            return value
        renamed = Var(name)
        self.body[-1] = Eqn((renamed,), last.op, last.ins, last.static, last.loc)
        return renamed

    def _expr(self, node: ast.expr, name: str | None) -> Any:
        method = getattr(self, f"lower_{type(node).__name__}", None)
        if method is None:
            raise self.fail(f"{type(node).__name__} expressions are not supported", node)
        return method(node, name)

    def lower_Constant(self, node: ast.Constant, name):
        return Const(node.value)

    def lower_Name(self, node: ast.Name, name):
        if node.id in self.env:
            value = self.env[node.id]
            if isinstance(value, LoopLocal):
                error = self.fail(
                    value.why or f"{node.id!r} is first assigned inside the loop at line {value.line}",
                    node,
                    value.hint or f"assign {node.id!r} before the loop to use it after the loop",
                )
                error.needs_structure = value.over_a_list  # `for W, b in params:` with params a list
                raise error
            return value
        scope = self.enclosing
        while scope is not None:  # a closure reads the enclosing function's variable as it is now
            if node.id in scope.env and not isinstance(scope.env[node.id], LoopLocal):
                return scope.env[node.id]
            scope = scope.enclosing
        found, value = self.source.lookup(node.id)
        if not found:
            raise self.fail(f"name {node.id!r} is not defined", node)
        return self.global_value(node.id, value, node)

    def lower_JoinedStr(self, node: ast.JoinedStr, name):
        """An f-string is refused only where it is lowered: under `if ax:` with ax None it is not."""
        raise self.fail("f-strings are not supported", node, "build the text outside the differentiated function")

    def lower_Lambda(self, node: ast.Lambda, name):
        body = [ast.copy_location(ast.Return(node.body), node.body)]
        definition = ast.FunctionDef(name="<lambda>", args=node.args, body=body, decorator_list=[], returns=None)
        return LocalFunction(ast.copy_location(definition, node), self)

    def python_value(self, label: str, value: Any, where) -> Any:
        """A Python value known while building (a default `def` computed), as lowering holds it:
        numbers are constants, arrays free names, lists, tuples and dicts known item by item."""
        if type(value) in (list, tuple):
            return Pack(tuple(self.python_value(f"{label}_{k}", v, where) for k, v in enumerate(value)), type(value))
        if type(value) is dict:
            return Record(tuple((k, self.python_value(f"{label}_{k}", v, where)) for k, v in value.items()))
        if isinstance(value, np.ndarray):
            return self.free_array("".join(c if c.isalnum() else "_" for c in label), value)
        return Const(value) if isinstance(value, _SCALARS) else value

    def free_array(self, label: str, value: np.ndarray) -> Var:
        """The name under which the generated code reads an array it did not compute (a module
        constant, a default): `label`, or `label_k` where a value of the function has that name."""
        return self.capture(label, value)

    def capture(self, label: str, value: Any, node: ast.AST | None = None) -> Var:
        """The one way a build-time value enters the generated code (`Function.free`, passed to it
        by reference): an array it reads, or the object a call runs through. Without `node` the
        name is `label` or `label_k`, whichever is free; with it, `label` itself (the generated
        code spells the call as the user wrote it), refused at `node` where that name is taken."""
        if node is None:
            for name, known in self.free.items():
                if known is value:
                    return Var(name)
            name, k, reserved = label, 0, global_names()
            while name in self.free or name in self.names.used or name in reserved:
                k += 1
                name = f"{label}_{k}"
        else:
            name = label
            if name not in self.free and name in self.names.used:
                raise self.fail(f"{name!r} names a value of the function too", node, f"rename one of the two {name!r}")
            if self.free.get(name, value) is not value:
                raise self.fail(f"two different objects are named {name!r}", node)
        self.names.used.add(name)  # now, so that no value computed later is given this name
        self.free[name] = value
        return Var(name)

    def global_value(self, label: str, value: Any, node: ast.AST) -> Any:
        if isinstance(value, _SCALARS):
            return Const(value)
        if isinstance(value, np.ndarray):
            return self.free_array(label, value)
        return value  # a module, function or other callable: resolved by calls

    def lower_Attribute(self, node: ast.Attribute, name):
        base = self._expr(node.value, None)
        if isinstance(base, (Var, Const)) and not isinstance(base, Const) or isinstance(base, Var):
            if node.attr == "T":
                return self.emit("transpose", [base], [("axes", Const(None))], node, name)
            if node.attr in _ATTRIBUTES:
                return as_value(self.emit(_ATTRIBUTES[node.attr].__name__, [base], (), node, name))
            error = self.fail(f"attribute .{node.attr} of an array is not supported", node)
            error.needs_structure = node.attr in ("items", "keys", "values")  # a dict argument's methods
            raise error
        if isinstance(base, Const):
            raise self.fail(f"attribute .{node.attr} of a constant is not supported", node)
        try:
            value = getattr(base, node.attr)
        except AttributeError:
            raise self.fail(f"{_label(base)} has no attribute {node.attr!r}", node) from None
        return self.global_value(node.attr, value, node)

    def lower_Tuple(self, node, name):
        return Pack(tuple(self._expr(e, None) for e in node.elts))

    def lower_List(self, node, name):
        return Pack(tuple(self._expr(e, None) for e in node.elts), list)

    def lower_Dict(self, node: ast.Dict, name):
        """`{"w": w, "b": b}`: a dict known key by key (keys must be constants)."""
        items = []
        for key, value in zip(node.keys, node.values):
            if key is None:
                raise self.fail("**mapping inside a dict literal is not supported", value)
            label = self._expr(key, None)
            if not isinstance(label, Const):
                raise self.fail("dict keys must be constants known when the derivative is built", key)
            items.append((label.value, self._expr(value, None)))
        return Record(tuple(items))

    def lower_Starred(self, node, name):
        raise self.fail("starred expressions are only supported in call arguments", node)

    def lower_BinOp(self, node: ast.BinOp, name):
        op = _BINOPS.get(type(node.op))
        if op is None:
            raise self.fail(f"the operator {_op_text(node.op)} is not supported", node)
        left, right = self._expr(node.left, None), self._expr(node.right, None)
        if isinstance(left, Pack) or isinstance(right, Pack):
            return self.sequence_op(op, left, right, node, name)
        if op == "add" and any(isinstance(v, Var) and self.is_tuple(v) for v in (left, right)):
            return self.sequence_op(op, left, right, node, name)  # `np.shape(a) + np.shape(b)` joins
        known = _constant_result(op, [left, right])
        if known is not None:  # Python numbers known now (a comprehension's index): computed now
            return known
        return self.emit(op, [self.atom(left, node.left), self.atom(right, node.right)], (), node, name)

    def sequence_op(self, op: str, left: Any, right: Any, node: ast.BinOp, name):
        """Python's meaning for lists and tuples (`+` joins, `* n` repeats); NumPy's when an array is involved."""
        if op == "add" and isinstance(left, Pack) and isinstance(right, Pack):
            return Pack(left.items + right.items)
        if op == "add" and any(isinstance(v, Var) and self.is_tuple(v) for v in (left, right)):
            # `(n,) + np.shape(x)`: Python joins the tuples (as_array would make it NumPy's sum)
            return self.emit("tuple_add", [self.atom(left, node.left), self.atom(right, node.right)], (), node, name)
        count = right if isinstance(left, Pack) else left
        if op == "mul" and isinstance(count, Const) and type(count.value) is int:
            return Pack((left if count is right else right).items * count.value)
        if op != "mul" and (isinstance(left, Var) or isinstance(right, Var)):  # NumPy makes the list an array
            ins = [self.atom(self.as_array(v, node), node) for v in (left, right)]
            return self.emit(op, ins, (), node, name)
        raise self.fail(
            f"the operator {_op_text(node.op)} on a list or tuple is not supported here",
            node,
            "make it an array first: np.array([...]) (a list times a variable repeats it if the variable is an int)",
        )

    def is_tuple(self, value: Var) -> bool:
        """Whether `value` is a Python tuple when the code runs (a shape, or a tuple built of atoms)."""
        eqn = self.defining(value)
        if eqn is None:
            return False
        if eqn.op in ("shape", "make_tuple", "tuple_add"):
            return True
        if eqn.op == "getitem" and isinstance(eqn.ins[0], Var) and self.is_tuple(eqn.ins[0]):
            index = eqn.static_dict()["index"]
            return isinstance(index, Const) and isinstance(index.value, slice)  # shape[1:]
        return eqn.op == "tuple_add"

    def defining(self, value: Var) -> Eqn | None:
        """The equation of this block (or an enclosing one being lowered) that made `value`."""
        for stmt in reversed(self.body):
            if isinstance(stmt, Eqn) and value in stmt.outs:
                return stmt
        return None

    def lower_UnaryOp(self, node: ast.UnaryOp, name):
        op = _UNARY.get(type(node.op))
        if op is None:
            raise self.fail(f"the operator {type(node.op).__name__} is not supported", node)
        operand = self.atom(self._expr(node.operand, None), node.operand)
        if isinstance(operand, Const) and op == "neg" and isinstance(operand.value, (int, float)):
            return Const(-operand.value)
        return self.emit(op, [operand], (), node, name)

    def lower_Compare(self, node: ast.Compare, name):
        if any(isinstance(op, (ast.Is, ast.IsNot)) for op in node.ops):
            return self.identity_test(node)
        left = self.atom(self._expr(node.left, None), node.left)
        result = None
        for op, right_node in zip(node.ops, node.comparators):
            if type(op) not in _COMPARE:
                raise self.fail(f"the comparison {type(op).__name__} is not supported", node)
            right = self.atom(self._expr(right_node, None), right_node)
            last = op is node.ops[-1] and result is None
            test = _constant_result(_COMPARE[type(op)], [left, right])
            if test is not None and result is None and last:
                return test
            test = test or self.emit(_COMPARE[type(op)], [left, right], (), node, name if last else None)
            result = test if result is None else self.emit("and_", [result, test], (), node, name)
            left = right
        return result

    def identity_test(self, node: ast.Compare) -> Const:
        """`x is None` / `x is not None`, known while building: an argument passed as None lowers
        to the constant None (each call's structure builds its own gradient), everything else
        the code computes is an array, a number or a container, never None."""
        if len(node.ops) != 1:
            raise self.fail(
                "a chained comparison with `is` is not supported", node, "split it: `a is None and b is None`"
            )
        sides = [self._expr(side, None) for side in (node.left, node.comparators[0])]
        for side, side_node in zip(sides, (node.left, node.comparators[0])):
            if isinstance(side, Var) and side in self.maybe_none:
                raise self.fail(
                    "this value is None on some paths and not on others, so `is None` depends on the run",
                    side_node,
                    "give it a value of its type before the loop or if (best = np.inf, not best = None)",
                )
        nones = [side is None or (isinstance(side, Const) and side.value is None) for side in sides]
        if not any(nones):
            raise self.fail(
                "`is` compares object identity, which differentiable code cannot depend on",
                node,
                "compare values with == or test for None with `is None`",
            )
        if self.plain and not all(nones) and any(isinstance(side, Var) for side in sides):
            error = self.fail("whether an argument is None is known only from a call", node)
            error.depends_on_none = True  # built for each call's arguments instead (symdiff.structured)
            raise error
        same = all(nones)
        return Const(same if isinstance(node.ops[0], ast.Is) else not same)

    def lower_BoolOp(self, node: ast.BoolOp, name):
        """`and`/`or`: an op on truth values; otherwise what Python returns (`a or b` is `a if a else b`)."""
        op = "and_" if isinstance(node.op, ast.And) else "or_"
        result = self.atom(self._expr(node.values[0], None), node.values[0])
        for k, operand in enumerate(node.values[1:], 2):
            out = name if k == len(node.values) else None
            value = self.atom(self._expr(operand, None), operand) if self.boolean(result) else None
            if value is not None and self.boolean(value):
                result = self.emit(op, [result, value], (), node, out)
                continue

            def lower_next(v=value, o=operand):  # evaluated only in the arm that needs it, as Python does
                return v if v is not None else self._expr(o, None)

            def keep_first(first=result):
                return first

            arms = (lower_next, keep_first) if op == "and_" else (keep_first, lower_next)
            result = self.choose(result, *arms, node, out)
        return result

    def lower_IfExp(self, node: ast.IfExp, name):
        cond = self.atom(self._expr(node.test, None), node.test)
        if isinstance(cond, Const):  # known at build time: only that arm exists
            return self._expr(node.body if cond.value else node.orelse, name)
        return self.choose(cond, lambda: self._expr(node.body, None), lambda: self._expr(node.orelse, None), node, name)

    def choose(self, cond: Atom, then_value, else_value, node: ast.expr, name: str | None) -> Var:
        """An `If` whose arms each lower one expression (only the arm taken runs, as in Python)."""
        arms = []
        for lower_arm in (then_value, else_value):
            saved, self.body = self.body, []
            try:
                value = self.atom(lower_arm(), node)
                arms.append((tuple(self.body), value))
            finally:
                self.body = saved
        out = Var(name, temp=False) if name else Var(self.temp_name(), temp=True)
        (then_body, then_result), (else_body, else_result) = arms
        self.body.append(If((out,), cond, then_body, (then_result,), else_body, (else_result,), self.where(node)))
        return out

    def boolean(self, atom: Atom) -> bool:
        """Whether `atom` surely holds a truth value: a bool constant or a comparison made in this block."""
        if isinstance(atom, Const):
            return type(atom.value) is bool
        producer = next((e for e in reversed(self.body) if isinstance(e, Eqn) and atom in e.outs), None)
        return producer is not None and producer.op in _BOOLEAN_OPS

    def lower_Subscript(self, node: ast.Subscript, name):
        base = self._expr(node.value, None)
        index = self.index(node.slice)
        if isinstance(base, Record):
            found, value = base.get(index.value) if isinstance(index, Const) else (False, None)
            if not found:
                raise self.fail(f"the dict has no key {getattr(index, 'value', '?')!r} known when building", node)
            return value
        if isinstance(base, Pack) and isinstance(index, Var) and base.items:
            return self.pick_item(base.items, index, node, name)
        if isinstance(base, Pack):
            if not isinstance(index, Const) or not isinstance(index.value, (int, slice)):
                raise self.fail("a tuple can only be indexed by a constant or an integer variable", node)
            picked = base.items[index.value]
            return Pack(picked) if isinstance(index.value, slice) else picked
        if isinstance(base, Rows):  # a list held as the array of its items: an item is a row
            if isinstance(index, Const) and isinstance(index.value, slice):
                return Rows(self.emit("getitem", [base.array], [("index", index)], node, name))
            if not (isinstance(index, Var) or isinstance(index, Const) and type(index.value) is int):
                raise self.fail("a list can only be indexed by an integer or a slice", node)
            return self.emit("getitem", [base.array], [("index", index)], node, name)
        base = self.atom(base, node.value)
        return self.emit("getitem", [base], [("index", index)], node, name)

    def pick_item(self, items: tuple, index: Var, node: ast.expr, name):
        """`items[i]` for an integer `i` known only when run: `items[0] if i == 0 else ...`, so the
        item taken is the one differentiated (a negative `i` counts from the end, as in Python)."""
        count = len(items)
        if count == 1:
            return items[0]
        self.target = self.target or "item"
        wrapped = self.emit("mod", [index, Const(count)], (), node)
        chosen = items[-1]
        for k in range(count - 2, -1, -1):
            test = self.emit("eq", [wrapped, Const(k)], (), node)

            def keep(item=items[k]):
                return item

            def rest(value=chosen):
                return value

            chosen = self.choose(test, keep, rest, node, name if k == 0 else None)
        return chosen

    def index(self, node: ast.expr) -> Atom:
        if isinstance(node, ast.Tuple):
            items = [self.index_item(e) for e in node.elts]
            return self.atom(Pack(tuple(items)), node)
        return self.index_item(node)

    def index_item(self, node: ast.expr) -> Atom:
        if isinstance(node, ast.Slice):
            parts = [
                Const(None) if p is None else self.atom(self._expr(p, None), p)
                for p in (node.lower, node.upper, node.step)
            ]
            if all(isinstance(p, Const) for p in parts):
                return Const(slice(*(p.value for p in parts)))
            return self.emit("make_slice", parts, (), node)
        if isinstance(node, ast.List):  # x[[0, 2]] picks rows 0 and 2: an integer-array index, not a tuple
            items = self.atom(Pack(tuple(self._expr(e, None) for e in node.elts)), node)
            return self.emit("index_array", [items], (), node)
        return self.atom(self._expr(node, None), node)


def _default_value(source: FunctionSource, node: ast.expr) -> Any:
    """A parameter's default: a literal, or a module-level constant it names."""
    try:
        return ast.literal_eval(node)
    except ValueError:
        pass
    if isinstance(node, ast.Name):
        found, value = source.lookup(node.id)
        if found and isinstance(value, (int, float, bool, complex, type(None))):
            return value
    pure = (ast.Name, ast.Attribute, ast.Load, ast.Constant, ast.UnaryOp, ast.BinOp, ast.unaryop, ast.operator)
    if all(isinstance(part, pure) for part in ast.walk(node)):  # `-np.inf`, `np.pi / 2`: as Python made it
        try:
            value = source.evaluate(node)
        except Exception:  # noqa: BLE001 - not a number known now: refused below
            value = None
        if isinstance(value, (int, float, bool, complex, np.number)):
            return value.item() if isinstance(value, np.number) else value
    raise UnsupportedSyntax(
        "parameter defaults must be literals or module-level numbers",
        source.location(node),
        "pass the value explicitly, or make the default a number",
    )


def _constant_result(op: str, operands: list) -> Const | None:
    """The value of `op` on Python numbers known at build time, computed as Python would."""
    if not all(isinstance(a, Const) and type(a.value) in (int, float, bool) for a in operands):
        return None
    try:
        value = RULES[op].func(*(a.value for a in operands))
    except (ArithmeticError, TypeError, ValueError):
        return None  # left for run time, where the user sees the error
    if isinstance(value, (np.bool_, np.integer, np.floating)):
        value = value.item()
    return Const(value) if type(value) in (int, float, bool) else None


def _constant(pack: Pack) -> bool:
    """A list or tuple holding only constants, at any depth."""
    return all(
        isinstance(item, (Const, *_SCALARS, slice)) or (isinstance(item, Pack) and _constant(item))
        for item in pack.items
    )


def _is_tape_call(node: ast.expr, method: str, env: dict) -> bool:
    """`name.append(...)` / `name.pop()` on a list the function created."""
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == method
        and isinstance(node.func.value, ast.Name)
        and isinstance(env.get(node.func.value.id), Var)
    )


def _is_list_growth(node: ast.expr, env: dict) -> bool:
    """`name.append(...)` / `name.extend(...)` on a list known item by item."""
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in ("append", "extend")
        and isinstance(node.func.value, ast.Name)
        and isinstance(env.get(node.func.value.id), Pack)
        and env[node.func.value.id].kind is list
    )


def _is_print(node: ast.expr, lowering: Lowering) -> bool:
    if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name) or node.func.id in lowering.env:
        return False
    found, value = lowering.source.lookup(node.func.id)
    return found and value is print


def _op_text(op: ast.operator) -> str:
    return {
        ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "**", ast.MatMult: "@",
        ast.Mod: "%", ast.FloorDiv: "//", ast.BitAnd: "&", ast.BitOr: "|", ast.BitXor: "^",
        ast.LShift: "<<", ast.RShift: ">>",
    }.get(type(op), type(op).__name__)  # fmt: skip


def lower_source(
    source: FunctionSource,
    names: Names | None = None,
    wrapper: Any = None,
    structures: dict | None = None,
    runtime_defaults: dict | None = None,
    shapes: tuple | None = None,
) -> Function:
    """Lower a parsed function; its parameters become the Function's parameters.

    `wrapper` is what a decorator put in the function's place: it is what runs, so its body
    is lowered (called with the parameters), and the function itself only where it calls it.
    `structures` gives the list/tuple/dict structure of arguments that are containers
    (`symdiff.structured`): each of their leaves becomes a parameter. `shapes` (one per leaf)
    builds the function for arguments of those shapes: `np.shape(x)` of a value the ops give
    a known shape is then a constant (`analysis/static_shapes.py`).
    """
    check_subset(source)
    names = names or Names()
    body: list[Eqn] = []
    free: dict[str, Any] = {}
    in_place: set[str] = set()
    lowering = Lowering(source, names, body, (), free, in_place)
    spec = source.node.args
    params = [a.arg for a in spec.args]
    leaves: list[Var] = []
    lowering.env = {}
    for param in params:
        value, inner = structured_value((structures or {}).get(param), param, names.fresh)
        lowering.env[param] = value
        leaves += inner
    lowering.params = set(params)
    lowering.initial = dict(lowering.env) | {leaf.name: leaf for leaf in leaves}
    lowering.maybe_lists = {leaf.name for leaf in leaves} if structures is None else set()
    lowering.plain = structures is None  # no call's arguments known: an argument could be None
    if shapes is not None:
        lowering.known = KnownShapes({leaf.name: shape for leaf, shape in zip(leaves, shapes) if shape is not None})
    if wrapper is None:
        result = lowering.run()
    else:
        lowering.stack = ()  # the wrapper calls the function itself: that is not recursion
        result = lowering.inline(wrapper, [lowering.env[p] for p in params], {}, source.node, None)
    if result is None:
        raise UnsupportedSyntax("a function to differentiate must return a value", source.location(source.node))
    body = lowering.body
    if isinstance(result, Pack):
        result = tuple(lowering.atom(item, source.node) for item in result.items)
    else:
        result = lowering.atom(result, source.node)
    runtime = {p: v for p, v in (runtime_defaults or {}).items() if isinstance(v, _NUMBERS)}  # as the def made them
    defaults = tuple(
        (p, runtime[p] if p in runtime else _default_value(source, d))
        for p, d in zip(params[len(params) - len(spec.defaults) :], spec.defaults)
    )
    for name in free:
        names.used.add(name)
    function = Function(
        name=source.node.name,
        params=tuple(leaves),
        body=tuple(body),
        result=result,
        defaults=defaults,
        free=tuple(sorted(free.items(), key=lambda kv: kv[0])),
    )
    check_views(function, in_place)
    _check_no_tuple_operands(function)
    return function


def _check_no_tuple_operands(function: Function) -> None:
    """A tuple that reached a differentiable operand would get no derivative: refuse it, never return zero.

    Lowering turns lists and tuples into arrays wherever NumPy would (`np.sum([a, b])`); this
    catches any form it missed, so such a gap shows as an error, not as a wrong gradient.
    """
    tuples = {eqn.out.name for eqn in walk(function.body) if eqn.op == "make_tuple"}
    tuples |= _joined_tuples(function.body, tuples)
    for eqn in walk(function.body):
        entry = RULES.get(eqn.op)
        if entry is None or not entry.differentiable:
            continue
        for position, atom in enumerate(eqn.ins):
            if not entry.variadic and position < len(entry.params) and entry.params[position] in entry.sizes:
                continue  # np.full's shape: a tuple of sizes, never differentiated (Rule.sizes)
            if isinstance(atom, Var) and atom.name in tuples:
                raise UnsupportedSyntax(
                    f"a tuple is used as an operand of {entry.path} here", eqn.loc, "make it an array: np.array([...])"
                )


def _joined_tuples(body, tuples: set[str]) -> set[str]:
    """The outputs of ifs and loops that may hold a tuple (lowering joins tuples item by item, so
    none should: this is the guard that a form it missed is refused, not given a zero gradient)."""
    found: set[str] = set()
    for _ in range(2):  # a loop's carried value can be a tuple only from its own results
        for stmt in _statements(body):
            joined = (
                list(zip(stmt.outs, stmt.then_results, stmt.else_results))
                if isinstance(stmt, If)
                else [(out, init, result) for out, init, result in zip(stmt.outs, stmt.inits, stmt.results)]
                + [(c, init, result) for c, init, result in zip(stmt.carried, stmt.inits, stmt.results)]
            )
            for out, *sources in joined:
                if any(isinstance(a, Var) and a.name in tuples | found for a in sources):
                    found.add(out.name)
    return found


def _statements(body):
    for stmt in body:
        if isinstance(stmt, (If, Loop)):
            yield stmt
            for block in stmt.blocks():
                yield from _statements(block)


def lower_function(func: Any, structures: dict | None = None, shapes: tuple | None = None) -> Function:
    """Read, check and lower `func`: the frontend's one entry point.

    A decorated function (one `functools.wraps` marked with `__wrapped__`) is differentiated as
    the wrapper that runs, with the signature of the function it wraps. `structures` maps the
    parameters that are lists, tuples or dicts to their structure, `shapes` gives each leaf's
    shape for a build specialised to them (see `lower_source`).
    """
    if inspect.isfunction(func) and getattr(func, "__wrapped__", None) is not None:
        return lower_source(read_source(inspect.unwrap(func)), wrapper=func, structures=structures, shapes=shapes)
    return lower_source(
        read_source(func), structures=structures, runtime_defaults=runtime_defaults(func), shapes=shapes
    )


__all__ = ["lower_function", "lower_source"]
