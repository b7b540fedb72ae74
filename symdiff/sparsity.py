"""Sparsity: the pattern of a Jacobian or Hessian, a colouring, and a compressed pass's plan.

A banded Hessian of n = 10^5 has a few nonzeros per row, yet a dense one costs n
products and n^2 numbers. Here:

1. **Pattern.** The generated code (the gradient for a Hessian, the forward-mode
   function for a Jacobian, as a standalone module) runs once on an array of
   index sets instead of numbers: element k of x is `{k}`, and every operation
   yields the union of the sets it reads. NumPy's object arrays carry the sets
   through indexing, reductions, products and element writes unchanged; the
   `np` the module sees joins sets in every ufunc. A comparison yields a
   condition with no set (its derivative is zero), `np.where` on such a
   condition takes both arms, and an `if` or `while` on one is run every way
   its outcomes can combine (at most 64 runs), the patterns joined. An index
   or a sort order read from x stops the trace with `NoSparsityPattern`: the
   pattern would hold for this x only. The pattern is an over-estimate where
   values cancel, never an under-estimate, so the recovered matrix is exact.
2. **Colouring** (`coloring.py`). Columns that share no row get one colour
   (greedy, distance-1 on the column intersection graph, as in Curtis, Powell
   and Reid): a banded matrix of bandwidth b takes 2b + 1 colours whatever n
   is. A Hessian may take a star or an acyclic colouring instead.
3. **Compressed pass** (`Compression`, in `coloring.py`). One batched
   forward-mode evaluation along the c sums of unit vectors of a colour
   (`hessian`'s forward over reverse, or `jacobian`'s forward mode, with c
   directions instead of n). Entry (i, j) is row i of the product for j's
   colour (or its mirror's, or solved along a two-coloured tree).

`sparse.py` returns the matrix as `scipy.sparse`; `higher.py`'s dense `hessian`
and `jacobian` ask `Sparsity` whether a compressed pass would save at least half
of their directions, and fill a dense matrix from it when it does.
"""

from __future__ import annotations

import hashlib
import traceback
import types
from collections.abc import Callable
from itertools import chain
from typing import TYPE_CHECKING, Any

import numpy as np

from symdiff.api import Derivative
from symdiff.codegen.standalone import module_source
from symdiff.coloring import Compression
from symdiff.errors import NoSparsityPattern
from symdiff.structured import Deferred

if TYPE_CHECKING:  # SciPy is imported where a sparse matrix is made: `import symdiff` stays cheap
    import scipy.sparse


class _Untraceable(Exception):
    """Raised inside the traced code where a value of x decides what happens next."""


_MAX_DECISIONS = 64  # branches on values of x in one run of the traced code
_MAX_PATHS = 64  # runs, one per combination of the branches' outcomes


class _Paths:
    """The outcomes of the branches on values of x in one run: those of `prefix` first, then False;
    a condition decided once keeps its outcome (the backward pass re-tests the saved one)."""

    def __init__(self, prefix: list[bool], columns: int, limit: int) -> None:
        self.prefix, self.made, self.seen, self.alive = prefix, [], {}, []
        self.limit = limit  # a value depending on more indices than this is taken to depend on all
        self.everything = _Set(frozenset(range(columns)))

    def decide(self, condition: object) -> bool:
        if id(condition) in self.seen:
            return self.seen[id(condition)]
        if len(self.made) >= _MAX_DECISIONS:
            raise _Untraceable(f"more than {_MAX_DECISIONS} branches depend on the values of {{x}}")
        outcome = self.prefix[len(self.made)] if len(self.made) < len(self.prefix) else False
        self.made.append(outcome)
        self.seen[id(condition)] = outcome
        self.alive.append(condition)  # kept alive, so that its id names it for the whole run
        return outcome

    def next_prefix(self) -> list[bool] | None:
        """The next combination to run, depth first: the last False outcome turned True."""
        for k in range(len(self.made) - 1, -1, -1):
            if not self.made[k]:
                return self.made[:k] + [True]
        return None


_RUNNING: list[_Paths] = []  # the run in progress (a branch outside a trace is refused)


def _decide(condition: object) -> bool:
    if not _RUNNING:
        raise _Untraceable("a branch depends on the values of {x}")
    return _RUNNING[-1].decide(condition)


class _Set:
    """One element of the traced array: the indices of x it depends on."""

    __slots__ = ("deps",)

    def __init__(self, deps: frozenset) -> None:
        self.deps = deps

    def __bool__(self) -> bool:
        return _decide(self)

    def __index__(self) -> int:
        raise _Untraceable("an index depends on the values of {x}")

    __int__ = __float__ = __complex__ = __index__

    def __repr__(self) -> str:
        return f"depends on {sorted(self.deps)}"

    # numpy's object loops call these methods by the ufunc's name
    def _same(self) -> _Set:
        return type(self)(self.deps)  # a new value: a branch on it is a decision of its own

    exp = exp2 = expm1 = log = log2 = log10 = log1p = sqrt = cbrt = square = reciprocal = _same
    sin = cos = tan = arcsin = arccos = arctan = sinh = cosh = tanh = arcsinh = arccosh = arctanh = _same
    conjugate = conj = rint = floor = ceil = trunc = deg2rad = rad2deg = degrees = radians = _same
    __neg__ = __pos__ = __abs__ = _same


class _Cond(_Set):
    """A comparison's result: a value whose derivative is zero, so it joins no index."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "condition"


_EMPTY = frozenset()


def _deps(value: object) -> frozenset:
    """The indices `value` depends on. Strict: an element of unknown kind is refused (a TypeError)
    rather than read as a constant, which would leave nonzeros out of the pattern."""
    if isinstance(value, _Set):
        return _EMPTY if isinstance(value, _Cond) else value.deps
    if isinstance(value, (int, float, complex, np.number, np.bool_)):
        return _EMPTY
    if isinstance(value, np.ndarray) and value.ndim == 0:  # NumPy stores a 0-d array as an element
        return _deps(value[()])
    raise TypeError(f"an element of kind {type(value).__name__} in the traced code")


def _join(*values: object) -> _Set:
    """The union of the values' index sets (the hot path of the object tracer: one call per element),
    as a new `_Set` every time: a branch on it is decided on its own (one shared object, such as a
    single "no set" value, would tie the branches on every value holding it to one outcome, and the
    paths where they differ would never be traced). Sets themselves are shared, not copied."""
    joined = None  # the union so far
    for value in values:
        if type(value) is _Set:
            deps = value.deps
        elif type(value) in (float, int, _Cond):
            continue
        else:
            deps = _deps(value)
        if not deps:
            continue
        if joined is None:
            joined = deps
        elif deps is not joined and not deps <= joined:
            joined = _grown(joined | deps)
    return _Set(_EMPTY if joined is None else joined)


def _grown(deps: frozenset) -> frozenset:
    """A new union; past the run's limit, the set of every index (one set, whose unions cost
    nothing): a value that dense makes its rows dense, and whatever reads it is dense too."""
    run = _RUNNING[-1]
    return run.everything.deps if len(deps) > run.limit else deps


def _union(values: Any) -> _Set:
    """The union of many values' sets at once (a sum's), in time linear in their sizes."""
    sets = [_deps(v) for v in values]
    if not sets or not any(sets):
        return _Set(_EMPTY)
    run = _RUNNING[-1] if _RUNNING else None
    if run is not None and any(deps is run.everything.deps for deps in sets):
        return _Set(run.everything.deps)
    joined = _EMPTY.union(*sets)
    return _Set(_grown(joined) if run is not None else joined)


def _no_sets(shape: tuple) -> np.ndarray:
    """An object array of `shape` holding a new empty `_Set` per element."""
    made = np.empty(int(np.prod(shape, dtype=np.int64)), dtype=object)
    made[:] = [_Set(_EMPTY) for _ in range(made.size)]
    return made.reshape(shape)


def _compare(*values: object) -> _Cond:
    return _Cond(_EMPTY)


def _elementwise(combine: Callable) -> Callable:
    """`_Set`'s operator: an array on the other side takes it elementwise (`x[0] * x[1:]`)."""

    def operator(self: _Set, other: object) -> Any:
        if isinstance(other, np.ndarray) and other.ndim:
            return NotImplemented  # NumPy's reflected operator: the traced array's ufunc, element by element
        return combine(self, other)

    return operator


for _name in ("add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "matmul"):
    setattr(_Set, f"__{_name}__", _elementwise(_join))
    setattr(_Set, f"__r{_name}__", _elementwise(_join))
for _name in ("lt", "le", "gt", "ge", "eq", "ne", "and", "or", "xor", "rand", "ror", "rxor"):
    setattr(_Set, f"__{_name}__", _elementwise(_compare))
_Set.__hash__ = object.__hash__  # __eq__ is a comparison here, not identity

# ufuncs whose result is a condition (derivative zero): they join no index
_CONDITIONS = {
    "greater", "greater_equal", "less", "less_equal", "equal", "not_equal", "logical_and", "logical_or",
    "logical_xor", "logical_not", "isfinite", "isinf", "isnan", "signbit", "sign",
}  # fmt: skip


def _traced(value: object) -> bool:
    return isinstance(value, _Set) or (isinstance(value, np.ndarray) and value.dtype == object)


def _plain(value: Any) -> Any:
    return value.view(np.ndarray) if isinstance(value, np.ndarray) else value


def _wrap(value: Any) -> Any:
    """Results stay traced arrays (0-d included), so the next ufunc on them comes back here."""
    if isinstance(value, tuple):
        return tuple(_wrap(v) for v in value)
    if isinstance(value, np.ndarray):
        return value.view(_TracedArray) if value.dtype == object else value
    if isinstance(value, _Set):
        return np.asarray(value, dtype=object).view(_TracedArray)
    return value


_REFUSED = {np.argmax, np.argmin, np.argsort, np.sort, np.nonzero, np.flatnonzero, np.argwhere, np.unique,
            np.searchsorted, np.lexsort, np.partition, np.argpartition, np.isin}  # fmt: skip


def _reduce(target: np.ufunc, a: Any, axis: Any = 0, keepdims: bool = False) -> Any:
    """`target.reduce` over any axes (a Python function's reduce takes one axis at a time)."""
    a = np.asarray(a, dtype=object)
    axes = tuple(range(a.ndim)) if axis is None else tuple(np.atleast_1d(axis) % max(a.ndim, 1))
    if not axes or a.ndim == 0:
        return a
    kept = [n for k, n in enumerate(a.shape) if k not in axes]
    moved = np.moveaxis(a, axes, tuple(range(a.ndim - len(axes), a.ndim))).reshape(tuple(kept) + (-1,))
    if not moved.shape[-1]:
        result = _no_sets(tuple(kept))
    elif target is _JOIN_ALL:  # a sum, product or extremum: each result the union of its slice, at once
        result = np.empty(tuple(kept), dtype=object)
        for index in np.ndindex(*kept):
            result[index] = _union(moved[index])
    else:
        result = target.reduce(moved, axis=-1)
    if keepdims:
        result = np.reshape(result, tuple(1 if k in axes else n for k, n in enumerate(a.shape)))
    return result


_JOIN_ALL = np.frompyfunc(_join, 2, 1)
_COMPARE_ALL = np.frompyfunc(_compare, 2, 1)


def _matmul(a: Any, b: Any) -> Any:
    """`a @ b` on index sets: element (i, j) reads row i of a and column j of b, whatever their
    values, so it is the union of the row's and the column's unions (m + n unions of k sets and m * n
    joins, not NumPy's m * n * k of its object loop; the same sets)."""
    a, b = np.asarray(a), np.asarray(b)
    rows = _row_unions(a[None, :] if a.ndim == 1 else a, -1)  # (..., m)
    columns = _row_unions(b[:, None] if b.ndim == 1 else b, -2)  # (..., n)
    result = np.frompyfunc(_join, 2, 1)(rows[..., :, None], columns[..., None, :])  # (..., m, n)
    if a.ndim == 1:
        result = result[..., 0, :]
    if b.ndim == 1:
        result = result[..., 0]
    return result


def _row_unions(a: np.ndarray, axis: int) -> np.ndarray:
    """The union along `axis` (a traced array), or no sets at all (an array of numbers)."""
    if a.dtype != object:
        return _no_sets(tuple(np.delete(a.shape, axis % a.ndim)))
    return _reduce(_JOIN_ALL, a, axis)


class _TracedArray(np.ndarray):
    """An object array of index sets whose ufuncs join sets instead of computing numbers."""

    def __array_ufunc__(self, ufunc: np.ufunc, method: str, *inputs: Any, **kwargs: Any) -> Any:
        inputs = tuple(_plain(i) for i in inputs)
        out = kwargs.pop("out", None)
        for unused in ("dtype", "initial", "where", "casting", "order", "subok", "signature"):
            kwargs.pop(unused, None)
        if ufunc.nout != 1:
            return NotImplemented  # modf, frexp, divmod: refused as a TypeError
        if ufunc is np.matmul and method == "__call__" and not kwargs:
            result = _matmul(*inputs)
        elif ufunc.signature is not None:  # NumPy's object loop sums products, which join
            result = getattr(ufunc, method)(*inputs, **kwargs)
        elif method == "__call__":
            combine = _compare if ufunc.__name__ in _CONDITIONS else _join
            result = np.frompyfunc(combine, ufunc.nin, 1)(*inputs, **kwargs)
        else:  # reduce, accumulate, reduceat, outer, at: sums, products, extrema all join
            if ufunc.nin != 2:
                return NotImplemented
            target = _COMPARE_ALL if ufunc.__name__ in _CONDITIONS else _JOIN_ALL
            if method == "reduce":
                result = _reduce(target, *inputs, **kwargs)
            else:
                result = getattr(target, method)(*inputs, **kwargs)
        if out is not None:
            target = out[0] if isinstance(out, tuple) else out
            target[...] = result
            return target
        return _wrap(result)

    def __array_function__(self, func: Callable, types: tuple, args: tuple, kwargs: dict) -> Any:
        if func in _REFUSED:
            raise _Untraceable(
                f"np.{func.__name__} of a value computed from {{x}}: its values decide an order or index"
            )
        if func is np.where and len(args) == 3 and _traced(args[0]):  # the arm taken depends on x: both
            return _wrap(np.frompyfunc(lambda c, a, b: _join(a, b), 3, 1)(*(_plain(a) for a in args)))
        return _wrap(super().__array_function__(func, types, args, kwargs))

    def __bool__(self) -> bool:
        if self.size != 1:
            raise ValueError("the truth value of an array with more than one element is ambiguous")
        return _decide(self)

    def __index__(self) -> int:
        raise _Untraceable("an index depends on the values of {x}")

    def __float__(self) -> float:
        raise _Untraceable("a value computed from {x} is converted to a plain number")

    __int__ = __index__
    __complex__ = __float__


_FILLED = {
    "zeros": 1,
    "ones": 1,
    "empty": 1,
    "full": 2,
    "zeros_like": 1,
    "ones_like": 1,
    "empty_like": 1,
    "full_like": 2,
}
_WRAPPED = {"array", "asarray", "asanyarray", "stack", "concatenate", "copy"}


def _filled(plain: Callable, dtype_at: int) -> Callable:
    """A constructor whose float arrays are object arrays: a value computed from x may be
    written into them (`out = np.zeros(n)` then `out[i] = ...`)."""

    def construct(*args: Any, **kwargs: Any) -> Any:
        dtype = kwargs.pop("dtype", args[dtype_at] if len(args) > dtype_at else None)
        args = args[:dtype_at]
        if dtype is None or np.issubdtype(np.dtype(dtype), np.inexact):
            dtype = object
        return _wrap(plain(*args, dtype=dtype, **kwargs))

    return construct


def _wrapped(plain: Callable) -> Callable:
    def construct(*args: Any, **kwargs: Any) -> Any:
        return _wrap(plain(*args, **kwargs))

    return construct


def _result_type(*values: Any) -> np.dtype:
    if any(_traced(v) for v in values):
        return np.dtype(object)
    return np.result_type(*values)


class _TracingNumpy(types.ModuleType):
    """`np` as the traced module sees it: NumPy, whose float arrays are made as traced object
    arrays, so what is written into them and computed from them joins index sets too."""

    def __init__(self) -> None:
        super().__init__("numpy")
        self.result_type = _result_type

    def __getattr__(self, name: str) -> Any:
        value = getattr(np, name)
        if name in _FILLED:
            value = _filled(value, _FILLED[name])
        elif name in _WRAPPED:
            value = _wrapped(value)
        setattr(self, name, value)
        return value


def _fingerprint(value: Any) -> Any:
    """What of an argument the pattern may depend on: its shape and dtype, and the values of any
    argument but x (an index array, or a mask, selects elements)."""
    if isinstance(value, np.ndarray):
        return (
            "array",
            value.shape,
            value.dtype.str,
            hashlib.blake2b(np.ascontiguousarray(value).view(np.uint8)).hexdigest(),
        )
    if isinstance(value, (tuple, list)):
        return (type(value).__name__, tuple(_fingerprint(v) for v in value))
    if isinstance(value, dict):
        return ("dict", tuple((k, _fingerprint(v)) for k, v in value.items()))
    if isinstance(value, (int, float, complex, bool, str, type(None), np.generic)):
        return (type(value).__name__, value)
    return ("object", id(value))


def trace_pattern(derivative: Derivative | Deferred, args: tuple, position: int, extra: tuple,
                  pick: Callable[[Any], Any], limit: int | None = None) -> scipy.sparse.csr_matrix:  # fmt: skip
    """Which elements of `pick(derivative(*args, *extra))` depend on which elements of
    `args[position]`, read by running the derivative's standalone module on index sets (a
    boolean CSR matrix, flattened output by flattened input). `limit`: refuse as soon as one
    value depends on more elements than that (a pattern that dense is not worth tracing)."""
    x = np.asarray(args[position])

    def given(sets: Callable = _index_sets) -> list:
        made = list(args)
        made[position] = sets(x.shape, range(x.size))
        return made + [np.zeros(x.shape) + e for e in extra]  # a zero tangent, for forward mode

    return _run_traced(derivative, given, pick, x.size, limit)


def trace_transposed_pattern(back: Derivative | Deferred, args: tuple, position: int,
                             out_shape: tuple, limit: int | None = None) -> scipy.sparse.csr_matrix:  # fmt: skip
    """The Jacobian's pattern from a vjp (for functions forward mode cannot take yet): the
    cotangent seed carries the output indices, x carries none (a branch on it is still refused),
    and element j of `back(*args, seed)` depends on row i where J[i, j] may be nonzero."""
    x = np.asarray(args[position])
    size = int(np.prod(out_shape, dtype=np.int64))

    def given(sets: Callable = _index_sets) -> list:
        made = list(args)
        made[position] = sets(x.shape, [None] * x.size)
        return made + [sets(out_shape, range(size))]

    return _run_traced(back, given, _itself, size, limit).T.tocsr()


def _index_sets(shape: tuple, indices: Any) -> _TracedArray:
    """A traced array of `shape` whose element k depends on `indices[k]` (None: on nothing)."""
    sets = np.empty(int(np.prod(shape, dtype=np.int64)), dtype=object)
    sets[:] = [_Set(_EMPTY if k is None else frozenset((k,))) for k in indices]
    return sets.reshape(shape).view(_TracedArray)


def _run_traced(derivative: Derivative | Deferred, given: Callable[[], list], pick: Callable[[Any], Any],
                columns: int, limit: int | None = None) -> scipy.sparse.csr_matrix:  # fmt: skip
    """The pattern of `pick(derivative(*given()))`, the derivative's standalone module run on index
    sets; where it branches on values of x, once per combination of the branches' outcomes, and
    the patterns joined: the pattern then holds for every x, whichever way the branches go."""
    name = getattr(derivative.primal, "__name__", "f")
    if isinstance(derivative, Deferred):
        raise NoSparsityPattern(f"the derivative of {name} is built per call, so no one program holds its pattern")
    function = derivative.function
    namespace: dict[str, Any] = {"__name__": f"symdiff_pattern_{function.name}"}
    filename = f"<pattern of {function.name}>"
    text = module_source([function])
    exec(compile(text, filename, "exec"), namespace)  # noqa: S102 - our own generated code
    fast = None
    if FAST_TRACE:
        fast = _fast_pattern(text, filename, function.name, given, pick, columns, columns if limit is None else limit)
    if fast is not None:
        return fast
    namespace["np"] = _TracingNumpy()
    joined, prefix = None, []
    for _ in range(_MAX_PATHS):
        paths = _Paths(prefix, columns, columns if limit is None else limit)
        _RUNNING.append(paths)
        try:
            out = pick(namespace[function.name](*given()))
        except (_Untraceable, TypeError, ValueError, AttributeError, IndexError) as error:
            what = str(error).format(x=derivative.wrt[0]) if isinstance(error, _Untraceable) else str(error)
            lines = [f.lineno for f in traceback.extract_tb(error.__traceback__) if f.filename == filename]
            where = f", at `{text.splitlines()[lines[-1] - 1].strip()}` in {function.name}" if lines else ""
            taken = f" (branches taken: {paths.made})" if paths.made else ""
            raise NoSparsityPattern(f"the sparsity pattern of {name} cannot be traced: {what}{where}{taken}") from None
        finally:
            _RUNNING.pop()
        pattern = _pattern(out, columns, paths.limit)
        joined = pattern if joined is None else (joined + pattern).astype(bool)
        prefix = paths.next_prefix()
        if prefix is None:
            return joined.tocsr()
    raise NoSparsityPattern(
        f"the sparsity pattern of {name} cannot be traced: its branches on the values of "
        f"{derivative.wrt[0]} take more than {_MAX_PATHS} paths"
    )


FAST_TRACE = True  # try `set_arrays` first (False: the object tracer alone, as the tests compare them)


def _fast_pattern(text: str, filename: str, name: str, given: Callable, pick: Callable, columns: int,
                  limit: int) -> scipy.sparse.csr_matrix | None:  # fmt: skip
    """The pattern by `set_arrays` (sets as rows of one table, each operation on whole arrays), or
    None where it cannot run the code (branches on x, elements one at a time, functions it does
    not know): the object tracer then runs. Rows past the limit are refused as `_pattern` does."""
    from symdiff import set_arrays

    namespace: dict[str, Any] = {"__name__": f"symdiff_fast_pattern_{name}"}
    exec(compile(text, filename, "exec"), namespace)  # noqa: S102 - our own generated code
    namespace["np"] = set_arrays.FastNumpy()
    pattern = set_arrays.run(namespace[name], given, pick, columns, limit)
    if pattern is None:
        return None
    dense = int(np.count_nonzero(np.diff(pattern.indptr) > limit))
    if dense > _DENSE_ROWS:
        raise NoSparsityPattern(f"{dense} rows of the pattern hold more than {limit} of {columns} entries")
    return pattern


_DENSE_ROWS = 8  # under a limit, the rows that may pass it: an arrowhead's few hubs, not a dense matrix


def _pattern(out: Any, columns: int, limit: int) -> scipy.sparse.csr_matrix:
    """Row i holds the indices element i of `out` depends on; refused where more than `_DENSE_ROWS`
    rows hold more than `limit` (a pattern that dense saves no directions, and costs its size)."""
    import scipy.sparse

    sets = list(map(_deps, np.asarray(_plain(out), dtype=object).ravel().tolist()))
    lengths = np.fromiter(map(len, sets), dtype=np.int64, count=len(sets))
    dense = int(np.count_nonzero(lengths > limit))
    if dense > _DENSE_ROWS:
        raise NoSparsityPattern(f"{dense} rows of the pattern hold more than {limit} of {columns} entries")
    found = np.fromiter(chain.from_iterable(sets), dtype=np.int64, count=int(lengths.sum()))
    rows = np.repeat(np.arange(len(sets)), lengths)
    pattern = scipy.sparse.csr_matrix((np.ones(found.size, dtype=bool), (rows, found)), shape=(len(sets), columns))
    pattern.sort_indices()
    return pattern


def shape_key(args: tuple, position: int) -> tuple:
    """What of the arguments a pattern's shape depends on: every array's shape and dtype, an int's
    value (it may be a size), a float's type alone (a step size changing every call is one shape),
    and the fingerprint of anything else."""
    return tuple(
        ("array", np.shape(a), np.asarray(a).dtype.str)
        if k == position or isinstance(a, np.ndarray)
        else ("float",)
        if isinstance(a, (float, np.floating))
        else _fingerprint(a)
        for k, a in enumerate(args)
    )


def value_key(args: tuple, position: int) -> tuple:
    """What of the arguments a pattern may depend on: x's shape, and the values of the others (an
    index array, or a mask, selects elements)."""
    return tuple(("x", np.shape(a)) if k == position else _fingerprint(a) for k, a in enumerate(args))


class Sparsity:
    """For the dense `hessian` and `jacobian`: a compressed pass where it takes at most half the
    directions of the dense one, else None.

    The pattern is traced at the first call for each shape of the arguments and each value of
    the others (as `sparse_hessian` does); a value depending on more than half the elements of x
    is taken to depend on all of them, and more than `_DENSE_ROWS` rows that dense give the trace
    up. A shape whose trace fails, or whose pattern needs more colours than half the directions,
    or is too dense to colour quickly, runs the dense pass from then on; so does one called with
    more than `MAX_VALUES` values of the other arguments (data changing every call would be
    traced every call)."""

    MAX_VALUES = 8

    def __init__(self, tracer: Callable[[tuple, int, int], scipy.sparse.csr_matrix], position: int,
                 symmetric: bool = False, out_shape: Callable[[tuple], tuple] | None = None) -> None:  # fmt: skip
        self._tracer = tracer  # (args, position, limit) -> the pattern
        self._position = position
        self._symmetric = symmetric  # a Hessian: star colouring, entries read from their mirror too
        self._out_shape = out_shape  # a Jacobian: (args) -> the output's shape, for colouring its rows
        self._plans: dict[tuple, dict[tuple, Compression] | None] = {}  # per shape: per value, or dense

    def plan(self, args: tuple, directions: int) -> Compression | None:
        """The compression for these arguments, or None: take the dense pass."""
        shapes = shape_key(args, self._position)
        plans = self._plans.setdefault(shapes, {})
        if plans is None:
            return None
        values = value_key(args, self._position)  # the values of the others: a mask or a number may pick a branch
        if values in plans:
            return plans[values]
        limit = directions // 2
        if len(plans) >= self.MAX_VALUES or limit < 1:
            self._plans[shapes] = None
            return None
        try:
            pattern = self._tracer(args, self._position, limit)
            out_shape = self._out_shape(args) if self._out_shape is not None else None
            compression = Compression(pattern, np.shape(args[self._position]), self._symmetric, out_shape)
        except Exception:  # noqa: BLE001 - no pattern (refused, too dense, anything): the dense pass is exact
            compression = None
        if compression is None or compression.count > limit:
            self._plans[shapes] = None
            return None
        plans[values] = compression
        return compression


def _itself(value: Any) -> Any:
    return value


def _first(pair: Any) -> Any:
    return pair[0]


def _second(pair: Any) -> Any:
    return pair[1]


def hessian_tracer(gradient: Derivative | Deferred) -> Callable[..., scipy.sparse.csr_matrix]:
    """The Hessian's pattern is the gradient's: `(args, position, limit)` -> its pattern."""

    def trace(args: tuple, position: int, limit: int | None = None) -> scipy.sparse.csr_matrix:
        return trace_pattern(gradient, args, position, (), _itself, limit)

    return trace


def jacobian_tracer(primal: Callable, forward: Derivative | Deferred | None,
                    back: Derivative | Deferred | None) -> Callable[..., scipy.sparse.csr_matrix]:  # fmt: skip
    """The Jacobian's pattern, from the forward-mode function's value (its code is the primal's),
    or from the vjp's transpose where forward mode lacks a rule."""

    def trace(args: tuple, position: int, limit: int | None = None) -> scipy.sparse.csr_matrix:
        if forward is not None:
            return trace_pattern(forward, args, position, (0.0,), _first, limit)
        return trace_transposed_pattern(back, args, position, np.shape(primal(*args)), limit)

    return trace
