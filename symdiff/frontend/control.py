"""Lowering of control flow: if/elif/else, for over range(...), while.

Each construct becomes one `If` or `Loop` statement whose arms or body are
lowered into their own equation lists. Variables assigned inside and alive
outside become the statement's outputs (for loops: carried values). Early
returns are first rewritten so that the code after an `if` that returns
moves into the other arm (`normalize_returns`); a return is then just an
assignment to the name `RETURN`.
"""

from __future__ import annotations

import ast
import copy

from symdiff.ir.nodes import Const, If, Loop, Var

RETURN = "<return>"


class LoopLocal:
    """Marks a name first assigned inside a loop body (unreadable after the loop)."""

    def __init__(self, line: int):
        self.line = line


def always_returns(body: list[ast.stmt]) -> bool:
    """True if every path through `body` ends in a return."""
    if not body:
        return False
    last = body[-1]
    if isinstance(last, ast.Return):
        return True
    if isinstance(last, ast.If):
        return always_returns(last.body) and always_returns(last.orelse)
    return False


def normalize_returns(body: list[ast.stmt]) -> list[ast.stmt]:
    """Move statements after an `if` arm that returns into the other arm."""
    out: list[ast.stmt] = []
    for k, stmt in enumerate(body):
        if not isinstance(stmt, ast.If):
            out.append(stmt)
            continue
        stmt = copy.copy(stmt)
        stmt.body, stmt.orelse = normalize_returns(stmt.body), normalize_returns(stmt.orelse)
        rest = body[k + 1 :]
        if rest and (_any_return(stmt.body) or _any_return(stmt.orelse)):
            if not always_returns(stmt.body):
                stmt.body = normalize_returns(stmt.body + rest)
            if not always_returns(stmt.orelse):
                stmt.orelse = normalize_returns(stmt.orelse + rest)
            out.append(stmt)
            return out
        out.append(stmt)
    return out


def _any_return(body: list[ast.stmt]) -> bool:
    return any(isinstance(node, ast.Return) for stmt in body for node in ast.walk(stmt))


def _is_list_update(node: ast.AST) -> bool:
    """`name.append(...)` or `name.pop()`: changes the list `name` (a tape)."""
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in ("append", "pop")
        and isinstance(node.func.value, ast.Name)
    )


def assigned_names(body: list[ast.stmt]) -> list[str]:
    """Names assigned anywhere in `body` (subscript targets count for their base), in order."""
    names: list[str] = []

    def add(target: ast.expr) -> None:
        if isinstance(target, ast.Name):
            names.append(target.id)
        elif isinstance(target, (ast.Tuple, ast.List)):
            for element in target.elts:
                add(element)
        elif isinstance(target, ast.Subscript):
            add(target.value)

    for stmt in body:
        for node in ast.walk(stmt):
            if isinstance(node, ast.Assign):
                for target in node.targets:
                    add(target)
            elif isinstance(node, (ast.AugAssign, ast.For)):
                add(node.target)
            elif isinstance(node, ast.Return):
                names.append(RETURN)
            elif _is_list_update(node):
                names.append(node.func.value.id)
    return list(dict.fromkeys(names))


class ControlFlow:
    """Mixin for `Lowering`: the statement forms that contain blocks."""

    def block(self, body: list[ast.stmt], env: dict) -> tuple[list, dict, bool]:
        """Lower `body` into a new equation list, starting from `env`."""
        saved = (self.body, self.env, self.returned, self.statement)
        self.body, self.env, self.returned = [], dict(env), False
        try:
            self.statements(body)
            return self.body, self.env, self.returned
        finally:
            self.body, self.env, self.returned, self.statement = saved

    def lower_if(self, node: ast.If) -> None:
        self.target = "cond"
        cond = self.atom(self._expr(node.test, None), node.test)
        if isinstance(cond, Const):  # a flag known at build time: keep one arm
            self.statements(node.body if cond.value else node.orelse)
            return
        before = dict(self.env)
        loc = self.where(node.test)
        then_body, then_env, then_returned = self.block(node.body, before)
        else_body, else_env, else_returned = self.block(node.orelse, before)
        if then_returned != else_returned:
            raise self.fail("only one arm of this if returns a value", node, "return on every path")
        # A name assigned in one arm only is readable later under the same condition
        # (generated backward passes do that); the other arm gives it None.
        names = [
            n for n in dict.fromkeys([*then_env, *else_env])
            if then_env.get(n) is not before.get(n) or else_env.get(n) is not before.get(n)
        ]  # fmt: skip
        for env in (then_env, else_env):
            for n in names:
                env.setdefault(n, Const(None))
        then_results = tuple(self.branch_atom(then_env[n], n, node, then_body) for n in names)
        else_results = tuple(self.branch_atom(else_env[n], n, node, else_body) for n in names)
        outs = tuple(Var(self.names.fresh(_stem(n))) for n in names)
        self.body.append(If(outs, cond, tuple(then_body), then_results, tuple(else_body), else_results, loc))
        for name, out in zip(names, outs):
            self.env[name] = out
        self.returned = then_returned

    def branch_atom(self, value, name: str, node: ast.AST, body: list):
        saved = self.body
        self.body = body
        try:
            return self.atom(value, node)
        finally:
            self.body = saved

    def lower_for(self, node: ast.For) -> None:
        if node.orelse:
            raise self.fail("for/else is not supported", node)
        if not isinstance(node.target, ast.Name):
            raise self.fail("the loop variable must be a single name", node.target)
        call, backwards = node.iter, False
        callee = self._expr(call.func, None) if isinstance(call, ast.Call) else None
        if callee is reversed and len(call.args) == 1 and isinstance(call.args[0], ast.Call):
            call, backwards = call.args[0], True
            callee = self._expr(call.func, None)
        if callee is not range or call.keywords:
            raise self.fail("for loops must iterate over range(...)", node.iter, "write `for i in range(n):`")
        self.target = node.target.id
        bounds = [self.atom(self._expr(a, None), a) for a in call.args]
        if not 1 <= len(bounds) <= 3:
            raise self.fail("range() takes 1 to 3 arguments", call)
        if len(bounds) == 1:
            bounds = [Const(0), bounds[0]]
        if len(bounds) == 2:
            bounds.append(Const(1))
        index = Var(self.names.fresh(node.target.id))
        self.loop(node, node.body, index, tuple(bounds), None, backwards)

    def lower_while(self, node: ast.While) -> None:
        if node.orelse:
            raise self.fail("while/else is not supported", node)
        self.loop(node, node.body, None, (), node.test)

    def loop(self, node, body: list[ast.stmt], index, bounds, test, backwards: bool = False) -> None:
        for inner in ast.walk(node):
            if isinstance(inner, (ast.Break, ast.Continue)):
                word = "break" if isinstance(inner, ast.Break) else "continue"
                raise self.fail(f"{word} is not supported", inner, "use a while loop with a condition, or np.where")
            if isinstance(inner, ast.Return):
                raise self.fail("return inside a loop is not supported", inner, "return after the loop")
        loc = self.where(node)
        assigned = assigned_names(body)
        carried_names = [n for n in assigned if n in self.env and not isinstance(self.env[n], LoopLocal)]
        carried = tuple(Var(self.names.fresh(_stem(n))) for n in carried_names)
        inits = tuple(self.atom(self.env[n], node) for n in carried_names)
        start = dict(self.env)
        start.update(zip(carried_names, carried))
        if index is not None:
            start[node.target.id] = index
        cond_body, cond = [], None
        if test is not None:
            saved = self.body
            self.body, self.target = cond_body, "cond"
            env_saved, self.env = self.env, dict(start)
            cond = self.atom(self._expr(test, None), test)
            self.body, self.env = saved, env_saved
        body_eqns, end_env, _ = self.block(body, start)
        results = tuple(self.branch_atom(end_env[n], n, node, body_eqns) for n in carried_names)
        outs = tuple(Var(self.names.fresh(_stem(n))) for n in carried_names)
        self.body.append(
            Loop(outs, carried, inits, tuple(body_eqns), results, index, bounds, tuple(cond_body), cond, backwards, loc)
        )
        for name, out in zip(carried_names, outs):
            self.env[name] = out
        for name in assigned:
            if name not in carried_names:
                self.env[name] = LoopLocal(node.lineno)


def _stem(name: str) -> str:
    return "result" if name == RETURN else name
