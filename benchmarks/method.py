"""The one benchmark method every script in benchmarks/ follows.

- **Cross-check first**: `cross_check` compares every contender's result with
  the first one's and raises before anything is timed if any disagrees.
- **Interleaved**: `interleaved` times all contenders in one run, a sample of
  each per round, in an order that rotates from round to round (whoever runs
  right after another inherits its freed memory and pays the page faults).
- **Warm-up apart from steady state**: each contender is called `warmup`
  times (JIT compiles, caches fill) before the calls-per-sample are
  calibrated and before any sample is kept.
- **Median and spread**: `Stats` keeps every sample; tables show the median
  and the interquartile range (and min, max), never the min alone.
- **JAX on device arrays**: `jax_args` puts the inputs on the device once
  (`jax.device_put`), `jax_timed` wraps a JAX function so every timed call
  ends in `jax.block_until_ready`.
- **Compile / first-call time in a fresh process**: `fresh_process_seconds`
  runs a snippet in a new interpreter, so the figure does not depend on what
  ran before it in the benchmark's own process.
- **The machine**: `machine_lines` prints CPU model, core count (and the
  cores this process may use), BLAS library and threads, load average.
"""

import os
import platform
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


# -- the machine -------------------------------------------------------------------------


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def blas_threads() -> str:
    """The BLAS library behind NumPy and its thread count (threadpoolctl when installed)."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "BLAS threads " + os.environ.get("OPENBLAS_NUM_THREADS", os.environ.get("OMP_NUM_THREADS", "default"))
    pools = [p for p in threadpool_info() if p.get("user_api") == "blas"]
    return ", ".join(f"{p['internal_api']} {p['num_threads']} threads" for p in pools) or "BLAS unknown"


def limit_blas_threads(count: int):
    """Pin the BLAS thread pool (needs threadpoolctl); keep the returned object alive."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        raise SystemExit("--blas-threads needs threadpoolctl; set OPENBLAS_NUM_THREADS instead") from None
    return threadpool_limits(limits=count, user_api="blas")


def load_average() -> str:
    return ", ".join(f"{v:.1f}" for v in os.getloadavg()) if hasattr(os, "getloadavg") else "n/a"


def machine_lines() -> list[str]:
    """The context every table needs: versions, CPU, cores, BLAS threads, load."""
    import symdiff

    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return [
        f"symdiff {symdiff.__version__}, numpy {np.__version__}, python {platform.python_version()}, {platform.machine()}",
        f"CPU {cpu_model()}, {os.cpu_count()} cores ({usable} usable), {blas_threads()}",
        f"load average {load_average()} (on a busy machine absolute times are indicative; compare ratios)",
    ]


def print_machine() -> None:
    for line in machine_lines():
        print(line)


# -- agreement ---------------------------------------------------------------------------


def _leaves(value):
    if isinstance(value, (tuple, list)):
        for item in value:
            yield from _leaves(item)
    elif isinstance(value, dict):
        for key in sorted(value):
            yield from _leaves(value[key])
    else:
        yield np.asarray(value)


def max_difference(a, b) -> float:
    worst = 0.0
    for x, y in zip(_leaves(a), _leaves(b), strict=True):
        if x.size:
            worst = max(worst, float(np.max(np.abs(np.asarray(x, float) - np.asarray(y, float)))))
    return worst


def cross_check(results: dict, rtol: float = 1e-9, atol: float = 1e-12, label: str = "") -> dict:
    """Every contender's result against the first one's; raises AssertionError on a disagreement.

    `results` maps a contender's name to what it returned (an array, a tuple of
    arrays, JAX arrays...). Returns the largest |difference| per contender.
    """
    names = list(results)
    reference = results[names[0]]
    worst = {}
    for name in names[1:]:
        for x, y in zip(_leaves(results[name]), _leaves(reference), strict=True):
            np.testing.assert_allclose(
                np.asarray(x), np.asarray(y), rtol=rtol, atol=atol,
                err_msg=f"{label}: {name} disagrees with {names[0]}",
            )  # fmt: skip
        worst[name] = max_difference(results[name], reference)
    return worst


# -- JAX ---------------------------------------------------------------------------------


def jax_args(args):
    """The inputs as device arrays, made once, outside any timing."""
    import jax

    jax.config.update("jax_enable_x64", True)
    return tuple(jax.block_until_ready(jax.device_put(a)) for a in args)


def jax_timed(function):
    """`function` whose every call waits for the result (`jax.block_until_ready`)."""
    import jax

    return lambda *args: jax.block_until_ready(function(*args))


# -- timing ------------------------------------------------------------------------------


@dataclass
class Stats:
    """Seconds per call: every sample kept."""

    samples: list

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def q1(self) -> float:
        return float(np.percentile(self.samples, 25))

    @property
    def q3(self) -> float:
        return float(np.percentile(self.samples, 75))

    @property
    def min(self) -> float:
        return min(self.samples)

    @property
    def max(self) -> float:
        return max(self.samples)

    def spread(self) -> float:
        """The interquartile range relative to the median."""
        return (self.q3 - self.q1) / self.median if self.median else 0.0

    def cell(self, scale: float = 1e3, digits: int = 3) -> str:
        """'median (±IQR/2 %)' in units of 1/scale seconds."""
        return f"{self.median * scale:.{digits}f} ±{self.spread() * 50:.0f}%"


def calls_per_sample(func, args, budget: float) -> int:
    """How many calls make a sample of about `budget` seconds (at least one)."""
    start = time.perf_counter()
    func(*args)
    once = max(time.perf_counter() - start, 1e-7)
    return max(1, min(100_000, int(budget / once)))


def interleaved(contenders: dict, args, repeats: int, budget: float = 0.05, warmup: int = 2, args_for=None) -> dict:
    """`Stats` per contender: `repeats` samples each, taken round-robin in a rotating order.

    `contenders` maps a name to a callable; `args` are passed to all of them,
    unless `args_for` maps a name to its own arguments (JAX's device arrays).
    Each contender is warmed up `warmup` times before calibration and timing.
    """
    names = list(contenders)
    own = {name: (args_for or {}).get(name, args) for name in names}
    for name in names:
        for _ in range(warmup):
            contenders[name](*own[name])
    numbers = {name: calls_per_sample(contenders[name], own[name], budget) for name in names}
    samples = {name: [] for name in names}
    for repeat in range(repeats):
        shift = repeat % len(names)
        for name in names[shift:] + names[:shift]:
            func, number, call_args = contenders[name], numbers[name], own[name]
            start = time.perf_counter()
            for _ in range(number):
                func(*call_args)
            samples[name].append((time.perf_counter() - start) / number)
    return {name: Stats(samples[name]) for name in names}


def fresh_process_seconds(snippet: str, timeout: float = 600) -> float:
    """Run `snippet` in a new interpreter; it must print one number (seconds) on its last line.

    The snippet does its own imports and setup and times only what it means
    to (a first call, a build): the figure then does not depend on what ran
    before in this process (warm caches, imported modules, JIT state).
    """
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    done = subprocess.run(
        [sys.executable, "-c", snippet], capture_output=True, text=True, timeout=timeout, env=env, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"fresh process failed:\n{done.stderr[-2000:]}")
    return float(done.stdout.strip().splitlines()[-1])


def ratio(a: float | None, b: float | None) -> str:
    return f"{a / b:.2f}" if a and b else "-"
