"""Unique names for one function's IR: `x`, then `x~2`, `x~3` for later versions.

Every stage that adds equations (the frontend, the reverse transform,
broadcast elision, the Numba backend's tape packing) draws its new names here,
seeded with the names the function already uses.

`fresh` hands out the lowest free version. Scanning from version 1 on every
call made naming quadratic in program length (a 1000-statement function asks
for thousands of versions of `h_bar`), so each base remembers the version
below which every name is known to be taken. Callers add to `used` directly
and the frontend frees a name it did not need with `used.discard`, so `used`
is a set that lowers that mark again when one of its names is freed.
"""

from __future__ import annotations

from collections.abc import Iterable


class _Taken(set):
    """The taken names; freeing one tells `marks` its version is free again."""

    def __init__(self, names: Iterable[str], marks: dict[str, int]) -> None:
        super().__init__(names)
        self.marks = marks

    def discard(self, name: str) -> None:
        super().discard(name)
        self._freed(name)

    def remove(self, name: str) -> None:
        super().remove(name)
        self._freed(name)

    def _freed(self, name: str) -> None:
        self.marks.pop(name, None)  # `name` itself was version 1 of base `name`
        base, _, version = name.rpartition("~")
        if base and version.isdigit() and base in self.marks:
            self.marks[base] = min(self.marks[base], int(version))

    # Anything else that can shrink the set forgets every mark (none of symdiff's callers do it).
    def pop(self) -> str:
        self.marks.clear()
        return super().pop()

    def clear(self) -> None:
        self.marks.clear()
        super().clear()

    def __isub__(self, other):
        self.marks.clear()
        return super().__isub__(other)

    def __iand__(self, other):
        self.marks.clear()
        return super().__iand__(other)

    def __ixor__(self, other):
        self.marks.clear()
        return super().__ixor__(other)

    def difference_update(self, *others) -> None:
        self.marks.clear()
        super().difference_update(*others)

    def intersection_update(self, *others) -> None:
        self.marks.clear()
        super().intersection_update(*others)

    def symmetric_difference_update(self, other) -> None:
        self.marks.clear()
        super().symmetric_difference_update(other)


class Names:
    """The names taken so far; `fresh` hands out the next free version of a base name.

    >>> names = Names(["h"])
    >>> names.fresh("h"), names.fresh("h"), names.fresh("w")
    ('h~2', 'h~3', 'w')
    """

    def __init__(self, used: Iterable[str] = ()) -> None:
        self.used = used

    @property
    def used(self) -> set[str]:
        """The taken names (a set; add to it, discard from it or replace it freely)."""
        return self._used

    @used.setter
    def used(self, names: Iterable[str]) -> None:
        if not isinstance(names, _Taken) or names is not getattr(self, "_used", None):
            self._marks: dict[str, int] = {}  # base -> every version below this one is taken
            names = _Taken(names, self._marks)
        self._used = names

    def fresh_parameter(self, base: str) -> str:
        """A new name that is also a Python identifier (`x_bar`, then `x_bar_2`): a parameter keeps its
        name in the generated signature, where the `~` versions of other names are never printed."""
        name, k = base, 1
        while name in self._used:
            k += 1
            name = f"{base}_{k}"
        self._used.add(name)
        return name

    def fresh(self, base: str) -> str:
        k = self._marks.get(base, 1)
        name = base if k == 1 else f"{base}~{k}"
        while name in self._used:
            k += 1
            name = f"{base}~{k}"
        self._used.add(name)
        self._marks[base] = k + 1
        return name
