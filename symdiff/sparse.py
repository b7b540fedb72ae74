"""Sparse Jacobians and Hessians as `scipy.sparse` matrices, from one compressed batched pass.

`sparse_hessian(f)(x)` and `sparse_jacobian(f)(x)` trace the pattern at the first call for
each shape of the arguments (and values of the others), colour its columns and take one
batched pass with a direction per colour (`sparsity.py` says how); `pattern=` gives the
nonzeros instead of tracing them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from symdiff.api import Derivative, Wrt, build, readable_function
from symdiff.coloring import COLORINGS, Compression, color_columns
from symdiff.errors import NoSparsityPattern, NoTangentRule
from symdiff.higher import _batched, _batched_rows, _params, _single_wrt, compressed_products, compressed_rows, hvp, jvp
from symdiff.sparsity import _itself, _second, hessian_tracer, jacobian_tracer, value_key

if TYPE_CHECKING:  # SciPy is imported where a sparse matrix is made: `import symdiff` stays cheap
    import scipy.sparse

__all__ = ["SparseDerivative", "color_columns", "sparse_hessian", "sparse_jacobian"]


def _as_pattern(pattern: Any, shape: tuple[int, int]) -> scipy.sparse.csr_matrix:
    import scipy.sparse

    given = scipy.sparse.csr_matrix(pattern, dtype=bool)
    if given.shape != shape:
        raise NoSparsityPattern(f"pattern= has shape {given.shape}, the matrix has {shape}", hint="")
    return given


class SparseDerivative:
    """`hessian` or `jacobian` as a `scipy.sparse.csr_matrix`, from one compressed pass per call.

    `.pattern(*args)` and `.colors(*args)` show what a call uses; `.source` is the code of the
    compressed pass (batched forward mode, directions on the first axis)."""

    def __init__(self, primal: Callable, wrt: str, kind: str, tracer: Callable[..., Any], product: Any,
                 product_pick: Callable, batched: Derivative | None, pattern: Any,
                 back: Callable | None = None, backend: str = "numpy", coloring: str = "star") -> None:  # fmt: skip
        self.primal, self.wrt, self.kind = primal, (wrt,), kind
        self._tracer = tracer  # (args, position) -> the pattern
        self._product, self._product_pick, self._batched = product, product_pick, batched
        self._back, self._backend = back, backend  # a Jacobian's vjp: its rows, where they take fewer colours
        self._given = pattern
        self._coloring = coloring
        self._position = _params(primal).index(wrt)
        self._cache: dict[Any, Compression] = {}

    @property
    def source(self) -> str:
        return (self._batched or self._product.inner).source

    def _structure(self, args: tuple) -> Compression:
        """The pattern, its colours and the compressed pass's directions: made once per shape."""
        key = value_key(args, self._position)
        if key not in self._cache:
            x_shape = np.shape(args[self._position])
            x_size = int(np.prod(x_shape, dtype=np.int64))
            if self._given is not None:
                rows = x_size if self.kind == "hessian" else int(np.size(self.primal(*args)))
                pattern = _as_pattern(self._given, (rows, x_size))
            else:
                pattern = self._tracer(args, self._position)
            hessian = self.kind == "hessian"
            out_shape = None if hessian or self._back is None else np.shape(self.primal(*args))
            self._cache[key] = Compression(pattern, x_shape, hessian, out_shape, self._coloring)
        return self._cache[key]

    def pattern(self, *args: Any) -> scipy.sparse.csr_matrix:
        """The nonzeros the matrix may have at these arguments' shapes (boolean)."""
        return self._structure(args).pattern

    def colors(self, *args: Any) -> np.ndarray:
        """The colour of each column (each row, for a Jacobian taken by rows: `.by_rows(*args)`):
        columns of one colour share one product."""
        return self._structure(args).colors

    def coloring_used(self, *args: Any) -> str:
        """The colouring a call uses: "distance-1", "star", "acyclic" or "distance-1 on rows"."""
        return self._structure(args).coloring

    def by_rows(self, *args: Any) -> bool:
        """Whether the compressed pass runs in reverse, one cotangent per colour of rows."""
        return self._structure(args).by_rows

    def __call__(self, *args: Any) -> scipy.sparse.csr_matrix:
        compression = self._structure(args)
        if compression.by_rows:
            rows = _batched_rows(self._back, self._backend)
            found = compressed_rows(rows, self._back, args, self._position, compression.seeds)
        else:
            found = compressed_products(self._batched, self._product, self._product_pick, args, self._position,
                                        compression.seeds)  # fmt: skip
        return compression.sparse(found)

    def __repr__(self) -> str:
        name = getattr(self.primal, "__name__", "f")
        return f"<symdiff sparse {self.kind} of {name} with respect to {self.wrt[0]}>"


def sparse_hessian(f: Callable, wrt: Wrt = 0, *, backend: str = "numpy", argnum: Wrt | None = None,
                   pattern: Any = None, coloring: str = "star") -> SparseDerivative:  # fmt: skip
    """The Hessian of scalar `f` as a `scipy.sparse.csr_matrix` of shape (x.size, x.size).

    Example: `symdiff.sparse_hessian(rosenbrock_chain)(x)` for x of n = 10^5 elements takes three
    Hessian-vector products at once. `pattern=` gives the nonzeros instead of tracing them.
    `coloring="star"` (the default) reads every entry directly from one product (distance-1 or star
    colouring, the fewer colours); `coloring="acyclic"` also tries an acyclic colouring, fewer
    colours still (two for the chain), its entries solved along two-coloured trees: fewer
    products where they cost more than that solve.
    """
    if coloring not in COLORINGS:
        raise ValueError(f"coloring={coloring!r}: expected one of {', '.join(map(repr, COLORINGS))}")
    f, wrt = readable_function(f), wrt if argnum is None else argnum
    name = _single_wrt(f, wrt)
    gradient = build(f, name, "grad", "numpy")  # its rows are the Hessian's: trace its code
    product = hvp(f, name, backend=backend)  # returns H @ v
    batched = _batched(gradient, name, backend)
    tracer = hessian_tracer(gradient)
    return SparseDerivative(f, name, "hessian", tracer, product, _itself, batched, pattern, coloring=coloring)


def sparse_jacobian(f: Callable, wrt: Wrt = 0, *, backend: str = "numpy", argnum: Wrt | None = None,
                    pattern: Any = None) -> SparseDerivative:  # fmt: skip
    """The Jacobian of `f` as a `scipy.sparse.csr_matrix` of shape (out.size, x.size).

    Example: `symdiff.sparse_jacobian(residuals)(x)` for residuals that each read a few elements
    of x. `pattern=` gives the nonzeros instead of tracing them.
    """
    f, wrt = readable_function(f), wrt if argnum is None else argnum
    name = _single_wrt(f, wrt)
    try:
        forward, back = build(f, name, "jvp", "numpy"), None  # (value, tangent): trace the value's code
    except NoTangentRule:  # an op forward mode lacks: trace the transpose through reverse mode
        forward, back = None, build(f, name, "vjp", "numpy")
    product = jvp(f, name, backend=backend)  # returns (value, J @ t), by reverse passes where it must
    batched = _batched(f, name, backend)
    tracer = jacobian_tracer(f, forward, back)
    rows = build(f, name, "vjp", backend)  # u @ J, for the rows' colours where they are fewer
    return SparseDerivative(f, name, "jacobian", tracer, product, _second, batched, pattern, rows, backend)
