"""Loop kernels of the Numba module: fused reductions and fused slice writes.

Numba fuses an elementwise expression into one loop by itself (its
array-expression rewrite), but only where the expression's value is stored
in a new array. Three consumers of a fused expression do better with a loop
of their own, printed before the gradient as an `@numba.njit` function:

- a full `np.sum`/`np.mean` of the expression, or `sum_to(expression, ())`
  (reverse mode's cotangent of a scalar that met an array), accumulates it
  element by element, without allocating it, into eight float64 partial sums
  added as NumPy's pairwise sum adds its eight: independent additions that LLVM
  vectorises, where one running total would wait on each addition
  (`KernelPrinter.reduction_kernel`; a single total under `parallel`, which
  Numba's `prange` reduces itself);
- `np.sum`/`np.mean` along constant axes, or `sum_to`, of the expression,
  whose operands may broadcast against each other, loops over the broadcast
  shape (`KernelPrinter.axis_reduction_kernel`): three nested loops inside
  an odometer over any further axes, each operand read at its own element
  strides (zero along the axes it is broadcast over), the output at stride
  zero along the reduced axes, so the broadcast is never stored. Which inner
  loop runs is chosen once per call from the steps: a running total where
  the output's step is 0, a loop LLVM vectorises where every step is 1, one
  per array (for up to `_MOST_HOISTED` arrays) where that array alone has
  step 0 and is read once per row (k-means' `sum_to(d2_bar[:, :, None] *
  (p - c), (1, k, d))`), else a loop at any steps;
  the unit-step loop writes at `np.uint64(oo + c)`: a signed index carries
  Numba's wraparound check (`i < 0` adds the length), an index LLVM cannot
  prove affine, and the loop stayed scalar (3x slower on the logistic
  regression's `sum_to`; offsets are never negative);
- a slice write `view += expression`, the fused form of `scatter_add` (a
  fresh zero array with the expression added at a slice: Rosenbrock's
  `x[:-1]` cotangent) and of an in-place `add_at`, adds it element by
  element into the view (`KernelPrinter.write`), so the expression is never
  stored either.

The full-reduction and write kernels check that their operands share one
shape (`common_size`); if they broadcast against each other they run the
array expression instead.
Operands are read through `flat`/`at` (a 1-D view of each array, or the
scalar itself), a view that is written to through `row_of`, one row of its
last axis at a time, so any strided view of any rank works.

`KernelPrinter` is mixed into the Numba emitter, which supplies the
expressions (`atom`), names (`table`, `names`) and the fusion plan.
"""

from __future__ import annotations

import ast
from dataclasses import replace

import libcst as cst

from symdiff.codegen.expressions import call, constant, subscript
from symdiff.ir.nodes import Atom, Const, Eqn, Var, walk
from symdiff.optimize.fuse import FusionPlan, fusable, is_full_reduction
from symdiff.optimize.fuse_shapes import ShapeFacts

REDUCTION_HELPERS = {"sum": "reduce_sum", "mean": "reduce_mean", "sum_to": "reduce_sum"}  # sum_to(x, ()): a sum
# Axis-reduction kernels of up to this many arrays get an inner loop per array for rows along
# which that array is broadcast (step 0) and the output and the others step by 1: a compiled
# loop each, so not for every array of a long expression.
_MOST_HOISTED = 4


class KernelPrinter:
    """Prints loop kernels; see the module docstring."""

    plan: FusionPlan
    names: dict[str, str]
    helpers: set[str]
    defs: dict[str, Eqn]
    kernels: list[cst.FunctionDef]
    kernel_keys: dict[str, str]

    def leaves(self, atom: Atom) -> list[Var]:
        """The non-inlined variables an inlined expression reads, in first-use order."""
        return fused_leaves(atom, self.plan.inline, self.defs)

    def _kernel(self, value: Atom, template: str, suffix: str, **fields: str) -> tuple[str, list[cst.BaseExpression]]:
        """Emit one kernel for `value` from `template`; return its name and its call's arguments (the leaves)."""
        leaves = self.leaves(value)
        name = self.table.fresh(f"{self.function.name}_{suffix}")
        params = [self.names[v.name] for v in leaves]
        local = _kernel_locals(params)
        flat_of = {p: local(f"{p}_flat") for p in params}
        keys = ("n", "i", "total", "view", "length", "r", "row", "c", "lanes", "whole", "block", "lane")
        names = {key: local(key) for key in keys}

        def at(leaf: Var) -> cst.Call:
            return call("at", [cst.Name(flat_of[self.names[leaf.name]]), cst.Name(names["i"])])

        self.helpers.update({"common_size", "flat", "at"})
        code = template.format(
            name=name,
            params=", ".join(params),
            what=cst.Module([]).code_for_node(self.atom(value)),
            flats="".join(f"    {flat_of[p]} = flat({p})\n" for p in params),
            loop="numba.prange" if self.options.parallel else "range",
            element=cst.Module([]).code_for_node(self.atom(value, leaf=at)),
            **names,
            **fields,
        )
        return self._added(cst.parse_statement(code), name), [self.atom(v) for v in leaves]

    def _added(self, kernel: cst.FunctionDef, name: str) -> str:
        """Add `kernel` (named `name`) to the module unless an equal one is there already; return
        the name to call. Equal: the same text but for the names of parameters and locals and the
        docstring (`same_kernel_key`), so the same function of its arguments, which calls pass
        in the same order. A long function that repeats a pattern (layers, unrolled steps) prints
        one kernel per distinct loop, and Numba compiles each (a second or more) only once."""
        key = same_kernel_key(cst.Module([kernel]).code)
        known = self.kernel_keys.setdefault(key, name)
        if known == name:
            self.kernels.append(kernel.with_changes(decorators=[self.options.decorator()]))
        return known

    def reduction_kernel(self, eqn: Eqn) -> cst.Call:
        """Emit a one-pass kernel for `sum`/`mean` of an inlined expression; return its call."""
        if not is_full_reduction(eqn):
            return self.axis_reduction_kernel(eqn)
        self.helpers.add(REDUCTION_HELPERS[eqn.op])
        template = _REDUCTION if self.options.parallel else _REDUCTION_LANES
        template = template.replace("{result}", "{total} / {n}" if eqn.op == "mean" else "{total}")
        op = "mean" if eqn.op == "mean" else "sum"
        name, arguments = self._kernel(eqn.ins[0], template, op, op=op, fallback=REDUCTION_HELPERS[eqn.op])
        return call(name, arguments)

    def axis_reduction_kernel(self, eqn: Eqn) -> cst.Call:
        """Emit a loop nest over the broadcast shape for `sum`/`mean` along axes, or `sum_to`, of an
        inlined expression whose operands may broadcast (see `reductions.loop_nest`); return its call."""
        value = eqn.ins[0]
        source, spreads = read_through(value, self.plan.inline, self.defs)
        origins = list({self.names[a.name]: a for a in source.values() if isinstance(a, Var)}.values())
        params = [self.names[a.name] for a in origins]
        name = self.table.fresh(f"{self.function.name}_{eqn.op}")
        local = _kernel_locals(params)
        spread_names = [local("spread") for _ in spreads]
        keys = ("shape", "out", "out_flat", "lengths", "steps", "axes", "outer", "n0", "n1", "n2", "index", "o", "oo",
                "r", "i0", "i1", "c", "k", "total", "target", "count", "size", "o_0", "o_1", "o_2", "mode")  # fmt: skip
        names = {key: local(key) for key in keys}
        flat_of = {p: local(f"{p}_flat") for p in params}
        at_of = {p: local(f"{p}_at") for p in params}
        base_of = {p: local(f"{p}_base") for p in params}
        step_of = {p: [local(f"{p}_{axis}") for axis in range(3)] for p in params}
        held = params if 2 <= len(params) <= _MOST_HOISTED else []
        value_of = {p: local(f"{p}_value") for p in held}
        arguments = [self.atom(a) for a in origins]
        arguments += [constant(s.value) if isinstance(s, Const) else self.atom(s) for s in spreads]
        shaped = ", ".join(params + spread_names)
        static = eqn.static_dict()
        if eqn.op == "sum_to":
            shape = static["shape"]
            arguments.append(constant(shape.value) if isinstance(shape, Const) else self.atom(shape))
            signature = ", ".join([*params, *spread_names, names["target"]])
            kept = f"padded_shape({names['target']}, {names['shape']})"
            result = f"summed_result({names['out']}, {names['target']})"
            what = f"sum_to(..., {names['target']})"
            self.helpers.update({"padded_shape", "summed_result"})
        else:
            axis = cst.Module([]).code_for_node(constant(static["axis"].value))
            keepdims = bool(static.get("keepdims", Const(False)).value)
            signature = shaped
            kept = f"keepdims_shape({names['shape']}, {axis})"
            out = names["out"]
            if eqn.op == "mean":
                out = f"{out} / {names['count']}"
            result = f"reduced_result({out}, {axis}, {keepdims}, {shaped})"
            what = f"np.{eqn.op}(..., axis={axis}, keepdims={keepdims})"
            self.helpers.update({"keepdims_shape", "reduced_result"})
        self.helpers.update(
            {"loop_shape", "loop_strides", "loop_nest", "flat", "at", "unit_step", "zero_of", "zeros_for"}
        )
        c, k, steps, lengths, axes = names["c"], names["k"], names["steps"], names["lengths"], names["axes"]

        def at(leaf: Var, offset: str = "") -> cst.BaseExpression:
            origin = source[leaf.name]
            if isinstance(origin, Const):
                return constant(origin.value)
            p = self.names[origin.name]
            return cst.parse_expression(f"at({flat_of[p]}, {base_of[p]}{offset})")

        def unit_at(leaf: Var) -> cst.BaseExpression:
            return at(leaf, f" + {c}")

        def hoisted_at(held: str):
            """Reads for a row along which `held` has step 0: its value read once, the others at unit steps."""

            def read(leaf: Var) -> cst.BaseExpression:
                origin = source[leaf.name]
                if isinstance(origin, Var) and self.names[origin.name] == held:
                    return cst.Name(value_of[held])
                return unit_at(leaf)

            return read

        def zero(leaf: Var) -> cst.BaseExpression:
            origin = source[leaf.name]
            if isinstance(origin, Const):
                return constant(origin.value)
            return call("zero_of", [cst.Name(self.names[origin.name])])

        def code(node: cst.BaseExpression) -> str:
            return cst.Module([]).code_for_node(node)

        def lines(indent: int, texts) -> str:
            return "".join(" " * indent + t + "\n" for t in texts)

        rows = {p: row + 1 for row, p in enumerate(params)}
        strides = ", ".join(f"loop_strides({p}, {names['shape']})" for p in params)
        out_steps = [f"{names[f'o_{axis}']} = {steps}[0, {axes} - {3 - axis}]" for axis in range(3)]
        leaf_steps = [
            f"{step_of[p][axis]} = {steps}[{rows[p]}, {axes} - {3 - axis}]" for p in params for axis in range(3)
        ]
        i0, i1 = names["i0"], names["i1"]
        hoist_modes: list[str] = []
        hoist_loops: list[str] = []
        for j, p in enumerate(held, start=2):
            others = "".join(f" and unit_step({q}, {step_of[q][2]})" for q in params if q != p)
            hoist_modes += [f"elif {names['o_2']} == 1 and {step_of[p][2]} == 0{others}:", f"    {names['mode']} = {j}"]
            hoist_loops += [
                f"elif {names['mode']} == {j}:  # {p} is the same along the row: read it once",
                f"    {value_of[p]} = at({flat_of[p]}, {base_of[p]})",
                f"    for {c} in range({names['n2']}):",
                f"        {names['out_flat']}[{names['oo']} + {c}] += {code(self.atom(value, leaf=hoisted_at(p)))}",
            ]
        text = _AXIS_REDUCTION.format(
            name=name,
            signature=signature,
            what=f"{what} of: {code(self.atom(value))}",
            leaves=shaped,
            kept=kept,
            probe=code(self.atom(value, leaf=zero)),
            flats=lines(4, [f"{flat_of[p]} = flat({p})" for p in params]),
            strides=strides,
            steps_of=lines(4, out_steps + leaf_steps),
            starts=lines(4, [f"{at_of[p]} = 0" for p in params]),
            bases=lines(
                16, [f"{base_of[p]} = {at_of[p]} + {i0} * {step_of[p][0]} + {i1} * {step_of[p][1]}" for p in params]
            ),
            step=lines(24, [f"{base_of[p]} += {step_of[p][2]}" for p in params]),
            element=code(self.atom(value, leaf=at)),
            unit_element=code(self.atom(value, leaf=unit_at)),
            unit="".join(f" and unit_step({p}, {step_of[p][2]})" for p in params),
            hoist_modes=lines(4, hoist_modes),
            hoist_loops=lines(16, hoist_loops),
            advance=lines(12, [f"{at_of[p]} += {steps}[{rows[p]}, {k}]" for p in params]),
            rewind=lines(12, [f"{at_of[p]} -= {steps}[{rows[p]}, {k}] * {lengths}[{k}]" for p in params]),
            mean=lines(
                4, [f"{names['count']} = {names['size']} // max({names['out']}.size, 1)"] if eqn.op == "mean" else []
            ),
            result=result,
            **names,
        )
        return call(self._added(cst.parse_statement(text), name), arguments)

    def write(self, eqn: Eqn) -> list[cst.SimpleStatementLine] | None:
        """`x = np.zeros(shape)` and `kernel(x[index], ...)` for a planned write; None if not one here."""
        if eqn.out.name not in self.plan.writes:
            return None
        index = eqn.static_dict()["index"]
        index_expr = constant(index.value, in_index=True) if isinstance(index, Const) else self.atom(index)
        target = cst.Name(self.names[eqn.out.name])
        lines = []
        if eqn.op == "scatter_add":
            zeros = call("np.zeros", [self.atom(eqn.static_dict()["shape"])])
            lines.append(cst.SimpleStatementLine([cst.Assign([cst.AssignTarget(target)], zeros)]))
            value = eqn.ins[0]
        elif eqn.out.name in self.table.in_place and not self._reads_itself(eqn):
            value = eqn.ins[1]
        else:
            return None  # a copy with the sum added (`added_at`), or a write whose operands see the buffer
        self.helpers.update({"row_count", "row_length", "row_of"})
        name, arguments = self._kernel(value, _WRITE, "add_into")
        arguments = [subscript(target, index_expr), *arguments]
        lines.append(cst.SimpleStatementLine([cst.Expr(call(name, arguments))]))
        return lines

    def _reads_itself(self, eqn: Eqn) -> bool:
        """Whether the expression added in place reads memory of the array it is added into."""
        array = eqn.ins[0]
        group = self.table.alias.find(array.name)
        return any(
            self.table.alias.find(v.name) == group or self.names.get(v.name) == self.names[array.name]
            for v in self.leaves(eqn.ins[1])
        )


def fused_leaves(atom: Atom, inline: frozenset[str], defs: dict[str, Eqn]) -> list[Var]:
    """The non-inlined variables the inlined expression `atom` reads, in first-use order."""
    if isinstance(atom, Const):
        return []
    if atom.name not in inline or not fusable(defs[atom.name].op):
        return [atom]
    found: list[Var] = []
    for operand in defs[atom.name].ins:
        found += [v for v in fused_leaves(operand, inline, defs) if v not in found]
    return found


def read_through(value: Atom, inline: frozenset[str], defs: dict[str, Eqn]) -> tuple[dict[str, Atom], list[Atom]]:
    """What an axis-reduction kernel of the inlined `value` reads for each of its leaves, and the
    broadcast shapes that join its loop's shape.

    A materialised broadcast among the leaves (`b = broadcast_to(a, s)`) is read through its
    source `a`, `s` joining the loop's shape: a strided view would be copied whole by `flat`.
    The kernel's call then reads `a` and `s` where the reduction is printed, not `b`, which may
    be long after `b` was made; `kernel_reads` tells liveness so (`names.Liveness`), so that no
    name `a` is printed under is rebound in between (a loop's carried value tied to its next one).
    """
    source: dict[str, Atom] = {}
    spreads: list[Atom] = []
    for leaf in fused_leaves(value, inline, defs):
        made = defs.get(leaf.name)
        origin = made.ins[0] if made is not None and made.op == "broadcast_to" else None
        if isinstance(origin, Const) or (isinstance(origin, Var) and origin.name not in inline):
            source[leaf.name] = origin
            spread = made.static_dict()["shape"]
            if spread not in spreads:
                spreads.append(spread)
        else:
            source[leaf.name] = leaf
    return source, spreads


def worth_a_loop_nest(plan: FusionPlan) -> FusionPlan:
    """`plan` less the axis reductions and `sum_to`s whose loop nest would not avoid storing a
    broadcast: those whose expression is no larger than one of the arrays it reads.

    Such a loop nest saves one temporary of an operand's size, yet Numba compiles each one
    for a second or more per argument types (a long gradient has dozens: every `sum_to(y_bar * b, ...)`
    under a broadcast product); Numba's array expression and the cached `sum_to`/reduction
    helpers compute it instead. A loop nest stays where the expression is wider than every
    array it reads (`P[:, None] - C[None]` in k-means), or reads a broadcast through its source,
    which is where it saves memory and time that grow with the broadcast.
    """
    defs = {e.out.name: e for e in walk(plan.function.body) if len(e.outs) == 1}
    facts = ShapeFacts()
    for eqn in walk(plan.function.body):
        if len(eqn.outs) == 1:
            facts.learn(eqn)

    def widens(eqn: Eqn) -> bool:
        value = eqn.ins[0]
        source, spreads = read_through(value, plan.inline, defs)
        if spreads or not isinstance(value, Var):
            return True
        span = facts.spans(value)
        return not any(isinstance(leaf, Var) and span <= facts.spans(leaf) for leaf in source.values())

    kept = {r for r in plan.reductions if is_full_reduction(defs[r]) or widens(defs[r])}
    return replace(plan, reductions=frozenset(kept))


def kernel_reads(eqn: Eqn, plan: FusionPlan, defs: dict[str, Eqn]) -> tuple[Atom, ...]:
    """The atoms `eqn`'s printed statement reads beyond its own operands (inlined values expanded):
    the sources and broadcast shapes an axis-reduction kernel reads through (`read_through`)."""
    if len(eqn.outs) != 1 or eqn.out.name not in plan.reductions or is_full_reduction(eqn):
        return ()
    source, spreads = read_through(eqn.ins[0], plan.inline, defs)
    return (*source.values(), *spreads)


_REDUCTION = '''def {name}({params}):
    """One pass for the {op} of: {what}"""
    {n} = common_size({params})
    if {n} < 0:  # operands broadcast against each other: use the array expression
        return {fallback}({what}, None, False)
{flats}    {total} = np.float64(0.0)  # a float64 sum of float32 elements too, rounded once
    for {i} in {loop}({n}):
        {total} += {element}
    return float({result})
'''

_REDUCTION_LANES = '''def {name}({params}):
    """One pass for the {op} of: {what}"""
    {n} = common_size({params})
    if {n} < 0:  # operands broadcast against each other: use the array expression
        return {fallback}({what}, None, False)
{flats}    {lanes} = np.zeros(8)  # float64 partial sums (of float32 elements too), added as NumPy's pairwise sum adds its eight
    {whole} = {n} - {n} % 8
    for {block} in range(0, {whole}, 8):
        for {lane} in range(8):  # eight independent additions: LLVM vectorises them
            {i} = {block} + {lane}
            {lanes}[{lane}] += {element}
    {total} = (({lanes}[0] + {lanes}[1]) + ({lanes}[2] + {lanes}[3])) + (({lanes}[4] + {lanes}[5]) + ({lanes}[6] + {lanes}[7]))
    for {i} in range({whole}, {n}):
        {total} += {element}
    return float({result})
'''

_AXIS_REDUCTION = '''def {name}({signature}):
    """One pass for {what}"""
    {shape} = loop_shape({leaves})
    {out} = zeros_for({kept}, {probe})
    {out_flat} = {out}.reshape({out}.size)
{flats}    {lengths}, {steps} = loop_nest({shape}, (loop_strides({out}, {shape}), {strides}))
    {axes} = {lengths}.size
    {size} = 1
    {outer} = 1
    for {k} in range({axes}):
        {size} *= {lengths}[{k}]
        if {k} < {axes} - 3:
            {outer} *= {lengths}[{k}]
    {n0} = {lengths}[{axes} - 3]
    {n1} = {lengths}[{axes} - 2]
    {n2} = {lengths}[{axes} - 1]
{steps_of}    {index} = np.zeros({axes}, dtype=np.int64)
    {o} = 0
{starts}    {mode} = -1  # which inner loop runs: the steps are the same for every row
    if {o_2} == 0:
        {mode} = 0
    elif {o_2} == 1{unit}:
        {mode} = 1
{hoist_modes}    for {r} in range({outer} if {size} else 0):
        for {i0} in range({n0}):
            for {i1} in range({n1}):
                {oo} = {o} + {i0} * {o_0} + {i1} * {o_1}
{bases}                if {mode} == 0:
                    {total} = {out_flat}[{oo}]
                    for {c} in range({n2}):
                        {total} += {element}
{step}                    {out_flat}[{oo}] = {total}
                elif {mode} == 1:  # unit steps: a loop LLVM can vectorise
                    for {c} in range({n2}):
                        {out_flat}[np.uint64({oo} + {c})] += {unit_element}
{hoist_loops}                else:
                    for {c} in range({n2}):
                        {out_flat}[{oo}] += {element}
                        {oo} += {o_2}
{step}        {k} = {axes} - 4
        while {k} >= 0:
            {index}[{k}] += 1
            {o} += {steps}[0, {k}]
{advance}            if {index}[{k}] < {lengths}[{k}]:
                break
            {index}[{k}] = 0
            {o} -= {steps}[0, {k}] * {lengths}[{k}]
{rewind}            {k} -= 1
{mean}    return {result}
'''

_WRITE = '''def {name}({view}, {params}):
    """One pass for: {view} += {what}"""
    {n} = common_size({view}, {params})
    if {n} < 0:  # operands broadcast against each other: use the array expression
        {view} += {what}
        return
{flats}    {length} = row_length({view})
    for {r} in range(row_count({view})):
        {row} = row_of({view}, {r})
        for {c} in {loop}({length}):
            {i} = {r} * {length} + {c}
            {row}[{c}] += {element}
'''


def same_kernel_key(text: str) -> str:
    """A key equal for two kernels' texts exactly when they are the same function up to the names of
    their parameters and locals (renamed in order of first appearance), their own name and their
    docstring. Other names (helpers, `np`, builtins) are kept: they are the same objects in both."""
    tree = ast.parse(text)
    function = tree.body[0]
    assert isinstance(function, ast.FunctionDef)
    function.name = "kernel"
    first = function.body[0] if function.body else None
    if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
        function.body = function.body[1:]
    params = [a.arg for a in function.args.args]
    owned = set(params) | {n.id for n in ast.walk(function) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
    order = {name: k for k, name in enumerate(params)}
    for node in ast.walk(function):
        if isinstance(node, ast.Name) and node.id in owned:
            order.setdefault(node.id, len(order))
    for node in ast.walk(function):
        if isinstance(node, ast.Name) and node.id in owned:
            node.id = f"local {order[node.id]}"  # a space: no name the kernel reads can be one of these
        elif isinstance(node, ast.arg):
            node.arg = f"local {order[node.arg]}"
    return ast.dump(tree)


def _kernel_locals(params: list[str]):
    """A function giving local names for a kernel that clash with no parameter or each other."""
    taken = set(params)

    def local(base: str) -> str:
        candidate = base
        while candidate in taken:
            candidate += "_"
        taken.add(candidate)
        return candidate

    return local


__all__ = ["REDUCTION_HELPERS", "KernelPrinter", "fused_leaves", "kernel_reads", "read_through", "worth_a_loop_nest"]
