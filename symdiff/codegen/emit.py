"""IR -> a LibCST function definition that a person can read.

Three steps: decide which temporaries fold back into the expression that
uses them (single-use values the user never named), build one statement per
remaining equation, then choose display names by liveness (`naming.py`).
The forward part therefore reads like the user's code; every run of backward
statements is preceded by `# grad of: <forward statement>`.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import libcst as cst

from symdiff.codegen.expressions import build, constant, tuple_of
from symdiff.codegen.naming import assign_names
from symdiff.ir.nodes import Atom, Const, Eqn, Function, Var
from symdiff.rules import RULES

_ALWAYS_INLINE = {"make_slice", "make_tuple", "shape"}


@dataclass
class Statement:
    eqn: Eqn
    reads: set[str]


def _use_counts(function: Function) -> Counter:
    counts: Counter = Counter()
    for eqn in function.body:
        counts.update(a.name for a in eqn.atoms() if isinstance(a, Var))
    counts.update(a.name for a in function.results() if isinstance(a, Var))
    return counts


def _inlinable(function: Function) -> set[str]:
    counts = _use_counts(function)
    inline = set()
    for eqn in function.body:
        if len(eqn.outs) != 1:
            continue
        out = eqn.out
        if counts[out.name] == 1 and (out.temp or (eqn.op in _ALWAYS_INLINE and out.temp)):
            inline.add(out.name)
    return inline


class FunctionEmitter:
    """Builds the `def` for one IR function."""

    def __init__(self, function: Function, reserved: set[str]):
        self.function = function
        self.inline = _inlinable(function)
        self.defs = {e.out.name: e for e in function.body if len(e.outs) == 1}
        self.statements = [e for e in function.body if not (len(e.outs) == 1 and e.out.name in self.inline)]
        reads = [(tuple(o.name for o in e.outs), self._reads(e)) for e in self.statements]
        results = [a.name for a in function.results() if isinstance(a, Var)]
        self.names = assign_names([p.name for p in function.params], reads, results, reserved)

    def _reads(self, eqn: Eqn) -> set[str]:
        names = set()
        for atom in eqn.atoms():
            if isinstance(atom, Var):
                if atom.name in self.inline:
                    names |= self._reads(self.defs[atom.name])
                else:
                    names.add(atom.name)
        return names

    def atom(self, atom: Atom, in_index: bool = False) -> cst.BaseExpression:
        if isinstance(atom, Const):
            return constant(atom.value, in_index)
        if atom.name in self.inline:
            return self.expression(self.defs[atom.name])
        return cst.Name(self.names.get(atom.name, atom.name))

    def expression(self, eqn: Eqn) -> cst.BaseExpression:
        rule = RULES[eqn.op]
        operands = [self.atom(a) for a in eqn.ins]
        statics = {k: self.atom(a, in_index=(k == "index" and eqn.op == "getitem")) for k, a in eqn.static}
        return build(eqn, operands, statics, rule)

    def statement(self, eqn: Eqn) -> cst.SimpleStatementLine:
        targets = [cst.Name(self.names[o.name]) for o in eqn.outs]
        target = targets[0] if len(targets) == 1 else tuple_of(targets)
        assign = cst.Assign(targets=[cst.AssignTarget(target)], value=self.expression(eqn))
        return cst.SimpleStatementLine(body=[assign])

    def body(self) -> list[cst.BaseStatement]:
        lines: list[cst.BaseStatement] = []
        if self.function.doc:
            lines.append(cst.SimpleStatementLine([cst.Expr(cst.SimpleString(f'"""{self.function.doc}"""'))]))
        quoted = None
        for eqn in self.statements:
            line = self.statement(eqn)
            text = eqn.loc.text if (eqn.adjoint and eqn.loc is not None and eqn.loc.text) else None
            if eqn.adjoint and text != quoted and text:
                blank = [cst.EmptyLine(indent=False)] if lines else []
                comment = cst.EmptyLine(comment=cst.Comment(f"# grad of: {text}"))
                line = line.with_changes(leading_lines=[*blank, comment])
            quoted = text if eqn.adjoint else None
            lines.append(line)
        results = [self.atom(a) for a in self.function.results()]
        value = results[0] if not isinstance(self.function.result, tuple) else tuple_of(results).with_changes(lpar=[], rpar=[])
        lines.append(cst.SimpleStatementLine([cst.Return(value=value)]))
        return lines

    def definition(self) -> cst.FunctionDef:
        defaults = dict(self.function.defaults)
        params = [
            cst.Param(
                cst.Name(p.name),
                default=constant(defaults[p.name]) if p.name in defaults else None,
                equal=cst.AssignEqual(cst.SimpleWhitespace(""), cst.SimpleWhitespace("")) if p.name in defaults else cst.MaybeSentinel.DEFAULT,
            )
            for p in self.function.params
        ]
        return cst.FunctionDef(
            name=cst.Name(self.function.name),
            params=cst.Parameters(params=params),
            body=cst.IndentedBlock(body=self.body()),
        )


def helpers_used(function: Function) -> list[str]:
    """Names of symdiff helper functions the generated code calls, in first-use order."""
    seen: list[str] = []
    for eqn in function.body:
        rule = RULES[eqn.op]
        if rule.helper and rule.path not in seen:
            seen.append(rule.path)
    return seen


def emit_function(function: Function, reserved: set[str] = frozenset()) -> cst.FunctionDef:
    """The LibCST definition of `function`."""
    taken = set(reserved) | {"np", "operator"} | set(helpers_used(function)) | {n for n, _ in function.free}
    taken |= {"float", "int", "len", "slice", "range", "bool"}
    return FunctionEmitter(function, taken).definition()


def function_source(function: Function) -> str:
    """Source text of `function` alone (no imports or helpers)."""
    return cst.Module(body=[emit_function(function)]).code
