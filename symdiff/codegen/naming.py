"""Display names for generated code: a pure function of the statement list.

IR names are unique (`x`, `x~2`, `h_1`, `z_bar~3`); printed names need not be.
Each definition takes its stem (`x`, `z_bar`) when no live value holds that
name, else the first free numbered variant (`z_bar_2`). A name is free again
once the last statement reading its holder has been reached, so
`z_bar = z_bar + z_bar_2` reads naturally and stays correct. Deterministic:
no counters shared between functions, no randomness.
"""

from __future__ import annotations

import keyword


def stem(name: str) -> str:
    """`x~2` -> `x`."""
    return name.split("~")[0]


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
