"""The expressions of the fuzzer's programs: random right-hand sides over the values in scope.

`Expressions` keeps the shape of every float value in scope and draws
expressions from `tests/fuzz/templates.py`; each candidate is evaluated on
placeholder arrays of those shapes and kept only if NumPy accepts it and it
gives a small float array (at most 2-D, 12 elements). The statements that use
them are in `tests/fuzz/programs.py`.

This module does not import symdiff.
"""

from __future__ import annotations

import math
import random
import warnings

import numpy as np
import scipy.special

from tests.fuzz import templates as T

Shape = tuple[int, ...]


def broadcasts(shape: Shape, target: Shape) -> bool:
    """Whether a value of `shape` broadcasts to `target` without growing it."""
    try:
        return len(shape) <= len(target) and np.broadcast_shapes(shape, target) == target
    except ValueError:
        return False


class Expressions:
    """Random expressions over the float values in scope, whose shapes it keeps."""

    def __init__(self, rng: random.Random, max_depth: int):
        self.rng = rng
        self.max_depth = max_depth
        self.env: dict[str, Shape] = {}  # float values in scope
        self.ints: dict[str, int] = {}  # integer values in scope, with their largest value
        self.views: set[str] = set()  # arguments and views of them: never written with +=
        self.views_made: set[str] = set()  # expressions that are views of arguments
        self.lines: list[str] = []
        self.indent = 1
        self.count = 0
        self.writes = False
        self.namespace: dict = {"np": np, "math": math, "scipy": scipy}  # module globals and helpers

    # -- helpers -----------------------------------------------------------------

    def emit(self, text: str) -> None:
        self.lines.append("    " * self.indent + text)

    def fresh(self, stem: str = "t") -> str:
        self.count += 1
        return f"{stem}{self.count}"

    def shape(self, expression: str) -> Shape | None:
        """The shape of `expression` in scope, or None if NumPy rejects it or it is not a small float."""
        names: dict = {n: (np.full(s, 0.7) if s else 0.7) for n, s in self.env.items()}
        names.update(self.ints)
        try:
            with np.errstate(all="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                value = np.asarray(eval(expression, dict(self.namespace), names))  # our own templates
        except Exception:  # noqa: BLE001 - NumPy rejects the candidate: draw another
            return None
        if value.dtype.kind != "f" or value.ndim > 2 or value.size > 12:
            return None
        return value.shape

    def name(self, shape: Shape | None = None) -> str | None:
        """A value in scope (of `shape` if given), preferring recent ones."""
        names = [n for n, s in self.env.items() if shape is None or s == shape]
        if not names:
            return None
        return names[-1] if self.rng.random() < 0.3 else self.rng.choice(names)

    def operand(self) -> str:
        """A name, or now and then a small compound expression over one."""
        name = self.name()
        roll = self.rng.random()
        if roll < 0.12:
            return f"({name} * 0.5 + 0.1)"
        others = [n for n in self.env if n != name]
        if roll < 0.2 and others:
            return f"({name} - {self.rng.choice(others)})"
        return name

    def two_operands(self) -> tuple[str, str]:
        """Two different operands where there are two values (`a - a` would be a structural zero)."""
        first = self.operand()
        for _ in range(4):
            second = self.operand()
            if second != first or len(self.env) == 1:
                return first, second
        return first, second

    def pick(self, makers: list, want=None) -> tuple[str, Shape] | None:
        """The first of up to 12 drawn expressions that NumPy accepts (with a shape `want` accepts, if given)."""
        for _ in range(12):
            expression = self.rng.choice(makers)()
            shape = self.shape(expression)
            if shape is not None and (want is None or want(shape)):
                return expression, shape
        return None

    # -- expressions ---------------------------------------------------------------

    def expression(self, want=None) -> tuple[str, Shape]:
        """A random right-hand side, with its shape."""
        makers = [self.unary] * 6 + [self.binary] * 5 + [self.guarded, self.scalar_op, self.outside]
        makers += [self.reduction] * 3 + [self.product] * 2 + [self.view] * 2 + [self.copy, self.sequence]
        found = self.pick(makers, want)
        if found is None:  # always possible: a sum of any value broadcasts anywhere
            return f"np.sum(np.sin({self.name()}))", ()
        return found

    def unary(self) -> str:
        op = self.rng.choice(list(T.UNARY))
        return self.rng.choice(T.UNARY[op]).format(self.operand())

    def binary(self) -> str:
        op = self.rng.choice(list(T.BINARY))
        return self.rng.choice(T.BINARY[op]).format(*self.two_operands())

    def guarded(self) -> str:
        return self.rng.choice(T.GUARDED).format(self.name())

    def scalar_op(self) -> str | None:
        scalars = [n for n, s in self.env.items() if s == ()]
        if not scalars:
            return self.unary()
        a, b = self.rng.choice(scalars), self.rng.choice(scalars)
        table = T.SCALAR_UNARY if self.rng.random() < 0.6 else T.SCALAR_BINARY
        op = self.rng.choice(list(table))
        return self.rng.choice(table[op]).format(a, b)

    def outside(self) -> str:
        if self.rng.random() < 0.8:  # rare: each one makes the whole program a refusal
            return self.unary()
        return self.rng.choice(T.OUTSIDE).format(self.name())

    def reduction(self) -> str:
        name = self.operand()
        ndim = len(self.shape(name) or ())
        axis = self.rng.choice([None, *range(ndim), *([-1] if ndim else []), *([(0, 1)] if ndim == 2 else [])])
        options = "" if axis is None and self.rng.random() < 0.5 else f", axis={axis}"
        if self.rng.random() < 0.4:
            options += f", keepdims={self.rng.random() < 0.5}"
        roll = self.rng.random()
        if roll < 0.1:
            return f"np.linalg.norm({name})"
        if roll < 0.35 and not name.startswith("("):
            return f"{name}{self.rng.choice(T.METHODS)}({options.lstrip(', ')})"
        return f"{self.rng.choice(T.REDUCTIONS)}({name}{options})"

    def product(self) -> str:
        return self.rng.choice(T.PRODUCTS).format(self.name(), self.name())

    def view(self) -> str:
        name = self.name()
        expression = self.rng.choice(T.VIEWS).format(name)
        if name in self.views:
            self.views_made.add(expression)
        return expression

    def copy(self) -> str:
        return self.rng.choice(T.COPIES).format(self.name(), self.name())

    def sequence(self) -> str:
        return self.rng.choice(T.SEQUENCES).format(*self.two_operands())

    def condition(self) -> str:
        scalars = [n for n, s in self.env.items() if s == ()]
        if scalars and self.rng.random() < 0.4:
            first, second = self.rng.choice(scalars), self.rng.choice(scalars)
            if first == second:
                second = self.rng.choice(["0.3", "-0.2"])
            return self.rng.choice(T.SCALAR_CONDITIONS).format(first, second)
        first = self.name()
        second = self.name() if len(self.env) < 2 else self.rng.choice([n for n in self.env if n != first])
        return self.rng.choice(T.CONDITIONS).format(first, second)
