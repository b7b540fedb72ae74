"""Many directions in one compiled call: the Numba backend's dense and compressed Jacobians and Hessians.

The NumPy backend evaluates k directions at once with its tangents batched on
a leading axis (build mode "tangents"). That code is rank-generic: it branches
on `np.ndim` and builds shapes as tuples at run time, which Numba cannot type.
Here the directions are looped over in machine code instead: one `@njit`
function calls the compiled product (a Hessian-vector product, the tangent
of a jvp, or a vjp) once per direction and writes each result into one
array. Between directions there is no Python; the product is compiled once
for the direction's type and its machine code comes from Numba's disk cache
like any gradient's. Each direction repeats the product's forward pass, which
the NumPy batched pass shares: where k is large and the function is array
code, the NumPy backend's batched pass can be faster (docs/higher-order.md
has figures).

`over_directions(runner, arity)` returns the loop for a compiled product, or
None where the product is called through Python (defaults, the NumPy
fallback, parallel mode) and the caller takes one product per direction.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numba
import numpy as np

from symdiff.backends.numba.errors import NumbaCompileError


def over_directions(runner: Callable, arity: int) -> Callable | None:
    """`loop(*args, seeds)`: `runner(*args, seed)` for every row `seed` of `seeds`, stacked on a
    first axis, in one compiled call. `arity` counts the product's parameters, the direction (its
    last) included; module constants, which the runner appends, are passed through.
    None where the runner wraps the product in Python for more than its constants."""
    jitted = getattr(runner, "jitted", None)
    call = getattr(runner, "call", None)
    if jitted is None or (runner is not jitted and call is None):
        return None
    constants = () if call is None else call.constants
    names = [f"a{k}" for k in range(arity - 1)]
    given = [f"c{k}" for k in range(len(constants))]
    passed = ", ".join([*names, "seeds[{i}]", *given])
    source = (
        f"def over_directions({', '.join([*names, 'seeds', *given])}):\n"
        f"    count = seeds.shape[0]\n"
        f"    first = product({passed.format(i=0)})\n"
        f"    out = np.empty((count,) + first.shape, dtype=first.dtype)\n"
        f"    out[0] = first\n"
        f"    for i in range(1, count):\n"
        f"        out[i] = product({passed.format(i='i')})\n"
        f"    return out\n"
    )
    namespace: dict[str, Any] = {"np": np, "product": jitted}
    exec(compile(source, f"<symdiff over_directions of {jitted.__name__}>", "exec"), namespace)  # noqa: S102
    loop = numba.njit(error_model="numpy")(namespace["over_directions"])

    def run(*args: Any) -> np.ndarray:
        try:
            return loop(*args, *constants)
        except numba.core.errors.NumbaError as error:  # typing or lowering, for these argument types
            raise NumbaCompileError(f"numba cannot compile the loop over directions of {jitted.__name__}: {error}")

    run.source = source
    run.jitted = loop  # the numba dispatcher, for inspection
    return run


__all__ = ["over_directions"]
