"""Issue 23's bar for the CUDA backend: every gradient the Numba CPU backend is tested on, on the simulator.

Each function of the Numba backend's corpora (numba_corpus.py: the models and
the control-flow programs of tests/transforms/programs.py, on every path
their arguments take; numba_forms.py: the audit of one form each;
numba_type_forms.py; test_numba_fusion.py's slice writes; and cuda_forms.py,
what only this backend adds tests for) either gives the
NumPy backend's gradient, which also matches central differences, or is
refused when the gradient is built, with the file and line of the user's
statement (`REFUSED`); nothing fails at the first call. Integer-array
indexes (arguments, constants, lists; repeated entries included) gather and
scatter on the device (backends/cuda/device_index.py). Control flow
(`if`, `for`, `while`, tapes) runs on the host and launches kernels per block;
element writes copy the array on the device, then write.

Sizes are tiny: Numba's CUDA simulator runs kernels as Python threads.
"""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import pytest

import symdiff as sd
from symdiff.backends import cuda as cuda_backend
from symdiff.backends.cuda import kernels
from symdiff.errors import SymdiffError
from tests.backends import cuda_forms, cuda_ptx
from tests.backends import numba_corpus as corpus
from tests.backends import numba_forms as forms
from tests.backends import numba_type_forms as type_forms
from tests.backends import test_numba_fusion as fusion
from tests.oracles import numeric_grad
from tests.transforms import programs as p

# Refused when built, at the user's line.
REFUSED = {"einsum_op"}


@dataclass(frozen=True)
class Case:
    """A function, what to differentiate, argument tuples, and where it comes from."""

    name: str
    function: Callable
    wrt: int | tuple[int, ...]
    calls: tuple[tuple, ...]

    @property
    def float32(self) -> bool:
        return "float32" in self.function.__name__


def _cases() -> list[Case]:
    cases = [Case(f"control/{c.name}", c.function, c.wrt, c.calls) for c in corpus.control_cases()]
    cases += [
        Case(f"corpus/{c.name}", c.function, c.wrt, (c.arguments(np.random.default_rng(0)),)) for c in corpus.CASES
    ]
    cases += [Case(f"forms/{f.__name__}", f, 0, (forms.arguments(f),)) for f in forms.FUNCTIONS]
    vectors = (np.array([1.3, 0.04, 1.26]), np.array([-1.3, -0.04, 1.26]))
    for name in ("arms_scalar_and_zero_d", "ravel_of_a_number", "dot_and_transpose_of_numbers",
                 "steps_of_zero_d_arrays", "float_of_a_comparison", "expand_dims_of_a_number"):  # fmt: skip
        cases.append(Case(f"types/{name}", getattr(type_forms, name), 0, tuple((v,) for v in vectors)))
    cases += [
        Case("types/float32_scalar_argument", type_forms.float32_scalar_argument, (0, 1),
             ((vectors[1].astype(np.float32), np.float32(-1.25)),)),
        Case("types/array_of_a_number_and_a_kept_sum", type_forms.array_of_a_number_and_a_kept_sum, 0,
             ((0.3,), (np.float64(-0.7),))),
        Case("types/float32_loop", type_forms.float32_loop, 0, ((vectors[1].astype(np.float32),),)),
        Case("types/nested_list_of_a_number", type_forms.nested_list_of_a_number, 0, ((0.3,),)),
        Case("types/clip_and_reshape_of_a_number", type_forms.clip_and_reshape_of_a_number, 0, ((0.3,), (0.9,))),
    ]  # fmt: skip
    rng = np.random.default_rng(0)
    cases += [Case(f"fusion/{f.__name__}{shape}", f, 0, ((rng.normal(size=shape),),)) for f, shape in fusion.CASES]
    cases.append(
        Case("fusion/broadcast_slice", fusion.broadcast_slice, (0, 1), ((rng.normal(size=(4, 6)), rng.normal(size=6)),))
    )
    cases += [Case(f"cuda/{f.__name__}", f, 0, (args,)) for f, args in cuda_forms.ARGUMENTS.items()]
    return cases


CASES = _cases()


# (generated kernels' name prefix, source, launches) of every case the harness ran on the simulator, for
# the PTX check below
_LAUNCHED: list[tuple[str, str, set]] = []


@contextlib.contextmanager
def _recorded(gradient) -> Iterator[None]:
    """Log the launches `gradient` makes on the simulator into `_LAUNCHED` (on a GPU they compile as they run)."""
    if not kernels.SIMULATOR:
        yield
        return
    with cuda_ptx.recording(cuda_backend.host_function(gradient).__globals__) as launches:
        yield
    _LAUNCHED.append((gradient.function.name + "_kernel_", gradient.source, launches))


def _leaves(value) -> list:
    return [x for item in value for x in _leaves(item)] if isinstance(value, tuple) else [value]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_cuda_gradient_equals_numpy_backend_or_is_refused_when_built(case):
    short = case.function.__name__
    try:
        gradient = sd.grad(case.function, wrt=case.wrt, backend="cuda")
    except SymdiffError as error:
        assert short in REFUSED, f"{case.name} was refused but should build: {error}"
        location = error.location
        assert location is not None and location.file.endswith(".py") and location.line > 0, str(error)
        assert f"{location.file}:{location.line}:" in str(error)
        return
    assert short not in REFUSED, f"{case.name} builds now: take it off REFUSED"
    for args in case.calls:
        with np.errstate(all="ignore"), _recorded(gradient):
            got = gradient(*args)
        with np.errstate(all="ignore"):
            want = sd.grad(case.function, wrt=case.wrt)(*args)
        wrt = case.wrt if isinstance(case.wrt, tuple) else (case.wrt,)
        got_leaves, want_leaves = _leaves(got), _leaves(want)
        assert len(got_leaves) == len(want_leaves) == len(wrt)
        for k, g, w in zip(wrt, got_leaves, want_leaves):
            assert np.shape(g) == np.shape(w)
            assert np.result_type(g) == np.result_type(w), (
                f"{case.name}: dtype {np.result_type(g)}, want {np.result_type(w)}"
            )
            np.testing.assert_allclose(g, w, rtol=1e-5 if case.float32 else 1e-10, atol=1e-12)
            if not case.float32 and np.all(np.isfinite(w)):
                numeric = numeric_grad(case.function, args, k)
                np.testing.assert_allclose(g, numeric, rtol=1e-4, atol=1e-6)


# -- what the host program looks like, and that its kernels compile for a GPU ---------------------------


def test_control_flow_runs_on_the_host_and_launches_kernels_per_block():
    source = sd.grad(p.sqrt_newton, backend="cuda").source
    body = source.split("def sqrt_newton_grad(")[1].split("# ---- runtime")[0]
    assert "while " in body and "host_scalar(" in body  # the condition, computed on the device, read back
    assert ".append(" in body and ".pop()" in body  # the tape: a Python list of device values
    # docs/backends.md's example
    gradient = sd.grad(p.rnn, wrt=(0, 1, 3), backend="cuda")
    rnn = gradient.source.split("def rnn_grad(")[1].split("# ---- runtime")[0]
    loop = rnn.split("for t in range(T):")[1].split("# grad of:")[0]
    assert "elementwise(rnn_grad_kernel_1," in loop and "hs = device_write(hs, h, t)" in loop
    assert "h_tape.append(h)" in loop and "h = h_tape.pop()" in rnn
    args = next(c for c in corpus.control_cases() if c.function is p.rnn).calls[0]
    for got, want in zip(gradient(*args), sd.grad(p.rnn, wrt=(0, 1, 3))(*args)):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)


def unrolled(x, steps):
    h = x
    for t in range(steps):
        h = np.tanh(h * 0.9 + 0.01 * t)
    return np.sum(h * h)


@pytest.mark.parametrize("checkpoint", ["auto", 3, sd.Binomial(snapshots=2), sd.Binomial(memory=200)], ids=str)
def test_checkpointed_loops(checkpoint):
    x = np.linspace(-1.0, 1.0, 7)
    gradient = sd.grad(unrolled, checkpoint=checkpoint, backend="cuda")
    np.testing.assert_allclose(gradient(x, 9), sd.grad(unrolled)(x, 9), rtol=1e-13, atol=0)


def appended(x):
    rows = []
    h = x
    for t in range(3):
        h = np.sin(h) * 1.5
        rows.append(h)
    return np.sum(np.array(rows) ** 2)


def int_of_a_device_value(x):
    return np.sum(x) * int(np.sum(x) * 10.0)


@pytest.mark.parametrize("function", [appended, int_of_a_device_value], ids=lambda f: f.__name__)
def test_a_list_grown_in_a_loop_and_a_cast_of_a_device_value(function):
    x = np.array([0.3, -0.5, 0.95])  # int(7.5): away from a step
    gradient = sd.grad(function, backend="cuda")
    np.testing.assert_allclose(gradient(x), sd.grad(function)(x), rtol=1e-12)
    np.testing.assert_allclose(gradient(x), numeric_grad(function, (x,), 0), rtol=1e-6)


def test_a_condition_on_the_device_reads_one_number_back():
    x = np.array([0.3, -0.2, 0.5])
    gradient = sd.grad(p.grow_until, backend="cuda")
    np.testing.assert_allclose(gradient(x), sd.grad(p.grow_until)(x), rtol=1e-12)
    np.testing.assert_allclose(gradient(x), numeric_grad(p.grow_until, (x,), 0), rtol=1e-5)


def test_element_writes_leave_arguments_and_constants_unchanged():
    x = np.random.default_rng(3).normal(size=3)
    kept = x.copy()
    gradient = sd.grad(forms.element_writes, backend="cuda")
    first = gradient(x)
    np.testing.assert_array_equal(x, kept)
    np.testing.assert_array_equal(gradient(x), first)  # the zeros it wrote into are a shared constant
    np.testing.assert_allclose(
        sd.grad(forms.row_write, backend="cuda")(np.ones((3, 4))), sd.grad(forms.row_write)(np.ones((3, 4)))
    )


PTX_CASES = (p.sqrt_newton, p.rnn, p.loop_with_branch)  # a while loop, writes in a loop, an if in a loop


def test_every_kernel_the_harness_launched_compiles_to_ptx():
    """Every kernel the harness's cases launched on the simulator compiles for sm_80: each generated kernel,
    and each library kernel once per signature. The simulator runs kernels as Python, so it accepts code a GPU
    compiler rejects (`float()` of a comparison's bool, found on an H200). The harness runs first in this
    file (one xdist worker per file); run alone, this test launches the control-flow programs of PTX_CASES."""
    if not kernels.SIMULATOR:
        pytest.skip("on a GPU every kernel the harness launched was compiled when it ran")
    if not _LAUNCHED:
        by_name = {c.function: c for c in corpus.control_cases()}
        for function in PTX_CASES:
            gradient = sd.grad(function, wrt=by_name[function].wrt, backend="cuda")
            with _recorded(gradient):
                gradient(*by_name[function].calls[0])
    modules, seen = [], set()
    for generated, source, launches in _LAUNCHED:
        fresh = {launch for launch in launches if launch[0].startswith(generated) or launch not in seen}
        seen |= fresh
        modules.append((source, fresh))
    assert any(launches for _, launches in modules)
    status, failures, stderr = cuda_ptx.compile_ptx(modules)
    if status == cuda_ptx.NO_NVVM:
        pytest.skip(f"NVVM is not installed, so PTX cannot be compiled (pip install -e '.[cuda-ptx]'): {stderr[-300:]}")
    assert status == 0, stderr
    assert failures == []


def test_every_refused_name_is_in_the_corpus():
    names = {c.function.__name__ for c in CASES}
    assert REFUSED <= names
    assert all(inspect.isfunction(c.function) for c in CASES)
