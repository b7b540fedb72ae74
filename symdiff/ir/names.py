"""Unique names for one function's IR: `x`, then `x~2`, `x~3` for later versions.

Every stage that adds equations (the frontend, the reverse transform,
broadcast elision, the Numba backend's tape packing) draws its new names here,
seeded with the names the function already uses.
"""

from __future__ import annotations

from collections.abc import Iterable


class Names:
    """The names taken so far; `fresh` hands out the next free version of a base name."""

    def __init__(self, used: Iterable[str] = ()) -> None:
        self.used: set[str] = set(used)

    def fresh(self, base: str) -> str:
        name, k = base, 1
        while name in self.used:
            k += 1
            name = f"{base}~{k}"
        self.used.add(name)
        return name
