"""Matrix-vector products of Numba-compiled gradients through NumPy's own BLAS.

Numba calls BLAS through SciPy (`scipy.linalg.cython_blas`), and NumPy's
wheels bundle a BLAS of their own (`scipy-openblas`). The two are often
different builds, and they need not be equally fast: with SciPy 1.17's
OpenBLAS 0.3.30 and NumPy 2.4's 0.3.31, `x.T @ g` for a C-contiguous
`(10000, 100)` `x` (a `gemv` without transposition in BLAS's column-major
terms, the backward product of every linear model) takes 150-160 us where
NumPy takes 115-130 us, and that alone costs the Numba backend's logistic
regression gradient its lead over the NumPy backend. So `matmul_of(a, b)`,
which the Numba backend prints for `a @ b`, computes the products of a
matrix and a vector in float64 with NumPy's `cblas_dgemv`: the same code, the
same speed and bit for bit the same results as the NumPy backend.

NumPy's BLAS is found once, at import: the `scipy-openblas` library NumPy's
wheels ship next to it (`numpy.libs`, `numpy/.dylibs`), only if NumPy has
already loaded it (`RTLD_NOLOAD`), only through its 64-bit-integer CBLAS
symbol, and only after a small product through it gives NumPy's answer.
Its address goes into a pointer slot that compiled code reads at run time
through a symbol registered with LLVM (as Numba does for its own C helpers),
never into the machine code: gradients cached on disk stay valid in any
process. Where the slot is empty (another NumPy build, Windows), where a
product is not a contiguous float64 matrix times a contiguous float64 vector,
or where it has a zero-length side, `matmul_of` is Numba's own `a @ b`.
Matrix-matrix products stay Numba's: they run at the same speed in both
libraries. They go through `_matrix_product`, compiled with `cache=True`, so
Numba's product is compiled once per signature, not in every gradient.

`@` of stacks of matrices (an operand of rank 3 or more, which Numba's own
`@` refuses) is one product per matrix of the broadcast stack, reading a
broadcast operand in place (a loop for small matrices, `np.dot` for larger
ones), or one tall product when the right operand is a matrix;
`batched_adjoints` gives the two cotangents of such a product, the
cotangent of a broadcast operand accumulated entry by entry rather than
summed from one product per entry of the broadcast stack. Operands of two dtypes
(float32 @ float64) are promoted as NumPy promotes them.
"""

from __future__ import annotations

import ctypes
import os

import llvmlite.binding as llvm
import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core.errors import TypingError
from numba.extending import intrinsic, overload
from numba.np.numpy_support import as_dtype

from symdiff.backends.numba.helper_cache import CACHED

_SYMBOL = "symdiff_numpy_cblas_dgemv"
_CBLAS_NAMES = ("scipy_cblas_dgemv64_", "cblas_dgemv64_")  # blasint is int64 in both
_ROW_MAJOR, _NO_TRANS, _TRANS = 101, 111, 112

_CBLAS_DGEMV = ctypes.CFUNCTYPE(
    None, ctypes.c_int, ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_double, ctypes.c_void_p,
    ctypes.c_int64, ctypes.c_void_p, ctypes.c_int64, ctypes.c_double, ctypes.c_void_p, ctypes.c_int64,
)  # fmt: skip


def _library_dirs() -> list[str]:
    root = os.path.dirname(np.__file__)
    return [os.path.join(os.path.dirname(root), "numpy.libs"), os.path.join(root, ".dylibs")]


def _checked(address: int) -> bool:
    """Whether the function at `address` computes `a @ x` and `a.T @ x` as NumPy does."""
    a = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    gemv = _CBLAS_DGEMV(address)
    for trans, x, want in ((_NO_TRANS, np.array([1.0, -1.0, 2.0]), a @ [1.0, -1.0, 2.0]), (_TRANS, np.array([2.0, 1.0]), a.T @ [2.0, 1.0])):  # fmt: skip
        out = np.full(want.shape, np.nan)
        gemv(_ROW_MAJOR, trans, 2, 3, 1.0, a.ctypes.data, 3, x.ctypes.data, 1, 0.0, out.ctypes.data, 1)
        if not np.array_equal(out, want):
            return False
    return True


def numpy_dgemv_address() -> int | None:
    """The address of the CBLAS `dgemv` (64-bit integers) of the BLAS NumPy has loaded, or None."""
    noload = getattr(os, "RTLD_NOLOAD", None)
    if noload is None:
        return None
    for folder in _library_dirs():
        names = sorted(os.listdir(folder)) if os.path.isdir(folder) else []
        for path in (os.path.join(folder, name) for name in names if "openblas" in name):
            try:
                library = ctypes.CDLL(path, mode=noload | getattr(os, "RTLD_LOCAL", 0))
            except OSError:  # not loaded by NumPy: leave it alone
                continue
            for name in _CBLAS_NAMES:
                function = getattr(library, name, None)
                address = ctypes.cast(function, ctypes.c_void_p).value if function is not None else None
                if address and _checked(address):
                    return address
    return None


# The slot compiled code reads; registered under a fixed name, filled (or not) for this process.
_slot = ctypes.c_void_p(numpy_dgemv_address())
llvm.add_symbol(_SYMBOL, ctypes.addressof(_slot))


def uses_numpy_blas() -> bool:
    """Whether matrix-vector products in this process go through NumPy's BLAS."""
    return bool(_slot.value)


@intrinsic
def _numpy_gemv(typingctx, trans, rows, cols, matrix, vector, out):
    """`out[:] = op(matrix) @ vector` through NumPy's BLAS; False (and nothing done) if there is none.

    `matrix` is C-contiguous `(rows, cols)` data, `op` transposes it if
    `trans`; the caller checks shapes and that no side is empty.
    """
    sig = types.boolean(types.boolean, types.intp, types.intp, matrix, vector, out)

    def codegen(context, builder, signature, args):
        trans_flag, rows_value, cols_value, matrix_value, vector_value, out_value = args
        i32, i64, double, byte_pointer = ir.IntType(32), ir.IntType(64), ir.DoubleType(), ir.IntType(8).as_pointer()
        double_pointer = double.as_pointer()
        function_type = ir.FunctionType(
            ir.VoidType(), [i32, i32, i64, i64, double, double_pointer, i64, double_pointer, i64, double, double_pointer, i64]
        )  # fmt: skip
        slot = builder.module.globals.get(_SYMBOL)
        if slot is None:
            slot = ir.GlobalVariable(builder.module, byte_pointer, _SYMBOL)
            slot.linkage = "external"
        address = builder.load(slot)
        available = builder.icmp_unsigned("!=", address, ir.Constant(byte_pointer, None))
        with builder.if_then(available):
            data = [
                context.make_array(typ)(context, builder, value).data
                for typ, value in zip(signature.args[3:], (matrix_value, vector_value, out_value))
            ]
            trans_code = builder.select(trans_flag, ir.Constant(i32, _TRANS), ir.Constant(i32, _NO_TRANS))
            rows_64, cols_64 = builder.sext(rows_value, i64), builder.sext(cols_value, i64)
            one = ir.Constant(i64, 1)
            builder.call(
                builder.bitcast(address, function_type.as_pointer()),
                [ir.Constant(i32, _ROW_MAJOR), trans_code, rows_64, cols_64, ir.Constant(double, 1.0), data[0], cols_64,
                 data[1], one, ir.Constant(double, 0.0), data[2], one],
            )  # fmt: skip
        return available

    return sig, codegen


def matmul_of(a, b):
    """`a @ b` (in compiled code, matrix times vector through NumPy's BLAS where it can)."""
    return a @ b


def _contiguous_float64(typ, ndim: int) -> bool:
    return isinstance(typ, types.Array) and typ.ndim == ndim and typ.dtype == types.float64 and typ.layout in "CF"


@overload(matmul_of, jit_options=CACHED)
def _matmul_of(a, b):
    ranks = tuple(t.ndim if isinstance(t, types.Array) else 0 for t in (a, b))
    if min(ranks) > 0 and a.dtype != b.dtype:  # Numba's `@` takes one dtype; NumPy promotes (float32 @ float64)
        common = np.promote_types(as_dtype(a.dtype), as_dtype(b.dtype))
        if common.kind not in "fc":
            common = np.dtype(np.float64)
        return lambda a, b: matmul_of(a.astype(common), b.astype(common))
    if max(ranks) > 2:
        return _batched_impl(ranks)
    if _contiguous_float64(a, 2) and _contiguous_float64(b, 1) and b.layout == "C":
        return _MATRIX_VECTOR[a.layout]
    if _contiguous_float64(a, 1) and a.layout == "C" and _contiguous_float64(b, 2):
        return _VECTOR_MATRIX[b.layout]
    if ranks == (2, 2) and isinstance(a.dtype, (types.Float, types.Complex)):
        return lambda a, b: _matrix_product(a, b)
    return lambda a, b: a @ b


@njit(cache=True)
def _matrix_product(a, b):
    """`a @ b` of two matrices, Numba's own: a function of its own with `cache=True`, so that Numba
    compiles its product (checks, BLAS call, result) once per signature into its on-disk cache
    instead of into every gradient's first compile (a third of a second each, three for an MLP)."""
    return a @ b


@njit(inline="always")
def _gemv_or_own(a, b, stored, trans, vector, inner, size):
    """`a @ b` computed as `op(stored) @ vector`, `stored` the C-contiguous form of the matrix
    (an F matrix is the transpose of one), `inner` the matrix's length along the vector,
    `size` the result's; Numba's own product where NumPy's BLAS is absent or a side is empty."""
    rows, cols = stored.shape
    if inner != vector.shape[0] or rows == 0 or cols == 0:
        return a @ b
    out = np.empty(size)
    return out if _numpy_gemv(trans, rows, cols, stored, vector, out) else a @ b


def _matrix_c_vector(a, b):
    return _gemv_or_own(a, b, a, False, b, a.shape[1], a.shape[0])


def _matrix_f_vector(a, b):
    return _gemv_or_own(a, b, a.T, True, b, a.shape[1], a.shape[0])


def _vector_matrix_c(a, b):
    return _gemv_or_own(a, b, b, True, a, b.shape[0], b.shape[1])


def _vector_matrix_f(a, b):
    return _gemv_or_own(a, b, b.T, False, a, b.shape[0], b.shape[1])


_MATRIX_VECTOR = {"C": _matrix_c_vector, "F": _matrix_f_vector}
_VECTOR_MATRIX = {"C": _vector_matrix_c, "F": _vector_matrix_f}


# -- stacks of matrices (`@` of an operand of rank 3 or more) --------------------------------------


def _batched_impl(ranks: tuple[int, int]):
    """`a @ b` for operands of these ranks, one of them 3 or more: 1-D operands become one-row or
    one-column matrices, and the promoted axis is dropped from the stacked product, as NumPy does."""
    if min(ranks) == 0:
        raise TypingError(f"the numba backend supports @ of arrays only, got ranks {ranks}")
    if ranks[0] == 1:
        return lambda a, b: _drop_row_axis(_stacked_matmul(as_row(a), b))
    if ranks[1] == 1:
        return lambda a, b: _drop_column_axis(_stacked_matmul(a, as_column(b)))
    return lambda a, b: _stacked_matmul(a, b)


@njit(cache=True)
def as_row(a):
    """A 1-D array as a one-row matrix."""
    return np.ascontiguousarray(a).reshape((1, a.shape[0]))


@njit(cache=True)
def as_column(b):
    """A 1-D array as a one-column matrix."""
    return np.ascontiguousarray(b).reshape((b.shape[0], 1))


@njit(cache=True)
def _drop_row_axis(x):
    """`x[..., 0, :]` of a C-contiguous stack of one-row matrices."""
    return x.reshape(x.shape[:-2] + (x.shape[-1],))


@njit(cache=True)
def _drop_column_axis(x):
    """`x[..., 0]` of a C-contiguous stack of one-column matrices."""
    return x.reshape(x.shape[:-1])


@njit(cache=True)
def _stacked_matmul(a, b):
    """`a @ b` for stacks of matrices (ranks 2 or more, stack axes broadcast): one product per matrix,
    or a single one when `b` is one matrix (the stack of `a` is then rows of one tall matrix)."""
    m, k, n = a.shape[-2], a.shape[-1], b.shape[-1]
    if b.shape[-2] != k:
        raise ValueError("matmul: the operands' inner dimensions differ")
    if b.ndim == 2:
        return (np.ascontiguousarray(a).reshape((-1, k)) @ np.ascontiguousarray(b)).reshape(a.shape[:-1] + (n,))
    stack = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    out = _stacked_product(a, b, np.ones(len(stack), np.int64), False)
    return out.reshape(stack + (m, n))


@njit(cache=True)
def _stack_dims(shape, rank):
    """The stack axes of `shape` (all but its last two) as an array, padded with leading 1s to `rank`."""
    own = len(shape) - 2 if len(shape) >= 2 else 0
    dims = np.ones(rank, np.int64)
    for d in range(own):
        dims[rank - own + d] = shape[d]
    return dims


@njit(cache=True)
def _entry_steps(dims, stack):
    """How far one step along each axis of the broadcast `stack` moves in a stack `dims` (C order,
    flat entries): 0 along the axes it broadcasts."""
    steps = np.zeros(dims.size, np.int64)
    step = 1
    for d in range(dims.size - 1, -1, -1):
        if dims[d] != 1 or stack[d] == 1:
            steps[d] = step
        step *= dims[d]
    return steps


@njit(cache=True)
def _stacked_product(a, b, target, summed):
    """The products of the broadcast stacks of matrices `a` and `b`, flattened to (entries, m, n).

    Broadcast operands are read in place, never copied per entry. `summed` (for the cotangent of
    an operand that the product broadcast): the result has the stack `target` (of the broadcast
    stack's rank), and the products that land on one of its entries are added, never materialised
    apart; otherwise the result has the broadcast stack and `target` is not read.
    """
    m, k, n = a.shape[-2], a.shape[-1], b.shape[-1]
    rank = max(a.ndim, b.ndim) - 2
    a_dims, b_dims = _stack_dims(a.shape, rank), _stack_dims(b.shape, rank)
    stack = np.where(b_dims == 1, a_dims, b_dims)  # broadcast (a length 0 against 1 is 0)
    out_dims = target if summed else stack
    a_steps, b_steps, out_steps = (
        _entry_steps(a_dims, stack),
        _entry_steps(b_dims, stack),
        _entry_steps(out_dims, stack),
    )
    left = np.ascontiguousarray(a).reshape((-1, m, k))
    right = np.ascontiguousarray(b).reshape((-1, k, n))
    dtype = (left[:1, :1, :1] * right[:1, :1, :1]).dtype
    out = np.zeros((np.prod(out_dims), m, n), dtype=dtype)
    small = m * k * n <= 4096
    coordinate = np.zeros(rank, np.int64)
    ia = ib = io = 0
    for _ in range(np.prod(stack)):
        if small and k < n:  # rows of `b` added into rows of the result: the inner loop runs along them
            for r in range(m):
                for c in range(k):
                    factor = left[ia, r, c]
                    for j in range(n):
                        out[io, r, j] += factor * right[ib, c, j]
        elif small:  # one dot product per result element, accumulated in a register
            for r in range(m):
                for j in range(n):
                    total = out[io, r, j]
                    for c in range(k):
                        total += left[ia, r, c] * right[ib, c, j]
                    out[io, r, j] = total
        else:
            out[io] += np.dot(left[ia], right[ib])
        for d in range(rank - 1, -1, -1):  # the next entry: an odometer over the stack, no divisions
            coordinate[d] += 1
            ia, ib, io = ia + a_steps[d], ib + b_steps[d], io + out_steps[d]
            if coordinate[d] < stack[d]:
                break
            coordinate[d] = 0
            ia, ib, io = ia - a_steps[d] * stack[d], ib - b_steps[d] * stack[d], io - out_steps[d] * stack[d]
    return out


@njit(cache=True)
def _with_last_axis(g):
    """`g[..., None]`, contiguous."""
    return np.ascontiguousarray(g).reshape(g.shape + (1,))


@njit(cache=True)
def _with_row_axis(g):
    """`g[..., None, :]`, contiguous."""
    return np.ascontiguousarray(g).reshape(g.shape[:-1] + (1, g.shape[-1]))


@njit(cache=True)
def _transposed(x):
    """`np.swapaxes(x, -1, -2)` of a stack of matrices."""
    return np.swapaxes(x, x.ndim - 1, x.ndim - 2)


@njit(cache=True)
def _row_adjoint_a(g, a, b):
    return _drop_row_axis(_stacked_matmul(_with_row_axis(g), _transposed(b)))


@njit(cache=True)
def _row_adjoint_b(g, a, b):
    return _stacked_matmul(_transposed(as_row(a)), _with_row_axis(g))


@njit(cache=True)
def _column_adjoint_a(g, a, b):
    return _stacked_matmul(_with_last_axis(g), _transposed(as_column(b)))


@njit(cache=True)
def _column_adjoint_b(g, a, b):
    return _drop_column_axis(_stacked_matmul(_transposed(a), _with_last_axis(g)))


@njit(cache=True)
def _stack_adjoint_a(g, a, b):
    rank = max(a.ndim, b.ndim) - 2
    return _stacked_product(g, _transposed(b), _stack_dims(a.shape, rank), True).reshape(a.shape)


@njit(cache=True)
def _stack_adjoint_b(g, a, b):
    rank = max(a.ndim, b.ndim) - 2
    return _stacked_product(_transposed(a), g, _stack_dims(b.shape, rank), True).reshape(b.shape)


def batched_adjoints(ranks: tuple[int, int]):
    """Compiled `(g, a, b) -> cotangent of a`, and of b, in `a @ b` for these ranks, one of them 3 or
    more, before `sum_to(..., shape)`: NumPy's rule (`rules.shapes.matmul_adjoint_a`) with the
    promotion of a 1-D operand chosen when Numba compiles."""
    if min(ranks) == 0:
        raise TypingError(f"the numba backend supports @ of arrays only, got ranks {ranks}")
    if ranks[0] == 1:
        return _row_adjoint_a, _row_adjoint_b
    if ranks[1] == 1:
        return _column_adjoint_a, _column_adjoint_b
    return _stack_adjoint_a, _stack_adjoint_b


__all__ = ["as_column", "as_row", "batched_adjoints", "matmul_of", "numpy_dgemv_address", "uses_numpy_blas"]
