"""Functions built from source text, so derivatives can be composed.

`hvp`, `jvp` and friends are derivatives of small wrapper functions such as
`def f_hvp_of(x, y, v): return np.sum(f_grad(x, y) * v)`. A `SourceFunction`
holds such text with the namespace it runs in, runs like a function, and
exposes `__symdiff_source__` so the frontend can read and differentiate it.
"""

from __future__ import annotations

import inspect
import linecache
from typing import Any


class SourceFunction:
    """A callable defined by generated source text, readable by symdiff's frontend."""

    def __init__(self, text: str, namespace: dict[str, Any], name: str):
        self.text = text
        self.name = self.__name__ = self.__qualname__ = name
        self.__module__ = "symdiff.compose"
        self.filename = f"<symdiff {name}>"
        self.namespace = dict(namespace)
        linecache.cache[self.filename] = (len(text), None, text.splitlines(True), self.filename)
        exec(compile(text, self.filename, "exec"), self.namespace)  # noqa: S102 - our own text
        self._function = self.namespace[name]
        self.__signature__ = inspect.signature(self._function)  # its parameters, not `*args`

    @property
    def __symdiff_source__(self) -> tuple[str, dict, str, str]:
        return self.text, self.namespace, self.filename, self.name

    def __call__(self, *args: Any) -> Any:
        return self._function(*args)


def fresh_param(names: list[str], wanted: str) -> str:
    """`wanted`, or `wanted_2`, ... if a parameter already has that name."""
    name, k = wanted, 1
    while name in names:
        k += 1
        name = f"{wanted}_{k}"
    return name


def identifier(f: Any) -> str:
    """`f`'s name as a Python identifier, for generated wrappers (a lambda's name is `<lambda>`)."""
    name = "".join(c for c in getattr(f, "__name__", "f") if c.isalnum() or c == "_")
    return name if name.isidentifier() else "f"
