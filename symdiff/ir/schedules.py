"""What a loop's checkpointing schedule is: the values of `checkpoint=` and the per-loop marker.

Data only, below every pass: the frontend marks loops with `Requested`,
`transforms/checkpoint.py` rewrites loops on a schedule, and the reverse pass
(`transforms/control.py`) differentiates them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Binomial:
    """Binomial checkpointing (Griewank's revolve) of counted loops: at most `snapshots` loop
    states kept at once, or as many as `memory` bytes hold; with neither, the fewest with which
    no iteration runs more than three times. The schedule is `revolve_next` (rules/shapes.py),
    which the generated code calls."""

    snapshots: int | None = None
    memory: int | None = None
    __symdiff_operator__ = True  # made while building when a differentiated function calls it

    def __post_init__(self) -> None:
        for name in ("snapshots", "memory"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
                raise ValueError(f"Binomial({name}=...) must be an int >= 1, got {value!r}")
        if self.snapshots is not None and self.memory is not None:
            raise ValueError("Binomial takes snapshots= or memory=, not both")


Length = int | str | Binomial


def checkpointed(iterable, schedule: Length = "auto"):
    """`for t in symdiff.checkpointed(range(n), schedule):` checkpoints this loop, wherever it
    is (inside another loop or an `if` too), on `schedule` ("auto", a segment length or a
    Binomial), whatever the derivative's own `checkpoint=`. Run as plain Python it is the
    iterable itself."""
    check_length(schedule)
    return iterable


@dataclass(frozen=True)
class Requested:
    """A loop the code marked with `checkpointed` (frontend/control.py), until `segment_loops`
    rewrites it. False, so a pass that meets one unrewritten differentiates the loop as usual."""

    schedule: Length

    def __bool__(self) -> bool:
        return False


def check_length(length: Length) -> Length | None:
    """`checkpoint=` as the transform takes it (None for "none"); refuse anything else than
    "auto", "binomial", "none", a Binomial or a segment length >= 1."""
    if length is None or length == "none":
        return None
    if length == "binomial":
        return Binomial()
    if not (
        length == "auto"
        or isinstance(length, Binomial)
        or (isinstance(length, int) and not isinstance(length, bool) and length >= 1)
    ):
        raise ValueError(
            f"checkpoint must be None, 'none', 'auto', 'binomial', symdiff.Binomial(...) or a segment "
            f"length >= 1, got {length!r}"
        )
    return length


__all__ = ["Binomial", "Length", "Requested", "check_length", "checkpointed"]
