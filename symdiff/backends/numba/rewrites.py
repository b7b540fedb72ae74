"""IR -> IR rewrites that make the Numba backend's program compile, or run faster.

`numba_rewrites(function)` applies, in order:

- module constants named like a helper the generated module imports (a
  user's array called `vexp` or `at`) take another name: they are the jitted
  function's trailing parameters, which would hide the helper;
- `transpose(g, inverse_axes(None, ndim(a)))` (the adjoint of `a.T`) becomes
  `transpose(g)`: the axes tuple has a run-time length Numba cannot type, and
  reversing all axes is its own inverse;
- slice cotangents accumulate in place. Reverse mode writes the cotangent of
  `x[1:]` as `scatter_add(g, shape(x), 1:)`, a fresh zero array, and adds the
  pieces up. Two pieces at the same index become one `scatter_add` of their
  sum (one elementwise expression); a piece added to an accumulator of that
  shape becomes `add_at(acc, g; index)`, printed as `add_into(acc, g, index)`
  where the accumulator may be overwritten (`names`). Rosenbrock's
  gradient makes one zero array instead of three, and no array sums;
- tapes pushed in the same loop body and popped in the same backward loop
  body merge into one tape of tuples (`tapes`): one list operation per
  iteration instead of one per saved value.

Ops introduced here (`add_at`) are known only to the Numba backend. Imports:
ir, optimize, and the Numba backend's own modules.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

from symdiff.backends.numba import helpers
from symdiff.backends.numba.tapes import merge_tapes
from symdiff.ir.nodes import Atom, Const, Eqn, Function, If, Var, reads, walk
from symdiff.optimize.dce import dce
from symdiff.optimize.walk import rewrite_function
from symdiff.transforms.inline import rename_all


def numba_rewrites(function: Function) -> Function:
    """`function` rewritten as the module docstring says."""
    function = _constants_apart(function)
    function = _full_transposes(function)
    function = _accumulate_slices(function)
    return merge_tapes(function)


def _constants_apart(function: Function) -> Function:
    taken = set(helpers.__all__) | {"np", "numba"}
    clashes = [name for name, _ in function.free if name in taken]
    if not clashes:
        return function
    used = taken | {n for n, _ in function.free} | {p.name for p in function.params}
    used |= {v.name for e in walk(function.body) for v in (*e.outs, *reads(e)) if isinstance(v, Var)}
    mapping = {}
    for name in clashes:
        fresh = next(f"{name}_{k}" for k in range(1, len(used) + 2) if f"{name}_{k}" not in used)
        used.add(fresh)
        mapping[name] = Var(fresh)
    result = tuple(mapping.get(a.name, a) if isinstance(a, Var) else a for a in function.results())
    return replace(
        function,
        body=tuple(rename_all(list(function.body), mapping)),
        result=result if isinstance(function.result, tuple) else result[0],
        free=tuple((mapping[n].name if n in mapping else n, v) for n, v in function.free),
    )


def _full_transposes(function: Function) -> Function:
    defs = {e.out.name: e for e in walk(function.body) if len(e.outs) == 1}

    def visit(eqn: Eqn, scope: dict) -> Eqn:
        axes = eqn.static_dict().get("axes") if eqn.op == "transpose" else None
        source = defs.get(axes.name) if isinstance(axes, Var) else None
        if source is not None and source.op == "inverse_axes" and source.ins[0] == Const(None):
            return replace(eqn, static=(("axes", Const(None)),))
        return eqn

    return dce(rewrite_function(function, visit))


class _Accumulation:
    """State of `_accumulate_slices`: scatter_adds read once, accumulators and their shapes."""

    def __init__(self, function: Function):
        counts: Counter = Counter(a.name for a in function.results() if isinstance(a, Var))
        for stmt in function.body:
            counts.update(a.name for a in reads(stmt) if isinstance(a, Var))
        self.counts = counts
        self.scatters: dict[str, Eqn] = {}
        self.shape_of: dict[str, object] = {}  # accumulator -> the shape it was made with (`_shape_key`)
        # `np.shape(y)` names: a shape read from y and zeros_like(y) are the same shape
        self.shape_source = {e.out.name: e.ins[0] for e in walk(function.body) if e.op == "shape"}
        self.used = {v.name for v in function.params} | {n for n, _ in function.free}
        self.used |= {o.name for e in walk(function.body) for o in e.outs}

    def fresh(self, base: str) -> Var:
        name, k = f"{base}~s", 1
        while name in self.used:
            k += 1
            name = f"{base}~s{k}"
        self.used.add(name)
        return Var(name, temp=True)

    def scatter(self, atom: Atom) -> Eqn | None:
        """The `scatter_add` defining `atom`, if nothing else reads it."""
        if isinstance(atom, Var) and self.counts[atom.name] == 1:
            return self.scatters.get(atom.name)
        return None

    def shape_key(self, shape: Atom) -> object:
        """`shape`, or ("like", y) when it is `np.shape(y)`."""
        source = self.shape_source.get(shape.name) if isinstance(shape, Var) else None
        return ("like", source) if source is not None else shape

    def keeps_shape(self, phi: Var, result: Atom, made: dict[str, Eqn], start: object) -> bool:
        """Whether a loop's step is `phi + scatter_add(g, shape, index)` with the shape `phi`
        started with (`start`): an accumulator, whose shape no iteration changes."""
        step = made.get(result.name) if isinstance(result, Var) else None
        if step is None or step.op != "add" or phi not in step.ins:
            return False
        part = step.ins[1] if step.ins[0] == phi else step.ins[0]
        piece = made.get(part.name) if isinstance(part, Var) else None
        return piece is not None and piece.op == "scatter_add" and self.shape_key(piece.static_dict()["shape"]) == start

    def rewrite(self, eqn: Eqn) -> list[Eqn]:
        if eqn.op == "scatter_add":
            self.scatters[eqn.out.name] = eqn
            self.shape_of[eqn.out.name] = self.shape_key(eqn.static_dict()["shape"])
            return [eqn]
        if eqn.op == "zeros_like" and not eqn.static:  # a loop's gradient accumulator starts so
            self.shape_of[eqn.out.name] = ("like", eqn.ins[0])
            return [eqn]
        if eqn.op != "add":
            return [eqn]
        a, b = eqn.ins
        first, second = self.scatter(a), self.scatter(b)
        if first is not None and second is not None and first.static == second.static:
            total = self.fresh(eqn.out.name)
            merged = Eqn((total,), "add", (first.ins[0], second.ins[0]), (), eqn.loc, eqn.adjoint)
            return [merged, *self.rewrite(Eqn(eqn.outs, "scatter_add", (total,), first.static, eqn.loc, eqn.adjoint))]
        for acc, piece in ((a, second), (b, first)):
            if (
                piece is not None
                and isinstance(acc, Var)
                and self.shape_of.get(acc.name) == self.shape_key(piece.static_dict()["shape"])
            ):
                self.shape_of[eqn.out.name] = self.shape_of[acc.name]
                index = piece.static_dict()["index"]
                return [Eqn(eqn.outs, "add_at", (acc, piece.ins[0]), (("index", index),), eqn.loc, eqn.adjoint)]
        return [eqn]

    def block(self, body) -> tuple:
        out: list = []
        for stmt in body:
            if isinstance(stmt, Eqn):
                out.extend(self.rewrite(stmt))
            elif isinstance(stmt, If):
                out.append(replace(stmt, then_body=self.block(stmt.then_body), else_body=self.block(stmt.else_body)))
            else:
                made = {e.out.name: e for e in stmt.body if isinstance(e, Eqn) and len(e.outs) == 1}
                for phi, init, result in zip(stmt.carried, stmt.inits, stmt.results):
                    start = self.shape_of.get(init.name) if isinstance(init, Var) else None
                    if start is not None and self.keeps_shape(phi, result, made, start):
                        self.shape_of[phi.name] = self.shape_of[init.name]
                out.append(replace(stmt, cond_body=self.block(stmt.cond_body), body=self.block(stmt.body)))
        return tuple(out)


def _accumulate_slices(function: Function) -> Function:
    state = _Accumulation(function)
    return dce(replace(function, body=state.block(function.body)))


__all__ = ["numba_rewrites"]
