"""The optimisation pipeline, written out in one place.

Passes run in this order until the program stops changing (compared as IR
values, not printed text): fold constants, read written cotangents plainly
where no index repeats, simplify, push shape queries
down to operands, share common subexpressions, drop loop element writes
nothing reads back, drop dead code, fold negations into neighbouring
arithmetic, drop what that left dead, count a mean's elements on a value computed
anyway. Then, once, copy the rows that a tape keeps or that
are read after a write into their array (`copies.py`), so the array can be
written in place. Set `verify_each=True` (the test suite does) to check the IR
invariants after every pass.
"""

from __future__ import annotations

from symdiff.ir.nodes import Function
from symdiff.ir.verify import verify
from symdiff.optimize.copies import copy_rows_past_writes
from symdiff.optimize.cse import cse
from symdiff.optimize.dce import dce
from symdiff.optimize.fold import fold
from symdiff.optimize.indexes import plain_written_reads
from symdiff.optimize.shapes import push_shapes
from symdiff.optimize.signs import fold_signs
from symdiff.optimize.simplify import count_from_values, simplify
from symdiff.optimize.writes import drop_unseen_writes

PASSES = (fold, plain_written_reads, simplify, push_shapes, cse, drop_unseen_writes, dce, fold_signs, dce, count_from_values)
verify_each = False


def optimize(function: Function, max_rounds: int = 24) -> Function:
    """Run `PASSES` to a fixed point (at most `max_rounds` rounds)."""
    for _ in range(max_rounds):
        before = function
        for transform in PASSES:
            function = transform(function)
            if verify_each:
                verify(function)
        if function == before:
            break
    function = copy_rows_past_writes(function)
    if verify_each:
        verify(function)
    return function
