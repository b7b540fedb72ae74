"""One distributed gradient over 10^8 rows that no process ever holds (issue 22's reach check).

    python benchmarks/bench_distributed_rows.py                  # 10^8 rows x 20 features, 2 workers
    python benchmarks/bench_distributed_rows.py --rows 2000000   # a small run

The rows are generated block by block on the workers (`dask.array.random`,
blocks of a million rows), so the data (16.8 GB at 10^8 rows) exist only one
block at a time per worker. The logistic loss at theta = 0 is rows * log 2,
which checks the value; the script prints the time and the peak memory
(resident set) of each worker and of this process.
"""

from __future__ import annotations

import argparse
import os
import resource
import time

import numpy as np


def logistic_loss(theta, x, y):
    z = x @ theta[:-1] + theta[-1]
    return np.sum(np.logaddexp(0.0, z) - y * z)


def peak_mb() -> float:
    """This process's peak resident set in MB (Linux reports kilobytes)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000_000)
    parser.add_argument("--block", type=int, default=1_000_000)
    parser.add_argument("--features", type=int, default=20)
    parser.add_argument("--workers", type=int, default=2)
    options = parser.parse_args()

    import dask.array as da
    from dask.distributed import Client, LocalCluster

    import symdiff.distributed

    rows, block, features = options.rows, options.block, options.features
    print(f"{os.cpu_count()} CPUs; {rows:,} rows x {features} in blocks of {block:,}, {options.workers} workers")
    cluster = LocalCluster(n_workers=options.workers, threads_per_worker=1, memory_limit="4GiB")
    with cluster, Client(cluster) as client:
        x = da.random.RandomState(0).normal(size=(rows, features), chunks=(block, features))
        w = np.linspace(-1.0, 1.0, features)
        y = (da.random.RandomState(1).random(size=rows, chunks=block) < 1 / (1 + da.exp(-(x @ w)))) * 1.0
        theta = np.zeros(features + 1)
        gradient = symdiff.distributed.value_and_grad(logistic_loss, wrt="theta", data=("x", "y"))
        start = time.perf_counter()
        value, g = gradient(theta, x, y)
        seconds = time.perf_counter() - start
        expected = rows * np.log(2.0)
        assert np.isclose(value, expected, rtol=1e-12), f"value {value} != rows * log 2 = {expected}"
        assert np.all(np.isfinite(g))
        workers = sorted(round(v) for v in client.run(peak_mb).values())
    print(f"one gradient: {seconds:.1f} s ({rows / seconds / 1e6:.1f} million rows/s); value = rows * log 2")
    print(f"peak resident memory, MB: workers {workers}, this process {round(peak_mb())}")
    print(f"the data, if held in one place: {rows * (features + 1) * 8 / 1e9:.1f} GB")


if __name__ == "__main__":
    main()
