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

This module imports only `symdiff.errors`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Union

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


Atom = Union[Var, Const]


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
        return self.ins + tuple(atom for _, atom in self.static)

    def __str__(self) -> str:
        from symdiff.ir.show import format_eqn

        return format_eqn(self)


@dataclass(frozen=True)
class Function:
    """A whole program: parameters, a Wengert list, and the atoms it returns.

    `result` is a tuple when the function returns several values (a gradient
    with respect to several arguments, or value-and-grad). `defaults` maps a
    parameter name to its default value. `free` holds module-level arrays the
body reads by name (constants, never differentiated). `doc` is a one-line docstring for
    generated code.
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
        from symdiff.ir.show import format_function

        return format_function(self)


def uses(atoms) -> list[Var]:
    """The variables among `atoms`."""
    return [a for a in atoms if isinstance(a, Var)]
