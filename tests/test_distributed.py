"""symdiff.distributed: gradients over Dask arrays equal the single-process ones (issue 22).

Each check compares `symdiff.distributed.value_and_grad` on Dask arrays split
into row blocks with `symdiff.value_and_grad` on the same data held in NumPy
arrays: on Dask's local scheduler, and on one LocalCluster of two worker
processes shared by the module (starting one takes a few seconds). The last
test kills a worker process while its blocks are being computed. Without
Dask (the `distributed` extra, also in `dev`), only the checks that need no
Dask run: `import symdiff.distributed` must work then, and say how to
install Dask when a gradient is called.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import symdiff as sd
import symdiff.distributed as sdd  # imports without dask: dask is needed only when a gradient runs
from symdiff.errors import BadPartition, BadWrt

try:
    import dask
    import dask.array as da
    import distributed
except ImportError:  # the `distributed` extra (in `dev`) is missing: only the first test runs
    dask = da = distributed = None

needs_dask = pytest.mark.skipif(distributed is None, reason="needs dask[array] and distributed (the dev extra)")

UNEVEN = (7, 13, 1, 20, 9)  # 50 rows in blocks of different sizes
ROWS = sum(UNEVEN)


def summed_loss(w, b, x, y):
    z = x @ w + b
    return np.sum(np.logaddexp(0.0, z) - y * z)  # a sum over rows: a term without rows would count per block


def mean_loss(w, b, x, y):
    z = np.tanh(x @ w) + b
    return np.mean((z - y) ** 2)


LOSSES = {"sum": summed_loss, "mean": mean_loss}


def problem(seed=0):
    rng = np.random.default_rng(seed)
    x, y = rng.normal(size=(ROWS, 4)), (rng.random(ROWS) < 0.4) * 1.0
    return rng.normal(size=4), 0.3, x, y


def split(x, y, chunks=UNEVEN):
    return da.from_array(x, chunks=(chunks, 2)), da.from_array(y, chunks=(chunks,))  # x's columns split too


def assert_same(result, expected, rtol=1e-12):
    value, gradients = result
    expected_value, expected_gradients = expected
    np.testing.assert_allclose(value, expected_value, rtol=rtol)
    if isinstance(expected_gradients, tuple):
        assert isinstance(gradients, tuple) and len(gradients) == len(expected_gradients)
    else:
        gradients, expected_gradients = (gradients,), (expected_gradients,)
    for got, want in zip(gradients, expected_gradients):
        assert np.shape(got) == np.shape(want)
        np.testing.assert_allclose(got, want, rtol=rtol)


def programs_here() -> list[str]:
    """The digests of the programs this process compiled (run on the workers)."""
    return sorted(sdd._PROGRAMS)


def slow_copy(block):
    """A block, after a pause: keeps a computation in flight long enough to kill a worker during it."""
    time.sleep(0.4)
    return block.copy()


def test_symdiff_imports_without_dask_and_says_how_to_install_it(tmp_path):
    (tmp_path / "model.py").write_text("import numpy as np\n\ndef loss(w, x):\n    return np.sum(x @ w)\n")
    script = (
        "import sys\n"
        "sys.modules['dask'] = None  # as if dask were not installed\n"
        "import numpy as np, symdiff, symdiff.distributed\n"
        "from model import loss\n"
        "vg = symdiff.distributed.value_and_grad(loss, data=1)  # built without dask\n"
        "try:\n"
        "    vg(np.ones(2), np.ones((3, 2)))\n"
        "except ImportError as error:\n"
        "    print(error)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=tmp_path, check=False, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert "symdiff.distributed needs Dask" in done.stdout and "symdiff[distributed]" in done.stdout, done.stdout


@needs_dask
@pytest.mark.parametrize("reduce", ["sum", "mean"])
def test_default_scheduler_without_a_client(reduce):
    w, b, x, y = problem()
    f = LOSSES[reduce]
    expected = sd.value_and_grad(f, wrt=("w", "b"))(w, b, x, y)
    with dask.config.set(scheduler="threads"):  # what dask.compute uses with no Client (also if one is left)
        result = sdd.value_and_grad(f, wrt=("w", "b"), data=(2, 3), reduce=reduce)(w, b, *split(x, y))
    assert_same(result, expected)


@needs_dask
def test_mismatched_row_chunks_are_refused_naming_the_arguments():
    w, b, x, y = problem()
    vg = sdd.value_and_grad(summed_loss, data=("x", "y"))
    with pytest.raises(BadPartition, match=r"'x' and 'y' are split into different row blocks: 5 blocks .* 2 blocks"):
        vg(w, b, da.from_array(x, chunks=(UNEVEN, 4)), da.from_array(y, chunks=25))
    with pytest.raises(BadPartition, match=r"data argument 'x' is a numpy.ndarray, not a dask array"):
        vg(w, b, x, da.from_array(y, chunks=25))
    with pytest.raises(ValueError):  # BadPartition is a ValueError too
        vg(w, b, da.from_array(x, chunks=(10, 4)), da.from_array(y[:40], chunks=10))


def test_wrong_wrt_data_and_reduce_are_refused_when_built():
    with pytest.raises(BadWrt, match="x is both in wrt and in data"):
        sdd.value_and_grad(summed_loss, wrt=("w", "x"), data=("x", "y"))
    with pytest.raises(BadWrt, match="data='z' names no argument; the arguments are w, b, x, y"):
        sdd.value_and_grad(summed_loss, data=("x", "z"))
    with pytest.raises(ValueError, match="reduce must be 'sum' or 'mean'"):
        sdd.value_and_grad(summed_loss, data=(2, 3), reduce="max")


@needs_dask
def test_one_task_per_nonempty_block_and_the_program_as_source():
    w, b, x, y = problem()
    vg = sdd.value_and_grad(summed_loss, data=(2, 3))
    chunks = (20, 0, 30)
    graph = dict(vg.lazy(w, b, *split(x, y, chunks)).__dask_graph__())
    blocks = [key for key in graph if str(key).startswith("block_value_and_grad-")]
    assert len(blocks) == 2  # the empty block is left out: a mean over it would be nan
    programs = [v for v in graph.values() if isinstance(getattr(v, "value", v), sdd.Program)]
    assert len(programs) == 1  # one key holds the source; every block task reads it
    assert "import symdiff" not in vg.source and "def summed_loss_value_and_grad(" in vg.source


@needs_dask
def test_the_parameters_enter_the_graph_once():
    import cloudpickle

    width = 20_000
    w = np.random.default_rng(5).normal(size=width)  # 160 kB of parameters, against a graph of a few kB
    x, y = da.ones((40, width), chunks=(10, width)), da.zeros(40, chunks=10)
    graph = dict(sdd.value_and_grad(summed_loss, data=(2, 3)).lazy(w, 0.5, x, y).__dask_graph__())
    shipped = sum(len(cloudpickle.dumps(task)) for task in graph.values())  # the scheduler sends tasks one by one
    assert shipped < 1.5 * w.nbytes  # not once per block (4), nor again for the final cast


def test_lists_of_parameters_are_refused_with_a_hint():
    vg = sdd.value_and_grad(summed_loss, data=(2, 3))
    with pytest.raises(BadWrt, match="argument 'w' is a list: symdiff.distributed takes arrays and floats"):
        vg([np.ones(2), np.ones(2)], 0.5, None, None)


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None, silence_logs=logging.CRITICAL
    )
    client = distributed.Client(cluster)
    yield client
    client.close()
    cluster.close()


@needs_dask
@pytest.mark.parametrize("wrt", ["w", ("w", "b")], ids=["one-wrt", "two-wrt"])
@pytest.mark.parametrize("reduce", ["sum", "mean"])
def test_on_a_local_cluster_equals_one_process(client, reduce, wrt):
    w, b, x, y = problem(1)
    f = LOSSES[reduce]
    expected = sd.value_and_grad(f, wrt=wrt)(w, b, x, y)
    vg = sdd.value_and_grad(f, wrt=wrt, data=("x", "y"), reduce=reduce, split_every=2)  # a tree of 3 levels
    assert_same(vg(w, b, *split(x, y)), expected)
    digests = client.run(programs_here)
    assert len(digests) == 2 and all(vg.program.digest in found for found in digests.values())


@needs_dask
def test_numba_backend_on_a_local_cluster(client):
    w, b, x, y = problem(2)
    expected = sd.value_and_grad(summed_loss, wrt=("w", "b"))(w, b, x, y)
    vg = sdd.value_and_grad(summed_loss, wrt=("w", "b"), data=(2, 3), backend="numba")
    assert "@numba.njit" in vg.source
    assert_same(vg(w, b, *split(x, y)), expected, rtol=1e-10)  # Numba sums in its own order


@needs_dask
def test_float32_parameters_get_float32_gradients(client):
    w, b, x, y = problem(3)
    value, gradient = sdd.value_and_grad(mean_loss, data=(2, 3), reduce="mean")(w.astype(np.float32), b, *split(x, y))
    assert gradient.dtype == np.float32
    expected = sd.value_and_grad(mean_loss)(w.astype(np.float32), b, x, y)
    assert_same((value, gradient), expected, rtol=1e-6)


@needs_dask
def test_a_worker_killed_during_the_computation_is_survived(client):
    w, b, x, y = problem(4)
    expected = sd.value_and_grad(summed_loss, wrt=("w", "b"))(w, b, x, y)
    vg = sdd.value_and_grad(summed_loss, wrt=("w", "b"), data=(2, 3))
    x_blocks, y_blocks = split(x, y, (5,) * 10)
    slow = x_blocks.map_blocks(slow_copy, dtype=x.dtype)  # 10 blocks of 0.4 s on two workers: about 2 s
    pids = client.run(os.getpid)
    future = client.compute(vg.lazy(w, b, slow, y_blocks))
    victim = _first_worker_busy(client, future)
    os.kill(pids[victim], signal.SIGKILL)
    assert not future.done()  # killed while blocks were still being computed
    assert_same(future.result(timeout=60), expected)
    client.wait_for_workers(2, timeout=60)  # the nanny started a new worker in its place
    assert victim not in client.scheduler_info()["workers"]


def _first_worker_busy(client, future, timeout=30.0) -> str:
    """The address of a worker that is computing a block of `future`'s graph."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        busy = [address for address, keys in client.processing().items() if keys]
        if busy and not future.done():
            return busy[0]
        time.sleep(0.02)
    raise AssertionError("no worker started on the computation")
