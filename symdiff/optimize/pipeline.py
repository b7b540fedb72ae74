"""The optimisation pipeline, written out in one place.

Passes run in this order until the program stops changing (compared as IR
values, not printed text): fold constants, read written cotangents plainly
where no index repeats, simplify, push shape queries
down to operands, move loop-invariant values before their loop, read the one value a tape holds (a scalar's shape) instead of the tape, compute
a taped shape again in the backward loop where the loop counter and values from before the loop
decide it, share common subexpressions, drop loop element writes
nothing reads back, drop dead code, fold negations into neighbouring
arithmetic, drop what that left dead, count a mean's elements on a value computed
anyway. Then, once, move each backward value read once next to its reader
(`sink.py`, so codegen folds it into that line), and copy the rows that a tape keeps or that
are read after a write into their array (`copies.py`), so the array can be
written in place. Set `verify_each=True` (the test suite does) to check the IR
invariants after every pass.
"""

from __future__ import annotations

from symdiff.ir.names import Names
from symdiff.ir.nodes import Eqn, Function, Var, defined
from symdiff.ir.verify import verify
from symdiff.optimize.copies import copy_rows_past_writes
from symdiff.optimize.cse import cse
from symdiff.optimize.dce import dce
from symdiff.optimize.fold import fold
from symdiff.optimize.hoist import hoist_invariants
from symdiff.optimize.indexes import plain_written_reads
from symdiff.optimize.recompute import recompute_shapes
from symdiff.optimize.shapes import push_shapes
from symdiff.optimize.signs import fold_signs
from symdiff.optimize.simplify import count_from_values, simplify
from symdiff.optimize.sink import sink_single_uses
from symdiff.optimize.tapes import constant_tapes
from symdiff.optimize.walk import rename_values
from symdiff.optimize.writes import drop_unseen_writes

PASSES = (
    fold,
    plain_written_reads,
    simplify,
    push_shapes,
    hoist_invariants,
    constant_tapes,
    recompute_shapes,
    cse,
    drop_unseen_writes,
    dce,
    fold_signs,
    dce,
    count_from_values,
)
verify_each = False


def optimize(function: Function, max_rounds: int = 24) -> Function:
    """Run `PASSES` to a fixed point (at most `max_rounds` rounds)."""
    given = function
    for _ in range(max_rounds):
        before = function
        for transform in PASSES:
            function = transform(function)
            if verify_each:
                verify(function)
        if function == before:
            break
    function = sink_single_uses(keep_result_names(given, function))
    function = copy_rows_past_writes(function)
    if verify_each:
        verify(function)
    return function


def keep_result_names(given: Function, function: Function) -> Function:
    """`function` with each returned value called as `given` called it (`x_bar`, `z_dot`).

    Simplification may return another value in a result's place (`1.0 * tanh(x)` is
    `tanh(x)`, a rule's temporary): that value takes the result's name, so a gradient
    reads `x_bar = np.tanh(x)`, not `log_cosh_1_bar_1 = np.tanh(x)`. Only a value that a
    backward-pass equation at the top level defines, returned once, is renamed.
    """
    if not isinstance(given.result, tuple) and not isinstance(function.result, tuple):
        pairs = [(given.result, function.result)]
    elif isinstance(given.result, tuple) and isinstance(function.result, tuple):
        pairs = list(zip(given.result, function.result))
    else:
        return function
    returned = [a for a in function.results() if isinstance(a, Var)]
    made = {eqn.out.name: eqn for eqn in function.body if isinstance(eqn, Eqn) and len(eqn.outs) == 1}
    names = Names({p.name for p in function.params} | {n for n, _ in function.free})
    names.used |= {v.name for stmt in function.body for v in defined(stmt)}
    mapping: dict[str, Var] = {}
    for old, new in pairs:
        if not (isinstance(old, Var) and isinstance(new, Var)) or old.name.split("~")[0] == new.name.split("~")[0]:
            continue
        eqn = made.get(new.name)
        if eqn is None or not eqn.adjoint or returned.count(new) != 1:
            continue
        mapping[new.name] = Var(names.fresh(old.name.split("~")[0]), new.temp)
    return rename_values(function, mapping)
