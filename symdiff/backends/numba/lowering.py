"""IR + fusion plan -> the source of a module that Numba compiles.

The module holds one `@numba.njit(cache=True, error_model="numpy")` function
with the gradient's name and, before it, one loop kernel per fused
reduction (full, along axes, or `sum_to`) or slice write (`kernels`). Statements, control flow and
tapes are printed by `statements`, names chosen by `names`. Differences from the NumPy backend's source, each forced by
what Numba can compile:

- a value the plan inlines is printed inside its consumer's expression, so
  Numba's array-expression rewrite turns the whole chain into one loop (Numba
  fuses within one expression only, not across statements);
- `np.sum(e)` of an inlined elementwise expression `e` becomes a kernel that
  accumulates `e` element by element without allocating it, and a slice
  write of `e` (`scatter_add`, an in-place `add_at`) a kernel that adds it
  into the slice; both fall back to the array expression when their
  operands' shapes differ (broadcasting); `np.sum`/`np.mean` along
  constant axes and `sum_to` of `e` become a loop nest over the operands'
  broadcast shape (`reductions.loop_nest`), broadcasting included;
- reductions with `axis`/`keepdims`, `np.reshape`, `np.ndim`, `np.squeeze`,
  `np.shape`, `np.size` and the shape helpers call the overloads in
  `helpers` (Numba's `np.shape` of a scalar allocates an array);
- `a @ b` becomes `matmul_of(a, b)` (`blas`): a matrix times a vector
  goes through NumPy's BLAS, where Numba's (SciPy's) can be slower;
- `np.exp`, `np.log`, `np.tanh`, `np.expm1` and `np.log1p` become the
  vectorisable `vexp`, ... of this package's `math.py` (Numba's own call the scalar C
  library once per element);
- functions use NumPy's error model (`x / 0.0` is inf, not an exception),
  which lets LLVM vectorise loops with divisions;
- a slice of an array of rank 2 or more that feeds an elementwise expression
  is copied to contiguous memory first (`contiguous`): Numba's array
  expressions do not vectorise over strided operands;
- `x[mask]`, for a mask the function computes, is `masked_of(x, mask)`:
  Numba mistypes it for masks of rank 2 or more;
- `np.zeros_like` and friends of a scalar give a scalar (Numba would give a
  0-d array, whose type differs from the scalar it is later added to);
- module constants become trailing parameters (Numba would freeze them into
  the cached machine code) and parameters lose their defaults (the Python
  wrapper fills them in).

Anything Numba cannot compile is refused before printing, at build time, by
`support.check_supported`, with a `BackendError` at the user's line.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import libcst as cst

from symdiff.backends.numba import helpers
from symdiff.backends.numba.kernels import KernelPrinter, kernel_reads
from symdiff.backends.numba.math import VECTOR_MATH
from symdiff.backends.numba.names import NameTable
from symdiff.backends.numba.statements import StatementPrinter
from symdiff.backends.numba.support import MASK_OPS, REDUCTIONS, RENAMED, SUPPORTED_OPS, check_supported
from symdiff.codegen.expressions import build, call, constant, tuple_of
from symdiff.errors import BackendError, Location
from symdiff.ir.nodes import Atom, Const, Eqn, Function, If, Loop, Var, loops, reads, walk
from symdiff.optimize.fuse import FusionPlan, fusable
from symdiff.rules import RULES

_BUILTINS = frozenset({"range", "len", "float", "int", "bool", "slice", "min", "max", "abs", "print"})


@dataclass(frozen=True)
class NumbaOptions:
    """Numba compilation flags; they are part of the source, hence of the cache key."""

    fastmath: bool = False
    parallel: bool = False

    def decorator(self) -> cst.Decorator:
        flags = 'cache=True, error_model="numpy"'
        flags += (", fastmath=True" if self.fastmath else "") + (", parallel=True" if self.parallel else "")
        return cst.Decorator(cst.parse_expression(f"numba.njit({flags})"))


def _whole_items(eqn: Eqn) -> bool:
    """Whether a getitem's index is constant integers only (an element, or a tuple field: never strided)."""
    index = eqn.static_dict().get("index")
    if not isinstance(index, Const):
        return False
    items = index.value if isinstance(index.value, tuple) else (index.value,)
    return all(isinstance(item, int) for item in items)


def _negative_integer(atom: Atom) -> bool:
    """Whether `atom` is a constant negative integer (an exponent Numba's `**` would divide by zero with)."""
    return (
        isinstance(atom, Const) and isinstance(atom.value, int) and not isinstance(atom.value, bool) and atom.value < 0
    )


def joined_names(body) -> set[str]:
    """Names of values that meet in one variable: an if's outputs and arm results, a loop's carried
    values, starts and steps (printed through `as_value`, see `StatementPrinter.joined_value`)."""
    found: set[str] = set()
    for stmt in body:
        if isinstance(stmt, If):
            found.update(v.name for v in (*stmt.outs, *stmt.then_results, *stmt.else_results) if isinstance(v, Var))
            found |= joined_names(stmt.then_body) | joined_names(stmt.else_body)
        elif isinstance(stmt, Loop):
            found.update(v.name for v in (*stmt.carried, *stmt.inits, *stmt.results, *stmt.outs) if isinstance(v, Var))
            found |= joined_names(stmt.cond_body) | joined_names(stmt.body)
    return found


def _reserved(function: Function) -> set[str]:
    """Names the printed variables must not take: modules, helpers, builtins, constants."""
    return {"np", "numba", function.name} | set(helpers.__all__) | _BUILTINS | {n for n, _ in function.free}


class NumbaEmitter(KernelPrinter, StatementPrinter):
    """Builds the Numba-ready module for one fusion plan."""

    def __init__(self, plan: FusionPlan, options: NumbaOptions):
        self.function = plan.function
        self.plan = plan
        self.options = options
        self.defs = {e.out.name: e for e in walk(self.function.body) if len(e.outs) == 1}
        self.read_counts = Counter(a.name for a in self.function.results() if isinstance(a, Var))
        for stmt in self.function.body:
            self.read_counts.update(a.name for a in reads(stmt) if isinstance(a, Var))
        self.table = NameTable(
            self.function, plan.inline, _reserved(self.function), lambda eqn: kernel_reads(eqn, plan, self.defs)
        )
        self.reading: Eqn | None = None  # the equation being printed: what it may read is `table.live.read_at`
        self.names = self.table.names
        self.helpers: set[str] = set()
        self.joined = joined_names(self.function.body)
        self.kernels: list[cst.FunctionDef] = []
        self.kernel_keys: dict[str, str] = {}  # `kernels.same_kernel_key` of each kernel -> its name
        eqns = walk(self.function.body)
        self.elementwise_operands = {a.name for e in eqns if fusable(e.op) for a in e.ins if isinstance(a, Var)}
        self.elementwise_operands -= {e.out.name for e in eqns if e.op == "getitem" and _whole_items(e)}

    # -- expressions ------------------------------------------------------------

    def atom(self, atom: Atom, leaf=None) -> cst.BaseExpression:
        """`atom` as an expression; inlined values expand; `leaf` renders the others."""
        if isinstance(atom, Const):
            return constant(atom.value)
        if atom.name in self.plan.inline:
            return self.expression(self.defs[atom.name], leaf)
        if leaf is not None:
            return leaf(atom)
        self._check_read(atom)
        return cst.Name(self.names.get(atom.name, atom.name))

    def _check_read(self, var: Var) -> None:
        """Refuse a read that liveness did not see where the equation being printed reads it.

        Ties give several IR values one printed name, which is sound only because liveness keeps
        a name's value until its last read (`names.Liveness`). A read the printer adds on its
        own (an inlined operand, the source of a broadcast a kernel reads through) must be among
        the reads liveness gave the statement; one that is not could see the name after it was
        rebound, a wrong value with no error, so it stops the build here instead.
        """
        eqn = self.reading
        if eqn is None:
            return
        allowed = self.table.live.read_at.get(id(eqn))
        if allowed is not None and var.name not in allowed:
            raise BackendError(
                f"numba backend: internal error: the printed `{eqn}` reads {var.name}, which liveness "
                "did not count as read there (please report this)",
                eqn.loc,
            )

    def equation(self, eqn: Eqn) -> list[cst.SimpleStatementLine]:
        """A statement printed for `eqn`, its reads checked against liveness (`_check_read`)."""
        outer, self.reading = self.reading, eqn
        try:
            return super().equation(eqn)
        finally:
            self.reading = outer

    def expression(self, eqn: Eqn, leaf=None) -> cst.BaseExpression:
        """The expression computing `eqn`, with helpers for what Numba lacks."""
        if eqn.op == "tape_new":
            return cst.List([])
        rule = RULES[eqn.op]
        operands = [self.atom(a, leaf) for a in eqn.ins]
        statics = {k: self._static(eqn, k, a) for k, a in eqn.static}
        if eqn.op in REDUCTIONS:
            return self._helper_call(
                REDUCTIONS[eqn.op],
                operands + [statics.get("axis", constant(None)), statics.get("keepdims", constant(False))],
            )
        if eqn.op in RENAMED:
            return self._helper_call(RENAMED[eqn.op], operands + [statics[k] for k in rule.static if k in statics])
        if eqn.op in VECTOR_MATH:
            return self._helper_call(VECTOR_MATH[eqn.op], operands)
        if rule.helper:
            return self._helper_call(rule.path, operands + [statics[k] for k in rule.static if k in statics])
        if eqn.op == "getitem" and eqn.static_dict()["index"] == Const(Ellipsis):
            return operands[0]  # `x[...]` is a view of all of `x`, which Numba cannot lower
        if eqn.op == "getitem" and self.mask(eqn.static_dict()["index"]):
            return self._helper_call("masked_of", [operands[0], statics["index"]])
        if eqn.op == "stack":
            return self._helper_call("stack_of", [tuple_of(operands), statics.get("axis", constant(0))])
        if eqn.op == "pow" and isinstance(eqn.ins[1], Var):
            return self._helper_call("power_of", operands)
        if eqn.op == "pow" and _negative_integer(eqn.ins[1]):
            operands[1] = constant(float(eqn.ins[1].value))
        return build(eqn, operands, statics, rule)

    def mask(self, index: Atom) -> bool:
        """Whether `index` is a boolean array computed by the function (Numba mistypes `x[mask]` of rank 2)."""
        return isinstance(index, Var) and index.name in self.defs and self.defs[index.name].op in MASK_OPS

    def _static(self, eqn: Eqn, key: str, atom: Atom) -> cst.BaseExpression:
        if isinstance(atom, Const):
            return constant(atom.value, in_index=(eqn.op == "getitem" and key == "index"))
        return self.atom(atom)

    def index_value(self, index: Atom) -> cst.BaseExpression:
        """An index passed as a value (`slice(1, None, None)`), not written inside brackets."""
        return constant(index.value) if isinstance(index, Const) else self.atom(index)

    def _helper_call(self, name: str, args: list) -> cst.Call:
        self.helpers.add(name)
        return call(name, args)

    # -- statements --------------------------------------------------------------

    def value(self, eqn: Eqn) -> cst.BaseExpression:
        """The right-hand side of `eqn`'s assignment (a kernel call for a fused reduction)."""
        if eqn.outs[0].name in self.plan.reductions:
            return self.reduction_kernel(eqn)
        if eqn.op == "add_at":
            index = self.index_value(eqn.static_dict()["index"])
            return self._helper_call("added_at", [self.atom(eqn.ins[0]), self.atom(eqn.ins[1]), index])
        if eqn.op == "getitem" and eqn.out.name in self.elementwise_operands:
            # Numba's array expressions do not vectorise over strided views: copy those (once) instead.
            return self._helper_call("contiguous", [self.expression(eqn)])
        return self.expression(eqn)

    def body(self) -> list[cst.BaseStatement]:
        lines: list[cst.BaseStatement] = []
        if self.function.doc:
            lines.append(cst.SimpleStatementLine([cst.Expr(cst.SimpleString(f'"""{self.function.doc}"""'))]))
        lines.extend(self.block(self.function.body))
        results = [self.atom(a) for a in self.function.results()]
        value = (
            results[0]
            if not isinstance(self.function.result, tuple)
            else cst.Tuple([cst.Element(r) for r in results], lpar=[], rpar=[])
        )
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

    # -- module -----------------------------------------------------------------

    def module(self, header: str) -> str:
        main = self.definition()
        imports = ["import numba", "import numpy as np"]
        if self.helpers:
            imports.append(f"from symdiff.backends.numba.helpers import {', '.join(sorted(self.helpers))}")
        parts = [f"# {line}".rstrip() for line in header.splitlines()]
        text = "\n".join(parts + imports) + "\n\n\n"
        for node in [*self.kernels, main]:
            text += cst.Module([node]).code + "\n\n"
        return text.rstrip("\n") + "\n"


@dataclass(frozen=True)
class NumbaModule:
    """A printed module and, for error messages, where each printed loop variable is carried."""

    source: str
    carried: dict[str, Location | None]


def numba_module(plan: FusionPlan, options: NumbaOptions, header: str) -> NumbaModule:
    """The Numba module for `plan` (checked with `check_supported` first)."""
    check_supported(plan.function)
    emitter = NumbaEmitter(plan, options)
    source = emitter.module(header)
    carried = {emitter.names[c.name]: loop.loc for loop in loops(plan.function.body) for c in loop.carried}
    return NumbaModule(source, carried)


__all__ = ["SUPPORTED_OPS", "NumbaModule", "NumbaOptions", "check_supported", "numba_module"]
