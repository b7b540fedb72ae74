"""Which values fold into expressions, and what every value is called.

`Layout(function)` walks the function once to decide:
- inlining: a temporary read exactly once, in the block that defines it,
  folds into the expression that reads it; so does a backward-pass value read
  once by the statement printed right after it (`_adjacent_partials`); slices,
  index tuples and the integer bounds inside them print where they are used,
  however often (`z[:, n : 2 * n]` and `z_bar[:, n : 2 * n] = ...`);
- display names by liveness over the flattened program (`naming.py`), with
  the ties control flow needs: a loop's carried value, its outputs and a
  tape's successive versions share one name; an `if`'s outputs are named
  before its arms (which assign them); an element write `x[i] = v` reuses
  the array's name when nothing reads the old value afterwards.
Values read inside a loop stay reserved until the loop's end.
Two kinds of additions run in place: `acc[index] += g` for a scatter into a
fresh array (`find_accumulations`; a plain `acc[index] = g` where no earlier
write reached those elements, see `analysis/indexes.py`) and `acc += part` for a loop's gradient
accumulator that starts as fresh zeros (`find_loop_accumulators`), which
spares an allocation per iteration.
"""

from __future__ import annotations

from collections import Counter
from itertools import pairwise

import libcst as cst

from symdiff.analysis.aliases import ELEMENT_READS, PASSED_ON, VIEWS
from symdiff.analysis.indexes import covers, disjoint
from symdiff.analysis.integers import is_integer
from symdiff.analysis.ranks import known_ranks
from symdiff.codegen.expressions import build, constant
from symdiff.codegen.naming import stem
from symdiff.ir.nodes import Const, Eqn, Function, If, Loop, Var, statements
from symdiff.rules import RULES

_ALWAYS_INLINE = {"make_slice", "make_tuple"}
_INTEGER_OPS = {"add", "sub", "mul", "neg"}
_NEVER_INLINE = {"tape_new", "tape_push", "tape_pop", "setitem"}
_FOLDED_WIDTH = 100  # a backward value folds into the next statement only while that stays a short line


def _indexes_with(eqn: Eqn, name: str) -> bool:
    """Whether `eqn` reads or writes one element at the index `name`, and reads `name` nowhere else."""
    index = eqn.static_dict().get("index")
    return (
        eqn.op in ("getitem", "setitem")
        and isinstance(index, Var)
        and index.name == name
        and all(not (isinstance(a, Var) and a.name == name) for a in eqn.ins)
    )


class Layout:
    """Inlining decisions and display names for one function."""

    def __init__(self, function: Function, reserved: set[str]):
        self.function = function
        self.defs: dict[str, Eqn] = {}
        self.readers: dict[str, list[Eqn]] = {}  # name -> the equations that take it as an operand
        self.static_readers: dict[str, list[Eqn]] = {}  # name -> the equations that take it as a static (an index)
        self.def_block: dict[str, int] = {}
        self.uses: Counter = Counter()
        self.use_block: dict[str, int] = {}
        self.in_test: set[str] = set()  # a while loop's condition: always folded into the test
        self.loop_indices: set[str] = set()
        self.use_blocks: dict[str, set[int]] = {}  # name -> the blocks of the equations reading it (-2: a statement)
        self._scan(function.body, 0, [0])
        for atom in function.results():
            if isinstance(atom, Var):
                packed = atom.name in self.defs and self.defs[atom.name].op == "make_tuple"
                self.uses[atom.name] += 1 if packed else 2  # inline only a returned tuple literal
                self.use_block[atom.name] = 0
        self.inline = {
            name for name, eqn in self.defs.items()
            if eqn.op not in _NEVER_INLINE and len(eqn.outs) == 1
            and (eqn.out.temp or eqn.op in _ALWAYS_INLINE) and self.uses[name] == 1
            and self.use_block.get(name) == self.def_block[name]
        } | self.in_test | self._literal_indexes()  # fmt: skip
        self.in_place: set[int] = set()
        self.first_writes: set[int] = set()  # accumulations into elements nothing wrote yet
        self.unfilled: set[int] = set()  # scatter_adds whose zeros the accumulations after them all overwrite
        self.accumulations = find_accumulations(self)  # id(add eqn) -> the scatter_add it absorbs
        self.absorbed = {eqn.out.name for eqn in self.accumulations.values()}
        self.inline |= self._adjacent_partials()
        # `acc[index] += g` is a statement: neither it nor the array it writes into is an expression
        # to inline into the next reader (which would then read the absorbed scatter's name).
        accumulating = [eqn for eqn in self.defs.values() if id(eqn) in self.accumulations]
        self.inline -= {eqn.out.name for eqn in accumulating}
        self.inline -= {a.name for eqn in accumulating for a in eqn.ins if isinstance(a, Var)}
        self.loop_accumulators = find_loop_accumulators(self)  # id(add eqn) -> (accumulator, part)
        self.ranks = known_ranks(function)  # `y[t]` of a 1-D y is a scalar, not a view (analysis/ranks.py)
        self.taped, self.read_only = _taped(function, self.ranks)  # a tape may hold them; a broadcast may be them
        self.carried_from = {  # a loop's carried value -> its first value (the same array object at entry)
            phi.name: init
            for stmt in statements(function.body) if isinstance(stmt, Loop)
            for phi, init in zip(stmt.carried, stmt.inits) if isinstance(init, Var)
        }  # fmt: skip
        self.joined_from: dict[str, list] = {}  # an if's or a loop's output -> the values it may be
        for stmt in statements(function.body):
            if isinstance(stmt, If):
                for out, a, b in zip(stmt.outs, stmt.then_results, stmt.else_results):
                    self.joined_from[out.name] = [a, b]
            elif isinstance(stmt, Loop):
                for out, init, result in zip(stmt.outs, stmt.inits, stmt.results):
                    self.joined_from[out.name] = [init, result]
        self.joined_into: dict[str, list[str]] = {}  # a value -> the if's or loop's outputs it may become
        for out, sources in self.joined_from.items():
            for source in sources:
                if isinstance(source, Var):
                    self.joined_into.setdefault(source.name, []).append(out)
        self.names = self._assign(reserved)

    def _literal_indexes(self) -> set[str]:
        """Slices and index tuples (`(slice(None), slice(n, 2 * n))`) printed where they are used,
        however often: `z[:, n : 2 * n]` in the forward pass and `z_bar[:, n : 2 * n] = ...` in the
        backward one, rather than a name for the index. Building one is a few Python objects; only
        those whose every reader is in their own block, and which are not returned, qualify."""
        returned = {a.name for a in self.function.results() if isinstance(a, Var)}

        def local(name: str) -> bool:
            return name not in returned and self.uses[name] >= 1 and self.use_blocks.get(name) == {self.def_block[name]}

        found = {
            name for name, eqn in self.defs.items() if eqn.op in _ALWAYS_INLINE and len(eqn.outs) == 1 and local(name)
        }
        # the integer bounds inside them (`2 * n`), and integer indexes of element reads and writes
        # (`y_bar[t - 1] = y_bar[t - 1] + ...`), where nothing but such indexes reads them
        counters = frozenset(self.loop_indices)
        for name, eqn in self.defs.items():
            readers = self.readers.get(name, []) + self.static_readers.get(name, [])
            if (
                eqn.op in _INTEGER_OPS and len(eqn.outs) == 1 and local(name) and readers
                and all(len(r.outs) == 1 and (r.out.name in found or _indexes_with(r, name)) for r in readers)
                and is_integer(self.defs, eqn.out, counters)
            ):  # fmt: skip
                found.add(name)
        return found

    def _adjacent_partials(self) -> set[str]:
        """Backward-pass values that fold into the statement printed right after them.

        A cotangent contribution such as `x_bar = -g` followed by
        `x_bar = sum_to(x_bar, x_shape)` reads better as one line. It is only
        done when the value is made by the backward pass, read exactly once, by
        a plain equation (not a tape or a write) printed next in the same block,
        directly or through temporaries that fold into that equation
        (`g * 100.0` read by `t = g_scaled * 2`, read by `x_bar = t * x`):
        nothing runs between where it was computed and where it now is, so
        folding it in cannot move it past a write into an array it reads.
        """
        found: set[str] = set()

        def lands_in(name: str) -> Eqn | None:
            """The printed equation the value of `name` ends up in, through inlined temporaries."""
            readers = self.readers.get(name)
            while readers is not None and len(readers) == 1:
                reader = readers[0]
                if len(reader.outs) != 1 or reader.out.name not in self.inline:
                    return reader
                if reader.out.name in self.in_test:
                    return None
                readers = self.readers.get(reader.out.name)
            return None

        for block in _all_blocks(self.function.body):
            printed = [s for s in block if not (isinstance(s, Eqn) and s.outs and s.outs[0].name in self.inline)]
            for stmt, reader in pairwise(printed):
                if not (isinstance(stmt, Eqn) and stmt.adjoint and len(stmt.outs) == 1):
                    continue
                name = stmt.out.name
                if stmt.op in _NEVER_INLINE or self.uses[name] != 1 or name in self.in_test:
                    continue
                if not isinstance(reader, Eqn) or reader.op in _NEVER_INLINE or len(reader.outs) != 1:
                    continue
                if lands_in(name) is not reader or self.use_block.get(name) != self.def_block.get(name):
                    continue
                if self._width(reader, self.inline | found | {name}) <= _FOLDED_WIDTH:
                    found.add(name)
        return found

    def _width(self, eqn: Eqn, inlined: set[str]) -> int:
        """About how many characters `name = <expression>` takes for `eqn`, with `inlined` folded in
        (display names are not chosen yet; IR stems stand for them)."""

        def expression(eqn: Eqn) -> cst.BaseExpression:
            def atom(a, in_index=False):
                if isinstance(a, Const):
                    return constant(a.value, in_index)
                if a.name in inlined and a.name in self.defs:
                    return expression(self.defs[a.name])
                return cst.Name(stem(a.name))

            operands = [atom(a) for a in eqn.ins]
            statics = {k: atom(a, k == "index" and eqn.op == "getitem") for k, a in eqn.static}
            return build(eqn, operands, statics, RULES[eqn.op])

        if not self._printable(eqn, inlined):  # a backend's own op (a fused kernel): left as it is
            return _FOLDED_WIDTH + 1
        if eqn.out.name in self.absorbed:  # printed as `acc[index] += value`: the value and the index
            text = cst.Module([]).code_for_node(expression_of(eqn.ins[0], expression, inlined, self.defs))
            return len(stem(eqn.out.name)) + 6 + self._index_width(eqn.static_dict()["index"], expression) + len(text)
        text = cst.Module([]).code_for_node(expression(eqn))
        return len(stem(eqn.out.name)) + 3 + len(text)

    def _index_width(self, index, expression) -> int:
        """About how many characters an index takes between brackets (`:, 2 * n:3 * n`)."""
        made = self.defs.get(index.name) if isinstance(index, Var) and index.name in self.inline else None
        if made is not None and made.op == "make_tuple":
            return sum(self._index_width(a, expression) + 2 for a in made.ins)
        if made is not None and made.op == "make_slice":
            shown = [a for a in made.ins if not (isinstance(a, Const) and a.value is None)]
            return len(made.ins) - 1 + sum(self._index_width(a, expression) for a in shown)
        if isinstance(index, Const) and isinstance(index.value, slice):
            return len(cst.Module([]).code_for_node(constant(index.value, True))) - 2  # no brackets
        return len(cst.Module([]).code_for_node(expression_of(index, expression, self.inline, self.defs)))

    def _printable(self, eqn: Eqn, inlined: set[str]) -> bool:
        """Whether `eqn`, with `inlined` folded in, uses only ops of the rule table."""
        if eqn.op not in RULES:
            return False
        return all(
            self._printable(self.defs[a.name], inlined)
            for a in eqn.atoms() if isinstance(a, Var) and a.name in inlined and a.name in self.defs
        )  # fmt: skip

    def _scan(self, body, block: int, counter: list) -> None:
        for stmt in body:
            if isinstance(stmt, Loop) and stmt.index is not None:
                self.loop_indices.add(stmt.index.name)
            atoms = stmt.atoms()
            for atom in atoms:
                if isinstance(atom, Var):
                    self.uses[atom.name] += 1
                    self.use_block[atom.name] = block
                    self.use_blocks.setdefault(atom.name, set()).add(block if isinstance(stmt, Eqn) else -2)
            if isinstance(stmt, Eqn):
                for out in stmt.outs:
                    self.defs[out.name] = stmt
                    self.def_block[out.name] = block
                for atom in stmt.ins:
                    if isinstance(atom, Var):
                        self.readers.setdefault(atom.name, []).append(stmt)
                for _, atom in stmt.static:
                    if isinstance(atom, Var):
                        self.static_readers.setdefault(atom.name, []).append(stmt)
                continue
            if isinstance(stmt, Loop) and stmt.cond is not None:
                for name in _cond_names(stmt):
                    self.use_block[name] = -1  # cond temps always fold into the test
            for inner in stmt.blocks():
                counter[0] += 1
                inner_id = counter[0]
                self._scan(inner, inner_id, counter)
                self._fix_result_blocks(stmt, inner, inner_id)
            if isinstance(stmt, Loop) and stmt.cond is not None:
                for eqn in stmt.cond_body:
                    self.def_block[eqn.out.name] = -1
                    self.in_test.add(eqn.out.name)

    def _fix_result_blocks(self, stmt, inner, inner_id: int) -> None:
        """Results are read at the end of the block they close."""
        if isinstance(stmt, If):
            results = stmt.then_results if inner is stmt.then_body else stmt.else_results
        elif inner is stmt.body:
            results = stmt.results
        else:
            return
        for atom in results:
            if isinstance(atom, Var):
                self.use_block[atom.name] = inner_id

    # -- names -----------------------------------------------------------------

    def reads(self, atoms) -> set[str]:
        """Names read by `atoms` once inlined temporaries are expanded."""
        names: set[str] = set()
        for atom in atoms:
            if isinstance(atom, Var):
                if atom.name in self.inline:
                    names |= self.reads(self.defs[atom.name].atoms())
                else:
                    names.add(atom.name)
        return names

    def _assign(self, reserved: set[str]) -> dict[str, str]:
        events: list[tuple[list[str], set[str]]] = []
        spans: list[tuple[int, int]] = []
        ties: dict[str, str] = {}
        early: dict[int, list[str]] = {}
        self._flatten(self.function.body, events, spans, ties, early)
        last = _last_uses(events, spans, self.function, self)
        return _choose(self.function, events, last, ties, early, reserved, self)

    def _flatten(self, body, events, spans, ties, early) -> None:
        for stmt in body:
            if isinstance(stmt, Eqn):
                if stmt.out.name in self.inline or stmt.out.name in self.absorbed:
                    continue
                if stmt.op in ("tape_push", "tape_pop"):
                    ties[stmt.outs[0].name] = stmt.ins[0].name
                reads = self.reads(stmt.atoms())
                if id(stmt) in self.accumulations:  # `acc[index] += g`: reads what the scatter read
                    absorbed = self.accumulations[id(stmt)]
                    ties[stmt.out.name] = next(a.name for a in stmt.ins if a != absorbed.out)
                    reads = (reads - {absorbed.out.name}) | self.reads(absorbed.atoms())
                events.append(([o.name for o in stmt.outs], reads))
            elif isinstance(stmt, If):
                head = len(events)
                events.append(([o.name for o in stmt.outs], self.reads([stmt.cond])))
                self._flatten(stmt.then_body, events, spans, ties, early)
                events.append(([], self.reads(stmt.then_results)))
                self._flatten(stmt.else_body, events, spans, ties, early)
                events.append(([], self.reads(stmt.else_results)))
                early[head] = (stmt, len(events) - 1)
            else:
                start = len(events)
                early[start] = (stmt, start)
                index = [stmt.index.name] if stmt.index is not None else []
                events.append(([c.name for c in stmt.carried] + index, self.reads(stmt.inits + stmt.bounds)))
                events.append(([], self.reads((stmt.cond,)) if stmt.cond is not None else set()))
                self._flatten(stmt.body, events, spans, ties, early)
                events.append(([], self.reads(stmt.results)))
                spans.append((start, len(events) - 1))
                for phi, out in zip(stmt.carried, stmt.outs):
                    ties[out.name] = phi.name
                events.append(([o.name for o in stmt.outs], set()))


def expression_of(atom, expression, inlined: set[str], defs) -> cst.BaseExpression:
    """`atom` as printed: its folded expression where it is inlined, else its name."""
    if isinstance(atom, Const):
        return constant(atom.value, True)
    if atom.name in inlined and atom.name in defs:
        return expression(defs[atom.name])
    return cst.Name(stem(atom.name))


def find_accumulations(layout: Layout) -> dict[int, Eqn]:
    """`acc + scatter_add(g, shape, index)` that can run as `acc[index] += g`.

    Safe when `acc` is a fresh array of that shape read by nothing else (a
    `scatter_add` or an earlier such accumulation) and the index is basic
    (constants, slices, loop counters), where `+=` and `np.add.at` agree.
    """
    found: dict[int, Eqn] = {}
    roots: dict[str, Eqn] = {}  # accumulated name -> the scatter_add it started from
    written: dict[int, list] = {}  # id(root scatter) -> the indexes written so far
    assigned: dict[int, bool] = {}  # id(root scatter) -> whether every write after it is a plain assignment
    for eqn in _all_eqns(layout.function.body):
        if eqn.op == "scatter_add":
            roots[eqn.out.name] = eqn
            written[id(eqn)] = [eqn.static_dict()["index"]]
            assigned[id(eqn)] = _basic_index(layout, eqn.static_dict()["index"])
        if eqn.op != "add" or len(eqn.outs) != 1:
            continue
        for acc, part in (eqn.ins, eqn.ins[::-1]):
            absorbed = _absorbable(layout, eqn, acc, part, roots)
            if absorbed is not None:
                found[id(eqn)] = absorbed
                roots[eqn.out.name] = root = roots[acc.name]
                index = absorbed.static_dict()["index"]
                if all(disjoint(layout.defs, index, before) for before in written[id(root)]):
                    layout.first_writes.add(id(eqn))  # the elements still hold zeros: assign
                else:
                    assigned[id(root)] = False
                written[id(root)].append(index)
                break
    for eqn, _, part, start in _owned_accumulators(layout):  # a loop's gradient accumulator, one element a step
        scatter = _scatter_into(layout, eqn, part, start)
        if scatter is not None:
            found[id(eqn)] = scatter
    for eqn in _all_eqns(layout.function.body):  # zeros that are all overwritten need not be written
        if (
            eqn.op == "scatter_add"
            and assigned[id(eqn)]
            and len(written[id(eqn)]) > 1
            and covers(layout.defs, written[id(eqn)])
        ):
            layout.unfilled.add(id(eqn))
    return found


def _absorbable(layout: Layout, eqn: Eqn, acc, part, roots: dict[str, Eqn]) -> Eqn | None:
    if not (isinstance(acc, Var) and isinstance(part, Var)) or acc.name not in roots:
        return None
    scatter = layout.defs.get(part.name)
    if scatter is None or scatter.op != "scatter_add" or layout.uses[part.name] != 1 or layout.uses[acc.name] != 1:
        return None
    block = layout.def_block.get(eqn.out.name)
    if layout.def_block.get(part.name) != block or layout.def_block.get(acc.name) != block:
        return None
    if scatter.static_dict()["shape"] != roots[acc.name].static_dict()["shape"]:
        return None
    return scatter if _basic_index(layout, scatter.static_dict()["index"]) else None


_FRESH = {"zeros_like", "zeros"}
_HAS_AXES = {"matmul_adjoint_a", "matmul_adjoint_b", "outer"}  # a matmul operand's shape: never 0-d
_KEEPS_AXES = {"add", "sub", "mul", "truediv", "neg"}


def find_loop_accumulators(layout: Layout) -> dict[int, tuple]:
    """Loop-carried `acc = acc + part` that can run as `acc += part`.

    Safe when the accumulator's buffer belongs to the loop alone: it starts as
    fresh zeros read by nothing but the loop, and each iteration's old value
    is read only by this addition and its new value only by the next
    iteration, so no other name (or tape) can see the update. An adjoint
    always has its value's shape, so `part` never widens `acc` (if it did,
    NumPy would raise rather than broadcast). Only accumulators known to have
    an axis qualify: a 0-d array added to in place stays a 0-d array, where
    `acc + part` gives the NumPy scalar a float argument's gradient should be.
    """
    found: dict[int, tuple] = {}
    for eqn, phi, part, _ in _owned_accumulators(layout):
        if _has_axes(layout, part):
            found[id(eqn)] = (phi, part)
    return found


def _owned_accumulators(layout: Layout):
    """(add eqn, accumulator, part, the zeros it starts from) for each loop-carried `acc = acc + part`
    whose buffer belongs to the loop alone (see `find_loop_accumulators`)."""
    for stmt in statements(layout.function.body):
        if not isinstance(stmt, Loop):
            continue
        local = {id(e) for e in stmt.body if isinstance(e, Eqn)}
        for phi, init, result in zip(stmt.carried, stmt.inits, stmt.results):
            eqn = layout.defs.get(result.name) if isinstance(result, Var) else None
            if eqn is None or id(eqn) not in local or eqn.op != "add" or phi not in eqn.ins:
                continue
            part = eqn.ins[1] if eqn.ins[0] == phi else eqn.ins[0]
            start = layout.defs.get(init.name) if isinstance(init, Var) else None
            if (
                part != phi and start is not None and start.op in _FRESH
                and layout.uses[init.name] == 1 and layout.uses[phi.name] == 1 and layout.uses[result.name] == 1
            ):  # fmt: skip
                yield eqn, phi, part, start


def _scatter_into(layout: Layout, eqn: Eqn, part, start: Eqn) -> Eqn | None:
    """The scatter_add `part` when `acc = acc + part` can run as `acc[index] += g`: made in the
    add's block for it alone, at a basic index, with the shape of the zeros `acc` started as."""
    scatter = layout.defs.get(part.name) if isinstance(part, Var) else None
    if scatter is None or scatter.op != "scatter_add" or layout.uses[part.name] != 1:
        return None
    if layout.def_block.get(part.name) != layout.def_block.get(eqn.out.name):
        return None
    shape, index = scatter.static_dict()["shape"], scatter.static_dict()["index"]
    if start.op == "zeros_like":
        made = layout.defs.get(shape.name) if isinstance(shape, Var) else None
        same = made is not None and made.op == "shape" and made.ins[0] == start.ins[0]
    else:
        same = start.ins[:1] == (shape,)
    return scatter if same and _basic_index(layout, index) else None


def _has_axes(layout: Layout, atom, depth: int = 0) -> bool:
    """Whether `atom` is surely an array with at least one axis (a conservative answer)."""
    eqn = layout.defs.get(atom.name) if isinstance(atom, Var) else None
    if eqn is None or depth > 8:
        return False
    if eqn.op in _HAS_AXES:
        return True
    return eqn.op in _KEEPS_AXES and any(_has_axes(layout, a, depth + 1) for a in eqn.ins)


def _all_blocks(body):
    """`body` and every block nested in it."""
    yield body
    for stmt in body:
        if not isinstance(stmt, Eqn):
            for block in stmt.blocks():
                yield from _all_blocks(block)


def _basic_index(layout: Layout, atom) -> bool:
    if isinstance(atom, Const):
        items = atom.value if isinstance(atom.value, tuple) else (atom.value,)
        return all(isinstance(i, (int, slice, type(None), type(Ellipsis))) and not isinstance(i, bool) for i in items)
    if atom.name in layout.loop_indices:
        return True
    eqn = layout.defs.get(atom.name)
    if eqn is None:
        return False
    if eqn.op == "make_slice":
        return True
    return eqn.op == "make_tuple" and all(_basic_index(layout, a) for a in eqn.ins)


def _all_eqns(body):
    for stmt in body:
        if isinstance(stmt, Eqn):
            yield stmt
        else:
            for block in stmt.blocks():
                yield from _all_eqns(block)


def _cond_names(loop: Loop) -> list[str]:
    return [e.out.name for e in loop.cond_body]


def _last_uses(events, spans, function, layout) -> dict[str, int]:
    defined_at: dict[str, int] = {p.name: -1 for p in function.params}
    last: dict[str, int] = {}
    for index, (defs, reads) in enumerate(events):
        for name in reads:
            last[name] = index
        for name in defs:
            defined_at.setdefault(name, index)
    for start, end in spans:  # values from before a loop and read in it are read every iteration
        for name, at in list(last.items()):
            if start < at <= end and defined_at.get(name, -1) < start:
                last[name] = max(last[name], end)
    for atom in function.results():
        if isinstance(atom, Var):
            last[atom.name] = len(events)
    return last


def _choose(function, events, last, ties, early, reserved, layout) -> dict[str, str]:
    from symdiff.codegen.naming import NamePicker

    holder: dict[str, str] = {}
    display: dict[str, str] = {}
    picker = NamePicker(holder, last, set(reserved))
    for param in function.params:
        display[param.name] = holder[param.name] = param.name
    for index, (defs, _) in enumerate(events):
        for position, name in enumerate(defs):
            if name in display:
                continue
            if name in ties and ties[name] in display:
                chosen = display[ties[name]]
            elif (coalesced := _coalesce(name, index, layout, display, last, function)) is not None:
                chosen = coalesced
            else:
                chosen = _share(name, position, index, early, display, last, holder)
            if chosen is None:
                display[name] = picker.pick(_base(name, layout), index, name)
            else:
                display[name] = chosen
                picker.hold(chosen, name)
    return display


def _base(name: str, layout) -> str:
    """The stem `name` is printed under: a shape query says whose shape it holds (`x_shape`),
    whatever name the rule that asked for it gave it (`kept`, `z_bar`)."""
    eqn = layout.defs.get(name)
    if stem(name).endswith("_shape"):
        return stem(name)  # named for its shape already (transforms/reverse.py)
    if eqn is not None and eqn.op == "shape" and len(eqn.outs) == 1 and isinstance(eqn.ins[0], Var):
        return f"{stem(eqn.ins[0].name)}_shape"
    if eqn is not None and eqn.op == "broadcast_shapes" and len(eqn.outs) == 1:
        return "broadcast_shape"  # the shape several operands broadcast to
    return stem(name)


def _share(name: str, position: int, index: int, early, display, last, holder) -> str | None:
    """An `if` output may take the name of an incoming value that dies in the `if`."""
    if index not in early:
        return None
    stmt, end = early[index]
    if isinstance(stmt, Loop):
        candidates = (stmt.inits[position],) if position < len(stmt.inits) else ()
    else:
        candidates = (stmt.else_results[position], stmt.then_results[position])
    for result in candidates:
        if isinstance(result, Var) and result.name in display and stem(result.name) == stem(name):
            candidate = display[result.name]
            if last.get(result.name, -1) <= end and holder.get(candidate) == result.name:
                return candidate
    return None


_VIEWS = VIEWS | {"make_tuple"}


def _escapes(layout: Layout, name: str, index: int, last, depth: int = 0) -> bool:
    """Whether the array `name` can still be reached through another name after event `index`.

    A tape keeps the array object itself, and a view (or a tuple) read later
    shares its memory: writing into the array in place would change what they hold.
    """
    for eqn in layout.readers.get(name, ()):
        saved = eqn.ins[1] if eqn.op == "tape_push" else None
        if isinstance(saved, Var) and saved.name == name:
            return True
        if eqn.op in ELEMENT_READS and layout.ranks.get(eqn.out.name) == 0:
            continue  # a scalar read out: a copy
        shares = eqn.op in _VIEWS or (eqn.op in PASSED_ON and isinstance(eqn.ins[0], Var) and eqn.ins[0].name == name)
        if shares and depth < 8:
            out = eqn.out.name
            if last.get(out, -1) > index or _escapes(layout, out, index, last, depth + 1):
                return True
    return False


_ALIASING = _VIEWS | PASSED_ON | {"setitem", "tape_push", "tape_pop"}
_FIRST_OPERAND = ELEMENT_READS | PASSED_ON | {"setitem"}  # share memory with their first operand only


def _taped(function: Function, ranks: dict[str, int]) -> tuple[set[str], set[str]]:
    """Names whose memory a tape may hold (pushed values and everything sharing memory with them),
    and names that may share the read-only memory of a `np.broadcast_to`.

    Memory is shared along views, in-place writes, a loop's carried values (so
    a value pushed in one iteration is the array the next iteration writes
    into) and an if's results. An array in either set is never written in place.
    """
    parent: dict[str, str] = {}

    def find(name: str) -> str:
        while parent.get(name, name) != name:
            name = parent[name]
        return name

    def union(*atoms) -> None:
        names = [find(a.name) for a in atoms if isinstance(a, Var)]
        for other in names[1:]:
            parent[other] = names[0]

    tapes, broadcasts = [], []
    for stmt in statements(function.body):
        if isinstance(stmt, Eqn) and stmt.op in ELEMENT_READS and ranks.get(stmt.out.name) == 0:
            continue  # an element read out as a NumPy scalar: a copy
        if isinstance(stmt, Eqn) and stmt.op in _ALIASING:
            first = stmt.ins[:1] if stmt.op in _FIRST_OPERAND else stmt.ins
            union(*stmt.outs, *first)
            if stmt.op == "tape_push":
                tapes.append(stmt.out)
            elif stmt.op == "broadcast_to":
                broadcasts.append(stmt.out)
        elif isinstance(stmt, Loop):
            for group in zip(stmt.inits, stmt.carried, stmt.results, stmt.outs):
                union(*group)
        elif isinstance(stmt, If):
            for group in zip(stmt.outs, stmt.then_results, stmt.else_results):
                union(*group)
    names = set(parent) | set(parent.values()) | {b.name for b in broadcasts}
    taped_roots = {find(t.name) for t in tapes}
    read_only_roots = {find(b.name) for b in broadcasts}
    return {n for n in names if find(n) in taped_roots}, {n for n in names if find(n) in read_only_roots}


def _coalesce(name: str, index: int, layout: Layout, display, last, function) -> str | None:
    """Reuse the array's name for `x[i] = v` when the old value is never read again."""
    eqn = layout.defs.get(name)
    if eqn is None or eqn.op != "setitem":
        return None
    array = eqn.ins[0]
    params = {p.name for p in function.params} | {n for n, _ in function.free}
    if not isinstance(array, Var) or array.name in params or array.name not in display:
        return None
    if eqn.adjoint and _shares_live_memory(layout, array.name, index, last, params):
        return None
    if last.get(array.name, -1) > index or array.name in layout.taped or array.name in layout.read_only:
        return None
    if _escapes(layout, array.name, index, last) or _source_viewed_later(layout, array.name, index, last):
        return None
    if _entry_value_read_later(layout, array.name, index, last):
        return None
    if _joined_twin_read_later(layout, array.name, index, last):
        return None
    layout.in_place.add(id(eqn))
    return display[array.name]


def _source_viewed_later(layout: Layout, name: str, index: int, last, depth: int = 0) -> bool:
    """Whether `name` is a view of another array, or that array passed on unchanged (`sum_to` to its
    own shape), another view of which is read after event `index`: a write into `name` in place
    would show there. `b = sum_to(a, s)` and `v = sum_to(a, s2)[1:]` may both be `a`'s memory;
    then `b[1:] = 0.0` in place zeroes `v` (a second derivative through `x[1:] *= c`)."""
    eqn = layout.defs.get(name)
    if eqn is None or depth > 8 or eqn.op not in VIEWS | PASSED_ON or not isinstance(eqn.ins[0], Var):
        return False
    if eqn.op in ELEMENT_READS and layout.ranks.get(eqn.out.name) == 0:
        return False  # a scalar read out: a copy
    source = eqn.ins[0].name
    return _escapes(layout, source, index, last) or _source_viewed_later(layout, source, index, last, depth + 1)


def _joined_twin_read_later(layout: Layout, name: str, index: int, last) -> bool:
    """Whether `name` is (a view of) an if's or a loop's output whose array another name also holds
    and is read after event `index`: the values it is joined from, and every other output joined
    from those (an if binds its results to its arms' values without a copy: `t, t_saved = v, v`),
    through nested ifs. A write into one in place would change what the other reader sees: the
    tangent of `t = np.exp(x)` in a branch, then `t[-1] += a`, while the backward pass still reads
    exp's result."""
    up, todo = {name}, [name]
    while todo:  # the values `name` may be: what it is joined from, and what it views
        current = todo.pop()
        sources = layout.joined_from.get(current)
        if sources is None:
            eqn = layout.defs.get(current)
            viewed = eqn is not None and eqn.op in _ALIASING and eqn.ins and isinstance(eqn.ins[0], Var)
            if viewed and not (eqn.op in ELEMENT_READS and layout.ranks.get(eqn.out.name) == 0):
                sources = [eqn.ins[0]]
            else:
                sources = []
        for source in sources:
            if isinstance(source, Var) and source.name not in up:
                up.add(source.name)
                todo.append(source.name)
    if len(up) == 1:
        return False  # not joined from anything, nor a view: owns its memory as far as joins go
    down, todo = set(up), list(up)
    while todo:  # every if's or loop's output those values become
        for out in layout.joined_into.get(todo.pop(), ()):
            if out not in down:
                down.add(out)
                todo.append(out)
    return any(other != name and last.get(other, -1) > index for other in down)


def _shares_live_memory(layout: Layout, name: str, index: int, last, params: set[str], depth: int = 0) -> bool:
    """Whether the adjoint array `name` may be the memory of another value read after event `index`
    (or of an argument, or of a tape's entry): cotangents pass through `sum_to`, reshapes and views
    unchanged, so unlike the arrays a user's `x[i] = v` writes, an adjoint may not own its memory.
    Followed back through aliasing ops, a loop's carried value to its first value, and an if's
    results to both arms; an op that makes a new array ends the walk."""
    if depth > 12:
        return True
    if name in params:
        return True
    eqn = layout.defs.get(name)
    if eqn is None:  # a loop's carried value or output, an if's output, or a loop index
        sources = [layout.carried_from[name]] if name in layout.carried_from else []
        sources += layout.joined_from.get(name, [])
        if not sources:
            return name not in layout.loop_indices  # an index is a number; anything else unknown may share
        return any(
            isinstance(s, Var) and (last.get(s.name, -1) > index or _shares_live_memory(layout, s.name, index, last, params, depth + 1))
            for s in sources
        )  # fmt: skip
    if eqn.op in ("tape_pop", "tape_push"):
        return True
    if eqn.op in ELEMENT_READS and layout.ranks.get(eqn.out.name) == 0:
        return False
    if eqn.op not in _ALIASING:
        return False  # a new array
    source = eqn.ins[0]
    if not isinstance(source, Var):
        return False
    return last.get(source.name, -1) > index or _shares_live_memory(layout, source.name, index, last, params, depth + 1)


def _entry_value_read_later(layout: Layout, name: str, index: int, last, depth: int = 0) -> bool:
    """Whether `name` is a loop's carried value whose first value (the same array, bound without a
    copy as the loop starts) is read after event `index`: a write into it in place would change
    what that later reader sees (`t = np.sum(out * out)` saved before a loop that writes `out`)."""
    init = layout.carried_from.get(name)
    if init is None or depth > 8:
        return False
    if last.get(init.name, -1) > index or _escapes(layout, init.name, index, last):
        return True
    return _entry_value_read_later(layout, init.name, index, last, depth + 1)
