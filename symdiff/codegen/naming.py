"""Display names for generated code: a pure function of the statement list.

IR names are unique (`x`, `x~2`, `h_1`, `z_bar~3`); printed names need not be.
Each definition takes its stem (`x`, `z_bar`) when no live value holds that
name, else the first free numbered variant (`z_bar_2`). A name is free again
once the last statement reading its holder has been reached, so
`z_bar = z_bar + z_bar_2` reads naturally and stays correct. Deterministic:
no counters shared between functions, no randomness.
"""

from __future__ import annotations

import builtins
import keyword
from collections.abc import Iterable, Sequence


def stem(name: str) -> str:
    """`x~2` -> `x`."""
    return name.split("~")[0]


def assign_names(
    params: Sequence[str],
    statements: Sequence[tuple[Sequence[str], Iterable[str]]],
    results: Iterable[str],
    reserved: Iterable[str] = (),
) -> dict[str, str]:
    """Map IR names to display names.

    `statements` lists, in order, (names defined, names read) per statement;
    the definitions of a statement happen after its reads.
    """
    last_use: dict[str, int] = {}
    for index, (_, reads) in enumerate(statements):
        for name in reads:
            last_use[name] = index
    end = len(statements)
    for name in results:
        last_use[name] = end
    taken = set(reserved) | set(keyword.kwlist)
    holder: dict[str, str] = {}
    display: dict[str, str] = {}
    for param in params:
        display[param] = param
        holder[param] = param
    for index, (defs, _) in enumerate(statements):
        for name in defs:
            display[name] = _pick(stem(name), index, holder, last_use, taken, display)
            holder[display[name]] = name
    return display


def _pick(base: str, index: int, holder, last_use, taken, display) -> str:
    k = 1
    while True:
        candidate = base if k == 1 else f"{base}_{k}"
        current = holder.get(candidate)
        free = current is None or last_use.get(current, -1) <= index
        if candidate not in taken and free and not (current is None and candidate in vars(builtins) and k == 1 and base != candidate):
            return candidate
        k += 1


def pick(base: str, index: int, holder: dict, last_use: dict, taken: set) -> str:
    """The first of `base`, `base_2`, ... that no live value holds at statement `index`."""
    k = 1
    while True:
        candidate = base if k == 1 else f"{base}_{k}"
        current = holder.get(candidate)
        if candidate not in taken and candidate not in keyword.kwlist and (
            current is None or last_use.get(current, -1) <= index
        ):
            return candidate
        k += 1
