"""Check that generated CUDA kernels compile for a real GPU, without one.

The simulator runs kernels as Python, so it accepts code a GPU compiler
rejects. Here every launch a simulated call makes is recorded (kernel name
and argument types); then a subprocess with the simulator off re-executes
the generated module and runs `numba.cuda.compile_ptx(kernel.py_func, types,
cc=(8, 0), opt=False)` on each recorded signature (the runtime library that
ends every module is run once and shared, and NVVM's optimiser is off: a
third of the time, and what fails, fails without them). That needs NVVM (the
`numba-cuda[cu13]` extra, `pip install -e ".[cuda-ptx]"`), not a GPU or driver.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator

import numba
import numpy as np
from numba import cuda

NO_NVVM = 3  # the subprocess's exit status when NVVM is not installed

_SCRIPT = textwrap.dedent(
    """
    import json, sys
    from types import SimpleNamespace

    import numba.cuda.dispatcher
    from numba import cuda, types
    from numba.cuda.cudadrv.error import NvvmSupportError

    # Device functions called by a kernel compile for the current device's
    # compute capability; with no device, pin it to the one compile_ptx targets.
    numba.cuda.dispatcher.get_current_device = lambda: SimpleNamespace(compute_capability=(8, 0))

    def numba_type(spec):
        if spec[0] == "array":
            return types.Array(getattr(types, spec[1]), spec[2], spec[3])
        return types.boolean if spec[1] == "bool" else getattr(types, spec[1])

    # Every module ends with the same runtime library: it is run once, and each later module's own
    # part runs beside it, so the library's device functions are typed and lowered once, not per module.
    MARK = "\\n# ---- runtime library"
    library, shared = None, {}
    failures = []
    for source, launches in json.load(sys.stdin):
        own, mark, rest = source.partition(MARK)
        namespace = {"__name__": "symdiff_ptx_check"}
        if mark and rest == library:
            namespace = dict(shared)
            source = own
        exec(compile(source, "<generated>", "exec"), namespace)
        if mark and library is None:
            library, shared = rest, dict(namespace)
        for name, signature in launches:
            try:
                # NVVM's optimiser is off (opt=False): what fails is typing, lowering or NVVM's checks,
                # which run at every level; the optimiser took most of the time.
                cuda.compile_ptx(
                    namespace[name].py_func, tuple(numba_type(s) for s in signature), cc=(8, 0), opt=False
                )
            except NvvmSupportError as error:
                print(error, file=sys.stderr)
                sys.exit(3)
            except Exception as error:
                failures.append([name, repr(error)[:2000]])
    json.dump(failures, sys.stdout)
    """
)


def describe(value) -> list:
    """A JSON-able description of one kernel argument's Numba type."""
    if cuda.devicearray.is_cuda_ndarray(value):
        value = value.copy_to_host()
    if isinstance(value, np.ndarray):
        return ["array", value.dtype.name, value.ndim, "C" if value.flags.c_contiguous else "A"]
    return ["scalar", str(numba.typeof(value))]


class _Recorder:
    """Stands in for a kernel in the generated module's namespace and logs every launch."""

    def __init__(self, name: str, kernel, log: set):
        self.name, self.kernel, self.log = name, kernel, log

    def __getitem__(self, config):
        launch = self.kernel[config]

        def run(*args):
            self.log.add((self.name, tuple(tuple(describe(a)) for a in args)))
            return launch(*args)

        return run


def _is_kernel(value) -> bool:
    """Whether `value` is a `@cuda.jit` kernel (not a device function), on the simulator or on a GPU."""
    if type(value).__name__ == "FakeCUDAKernel":
        return not value._device
    return type(value).__name__ == "CUDADispatcher" and not value.targetoptions.get("device", False)


@contextlib.contextmanager
def recording(namespace: dict) -> Iterator[set]:
    """Log `(kernel name, argument types)` of every launch made through `namespace` while active."""
    log: set = set()
    kernels = {name: value for name, value in namespace.items() if _is_kernel(value)}
    namespace.update({name: _Recorder(name, kernel, log) for name, kernel in kernels.items()})
    try:
        yield log
    finally:
        namespace.update(kernels)


def as_float32(launches: set) -> set:
    """The same launches with every float64 argument made float32 (checks dtype-generic kernels)."""
    return {
        (name, tuple(tuple(x if x != "float64" else "float32" for x in spec) for spec in sig)) for name, sig in launches
    }


def compile_ptx(
    modules: list[tuple[str, set]], workers: int = 2, timeout: float = 300, per_launch: float = 2.0
) -> tuple[int, list, str]:
    """Compile every recorded launch of each `(source, launches)` to PTX, in `workers` parallel subprocesses.

    Each subprocess may take `timeout` seconds plus `per_launch` for each
    launch it compiles: the limit catches a hung compiler, and the work grows
    with the corpus (the issue-23 harness's 795 launches took 476 s on two
    workers at a load average of 8 on two cores before the library was shared
    and the optimiser turned off, about 1.2 s each; see the module docstring).

    Returns (exit status, [kernel name, error] failures, stderr tail); the
    status is `NO_NVVM` when NVVM is not installed, else the worst status.
    """
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="0")
    jobs = [
        [[source, sorted([name, [list(s) for s in sig]] for name, sig in log)] for source, log in modules[k::workers]]
        for k in range(workers)
    ]
    command = [sys.executable, "-c", _SCRIPT]
    running = [
        subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
        )
        for job in jobs
        if job
    ]
    statuses, failures, errors = [], [], []
    for process, job in zip(running, [job for job in jobs if job]):
        launches = sum(len(log) for _, log in job)
        out, err = process.communicate(json.dumps(job), timeout=timeout + per_launch * launches)
        statuses.append(process.returncode)
        failures += json.loads(out) if process.returncode == 0 and out else []
        errors.append(err[-3000:])
    status = NO_NVVM if NO_NVVM in statuses else max(statuses, default=0)
    return status, failures, "\n".join(errors)
