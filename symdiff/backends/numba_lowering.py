"""IR + fusion plan -> the source of a module that Numba compiles.

The module holds one `@numba.njit(cache=True)` function with the gradient's
name and, before it, one loop kernel per fused full reduction. Differences
from the NumPy backend's source, each forced by what Numba can compile:

- a value the plan inlines is printed inside its consumer's expression, so
  Numba's array-expression rewrite turns the whole chain into one loop (Numba
  fuses within one expression only, not across statements);
- `np.sum(e)` of an inlined elementwise expression `e` becomes a kernel that
  accumulates `e` element by element without allocating it, falling back to
  the array expression when its operands' shapes differ (broadcasting);
- reductions with `axis`/`keepdims`, `np.reshape`, `np.ndim`, `np.squeeze`
  and the shape helpers call the overloads in `numba_helpers`;
- module constants become trailing parameters (Numba would freeze them into
  the cached machine code) and parameters lose their defaults (the Python
  wrapper fills them in).

Anything Numba cannot compile is refused here, at build time, with a
`BackendError` naming the construct and its source line.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import libcst as cst

from symdiff.codegen.expressions import build, call, constant
from symdiff.errors import BackendError
from symdiff.ir.nodes import Atom, Const, Eqn, Function, Var
from symdiff.optimize.dce import dce
from symdiff.optimize.fuse import FusionPlan
from symdiff.rules import RULES

_REDUCTIONS = {"sum": "reduce_sum", "mean": "reduce_mean", "max": "reduce_max", "min": "reduce_min", "prod": "reduce_prod"}  # fmt: skip
_RENAMED = {"reshape": "reshape_to", "ndim": "array_ndim", "squeeze": "squeeze_axis"}
_NUMPY_OPS = frozenset({
    "add", "sub", "mul", "truediv", "pow", "neg", "pos", "mod", "floordiv", "exp", "log", "log1p", "expm1",
    "sqrt", "square", "sin", "cos", "tan", "arcsin", "arccos", "arctan", "arctan2", "sinh", "cosh", "tanh",
    "abs", "maximum", "minimum", "where", "clip", "logaddexp", "float", "int", "bool", "sign", "floor", "ceil",
    "round", "lt", "le", "gt", "ge", "eq", "ne", "logical_and", "logical_or", "logical_not", "isnan",
    "isfinite", "not_", "and_", "or_", "zeros", "ones", "empty", "zeros_like", "ones_like", "empty_like",
    "full", "full_like", "arange", "eye", "linspace", "shape", "size", "argmax", "argmin", "len",
    "make_tuple", "make_slice", "matmul", "dot", "outer", "transpose", "swapaxes", "ravel", "expand_dims",
    "broadcast_to", "getitem", "concatenate", "stack", "copy",
})  # fmt: skip
SUPPORTED_OPS = _NUMPY_OPS | set(_REDUCTIONS) | set(_RENAMED)


@dataclass(frozen=True)
class NumbaOptions:
    """Numba compilation flags; they are part of the source, hence of the cache key."""

    fastmath: bool = False
    parallel: bool = False

    def decorator(self) -> cst.Decorator:
        flags = "cache=True" + (", fastmath=True" if self.fastmath else "") + (", parallel=True" if self.parallel else "")
        return cst.Decorator(cst.parse_expression(f"numba.njit({flags})"))


def check_supported(function: Function) -> None:
    """Raise `BackendError` for any statement or op the Numba backend cannot compile."""
    for statement in function.body:
        if not isinstance(statement, Eqn):
            kind = type(statement).__name__
            raise BackendError(
                f"{kind} statements are not supported by the numba backend yet",
                getattr(statement, "loc", None),
                "use backend='numpy' for now (issue 5)",
            )
        if statement.op not in SUPPORTED_OPS and not (statement.op in RULES and RULES[statement.op].helper):
            path = RULES[statement.op].path if statement.op in RULES else statement.op
            raise BackendError(
                f"{path} ({statement.op!r}) is not supported by the numba backend",
                statement.loc,
                "use backend='numpy', or set SYMDIFF_NUMBA_FALLBACK=numpy to fall back with a warning",
            )
        if statement.op == "squeeze" and statement.static_dict().get("axis", Const(None)) == Const(None):
            raise BackendError(
                "np.squeeze without axis is not supported by the numba backend: its rank depends on the data",
                statement.loc,
                "pass axis=... explicitly",
            )


def numba_peepholes(function: Function) -> Function:
    """Rewrite IR that Numba cannot type into equivalent IR that it can.

    `np.transpose(g, inverse_axes(None, np.ndim(a)))` (the adjoint of `a.T`)
    has a run-time tuple length; reversing all axes is its own inverse, so it
    becomes `np.transpose(g)`.
    """
    defs = {e.out.name: e for e in function.body if len(e.outs) == 1}
    body = []
    for eqn in function.body:
        axes = eqn.static_dict().get("axes") if eqn.op == "transpose" else None
        source = defs.get(axes.name) if isinstance(axes, Var) else None
        if source is not None and source.op == "inverse_axes" and source.ins[0] == Const(None):
            eqn = replace(eqn, static=(("axes", Const(None)),))
        body.append(eqn)
    return dce(replace(function, body=tuple(body)))


def display_names(function: Function) -> dict[str, str]:
    """A distinct printable name per IR name (`x~2` -> `x_2`): Numba types each name once."""
    taken = {"np", "numba", "i", "n", "total"} | {n for n, _ in function.free}
    names: dict[str, str] = {}
    for var in list(function.params) + [o for e in function.body for o in e.outs]:
        stem = var.name.split("~")[0]
        candidate, k = stem, 1
        while candidate in taken:
            k += 1
            candidate = f"{stem}_{k}"
        taken.add(candidate)
        names[var.name] = candidate
    return names


class NumbaEmitter:
    """Builds the Numba-ready module for one fusion plan."""

    def __init__(self, plan: FusionPlan, options: NumbaOptions):
        self.function = plan.function
        self.plan = plan
        self.options = options
        self.defs = {e.out.name: e for e in self.function.body if len(e.outs) == 1}
        self.names = display_names(self.function)
        self.helpers: set[str] = set()
        self.kernels: list[cst.FunctionDef] = []

    # -- expressions ------------------------------------------------------------

    def atom(self, atom: Atom, leaf=None) -> cst.BaseExpression:
        """`atom` as an expression; inlined values expand; `leaf` renders the others."""
        if isinstance(atom, Const):
            return constant(atom.value)
        if atom.name in self.plan.inline:
            return self.expression(self.defs[atom.name], leaf)
        if leaf is not None:
            return leaf(atom)
        return cst.Name(self.names.get(atom.name, atom.name))

    def expression(self, eqn: Eqn, leaf=None) -> cst.BaseExpression:
        rule = RULES[eqn.op]
        operands = [self.atom(a, leaf) for a in eqn.ins]
        statics = {k: self._static(eqn, k, a) for k, a in eqn.static}
        if eqn.op in _REDUCTIONS:
            return self._helper_call(_REDUCTIONS[eqn.op], operands + [statics.get("axis", constant(None)), statics.get("keepdims", constant(False))])
        if eqn.op in _RENAMED:
            return self._helper_call(_RENAMED[eqn.op], operands + [statics[k] for k in rule.static if k in statics])
        if rule.helper:
            return self._helper_call(rule.path, operands + [statics[k] for k in rule.static if k in statics])
        return build(eqn, operands, statics, rule)

    def _static(self, eqn: Eqn, key: str, atom: Atom) -> cst.BaseExpression:
        if isinstance(atom, Const):
            return constant(atom.value, in_index=(eqn.op == "getitem" and key == "index"))
        return self.atom(atom)

    def _helper_call(self, name: str, args: list) -> cst.Call:
        self.helpers.add(name)
        return call(name, args)

    # -- statements --------------------------------------------------------------

    def statement(self, eqn: Eqn) -> cst.SimpleStatementLine:
        targets = [cst.Name(self.names[o.name]) for o in eqn.outs]
        target = targets[0] if len(targets) == 1 else cst.Tuple([cst.Element(t) for t in targets])
        if eqn.outs[0].name in self.plan.reductions:
            value = self.reduction_kernel(eqn)
        else:
            value = self.expression(eqn)
        return cst.SimpleStatementLine([cst.Assign([cst.AssignTarget(target)], value)])

    def body(self) -> list[cst.BaseStatement]:
        lines: list[cst.BaseStatement] = []
        if self.function.doc:
            lines.append(cst.SimpleStatementLine([cst.Expr(cst.SimpleString(f'"""{self.function.doc}"""'))]))
        quoted = None
        for eqn in self.function.body:
            if len(eqn.outs) == 1 and eqn.out.name in self.plan.inline:
                continue
            line = self.statement(eqn)
            text = eqn.loc.text if (eqn.adjoint and eqn.loc is not None) else None
            if text and text != quoted:
                comment = cst.EmptyLine(comment=cst.Comment(f"# grad of: {text}"))
                line = line.with_changes(leading_lines=[cst.EmptyLine(indent=False), comment])
            quoted = text
            lines.append(line)
        results = [self.atom(a) for a in self.function.results()]
        value = results[0] if not isinstance(self.function.result, tuple) else cst.Tuple([cst.Element(r) for r in results], lpar=[], rpar=[])
        lines.append(cst.SimpleStatementLine([cst.Return(value)]))
        return lines

    def definition(self) -> cst.FunctionDef:
        params = [cst.Param(cst.Name(self.names[p.name])) for p in self.function.params]
        params += [cst.Param(cst.Name(name)) for name, _ in self.function.free]
        return cst.FunctionDef(
            name=cst.Name(self.function.name),
            params=cst.Parameters(params),
            body=cst.IndentedBlock(self.body()),
            decorators=[self.options.decorator()],
        )

    # -- fused reductions --------------------------------------------------------

    def leaves(self, atom: Atom) -> list[Var]:
        """The non-inlined variables an inlined expression reads, in first-use order."""
        if isinstance(atom, Const):
            return []
        if atom.name not in self.plan.inline:
            return [atom]
        found: list[Var] = []
        for operand in self.defs[atom.name].ins:
            found += [v for v in self.leaves(operand) if v not in found]
        return found

    def reduction_kernel(self, eqn: Eqn) -> cst.Call:
        """Emit a one-pass kernel for `sum`/`mean` of an inlined expression; return its call."""
        leaves = self.leaves(eqn.ins[0])
        name = f"{self.function.name}_{eqn.op}_{len(self.kernels) + 1}"
        params = [self.names[v.name] for v in leaves]
        self.helpers.update({"common_size", "flat", "at", _REDUCTIONS[eqn.op]})
        element = self.atom(eqn.ins[0], leaf=lambda v: call("at", [cst.Name(f"{self.names[v.name]}_flat"), cst.Name("i")]))
        whole = self.atom(eqn.ins[0])
        code = _KERNEL.format(
            name=name,
            params=", ".join(params),
            what=cst.Module([]).code_for_node(whole),
            fallback=_REDUCTIONS[eqn.op],
            flats="".join(f"    {p}_flat = flat({p})\n" for p in params),
            loop="numba.prange" if self.options.parallel else "range",
            element=cst.Module([]).code_for_node(element),
            result="total / n" if eqn.op == "mean" else "total",
        )
        kernel = cst.parse_statement(code)
        self.kernels.append(kernel.with_changes(decorators=[self.options.decorator()]))
        return call(name, [cst.Name(p) for p in params])

    # -- module -----------------------------------------------------------------

    def module(self, header: str) -> str:
        main = self.definition()
        imports = ["import numba", "import numpy as np"]
        if self.helpers:
            imports.append(f"from symdiff.backends.numba_helpers import {', '.join(sorted(self.helpers))}")
        parts = [f"# {line}".rstrip() for line in header.splitlines()]
        text = "\n".join(parts + imports) + "\n\n\n"
        for node in [*self.kernels, main]:
            text += cst.Module([node]).code + "\n\n"
        return text.rstrip("\n") + "\n"


_KERNEL = '''def {name}({params}):
    """One pass for the reduction of: {what}"""
    n = common_size({params})
    if n < 0:  # operands broadcast against each other: use the array expression
        return {fallback}({what}, None, False)
{flats}    total = 0.0
    for i in {loop}(n):
        total += {element}
    return {result}
'''


def numba_module(plan: FusionPlan, options: NumbaOptions, header: str) -> str:
    """The source of the Numba module for `plan` (checked with `check_supported` first)."""
    check_supported(plan.function)
    return NumbaEmitter(plan, options).module(header)


__all__ = ["SUPPORTED_OPS", "NumbaOptions", "check_supported", "display_names", "numba_module", "numba_peepholes"]
