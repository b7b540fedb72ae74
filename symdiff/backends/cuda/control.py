"""Host side of control flow on the CUDA backend: conditions read back from the device, loop states' sizes.

`if`, `while` and loop bounds run in the generated host function, in Python.
A condition computed on the device (`while np.sum(r * r) > tol`) is a 0-d
device value; `host_scalar` copies that one number back (a synchronisation,
as `bool()` of a CuPy or PyTorch array is), so the host can branch on it;
an index computed on the device (`x[x > 0]`, `x[np.argmax(x)]`) is copied back
whole (`host_array`), since the offsets it selects are computed on the host, as are the operands of
constructors (`np.linspace`, `np.arange`, `np.full`) computed on the device.
Loop tapes are plain Python lists holding device values and numbers alike.
Generated modules carry a verbatim copy of everything below the imports.
"""

from __future__ import annotations

import numpy as np

from symdiff.backends.cuda.runtime import View, to_host


def host_scalar(value):
    """`value` as a host number: a device value of one element is copied back; anything else is returned as is."""
    if not isinstance(value, View):
        return value
    if value.size != 1:
        raise ValueError(
            f"the truth value of an array with {value.size} elements is ambiguous (a condition on the GPU must be one number)"
        )
    return value.base[value.offset : value.offset + 1].copy_to_host()[0]


def nbytes_of(x) -> int:
    """The bytes a value holds (what one saved loop state costs, for checkpointed loops): no copy from the device."""
    if isinstance(x, View):
        return x.size * x.dtype.itemsize
    return np.asarray(x).nbytes


def host_array(value, dtype=None):
    """A device value copied to the host whole (a synchronisation), as `dtype` (None: its own): an index
    computed on the device (kernels store a comparison as a number, so a mask comes back as booleans), or an
    operand of a constructor (`np.linspace(np.min(x), np.max(x), n)`). A 0-d value is a NumPy scalar, so a
    position indexes basically (a view); anything else indexes through device_index's gathers."""
    if not isinstance(value, View):
        return value
    host = np.asarray(to_host(value))
    return (host if dtype is None else host.astype(dtype))[()]


def host_index(value):
    """`value` as a Python int for a slice bound or a loop bound: `host_scalar`, with a whole float made an int.

    Arithmetic on the device computes in floating point (`n * 2 + 1` of an
    integer argument `n` is 7.0 there), so a whole number comes back as a float.
    """
    value = host_scalar(value)
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return int(value)
    return value
