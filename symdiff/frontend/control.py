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
import inspect
from dataclasses import replace

import numpy as np

from symdiff.frontend.values import GROW_ROWS, LocalFunction, Pack, Partial, Record, Rows
from symdiff.ir.nodes import Const, If, Loop, Var
from symdiff.ir.schedules import Requested, check_length, checkpointed

RETURN = "<return>"


class LoopLocal:
    """Marks a name first assigned inside a loop body (unreadable after the loop). `over_a_list`:
    the loop walks an argument that may be a list, whose items the loop is unrolled over when
    built for the call's structure (then the name is readable after it, as in Python)."""

    def __init__(self, line: int, over_a_list: bool = False, why: str | None = None, hint: str | None = None):
        self.line = line
        self.over_a_list = over_a_list
        self.why, self.hint = why, hint  # the refusal's words, where not the default


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

    def block(self, body: list[ast.stmt], env: dict, prologue=None) -> tuple[list, dict, bool]:
        """Lower `body` into a new equation list, starting from `env` (after `prologue()`, if given)."""
        saved = (self.body, self.env, self.returned, self.statement)
        self.body, self.env, self.returned = [], dict(env), False
        try:
            if prologue is not None:
                prologue()
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
        # A name first assigned inside a loop in an arm stays unreadable after the if, as after the loop.
        loop_locals = {n: v for n in names for v in (then_env.get(n), else_env.get(n)) if isinstance(v, LoopLocal)}
        names = [n for n in names if n not in loop_locals]
        # A function (a nested def, a lambda) defined on one path, or different ones on the two
        # paths, is not a value the if can join: reading it after the if is refused.
        for n in [n for n in names if _is_function(then_env.get(n)) or _is_function(else_env.get(n))]:
            names.remove(n)
            line = node.lineno + self.source.line_offset
            loop_locals[n] = LoopLocal(
                line,
                why=f"{n!r} is a function that the if at line {line} defines on one path, or differently on each",
                hint=f"define {n!r} before the if",
            )
        for env in (then_env, else_env):
            for n in names:
                env.setdefault(n, Const(None))
        # A tuple (`r = (x, y)`, a function's `return x, y`) joins item by item, as its own names.
        shapes = {n: self.joined_shape(n, then_env[n], else_env[n], node) for n in names}
        joined = [
            (n, t, e) for n in names for t, e in zip(_items(then_env[n], shapes[n]), _items(else_env[n], shapes[n]))
        ]
        then_results = tuple(self.branch_atom(t, n, node, then_body) for n, t, _ in joined)
        else_results = tuple(self.branch_atom(e, n, node, else_body) for n, _, e in joined)
        outs = tuple(Var(self.names.fresh(_stem(n))) for n, _, _ in joined)
        self.body.append(If(outs, cond, tuple(then_body), then_results, tuple(else_body), else_results, loc))
        self.maybe_none.update(
            out for out, *arms in zip(outs, then_results, else_results) if any(map(self.none_on_a_path, arms))
        )
        remaining = iter(outs)
        for name in names:
            self.env[name] = _rebuild(shapes[name], remaining)
        self.env.update(loop_locals)
        self.returned = then_returned

    def joined_shape(self, name: str, first, second, node: ast.AST):
        """The tuple structure `name` has on both paths (None where it is not a tuple); a name that is
        a tuple on one path and a value, or a tuple of another length, on the other is refused."""
        if isinstance(first, Const) and first.value is None:  # assigned on the other path only
            return _shape(second)
        if isinstance(second, Const) and second.value is None:
            return _shape(first)
        if _form(_shape(first)) != _form(_shape(second)):
            shown = "the result" if name == RETURN else repr(name)
            if _is_list(first) or _is_list(second):
                raise self.fail(
                    f"the list {shown} has another length on each path of this if, whose condition is known "
                    "only when running",
                    node,
                    "append on every iteration, or fill an array: out = np.zeros((n, ...)); out[k] = v",
                )
            raise self.fail(
                f"{shown} is a tuple or dict of one form on one path and not on the other",
                node,
                "give it the same items (or keys) on every path",
            )
        return _shape(first)

    def none_on_a_path(self, value) -> bool:
        return (isinstance(value, Const) and value.value is None) or (
            isinstance(value, Var) and value in self.maybe_none
        )

    def branch_atom(self, value, name: str, node: ast.AST, body: list):
        saved = self.body
        self.body = body
        try:
            return self.atom(value, node)
        finally:
            self.body = saved

    def lower_for(self, node: ast.For) -> None:
        """`for` over `range(...)` is a loop in the IR; over a list or tuple it is unrolled (its length
        is known); over an array's rows, `zip` or `enumerate` of arrays, a loop over the row index."""
        if node.orelse:
            raise self.fail("for/else is not supported", node)
        request = self.checkpoint_request(node)
        if request is not None:
            node = ast.copy_location(ast.For(node.target, request[0], node.body, [], node.type_comment), node)
        counted = self.range_bounds(node.iter)
        if counted is not None and self.consumer is not None and _yields(node.body):
            bounds, backwards = counted  # a generator's loop around a yield: unrolled if its bounds are known
            if all(isinstance(b, Const) and type(b.value) is int for b in bounds):
                values = range(*(b.value for b in bounds))
                for value in reversed(values) if backwards else values:
                    self.bind_target(node.target, Const(value), node)
                    self.statements(node.body)
                return
        if counted is not None:
            bounds, backwards = counted
            if not isinstance(node.target, ast.Name):
                raise self.fail("the loop variable of a range loop must be a single name", node.target)
            whole = bounds
            bounds = self.peel_first_iteration(node, bounds, backwards)
            if bounds is not None:
                self.target = node.target.id
                index = Var(self.names.fresh(node.target.id))
                self.loop(node, node.body, index, bounds, None, backwards, node.target.id)
                if request is not None:  # segment_loops (transforms/checkpoint.py) rewrites it
                    self.body[-1] = replace(self.body[-1], checkpoint=Requested(request[1]))
            self.bind_loop_variable(node, whole, backwards)
            return
        if request is not None:
            raise self.fail("symdiff.checkpointed() takes a range(...) that runs forwards", node.iter)
        if self.generator_call(node.iter) is not None:
            return self.walk_generator(node)
        columns = self.iteration_columns(node.iter)
        if all(isinstance(c, Pack) for c in columns):
            for item in zip(*(c.items for c in columns)):
                self.bind_target(node.target, item[0] if len(columns) == 1 else Pack(item), node)
                self.statements(node.body)
            return
        self.row_loop(node, columns)

    def checkpoint_request(self, node: ast.For):
        """`for t in symdiff.checkpointed(range(n), schedule)`: (the range, the schedule), else None."""
        call = node.iter
        if not isinstance(call, ast.Call) or self._expr(call.func, None) is not checkpointed:
            return None
        arguments = {"schedule": "auto"}
        for key, value in [(None, a) for a in call.args[1:]] + [(k.arg, k.value) for k in call.keywords]:
            known = self._expr(value, None)
            arguments[key or "schedule"] = known.value if isinstance(known, Const) else known
        if not 1 <= len(call.args) <= 2 or set(arguments) != {"schedule"}:
            raise self.fail("symdiff.checkpointed(range(...), schedule) takes a range and a schedule", call)
        try:
            check_length(arguments["schedule"])
        except ValueError as error:
            raise self.fail(str(error), call) from None
        inner = call.args[0]
        if not (isinstance(inner, ast.Call) and self._expr(inner.func, None) is range):
            raise self.fail("symdiff.checkpointed() takes a range(...) that runs forwards", inner)
        return call.args[0], arguments["schedule"]

    def bind_loop_variable(self, node: ast.For, bounds: tuple, backwards: bool) -> None:
        """After a range loop its variable holds the last value it took, as in Python: known
        when the bounds are constants; otherwise reading it is refused (never the value it had
        before the loop)."""
        name, line = node.target.id, node.lineno + self.source.line_offset
        if name not in assigned_names(node.body) and all(isinstance(b, Const) and type(b.value) is int for b in bounds):
            values = range(*(b.value for b in bounds))
            if values:
                self.env[name] = Const(values[0] if backwards else values[-1])
            return
        self.env[name] = LoopLocal(
            line,
            why=f"the loop variable {name!r} of the loop at line {line} is read after it, and its last value is "
            "known only when running",
            hint=f"keep it in a variable bound before the loop and in its body ({name}_last = {name}), and read that",
        )

    def peel_first_iteration(self, node: ast.For, bounds: tuple, backwards: bool):
        """A name first assigned in a range loop's body and read after the loop has the value of the
        last iteration, as in Python, when the loop is known to run: constant bounds, at least one
        iteration. Its first iteration is lowered before the loop, which then carries the name.
        Returns the bounds left to loop over (None when nothing is left); the bounds unchanged
        where no such name is read after the loop or the bounds are known only when running."""
        if not all(isinstance(b, Const) and type(b.value) is int for b in bounds):
            return bounds
        values = range(*(b.value for b in bounds))
        if not values:
            return bounds
        new = {n for n in assigned_names(node.body) if n not in self.env or isinstance(self.env[n], LoopLocal)}
        end = (node.end_lineno, node.end_col_offset)
        read_after = any(
            isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load) and n.id in new and (n.lineno, n.col_offset) > end
            for n in ast.walk(self.source.node)
        )
        if not read_after:
            return bounds
        first = values[-1] if backwards else values[0]
        self.bind_target(node.target, Const(first), node)
        self.statements(node.body)
        if len(values) == 1:
            return None
        if backwards:  # reversed(range(a, b, s)) without its first value: reversed(range(a, last, s))
            return (bounds[0], Const(first), bounds[2])
        return (Const(first + bounds[2].value), bounds[1], bounds[2])

    def generator_call(self, iterable: ast.expr):
        """The generator function `iterable` calls (`for W, b in unpack_layers(weights):`), or None."""
        if not isinstance(iterable, ast.Call):
            return None
        callee = self._expr(iterable.func, None)
        code = getattr(callee, "__code__", None)
        if inspect.isfunction(callee) and code is not None and code.co_flags & inspect.CO_GENERATOR:
            return callee
        if isinstance(callee, LocalFunction) and any(isinstance(n, ast.Yield) for n in ast.walk(callee.node)):
            return callee
        return None

    def walk_generator(self, node: ast.For) -> None:
        """`for t in gen(...)`: the generator's body is inlined, and each `yield v` binds `t` to v
        and lowers the loop's body there (the generator's own loops must unroll: over lists,
        tuples or constant ranges), which is the order Python runs them in."""
        loop_body, target, outer = node.body, node.target, self

        def consume(generator, value_node: ast.Yield) -> None:
            if generator.body is not generator.top_body:
                raise generator.fail(
                    "a yield inside a loop or if that runs as a loop or if (its condition or length known "
                    "only when running) is not supported",
                    value_node,
                    "loop over a list, a tuple or a range with constant bounds in the generator",
                )
            value = Const(None) if value_node.value is None else generator._expr(value_node.value, None)
            outer.body = generator.body
            outer.bind_target(target, value, node)
            outer.statements(loop_body)

        callee = self.generator_call(node.iter)
        args, kwargs = self.call_args(node.iter), self.call_keywords(node.iter)
        self.inline_generator(callee, args, kwargs, node.iter, consume)

    def lower_ListComp(self, node: ast.ListComp, name):
        """`[f(x) for x in xs if c]` over lists, tuples and constant ranges: unrolled into a list.
        Over one array's rows, the rows' items stacked into an array (`Rows`)."""
        saved = dict(self.env)
        try:
            rows = self.rows_of(node)
            if rows is not None:
                return self.row_comprehension(node, rows)
            return Pack(tuple(self.comprehension(node.elt, node.generators, node)), list)
        finally:
            self.env = saved  # comprehension variables do not leak, as in Python 3

    def rows_of(self, node: ast.ListComp) -> Var | None:
        """The array a one-generator comprehension without conditions walks, if it walks rows."""
        if len(node.generators) != 1 or node.generators[0].ifs or node.generators[0].is_async:
            return None
        iterable = node.generators[0].iter
        if self.range_bounds(iterable) is not None:
            return None
        columns = self.iteration_columns(iterable)
        if len(columns) != 1 or not isinstance(columns[0], Var) or columns[0].name in self.maybe_lists:
            return None  # an argument may be a list: built for its structure at the first call instead
        return columns[0]

    def row_comprehension(self, node: ast.ListComp, array: Var) -> Rows:
        """`[f(r) for r in x]`: `items = np.zeros((len(x),) + np.shape(f(x[0])))`, then
        `for k, r in enumerate(x): items[k] = f(r)` (the first item's shape sizes the array)."""
        generator = node.generators[0]
        before = dict(self.env)
        self.bind_target(generator.target, self.row(array, Const(0), node, generator.target), node)
        first = self.atom(self._expr(node.elt, None), node.elt)
        self.env = before
        count = self.emit("len", [array], (), node.iter if hasattr(node, "iter") else node)
        shape = self.emit(
            "tuple_add", [self.atom(Pack((count,)), node), self.emit("shape", [first], (), node)], (), node
        )
        used = {n.id for n in ast.walk(node) if isinstance(n, ast.Name)} | set(self.env)
        label, counter = (next(f"{stem}{k or ''}" for k in range(len(used) + 1) if f"{stem}{k or ''}" not in used)
                          for stem in ("items", "item_index"))  # fmt: skip
        self.env[label] = self.apply(np.zeros, [shape], {}, node, self.names.fresh("items"))
        store = ast.Subscript(ast.Name(label, ast.Load()), ast.Name(counter, ast.Load()), ast.Store())
        loop = ast.For(
            target=ast.Tuple([ast.Name(counter, ast.Store()), generator.target], ast.Store()),
            iter=ast.Call(ast.Name("enumerate", ast.Load()), [generator.iter], []),
            body=[ast.Assign(targets=[store], value=node.elt)],
            orelse=[],
        )
        for part in ast.walk(loop):
            if not hasattr(part, "lineno") or part is loop or part is loop.body[0]:
                ast.copy_location(part, node)
        self.lower_for(loop)
        return Rows(self.env[label])

    lower_GeneratorExp = lower_ListComp  # consumed at once by sum(...), np.sum(...), np.stack(...)

    def lower_DictComp(self, node: ast.DictComp, name) -> Record:
        """`{k: params[k] - lr * g[k] for k in params}` over known keys: unrolled into a dict
        known key by key (an optimizer's step over a dict of parameters)."""
        saved = dict(self.env)
        pair = ast.copy_location(ast.Tuple([node.key, node.value], ast.Load()), node)
        try:
            pairs = self.comprehension(pair, node.generators, node)
        finally:
            self.env = saved  # comprehension variables do not leak
        items = []
        for key, value in (p.items for p in pairs):
            if not isinstance(key, Const) or isinstance(key.value, (list, dict)):
                raise self.fail("dict keys must be constants known when the derivative is built", node.key)
            items.append((key.value, value))
        return Record(tuple(dict(items).items()))  # a repeated key keeps its last value, as Python does

    def comprehension(self, element: ast.expr, generators: list, node: ast.expr) -> list:
        if not generators:
            return [self._expr(element, None)]
        first, rest = generators[0], generators[1:]
        if first.is_async:
            raise self.fail("async comprehensions are not supported", node)
        columns = self.unrollable(first.iter)
        items = []
        for item in zip(*(c.items for c in columns)):
            self.bind_target(first.target, item[0] if len(columns) == 1 else Pack(item), node)
            keep = True
            for test in first.ifs:
                value = self.atom(self._expr(test, None), test)
                if not isinstance(value, Const):
                    raise self.fail(
                        "a comprehension's condition must be known when the derivative is built",
                        test,
                        "use np.where(condition, value, 0.0) on the whole array instead",
                    )
                keep = keep and bool(value.value)
            if keep:
                items += self.comprehension(element, rest, node)
        return items

    def unrollable(self, iterable: ast.expr) -> list:
        """The columns of a comprehension's iterable: known items, or a range with constant bounds."""
        counted = self.range_bounds(iterable)
        if counted is not None:
            bounds, backwards = counted
            if not all(isinstance(b, Const) and type(b.value) is int for b in bounds):
                raise self.fail(
                    "a comprehension over a range needs bounds known when the derivative is built",
                    iterable,
                    "write a for loop that assigns into an array: out[i] = ...",
                )
            values = range(*(b.value for b in bounds))
            return [Pack(tuple(Const(v) for v in (reversed(values) if backwards else values)))]
        columns = self.iteration_columns(iterable)
        if any(not isinstance(c, Pack) for c in columns):
            error = self.fail(
                "a comprehension over an array's rows is not supported yet",
                iterable,
                "write it with array operations, or a for loop that assigns into an array: out[i] = ...",
            )
            # Over an argument, it may be a list when called: then the derivative is built for it.
            error.needs_structure = any(
                c in self.initial.values() or c.name in self.maybe_lists for c in columns if isinstance(c, Var)
            )
            raise error
        return columns

    def range_bounds(self, iterable: ast.expr):
        """`(bounds, backwards)` for `range(...)` or `reversed(range(...))`, else None."""
        call, backwards = iterable, False
        if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name)):
            return None
        callee = self._expr(call.func, None)
        if callee is reversed and len(call.args) == 1 and isinstance(call.args[0], ast.Call):
            inner = self._expr(call.args[0].func, None)
            if inner is not range:
                return None
            call, callee, backwards = call.args[0], inner, True
        if callee is not range:
            return None
        if call.keywords:
            raise self.fail("range() takes no keyword arguments", call)
        bounds = [self.atom(self._expr(a, None), a) for a in call.args]
        if not 1 <= len(bounds) <= 3:
            raise self.fail("range() takes 1 to 3 arguments", call)
        if len(bounds) == 1:
            bounds = [Const(0), bounds[0]]
        if len(bounds) == 2:
            bounds.append(Const(1))
        return tuple(bounds), backwards

    def iteration_columns(self, iterable: ast.expr) -> list:
        """What a loop walks, one column per zipped iterable: a Pack (known items) or an array (rows).

        `enumerate(a)` is the column of indexes zipped with `a`.
        """
        if isinstance(iterable, ast.Call) and not iterable.keywords:
            callee = self._expr(iterable.func, None)
            if callee is zip:
                columns = []
                for a in iterable.args:  # zip(*pairs): a tuple known item by item gives one column each
                    if isinstance(a, ast.Starred):
                        spread = self._expr(a.value, None)
                        if not isinstance(spread, Pack):
                            raise self.fail("zip(*x) needs x to be a list or tuple known item by item", a)
                        columns += [self.iteration_of(v, a) for v in spread.items]
                    else:
                        columns.append(self.iteration_value(a))
                return columns
            if callee is enumerate and len(iterable.args) == 1:
                column = self.iteration_value(iterable.args[0])
                if isinstance(column, Pack):
                    return [Pack(tuple(Const(k) for k in range(len(column.items)))), column]
                return [_COUNTER, column]
            if callee is reversed and len(iterable.args) == 1:
                column = self.iteration_value(iterable.args[0])
                if isinstance(column, Pack):
                    return [Pack(column.items[::-1])]
        return [self.iteration_value(iterable)]

    def iteration_value(self, node: ast.expr):
        return self.iteration_of(self._expr(node, None), node)

    def iteration_of(self, value, node: ast.expr):
        if isinstance(value, Pack | Var):
            return value
        if isinstance(value, Rows):  # a list held as the array of its items: its rows
            return value.array
        if isinstance(value, Record):  # a dict iterates over its keys
            return Pack(tuple(Const(key) for key, _ in value.items))
        if isinstance(value, Const) and isinstance(value.value, tuple):
            return Pack(tuple(Const(v) for v in value.value))
        if type(value) in (list, tuple):  # a list the function reads from its module or closure
            return self.python_value(getattr(node, "id", "items"), value, self.where(node))
        raise self.fail("a for loop can iterate over range(...), a list, a tuple or an array", node)

    def row_loop(self, node: ast.For, columns: list) -> None:
        """`for row in x` (and zip/enumerate over arrays): `for k in range(n): row = x[k]`."""
        arrays = [c for c in columns if isinstance(c, Var)]
        packs = [c for c in columns if isinstance(c, Pack)]
        if packs:
            count = min(len(p.items) for p in packs)
            for k in range(count):  # a list zipped with arrays: its length bounds the loop
                item = tuple(p.items[k] if isinstance(p, Pack) else self.row(p, Const(k), node) for p in columns)
                self.bind_target(node.target, item[0] if len(item) == 1 else Pack(item), node)
                self.statements(node.body)
            return
        self.target = "rows"
        lengths = [self.emit("len", [a], (), node.iter) for a in arrays]
        stop = lengths[0]
        for other in lengths[1:]:  # zip stops at the shortest
            stop = self.emit("minimum", [stop, other], (), node.iter)
        index_name = f"<row {node.lineno}:{node.col_offset}>"
        index = Var(self.names.fresh("index"))
        self.row_sources[index_name] = (columns, node.target)
        self.loop(node, node.body, index, (Const(0), stop, Const(1)), None, False, index_name)

    def row(self, array: Var, index, node: ast.AST, target: ast.expr | None = None):
        """`array[index]`, named after the loop variable that takes it."""
        name = self.names.fresh(target.id) if isinstance(target, ast.Name) else None
        return self.emit("getitem", [array], [("index", index)], node, name)

    def lower_while(self, node: ast.While) -> None:
        if node.orelse:
            raise self.fail("while/else is not supported", node)
        self.loop(node, node.body, None, (), node.test)

    def loop(
        self, node, body: list[ast.stmt], index, bounds, test, backwards: bool = False, index_name: str | None = None
    ) -> None:
        for inner in ast.walk(node):  # frontend/jumps.py has made every jump a flag before lowering
            if isinstance(inner, (ast.Break, ast.Continue, ast.Return)):
                raise self.fail(f"this {type(inner).__name__.lower()} is not supported here", inner)
        loc = self.where(node)
        if index is not None and self.known is not None:
            self.known.integer(index)
        body = self.rows_for_appends(body)
        assigned = assigned_names(body)
        rows = self.row_sources.pop(index_name, None)
        if rows is not None:  # the row loop's target is assigned at the top of every iteration
            assigned = list(dict.fromkeys(assigned + assigned_names([ast.Assign([rows[1]], ast.Constant(None))])))
        carried_names = [n for n in assigned if n in self.env and not isinstance(self.env[n], LoopLocal)]
        shapes = {n: _shape(self.env[n]) for n in carried_names}  # a tuple is carried item by item
        leaf_names = [n for n in carried_names for _ in range(_count(shapes[n]))]
        carried = tuple(Var(self.names.fresh(_stem(n))) for n in leaf_names)
        inits = tuple(self.atom(v, node) for n in carried_names for v in _items(self.env[n], shapes[n]))
        self.maybe_none.update(c for c, i in zip(carried, inits) if self.none_on_a_path(i))
        lists = [k for k, i in enumerate(inits) if isinstance(i, Var) and i.name in self.maybe_lists]
        self.maybe_lists.update(carried[k].name for k in lists)  # an argument that may be a list, carried
        start = dict(self.env)
        remaining = iter(carried)
        start.update((n, _rebuild(shapes[n], remaining)) for n in carried_names)
        if index is not None:
            start[index_name] = index
        cond_body, cond = [], None
        if test is not None:
            saved = self.body
            self.body, self.target = cond_body, "cond"
            env_saved, self.env = self.env, dict(start)
            cond = self.atom(self._expr(test, None), test)
            self.body, self.env = saved, env_saved
        body_eqns, end_env, _ = self.block(
            body, start, None if rows is None else lambda: self.bind_rows(rows, index, node)
        )
        for n in carried_names:
            if _form(_shape(end_env[n])) != _form(shapes[n]):
                shown = "the result" if n == RETURN else repr(n)
                if _is_list(self.env[n]) or _is_list(end_env[n]):
                    raise self.fail(
                        f"the list {shown} changes length in this loop, which runs as a loop, in a way that "
                        "cannot be held as an array (one append per iteration, on a list the body reads nowhere "
                        "else, is)",
                        node,
                        "append once per iteration at the top of the body, or fill an array: "
                        "out = np.zeros((n, ...)); out[k] = v",
                    )
                raise self.fail(
                    f"{shown} is a tuple or dict of one form before this loop and another after an iteration",
                    node,
                    "give it the same items (or keys) before the loop and in it",
                )
        ends = [(n, v) for n in carried_names for v in _items(end_env[n], shapes[n])]
        results = tuple(self.branch_atom(v, n, node, body_eqns) for n, v in ends)
        outs = tuple(Var(self.names.fresh(_stem(n))) for n in leaf_names)
        self.body.append(
            Loop(outs, carried, inits, tuple(body_eqns), results, index, bounds, tuple(cond_body), cond, backwards, loc)
        )
        self.maybe_lists.update(outs[k].name for k in lists)
        remaining = iter(outs)
        for name in carried_names:
            self.env[name] = _rebuild(shapes[name], remaining)
        none_before = [
            c for c, i, r in zip(carried, inits, results) if self.none_on_a_path(i) or self.none_on_a_path(r)
        ]
        self.maybe_none.update(none_before)
        self.maybe_none.update(o for c, o in zip(carried, outs) if c in none_before)
        over_a_list = rows is not None and any(
            isinstance(c, Var) and (c in self.initial.values() or c.name in self.maybe_lists) for c in rows[0]
        )
        for name in assigned:
            if name not in carried_names:
                self.env[name] = LoopLocal(node.lineno + self.source.line_offset, over_a_list)

    def pops(self, name: str) -> bool:
        """Whether the function calls `name.pop(...)` anywhere."""
        return any(
            isinstance(n, ast.Attribute) and n.attr == "pop" and isinstance(n.value, ast.Name) and n.value.id == name
            for n in ast.walk(self.source.node)
        )

    def rows_for_appends(self, body: list[ast.stmt]) -> list[ast.stmt]:
        """`out.append(item)` once per iteration of a loop that runs as a loop (a statement of the
        body itself, not under an `if`), on a list known before the loop (`out = [h0]`, `out = []`,
        or one grown by an earlier loop) that the body otherwise only reads (`out[-1]`, `len(out)`):
        the list is held as the array of its items, which `append_row` grows by one row per
        iteration, a `Rows` in the body and after the loop (NumPy's functions, indexing, iteration
        and `len` take it as the list). Its items must have one shape, as `np.stack` needs. Returns
        the body with each such append an assignment."""
        appends: dict[str, int] = {}
        for stmt in body:
            name = _appended(stmt)
            if name is not None:
                appends[name] = appends.get(name, 0) + 1
        found = {}
        for k, stmt in enumerate(body):
            name = _appended(stmt)
            value = self.env.get(name) if name is not None else None
            growable = isinstance(value, Rows) or (isinstance(value, Pack) and value.kind is list)
            if growable and appends[name] == 1 and _only_read(body, name, stmt):
                found[name] = k
        if not found:
            return body
        body = list(body)
        for name, k in found.items():
            statement = body[k]
            value = self.env[name]
            if isinstance(value, Rows):
                start = value.array
            elif isinstance(value, Pack) and value.items:
                start = self.apply(np.stack, [value], {}, statement, self.names.fresh(name))
            else:
                start = self.apply(np.zeros, [Const((0,))], {}, statement, self.names.fresh(name))
            self.env[name] = Rows(start)  # carried as its array; read in the body as the list
            grow = ast.Call(ast.Name(_APPEND, ast.Load()), [ast.Name(name, ast.Load()), statement.value.args[0]], [])
            body[k] = ast.fix_missing_locations(
                ast.copy_location(
                    ast.Assign([ast.Name(name, ast.Store())], ast.copy_location(grow, statement)), statement
                )
            )
        self.env[_APPEND] = GROW_ROWS
        return body

    def bind_rows(self, rows, index: Var, node: ast.For) -> None:
        """At the top of a row loop's body: the loop target takes this iteration's rows."""
        columns, target = rows
        self.statement = node
        parts = target.elts if len(columns) > 1 and isinstance(target, ast.Tuple) else [target] * len(columns)
        if len(parts) != len(columns):
            raise self.fail(f"cannot unpack {len(columns)} values into {len(parts)} names", target)
        item = tuple(index if c is _COUNTER else self.row(c, index, node.iter, part) for c, part in zip(columns, parts))
        self.bind_target(target, item[0] if len(item) == 1 else Pack(item), node)


_COUNTER = object()  # enumerate's column of indexes, in a loop over rows


_APPEND = "<append_row>"  # the name a rewritten `out.append(item)` calls append_row by


def _only_read(body: list[ast.stmt], name: str, append: ast.stmt) -> bool:
    """Whether the loop's body uses the list `name` only by reading it (`name[-1]`, `len(name)`,
    `for v in name`), apart from its one `append` statement: no assignment, no item write, no
    other method."""
    parents = {
        child: parent for parent in ast.walk(ast.Module(list(body), [])) for child in ast.iter_child_nodes(parent)
    }
    receiver = append.value.func.value
    for part in ast.walk(ast.Module(list(body), [])):
        if not isinstance(part, ast.Name) or part.id != name or part is receiver:
            continue
        parent = parents.get(part)
        if not isinstance(part.ctx, ast.Load) or isinstance(parent, ast.Attribute):
            return False
        if isinstance(parent, ast.Subscript) and not isinstance(parent.ctx, ast.Load):
            return False
    return True


def _appended(statement: ast.stmt) -> str | None:
    """`name` for a statement `name.append(item)`."""
    if not isinstance(statement, ast.Expr) or not isinstance(statement.value, ast.Call):
        return None
    call = statement.value
    func = call.func
    if not (isinstance(func, ast.Attribute) and func.attr == "append" and isinstance(func.value, ast.Name)):
        return None
    return func.value.id if len(call.args) == 1 and not call.keywords else None


def _is_list(value) -> bool:
    return isinstance(value, Rows) or (isinstance(value, Pack) and value.kind is list)


def _is_function(value) -> bool:
    return isinstance(value, (LocalFunction, Partial)) or (value is not None and inspect.isroutine(value))


def _yields(body: list[ast.stmt]) -> bool:
    return any(isinstance(node, ast.Yield) for stmt in body for node in ast.walk(stmt))


def _shape(value):
    """None for a value; for a tuple or dict known while lowering, its kind, keys and items' shapes."""
    if isinstance(value, Pack):
        return (Pack, value.kind, tuple(_shape(item) for item in value.items))
    if isinstance(value, Record):
        return (Record, tuple(k for k, _ in value.items), tuple(_shape(v) for _, v in value.items))
    if isinstance(value, Rows):  # a list held as the array of its items: joined as that array
        return (Rows, None, (None,))
    return None


def _form(shape):
    """`shape` without whether its tuples were lists: `(h, c)` and `[h, c]` join item by item."""
    if shape is None:
        return None
    kind, keys, children = shape
    return (kind, None if kind is Pack else keys, tuple(_form(child) for child in children))


def _items(value, shape) -> list:
    """The values of a tuple or dict of `shape` in order (None, the value of a name set on one path
    only, stands for each item)."""
    if shape is None:
        return [value]
    if isinstance(value, Rows):
        return [value.array]
    if not isinstance(value, (Pack, Record)):
        return [value for _ in range(_count(shape))]
    items = value.items if isinstance(value, Pack) else [v for _, v in value.items]
    return [leaf for item, inner in zip(items, shape[2]) for leaf in _items(item, inner)]


def _count(shape) -> int:
    return 1 if shape is None else sum(_count(inner) for inner in shape[2])


def _rebuild(shape, values):
    if shape is None:
        return next(values)
    kind, keys, inner = shape
    items = tuple(_rebuild(child, values) for child in inner)
    if kind is Rows:
        return Rows(items[0])
    return Pack(items, keys) if kind is Pack else Record(tuple(zip(keys, items)))  # a Pack's keys: list or tuple


def _stem(name: str) -> str:
    return "result" if name == RETURN else name
