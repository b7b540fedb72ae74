"""IR -> a LibCST function definition that a person can read.

`codegen/layout.py` decides which temporaries fold into expressions and what
every value is called; this module builds the statements: one assignment per
remaining equation, `if`/`for`/`while` blocks for control flow, `x[i] = v`
for element writes that can happen in place, and `tape.append(v)` /
`v = tape.pop()` for values saved by loops. Every run of backward statements
is preceded by `# grad of: <forward statement>`.
"""

from __future__ import annotations

import libcst as cst

from symdiff.codegen.expressions import build, call, constant, subscript, tuple_of
from symdiff.codegen.layout import Layout
from symdiff.ir.nodes import Atom, Const, Eqn, Function, If, Loop, Var, walk
from symdiff.rules import RULES


def _assign(targets: list[cst.BaseExpression], values: list[cst.BaseExpression]) -> cst.SimpleStatementLine:
    target = targets[0] if len(targets) == 1 else tuple_of(targets).with_changes(lpar=[], rpar=[])
    value = values[0] if len(values) == 1 else tuple_of(values).with_changes(lpar=[], rpar=[])
    return cst.SimpleStatementLine([cst.Assign(targets=[cst.AssignTarget(target)], value=value)])


class FunctionEmitter:
    """Builds the `def` for one IR function."""

    def __init__(self, function: Function, reserved: set[str]):
        self.function = function
        self.layout = Layout(function, reserved)
        self.names = self.layout.names
        self.quoted: str | None = None

    def name(self, var: Var) -> cst.Name:
        return cst.Name(self.names.get(var.name, var.name))

    def atom(self, atom: Atom, in_index: bool = False) -> cst.BaseExpression:
        if isinstance(atom, Const):
            return constant(atom.value, in_index)
        if atom.name in self.layout.inline:
            return self.expression(self.layout.defs[atom.name])
        return self.name(atom)

    def expression(self, eqn: Eqn) -> cst.BaseExpression:
        operands = [self.atom(a) for a in eqn.ins]
        statics = {k: self.atom(a, in_index=(k == "index" and eqn.op == "getitem")) for k, a in eqn.static}
        if eqn.op == "tape_new":
            return cst.List([])
        return build(eqn, operands, statics, RULES[eqn.op])

    # -- statements ----------------------------------------------------------

    def equation(self, eqn: Eqn) -> cst.SimpleStatementLine:
        if eqn.op == "tape_push":
            method = cst.Attribute(self.atom(eqn.ins[0]), cst.Name("append"))
            return cst.SimpleStatementLine([cst.Expr(cst.Call(method, [cst.Arg(self.atom(eqn.ins[1]))]))])
        if eqn.op == "tape_pop":
            pop = cst.Call(cst.Attribute(self.atom(eqn.ins[0]), cst.Name("pop")))
            return _assign([self.name(eqn.outs[1])], [pop])
        if id(eqn) in self.layout.accumulations:
            scatter = self.layout.accumulations[id(eqn)]
            index = self.atom(scatter.static_dict()["index"], in_index=True)
            target = subscript(self.name(eqn.out), index)
            if id(eqn) in self.layout.first_writes:
                return _assign([target], [self.atom(scatter.ins[0])])
            return cst.SimpleStatementLine([cst.AugAssign(target, cst.AddAssign(), self.atom(scatter.ins[0]))])
        if id(eqn) in self.layout.loop_accumulators:
            acc, part = self.layout.loop_accumulators[id(eqn)]
            if self.names.get(acc.name) == self.names.get(eqn.out.name):
                return cst.SimpleStatementLine([cst.AugAssign(self.name(eqn.out), cst.AddAssign(), self.atom(part))])
        if eqn.op == "setitem" and id(eqn) in self.layout.in_place:
            index = self.atom(eqn.static_dict()["index"], in_index=True)
            target = subscript(self.name(eqn.out), index)
            return _assign([target], [self.atom(eqn.ins[1])])
        return _assign([self.name(o) for o in eqn.outs], [self.expression(eqn)])

    def moves(self, targets, values) -> list[cst.SimpleStatementLine]:
        """`a, b = x, y` for the pairs whose names differ (a parallel assignment)."""
        pairs = [(t, v) for t, v in zip(targets, values) if not (isinstance(v, Var) and self.names.get(v.name) == self.names[t.name])]
        if not pairs:
            return []
        return [_assign([self.name(t) for t, _ in pairs], [self.atom(v) for _, v in pairs])]

    def block(self, body, trailing: list | None = None) -> list:
        """The statements of one block; comments restart at the start of every block."""
        outer, self.quoted = self.quoted, None
        lines: list = []
        for stmt in body:
            if isinstance(stmt, Eqn) and (stmt.out.name in self.layout.inline or stmt.out.name in self.layout.absorbed):
                continue
            header = self.header(stmt)
            built = self.statement(stmt)
            if header is not None and built:
                built[0] = built[0].with_changes(leading_lines=header)
            lines.extend(built)
        lines.extend(trailing or [])
        self.quoted = outer
        return lines or [cst.SimpleStatementLine([cst.Pass()])]

    def statement(self, stmt) -> list:
        if isinstance(stmt, Eqn):
            return [self.equation(stmt)]
        if isinstance(stmt, If):
            return [self.branch(stmt)]
        return self.loop(stmt)

    def branch(self, stmt: If) -> cst.If:
        then = self.block(stmt.then_body, self.moves(stmt.outs, stmt.then_results))
        other = self.block(stmt.else_body, self.moves(stmt.outs, stmt.else_results))
        empty = len(other) == 1 and isinstance(other[0], cst.SimpleStatementLine) and isinstance(other[0].body[0], cst.Pass)
        orelse = None if empty else cst.Else(cst.IndentedBlock(other))
        return cst.If(test=self.atom(stmt.cond), body=cst.IndentedBlock(then), orelse=orelse)

    def loop(self, stmt: Loop) -> list:
        before = self.moves(stmt.carried, stmt.inits)
        body = self.block(stmt.body, self.moves(stmt.carried, stmt.results))
        if stmt.index is None:
            node = cst.While(test=self.atom(stmt.cond), body=cst.IndentedBlock(body))
        else:
            start, stop, step = stmt.bounds
            args = [self.atom(stop)] if start == Const(0) and step == Const(1) else [self.atom(b) for b in stmt.bounds]
            iterator = call("range", args)
            if stmt.reverse:
                iterator = call("reversed", [iterator])
            node = cst.For(target=self.name(stmt.index), iter=iterator, body=cst.IndentedBlock(body))
        return before + [node]

    def header(self, stmt) -> list | None:
        """`# grad of: ...` above the first backward statement of each forward statement."""
        if not stmt.adjoint:
            self.quoted = None
            return None
        text = stmt.loc.text if stmt.loc is not None and stmt.loc.text else None
        if text is None or text == self.quoted:
            return None
        self.quoted = text
        return [cst.EmptyLine(indent=False), cst.EmptyLine(comment=cst.Comment(f"# grad of: {text}"))]

    def body(self) -> list:
        lines: list = []
        if self.function.doc:
            lines.append(cst.SimpleStatementLine([cst.Expr(cst.SimpleString(f'"""{self.function.doc}"""'))]))
        lines.extend(self.block(self.function.body))
        results = [self.atom(a) for a in self.function.results()]
        value = results[0] if not isinstance(self.function.result, tuple) else tuple_of(results).with_changes(lpar=[], rpar=[])
        lines.append(cst.SimpleStatementLine([cst.Return(value=value)]))
        return lines

    def definition(self) -> cst.FunctionDef:
        defaults = dict(self.function.defaults)
        nospace = cst.SimpleWhitespace("")
        params = [
            cst.Param(cst.Name(p.name), default=constant(defaults[p.name]), equal=cst.AssignEqual(nospace, nospace))
            if p.name in defaults else cst.Param(cst.Name(p.name))
            for p in self.function.params
        ]  # fmt: skip
        return cst.FunctionDef(
            name=cst.Name(self.function.name), params=cst.Parameters(params=params), body=cst.IndentedBlock(self.body())
        )


def helpers_used(function: Function) -> list[str]:
    """Names of symdiff helper functions the generated code calls, in first-use order."""
    seen: list[str] = []
    for eqn in walk(function.body):
        rule = RULES[eqn.op]
        if rule.helper and rule.path not in seen:
            seen.append(rule.path)
    return seen


def emit_function(function: Function, reserved: set[str] = frozenset()) -> cst.FunctionDef:
    """The LibCST definition of `function`."""
    taken = set(reserved) | {"np", "operator"} | set(helpers_used(function)) | {n for n, _ in function.free}
    taken |= {"float", "int", "len", "slice", "range", "bool", "reversed"}
    return FunctionEmitter(function, taken).definition()


def function_source(function: Function) -> str:
    """Source text of `function` alone (no imports or helpers)."""
    return cst.Module(body=[emit_function(function)]).code
