"""Integer-array and mask indexes on the CUDA backend: gathers, atomic scatter-adds and kept writes.

Repeated entries are the point: a scatter-add must add each, a write must
keep the one NumPy keeps. Sizes are tiny: the simulator
runs kernels as Python threads (a tiny switch interval makes them interleave
inside a read-modify-write, which shows an add that is not atomic).
"""

from __future__ import annotations

import sys

import numpy as np
import pytest
from numba import cuda

import symdiff as sd
from symdiff.backends.cuda import device_index
from symdiff.backends.cuda.runtime import to_device, to_host
from symdiff.errors import BackendError
from tests.backends.cuda_forms import index_argument_repeated, index_argument_write_repeated
from tests.oracles import numeric_grad

# The gradients of tests/backends/cuda_forms.py (index arguments, constants and lists, repeated entries, in
# reads and writes) are checked against the NumPy backend and finite differences by test_cuda_control.py.


def test_index_argument_repeated_add_up_in_the_gradient():
    x, idx = np.array([0.3, -1.2, 0.7, 2.0]), np.array([1, 3, 1, 1, 0, 3])
    got = sd.grad(index_argument_repeated, backend="cuda")(x, idx)
    weights = np.arange(1.0, 7.0)
    want = np.zeros(4)
    for k, i in enumerate(idx):  # entry 1 three times, entry 3 twice, entry 2 never
        want[i] += np.cos(x[i]) * weights[k]
    np.testing.assert_allclose(got, want, rtol=1e-13)
    assert got[2] == 0.0


def test_only_the_kept_write_gets_the_cotangent():
    x, idx = np.array([0.4, -1.1, 0.9, 1.3, 0.2]), np.array([3, 0, 3, 1, 3])
    got = sd.grad(index_argument_write_repeated, backend="cuda")(x, idx)
    # out[3] keeps x[4] * 2 (NumPy's last write), so x[0] and x[2], written to 3 before, get nothing
    assert got[0] == 0.0 and got[2] == 0.0 and got[4] != 0.0
    np.testing.assert_allclose(got, numeric_grad(index_argument_write_repeated, (x, idx), 0), rtol=1e-6, atol=1e-8)


def test_an_index_argument_may_be_a_device_array():
    x, idx = np.array([0.3, -1.2, 0.7, 2.0]), np.array([1, 3, 1, 1, 0, 3])
    got = sd.grad(index_argument_repeated, backend="cuda")(x, cuda.to_device(idx))
    np.testing.assert_allclose(got, sd.grad(index_argument_repeated)(x, idx), rtol=1e-13)


def test_an_out_of_range_entry_raises_numpys_index_error():
    gradient = sd.grad(index_argument_repeated, backend="cuda")
    with pytest.raises(IndexError):
        gradient(np.ones(3), np.array([0, 3]))


def test_the_scatter_add_kernel_adds_every_repeat():
    """Many threads adding into three elements. The simulator's threads are Python threads, which a tiny switch
    interval interleaves inside `+=`: a plain add then loses updates (checked by hand: errors of 0.4-26 here),
    `cuda.atomic.add` does not."""
    rng = np.random.default_rng(1)
    index = rng.integers(0, 3, size=2000)
    values = rng.normal(size=2000)
    want = np.zeros(3)
    np.add.at(want, index, values)
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        got = to_host(device_index.device_scatter_add(values, (3,), index))
    finally:
        sys.setswitchinterval(interval)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-11)


def test_gathers_follow_numpys_placement_of_array_axes():
    """`A[1, :, idx]` puts the array's axis first; strided and offset views gather through their layout."""
    A = np.arange(2 * 3 * 4, dtype=float).reshape(2, 3, 4)
    view = device_index.device_getitem(to_device(A), (slice(None), 0))  # A[:, 0]: strided, a view
    for index in [(1, slice(None), np.array([3, 0, 3])), (np.array([[1, 0]]), slice(1, 3), np.array([2, 2]))]:
        np.testing.assert_array_equal(to_host(device_index.device_getitem(to_device(A), index)), A[index])
    transposed = to_device(A).with_layout((4, 3, 2), (1, 4, 12))
    index = (np.array([3, 1]), np.array([0, 2]))
    np.testing.assert_array_equal(to_host(device_index.device_getitem(transposed, index)), A.T[index])
    np.testing.assert_array_equal(to_host(device_index.device_getitem(view, np.array([1, 1]))), A[:, 0][[1, 1]])


def test_an_index_computed_on_the_gpu_is_refused_when_built():
    def shifted(x):
        return np.sum(x[np.argmax(x) - 1])  # arithmetic on the device: an index of floats there

    with pytest.raises(BackendError, match="computed on the GPU") as caught:
        sd.grad(shifted, backend="cuda")
    assert caught.value.location is not None and caught.value.location.file.endswith("test_cuda_gather.py")
