"""Data-parallel gradients over Dask arrays: one generated gradient per row block, summed in a tree.

`value_and_grad(f, wrt, data=(1, 2))` differentiates `f` once, here, and ships
the generated value-and-gradient module to Dask's workers as source text (a
`Program`); each worker process compiles it once, keyed by a hash of the text
(`compiled`), and runs it on its row blocks of the `data` arguments. The
partial values and gradients are added up in a tree of `split_every` at a
time, and averaged by rows for `reduce="mean"`. Parameters and the program
each enter the task graph once per call, as one key every block task reads.

Dask is optional (the `distributed` extra): it is imported inside the
functions that need it, so this module and `import symdiff` load without it.
This module sits in the "built on api" layer: it imports `api` and `errors`,
and nothing imports it but users (not even the package root).
"""

from __future__ import annotations

import hashlib
import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from symdiff.api import Wrt, _check_differentiable, _generated_once, _like, build, emit
from symdiff.backends.cache import import_file, store
from symdiff.errors import BadPartition, BadWrt
from symdiff.structured import CONTAINERS

Reduce = Literal["sum", "mean"]
_PROGRAMS: dict[str, Callable] = {}  # digest of a Program's source -> its function, one per process


@dataclass(frozen=True)
class Program:
    """A generated module as text, and the name of the function in it: what the workers receive."""

    source: str
    name: str
    digest: str  # sha256 of `source`: the compile cache's key


def compiled(program: Program) -> Callable:
    """The function `program.name` of `program.source`, compiled once per process.

    The source goes into symdiff's own cache (backends/cache.py: a private directory, written
    atomically, imported from the text it holds), so every process on a machine shares the file
    and, for `backend="numba"`, the machine code; `symdiff cache clear` removes it.
    """
    function = _PROGRAMS.get(program.digest)
    if function is None:
        module = import_file(store(program.name, program.source, program.digest[:24]), program.source)
        function = _PROGRAMS[program.digest] = getattr(module, program.name)
    return function


def block_value_and_grad(program: Program, shared: tuple, positions: tuple[int, ...], mean: bool, *blocks: Any):
    """`(value, gradients, rows)` of one row block: the generated function on the shared arguments with
    the block's rows put at `positions`. For `mean`, value and gradients are weighted by the rows."""
    args = list(shared)
    for position, block in zip(positions, blocks):
        args.insert(position, block)
    value, gradients = compiled(program)(*args)
    rows = len(blocks[0])
    if mean:
        value, gradients = _scaled((value, gradients), rows)
    return value, gradients, rows


def _scaled(tree: Any, factor: float) -> Any:
    if isinstance(tree, tuple):
        return tuple(_scaled(leaf, factor) for leaf in tree)
    return tree * factor


def _added(first: Any, second: Any) -> Any:
    if isinstance(first, tuple):
        return tuple(_added(a, b) for a, b in zip(first, second))
    return first + second


def add_partials(*partials: tuple) -> tuple:
    """The sum of several blocks' `(value, gradients, rows)`."""
    total = partials[0]
    for partial in partials[1:]:
        total = _added(total, partial)
    return total


def finish(total: tuple, mean: bool, dtypes: tuple, several: bool) -> tuple:
    """`(value, gradients)` from the summed partials: divided by the rows for `mean`, each gradient in
    its parameter's floating dtype (float32 in, float32 out, as `symdiff.value_and_grad` returns)."""
    value, gradients, rows = total
    if mean:
        value, gradients = _scaled((value, gradients), 1.0 / rows)
    cast = tuple(_like(g, like) for g, like in zip(gradients if several else (gradients,), dtypes))
    return value, cast if several else cast[0]


def _dtype_of(parameter: Any) -> Any:
    """What `finish` needs to cast a gradient like `parameter` (`_like`): the parameter itself when it
    is a scalar, an empty array of its dtype when it is an array, so the graph holds its values once."""
    return np.empty(0, parameter.dtype) if isinstance(parameter, np.ndarray) else parameter


class DistributedValueAndGrad:
    """`f`'s value and gradient over Dask arrays split by rows; call it like `f`.

    Built by `value_and_grad`; `.source` is the module the workers run,
    `.primal` the function, `.wrt` and `.data` the argument names.
    """

    def __init__(
        self, f: Callable, wrt: Wrt, data: Sequence[int | str], reduce: Reduce, backend: str, split_every: int
    ):
        if reduce not in ("sum", "mean"):
            raise ValueError(f"reduce must be 'sum' or 'mean', got {reduce!r}")
        if split_every < 2:
            raise ValueError(f"split_every must be at least 2, got {split_every}")
        derivative = _generated_once(build(f, wrt, "value_and_grad", backend, True, None))
        names = [p.name for p in derivative.function.params]
        self.primal, self.wrt, self.backend = f, derivative.wrt, backend
        self.data = tuple(names[k] for k in sorted(set(_positions(names, data, "data"))))  # in argument order
        clash = sorted(set(self.wrt) & set(self.data))
        if clash:
            raise BadWrt(f"{', '.join(clash)} is both in wrt and in data: data arguments are not differentiated")
        source = emit(f, wrt=wrt, mode="value_and_grad", backend=backend)
        digest = hashlib.sha256(source.encode()).hexdigest()
        self.program = Program(source, derivative.function.name, digest)
        self.reduce, self.split_every = reduce, split_every
        self._names, self._several = names, isinstance(wrt, (tuple, list))
        self._signature = inspect.signature(f)

    @property
    def source(self) -> str:
        """The text of the module each worker compiles (`symdiff.emit` of `f`, mode value_and_grad)."""
        return self.program.source

    def __call__(self, *args: Any, **kwargs: Any) -> tuple[Any, Any]:
        """`(value, gradients)` over every row block, computed by the active Dask client or scheduler."""
        dask, _ = _dask()
        (result,) = dask.compute(self.lazy(*args, **kwargs))
        return result

    def lazy(self, *args: Any, **kwargs: Any):
        """The same result as a `dask.delayed` object, to `.compute()` or `client.compute(...)` later."""
        values = self._bound(args, kwargs)  # checked before Dask is needed
        dask, _ = _dask()
        positions = tuple(self._names.index(name) for name in self.data)
        blocks = _row_blocks({name: values[k] for name, k in zip(self.data, positions)})
        shared = tuple(v for k, v in enumerate(values) if k not in positions)
        program = dask.delayed(self.program, pure=True, traverse=False)  # one key per call, not per block
        shared_key = dask.delayed(shared, pure=True, traverse=False)
        run = dask.delayed(block_value_and_grad, pure=True)
        mean = self.reduce == "mean"
        parts = [run(program, shared_key, positions, mean, *row) for row in blocks]
        add = dask.delayed(add_partials, pure=True)
        while len(parts) > 1:
            parts = [add(*parts[k : k + self.split_every]) for k in range(0, len(parts), self.split_every)]
        dtypes = tuple(_dtype_of(values[self._names.index(name)]) for name in self.wrt)
        return dask.delayed(finish, pure=True)(parts[0], mean, dtypes, self._several)

    def _bound(self, args: tuple, kwargs: dict) -> list:
        bound = self._signature.bind(*args, **kwargs)
        bound.apply_defaults()
        values = list(bound.arguments.values())
        for name, value in zip(self._names, values):
            if type(value) in CONTAINERS:  # the shipped module holds one function, built for arrays
                raise BadWrt(
                    f"argument {name!r} is a {type(value).__name__}: symdiff.distributed takes arrays and floats",
                    hint="pack lists, tuples and dicts of arrays into one array (np.concatenate of the ravelled parts)",
                )
        for name in self.wrt:
            _check_differentiable(values[self._names.index(name)], name)
        return values

    def __repr__(self) -> str:
        return f"<symdiff.distributed.value_and_grad of {self.program.name} over {', '.join(self.data)}>"


def _dask():
    """The modules `dask` and `dask.array`, or an ImportError that says how to install them."""
    try:
        import dask
        import dask.array
    except ImportError as error:
        raise ImportError(
            f"symdiff.distributed needs Dask ({error}): pip install 'symdiff[distributed]' (dask[array], distributed)"
        ) from error
    return dask, dask.array


def _positions(names: list[str], chosen: Sequence[int | str] | int | str, what: str) -> list[int]:
    chosen = [chosen] if isinstance(chosen, (int, str)) else list(chosen)
    if not chosen:
        raise BadWrt(f"{what} names no argument", hint="pass argument positions or names, e.g. data=(1, 2)")
    found = []
    for item in chosen:
        if isinstance(item, str) and item in names:
            found.append(names.index(item))
        elif isinstance(item, int) and not isinstance(item, bool) and 0 <= item < len(names):
            found.append(item)
        else:
            raise BadWrt(f"{what}={item!r} names no argument; the arguments are {', '.join(names)}")
    return found


def _row_blocks(data: dict[str, Any]) -> list[tuple]:
    """One tuple of delayed blocks per row block, the data arguments' blocks side by side.

    Every argument must be a Dask array with the same row chunks; its other
    axes are joined into one chunk, so a block holds whole rows. Empty row
    blocks are left out (a mean over none of them would be nan).
    """
    _, da = _dask()
    for name, value in data.items():
        if not isinstance(value, da.Array):
            raise BadPartition(
                f"data argument {name!r} is a {type(value).__module__}.{type(value).__qualname__}, not a dask array split by rows",
                hint=f"pass dask.array.from_array({name}, chunks=(rows_per_block, ...)), with the same row chunks "
                "for every data argument",
            )
        if value.ndim == 0:
            raise BadPartition(f"data argument {name!r} is a 0-d array: it has no rows to split")
    chunks = {name: value.chunks[0] for name, value in data.items()}
    first, rows = next(iter(chunks.items()))
    for name, other in chunks.items():
        if any(np.isnan(n) for n in other):
            raise BadPartition(
                f"data argument {name!r} has unknown row chunk sizes",
                hint=f"call {name}.compute_chunk_sizes() first",
            )
        if other != rows:
            raise BadPartition(
                f"data arguments {first!r} and {name!r} are split into different row blocks: "
                f"{_describe(rows)} against {_describe(other)}"
            )
    whole = [value.rechunk({axis: -1 for axis in range(1, value.ndim)}) for value in data.values()]
    columns = [value.to_delayed().reshape(len(rows)) for value in whole]
    kept = [k for k, n in enumerate(rows) if n > 0]
    if not kept:
        raise BadPartition(f"data argument {first!r} has no rows")
    return [tuple(column[k] for column in columns) for k in kept]


def _describe(chunks: tuple[int, ...]) -> str:
    shown = ", ".join(str(n) for n in chunks[:6]) + (", ..." if len(chunks) > 6 else "")
    return f"{len(chunks)} blocks of ({shown}) rows"


def value_and_grad(
    f: Callable,
    wrt: Wrt = 0,
    data: Sequence[int | str] | int | str = (1, 2),
    *,
    reduce: Reduce = "sum",
    backend: str = "numpy",
    split_every: int = 8,
) -> DistributedValueAndGrad:
    """`f`'s value and gradient summed (or averaged) over Dask arrays partitioned by rows.

    `wrt` is as in `symdiff.value_and_grad` (a tuple gives a tuple of
    gradients); `data` names the arguments that arrive as Dask arrays, all
    split at the same rows. With `reduce="sum"` the result is the sum of `f`
    over the row blocks (right for a loss written as a sum over rows);
    with `"mean"`, the blocks' values averaged with their rows as weights
    (right for a loss written as a mean). Either way it equals `f` on the
    whole arrays. The work runs on the active `dask.distributed` client if
    there is one, else on Dask's default scheduler. Example::

        vg = symdiff.distributed.value_and_grad(loss, wrt="w", data=("x", "y"), reduce="mean")
        x = dask.array.from_array(x_numpy, chunks=(100_000, -1))
        y = dask.array.from_array(y_numpy, chunks=100_000)
        value, dw = vg(w, x, y)  # as sd.value_and_grad(loss)(w, x_numpy, y_numpy)
    """
    return DistributedValueAndGrad(f, wrt, data, reduce, backend, split_every)


__all__ = ["DistributedValueAndGrad", "Program", "compiled", "value_and_grad"]
