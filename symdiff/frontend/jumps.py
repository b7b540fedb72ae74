"""`break`, `continue` and `return` inside loops, rewritten as flags before lowering.

The IR's loops run a counted range or test a condition; they have no early
exit. A jump becomes an assignment to a flag, and the statements a jump may
skip run under `if not (flag)`: `break` sets `broke` (a `for` loop's body
then does nothing for its remaining iterations; a `while` loop's condition
also tests it), `continue` sets `skipped` (reset at the top of each
iteration), and `return v` inside a loop sets `returned` and keeps `v`, and
the function returns it after the loop. The derivative of the rewritten
loop is the derivative of the iterations that ran, as in the original.
"""

from __future__ import annotations

import ast
import copy


def has_jump(body: list[ast.stmt], returns: bool = True) -> bool:
    """Whether `body` breaks, continues (out of this loop) or returns."""
    for stmt in body:
        for node in _walk_same_loop(stmt):
            if isinstance(node, (ast.Break, ast.Continue)) or returns and isinstance(node, ast.Return):
                return True
    return False


def _walk_same_loop(node: ast.AST):
    """`ast.walk`, but a nested loop's own break and continue are not ours (its returns are)."""
    yield node
    for child in ast.iter_child_nodes(node):
        if isinstance(child, (ast.For, ast.While)):
            yield from (n for n in ast.walk(child) if isinstance(n, ast.Return))
        elif not isinstance(child, (ast.FunctionDef, ast.Lambda)):
            yield from _walk_same_loop(child)


def rewrite_jumps(body: list[ast.stmt], bound: frozenset[str] = frozenset()) -> list[ast.stmt]:
    """`body` with every loop's jumps made flags (inner loops first, so that an inner loop's
    return becomes a return in the outer loop's body, which the outer rewrite then takes).
    `bound` names the variables that hold a value before `body` runs (the parameters)."""
    out: list[ast.stmt] = []
    for k, stmt in enumerate(body):
        if isinstance(stmt, ast.If):
            branch = copy.copy(stmt)
            branch.body, branch.orelse = rewrite_jumps(stmt.body, bound), rewrite_jumps(stmt.orelse, bound)
            out.append(branch)
            continue
        if not isinstance(stmt, (ast.For, ast.While)) or stmt.orelse:
            out.append(stmt)  # for/else and while/else are refused when lowered
            if isinstance(stmt, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
                targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
                bound = bound | {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}
            continue
        loop = copy.copy(stmt)
        loop.body = rewrite_jumps(stmt.body, bound)
        if not has_jump(loop.body):
            out.append(loop)
            continue
        flags = Flags(stmt)
        rest = rewrite_jumps(body[k + 1 :], bound)
        return out + before(flags, loop, bound) + [rewrite_loop(loop, flags)] + after(flags, loop, rest)
    return out


class Flags:
    """The names of one loop's flags, and the name its early return is kept in."""

    def __init__(self, loop: ast.stmt):
        tag = f"{loop.lineno}"
        self.broke, self.skipped = f"broke_{tag}", f"skipped_{tag}"
        self.returned, self.value = f"returned_{tag}", f"returned_value_{tag}"


def rewrite_loop(loop: ast.For | ast.While, flags: Flags) -> ast.For | ast.While:
    """`loop` without jumps: its body sets flags instead."""
    body = _body(loop.body, flags, loop)
    if _contains(loop.body, ast.Continue):
        body = [_assign(flags.skipped, ast.Constant(False), loop), *body]
    new = copy.copy(loop)
    if isinstance(loop, ast.For):
        new.body = [_if_not([flags.broke], body, loop)]
    else:
        new.body = body
        test = ast.BoolOp(op=ast.And(), values=[_not([flags.broke], loop), loop.test])
        new.test = ast.copy_location(test, loop.test)
    return new


def before(flags: Flags, loop: ast.stmt, bound: frozenset[str]) -> list[ast.stmt]:
    """The flags' first values, assigned before the loop."""
    out = [_assign(flags.broke, ast.Constant(False), loop)]
    if _contains(loop.body, ast.Return):
        out += [_assign(flags.returned, ast.Constant(False), loop), _assign(flags.value, _unused(loop, bound), loop)]
    return out


def _unused(loop: ast.stmt, bound: frozenset[str]) -> ast.expr:
    """What the kept return value holds until a return sets it: never returned, but of the type it
    will have, which Numba needs (a variable has one type): `return x` of a name bound before the
    loop starts from `x`, anything else from 0.0."""
    returned = next(node.value for stmt in loop.body for node in _walk_same_loop(stmt) if isinstance(node, ast.Return))
    names = returned.elts if isinstance(returned, ast.Tuple) else [returned]
    if returned is not None and all(isinstance(n, ast.Name) and n.id in bound for n in names):
        return copy.deepcopy(returned)
    return ast.Constant(0.0)


def after(flags: Flags, loop: ast.stmt, rest: list[ast.stmt]) -> list[ast.stmt]:
    """What follows the loop: its early return taken, else the rest of the function."""
    if not _contains(loop.body, ast.Return):
        return rest
    kept = ast.copy_location(ast.Return(ast.Name(flags.value, ast.Load())), loop)
    endless = isinstance(loop, ast.While) and isinstance(loop.test, ast.Constant) and loop.test.value is True
    if endless and not rest and not _contains(loop.body, ast.Break):
        return [kept]  # `while True:` left only by its return (GradBench's gd.hpp): nothing else follows
    return [ast.copy_location(ast.If(test=ast.Name(flags.returned, ast.Load()), body=[kept], orelse=rest), loop)]


def _body(body: list[ast.stmt], flags: Flags, loop: ast.stmt) -> list[ast.stmt]:
    out: list[ast.stmt] = []
    for k, stmt in enumerate(body):
        if isinstance(stmt, ast.Break):
            return out + [_assign(flags.broke, ast.Constant(True), stmt)]
        if isinstance(stmt, ast.Continue):
            return out + [_assign(flags.skipped, ast.Constant(True), stmt)]
        if isinstance(stmt, ast.Return):
            value = stmt.value if stmt.value is not None else ast.Constant(None)
            return out + [
                _assign(flags.value, value, stmt),
                _assign(flags.returned, ast.Constant(True), stmt),
                _assign(flags.broke, ast.Constant(True), stmt),
            ]
        if isinstance(stmt, ast.If) and has_jump([stmt]):
            branch = copy.copy(stmt)
            branch.body = _body(stmt.body, flags, loop) or [ast.copy_location(ast.Pass(), stmt)]
            branch.orelse = _body(stmt.orelse, flags, loop)
            out.append(branch)
            rest = body[k + 1 :]
            if rest:
                names = [flags.broke] + ([flags.skipped] if _contains([stmt], ast.Continue) else [])
                out.append(_if_not(names, _body(rest, flags, loop), rest[0]))
            return out
        out.append(stmt)
    return out


def _contains(body: list[ast.stmt], kind: type) -> bool:
    return any(isinstance(node, kind) for stmt in body for node in _walk_same_loop(stmt))


def _assign(name: str, value: ast.expr, at: ast.AST) -> ast.stmt:
    target = ast.Name(name, ast.Store())
    return ast.fix_missing_locations(ast.copy_location(ast.Assign(targets=[target], value=value), at))


def _not(names: list[str], at: ast.AST) -> ast.expr:
    flags = [ast.Name(n, ast.Load()) for n in names]
    either = flags[0] if len(flags) == 1 else ast.BoolOp(op=ast.Or(), values=flags)
    return ast.fix_missing_locations(ast.copy_location(ast.UnaryOp(op=ast.Not(), operand=either), at))


def _if_not(names: list[str], body: list[ast.stmt], at: ast.AST) -> ast.stmt:
    node = ast.If(test=_not(names, at), body=body or [ast.Pass()], orelse=[])
    return ast.fix_missing_locations(ast.copy_location(node, at))
