"""`write_at(x, value, index)`: the Numba backend's in-place `x[index] = value` (backends/numba/arrays.py).

An array value goes through `_write_array`, compiled once with `cache=True` (Numba's
slice assignment compiles a shape-formatting error message that took a quarter of
the LSTM gradient's first compile); a scalar is written inline. Both must write
what NumPy writes, and a wrong shape must still be refused as NumPy refuses it.
"""

from __future__ import annotations

import numba
import numpy as np
import pytest

from symdiff.backends.numba.arrays import write_at


@numba.njit
def _writes(x, row, block, k):
    write_at(x, block, (slice(None, None, None), slice(1, 3, None)))  # an array into a 2-D view
    write_at(x, row, k)  # a row
    write_at(x, 7.5, (0, 0))  # a scalar element
    write_at(x, -1.0, (slice(None, None, None), 3))  # a scalar broadcast into a column
    return x


def test_writes_agree_with_numpy():
    x, row, block = np.zeros((3, 4)), np.arange(4.0), np.arange(6.0).reshape(3, 2)
    want = x.copy()
    want[:, 1:3] = block
    want[2] = row
    want[0, 0] = 7.5
    want[:, 3] = -1.0
    np.testing.assert_array_equal(_writes(x.copy(), row, block, 2), want)


def test_a_shape_mismatch_is_still_refused():
    with pytest.raises(ValueError, match="cannot assign slice"):
        _writes(np.zeros((3, 4)), np.arange(4.0), np.zeros((3, 3)), 2)


def test_generated_code_writes_in_place_through_it(tmp_path, monkeypatch):
    import symdiff as sd

    monkeypatch.setenv("SYMDIFF_CACHE_DIR", str(tmp_path / "cache"))
    source = (
        "import numpy as np\n\n\n"
        "def collect(x):\n"
        "    h = np.zeros((3, 4))\n"
        "    h[:, 1:3] = np.tanh(x)\n"
        "    h[0] = 2.0 * x[0, 0]\n"
        "    return np.sum(h * h)\n"
    )
    (tmp_path / "collect_module.py").write_text(source)
    monkeypatch.syspath_prepend(str(tmp_path))
    from collect_module import collect

    x = np.random.default_rng(0).normal(size=(3, 2))
    gradient = sd.grad(collect, backend="numba")
    np.testing.assert_allclose(gradient(x), sd.grad(collect)(x), rtol=1e-13)
    body = gradient.source.split("def collect_grad", 1)[1]
    assert "write_at(h, h1, (slice(None, None, None), slice(1, 3, None)))" in body
    assert not [line for line in body.splitlines() if "] = " in line and "#" not in line], body
