"""Loop kernels of the Numba module: fused reductions and fused slice writes.

Numba fuses an elementwise expression into one loop by itself (its
array-expression rewrite), but only where the expression's value is stored
in a new array. Two consumers of a fused expression do better with a loop
of their own, printed before the gradient as an `@numba.njit` function:

- a full `np.sum`/`np.mean` of the expression accumulates it element by
  element, without allocating it (`KernelPrinter.reduction_kernel`);
- a slice write `view += expression`, the fused form of `scatter_add` (a
  fresh zero array with the expression added at a slice: Rosenbrock's
  `x[:-1]` cotangent) and of an in-place `add_at`, adds it element by
  element into the view (`KernelPrinter.write`), so the expression is never
  stored either.

Each kernel checks that its operands share one shape (`common_size`); if
they broadcast against each other it runs the array expression instead.
Operands are read through `flat`/`at` (a 1-D view of each array, or the
scalar itself), a view that is written to through `row_of`, one row of its
last axis at a time, so any strided view of any rank works.

`KernelPrinter` is mixed into the Numba emitter, which supplies the
expressions (`atom`), names (`table`, `names`) and the fusion plan.
"""

from __future__ import annotations

import libcst as cst

from symdiff.codegen.expressions import call, constant, subscript
from symdiff.ir.nodes import Atom, Const, Eqn, Var
from symdiff.optimize.fuse import FusionPlan, fusable

REDUCTION_HELPERS = {"sum": "reduce_sum", "mean": "reduce_mean"}


class KernelPrinter:
    """Prints loop kernels; see the module docstring."""

    plan: FusionPlan
    names: dict[str, str]
    helpers: set[str]
    defs: dict[str, Eqn]
    kernels: list[cst.FunctionDef]

    def leaves(self, atom: Atom) -> list[Var]:
        """The non-inlined variables an inlined expression reads, in first-use order."""
        if isinstance(atom, Const):
            return []
        if atom.name not in self.plan.inline or not fusable(self.defs[atom.name].op):
            return [atom]
        found: list[Var] = []
        for operand in self.defs[atom.name].ins:
            found += [v for v in self.leaves(operand) if v not in found]
        return found

    def _kernel(self, value: Atom, template: str, suffix: str, **fields: str) -> tuple[str, list[str]]:
        """Emit one kernel for `value` from `template`; return its name and parameters (the leaves)."""
        leaves = self.leaves(value)
        name = self.table.fresh(f"{self.function.name}_{suffix}")
        params = [self.names[v.name] for v in leaves]
        local = _kernel_locals(params)
        flat_of = {p: local(f"{p}_flat") for p in params}
        names = {key: local(key) for key in ("n", "i", "total", "view", "length", "r", "row", "c")}

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
        kernel = cst.parse_statement(code)
        self.kernels.append(kernel.with_changes(decorators=[self.options.decorator()]))
        return name, params

    def reduction_kernel(self, eqn: Eqn) -> cst.Call:
        """Emit a one-pass kernel for `sum`/`mean` of an inlined expression; return its call."""
        self.helpers.add(REDUCTION_HELPERS[eqn.op])
        template = _REDUCTION.replace("{result}", "{total} / {n}" if eqn.op == "mean" else "{total}")
        name, params = self._kernel(eqn.ins[0], template, eqn.op, op=eqn.op, fallback=REDUCTION_HELPERS[eqn.op])
        return call(name, [cst.Name(p) for p in params])

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
        name, params = self._kernel(value, _WRITE, "add_into")
        arguments = [subscript(target, index_expr)] + [cst.Name(p) for p in params]
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


__all__ = ["REDUCTION_HELPERS", "KernelPrinter"]
