"""IR -> a LibCST function definition that a person can read.

`codegen/layout.py` decides which temporaries fold into expressions and what
every value is called; this module builds the statements: one assignment per
remaining equation, `if`/`for`/`while` blocks for control flow, `x[i] = v`
for element writes that can happen in place, and `tape.append(v)` /
`v = tape.pop()` for values saved by loops. Every run of backward statements
is preceded by `# grad of: <forward statement>`. What the Numba printer
prints the same way (blocks, comments, `if`, tapes) is in `codegen/blocks.py`.
"""

from __future__ import annotations

import libcst as cst

from symdiff.codegen.blocks import BlockPrinter, assign, bare_tuple
from symdiff.codegen.expressions import build, call, constant, subscript, tuple_of
from symdiff.codegen.layout import Layout
from symdiff.ir.nodes import Atom, Const, Eqn, Function, Loop, Var, walk
from symdiff.rules import RULES


class FunctionEmitter(BlockPrinter):
    """Builds the `def` for one IR function; statements and blocks as in `codegen/blocks.py`."""

    def __init__(self, function: Function, reserved: set[str]):
        self.function = function
        self.layout = Layout(function, reserved)
        self.names = self.layout.names

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
            if eqn.static:  # a tape of float64 numbers (optimize/known_shapes.py)
                return cst.Call(cst.Name("float_tape"))
            return cst.List([])
        return build(eqn, operands, statics, RULES[eqn.op])

    # -- statements ----------------------------------------------------------

    def folded(self, eqn: Eqn) -> bool:
        return eqn.out.name in self.layout.inline or eqn.out.name in self.layout.absorbed

    def assignment(self, eqn: Eqn) -> list[cst.SimpleStatementLine]:
        """`outs = value`, or an element write or accumulation the layout allows in place."""
        if id(eqn) in self.layout.unfilled:  # the writes that follow reach every element: no zeros first
            unfilled = Eqn(eqn.outs, "scatter_into_empty", eqn.ins, eqn.static, eqn.loc)
            return [assign([self.name(eqn.out)], self.expression(unfilled))]
        if id(eqn) in self.layout.accumulations:
            scatter = self.layout.accumulations[id(eqn)]
            index = self.atom(scatter.static_dict()["index"], in_index=True)
            target = subscript(self.name(eqn.out), index)
            if id(eqn) in self.layout.first_writes:
                return [assign([target], self.atom(scatter.ins[0]))]
            return [cst.SimpleStatementLine([cst.AugAssign(target, cst.AddAssign(), self.atom(scatter.ins[0]))])]
        if id(eqn) in self.layout.loop_accumulators:
            acc, part = self.layout.loop_accumulators[id(eqn)]
            if self.names.get(acc.name) == self.names.get(eqn.out.name):
                return [cst.SimpleStatementLine([cst.AugAssign(self.name(eqn.out), cst.AddAssign(), self.atom(part))])]
        if eqn.op == "setitem" and id(eqn) in self.layout.in_place:
            index = self.atom(eqn.static_dict()["index"], in_index=True)
            return [assign([subscript(self.name(eqn.out), index)], self.atom(eqn.ins[1]))]
        return [assign([self.name(o) for o in eqn.outs], self.expression(eqn))]

    def moves(self, targets, values) -> list[cst.SimpleStatementLine]:
        """`a, b = x, y` for the pairs whose names differ (a parallel assignment)."""
        pairs = self.differing(targets, values)
        if not pairs:
            return []
        return [assign([self.name(t) for t, _ in pairs], bare_tuple([self.atom(v) for _, v in pairs]))]

    def for_loop(self, stmt: Loop, body: list) -> cst.For:
        iterator = call("range", self.range_arguments(stmt))
        if stmt.reverse:
            iterator = call("reversed", [iterator])
        return cst.For(target=self.name(stmt.index), iter=iterator, body=cst.IndentedBlock(body))

    def while_loop(self, stmt: Loop, body: list) -> cst.While:
        return cst.While(test=self.atom(stmt.cond), body=cst.IndentedBlock(body))

    def body(self) -> list:
        lines: list = []
        if self.function.doc:
            lines.append(cst.SimpleStatementLine([cst.Expr(cst.SimpleString(f'"""{self.function.doc}"""'))]))
        lines.extend(self.block(self.function.body))
        results = [self.atom(a) for a in self.function.results()]
        value = (
            results[0]
            if not isinstance(self.function.result, tuple)
            else tuple_of(results).with_changes(lpar=[], rpar=[])
        )
        lines.append(cst.SimpleStatementLine([cst.Return(value=value)]))
        return lines

    def definition(self) -> cst.FunctionDef:
        defaults = dict(self.function.defaults)
        for param in reversed(self.function.params):  # only a tail of parameters may have defaults
            if param.name not in defaults:  # (a vjp's cotangent comes after the primal's `scale=2.0`)
                kept = self.function.params[self.function.params.index(param) + 1 :]
                defaults = {p.name: defaults[p.name] for p in kept if p.name in defaults}
                break
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
        rule = RULES["float_tape" if eqn.op == "tape_new" and eqn.static else eqn.op]
        if rule.helper and rule.path not in seen:
            seen.append(rule.path)
    if "scatter_add" in seen and Layout(function, set()).unfilled:  # printed for some scatter_adds
        seen.insert(seen.index("scatter_add") + 1, "scatter_into_empty")
    return seen


def emit_function(function: Function, reserved: set[str] = frozenset()) -> cst.FunctionDef:
    """The LibCST definition of `function`."""
    taken = set(reserved) | {"np", "operator"} | set(helpers_used(function)) | {n for n, _ in function.free}
    taken |= {"float", "int", "len", "slice", "range", "bool", "reversed"}
    return FunctionEmitter(function, taken).definition()


def function_source(function: Function) -> str:
    """Source text of `function` alone (no imports or helpers)."""
    return cst.Module(body=[emit_function(function)]).code
