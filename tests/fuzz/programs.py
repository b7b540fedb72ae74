"""Random programs for the differential fuzzer: the source of `def f(...)` and its arguments.

`generate(seed)` draws one program. Its body is a sequence of blocks:
assignments from the templates of `tests/fuzz/templates.py` (the whole
derivative table: elementwise ops with their domain guards, arithmetic with
constants, reductions with `axis`/`keepdims`, products, reshapes, views and
indexing, `np.where`, lists and tuples fed to NumPy), augmented assignments,
tuple unpacking, `if`/`elif`/`else` on data, `for` loops with carried values,
`while` loops with counters or data-dependent exits, and element writes into
arrays made with `np.zeros` and friends, and calls: of a module-level helper
(inlined by symdiff; its parameters and locals reuse `f`'s names) and of
lambdas and nested defs that read `f`'s values when called. Module constants
are named like what symdiff generates (`sum_to`, `x_bar`, `index`). Inputs have shapes such as `()`,
`(3,)`, `(2, 3)`, `(2, 1)` so broadcasting is everywhere, are sometimes
float32, and sometimes hold an exact zero (the singular points of `x ** 0`,
`np.abs`, `np.where`).

Shapes are tracked as the program is written: every candidate expression is
evaluated on placeholder arrays of the shapes it would see, and kept only if
NumPy accepts it and it gives a small float array. Values are not tracked;
`tests/fuzz/check.py` skips the rare program that is not finite or not
differentiable at its point.

This module does not import symdiff.
"""

from __future__ import annotations

import ast
import random
from dataclasses import dataclass

import numpy as np

from tests.fuzz import templates as T
from tests.fuzz.expressions import Expressions, Shape, broadcasts

INPUT_SHAPES: list[Shape] = [(), (), (3,), (3,), (2, 3), (2, 1), (1, 3), (3, 3)]
PARAMS = ["x", "y", "z"]


@dataclass
class Program:
    """One random program: its source, arguments, and what to differentiate."""

    seed: int
    source: str  # a module defining `f`
    args: list
    wrt: int | tuple[int, ...]
    writes: bool  # element writes: autograd cannot run it, so finite differences only
    float32: bool


def generate(seed: int, small: bool = False) -> Program:
    """The program drawn for `seed` (the same one on every machine and run).

    `small` programs have at most three blocks and no nested loops: quicker to
    compile for the numba backend.
    """
    rng = random.Random(seed)
    writer = _Writer(rng, max_depth=1 if small else 2)
    float32 = rng.random() < 0.15
    count = rng.choice([1, 2, 2, 3])
    shapes = [rng.choice(INPUT_SHAPES) for _ in range(count)]
    prelude = _module_values(rng, writer) if rng.random() < 0.25 else []
    if rng.random() < 0.25:
        prelude += _helper(rng, writer)
    names = PARAMS[:count]
    for name, shape in zip(names, shapes):
        writer.env[name] = shape
        writer.views.add(name)
    params = list(names)
    if rng.random() < 0.15:
        params.append("n")
        writer.ints["n"] = 3
    for _ in range(rng.randint(1, 3) if small else rng.randint(2, 7)):
        writer.block(depth=0)
    writer.final_return()
    body = "\n".join(writer.lines)
    module = "\n".join(prelude) + "\n\n" * bool(prelude)
    imports = ("import math\n\n" if "math." in body + module else "") + "import numpy as np\n"
    imports += "import scipy.special\n" if "scipy.special." in body + module else ""
    source = f"{imports}\n\n{module}def f({', '.join(params)}):\n{body}\n"
    args = _arguments(np.random.default_rng(seed), shapes, float32) + ([3] if "n" in params else [])
    wrt = 0 if count == 1 and rng.random() < 0.5 else tuple(range(count))
    return Program(seed, source, args, wrt, writer.writes, float32)


def has_writes(source: str) -> bool:
    """Whether `source` writes into elements of an array (`out[i] = v`, `out[i] += v`)."""
    return any(
        isinstance(node, (ast.Assign, ast.AugAssign))
        and any(isinstance(t, ast.Subscript) for t in getattr(node, "targets", [getattr(node, "target", None)]))
        for node in ast.walk(ast.parse(source))
    )


# Module values named like what symdiff generates (cotangents, tapes, helpers, loop indexes):
# a generated name that takes one of them would read the wrong value.
GLOBAL_NAMES = ["C", "scale", "x_bar", "y_bar", "f_bar", "f_1", "index", "start", "sum_to", "t1_bar", "acc_tape"]
GLOBAL_NAMES += ["vexp", "at", "flat", "reduce_sum"]  # helpers of the numba backend


def _module_values(rng: random.Random, writer: _Writer) -> list[str]:
    """One or two module-level constants that the function reads."""
    lines = []
    for name in rng.sample(GLOBAL_NAMES, rng.choice([1, 2])):
        shape = rng.choice([(), (3,), (2, 3)])
        numbers = [round(rng.uniform(-1.2, 1.2), 2) for _ in range(int(np.prod(shape)))]
        value = np.array(numbers).reshape(shape).tolist()
        lines.append(f"{name} = {value!r}" if not shape else f"{name} = np.array({value!r})")
        writer.env[name] = shape
        writer.views.add(name)  # `name += v` would make it a local: never drawn
    exec("\n".join(lines), writer.namespace)  # noqa: S102 - our own constants
    return lines


def _helper(rng: random.Random, writer: _Writer) -> list[str]:
    """A module-level function that `f` calls (inlined by symdiff): its parameters and locals
    reuse `f`'s names, and it may branch, loop, write elements and read module values."""
    inner = _Writer(rng, max_depth=1)
    inner.env.update(writer.env)  # module values
    inner.views.update(writer.views)
    params = rng.choice([("a", "b"), ("x", "y"), ("y", "x"), ("x",)])
    shapes = [rng.choice(INPUT_SHAPES) for _ in params]
    for name, shape in zip(params, shapes):
        inner.env[name] = shape
        inner.views.add(name)
    returns = rng.choice(["scalar", "scalar", "value", "pair"])
    inner.early_returns = returns == "scalar"
    for _ in range(rng.randint(1, 2)):
        inner.block(depth=0)
    if returns == "scalar":
        inner.emit(f"return {inner.scalar_output()}")
    elif returns == "value":
        inner.emit(f"return {inner.expression()[0]}")
    else:
        inner.emit(f"return {inner.expression()[0]}, {inner.expression()[0]}")
    name = rng.choice([n for n in ("g", "helper", "f_1") if n not in writer.env])
    lines = [f"def {name}({', '.join(params)}):", *inner.lines]
    exec("\n".join(lines), writer.namespace)  # noqa: S102 - evaluated for the shapes of calls
    writer.functions.append((name, shapes, returns == "pair"))
    writer.writes = writer.writes or inner.writes
    return lines


def _arguments(rng: np.random.Generator, shapes: list[Shape], float32: bool) -> list:
    dtype = np.float32 if float32 else np.float64
    args = []
    for shape in shapes:
        value = rng.uniform(-1.5, 1.5, size=shape)
        if value.size and rng.random() < 0.1:
            value.flat[rng.integers(value.size)] = 0.0  # a singular point of some ops
        value = value.astype(dtype)
        args.append(value if shape else (dtype(value) if float32 else float(value)))
    return args


class _Writer(Expressions):
    """Writes the statements of one program into `lines`."""

    # -- statements ----------------------------------------------------------------

    early_returns = True  # `if c: return <scalar>` may be drawn (not in a helper returning arrays)

    def __init__(self, rng: random.Random, max_depth: int):
        super().__init__(rng, max_depth)
        self.functions: list[tuple[str, list[Shape], bool]] = []  # (name, parameter shapes, returns a pair)

    def block(self, depth: int) -> None:
        kinds = ["assign"] * 5 + ["augment", "unpack", "list"]
        if depth < self.max_depth:
            kinds += ["if", "if", "for", "for", "while", "writes", "writes", "pair", "grown"]
        if depth == 0:
            kinds.append("closure")
        kinds += ["call"] * (2 * len(self.functions))
        getattr(self, "block_" + self.rng.choice(kinds))(depth)

    def block_closure(self, depth: int) -> None:
        """A lambda or nested def reading values of `f` (read when it is called: Python's late
        binding), its parameter sometimes shadowing one of `f`'s names."""
        name, param = self.fresh("h"), self.rng.choice(["u", "x", "v"])
        shape = self.rng.choice([s for s in self.env.values()])
        saved = dict(self.env)
        self.env[param] = shape
        body, _ = self.expression()
        self.env = saved
        if self.rng.random() < 0.5:
            self.emit(f"{name} = lambda {param}: {body}")
        else:
            self.emit(f"def {name}({param}):")
            self.emit(f"    return {body}")
        # The shape of a call: the body evaluated with the parameter bound (captured values keep
        # their shapes when rebound: augmented, or joined by an if).
        self.namespace[name] = _Closure(self, param, body)
        self.functions.append((name, [shape], False))
        self.block_call(depth)

    def block_call(self, depth: int) -> None:
        name, shapes, pair = self.rng.choice(self.functions)
        call = f"{name}({', '.join(self.name(s) or self.like(s) for s in shapes)})"
        if pair:
            first, second = self.shape(f"{call}[0]"), self.shape(f"{call}[1]")
            if first is None or second is None:
                return self.block_assign(depth)
            a, b = self.fresh("p"), self.fresh("q")
            self.emit(f"{a}, {b} = {call}")
            self.bind(a, first)
            self.bind(b, second)
            return
        shape = self.shape(call)
        if shape is None:
            return self.block_assign(depth)
        target = self.fresh()
        self.emit(f"{target} = {call}")
        self.bind(target, shape)

    def block_assign(self, depth: int) -> None:
        expression, shape = self.expression()
        target = self.fresh()
        self.emit(f"{target} = {expression}")
        self.bind(target, shape, expression)

    def bind(self, target: str, shape: Shape, expression: str = "") -> None:
        self.env[target] = shape
        if expression in self.views_made or expression in self.views:
            # `target += v` would write into the caller's array, which NumPy allows and symdiff
            # cannot always see (docs/limitations.md, "Views are values"): not drawn.
            self.views.add(target)

    def block_augment(self, depth: int) -> None:
        targets = [n for n in self.env if n not in self.views]
        if not targets:
            return self.block_assign(depth)
        target = self.rng.choice(targets)
        shape = self.env[target]
        value, _ = self.expression(want=lambda s: broadcasts(s, shape))
        op = self.rng.choice(["+=", "-=", "*=", "/="])
        if op == "*=":
            value = f"np.tanh({value})"
        elif op == "/=":
            value = f"(2.0 + np.sin({value}))"
        self.emit(f"{target} {op} {value}")

    def block_unpack(self, depth: int) -> None:
        a, b = self.fresh("p"), self.fresh("q")
        rows = [n for n, s in self.env.items() if s and s[0] == 2]
        if rows and self.rng.random() < 0.5:
            source = self.rng.choice(rows)
            self.emit(f"{a}, {b} = {source}")
            for name in (a, b):
                self.bind(name, self.env[source][1:])
                if source in self.views:
                    self.views.add(name)
            return
        (first, s1), (second, s2) = self.expression(), self.expression()
        self.emit(f"{a}, {b} = " + self.rng.choice(["{}, {}", "({}, {})", "[{}, {}]"]).format(first, second))
        self.bind(a, s1, first)
        self.bind(b, s2, second)

    def block_list(self, depth: int) -> None:
        (first, _), (second, _) = self.expression(), self.expression()
        items = self.fresh("items")
        use = self.rng.choice(["np.stack({})", "np.sum({0}[0]) * {0}[1]", "np.array({})", "{0}[1] + np.mean({0}[0])"])
        shape = self.shape(use.format(f"[{first}, {second}]"))
        if shape is None:
            return self.block_assign(depth)
        self.emit(f"{items} = [{first}, {second}]")
        target = self.fresh()
        self.emit(f"{target} = {use.format(items)}")
        self.bind(target, shape)

    def block_if(self, depth: int) -> None:
        if depth == 0 and self.early_returns and self.rng.random() < 0.08:  # an early return
            self.emit(f"if {self.condition()}:")
            self.indent += 1
            self.emit(f"return {self.scalar_output()}")
            self.indent -= 1
            return
        target = self.fresh()
        first, shape = self.expression()
        want = lambda s: s == shape
        branches = ["if"] + (["elif"] if self.rng.random() < 0.3 else []) + ["else"]
        for keyword in branches:
            self.emit(f"{keyword} {self.condition()}:" if keyword != "else" else "else:")
            self.indent += 1
            saved = dict(self.env)
            if self.rng.random() < 0.4:
                self.block(depth + 1)
            expression = first if keyword == "if" else self.expression(want)[0]
            if keyword != "if" and self.shape(expression) != shape:
                expression = f"np.zeros({shape}) + np.sum(np.cos({self.name()}))"
            self.emit(f"{target} = {expression}")
            self.env = saved
            self.indent -= 1
        self.env[target] = shape

    def block_pair(self, depth: int) -> None:
        """A tuple that an if or a loop rebinds, then unpacked: it joins item by item."""
        (first, s1), (second, s2) = self.expression(), self.expression()
        pair = self.fresh("pair")
        self.emit(f"{pair} = ({first}, {second})")
        if self.rng.random() < 0.5:
            self.emit(f"if {self.condition()}:")
            self.indent += 1
            items = [self.like(shape) for shape in (s1, s2)]
        else:
            self.emit(f"for _ in range({self.rng.choice([2, 3])}):")
            self.indent += 1
            items = [
                f"{pair}[0] * 0.9 + 0.1 * np.sum(np.sin({pair}[1]))",
                f"{pair}[1] * 0.8 - 0.2 * np.sum(np.tanh({pair}[0]))",
            ]
        self.emit(f"{pair} = ({items[0]}, {items[1]})")
        self.indent -= 1
        a, b = self.fresh("p"), self.fresh("q")
        self.emit(f"{a}, {b} = {pair}")
        self.bind(a, s1)
        self.bind(b, s2)

    def like(self, shape: Shape) -> str:
        """An expression of `shape`."""
        expression = self.expression(lambda s: s == shape)[0]
        if self.shape(expression) != shape:
            expression = f"np.zeros({shape}) + np.sum(np.cos({self.name()}))"
        return expression

    def block_for(self, depth: int) -> None:
        loops = self.rng.choice([2, 3])
        counter = "i" if "i" not in self.ints else "j"
        if counter in self.ints:
            return self.block_assign(depth)
        header = self.rng.choice(
            [f"range({loops})", f"range(1, {loops + 1})", f"range({loops} - 1, -1, -1)"]
            + (["range(n)"] * ("n" in self.ints))
        )
        top = 3 if header == "range(n)" else loops
        acc, shape = self.carried()
        before = set(self.env)
        if self.rng.random() < 0.1:  # bound before the loop: after it, it holds the loop's last value
            self.emit(f"{counter} = 5")
        self.emit(f"for {counter} in {header}:")
        self.indent += 1
        self.ints[counter] = top
        for _ in range(self.rng.randint(0, 2)):
            self.block(depth + 1)
        self.update(acc, shape, counter, top)
        self.indent -= 1
        del self.ints[counter]
        self.leave_loop(before)
        if self.rng.random() < 0.15:  # the loop variable read after the loop (its last value)
            name = self.name()
            target = self.fresh()
            self.emit(f"{target} = {name} * ({counter} + 0.5)")
            self.bind(target, self.env[name])

    def block_grown(self, depth: int) -> None:
        """A list grown by append in a loop that runs as a loop (started empty or with an item), then
        used as an array: stacked, summed, indexed, measured with len."""
        counter = "i" if "i" not in self.ints else "j"
        if counter in self.ints:
            return self.block_assign(depth)
        loops = self.rng.choice([2, 3])
        header = self.rng.choice([f"range({loops})"] + (["range(n)"] * ("n" in self.ints)))
        count = 3 if header == "range(n)" else loops
        first, shape = self.expression(lambda s: len(s) <= 1 and int(np.prod(s)) <= 3)
        items = self.fresh("items")
        empty = self.rng.random() < 0.3
        self.emit(f"{items} = []" if empty else f"{items} = [{first}]")
        count += 0 if empty else 1
        before = set(self.env)
        self.emit(f"for {counter} in {header}:")
        self.indent += 1
        self.ints[counter] = count
        if self.rng.random() < 0.5:
            self.block(depth + 1)
        self.emit(f"{items}.append({self.like(shape)} * ({counter} + 0.5))")
        self.indent -= 1
        del self.ints[counter]
        self.leave_loop(before)
        use = self.rng.choice(
            [
                "np.stack({0})",
                "np.sum({0}, axis=0)",
                "{0}[-1] * len({0})",
                "np.array({0}) * 0.5",
                "{0}[1]",
                "np.vstack({0})",
            ]
        )
        value = self.shape(use.format(f"[np.full({shape}, 0.7)] * {count}"))
        if value is None:
            value, use = shape, "{0}[-1]"
        target = self.fresh()
        self.emit(f"{target} = {use.format(items)}")
        self.bind(target, value)

    def block_while(self, depth: int) -> None:
        counter = self.fresh("n")
        self.emit(f"{counter} = 0")
        acc, shape = self.carried()
        before = set(self.env)
        limit = self.rng.choice([2, 3])
        data = self.rng.random() < 0.4 and shape == ()
        self.emit(f"while {acc} < 2.0 and {counter} < 5:" if data else f"while {counter} < {limit}:")
        self.indent += 1
        self.ints[counter] = 4
        for _ in range(self.rng.randint(0, 2)):
            self.block(depth + 1)
        if data:
            self.emit(f"{acc} = {acc} + 0.4 + np.abs(np.tanh(np.sum({self.name()})))")
        else:
            self.update(acc, shape, None, limit)
        self.emit(self.rng.choice([f"{counter} += 1", f"{counter} = {counter} + 1"]))
        self.indent -= 1
        del self.ints[counter]
        self.leave_loop(before)

    def leave_loop(self, before: set[str]) -> None:
        """Values first bound in a loop's body stay in scope after it now and then (symdiff refuses them)."""
        if self.rng.random() < 0.85:
            self.env = {n: s for n, s in self.env.items() if n in before}

    def carried(self) -> tuple[str, Shape]:
        """A new value that a loop carries from one iteration to the next."""
        acc = self.fresh("acc")
        roll = self.rng.random()
        if roll < 0.3:
            self.emit(f"{acc} = 0.0")
            self.env[acc] = ()
        elif roll < 0.45:
            shape = self.rng.choice([(3,), (2, 3)])
            self.emit(f"{acc} = np.zeros({shape})")
            self.env[acc] = shape
        else:
            expression, shape = self.expression()
            self.emit(f"{acc} = {expression}")
            self.bind(acc, shape, expression)
        return acc, self.env[acc]

    def update(self, acc: str, shape: Shape, counter: str | None, top: int) -> None:
        """`acc = ...` keeping its shape, from values in scope and (now and then) the loop counter."""
        rows = [n for n, s in self.env.items() if s and s[0] >= top and n != acc]
        if counter and rows and self.rng.random() < 0.5:
            value = f"{self.rng.choice(rows)}[{counter}]"
        elif counter and self.rng.random() < 0.3:
            value = f"{counter} * 0.5 * {self.name()}"
        else:
            value = self.expression()[0]
        combined = self.rng.choice(T.CARRIED).format(acc=acc, v=value)
        if self.shape(combined) != shape:
            combined = f"{acc} + np.sum(np.sin({value}))"
            if self.shape(combined) != shape:
                combined = f"{acc} * 0.9 + 0.1"
        self.emit(f"{acc} = {combined}")

    def block_writes(self, depth: int) -> None:
        """An array made by a constructor, written element by element, then used as a value."""
        out = self.fresh("out")
        shape = self.rng.choice([(3,), (4,), (2, 3), (3, 2)])
        locals_ = [n for n, s in self.env.items() if len(s) >= 1]
        make = self.rng.choice(["np.zeros({s})", "np.zeros({s})", "np.ones({s})", "np.full({s}, 0.5)", "copy"])
        if make == "copy" and locals_:
            base = self.rng.choice(locals_)
            shape = self.env[base]
            self.emit(
                f"{out} = " + self.rng.choice(["np.copy({})", "{}.copy()", "np.zeros_like({}) + 1.0"]).format(base)
            )
        else:
            self.emit(f"{out} = " + make.replace("copy", "np.zeros({s})").format(s=shape))
        self.writes = True
        for _ in range(self.rng.randint(1, 3)):
            self.write(out, shape)
        self.env[out] = shape
        if self.rng.random() < 0.3:  # a read between writes: refused where a later write reaches it
            self.block_assign(depth + 1)
            self.write(out, shape)

    def write(self, out: str, shape: Shape) -> None:
        rows = shape[0]
        index = self.rng.choice(["0", "-1", "1:", ":2", "[0, 2]" if rows > 2 else "[0, 1]", "[1, 1]", "loop", "recur"])
        if len(shape) == 2 and self.rng.random() < 0.3:
            index = self.rng.choice([":, 0", "1, :", "0, 1", "..., -1"])
        if index in ("loop", "recur"):
            counter = "i" if "i" not in self.ints else "k"
            start = 1 if index == "recur" else 0
            self.emit(f"for {counter} in range({start}, {rows}):")
            self.indent += 1
            self.ints[counter] = rows - 1
            row = shape[1:]
            value = self.row_value(row, counter)
            if index == "recur":
                value = f"np.tanh({out}[{counter} - 1] * 0.5 + {value})"
            self.emit(f"{out}[{counter}] {self.rng.choice(['=', '=', '+='])} {value}")
            del self.ints[counter]
            self.indent -= 1
            return
        target = self.shape(f"np.zeros({shape})[{index}]")
        if target is None:  # an index out of range for this shape
            index, target = "...", shape
        self.emit(f"{out}[{index}] {self.rng.choice(['=', '=', '+=', '-=', '*='])} {self.row_value(target, None)}")

    def row_value(self, target: Shape, counter: str | None) -> str:
        """A value that broadcasts to `target` exactly (an element, a row, a part)."""
        fits = lambda s: broadcasts(s, target)
        if counter is not None and self.rng.random() < 0.5:
            rows = [n for n, s in self.env.items() if s and s[0] > self.ints[counter] and fits(s[1:])]
            if rows:
                return f"np.sin({self.rng.choice(rows)}[{counter}]) * ({counter} + 1.0)"
        return self.expression(want=fits)[0]

    def scalar_output(self) -> str:
        """A 0-d value from a few values in scope."""
        names = list(self.env)
        chosen = list(dict.fromkeys([names[-1], *self.rng.sample(names, min(len(names), 2))]))
        terms = []
        for name in chosen:
            form = self.rng.choice(["np.sum({})", "np.sum(np.sin({}))", "np.mean({0} * {0})", "np.sum(np.cos({}))"])
            terms.append(name if self.env[name] == () and self.rng.random() < 0.5 else form.format(name))
        return " + ".join(terms)

    def final_return(self) -> None:
        self.emit(f"return {self.scalar_output()}")


class _Closure:
    """Stands for a closure of `f` when the fuzzer evaluates shapes: its body with the parameter
    bound to a placeholder of the given value's shape."""

    def __init__(self, writer: _Writer, param: str, body: str):
        self.writer, self.param, self.body = writer, param, body

    def __call__(self, value):
        saved = dict(self.writer.env)
        self.writer.env[self.param] = np.shape(value)
        try:
            shape = self.writer.shape(self.body)
        finally:
            self.writer.env = saved
        if shape is None:
            raise ValueError("the body does not evaluate")
        return np.full(shape, 0.7) if shape else 0.7
