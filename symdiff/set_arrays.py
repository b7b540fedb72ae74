"""Index-set propagation at array speed: the sparsity tracer's fast path.

`sparsity.py` traces a pattern by running generated code on object arrays of
index sets, one Python call per element and operation: about a second for
n = 10^5. Here a traced array (`_Ids`) holds, per element, the number of its
set in one table of sets (`_Table`, a CSR matrix: row k is set k, row 0 the
empty set, row 1 every column); an elementwise operation is a gather of the
operands' rows and one sparse sum (their union), a reduction a sparse
product with a grouping matrix, indexing and reshaping move the numbers.

It runs code without branches on x and the array operations it knows; at
anything else (a branch on a traced value, an element read one at a time, a
function it does not know) it stops with `Fallback` and the object tracer
runs instead, so it changes how fast a pattern is found, never which. The
numbers are stored in a structured dtype, which NumPy refuses to cast to a
number or use as an index: a traced value cannot be read as data unseen.
"""

from __future__ import annotations

import types
from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np
import scipy.sparse

_ID = np.dtype([("set", np.int64), ("unused", np.int64)])  # two fields: NumPy casts a one-field one to floats
EMPTY, ALL = 0, 1  # the numbers of the empty set and of the set of every column


class Fallback(Exception):
    """Raised where the fast path cannot go on: the object tracer takes over."""


class _Table:
    """Every set one run makes: set k is row k of a CSR matrix, appended to in place (capacity
    doubling). A union past `limit` columns is ALL, stored as no row (as `_Paths.everything`)."""

    def __init__(self, columns: int, limit: int) -> None:
        self.columns, self.limit = columns, limit
        self.indptr = np.zeros(1 << 12, dtype=np.int64)
        self.indices = np.zeros(1 << 16, dtype=np.int64)
        self.rows = 2  # EMPTY and ALL: no entries stored
        self.elements_read = 0

    def add(self, rows: scipy.sparse.csr_matrix) -> np.ndarray:
        """Store each row as a set; their numbers (ALL for a row past the limit)."""
        rows = rows.tocsr()
        lengths = np.diff(rows.indptr)
        dense = lengths > self.limit
        if dense.any():
            rows = rows[np.flatnonzero(~dense)]
            lengths = lengths[~dense]
        count, entries = lengths.size, int(lengths.sum())
        self.indptr = _room(self.indptr, self.rows + count + 1)
        end = int(self.indptr[self.rows])
        self.indices = _room(self.indices, end + entries)
        self.indptr[self.rows + 1 : self.rows + count + 1] = end + np.cumsum(lengths)
        self.indices[end : end + entries] = rows.indices
        numbers = np.full(dense.size, ALL, dtype=np.int64)
        numbers[~dense] = self.rows + np.arange(count)
        self.rows += count
        return numbers

    def singletons(self, count: int) -> np.ndarray:
        """`count` new sets {0}, {1}, ...: the elements of x."""
        return self.add(scipy.sparse.identity(count, dtype=bool, format="csr"))

    def matrix(self) -> scipy.sparse.csr_matrix:
        size = int(self.indptr[self.rows])
        return scipy.sparse.csr_matrix(
            (np.ones(size, dtype=bool), self.indices[:size], self.indptr[: self.rows + 1]),
            shape=(self.rows, self.columns),
        )

    def union(self, first: np.ndarray, second: np.ndarray) -> np.ndarray:
        """Elementwise unions of two flat arrays of numbers."""
        out = np.where(first == EMPTY, second, first)
        dense = (first == ALL) | (second == ALL)
        fresh = np.flatnonzero((first != second) & (first != EMPTY) & (second != EMPTY) & ~dense)
        if fresh.size:
            table = self.matrix()
            out[fresh] = self.add(table[first[fresh]] + table[second[fresh]])
        out[dense] = ALL
        return out

    def grouped(self, numbers: np.ndarray, groups: np.ndarray, count: int) -> np.ndarray:
        """The union of each group's sets: `groups[k]` is the group of `numbers[k]`."""
        if numbers.size == count and np.array_equal(groups, np.arange(count)):
            return numbers.copy()
        live = numbers != EMPTY
        numbers, groups = numbers[live], groups[live]
        out = np.full(count, EMPTY, dtype=np.int64)
        dense = np.zeros(count, dtype=bool)
        dense[groups[numbers == ALL]] = True
        keep = numbers != ALL
        numbers, groups = numbers[keep], groups[keep]
        if numbers.size:
            gather = scipy.sparse.csr_matrix(
                (np.ones(numbers.size, dtype=np.int64), (groups, np.arange(numbers.size))),
                shape=(count, numbers.size),
            )
            joined = (gather @ self.matrix()[numbers].astype(np.int64)).astype(bool).tocsr()
            filled = np.diff(joined.indptr) > 0
            out[filled] = self.add(joined[np.flatnonzero(filled)])
        out[dense] = ALL
        return out


def _room(array: np.ndarray, size: int) -> np.ndarray:
    if size <= array.size:
        return array
    grown = np.zeros(max(size, 2 * array.size), dtype=array.dtype)
    grown[: array.size] = array
    return grown


_TABLE: list[_Table] = []  # the run in progress
_ELEMENTS_READ = 64  # single elements read in one run before a loop over them is left to the object tracer


def numbers(value: Any) -> np.ndarray:
    """The set numbers of a traced array, or EMPTY for each element of a number or numeric array."""
    if isinstance(value, _Ids):
        return np.ndarray.view(value, np.ndarray)["set"]
    if isinstance(value, (int, float, complex, bool, np.number, np.bool_)):
        return np.zeros((), dtype=np.int64)
    if isinstance(value, np.ndarray) and value.dtype.kind in "biufc":
        return np.zeros(value.shape, dtype=np.int64)
    raise Fallback(f"an operand of kind {type(value).__name__}")


def traced(ids: Any) -> _Ids:
    """Set numbers as a new traced array."""
    made = np.zeros(np.shape(ids), dtype=_ID)
    made["set"] = ids
    return made.view(_Ids)


def _records(value: Any) -> Any:
    """A traced array as plain structured records (functions that move elements run on them), a
    number or numeric array as records of EMPTY sets, anything else unchanged."""
    if isinstance(value, _Ids):
        return np.ndarray.view(value, np.ndarray)
    if isinstance(value, (int, float, bool, np.number, np.bool_)) or (
        isinstance(value, np.ndarray) and value.dtype.kind in "biuf"
    ):
        return np.zeros(np.shape(value), dtype=_ID)
    raise Fallback(f"an operand of kind {type(value).__name__}")


def _refuse(*args: Any, **kwargs: Any) -> Any:
    raise Fallback("a value of x read as a number, an index or an order")


# ufuncs whose result is a condition (derivative zero): no index; a branch on one falls back
_CONDITIONS = {
    "greater", "greater_equal", "less", "less_equal", "equal", "not_equal", "logical_and", "logical_or",
    "logical_xor", "logical_not", "isfinite", "isinf", "isnan", "signbit", "sign",
}  # fmt: skip


class _Ids(np.ndarray):
    """A traced array: each element the number of its index set in the run's `_Table`."""

    def __array_ufunc__(self, ufunc: np.ufunc, method: str, *inputs: Any, **kwargs: Any) -> Any:
        out = kwargs.pop("out", None)
        for ignored in ("dtype", "casting", "order", "subok", "initial"):
            kwargs.pop(ignored, None)
        if kwargs.get("where", False) is True:
            del kwargs["where"]
        condition = ufunc.__name__ in _CONDITIONS
        if ufunc.nout != 1:
            raise Fallback(f"np.{ufunc.__name__}: more than one result")
        if method == "__call__" and not kwargs and ufunc.signature is None:
            sets = [numbers(value) for value in inputs]
            shape = np.broadcast_shapes(*(s.shape for s in sets))
            result = np.zeros(shape, dtype=np.int64)
            if not condition:
                flat = [np.broadcast_to(s, shape).ravel() for s in sets]
                joined = flat[0].copy()
                for other in flat[1:]:
                    joined = _TABLE[-1].union(joined, other)
                result = joined.reshape(shape)
        elif method == "reduce" and len(inputs) == 1 and set(kwargs) <= {"axis", "keepdims"}:
            result = _reduced(numbers(inputs[0]), condition, kwargs.get("axis", 0), kwargs.get("keepdims", False))
        elif method == "at" and ufunc.nin == 2 and len(inputs) == 3 and not kwargs:
            target, index, value = inputs
            if not isinstance(target, _Ids) or isinstance(index, _Ids):
                raise Fallback("np.add.at on an untraced array")
            _scatter(target, index, numbers(value))
            return None
        else:
            raise Fallback(f"np.{ufunc.__name__}.{method}")
        if out is not None:
            target = out[0] if isinstance(out, tuple) else out
            if not isinstance(target, _Ids):
                raise Fallback("a traced value written into an untraced array")
            numbers(target)[...] = result
            return target
        return traced(result)

    def __array_function__(self, func: Callable, types_: tuple, args: tuple, kwargs: dict) -> Any:
        handler = _FUNCTIONS.get(func)
        if handler is None:
            raise Fallback(f"np.{func.__name__}")
        return handler(func, args, kwargs)

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, _Ids) or (isinstance(key, tuple) and any(isinstance(k, _Ids) for k in key)):
            raise Fallback("an index computed from x")
        result = super().__getitem__(key)
        if isinstance(result, np.ndarray):
            return result
        table = _TABLE[-1]  # one element: a hub such as x[0] is fine, a loop over elements is not
        table.elements_read += 1
        if table.elements_read > _ELEMENTS_READ:
            raise Fallback("elements read one at a time (a loop over them: the object tracer)")
        return traced(np.asarray(numbers(self)[key]))

    def __eq__(self, other: object) -> Any:  # NumPy compares structured arrays itself: ask the ufunc
        return np.equal(self, other)

    def __ne__(self, other: object) -> Any:
        return np.not_equal(self, other)

    __hash__ = None

    def __setitem__(self, key: Any, value: Any) -> None:
        if isinstance(key, _Ids) or (isinstance(key, tuple) and any(isinstance(k, _Ids) for k in key)):
            raise Fallback("an index computed from x")
        numbers(self)[key] = numbers(value)

    def astype(self, dtype: Any, *args: Any, **kwargs: Any) -> Any:
        if np.issubdtype(np.dtype(dtype), np.inexact):
            return traced(numbers(self).copy())
        raise Fallback("a value of x converted to an integer or a boolean")

    def view(self, *args: Any, **kwargs: Any) -> Any:
        """As another array class only: a view as another dtype would read the numbers as data."""
        if len(args) == 1 and not kwargs and isinstance(args[0], type) and issubclass(args[0], np.ndarray):
            return super().view(args[0])
        raise Fallback("a traced array viewed as another dtype")

    __bool__ = __index__ = __int__ = __float__ = __complex__ = __iter__ = _refuse
    item = tolist = tobytes = argmax = argmin = argsort = sort = searchsorted = nonzero = _refuse
    partition = argpartition = dot = round = choose = compress = put = fill = trace = getfield = _refuse


def _reduced(sets: np.ndarray, condition: bool, axis: Any, keepdims: bool) -> np.ndarray:
    """A reduction's sets: each result element the union of its slice (a condition's: empty)."""
    axes = tuple(range(sets.ndim)) if axis is None else tuple(np.atleast_1d(axis) % max(sets.ndim, 1))
    kept = tuple(n for k, n in enumerate(sets.shape) if k not in axes)
    if condition or not sets.size:
        result = np.zeros(kept, dtype=np.int64)
    else:
        moved = np.moveaxis(sets, axes, tuple(range(sets.ndim - len(axes), sets.ndim))).reshape(kept + (-1,))
        slice_size = moved.shape[-1]
        count = int(np.prod(kept, dtype=np.int64))
        groups = np.repeat(np.arange(count), slice_size)
        result = _TABLE[-1].grouped(moved.ravel(), groups, count).reshape(kept)
    if keepdims:
        result = result.reshape(tuple(1 if k in axes else n for k, n in enumerate(sets.shape)))
    return result


def _scatter(target: _Ids, index: Any, values: np.ndarray) -> None:
    """`np.add.at(target, index, values)` on sets: each target element joins every value sent to it."""
    place = np.arange(target.size).reshape(target.shape)[index]
    values = np.broadcast_to(values, place.shape)
    mine = numbers(target)
    groups = np.concatenate([np.arange(target.size), place.ravel()])
    joined = _TABLE[-1].grouped(np.concatenate([mine.ravel(), values.ravel()]), groups, target.size)
    mine[...] = joined.reshape(target.shape)


# -- NumPy functions: those that move elements run on the numbers; the rest fall back ---------------


def _on_numbers(func: Callable, args: tuple, kwargs: dict) -> Any:
    """A function that only moves elements (reshape, concatenate, ...): run on the numbers. Only its
    first argument (an array, or a sequence of them) may be traced: a traced shape, count or index
    would be a value of x read as a number."""
    if not args or any(_holds_traced(v) for v in (*args[1:], *kwargs.values())):
        raise Fallback(f"np.{func.__name__} with a value of x as its shape, count or index")
    first = args[0]
    first = [_records(v) for v in first] if isinstance(first, (list, tuple)) else _records(first)
    result = func(*(first, *args[1:]), **kwargs)  # views stay views: writes through them go through
    if isinstance(result, (list, tuple)):
        return type(result)(r.view(_Ids) if isinstance(r, np.ndarray) else r for r in result)
    return result.view(_Ids) if isinstance(result, np.ndarray) else result


def _by_ufuncs(func: Callable, args: tuple, kwargs: dict) -> Any:
    """NumPy's own code, made of ufunc calls that come back to `_Ids` (np.sum, np.mean, ...)."""
    return func._implementation(*args, **kwargs)


def _where(func: Callable, args: tuple, kwargs: dict) -> Any:
    if len(args) != 3 or kwargs:
        raise Fallback("np.where with one argument: an index computed from x")
    condition, first, second = args
    if isinstance(condition, _Ids):  # the arm taken depends on x: both
        shape = np.broadcast_shapes(*(np.shape(a) for a in args))
        a, b = (np.broadcast_to(numbers(v), shape).ravel() for v in (first, second))
        return traced(_TABLE[-1].union(a, b).reshape(shape))
    return traced(np.where(condition, numbers(first), numbers(second)))


def _shape_of(func: Callable, args: tuple, kwargs: dict) -> Any:
    return func._implementation(*(numbers(a) if isinstance(a, _Ids) else a for a in args), **kwargs)


def _like(func: Callable, args: tuple, kwargs: dict) -> Any:
    """zeros_like and the like: a value computed from x's shape only."""
    dtype = kwargs.get("dtype")
    if dtype is not None and not np.issubdtype(np.dtype(dtype), np.inexact):
        return func._implementation(np.empty(np.shape(args[0])), *args[1:], **kwargs)
    if func is np.full_like:
        fill = numbers(args[1] if len(args) > 1 else kwargs["fill_value"])
        return traced(np.broadcast_to(fill, np.shape(args[0])).copy())
    return traced(np.zeros(np.shape(args[0]), dtype=np.int64))


_MOVING = (  # functions that only move, copy or zero elements
    np.reshape, np.transpose, np.moveaxis, np.swapaxes, np.ravel, np.squeeze, np.expand_dims, np.broadcast_to,
    np.broadcast_arrays, np.concatenate, np.stack, np.hstack, np.vstack, np.atleast_1d, np.atleast_2d,
    np.atleast_3d, np.flip, np.roll, np.copy, np.tile, np.repeat, np.diagonal, np.triu, np.tril,
    np.take, np.split, np.array_split,
)  # fmt: skip
_FUNCTIONS: dict[Callable, Callable] = {
    **dict.fromkeys(_MOVING, _on_numbers),
    **dict.fromkeys((np.sum, np.prod, np.mean, np.max, np.min, np.amax, np.amin, np.any, np.all), _by_ufuncs),
    **dict.fromkeys((np.shape, np.ndim, np.size), _shape_of),
    np.result_type: lambda func, args, kwargs: _result_type(*args),
    **dict.fromkeys((np.zeros_like, np.ones_like, np.empty_like, np.full_like), _like),
    np.where: _where,
}


def _constructor(plain: Callable, dtype_at: int) -> Callable:
    """np.zeros and the like: arrays of floats are traced (sets written into them later)."""

    def construct(*args: Any, **kwargs: Any) -> Any:
        dtype = kwargs.pop("dtype", args[dtype_at] if len(args) > dtype_at else None)
        args = args[:dtype_at]
        if dtype is not None and not np.issubdtype(np.dtype(dtype), np.inexact):
            return plain(*args, dtype=dtype, **kwargs)
        if plain is np.full:
            fill = numbers(args[1] if len(args) > 1 else kwargs["fill_value"])
            return traced(np.broadcast_to(fill, args[0]).copy())
        return traced(np.zeros(args[0] if args else kwargs["shape"], dtype=np.int64))

    return construct


def _converted(plain: Callable) -> Callable:
    """np.array, np.asarray: a traced array stays traced (np.array copies it, as NumPy does)."""

    def convert(value: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(value, _Ids):
            copy = kwargs.get("copy", True) if plain is np.array else False
            return traced(numbers(value).copy()) if copy else value
        if isinstance(value, (list, tuple)) and _holds_traced(value):
            raise Fallback("a list holding traced values")
        return plain(value, *args, **kwargs)

    return convert


def _holds_traced(value: Any) -> bool:
    if isinstance(value, (list, tuple)):
        return any(_holds_traced(v) for v in value)
    return isinstance(value, _Ids)


def _result_type(*values: Any) -> np.dtype:
    if any(isinstance(v, _Ids) for v in values):
        return np.dtype(np.float64)
    return np.result_type(*values)


class FastNumpy(types.ModuleType):
    """`np` as the fast-traced module sees it: float arrays it makes are traced, sets in them."""

    _MADE: ClassVar[dict[str, int]] = {"zeros": 1, "ones": 1, "empty": 1, "full": 2}

    def __init__(self) -> None:
        super().__init__("numpy")
        self.result_type = _result_type
        for name in ("array", "asarray", "asanyarray"):
            setattr(self, name, _converted(getattr(np, name)))
        for like in (np.zeros_like, np.ones_like, np.empty_like, np.full_like):  # plain arrays' too
            setattr(self, like.__name__, lambda *args, like=like, **kwargs: _like(like, args, kwargs))

    def __getattr__(self, name: str) -> Any:
        value = getattr(np, name)
        if name in self._MADE:
            value = _constructor(value, self._MADE[name])
        setattr(self, name, value)
        return value


def run(function: Callable, given: Callable[[Callable], list], pick: Callable[[Any], Any], columns: int,
        limit: int) -> scipy.sparse.csr_matrix | None:  # fmt: skip
    """`pick(function(*given(sets)))`'s pattern (rows: its flattened elements), or None where the
    fast path cannot run it. `given(sets)` makes the arguments, `sets(shape, indices)` a traced
    array whose element k depends on `indices[k]` (a range, or Nones: on nothing)."""
    table = _Table(columns, limit)

    def sets(shape: tuple, indices: Any) -> _Ids:
        size = int(np.prod(shape, dtype=np.int64))
        if isinstance(indices, range) and indices == range(size):
            return traced(table.singletons(size).reshape(shape))
        if all(k is None for k in indices):
            return traced(np.zeros(shape, dtype=np.int64))
        raise Fallback("index sets of another kind")

    _TABLE.append(table)
    try:
        out = numbers(pick(function(*given(sets)))).ravel()
    except Exception:  # noqa: BLE001 - anything the fast path cannot do: the object tracer decides
        return None
    finally:
        _TABLE.pop()
    return _pattern(table, out)


def _pattern(table: _Table, out: np.ndarray) -> scipy.sparse.csr_matrix:
    """Row k: the set of element k of the output; a row past the limit holds every column (such
    rows are few: more than `sparsity._DENSE_ROWS` of them are refused there)."""
    dense = np.flatnonzero(out == ALL)
    rows = table.matrix()[np.where(out == ALL, EMPTY, out)]
    if dense.size:
        every = np.arange(table.columns)
        full = scipy.sparse.csr_matrix(
            (np.ones(dense.size * every.size, dtype=bool), (np.repeat(dense, every.size), np.tile(every, dense.size))),
            shape=rows.shape,
        )
        rows = rows + full
    rows = scipy.sparse.csr_matrix(rows, dtype=bool)
    rows.sort_indices()
    return rows
