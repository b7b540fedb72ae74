"""Vectorisable `exp`, `expm1`, `log`, `log1p` and `tanh` for Numba-compiled gradients.

Numba compiles `np.exp(a)` to one call of the C library's scalar `exp` per
element: LLVM cannot vectorise the loop (llvmlite's LLVM has no vector math
library), so Numba runs 5-10x slower than NumPy's own SIMD loops on these
functions, and transcendental-heavy gradients (an MLP's `tanh`, a softmax's
`exp`) lose to the NumPy backend. Here each function is plain arithmetic that
LLVM vectorises: Cody-Waite range reduction and a Taylor polynomial for
`exp`/`expm1`, an `atanh` series on the mantissa for `log`, and
`tanh(x) = -expm1(-2|x|) / (2 + expm1(-2|x|))` with the sign of `x`.
Branches are selects, so a loop of them is straight-line vector code.

Accuracy: within a few units in the last place of NumPy's results over the
whole double range (tested in tests/backends/test_numba_math.py), including
infinities, NaN, signed zeros and subnormal results.

Each is a `numba.vectorize` ufunc (`vexp`, `vexpm1`, `vlog`, `vlog1p`,
`vtanh`), so Numba's array-expression pass fuses it with the arithmetic
around it into one loop; on scalars it is an inlined function call. They
compile lazily, for the types they meet (in double precision, rounded to
float32 for a float32 argument, as NumPy's float32 loops return), so importing this module and loading a
cached gradient compile nothing. The
generated code calls them where the NumPy backend calls `np.exp`, ....

`power_of(a, b)` is `a ** b` for an exponent that is a variable: an integer
exponent becomes a float one, so that `0.0 ** -1` is inf as in NumPy rather
than Numba's ZeroDivisionError (a constant negative integer exponent is
printed as a float instead, see `lowering.py`).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager

import llvmlite.binding as llvm
import numba
import numpy as np
from llvmlite import ir
from numba import types
from numba.core.compiler_lock import global_compiler_lock
from numba.extending import intrinsic, overload
from numba.np.numpy_support import as_dtype

from symdiff.backends.numba.helper_cache import CACHED

_LOG2E = 1.4426950408889634
_LN2_HI = 6.93147180369123816490e-01  # low bits zero: k * _LN2_HI is exact for |k| < 2**11
_LN2_LO = 1.90821492927058770002e-10
_SQRT2 = 1.4142135623730951
_TINY = 2.2250738585072014e-308  # smallest normal double


@intrinsic
def _bits_to_float(typingctx, bits):
    """Reinterpret an int64 as a float64 (a vectorisable bit cast)."""

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.DoubleType())

    return types.float64(types.int64), codegen


@intrinsic
def _float_to_bits(typingctx, x):
    """Reinterpret a float64 as an int64."""

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.IntType(64))

    return types.int64(types.float64), codegen


def _polynomial(name: str, coefficients: list[float]):
    """An inlined `c0 + r * (c1 + r * (...))`, written out so that LLVM sees straight-line code."""
    text = repr(coefficients[-1])
    for c in reversed(coefficients[:-1]):
        text = f"{c!r} + r * ({text})"
    scope: dict = {}
    exec(compile(f"def {name}(r):\n    return {text}\n", f"<symdiff {name}>", "exec"), scope)  # noqa: S102 - our own text
    return numba.njit(inline="always")(scope[name])


_exp_series = _polynomial("exp_series", [1.0 / math.factorial(k) for k in range(14)])  # |r| <= ln(2)/2
_expm1_series = _polynomial("expm1_series", [1.0 / math.factorial(k) for k in range(1, 18)])  # |x| < 0.5
_atanh_series = _polynomial("atanh_series", [1.0 / (2 * k + 1) for k in range(12)])  # s*s <= 0.0295


@numba.njit(inline="always")
def exp_kernel(x):
    """`exp(x)` for a float64 `x`."""
    clamped = min(max(x, -746.0), 710.0)
    k = math.floor(clamped * _LOG2E + 0.5)
    r = clamped - k * _LN2_HI - k * _LN2_LO
    whole = np.int64(k)
    half = whole >> 1  # 2**k in two factors, so that k < -1022 (subnormal results) stays exact
    scaled = _exp_series(r) * _bits_to_float((half + 1023) << 52)
    result = scaled * _bits_to_float((whole - half + 1023) << 52)
    return x if math.isnan(x) else result


@numba.njit(inline="always")
def expm1_kernel(x):
    """`exp(x) - 1` without cancellation near 0."""
    series = x * _expm1_series(x)
    shifted = exp_kernel(x) - 1.0  # computed either way: a select vectorises, a branch does not
    return series if abs(x) < 0.5 else shifted


@numba.njit(inline="always")
def log_kernel(x):
    """`log(x)` for a float64 `x`."""
    tiny = x < _TINY
    y = x * 18014398509481984.0 if tiny else x  # 2**54 lifts subnormals to normal numbers
    bits = _float_to_bits(y)
    exponent = ((bits >> 52) & 0x7FF) - (1077 if tiny else 1023)
    m = _bits_to_float((bits & 0x000FFFFFFFFFFFFF) | 0x3FF0000000000000)  # mantissa in [1, 2)
    high = m > _SQRT2
    m = m * 0.5 if high else m
    e = np.float64(exponent + (1 if high else 0))
    f = m - 1.0
    s = f / (2.0 + f)
    log_m = 2.0 * s * _atanh_series(s * s)
    result = e * _LN2_HI + (log_m + e * _LN2_LO)
    result = -np.inf if x == 0.0 else result
    result = np.nan if x < 0.0 else result
    return x if (math.isnan(x) or x == np.inf) else result


@numba.njit(inline="always")
def log1p_kernel(x):
    """`log(1 + x)` without cancellation near 0."""
    u = 1.0 + x
    log_u = log_kernel(u)
    corrected = log_u - ((u - 1.0) - x) / u  # the rounding of 1 + x, undone to first order
    result = log_u if u <= 0.0 else corrected
    return x if (x == np.inf or u == 1.0) else result


@numba.njit(inline="always")
def tanh_kernel(x):
    """`tanh(x)` from `expm1`, accurate for small and large `|x|` alike."""
    em = expm1_kernel(-2.0 * abs(x))
    return math.copysign(-em / (2.0 + em), x)


def in_type_of(result, x):
    """`result` (a float64) rounded to float32 when `x` is one: a float32 `np.exp` gives a float32."""
    return result


@overload(in_type_of, inline="always", jit_options=CACHED)
def _in_type_of(result, x):
    if x == types.float32:
        return lambda result, x: np.float32(result)
    return lambda result, x: result


@numba.vectorize(cache=True)
def vexp(x):
    """`np.exp`, vectorisable."""
    return in_type_of(exp_kernel(np.float64(x)), x)


@numba.vectorize(cache=True)
def vexpm1(x):
    """`np.expm1`, vectorisable."""
    return in_type_of(expm1_kernel(np.float64(x)), x)


@numba.vectorize(cache=True)
def vlog(x):
    """`np.log`, vectorisable."""
    return in_type_of(log_kernel(np.float64(x)), x)


@numba.vectorize(cache=True)
def vlog1p(x):
    """`np.log1p`, vectorisable."""
    return in_type_of(log1p_kernel(np.float64(x)), x)


@numba.vectorize(cache=True)
def vtanh(x):
    """`np.tanh`, vectorisable."""
    return in_type_of(tanh_kernel(np.float64(x)), x)


def power_of(a, b):
    """`a ** b` for an exponent known only at run time."""
    return a**b


@overload(power_of, jit_options=CACHED)
def _power_of(a, b):
    # A float raised to an integer goes through Numba's repeated multiplication, which raises
    # ZeroDivisionError for 0.0 ** -1 whatever the error model; NumPy gives inf. A float exponent does.
    base = a.dtype if isinstance(a, types.Array) else a
    exponent = b.dtype if isinstance(b, types.Array) else b
    if not (isinstance(base, types.Float) and isinstance(exponent, types.Integer)):
        return lambda a, b: a**b
    real = as_dtype(base).type
    if isinstance(b, types.Array):
        return lambda a, b: a ** b.astype(real)
    return lambda a, b: a ** real(b)


VECTOR_MATH = {"exp": "vexp", "expm1": "vexpm1", "log": "vlog", "log1p": "vlog1p", "tanh": "vtanh"}
_INLINE_THRESHOLD = 1000  # LLVM's default at -O3 is 250: vtanh's kernel is too big to be inlined at that
_DEFAULT_THRESHOLD = 250


@contextmanager
def generous_inlining() -> Iterator[None]:
    """Let LLVM inline bigger functions (these kernels) while the block compiles.

    Numba calls a ufunc's kernel from the loop of an array expression; LLVM
    vectorises the loop only if it inlines the kernel, and at its default
    threshold it does so for `vexp` but not for `vtanh`. The threshold is a
    process-wide LLVM option, so it is raised only around compilation of
    symdiff's own functions (see `compile_generously`) and restored after.
    Numba's global compiler lock is held throughout: a compile in another
    thread (a background compile, `tiered.py`) cannot restore the default
    while this one still runs, nor compile under the raised threshold.
    """
    with global_compiler_lock:
        llvm.set_option("", f"-inline-threshold={_INLINE_THRESHOLD}")
        try:
            yield
        finally:
            llvm.set_option("", f"-inline-threshold={_DEFAULT_THRESHOLD}")


def compile_generously(dispatcher) -> None:
    """Make `dispatcher` compile new signatures under `generous_inlining`.

    Numba's dispatcher calls `_compile_for_args` when no compiled version
    matches the arguments; wrapping it leaves the fast path of every other
    call untouched, and loads from the on-disk cache compile nothing.
    """
    compile_for_args = dispatcher._compile_for_args

    def compile_inlining(*args, **kwargs):
        with generous_inlining():
            return compile_for_args(*args, **kwargs)

    dispatcher._compile_for_args = compile_inlining


__all__ = ["VECTOR_MATH", "compile_generously", "generous_inlining", "power_of", "vexp", "vexpm1", "vlog", "vlog1p", "vtanh"]
