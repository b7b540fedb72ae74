"""Checkpointing: long counted loops differentiated in memory that grows as the square root.

Reverse mode saves, in every iteration, each value the backward pass reads:
a loop of T steps keeps T of each. `segment_loops` splits a counted loop of
the function's body into segments of `length` iterations, an outer loop over
the segments around an inner loop over one segment's iterations, and marks
the outer loop `checkpoint`:

    for segment in range(segments):              # checkpointed
        for i in range(lo, hi, step):            # the user's loop, unchanged
            ...

The reverse pass (`transforms/control.py`) then saves only the carried values
at the start of each segment, and when it differentiates a segment it runs
that segment's iterations again from them, saving as usual, before the
segment's backward loop. With `length` about the square root of T the
memory is about 2 sqrt(T) iterations' values instead of T, for one more
forward pass; the derivative is the same to the last bit, since the same
operations run on the same values. "auto" takes `length` = isqrt(T), T known
when running.
"""

from __future__ import annotations

from dataclasses import replace

from symdiff.errors import UnsupportedSyntax
from symdiff.ir.names import Names
from symdiff.ir.nodes import Atom, Const, Eqn, Function, If, Loop, Var, defined, loops, reads, walk
from symdiff.ir.schedules import Binomial, Length, Requested, check_length, checkpointed
from symdiff.rules.opaque import OP as OPAQUE
from symdiff.transforms.inline import renamed


def segment_loops(function: Function, length: Length | None) -> Function:
    """`function` with each counted loop of its top level that runs forwards in segments of
    `length` iterations (an int >= 1, or "auto" for the square root of its trip count), or
    marked for binomial checkpointing (a Binomial)."""
    length = check_length(length)
    if length is None and not any(isinstance(loop.checkpoint, Requested) for loop in loops(function.body)):
        return function
    names = Names([p.name for p in function.params] + [n for n, _ in function.free])
    names.used |= {v.name for stmt in function.body for v in defined(stmt)}
    return replace(function, body=_rewritten(function.body, length, names))


def _rewritten(block, length: Length | None, names: Names) -> tuple:
    """`block` with its loops checkpointed: those the code marked, at any depth, on their own
    schedule, and the others of this block on `length` (None: none)."""
    body = []
    for stmt in block:
        if isinstance(stmt, If):
            stmt = replace(
                stmt,
                then_body=_rewritten(stmt.then_body, None, names),
                else_body=_rewritten(stmt.else_body, None, names),
            )
        elif isinstance(stmt, Loop):
            stmt = replace(stmt, body=_rewritten(stmt.body, None, names))
            if isinstance(stmt.checkpoint, Requested):
                body.extend(
                    _checkpointed(replace(stmt, checkpoint=False), check_length(stmt.checkpoint.schedule), names)
                )
                continue
        body.extend(_checkpointed(stmt, length, names) if length is not None else [stmt])
    return tuple(body)


def _checkpointed(stmt, length: Length, names: Names) -> list:
    """`stmt` checkpointed on `length` where it is a loop that can be, as statements."""
    if not isinstance(stmt, Loop) or not stmt.carried:
        return [stmt]
    counted, while_loop = _segmentable(stmt), stmt.index is None
    if counted or while_loop:
        _refuse_draws(stmt)
    if counted and isinstance(length, Binomial):
        return _counted_from_zero(stmt, length, names)
    if counted:
        return _segmented(stmt, length, names)
    if while_loop and isinstance(length, int):
        return [_segmented_while(stmt, length, names)]
    if while_loop:  # "auto" or a Binomial: counted first
        return _counted_while(stmt, length if isinstance(length, Binomial) else Binomial(), names)
    return [stmt]


def _segmentable(loop: Loop) -> bool:
    """A counted loop running forwards by a constant positive step, with values it carries."""
    if loop.index is None or loop.reverse or not loop.carried:
        return False
    step = loop.bounds[2]
    return isinstance(step, Const) and isinstance(step.value, int) and step.value > 0


def _refuse_draws(loop: Loop) -> None:
    """A segment run again must compute what it computed the first time: a random draw would not."""
    for eqn in walk(loop.body + loop.cond_body):
        if eqn.op == OPAQUE:
            callee = eqn.static_dict()["callee"].value
            raise UnsupportedSyntax(
                f"this loop calls {callee}(), which runs as it is (a random draw gives new numbers each time): "
                "a checkpointed segment, run again, would not see the values the first run saw",
                eqn.loc,
                "draw the numbers before the loop and pass them in, or leave checkpoint= out",
            )


def _trips(loop: Loop, emit) -> Atom:
    """max(ceil((stop - start) / step), 0): the loop's trip count."""
    start, stop, step = loop.bounds
    span = emit("sub", (stop, start), "span")
    if step.value != 1:
        span = emit("floordiv", (emit("add", (span, Const(step.value - 1)), "span"), step), "span")
    return emit("maximum", (span, Const(0)), "trips")


def _counted_from_zero(loop: Loop, schedule: Binomial, names: Names) -> list:
    """The loop as `for k in range(trips)` with its own index computed from k, marked for a
    binomial schedule: the schedule's positions are iteration numbers."""
    start, _, step = loop.bounds
    out: list = []

    def emit(op: str, ins, stem: str) -> Var:
        var = Var(names.fresh(stem), temp=True)
        out.append(Eqn((var,), op, tuple(ins), (), loop.loc))
        return var

    trips = _trips(loop, emit)
    count = Var(names.fresh(loop.index.name.split("~")[0]))
    offset = Var(names.fresh("offset"), temp=True)
    index = (
        Eqn((offset,), "mul", (count, step), (), loop.loc),
        Eqn((loop.index,), "add", (start, offset), (), loop.loc),
    )
    out.append(
        replace(loop, index=count, bounds=(Const(0), trips, Const(1)), body=index + loop.body, checkpoint=schedule)
    )
    return out


def _counted_while(loop: Loop, schedule: Binomial, names: Names) -> list:
    """A `while` loop whose trip count is known only when it ends: it runs once as written,
    counting its iterations and keeping nothing, then again as a counted loop from the same
    values (the same operations on the same values: the same results), which the binomial
    schedule differentiates. One more forward pass than a counted loop."""
    loc = loop.loc
    fresh = {v.name: Var(names.fresh(v.name.split("~")[0]), v.temp) for v in defined(loop)}
    count, stepped, trips = Var(names.fresh("trips")), Var(names.fresh("trips")), Var(names.fresh("trips"))
    counting = renamed(loop, fresh)
    counting = replace(
        counting, outs=counting.outs + (trips,), carried=counting.carried + (count,), inits=loop.inits + (Const(0),),
        body=counting.body + (Eqn((stepped,), "add", (count, Const(1)), (), loc),),
        results=counting.results + (stepped,),
    )  # fmt: skip
    read = {a.name for stmt in loop.body for a in reads(stmt) if isinstance(a, Var)}
    needs_test = any(v.name in read for stmt in loop.cond_body for v in defined(stmt))
    index = Var(names.fresh("step"))
    counted = replace(
        loop, body=(loop.cond_body if needs_test else ()) + loop.body, index=index,
        bounds=(Const(0), trips, Const(1)), cond_body=(), cond=None, checkpoint=schedule,
    )  # fmt: skip
    return [counting, counted]


def _segmented(loop: Loop, length: Length, names: Names) -> list:
    start, stop, step = loop.bounds
    loc = loop.loc
    out: list = []

    def emit(op: str, ins, stem: str) -> Var:
        var = Var(names.fresh(stem), temp=True)
        out.append(Eqn((var,), op, tuple(ins), (), loc))
        return var

    trips = _trips(loop, emit)  # then the segment length and count
    if length == "auto":
        root = emit("int", (emit("sqrt", (trips,), "root"),), "root")
        size: Atom = emit("maximum", (root, Const(1)), "segment_length")
    else:
        size = Const(length)
    segments = emit(
        "floordiv", (emit("add", (trips, emit("sub", (size, Const(1)), "count")), "count"), size), "segments"
    )
    stride = size if step.value == 1 else emit("mul", (size, step), "stride")
    segment = Var(names.fresh("segment"))
    at_start = tuple(Var(names.fresh(c.name.split("~")[0])) for c in loop.carried)
    inner_body: list = []
    lo = Var(names.fresh("lo"), temp=True)
    hi = Var(names.fresh("hi"), temp=True)
    offset = Var(names.fresh("offset"), temp=True)
    reach = Var(names.fresh("reach"), temp=True)
    inner_body.append(Eqn((offset,), "mul", (segment, stride), (), loc))
    inner_body.append(Eqn((lo,), "add", (start, offset), (), loc))
    inner_body.append(Eqn((reach,), "add", (lo, stride), (), loc))
    inner_body.append(Eqn((hi,), "minimum", (reach, stop), (), loc))
    inner_outs = tuple(Var(names.fresh(c.name.split("~")[0])) for c in loop.carried)
    inner = replace(loop, outs=inner_outs, inits=at_start, bounds=(lo, hi, step))
    inner_body.append(inner)
    outer = Loop(
        loop.outs, at_start, loop.inits, tuple(inner_body), inner_outs, segment, (Const(0), segments, Const(1)),
        loc=loc, checkpoint=True,
    )  # fmt: skip
    out.append(outer)
    return out


def _segmented_while(loop: Loop, length: int, names: Names) -> Loop:
    """`while cond: body` as a checkpointed loop over segments, each an inner `while` that also
    stops after `length` iterations (the trip count is known only as the loop runs)."""
    loc = loop.loc

    def fresh(var: Var) -> Var:
        return Var(names.fresh(var.name.split("~")[0]), var.temp)

    at_start = tuple(fresh(c) for c in loop.carried)
    # the outer test: the loop's own condition, on the values a segment starts from
    renaming = {c.name: s for c, s in zip(loop.carried, at_start)}
    renaming |= {v.name: fresh(v) for stmt in loop.cond_body for v in defined(stmt)}
    outer_test = tuple(renamed(stmt, renaming) for stmt in loop.cond_body)
    outer_cond = renaming.get(loop.cond.name, loop.cond) if isinstance(loop.cond, Var) else loop.cond
    # the inner loop: the same condition, and fewer than `length` steps taken in this segment
    count, stepped, counted = Var(names.fresh("steps")), Var(names.fresh("steps")), Var(names.fresh("steps"))
    below, go = Var(names.fresh("in_segment"), temp=True), Var(names.fresh("go"), temp=True)
    inner_test = loop.cond_body + (
        Eqn((below,), "lt", (count, Const(length)), (), loc),
        Eqn((go,), "logical_and", (loop.cond, below), (), loc),
    )
    inner_outs = tuple(fresh(c) for c in loop.carried)
    inner = replace(
        loop, outs=inner_outs + (counted,), carried=loop.carried + (count,), inits=at_start + (Const(0),),
        body=loop.body + (Eqn((stepped,), "add", (count, Const(1)), (), loc),), results=loop.results + (stepped,),
        cond_body=inner_test, cond=go,
    )  # fmt: skip
    return Loop(
        loop.outs, at_start, loop.inits, (inner,), inner_outs, None, (), outer_test, outer_cond, loc=loc,
        checkpoint=True,
    )  # fmt: skip


__all__ = ["Binomial", "Length", "Requested", "check_length", "checkpointed", "segment_loops"]
