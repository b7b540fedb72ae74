"""Display names for generated code: a pure function of the statement list.

IR names are unique (`x`, `x~2`, `h_1`, `z_bar~3`); printed names need not be.
Each definition takes its stem (`x`, `z_bar`) when no live value holds that
name, else the first free numbered variant (`z_bar_2`). A name is free again
once the last statement reading its holder has been reached, so
`z_bar = z_bar + z_bar_2` reads naturally and stays correct. Deterministic:
no counters shared between functions, no randomness.
"""

from __future__ import annotations

import heapq
import keyword


def stem(name: str) -> str:
    """`x~2` -> `x`."""
    return name.split("~")[0]


class _Versions:
    """What one base's earlier scans found: versions below `next` were all looked at; each
    is then either held (`busy`: a heap of (last statement reading its holder, version))
    or was free (`free`: a heap of versions). Either may be stale; `pick` checks."""

    __slots__ = ("busy", "free", "next")

    def __init__(self) -> None:
        self.next = 1
        self.busy: list[tuple[int, int]] = []
        self.free: list[int] = []


class NamePicker:
    """Hands out display names: for a value defined at statement `index`, the first of
    `base`, `base_2`, ... that no live value holds.

    `holder` maps a display name to the value holding it and `last_use` a value
    to the last statement that reads it. Scanning from `base` on every call is
    quadratic when many values of one stem are live at once (a long unrolled
    function saves hundreds of versions of `x` for its backward pass), so each
    base keeps the versions it has seen in two heaps, held ones ordered by when
    they are freed: a call looks only at versions freed since, then scans on from
    where the last scan stopped. The answer is the same as a scan from `base`.
    """

    def __init__(self, holder: dict, last_use: dict, taken: set):
        self.holder, self.last_use, self.taken = holder, last_use, taken
        self.versions: dict[str, _Versions] = {}

    def pick(self, base: str, index: int, name: str) -> str:
        """The display name for `name`, defined at statement `index`; `name` holds it from now on."""
        seen = self.versions.setdefault(base, _Versions())
        while seen.busy and seen.busy[0][0] <= index:
            heapq.heappush(seen.free, heapq.heappop(seen.busy)[1])
        k = None
        while seen.free and k is None:
            version = heapq.heappop(seen.free)
            release = self._release(_version(base, version))
            if release <= index:
                k = version
            else:  # held again since (a name another base picked)
                heapq.heappush(seen.busy, (release, version))
        if k is None:
            k = seen.next
            while True:
                candidate = _version(base, k)
                if candidate not in self.taken and not keyword.iskeyword(candidate):
                    release = self._release(candidate)
                    if release <= index:
                        break
                    heapq.heappush(seen.busy, (release, k))
                k += 1
            seen.next = k + 1
        candidate = _version(base, k)
        self.holder[candidate] = name
        heapq.heappush(seen.busy, (self.last_use.get(name, -1), k))
        return candidate

    def hold(self, display: str, name: str) -> None:
        """`name` takes the display name `display` (chosen otherwise than by `pick`)."""
        self.holder[display] = name
        self.versions.pop(display, None)  # `display` is version 1 of its own base
        base, _, version = display.rpartition("_")
        if version.isdigit():
            self.versions.pop(base, None)

    def _release(self, candidate: str) -> int:
        """The last statement that reads the value holding `candidate` (-1: none holds it)."""
        current = self.holder.get(candidate)
        return -1 if current is None else self.last_use.get(current, -1)


def _version(base: str, k: int) -> str:
    return base if k == 1 else f"{base}_{k}"
