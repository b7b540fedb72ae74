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
libraries.
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


@overload(matmul_of)
def _matmul_of(a, b):
    ranks = tuple(t.ndim if isinstance(t, types.Array) else 0 for t in (a, b))
    if max(ranks) > 2:
        raise TypingError(f"the numba backend supports @ of 1-D and 2-D arrays only, got ranks {ranks}")
    if _contiguous_float64(a, 2) and _contiguous_float64(b, 1) and b.layout == "C":
        return _MATRIX_VECTOR[a.layout]
    if _contiguous_float64(a, 1) and a.layout == "C" and _contiguous_float64(b, 2):
        return _VECTOR_MATRIX[b.layout]
    return lambda a, b: a @ b


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


__all__ = ["matmul_of", "numpy_dgemv_address", "uses_numpy_blas"]
