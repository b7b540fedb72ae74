"""Blocks of IR statements -> LibCST statements: the part every printer shares.

The NumPy printer (`codegen/emit.py`) and the Numba printer
(`backends/numba/statements.py`) lay out the same statement shapes.
`BlockPrinter` holds what does not depend on the target: the walk over a
block, the `# grad of: <forward statement>` comment above each run of
backward statements, `if`/`else` with each arm ending in moves to the `if`'s
outputs, a loop's moves of its carried values, and the tape operations
(`tape.append(v)`, `v = tape.pop()`). A printer supplies its names and
expressions and the statements that differ: assignments and element writes,
moves, `for` and `while` headers.

Imports only LibCST and the IR; never a backend.
"""

from __future__ import annotations

import libcst as cst

from symdiff.ir.nodes import Atom, Const, Eqn, If, Loop, Var


def bare_tuple(items: list[cst.BaseExpression]) -> cst.BaseExpression:
    """`a`, or `a, b` without parentheses for several items (either side of an assignment)."""
    return items[0] if len(items) == 1 else cst.Tuple([cst.Element(item) for item in items], lpar=[], rpar=[])


def assign(targets: list[cst.BaseExpression], value: cst.BaseExpression) -> cst.SimpleStatementLine:
    """`a = value`, or `a, b = value` for several targets."""
    return cst.SimpleStatementLine([cst.Assign([cst.AssignTarget(bare_tuple(targets))], value)])


class BlockPrinter:
    """Prints blocks of IR statements; see the module docstring."""

    names: dict[str, str]  # IR name -> printed name: supplied by each printer
    quoted: str | None = None  # the forward statement the last `# grad of:` quoted
    noted: str = ""  # the last note printed (transforms/stable.py's, on forward and backward lines alike)

    # -- supplied by each printer --------------------------------------------------

    def name(self, var: Var) -> cst.Name:  # pragma: no cover - supplied by the printer
        raise NotImplementedError

    def atom(self, atom: Atom) -> cst.BaseExpression:  # pragma: no cover - supplied by the printer
        raise NotImplementedError

    def folded(self, eqn: Eqn) -> bool:  # pragma: no cover - supplied by the printer
        """Whether `eqn` is printed inside another statement instead of on its own."""
        raise NotImplementedError

    def assignment(self, eqn: Eqn) -> list[cst.SimpleStatementLine]:  # pragma: no cover - supplied by the printer
        """The statements of an equation other than a tape operation."""
        raise NotImplementedError

    def moves(self, targets, values) -> list[cst.SimpleStatementLine]:  # pragma: no cover - supplied by the printer
        """Assignments of `values` to `targets` where their printed names differ (`differing`)."""
        raise NotImplementedError

    def for_loop(self, stmt: Loop, body: list) -> cst.For:  # pragma: no cover - supplied by the printer
        raise NotImplementedError

    def while_loop(self, stmt: Loop, body: list) -> cst.While:  # pragma: no cover - supplied by the printer
        raise NotImplementedError

    # -- blocks --------------------------------------------------------------------

    def block(self, body, trailing: list | None = None) -> list:
        """The statements of one block; `# grad of:` comments restart in every block."""
        outer, self.quoted = self.quoted, None
        lines: list = []
        notes: list[str] = []  # not printed yet: above the next statement (folded ones print inside it)
        for stmt in body:
            note = stmt.loc.note if stmt.loc is not None else ""
            if note and note != self.noted and note not in notes:
                notes.append(note)
            if isinstance(stmt, Eqn) and self.folded(stmt):
                continue
            header = self.header(stmt)
            if notes:
                self.noted = notes[-1]
                header = (header or []) + [cst.EmptyLine(comment=cst.Comment(f"# {note}")) for note in notes]
                notes = []
            built = self.statement(stmt)
            if header is not None and built:
                built[0] = built[0].with_changes(leading_lines=header)
            lines.extend(built)
        lines.extend(trailing or [])
        self.quoted = outer
        return lines or [cst.SimpleStatementLine([cst.Pass()])]

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

    def statement(self, stmt) -> list:
        if isinstance(stmt, Eqn):
            return self.equation(stmt)
        if isinstance(stmt, If):
            return [self.branch(stmt)]
        return self.loop(stmt)

    def equation(self, eqn: Eqn) -> list[cst.SimpleStatementLine]:
        """Tapes are plain lists on every backend: `tape.append(v)`, `v = tape.pop()`."""
        if eqn.op == "tape_push":
            method = cst.Attribute(self.atom(eqn.ins[0]), cst.Name("append"))
            return [cst.SimpleStatementLine([cst.Expr(cst.Call(method, [cst.Arg(self.atom(eqn.ins[1]))]))])]
        if eqn.op == "tape_pop":
            popped = cst.Call(cst.Attribute(self.atom(eqn.ins[0]), cst.Name("pop")))
            if eqn.static and eqn.static[0][1].value:  # off a tape of float64 numbers: the NumPy number pushed
                popped = cst.Call(cst.Attribute(cst.Name("np"), cst.Name("float64")), [cst.Arg(popped)])
            return [assign([self.name(eqn.outs[1])], popped)]
        return self.assignment(eqn)

    # -- control flow ----------------------------------------------------------------

    def arms(self, stmt: If) -> tuple[tuple[list, list], tuple[list, list]]:
        """Each arm's (outputs, results) to move at its end: every output, by default."""
        return (list(stmt.outs), list(stmt.then_results)), (list(stmt.outs), list(stmt.else_results))

    def branch(self, stmt: If) -> cst.If:
        then_moves, else_moves = self.arms(stmt)
        then = self.block(stmt.then_body, self.moves(*then_moves))
        other = self.block(stmt.else_body, self.moves(*else_moves))
        empty = (
            len(other) == 1 and isinstance(other[0], cst.SimpleStatementLine) and isinstance(other[0].body[0], cst.Pass)
        )
        orelse = None if empty else cst.Else(cst.IndentedBlock(other))
        return cst.If(test=self.atom(stmt.cond), body=cst.IndentedBlock(then), orelse=orelse)

    def loop(self, stmt: Loop) -> list:
        """The carried values' initial moves, then the loop; its body ends by moving the results into them."""
        before = self.moves(stmt.carried, stmt.inits)
        body = self.block(stmt.body, self.moves(stmt.carried, stmt.results))
        node = self.while_loop(stmt, body) if stmt.index is None else self.for_loop(stmt, body)
        return before + [node]

    def differing(self, targets, values) -> list[tuple[Var, Atom]]:
        """The (target, value) pairs whose printed names differ: the moves a join needs (a name
        tied to its target, as a loop's carried value often is, moves nothing)."""
        names = self.names
        return [
            (t, v) for t, v in zip(targets, values) if not (isinstance(v, Var) and names.get(v.name) == names[t.name])
        ]

    def range_arguments(self, stmt: Loop) -> list[cst.BaseExpression]:
        """`range`'s arguments for a loop's bounds: the stop alone when counting from 0 by 1."""
        start, stop, step = stmt.bounds
        if start == Const(0) and step == Const(1):
            return [self.atom(stop)]
        return [self.atom(b) for b in stmt.bounds]


__all__ = ["BlockPrinter", "assign", "bare_tuple"]
