"""Printed names for the Numba module, and which element writes happen in place.

Numba types every variable once, so the Numba backend gives each IR value its
own printed name, except where control flow needs one name for several values
(a *tie*):

- a loop's carried value and its output after the loop (`h` all along);
- every version of a tape (`x_tape.append(...)`, `x_tape.pop()`);
- an element write done in place (`hs[t] = h` keeps the name `hs`);
- where liveness allows, for readability: an `if` output and the value its
  arm computes, a loop's carried value and the value the body computes for
  the next iteration, a loop's initial value and its carried value.

Liveness decides the optional ties and the in-place writes, so it must know
every read of the printed code where it happens: an inlined expression's
operands are read where its consumer is printed, and a loop kernel reads the
source of a broadcast instead of the broadcast (`kernels.kernel_reads`). The
printer checks each name it reads against these sets and stops the build on
one they lack (`Liveness.read_at`), which would otherwise see a tied name
after the body rebound it.

`x[i] = v` writes in place only when no other live value can see the buffer:
liveness is computed over the structured program (loops to a fixed point,
reads as above) and may-alias
classes join every value with the views, tapes and control-flow ties that can
share its memory (not `y[t]` of a 1-D `y`, a scalar copy: `analysis/ranks.py`;
so the backward loop of `y[t] = a * y[t - 1] + x[t]` zeroes `y_bar[t]` in place
instead of copying `y_bar` on every step, as the NumPy backend does). A class that holds an argument, a module constant or a
read-only broadcast is never written; otherwise the write makes a copy
(`index_update`), as the NumPy backend does.

Printed names avoid `h_<digits>` when `h` may be assigned in several places:
Numba renames such a variable `h.1`, `h.2`, ... and its array-expression pass
turns the dots into underscores, which would collide with such a name.
"""

from __future__ import annotations

import keyword
import re
from collections.abc import Callable

from symdiff.analysis.aliases import ELEMENT_READS
from symdiff.analysis.ranks import known_ranks
from symdiff.ir.nodes import Atom, Eqn, Function, If, Loop, Var, defined, walk
from symdiff.optimize.fuse import fusable

# Ops whose output may share memory with an array operand (views, the operand itself).
_VIEW_OPS = frozenset({
    "getitem", "reshape", "transpose", "swapaxes", "ravel", "squeeze", "expand_dims", "sum_to", "make_tuple",
    "tape_push", "tape_pop", "setitem", "add_at", "axis_slice", "pos", "flip",
})  # fmt: skip
# Ops whose output is a fresh buffer (or not an array at all).
_FRESH_OPS = frozenset({
    "matmul", "dot", "outer", "sum", "mean", "max", "min", "prod", "zeros", "ones", "empty", "full", "zeros_like",
    "ones_like", "empty_like", "full_like", "arange", "eye", "linspace", "concatenate", "stack", "copy",
    "scatter_add", "axis_pad", "matmul_adjoint_a", "matmul_adjoint_b", "shape", "size", "len", "ndim", "where",
    "clip", "grad_seed", "tape_new", "make_slice", "keepdims_shape", "argmax", "argmin", "float", "int", "bool",
})  # fmt: skip
_WRITES = ("setitem", "add_at")  # functional writes into their first operand: done in place where safe
_TRAILING_NUMBER = re.compile(r"_(\d+)$")
_VERSION_SUFFIX = re.compile(r"(_\d+)+")


class UnionFind:
    """Classes of names; `find` gives a class's representative."""

    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, name: str) -> str:
        root = name
        while self.parent.get(root, root) != root:
            root = self.parent[root]
        self.parent[name] = root
        return root

    def union(self, a: str, b: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[rb] = ra


def _vars(atoms) -> set[str]:
    return {a.name for a in atoms if isinstance(a, Var)}


class Liveness:
    """Live-after sets of every printed equation, the names each one reads where it is printed,
    and the live set at every loop's entry.

    A printed equation reads its operands with inlined values expanded (an inlined value's
    operands are read where its consumer is printed, not where the IR defines it), plus what
    `extra(eqn)` names: atoms the printer reads in its place (the source of a broadcast an
    axis-reduction kernel reads through). The printer may read nothing else there: it checks
    each name against `read_at` (`lowering.NumbaEmitter.atom`), so a read liveness does not
    know of, which could see a tied name after it was rebound, is a build-time error instead
    of a wrong value.
    """

    def __init__(
        self,
        function: Function,
        inline: frozenset[str],
        defs: dict[str, Eqn],
        extra: Callable[[Eqn], tuple[Atom, ...]] | None = None,
    ):
        self.inline, self.defs = inline, defs
        self.extra = extra or (lambda eqn: ())
        self.after: dict[int, frozenset[str]] = {}
        self.read_at: dict[int, frozenset[str]] = {}
        self.entry: dict[int, frozenset[str]] = {}
        self.block(function.body, frozenset(_vars(function.results())))

    def reads(self, atoms) -> set[str]:
        """Names read by `atoms` once inlined expressions are expanded."""
        names: set[str] = set()
        for atom in atoms:
            if isinstance(atom, Var) and atom.name in self.inline:
                names |= self.reads(self.defs[atom.name].atoms())
            elif isinstance(atom, Var):
                names.add(atom.name)
        return names

    def block(self, body, live: frozenset[str]) -> frozenset[str]:
        for stmt in reversed(body):
            live = self.statement(stmt, live)
        return live

    def statement(self, stmt, live: frozenset[str]) -> frozenset[str]:
        if isinstance(stmt, Eqn):
            if len(stmt.outs) == 1 and stmt.out.name in self.inline:
                return live
            self.after[id(stmt)] = live
            read = frozenset(self.reads(stmt.atoms() + self.extra(stmt)))
            self.read_at[id(stmt)] = read
            return (live - _vars(stmt.outs)) | read
        if isinstance(stmt, If):
            rest = live - _vars(stmt.outs)
            then = self.block(stmt.then_body, rest | self.reads(stmt.then_results))
            other = self.block(stmt.else_body, rest | self.reads(stmt.else_results))
            return then | other | self.reads((stmt.cond,))
        return self.loop(stmt, live)

    def loop(self, loop: Loop, live: frozenset[str]) -> frozenset[str]:
        carried = _vars(loop.carried) | _vars((loop.index,) if loop.index is not None else ())
        exit_live = (live - _vars(loop.outs)) | {c.name for c, o in zip(loop.carried, loop.outs) if o.name in live}
        head = exit_live
        while True:
            start = self.block(loop.body, (head - carried) | self.reads(loop.results))
            test = exit_live | start | self.reads((loop.cond,) if loop.cond is not None else ())
            new_head = self.block(loop.cond_body, test)
            if new_head == head:
                break
            head = new_head
        self.entry[id(loop)] = head
        return (head - carried) | self.reads(loop.inits + loop.bounds)


class NameTable:
    """Ties, in-place writes and printed names for one function (see the module docstring)."""

    def __init__(
        self,
        function: Function,
        inline: frozenset[str],
        reserved: set[str],
        extra: Callable[[Eqn], tuple[Atom, ...]] | None = None,
    ):
        self.function = function
        self.defs = {o.name: e for e in walk(function.body) for o in e.outs}
        self.constants = {n for n, _ in function.free}
        self.foreign = {p.name for p in function.params} | self.constants
        self.ties = UnionFind()
        self.alias = UnionFind()
        self.tape_news = [e for e in self.defs.values() if e.op == "tape_new"]
        self.ranks = known_ranks(function)
        self._structure(function.body)
        self.live = Liveness(function, inline, self.defs, extra)
        self.in_place: set[str] = set()
        for eqn in walk(function.body):
            if eqn.op in _WRITES and self._writable(eqn):
                self.in_place.add(eqn.out.name)
                self.ties.union(eqn.ins[0].name, eqn.out.name)
        self._tie_for_reading(function.body)
        self.names = self._assign(function, reserved)
        self.extra: set[str] = set(reserved)

    # -- ties and aliases ------------------------------------------------------

    def _structure(self, body) -> None:
        """Ties every program needs; alias edges of every statement."""
        for stmt in body:
            if isinstance(stmt, Eqn):
                self._alias_eqn(stmt)
                if stmt.op in ("tape_push", "tape_pop"):
                    self.ties.union(stmt.ins[0].name, stmt.outs[0].name)
                continue
            for block in stmt.blocks():
                self._structure(block)
            if isinstance(stmt, If):
                for out, a, b in zip(stmt.outs, stmt.then_results, stmt.else_results):
                    for name in _vars((a, b)):
                        self.alias.union(out.name, name)
                continue
            for carried, init, result, out in zip(stmt.carried, stmt.inits, stmt.results, stmt.outs):
                self.ties.union(carried.name, out.name)
                for name in _vars((init, result)) | {out.name}:
                    self.alias.union(carried.name, name)

    def _alias_eqn(self, eqn: Eqn) -> None:
        if eqn.op in _FRESH_OPS or fusable(eqn.op):
            return
        if eqn.op in ELEMENT_READS and self.ranks.get(eqn.out.name) == 0:
            return  # `y[t]` of a 1-D `y`: Numba reads out a scalar, a copy (as codegen/layout.py for NumPy)
        if eqn.op not in _VIEW_OPS:  # unknown: a read-only broadcast or another foreign buffer
            self.foreign.update(o.name for o in eqn.outs)
        arrays = eqn.ins[:1] if eqn.op in _WRITES else eqn.ins
        for out in eqn.outs:
            for name in _vars(arrays):
                self.alias.union(out.name, name)

    def _writable(self, eqn: Eqn) -> bool:
        """Whether `x[i] = v` (or `x[i] += v`) may overwrite `x` itself (nobody else can see the old value)."""
        array, value = eqn.ins
        if not isinstance(array, Var):
            return False
        group = self.alias.find(array.name)
        if any(self.alias.find(name) == group for name in self.foreign):
            return False
        if isinstance(value, Var) and self.alias.find(value.name) == group:
            return False
        live = self.live.after.get(id(eqn), frozenset()) - {eqn.out.name}
        return not any(self.alias.find(name) == group for name in live)

    def _tie_for_reading(self, body) -> None:
        """Optional ties that save a move: `if` outputs, loop results and initial values."""
        for stmt in body:
            if isinstance(stmt, Eqn):
                continue
            for block in stmt.blocks():
                self._tie_for_reading(block)
            if isinstance(stmt, If):
                for out, a, b in zip(stmt.outs, stmt.then_results, stmt.else_results):
                    if self._same_tape(a, b):  # a tape pushed to in one arm: one list all along
                        self.ties.union(a.name, out.name)
                        continue
                    self._tie_arm_result(out, a, stmt.then_body)
                    self._tie_arm_result(out, b, stmt.else_body)
                continue
            for carried, init, result in zip(stmt.carried, stmt.inits, stmt.results):
                self._tie_loop_result(carried, result, stmt)
                self._tie_init(carried, init, stmt)

    def _same_tape(self, a: Atom, b: Atom) -> bool:
        if not (isinstance(a, Var) and isinstance(b, Var)) or self.ties.find(a.name) != self.ties.find(b.name):
            return False
        root = self.ties.find(a.name)
        return any(e.op == "tape_new" and self.ties.find(e.out.name) == root for e in self.tape_news)

    def _alone(self, name: str) -> bool:
        root = self.ties.find(name)
        return all(self.ties.find(other) != root for other in self.ties.parent if other != name)

    def _tie_arm_result(self, out: Var, result: Atom, arm) -> None:
        eqn = self.defs.get(result.name) if isinstance(result, Var) else None
        if eqn is None or not any(s is eqn for s in arm) or id(eqn) not in self.live.after:
            return
        if self._alone(result.name) and self.ties.find(out.name) != self.ties.find(result.name):
            self.ties.union(out.name, result.name)

    def _tie_loop_result(self, carried: Var, result: Atom, loop: Loop) -> None:
        eqn = self.defs.get(result.name) if isinstance(result, Var) else None
        if eqn is None or not any(s is eqn for s in loop.body) or id(eqn) not in self.live.after:
            return
        if not self._alone(result.name) or list(loop.results).count(result) != 1:
            return
        root = self.ties.find(carried.name)
        if not any(self.ties.find(name) == root for name in self.live.after[id(eqn)]):
            self.ties.union(carried.name, result.name)

    def _tie_init(self, carried: Var, init: Atom, loop: Loop) -> None:
        if not isinstance(init, Var) or init.name in self.constants or list(loop.inits).count(init) != 1:
            return
        root = self.ties.find(init.name)
        if root == self.ties.find(carried.name):
            return
        if not any(self.ties.find(name) == root for name in self.live.entry[id(loop)]):
            self.ties.union(carried.name, init.name)

    # -- printed names ------------------------------------------------------------

    def _assign(self, function: Function, reserved: set[str]) -> dict[str, str]:
        order = [p.name for p in function.params]
        for stmt in function.body:
            order += [v.name for v in defined(stmt)]
        members: dict[str, list[str]] = {}
        for name in order:
            members.setdefault(self.ties.find(name), []).append(name)
        chooser = _Chooser(set(reserved) | set(keyword.kwlist))
        params = {p.name for p in function.params}
        names: dict[str, str] = {}
        # Arguments first, then values assigned in several places: they keep the user's names.
        for group in sorted(members.values(), key=lambda g: (not any(n in params for n in g), len(g) == 1)):
            named = [n for n in group if n in params] or [n for n in group if not _is_temp(n, self.defs)] or group
            printed = chooser.pick(named[0].split("~")[0], several=len(group) > 1)
            names.update((name, printed) for name in group)
        # Module constants are trailing parameters under their own (reserved) names; a loop may start from one.
        names.update((name, name) for name in self.constants if name not in names)
        return names

    def fresh(self, base: str) -> str:
        """A new printed name (for loop counters the IR does not have)."""
        taken = set(self.names.values()) | self.extra
        candidate, k = base, 1
        while candidate in taken:
            k += 1
            candidate = f"{base}{k}"
        self.extra.add(candidate)
        return candidate


class _Chooser:
    """Picks distinct printed names that Numba's renaming cannot collide with.

    Numba renames a variable assigned in several places (`h` in a loop) to
    `h.1`, `h.2`, ..., and its array-expression pass turns the dots into
    underscores: no other name may then read `h_1`, `h_2_1`, .... Names of groups
    with one member are assigned once and never renamed.
    """

    def __init__(self, taken: set[str]):
        self.taken = set(taken)
        self.renamed: list[str] = []  # names Numba may version

    def pick(self, stem: str, several: bool) -> str:
        for candidate in _candidates(stem):
            if self._free(candidate, several):
                self.taken.add(candidate)
                if several:
                    self.renamed.append(candidate)
                return candidate
        raise AssertionError(f"no printable name for {stem}")  # pragma: no cover - candidates never run out

    def _free(self, candidate: str, several: bool) -> bool:
        if candidate in self.taken or any(_extends(candidate, name) for name in self.renamed):
            return False
        return not (several and any(_extends(name, candidate) for name in self.taken))


def _candidates(stem: str):
    """`h_1`, `h1`, `h_1_2`, `h1v2`, ...: the stem, then numbered variants with and without `_`."""
    short = printable(stem)
    yield stem
    yield short
    for k in range(2, 10**6):
        yield f"{stem}_{k}"
        yield f"{short}v{k}" if short[-1].isdigit() else f"{short}{k}"


def _extends(name: str, base: str) -> bool:
    """Whether `name` reads `base_1`, `base_2_1`, ... (what Numba's renaming of `base` may produce)."""
    return name.startswith(base) and _VERSION_SUFFIX.fullmatch(name[len(base) :]) is not None


def printable(stem: str) -> str:
    """`stem` without trailing `_<digits>` (`h_1` -> `h1`)."""
    while (match := _TRAILING_NUMBER.search(stem)) is not None:
        stem = stem[: match.start()] + match.group(1)
    return stem


def _is_temp(name: str, defs: dict[str, Eqn]) -> bool:
    eqn = defs.get(name)
    return eqn is not None and any(o.name == name and o.temp for o in eqn.outs)


__all__ = ["Liveness", "NameTable", "UnionFind", "printable"]
