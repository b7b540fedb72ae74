"""Ops with zero derivative by structure: constructors, shape queries, helpers.

Their outputs never carry an adjoint, so the reverse transform skips them;
they appear in generated code only to build values the backward pass reads.
`make_tuple` and `make_slice` are the IR's way of building index and shape
tuples from variables.
"""

from __future__ import annotations

import numpy as np

from symdiff.rules.registry import register_nondiff
from symdiff.rules.shapes import concat_offset, grad_seed, inverse_axes, keepdims_shape


def make_tuple(*items):
    """`(a, b, ...)`: printed as a tuple literal."""
    return items


def make_slice(start, stop, step):
    """`start:stop:step`: printed as a slice inside subscripts."""
    return slice(start, stop, step)


for _func in (
    np.zeros, np.ones, np.empty, np.zeros_like, np.ones_like, np.empty_like, np.full,
    np.full_like, np.arange, np.eye, np.linspace, np.shape, np.size, np.ndim, np.argmax, np.argmin,
):  # fmt: skip
    register_nondiff(_func)
register_nondiff(len, op="len", path="len")
register_nondiff(range, op="range", path="range")
register_nondiff(make_tuple, op="make_tuple", path="make_tuple")
register_nondiff(make_slice, op="make_slice", path="slice", aliases=(slice,))
for _helper in (keepdims_shape, concat_offset, inverse_axes, grad_seed):
    register_nondiff(_helper, helper=True)
