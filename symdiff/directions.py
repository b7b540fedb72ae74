"""The unit directions of a dense Jacobian or Hessian, which a matrix product need not form.

A dense Jacobian of a vector argument pushes the identity matrix through one
batched forward pass (`higher._by_columns`), and a dense Jacobian with fewer
outputs pulls the identity back through one batched reverse pass
(`higher._by_rows`). The first thing such a pass usually does with its seed is a
matrix product, `x_dot @ a.T` for `a @ x`, which for the identity is `a.T`
itself: an n^3 product that gives nothing new. `Units` stands for `np.eye(n)`
in those passes: a matrix product with it returns (a copy of) the other
operand, and every other use sees the identity array itself, formed once. So
the numbers are those of `np.eye(n)` wherever it goes; only products are
skipped.

Imports: numpy only.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
from numpy.lib.mixins import NDArrayOperatorsMixin

_SHAPE_QUERIES = {np.shape: lambda u: u.shape, np.ndim: lambda u: 2, np.size: lambda u: u.size}


class Units(NDArrayOperatorsMixin):
    """`np.eye(n)` in float64, with matrix products by it left out (see the module docstring)."""

    def __init__(self, n: int):
        self.n = int(n)
        self._array: np.ndarray | None = None

    shape = property(lambda self: (self.n, self.n))
    ndim = 2
    size = property(lambda self: self.n * self.n)
    dtype = np.dtype(np.float64)

    def __len__(self) -> int:
        return self.n

    def __repr__(self) -> str:
        return f"Units({self.n})"

    def array(self) -> np.ndarray:
        """The identity matrix, formed at the first use that needs it (read-only, shared)."""
        if self._array is None:
            self._array = _identity(self.n)
        return self._array

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        array = self.array()
        if dtype is not None and np.dtype(dtype) != array.dtype:
            return array.astype(dtype)
        return array.copy() if copy else array

    def __getitem__(self, index: Any) -> Any:
        return self.array()[index]

    def __getattr__(self, name: str) -> Any:  # methods and attributes not above: the array's own
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(self.array(), name)

    def __array_ufunc__(self, ufunc: np.ufunc, method: str, *inputs: Any, **kwargs: Any) -> Any:
        if ufunc is np.matmul and method == "__call__" and not kwargs and len(inputs) == 2:
            product = self._product(*inputs)
            if product is not None:
                return product
        inputs = tuple(_formed(value) for value in inputs)
        if "out" in kwargs:
            kwargs["out"] = tuple(_formed(value) for value in kwargs["out"])
        return getattr(ufunc, method)(*inputs, **kwargs)

    def __array_function__(self, func: Any, types: Any, args: tuple, kwargs: dict) -> Any:
        query = _SHAPE_QUERIES.get(func)
        if query is not None and len(args) == 1 and not kwargs:
            return query(self)
        if func is np.transpose and len(args) == 1 and kwargs.get("axes") is None:
            return self  # the identity is symmetric
        if func is np.reshape and len(args) >= 2 and tuple(np.atleast_1d(args[1])) == self.shape:
            return self
        return func(*_formed_all(args), **{key: _formed_all(value) for key, value in kwargs.items()})

    def _product(self, left: Any, right: Any) -> np.ndarray | None:
        """`left @ right` where one of them is this identity: the other, copied (the product is a new
        array, which generated code may write into) in the product's dtype; None where the shapes
        would not multiply, so that NumPy raises its own error."""
        if left is self and right is self:
            return self.array().copy()
        other = np.asarray(right if left is self else left)
        if other.ndim == 0:
            return None
        axis = (0 if other.ndim == 1 else -2) if left is self else -1
        if other.shape[axis] != self.n:
            return None
        return np.array(other, dtype=np.result_type(other.dtype, np.float64), copy=True)


@functools.lru_cache(maxsize=4)
def _identity(n: int) -> np.ndarray:
    """`np.eye(n)`, read-only so that calls may share it."""
    identity = np.eye(n)
    identity.flags.writeable = False
    return identity


def _formed(value: Any) -> Any:
    return value.array() if isinstance(value, Units) else value


def _formed_all(value: Any) -> Any:
    if isinstance(value, (tuple, list)):
        return type(value)(_formed_all(item) for item in value)
    return _formed(value)


def unit_directions(shape: tuple) -> Units | np.ndarray:
    """The unit vectors of an array of `shape`, one per row: `Units` for a vector, else `np.eye`
    reshaped (where a product with them is not the other operand)."""
    size = int(np.prod(shape, dtype=np.int64))
    if len(shape) == 1:
        return Units(size)
    return np.eye(size).reshape((size,) + tuple(shape))


__all__ = ["Units", "unit_directions"]
