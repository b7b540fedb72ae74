"""Statements of the Numba module: assignments, `if`, loops, tapes and element writes.

`StatementPrinter` is mixed into the Numba emitter, which supplies the
expressions (`atom`, `value`) and the names (`table`, a `NameTable`); blocks,
`# grad of:` comments, `if` and tapes print as in the NumPy source
(`codegen/blocks.py`). What it prints, and why each form was chosen for
Numba's nopython mode:

- `if cond:` with each arm ending in assignments to the `if`'s outputs,
  except the `None` the IR gives a name that only the other arm defines
  (`frontend.control.lower_if`): Numba would type the name `Optional` and
  the helpers that read it under the same condition cannot take that, while
  a name left unassigned on one path gets the other arm's type (its value
  there is never read);
- `for i in range(...)`; a reversed range counts down with a negative step
  (Numba has no `reversed`), through a counter when the step is not a
  constant;
- `while cond:`, or `while True:` + `if not cond: break` when the test needs
  statements of its own;
- a loop's carried values assigned before the loop and at the end of the
  body (skipped where the names are tied, see `names`);
- tapes as Numba lists: `t = []`, `t.append(v)`, `v = t.pop()` (Numba infers
  the element type from the appends);
- `write_at(x, v, i)` (`x[i] = v`) where the write may happen in place
  (`masked_assign` for a boolean mask the function computes), else `index_update`;
  likewise `add_into(x, g, i)` (`x[i] += g`) for an accumulated slice
  cotangent, else `added_at`.
"""

from __future__ import annotations

from collections import Counter

import libcst as cst

from symdiff.backends.numba.names import NameTable
from symdiff.codegen.blocks import BlockPrinter, assign
from symdiff.codegen.expressions import ATOM, call, constant, parenthesize, precedence
from symdiff.ir.nodes import Atom, Const, Eqn, If, Loop, Var
from symdiff.optimize.fuse import FusionPlan


def integer(value: int) -> cst.BaseExpression:
    """An integer literal (`-1` is a unary minus in Python's grammar)."""
    if value < 0:
        return cst.UnaryOperation(cst.Minus(), cst.Integer(str(-value)))
    return cst.Integer(str(value))


def _offset(expr: cst.BaseExpression, delta: int) -> cst.BaseExpression:
    """`expr + delta`, folded when `expr` is an integer literal."""
    if isinstance(expr, cst.Integer):
        return integer(int(expr.value) + delta)
    if delta == 0:
        return expr
    operator = cst.Add() if delta > 0 else cst.Subtract()
    return cst.BinaryOperation(parenthesize(expr, precedence(expr) < 9), operator, cst.Integer(str(abs(delta))))


class StatementPrinter(BlockPrinter):
    """Prints blocks of IR statements; see the module docstring."""

    names: dict[str, str]  # IR name -> printed name (`NameTable.names`)
    table: NameTable  # ties, in-place writes, fresh names
    plan: FusionPlan  # which values print inside their consumer
    helpers: set[str]  # helper functions the module imports
    read_counts: Counter  # how often each name is read, anywhere
    joined: set[str]  # names assigned from several places (if arms, loop start and steps): see joined_value

    def atom(self, atom: Atom, leaf=None) -> cst.BaseExpression:  # pragma: no cover - supplied by the emitter
        raise NotImplementedError

    def value(self, eqn: Eqn) -> cst.BaseExpression:  # pragma: no cover - supplied by the emitter
        raise NotImplementedError

    def write(self, eqn: Eqn) -> list | None:  # pragma: no cover - supplied by the emitter
        raise NotImplementedError

    def mask(self, index: Atom) -> bool:  # pragma: no cover - supplied by the emitter
        raise NotImplementedError

    def name(self, var: Var) -> cst.Name:
        return cst.Name(self.names[var.name])

    def folded(self, eqn: Eqn) -> bool:
        return len(eqn.outs) == 1 and eqn.out.name in self.plan.inline

    def plain_moves(self, targets, values) -> list[cst.SimpleStatementLine]:
        """`a = x` for each pair whose printed names differ; one tuple assignment if they overlap."""
        pairs = self.differing(targets, values)
        written: set[str] = set()
        sequential = True
        for target, value in pairs:
            if isinstance(value, Var) and self.names[value.name] in written:
                sequential = False
            written.add(self.names[target.name])
        if sequential:
            return [assign([self.name(t)], self.atom(v)) for t, v in pairs]
        values = cst.Tuple([cst.Element(self.atom(v)) for _, v in pairs], lpar=[], rpar=[])
        return [assign([self.name(t) for t, _ in pairs], values)]

    # -- equations -----------------------------------------------------------------

    def assignment(self, eqn: Eqn) -> list[cst.SimpleStatementLine]:
        """A fused slice write, an in-place element write, else `outs = value`."""
        written = self.write(eqn)
        if written:
            return written
        if eqn.op == "add_at" and eqn.out.name in self.table.in_place:
            index = eqn.static_dict()["index"]
            self.helpers.add("add_into")
            arguments = [self.name(eqn.out), self.atom(eqn.ins[1]), self.index_value(index)]
            return [cst.SimpleStatementLine([cst.Expr(call("add_into", arguments))])]
        if eqn.op == "setitem" and eqn.out.name in self.table.in_place:
            index = eqn.static_dict()["index"]
            if self.mask(index):  # Numba fails on `x[mask] = v` for a mask of rank 2
                self.helpers.add("masked_assign")
                arguments = [self.name(eqn.out), self.atom(eqn.ins[1]), self.atom(index)]
                return [cst.SimpleStatementLine([cst.Expr(call("masked_assign", arguments))])]
            index_expr = constant(index.value) if isinstance(index, Const) else self.atom(index)
            self.helpers.add("write_at")  # `x[index] = v`; an array `v` through a cached function
            arguments = [self.name(eqn.out), self.atom(eqn.ins[1]), index_expr]
            return [cst.SimpleStatementLine([cst.Expr(call("write_at", arguments))])]
        value = self.value(eqn)
        return [
            assign(
                [self.name(o) for o in eqn.outs], value if eqn.op == "tape_new" else self.joined_value(eqn.outs, value)
            )
        ]

    def joined_value(self, targets, value: cst.BaseExpression) -> cst.BaseExpression:
        """`as_value(v)` where `v` is one of several values joined in one variable (an if's arms, a
        loop's start and step): NumPy's 0-d arrays (np.where of scalars, a reduction over a vector's
        axis) are scalars there, so Numba can type the variable whatever the arms give."""
        if len(targets) != 1 or targets[0].name not in self.joined:
            return value
        self.helpers.add("as_value")
        return call("as_value", [value])

    def moves(self, targets, values) -> list[cst.SimpleStatementLine]:
        """`plain_moves`, each value that joins others in its variable as `as_value(...)`."""
        lines = self.plain_moves(targets, values)
        if len(lines) == len(targets):  # one move per pair, in order
            for k, (target, _) in enumerate(self.differing(targets, values)):
                if target.name in self.joined and isinstance(lines[k].body[0], cst.Assign):
                    line = lines[k].body[0]
                    lines[k] = lines[k].with_changes(
                        body=[line.with_changes(value=self.joined_value([target], line.value))]
                    )
        return lines

    # -- branches ----------------------------------------------------------------------

    def arms(self, stmt: If) -> tuple[tuple[list, list], tuple[list, list]]:
        """Each arm's (outputs, results), less the `None` results of outputs that the other arm
        defines: the name stays unassigned there (see the module docstring)."""
        arms = []
        for results, others in ((stmt.then_results, stmt.else_results), (stmt.else_results, stmt.then_results)):
            kept = [(out, r) for out, r, o in zip(stmt.outs, results, others) if not (_is_none(r) and not _is_none(o))]
            arms.append(([out for out, _ in kept], [r for _, r in kept]))
        return arms[0], arms[1]

    # -- loops -----------------------------------------------------------------------

    def for_loop(self, stmt: Loop, body: list) -> cst.For:
        """`range(...)`; a reversed one counts down with a negative step (Numba has no `reversed`)."""
        start, stop, step = stmt.bounds
        if not stmt.reverse:
            args = self.range_arguments(stmt)
            if len(args) == 3 and step == Const(1):
                args = args[:2]
            return cst.For(self.name(stmt.index), call("range", args), cst.IndentedBlock(body))
        if step == Const(1):
            countdown = call("range", [_offset(self.atom(stop), -1), _offset(self.atom(start), -1), integer(-1)])
            return cst.For(self.name(stmt.index), countdown, cst.IndentedBlock(body))
        return self.counted_down(stmt, body)

    def counted_down(self, stmt: Loop, body: list) -> cst.For:
        """`for k in range(count - 1, -1, -1): i = start + k * step` for a reversed range with any step."""
        counter = cst.Name(self.table.fresh(f"{self.names[stmt.index.name]}_back"))
        start, stop, step = (self.atom(b) for b in stmt.bounds)
        self.helpers.add("range_length")
        count = call("range_length", [start, stop, step])
        countdown = call("range", [_offset(count, -1), integer(-1), integer(-1)])
        offset = cst.BinaryOperation(counter, cst.Multiply(), parenthesize(step, precedence(step) < ATOM))
        index = assign(
            [self.name(stmt.index)], cst.BinaryOperation(parenthesize(start, precedence(start) < 9), cst.Add(), offset)
        )
        return cst.For(counter, countdown, cst.IndentedBlock([index, *body]))

    def while_loop(self, stmt: Loop, body: list) -> cst.While:
        """`while test:` when the test is one expression, else `while True:` with a `break`."""
        printed = [s for s in stmt.cond_body if not (isinstance(s, Eqn) and s.out.name in self.plan.inline)]
        last = printed[-1] if printed else None
        single = isinstance(last, Eqn) and len(printed) == 1 and len(last.outs) == 1 and last.out == stmt.cond
        if single and self.read_counts[stmt.cond.name] == 1:
            return cst.While(test=self.value(last), body=cst.IndentedBlock(body))
        stop = cst.If(
            test=cst.UnaryOperation(
                cst.Not(), parenthesize(self.atom(stmt.cond), precedence(self.atom(stmt.cond)) <= 3)
            ),
            body=cst.IndentedBlock([cst.SimpleStatementLine([cst.Break()])]),
        )
        test = self.block(stmt.cond_body) if printed else []
        return cst.While(test=cst.Name("True"), body=cst.IndentedBlock([*test, stop, *body]))


def _is_none(atom: Atom) -> bool:
    return isinstance(atom, Const) and atom.value is None


__all__ = ["StatementPrinter"]
