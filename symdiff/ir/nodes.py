"""The Wengert list: symdiff's one intermediate representation.

A `Function` is a flat, single-assignment list of equations over named values:

    Function(name, params=(w, x, y), body=(eqn, eqn, ...), result=loss)
    Eqn(outs=(h,), op="tanh", ins=(z,), static=(), loc=Location(...))

Grammar (every statement in `body` has one of these shapes):

    outs = op(ins..., **static)      # Eqn: one primitive from the rule table
    outs = If(cond, then, orelse)    # If: both arms end with values for outs
    outs = Loop(...)                 # Loop: counted or while loop with carried values

Operands are atoms: a `Var` (a name defined earlier or a parameter) or a
`Const` (a Python scalar, tuple, slice, None, Ellipsis or dtype). Every name is
assigned once; a user variable assigned twice becomes two names (`x`, `x~2`)
that codegen prints as `x` again wherever that is safe. `static` holds
arguments that are never differentiated (axis, keepdims, shape), as atoms.
`loc` is the user's source location, used in errors and in the `# grad of:`
comments of generated code. Nodes are frozen: passes build new lists.

`str(function)` is the text form that `symdiff show` prints: one numbered
line per equation, `outs = op(ins; static)`, with its source line at the
right; `if` arms and loop bodies indented under their header. It lives here,
beside the nodes it prints, so that printing a node needs no other module.

This module imports only `symdiff.errors`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from symdiff.errors import Location


@dataclass(frozen=True)
class Var:
    """A named value. `temp` marks names the user never wrote (codegen may inline them)."""

    name: str
    temp: bool = False

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True, eq=False)
class Const:
    """A literal operand. Equality includes the type, so 1, 1.0 and True differ."""

    value: Any

    def _key(self) -> tuple:
        value = self.value
        if isinstance(value, slice):
            value = ("slice", value.start, value.stop, value.step)
        return (type(self.value).__name__, value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Const) and self._key() == other._key()

    def __hash__(self) -> int:
        try:
            return hash(self._key())
        except TypeError:
            return id(self.value)

    def __str__(self) -> str:
        if isinstance(self.value, type):
            return f"np.{self.value.__name__}"
        return repr(self.value)


Atom = Var | Const


@dataclass(frozen=True)
class Eqn:
    """One primitive application: `outs = op(*ins, **static)`."""

    outs: tuple[Var, ...]
    op: str
    ins: tuple[Atom, ...]
    static: tuple[tuple[str, Atom], ...] = ()
    loc: Location | None = field(default=None, compare=False)
    adjoint: bool = field(default=False, compare=False)  # part of a backward pass

    @property
    def out(self) -> Var:
        """The single output (every primitive but a few shape ops has one)."""
        return self.outs[0]

    def static_dict(self) -> dict[str, Atom]:
        return dict(self.static)

    def atoms(self) -> tuple[Atom, ...]:
        """Every operand, positional then static."""
        if not self.static:  # most equations; every pass asks, so skip building a tuple
            return self.ins
        return self.ins + tuple(atom for _, atom in self.static)

    def __str__(self) -> str:
        """`h = tanh(z)`-style text, with static arguments after `;`."""
        args = _join(self.ins)
        if self.static:
            args += "; " + ", ".join(f"{k}={a}" for k, a in self.static)
        return f"{_join(self.outs)} = {self.op}({args})"


@dataclass(frozen=True)
class If:
    """`outs = then_results if cond else else_results`, after running one arm's body.

    Names defined inside an arm stay readable later in the function by code
    that runs under the same condition (the backward pass does).
    """

    outs: tuple[Var, ...]
    cond: Atom
    then_body: tuple
    then_results: tuple[Atom, ...]
    else_body: tuple
    else_results: tuple[Atom, ...]
    loc: Location | None = field(default=None, compare=False)
    adjoint: bool = field(default=False, compare=False)

    def atoms(self) -> tuple[Atom, ...]:
        """Operands read by the statement itself (not by its arms' bodies)."""
        return (self.cond,) + self.then_results + self.else_results

    def blocks(self) -> tuple[tuple, ...]:
        return (self.then_body, self.else_body)


@dataclass(frozen=True)
class Loop:
    """A counted (`for index in range(start, stop, step)`) or `while cond` loop.

    `carried` names the values at the start of an iteration (initially
    `inits`); `results` are their values at the end of the body; `outs` their
    values after the loop. A `while` loop evaluates `cond_body` then tests
    `cond` before each iteration. `reverse=True` runs a counted loop's range
    backwards (backward passes use it). `checkpoint=True` asks the reverse
    pass to save only the carried values of each iteration and to run the
    body again, from them, when it differentiates that iteration; a
    `Binomial` (transforms/checkpoint.py) asks for a binomial schedule.
    """

    outs: tuple[Var, ...]
    carried: tuple[Var, ...]
    inits: tuple[Atom, ...]
    body: tuple
    results: tuple[Atom, ...]
    index: Var | None = None
    bounds: tuple[Atom, ...] = ()
    cond_body: tuple = ()
    cond: Atom | None = None
    reverse: bool = False
    loc: Location | None = field(default=None, compare=False)
    adjoint: bool = field(default=False, compare=False)
    checkpoint: Any = field(default=False, compare=False)  # True, or a Binomial schedule (checkpoint.py)

    def atoms(self) -> tuple[Atom, ...]:
        """Operands read by the statement itself (not by its body)."""
        return self.inits + self.bounds + self.results + ((self.cond,) if self.cond is not None else ())

    def blocks(self) -> tuple[tuple, ...]:
        return (self.cond_body, self.body)


Stmt = Eqn | If | Loop


def statements(body) -> Iterator[Stmt]:
    """Every statement of `body`, nested blocks' included, in textual order (a block statement before its body)."""
    for stmt in body:
        yield stmt
        if not isinstance(stmt, Eqn):
            for block in stmt.blocks():
                yield from statements(block)


def walk(body) -> list[Eqn]:
    """Every equation in `body`, nested blocks included, in textual order."""
    found = []
    for stmt in body:
        if isinstance(stmt, Eqn):
            found.append(stmt)
        else:
            for block in stmt.blocks():
                found.extend(walk(block))
    return found


def loops(body) -> list[Loop]:
    """Every loop in `body`, nested ones included, outer before inner."""
    found = []
    for stmt in body:
        if isinstance(stmt, Loop):
            found.append(stmt)
        if not isinstance(stmt, Eqn):
            for block in stmt.blocks():
                found += loops(block)
    return found


def defined(stmt) -> list[Var]:
    """Every name `stmt` defines, inside its blocks included."""
    if isinstance(stmt, Eqn):
        return list(stmt.outs)
    names = list(stmt.outs)
    if isinstance(stmt, Loop):
        names += list(stmt.carried) + ([stmt.index] if stmt.index is not None else [])
    for block in stmt.blocks():
        for inner in block:
            names += defined(inner)
    return names


def reads(stmt) -> list[Atom]:
    """Every atom `stmt` reads, inside its blocks included."""
    found = list(stmt.atoms())
    if not isinstance(stmt, Eqn):
        for block in stmt.blocks():
            for inner in block:
                found += reads(inner)
    return found


@dataclass(frozen=True)
class Function:
    """A whole program: parameters, a Wengert list, and the atoms it returns.

    `result` is a tuple when the function returns several values (a gradient
    with respect to several arguments, or value-and-grad). `defaults` maps a
    parameter name to its default value. `free` holds module-level arrays the
    body reads by name (constants, never differentiated). `doc` is a one-line
    docstring for generated code.
    """

    name: str
    params: tuple[Var, ...]
    body: tuple[Eqn, ...]
    result: Atom | tuple[Atom, ...]
    defaults: tuple[tuple[str, Any], ...] = ()
    free: tuple[tuple[str, Any], ...] = field(default=(), compare=False)
    doc: str = ""

    def results(self) -> tuple[Atom, ...]:
        """`result` as a tuple, whatever its arity."""
        return self.result if isinstance(self.result, tuple) else (self.result,)

    def __str__(self) -> str:
        return format_function(self)


def uses(atoms) -> list[Var]:
    """The variables among `atoms`."""
    return [a for a in atoms if isinstance(a, Var)]


# The text form: what str(function) and `symdiff show` print.


def _join(atoms) -> str:
    return ", ".join(str(a) for a in atoms)


def _lines(body, depth: int) -> list[tuple[str, object]]:
    pad = "  " * depth
    lines: list[tuple[str, object]] = []
    for stmt in body:
        if isinstance(stmt, Eqn):
            lines.append((pad + str(stmt), stmt.loc))
        elif isinstance(stmt, If):
            lines.append((f"{pad}{_join(stmt.outs)} = if {stmt.cond}:", stmt.loc))
            lines += _lines(stmt.then_body, depth + 1)
            lines.append((f"{pad}  yield {_join(stmt.then_results)}", None))
            lines.append((f"{pad}else:", None))
            lines += _lines(stmt.else_body, depth + 1)
            lines.append((f"{pad}  yield {_join(stmt.else_results)}", None))
        elif isinstance(stmt, Loop):
            carried = ", ".join(f"{c}={i}" for c, i in zip(stmt.carried, stmt.inits))
            if stmt.index is not None:
                order = "reversed " if stmt.reverse else ""
                head = f"for {stmt.index} in {order}range({_join(stmt.bounds)})"
            else:
                head = "while"
            lines.append((f"{pad}{_join(stmt.outs)} = {head} carrying ({carried}):", stmt.loc))
            if stmt.cond is not None:
                lines += _lines(stmt.cond_body, depth + 1)
                lines.append((f"{pad}  test {stmt.cond}", None))
            lines += _lines(stmt.body, depth + 1)
            lines.append((f"{pad}  next {_join(stmt.results)}", None))
    return lines


def format_function(function: Function) -> str:
    """A numbered listing of `function`, readable without knowing symdiff."""
    params = ", ".join(str(p) for p in function.params)
    head = [f"{function.name}({params}):"]
    lines = _lines(function.body, 0)
    width = min(max([len(text) for text, _ in lines] + [20]), 56)
    for number, (text, loc) in enumerate(lines, 1):
        where = f"  # line {loc.line}" if loc is not None else ""
        head.append(f"  {number:3d}  {text.ljust(width)}{where}")
    head.append(f"  return {_join(function.results())}")
    return "\n".join(head)
