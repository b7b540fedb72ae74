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

The result is a `Plan`: the host program (an IR `Function` whose equations
are host ops, device ops and one `cuda_elementwise` launch per group) and
the groups themselves, from which `emit` prints kernels.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from symdiff.backends.cuda.lowering import (
    CONSTRUCTORS,
    HOST_OPS,
    HOST_VALUE_OPS,
    SHAPE_ONLY_OPS,
    is_elementwise,
    unsupported_reason,
)
from symdiff.backends.cuda.shapes import SCALAR, Shape, ShapeTerms, fits
from symdiff.errors import BackendError
from symdiff.ir.nodes import Atom, Const, Eqn, Function, Var

LAUNCH, TO_DEVICE, TO_HOST = "cuda_elementwise", "cuda_to_device", "cuda_to_host"


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


def check_supported(function: Function) -> None:
    """Raise `BackendError` at build time for statements and ops the CUDA backend cannot run."""
    for stmt in function.body:
        if not isinstance(stmt, Eqn):
            raise BackendError(
                f"the cuda backend cannot run {type(stmt).__name__.lower()} statements (control flow) yet",
                getattr(stmt, "loc", None),
                hint="use backend='numpy' or 'numba' for functions with if/for/while",
            )
    free = dict(function.free)
    for eqn in function.body:
        reason = unsupported_reason(eqn.op)
        if reason is None and _advanced_index(eqn, free):
            reason = "integer-array (advanced) indexing is not implemented on the GPU"
        if reason is not None:
            raise BackendError(f"the cuda backend cannot run {eqn.op}: {reason}", eqn.loc)


def _advanced_index(eqn: Eqn, free: dict) -> bool:
    """Whether `eqn` indexes with a constant list or array (an index argument is checked at call time)."""
    index = eqn.static_dict().get("index")
    if isinstance(index, Var):
        return isinstance(free.get(index.name), (list, np.ndarray))
    if not isinstance(index, Const):
        return False
    items = index.value if isinstance(index.value, tuple) else (index.value,)
    return any(isinstance(item, (list, np.ndarray)) for item in items)


def _param_uses(function: Function) -> tuple[set[str], set[str]]:
    """Names used in device positions (array operands) and in host positions (static, sizes)."""
    device, host = set(), set()
    for eqn in function.body:
        for _, atom in eqn.static:
            if isinstance(atom, Var):
                host.add(atom.name)
        for atom in eqn.ins:
            if not isinstance(atom, Var):
                continue
            if eqn.op in CONSTRUCTORS or eqn.op in HOST_VALUE_OPS:
                host.add(atom.name)
            elif eqn.op not in HOST_OPS:
                device.add(atom.name)
    return device, host


def place(function: Function) -> set[str]:
    """The names of values that live on the device (see the module docstring)."""
    device_uses, host_uses = _param_uses(function)
    inputs = [p.name for p in function.params] + [name for name, _ in function.free]
    clash = sorted(n for n in inputs if n in device_uses and n in host_uses)
    if clash:
        raise BackendError(
            f"argument {clash[0]!r} is used both as an array and as a shape, size or static argument",
            hint="pass the two uses as separate arguments, or use backend='numpy'",
        )
    on_device = {n for n in inputs if n in device_uses}
    for eqn in function.body:
        reads_device = any(isinstance(a, Var) and a.name in on_device for a in eqn.ins)
        if eqn.op in HOST_VALUE_OPS and reads_device:
            raise BackendError(
                f"{eqn.op}() of a GPU value would copy it back to drive Python code",
                eqn.loc,
                hint="use backend='numpy' for data-dependent Python control flow",
            )
        if any(isinstance(a, Var) and a.name in on_device for _, a in eqn.static):
            raise BackendError(f"{eqn.op} takes a static argument computed on the GPU", eqn.loc)
        if eqn.op in HOST_OPS or (eqn.op == "getitem" and not reads_device):
            continue
        if reads_device or not is_elementwise(eqn.op):
            on_device.update(o.name for o in eqn.outs)
    return on_device


class Planner:
    """One pass over the equations: host program out, groups formed and closed on the way."""

    def __init__(self, function: Function):
        self.function = function
        self.on_device = place(function)
        self.terms = ShapeTerms()
        self.host_body: list[Eqn] = []
        self.device_eqns: set[int] = set()
        self.open: list[Group] = []
        self.groups: list[Group] = []
        self.owner: dict[str, Group] = {}
        self.stand_in: dict[str, Var] = {}
        self.rename: dict[str, Atom] = {}
        self.readers = _readers(function)

    def run(self) -> Plan:
        self._inputs_to_device()
        for eqn in self.function.body:
            eqn = self._renamed(eqn)
            device = any(o.name in self.on_device for o in eqn.outs)
            elementwise = device and is_elementwise(eqn.op)
            self.terms.learn(eqn, is_elementwise(eqn.op), scalar=not device)  # host values are numbers to kernels
            if elementwise:
                self._join(eqn)
            else:
                self._host_step(eqn, device)
        for group in list(self.open):
            self._close(group)
        return Plan(self._host_function(), self.groups, self.device_eqns)

    def _inputs_to_device(self) -> None:
        for name in [p.name for p in self.function.params] + [n for n, _ in self.function.free]:
            if name not in self.on_device:
                self.terms.declare(name, SCALAR)  # a host number: broadcasts into anything
            else:
                copy = Var(f"{name}~cuda")
                self.host_body.append(Eqn((copy,), TO_DEVICE, (Var(name),)))
                self.rename[name] = copy
                self.on_device.add(copy.name)

    def _renamed(self, eqn: Eqn) -> Eqn:
        def swap(atom: Atom) -> Atom:
            return self.rename.get(atom.name, atom) if isinstance(atom, Var) else atom

        return Eqn(
            eqn.outs,
            eqn.op,
            tuple(swap(a) for a in eqn.ins),
            tuple((k, swap(a)) for k, a in eqn.static),
            eqn.loc,
            eqn.adjoint,
        )

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
        if device:
            self.device_eqns.add(id(eqn))
        self.host_body.append(eqn)

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
        self.host_body.append(launch)

    def _choose_outputs(self, group: Group) -> None:
        """Values the group writes: those read as data outside it, and results.

        A value whose shape alone is read outside (`np.shape`, `grad_seed`)
        is not written when a written value provably has the same shape: the
        shape query reads that one instead.
        """
        results = {a.name for a in self.function.results() if isinstance(a, Var)}
        shape_only = []
        for member in group.members:
            name = member.out.name
            outside = [r for r in self.readers.get(name, []) if not group.defines(r.out.name)]
            if name in results or any(r.op not in SHAPE_ONLY_OPS for r in outside):
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

    def _host_function(self) -> Function:
        results = []
        for k, atom in enumerate(self.function.results()):
            out = Var(f"{getattr(atom, 'name', 'result')}~result{k}", temp=True)
            self.host_body.append(Eqn((out,), TO_HOST, (self.rename.get(getattr(atom, "name", None), atom),)))
            results.append(out)
        result = tuple(results) if isinstance(self.function.result, tuple) else results[0]
        return Function(
            self.function.name, self.function.params, tuple(self.host_body), result,
            self.function.defaults, self.function.free, self.function.doc,
        )  # fmt: skip


def _readers(function: Function) -> dict[str, list[Eqn]]:
    readers: dict[str, list[Eqn]] = {}
    for eqn in function.body:
        for atom in eqn.atoms():
            if isinstance(atom, Var):
                readers.setdefault(atom.name, []).append(eqn)
    return readers


def plan(function: Function) -> Plan:
    """Check `function`, place its values and group its elementwise equations into kernels."""
    check_supported(function)
    return Planner(function).run()
