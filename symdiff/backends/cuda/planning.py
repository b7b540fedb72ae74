"""Plan a gradient for the GPU: where each value lives, and which equations share a kernel.

Two decisions, both made once at build time from the IR alone:

1. Placement. A value is either a *host* value (a Python number, shape,
   tuple, slice: what shape bookkeeping produces) or a *device* value (a
   `View` of GPU memory). Parameters live on the device unless they are only
   used as shapes, sizes or static arguments. An elementwise op whose
   operands are all host values runs on the host; any other array op runs
   on the device.
2. Fusion. Device elementwise equations are grouped greedily into kernels. A
   kernel runs over one index space, the broadcast of everything it reads,
   and computes each value there (a value of a smaller shape is computed
   once per broadcast copy, and written once). So an equation may join an
   open group when its output's shape provably broadcasts into the group's
   index space or the other way round (`shapes.fits`): then the
   broadcast cannot fail at run time. A group is launched (closed) just
   before the first equation outside it that reads one of its values, so
   every operand a kernel reads exists when it runs. Values a group computes
   are written to memory only when something outside the group reads their
   data.

Control flow runs on the host: `if` arms and loop bodies are planned as
blocks of their own, and a group never crosses a block boundary (open groups
are launched before an `if` or a loop, and at the end of every block), so a
kernel launched in a loop body runs once per iteration. Placement is a
fixpoint over the joins: a loop's carried value lives on the device when its
first value or the body's result does, an `if`'s output when either arm's
result does, and a value popped from a tape when any value pushed onto that
tape does. Placement may over-approximate (a value placed on the device can
still be a Python number at run time, which every device function and launch
takes), never under-approximate. A condition, loop bound or cast that reads a
device value reads it through `cuda_scalar`, which copies the one number back
(a synchronisation). A `while` loop tests a carried flag computed before the
loop and again at the end of each iteration, so its condition is ordinary
statements that may launch kernels (`while_flags`).

The result is a `Plan`: the host program (an IR `Function` whose equations
are host ops, device ops and one `cuda_elementwise` launch per group) and
the groups themselves, from which `emit` prints kernels.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from symdiff.analysis.aliases import ELEMENT_READS
from symdiff.backends.cuda.lowering import (
    CONSTRUCTORS,
    DEVICE_FUNCTIONS,
    HOST_ARRAY_OPS,
    HOST_OPS,
    HOST_VALUE_OPS,
    SHAPE_ONLY_OPS,
    is_elementwise,
    unsupported_reason,
)
from symdiff.backends.cuda.shapes import SCALAR, Shape, ShapeTerms, fits
from symdiff.codegen.layout import Layout
from symdiff.errors import BackendError
from symdiff.ir.nodes import Atom, Const, Eqn, Function, If, Loop, Var, statements, walk

LAUNCH, TO_DEVICE, TO_HOST = "cuda_elementwise", "cuda_to_device", "cuda_to_host"
TO_SCALAR, TO_INDEX = "cuda_scalar", "cuda_index"  # one device number read back: a condition, or a bound
TO_HOST_ARRAY = "cuda_host_array"  # a device value read back whole: an index, a constructor's operand
# Ops whose device result may be read back as an index, with the dtype it is read as (None: its own). Kernels
# store every value in a floating buffer, so only a comparison (a mask), an arg-reduction (positions) or an
# integer cast (`.astype(int)`, which keeps its dtype on the device) is known to be one; an index computed by
# arithmetic on the device (`x[np.argmax(x) - 1]`) is refused when built.
READABLE_INDEXES = {
    **dict.fromkeys(
        ("lt", "le", "gt", "ge", "eq", "ne", "logical_and", "logical_or", "logical_not", "isnan", "isfinite"), "bool"
    ),
    "argmax": "int64",
    "argmin": "int64",
    "as_integer": None,
}


@dataclass
class Group:
    """Elementwise equations computed by one kernel over one index space."""

    name: str
    shape: Shape
    members: list[Eqn] = field(default_factory=list)
    arrays: list[Var] = field(default_factory=list)  # device operands, read through strides
    scalars: list[Var] = field(default_factory=list)  # host numbers, passed by value
    outputs: list[Var] = field(default_factory=list)  # values written to memory

    def defines(self, name: str) -> bool:
        return any(m.out.name == name for m in self.members)

    def add(self, eqn: Eqn, on_device: set[str]) -> None:
        """Compute `eqn` in this kernel; its operands from outside become arrays (device) or scalars (host)."""
        self.members.append(eqn)
        for atom in eqn.ins:
            if not isinstance(atom, Var) or self.defines(atom.name) or atom in self.arrays + self.scalars:
                continue
            (self.arrays if atom.name in on_device else self.scalars).append(atom)

    def sources(self, value: Var) -> tuple[int, ...]:
        """Indices of the array operands whose broadcast shape is `value`'s shape."""
        found: set[int] = set()
        pending = [value]
        while pending:
            atom = pending.pop()
            if atom in self.arrays:
                found.add(self.arrays.index(atom))
                continue
            member = next((m for m in self.members if m.out == atom), None)
            if member is not None:
                pending.extend(a for a in member.ins if isinstance(a, Var))
        return tuple(sorted(found))


@dataclass
class Plan:
    """What `emit` prints: the host program, its kernels, and which host equations run on the device."""

    host: Function
    groups: list[Group]
    device_eqns: set[int]  # ids of host-program equations that call a device_<op> function
    in_place: set[int] = field(default_factory=set)  # ids of setitems that write into their array (device_write)
    copies: set[int] = field(default_factory=set)  # ids of element reads NumPy copies (a scalar), copied here too


def check_supported(function: Function) -> None:
    """Raise `BackendError` at build time for ops the CUDA backend cannot run (anywhere in the program)."""
    for eqn in walk(function.body):
        reason = unsupported_reason(eqn.op)
        if reason is not None:
            raise BackendError(f"the cuda backend cannot run {eqn.op}: {reason}", eqn.loc)


# -- while loops: the condition as statements of the body ---------------------------------------


def while_flags(function: Function) -> Function:
    """`function` with every `while` loop testing a carried flag instead of its condition block.

    The condition block is copied before the loop (reading the carried
    values' first values) and at the end of the body (reading the body's
    results), each copy ending in `cuda_scalar`, so the flag is a host
    number. The loop runs the same iterations; the condition can now launch
    kernels like any other statements, where a `while` test is one expression.
    """
    counter = [0]

    def copy(block: tuple, cond: Atom, values: dict[str, Atom]) -> tuple[list[Eqn], Var]:
        counter[0] += 1
        renamed = dict(values)

        def swap(atom: Atom) -> Atom:
            return renamed.get(atom.name, atom) if isinstance(atom, Var) else atom

        eqns = []
        for eqn in block:
            outs = tuple(Var(f"{o.name}~w{counter[0]}", o.temp) for o in eqn.outs)
            eqns.append(
                Eqn(
                    outs,
                    eqn.op,
                    tuple(map(swap, eqn.ins)),
                    tuple((k, swap(a)) for k, a in eqn.static),
                    eqn.loc,
                    eqn.adjoint,
                )
            )
            renamed.update((o.name, new) for o, new in zip(eqn.outs, outs))
        flag = Var(f"{getattr(cond, 'name', 'cond')}~flag{counter[0]}", temp=True)
        eqns.append(Eqn((flag,), TO_SCALAR, (swap(cond),), loc=block[-1].loc if block else None))
        return eqns, flag

    def rewrite(body: tuple) -> tuple:
        out: list = []
        for stmt in body:
            if isinstance(stmt, If):
                stmt = replace(stmt, then_body=rewrite(stmt.then_body), else_body=rewrite(stmt.else_body))
            elif isinstance(stmt, Loop):
                stmt = replace(stmt, body=rewrite(stmt.body))
                if stmt.index is None and stmt.cond is not None:
                    if any(not isinstance(s, Eqn) for s in stmt.cond_body):
                        raise BackendError(
                            "the cuda backend cannot run control flow inside a while condition", stmt.loc
                        )
                    names = [c.name for c in stmt.carried]
                    before, first = copy(stmt.cond_body, stmt.cond, dict(zip(names, stmt.inits)))
                    again, following = copy(stmt.cond_body, stmt.cond, dict(zip(names, stmt.results)))
                    flag = Var(f"{first.name.split('~')[0]}~while{counter[0]}", temp=True)
                    done = Var(f"{flag.name}~done", temp=True)
                    out.extend(before)
                    stmt = replace(
                        stmt, outs=(done, *stmt.outs), carried=(flag, *stmt.carried), inits=(first, *stmt.inits),
                        body=stmt.body + tuple(again), results=(following, *stmt.results), cond_body=(), cond=flag,
                    )  # fmt: skip
            out.append(stmt)
        return tuple(out)

    return replace(function, body=rewrite(function.body))


# -- placement -------------------------------------------------------------------------------------


def _param_uses(function: Function) -> tuple[set[str], set[str]]:
    """Names used in device positions (array operands) and in host positions (static, sizes), of every value.

    Tape operations, casts, conditions and loop bounds are neither: they take
    whatever they are given (a device value is read back as a number).
    An index (the static `index`) is not a host position here: an argument
    read as data as well as used as an index lives on the device, and is
    read back where it indexes (`_placement`).
    """
    device, host = set(), set()
    for eqn in walk(function.body):
        for key, atom in eqn.static:
            if isinstance(atom, Var) and key != "index":
                host.add(atom.name)
        for atom in eqn.ins:
            if not isinstance(atom, Var) or eqn.op in HOST_VALUE_OPS:
                continue
            if eqn.op in CONSTRUCTORS:
                host.add(atom.name)
            elif eqn.op not in HOST_OPS and eqn.op not in (TO_SCALAR, TO_INDEX):
                device.add(atom.name)
    return device, host


class _Tapes:
    """Which values may be one Python object: a tape's successive versions, values joined through loops and
    ifs, and every value pushed onto a tape with every value popped from it (its `content:` node), so a
    popped value is a device value when anything pushed onto that tape is (tapes of tapes included)."""

    def __init__(self, function: Function):
        self.parent: dict[str, str] = {}
        for stmt in statements(function.body):
            if isinstance(stmt, Eqn) and stmt.op in ("tape_push", "tape_pop"):
                tape, new, value = stmt.ins[0], stmt.outs[0], stmt.ins[1] if stmt.op == "tape_push" else stmt.outs[1]
                self.union(new, tape)
                self.union(Var(f"content:{tape.name}"), Var(f"content:{new.name}"), value)
            elif isinstance(stmt, Loop):
                for group in zip(stmt.inits, stmt.carried, stmt.results, stmt.outs):
                    self.union(*group)
                    self.union(*(Var(f"content:{a.name}") for a in group if isinstance(a, Var)))
            elif isinstance(stmt, If):
                for group in zip(stmt.outs, stmt.then_results, stmt.else_results):
                    self.union(*group)
                    self.union(*(Var(f"content:{a.name}") for a in group if isinstance(a, Var)))
        # One object, one content: a tape popped from a tape of tapes holds what the tape pushed there held.
        while True:
            contents: dict[str, list[Var]] = {}
            for name in [n for n in list(self.parent) if n.startswith("content:")]:
                contents.setdefault(self.root(name[len("content:") :]), []).append(Var(name))
            roots = len({self.root(n) for n in self.parent})
            for nodes in contents.values():
                self.union(*nodes)
            if len({self.root(n) for n in self.parent}) == roots:
                break

    def root(self, name: str) -> str:
        while self.parent.get(name, name) != name:
            name = self.parent[name]
        return name

    def union(self, *atoms: Atom) -> None:
        roots = [self.root(a.name) for a in atoms if isinstance(a, Var)]
        for other in roots[1:]:
            if other != roots[0]:
                self.parent[other] = roots[0]


def index_only_values(function: Function, tapes: _Tapes) -> set[str]:
    """Roots (in `tapes`) of the values used only as indexes: in `index` and other static positions, as
    items of tuples, operands of elementwise ops or arrays indexed (`rows[:2]`) whose results are used only
    so, pushed onto tapes or joined by loops and ifs with such values, or asked only their shape. Such an
    argument, or a value made on the host from host values (`np.array([0, 2])`), stays on the host: the
    offsets an integer-array index selects are computed there (device_index.py). A value read as data
    anywhere (by a kernel, a device function, a condition, a result) is not one: it lives on the device,
    and used as an index it is read back (`readable_indexes`) or refused in `_placement`."""
    bad: set[str] = set()
    static: set[str] = set()
    edges: list[tuple[str, str]] = []  # (operand, result): the operand is index-only where the result is

    def mark(atoms) -> None:
        bad.update(tapes.root(a.name) for a in atoms if isinstance(a, Var))

    for stmt in statements(function.body):
        if isinstance(stmt, If):
            mark([stmt.cond])
        elif isinstance(stmt, Loop):
            mark([*stmt.bounds, stmt.cond])
        else:
            static.update(tapes.root(a.name) for _, a in stmt.static if isinstance(a, Var))
            if stmt.op in ("make_tuple", "getitem") or (is_elementwise(stmt.op) and len(stmt.outs) == 1):
                out = tapes.root(stmt.out.name)
                edges += [(tapes.root(a.name), out) for a in stmt.ins if isinstance(a, Var)]
            elif stmt.op not in ("tape_push", "tape_pop") and stmt.op not in SHAPE_ONLY_OPS:
                mark(stmt.ins)
    mark(function.results())
    while True:
        size = len(bad)
        bad.update(operand for operand, result in edges if result in bad)
        if len(bad) == size:
            break
    good = static - bad
    while True:
        size = len(good)
        good.update(operand for operand, result in edges if result in good and operand not in bad)
        if len(good) == size:
            return good


def readable_indexes(function: Function, tapes: _Tapes) -> dict[str, str | None]:
    """name -> the dtype its value is read back as when used as an index (see READABLE_INDEXES): the results
    of those ops, and values popped from a tape onto which only such results (of one dtype) are pushed."""
    made: dict[str, str | None] = {}
    popped: set[str] = set()
    for eqn in walk(function.body):
        if eqn.op in READABLE_INDEXES and len(eqn.outs) == 1:
            made[eqn.out.name] = READABLE_INDEXES[eqn.op]
        elif eqn.op == "tape_pop":
            popped.add(eqn.outs[1].name)
    classes: dict[str, list[str]] = {}
    for name in tapes.parent:
        if not name.startswith("content:"):
            classes.setdefault(tapes.root(name), []).append(name)
    readable = dict(made)
    for members in classes.values():
        dtypes = {made[m] for m in members if m in made}
        if len(dtypes) == 1 and all(m in made or m in popped for m in members):
            readable.update((m, next(iter(dtypes))) for m in members if m in popped)
    return readable


def _readable(atom: Atom, on_device: set[str], holders: set[str], defs: dict, readable: dict) -> bool:
    """Whether the index `atom` is host data, or can be read back to the host (`readable_indexes`), or is a
    tuple (made in the same program) of such items."""
    if not isinstance(atom, Var) or (atom.name not in on_device and atom.name not in holders):
        return True
    if atom.name in holders:
        made = defs.get(atom.name)
        return (
            made is not None
            and made.op == "make_tuple"
            and all(_readable(a, on_device, holders, defs, readable) for a in made.ins)
        )
    return atom.name in readable


def place(function: Function) -> set[str]:
    """The names of values that live on the device (see the module docstring)."""
    return _placement(function)[0]


def _placement(function: Function) -> tuple[set[str], set[str], dict[str, str | None]]:
    """(values on the device, host tuples that hold device values, device indexes read back: readable_indexes)."""
    device_uses, host_uses = _param_uses(function)
    inputs = [p.name for p in function.params] + [name for name, _ in function.free]
    holders: set[str] = set()  # tuples (make_tuple) with a device value among their items
    tapes, device_tapes = _Tapes(function), set()
    # An argument is an array when anything it may become (through loops, ifs and tapes) is used as one.
    used_as_arrays = {tapes.root(name) for name in device_uses}
    # One used as a shape, size or static argument is a host value, whatever else reads it (arithmetic on
    # it runs on the host; a device function copies it in).
    # So is one used only as an index, or to make one (`x[rows]`, `x[rows[:2]]`): indexes are host data.
    index_only = index_only_values(function, tapes)
    on_device = {
        n for n in inputs
        if (n in device_uses or tapes.root(n) in used_as_arrays) and n not in host_uses and tapes.root(n) not in index_only
    }  # fmt: skip

    def dev(atom: Atom) -> bool:
        return isinstance(atom, Var) and atom.name in on_device

    every = list(statements(function.body))
    while True:
        size = (len(on_device), len(holders), len(device_tapes))
        for stmt in every:
            if isinstance(stmt, If):
                on_device.update(
                    o.name for o, a, b in zip(stmt.outs, stmt.then_results, stmt.else_results) if dev(a) or dev(b)
                )
            elif isinstance(stmt, Loop):
                for phi, init, result, out in zip(stmt.carried, stmt.inits, stmt.results, stmt.outs):
                    if dev(init) or dev(result):
                        on_device.update((phi.name, out.name))
            elif stmt.op == "tape_push":
                if dev(stmt.ins[1]):
                    device_tapes.add(tapes.root(stmt.ins[1].name))
            elif stmt.op == "tape_pop":
                if tapes.root(stmt.outs[1].name) in device_tapes:
                    on_device.add(stmt.outs[1].name)
            elif stmt.op == "make_tuple":
                if any(dev(a) or (isinstance(a, Var) and a.name in holders) for a in stmt.ins):
                    holders.add(stmt.out.name)
            elif stmt.op == "getitem" and isinstance(stmt.ins[0], Var) and stmt.ins[0].name in holders:
                on_device.add(stmt.out.name)  # an item of a host tuple of device values
            elif stmt.op in HOST_OPS or stmt.op in (TO_SCALAR, TO_INDEX):
                continue
            elif (
                stmt.op in HOST_ARRAY_OPS
                and tapes.root(stmt.out.name) in index_only
                and not any(dev(a) or (isinstance(a, Var) and a.name in holders) for a in stmt.ins)
            ):
                continue  # an integer array made on the host for an index
            elif any(dev(a) for a in stmt.ins) or not (is_elementwise(stmt.op) or stmt.op == "getitem"):
                on_device.update(o.name for o in stmt.outs)
        if (len(on_device), len(holders), len(device_tapes)) == size:
            break
    defs = {e.out.name: e for e in walk(function.body) if len(e.outs) == 1}
    readable = readable_indexes(function, tapes)
    # An argument on the device (read as data) that also indexes is read back there with its own dtype, and
    # so is an element or slice of a value read back so (`x[idx[0]]`): indexing keeps the dtype.
    readable.update((n, None) for n in inputs if n in on_device and n not in readable)
    while True:
        size = len(readable)
        for eqn in walk(function.body):
            if eqn.op == "getitem" and isinstance(eqn.ins[0], Var) and eqn.ins[0].name in readable:
                readable.setdefault(eqn.out.name, readable[eqn.ins[0].name])
        if len(readable) == size:
            break
    for eqn in walk(function.body):
        if eqn.op == "index_array" and eqn.out.name in on_device:
            raise BackendError(
                "a list index (x[[i, j]]) holding values computed on the GPU, or read as data, is not supported "
                "by the cuda backend",
                eqn.loc,
                hint="index with integers, slices and integer arrays made on the host, or use backend='numpy'",
            )
        for key, atom in eqn.static:
            if isinstance(atom, Var) and (atom.name in on_device or atom.name in holders):
                if key == "index" and _readable(atom, on_device, holders, defs, readable):
                    continue
                if key == "index":
                    raise BackendError(
                        "an index computed on the GPU by arithmetic (kernels compute in floating point) is not "
                        "supported by the cuda backend; masks, argmax/argmin, .astype(int) and arguments are",
                        eqn.loc,
                        hint="index with integers, slices, masks, argmax/argmin or integer arrays made on the "
                        "host (arguments, np.array([...]) of numbers), or use backend='numpy'",
                    )
                raise BackendError(f"{eqn.op} takes a static argument ({key}) computed on the GPU", eqn.loc)
    return on_device, holders, readable


class Planner:
    """One pass over the program, block by block: host program out, groups formed and closed on the way."""

    def __init__(self, function: Function):
        # Element writes NumPy's printer makes in place (nothing reads the old array afterwards, through any
        # name, view or tape: codegen/layout.py) write in place on the device too.
        layout = Layout(function, set())
        self.writes_in_place = layout.in_place  # ids of the setitems of `function`
        # NumPy's `x[i]` of a 1-D x is a copy, which codegen lets outlive a write into x; on the device it is a
        # view, so where anything is written in place, such reads copy their element.
        self.scalar_reads = {n for n, rank in layout.ranks.items() if rank == 0} if self.writes_in_place else set()
        self.in_place: set[int] = set()
        self.copies: set[int] = set()
        self.function = while_flags(function)
        self.on_device, self.holders, self.readable = _placement(self.function)
        self.terms = ShapeTerms()
        self.body: list = []  # the statements of the block being planned
        self.device_eqns: set[int] = set()
        self.open: list[Group] = []
        self.groups: list[Group] = []
        self.owner: dict[str, Group] = {}
        self.stand_in: dict[str, Var] = {}
        self.rename: dict[str, Atom] = {}
        self.readers = _readers(self.function)
        self.defs = {e.out.name: e for e in walk(self.function.body) if len(e.outs) == 1}
        self.scalars = 0

    def run(self) -> Plan:
        self._inputs_to_device()
        inputs, self.body = self.body, []
        body = inputs + self._block(self.function.body)
        return Plan(self._host_function(body), self.groups, self.device_eqns, self.in_place, self.copies)

    def _block(self, statements) -> list:
        """The planned statements of one block; every group opened in it is launched in it."""
        outer, outer_open = self.body, self.open
        self.body, self.open = [], []
        for stmt in statements:
            if isinstance(stmt, Eqn):
                self._equation(stmt)
                continue
            for group in list(self.open):
                self._close(group)
            if isinstance(stmt, If):
                self._branch(stmt)
            else:
                self._loop(stmt)
        for group in list(self.open):
            self._close(group)
        planned, self.body, self.open = self.body, outer, outer_open
        return planned

    def _equation(self, eqn: Eqn) -> None:
        written = id(eqn) in self.writes_in_place
        if written:  # kernels not launched yet may read the old elements: launch them first
            for group in list(self.open):
                self._close(group)
        eqn = self._renamed(eqn)
        if written:
            self.in_place.add(id(eqn))
        device = any(o.name in self.on_device for o in eqn.outs)
        elementwise = device and is_elementwise(eqn.op)
        self.terms.learn(eqn, is_elementwise(eqn.op), scalar=not device)  # host values are numbers to kernels
        if elementwise:
            self._join(eqn)
        else:
            self._host_step(eqn, device)

    def _branch(self, stmt: If) -> None:
        cond = self._host_value(self._swap(stmt.cond), stmt.loc)
        self._declare(stmt.outs)
        then_body = self._block(stmt.then_body)
        else_body = self._block(stmt.else_body)
        self.body.append(
            replace(
                stmt,
                cond=cond,
                then_body=tuple(then_body),
                then_results=tuple(map(self._swap, stmt.then_results)),
                else_body=tuple(else_body),
                else_results=tuple(map(self._swap, stmt.else_results)),
            )
        )

    def _loop(self, stmt: Loop) -> None:
        bounds = tuple(self._host_value(self._swap(b), stmt.loc, TO_INDEX) for b in stmt.bounds)
        self._declare(stmt.carried + stmt.outs + ((stmt.index,) if stmt.index is not None else ()))
        body = self._block(stmt.body)
        self.body.append(
            replace(
                stmt,
                inits=tuple(map(self._swap, stmt.inits)),
                bounds=bounds,
                body=tuple(body),
                results=tuple(map(self._swap, stmt.results)),
            )
        )

    def _declare(self, names) -> None:
        """Shape terms of values a join defines: host values are numbers, device values unknown."""
        for var in names:
            if var.name not in self.on_device:
                self.terms.declare(var.name, SCALAR)

    def _host_value(self, atom: Atom, loc, op: str = TO_SCALAR) -> Atom:
        """`atom` as a host number: a device value is read back through `op` (a synchronisation)."""
        if not isinstance(atom, Var) or atom.name not in self.on_device:
            return atom
        self.scalars += 1
        number = Var(f"{atom.name.split('~')[0]}~host{self.scalars}", temp=True)
        self._equation(Eqn((number,), op, (atom,), (), loc))
        return number

    def _inputs_to_device(self) -> None:
        for name in [p.name for p in self.function.params] + [n for n, _ in self.function.free]:
            if name not in self.on_device:
                self.terms.declare(name, SCALAR)  # a host number: broadcasts into anything
            else:
                copy = Var(f"{name}~cuda")
                self.body.append(Eqn((copy,), TO_DEVICE, (Var(name),)))
                self.rename[name] = copy
                self.on_device.add(copy.name)

    def _swap(self, atom: Atom) -> Atom:
        return self.rename.get(atom.name, atom) if isinstance(atom, Var) else atom

    def _renamed(self, eqn: Eqn) -> Eqn:
        swap = self._swap
        ins = tuple(swap(a) for a in eqn.ins)
        if eqn.op in ("make_slice", "range", "revolve_snapshots", "revolve_next"):  # bounds: whole numbers
            ins = tuple(self._host_value(a, eqn.loc, TO_INDEX) for a in ins)
        elif eqn.op in HOST_VALUE_OPS:  # casts and logic take numbers: read device operands back
            ins = tuple(self._host_value(a, eqn.loc) for a in ins)
        elif eqn.op in CONSTRUCTORS:  # built on the host (linspace of a device minimum): read operands back
            ins = tuple(self._host_array(a, None, eqn.loc) for a in ins)
        static = tuple((k, self._host_index(a, eqn.loc) if k == "index" else swap(a)) for k, a in eqn.static)
        return Eqn(eqn.outs, eqn.op, ins, static, eqn.loc, eqn.adjoint)

    def _host_index(self, atom: Atom, loc) -> Atom:
        """The index `atom` as host data: a mask or arg-reduction computed on the device is read back here (a
        synchronisation, like a condition), and a tuple holding one is made again of host items."""
        if not isinstance(atom, Var):
            return atom
        made = self.defs.get(atom.name)
        if atom.name in self.holders and made is not None and made.op == "make_tuple":
            items = tuple(self._host_index(a, loc) for a in made.ins)
            self.scalars += 1
            packed = Var(f"{atom.name.split('~')[0]}~index{self.scalars}", temp=True)
            self._equation(Eqn((packed,), "make_tuple", items, (), loc))
            return packed
        if atom.name not in self.on_device or atom.name not in self.readable:
            return self._swap(atom)  # host data (placement refused every other index on the device)
        return self._host_array(atom, self.readable[atom.name], loc)

    def _host_array(self, atom: Atom, dtype: str | None, loc) -> Atom:
        """`atom` as host data: a device value is copied back whole, as `dtype` (a synchronisation)."""
        if not isinstance(atom, Var) or atom.name not in self.on_device:
            return self._swap(atom)
        self.scalars += 1
        copy = Var(f"{atom.name.split('~')[0]}~host{self.scalars}", temp=True)
        self._equation(Eqn((copy,), TO_HOST_ARRAY, (self._swap(atom),), (("dtype", Const(dtype)),), loc))
        return copy

    def _open_owners(self, eqn: Eqn) -> list[Group]:
        owners = []
        for atom in eqn.atoms():
            group = self.owner.get(atom.name) if isinstance(atom, Var) else None
            if group is not None and group in self.open and group not in owners:
                owners.append(group)
        return owners

    def _join(self, eqn: Eqn) -> None:
        shape = self.terms.of(eqn.out)
        owners = self._open_owners(eqn)

        def compatible(group: Group) -> bool:
            return fits(shape, group.shape) or fits(group.shape, shape)

        candidates = [g for g in owners if compatible(g)] or [g for g in reversed(self.open) if compatible(g)]
        target = candidates[0] if candidates else None
        for group in owners:
            if group is not target:
                self._close(group)
        if target is None:
            target = Group(f"{self.function.name}_kernel_{len(self.groups) + len(self.open) + 1}", shape)
            self.open.append(target)
        elif fits(target.shape, shape):
            target.shape = shape
        target.add(eqn, self.on_device)
        self.owner[eqn.out.name] = target

    def _host_step(self, eqn: Eqn, device: bool) -> None:
        for group in self._open_owners(eqn):
            self._close(group)
        if eqn.op in SHAPE_ONLY_OPS:
            ins = tuple(self.stand_in.get(a.name, a) if isinstance(a, Var) else a for a in eqn.ins)
            eqn = Eqn(eqn.outs, eqn.op, ins, eqn.static, eqn.loc, eqn.adjoint)
        item_of_tuple = eqn.op == "getitem" and isinstance(eqn.ins[0], Var) and eqn.ins[0].name in self.holders
        if device and eqn.op in DEVICE_FUNCTIONS and not item_of_tuple:
            self.device_eqns.add(id(eqn))
            if eqn.op in ELEMENT_READS and eqn.out.name in self.scalar_reads:
                self.copies.add(id(eqn))
        self.body.append(eqn)

    def _close(self, group: Group) -> None:
        """Launch `group` here: decide what it writes to memory and emit its launch equation."""
        self.open.remove(group)
        self.groups.append(group)
        self._choose_outputs(group)
        last = group.members[-1]
        static = (
            ("kernel", Const(group.name)),
            ("arrays", Const(len(group.arrays))),
            ("writes", Const(tuple(group.sources(v) for v in group.outputs))),
        )
        launch = Eqn(tuple(group.outputs), LAUNCH, tuple(group.arrays + group.scalars), static, last.loc, last.adjoint)
        self.body.append(launch)

    def _choose_outputs(self, group: Group) -> None:
        """Values the group writes: those read as data outside it (by an equation or a statement), and results.

        A value whose shape alone is read outside (`np.shape`, `grad_seed`)
        is not written when a written value provably has the same shape: the
        shape query reads that one instead.
        """
        results = {a.name for a in self.function.results() if isinstance(a, Var)}
        shape_only = []
        for member in group.members:
            name = member.out.name
            outside = [r for r in self.readers.get(name, []) if not (isinstance(r, Eqn) and group.defines(r.out.name))]
            if name in results or any(not isinstance(r, Eqn) or r.op not in SHAPE_ONLY_OPS for r in outside):
                group.outputs.append(member.out)
            elif outside:
                shape_only.append(member.out)
        for value in shape_only:
            term = self.terms.of(value)
            twin = next((out for out in group.outputs if self.terms.of(out) == term), None)
            if twin is None:
                group.outputs.append(value)
            else:
                self.stand_in[value.name] = twin
        if not group.outputs:
            group.outputs.append(group.members[-1].out)

    def _host_function(self, body: list) -> Function:
        results = []
        for k, atom in enumerate(self.function.results()):
            out = Var(f"{getattr(atom, 'name', 'result')}~result{k}", temp=True)
            body.append(Eqn((out,), TO_HOST, (self._swap(atom),)))
            results.append(out)
        result = tuple(results) if isinstance(self.function.result, tuple) else results[0]
        return Function(
            self.function.name, self.function.params, tuple(body), result,
            self.function.defaults, self.function.free, self.function.doc,
        )  # fmt: skip


def _readers(function: Function) -> dict[str, list]:
    """name -> the equations, and the `if`s and loops (conditions, bounds, joined values), that read it."""
    readers: dict[str, list] = {}
    for stmt in statements(function.body):
        for atom in stmt.atoms():
            if isinstance(atom, Var):
                readers.setdefault(atom.name, []).append(stmt)
    return readers


def plan(function: Function) -> Plan:
    """Check `function`, place its values and group its elementwise equations into kernels."""
    check_supported(function)
    return Planner(function).run()
