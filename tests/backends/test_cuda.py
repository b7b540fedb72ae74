"""The CUDA backend gives the NumPy backend's gradients, fused into kernels that compile for a GPU.

Everything runs on Numba's CUDA simulator (tests/conftest.py sets
NUMBA_ENABLE_CUDASIM=1), which executes kernels as Python threads; each case
is built and run once per session (`runs`), recording every kernel launch so
that `test_kernels_compile_to_ptx` can compile exactly those kernels and
argument types for a real GPU in a subprocess.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.special
from numba import cuda

import symdiff as sd
from symdiff.backends import cuda as cuda_backend
from symdiff.backends.cuda import device_index, device_ops
from symdiff.backends.cuda import kernels as cuda_kernels
from symdiff.backends.cuda.lowering import (
    CASTS,
    DEVICE_FUNCTIONS,
    ELEMENT_TEMPLATES,
    HOST_OPS,
    UNSUPPORTED,
    is_elementwise,
    unsupported_reason,
)
from symdiff.backends.cuda.planning import plan
from symdiff.backends.cuda.shapes import SCALAR, bcast, fits
from symdiff.errors import BackendError, NonScalarOutput
from symdiff.optimize.fuse import fusable
from symdiff.rules import RULES
from tests.backends import cuda_corpus as corpus
from tests.backends import cuda_ptx

ROOT = Path(__file__).resolve().parents[2]
CASES = {case.name: case for case in corpus.CASES}


def assert_same(got, want, rtol=1e-12, atol=1e-13):
    """`got` equals `want` value by value, through nested tuples (value_and_grad returns some)."""
    if isinstance(want, tuple):
        assert isinstance(got, tuple) and len(got) == len(want)
        for g, w in zip(got, want):
            assert_same(g, w, rtol, atol)
        return
    assert np.shape(got) == np.shape(want)
    np.testing.assert_allclose(got, want, rtol=rtol, atol=atol)


@pytest.fixture(scope="session")
def runs() -> dict:
    """name -> (CUDA gradient, its arguments, its result, the launches it made), built and run once."""
    done = {}
    for case in corpus.CASES:
        args = case.arguments(np.random.default_rng(0))
        gradient = sd.grad(case.function, wrt=case.wrt, backend="cuda")
        with cuda_ptx.recording(cuda_backend.host_function(gradient).__globals__) as launches:
            result = gradient(*args)
        assert launches, f"{case.name}: no kernel launch was recorded"
        done[case.name] = (gradient, args, result, launches)
    return done


@pytest.mark.parametrize("name", list(CASES))
def test_gradient_matches_numpy_backend(runs, name):
    _, args, got, _ = runs[name]
    assert_same(got, sd.grad(CASES[name].function, wrt=CASES[name].wrt)(*args))


def test_value_and_grad_and_vjp_modes():
    rng = np.random.default_rng(1)
    x, s = rng.normal(size=(3, 4)), 0.7
    value_and_grad = sd.value_and_grad(corpus.broadcasting, wrt=(0, 3), backend="cuda")
    args = (x, rng.normal(size=4), rng.normal(size=3), s)
    assert_same(value_and_grad(*args), sd.value_and_grad(corpus.broadcasting, wrt=(0, 3))(*args))
    seed = rng.normal(size=(3, 4))
    assert_same(sd.vjp(_tanh_twice, backend="cuda")(x, seed), sd.vjp(_tanh_twice)(x, seed))


def _tanh_twice(x):
    return 2.0 * np.tanh(x)


def test_device_arrays_in_and_results_kept_on_the_device(runs):
    gradient, args, want, _ = runs["logistic_loss"]
    on_gpu = [cuda.to_device(a) for a in args]
    assert_same(gradient(*on_gpu), want)
    kept = cuda_backend.on_device(gradient)(*args)
    assert cuda.devicearray.is_cuda_ndarray(kept)
    assert_same(kept.copy_to_host(), want)
    # A result feeds the next call without a copy to the host.
    assert_same(gradient(kept, *args[1:]), gradient(want, *args[1:]))


def test_float32_in_float32_out():
    # Python numbers (the seed 1.0, constants) are weak, as in NumPy: they do not promote float32 arrays.
    x = np.random.default_rng(2).normal(size=(3, 4)).astype(np.float32)
    got = sd.grad(corpus.tanh_sum, backend="cuda")(x)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, sd.grad(corpus.tanh_sum)(x.astype(np.float64)), rtol=1e-5)


def special_of_numbers(x):
    return np.sum(x) * scipy.special.erf(0.5 * 0.2 + 0.1) + np.sum(x * scipy.special.expit(-0.25))


def test_special_functions_of_host_numbers_run_on_the_host():
    """erf of a constant runs in the host function, which has to carry the helper (fuzz seed 103000056)."""
    x = np.array([0.3, -1.2, 2.0])
    gradient = sd.grad(special_of_numbers, backend="cuda")
    assert "def erf(" in gradient.source and "def expit(" in gradient.source
    assert_same(gradient(x), sd.grad(special_of_numbers)(x))


def test_zero_gradient_and_non_scalar_output():
    gradient = sd.grad(_ignores_first, backend="cuda")
    np.testing.assert_array_equal(gradient(np.ones(3), np.ones(2)), np.zeros(3))
    with pytest.raises(NonScalarOutput, match="vjp"):
        sd.grad(_tanh_twice, backend="cuda")(np.ones(3))


def _ignores_first(x, y):
    return np.sum(y * y)


# -- fusion and the generated source ------------------------------------------


def test_elementwise_chains_fuse_into_one_kernel_each_way(runs):
    gradient = runs["tanh_sum"][0]
    groups = plan(gradient.function).groups
    assert len(groups) <= 2  # at most forward tanh(x) * x, and the whole backward chain
    backward = {e.out for e in gradient.function.body if e.adjoint and is_elementwise(e.op)}
    assert backward and backward <= {m.out for m in groups[-1].members}
    mlp_groups = plan(runs["mlp_loss"][0].function).groups
    assert any({"add", "tanh"} <= {m.op for m in g.members} for g in mlp_groups)  # bias add + activation


def test_broadcast_values_share_a_kernel_with_larger_ones(runs):
    # x @ wx + h @ wh + b: the bias add joins the sum of products though b is smaller.
    groups = plan(runs["lstm_loss"][0].function).groups
    assert any(sum(m.op == "add" for m in g.members) >= 2 for g in groups)


def test_source_shows_cuda_kernels_and_host_code(runs):
    source = runs["mlp_loss"][0].source
    assert "@cuda.jit\ndef mlp_loss_grad_kernel_1(" in source
    assert "@cuda.jit(device=True)\ndef mlp_loss_grad_kernel_1_element(" in source
    assert "def mlp_loss_grad(w1, b1, w2, b2, x, y, *, device_results=False):" in source
    assert "# grad of: h = np.tanh(x @ w1 + b1)" in source
    assert "vectorize" not in source


def test_source_is_deterministic(runs):
    function = runs["lstm_loss"][0].function
    first = cuda_backend.compile_function(function, "<first>").source
    assert cuda_backend.compile_function(function, "<second>").source == first


def test_source_runs_without_symdiff_installed(runs, monkeypatch):
    gradient, args, want, _ = runs["logistic_loss"]
    monkeypatch.setitem(sys.modules, "symdiff", None)
    monkeypatch.setitem(sys.modules, "symdiff.errors", None)
    namespace: dict = {"__name__": "standalone"}
    exec(compile(gradient.source, "<standalone>", "exec"), namespace)  # noqa: S102 - generated code under test
    assert_same(namespace[gradient.function.name](*args), want)


@pytest.mark.skipif(shutil.which("ruff") is None, reason="ruff is not installed (pip install -e '.[dev]')")
def test_source_passes_ruff(runs):
    source = runs["mlp_loss"][0].source
    done = subprocess.run(
        ["ruff", "check", "--stdin-filename", "generated_cuda.py", "-"],
        input=source, capture_output=True, text=True, cwd=ROOT, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout


PTX_CASES = ("tanh_sum", "logistic_loss", "mlp_loss", "elementwise")  # the three, and every template
FLOAT32_CASES = ("tanh_sum", "logistic_loss")


def test_kernels_compile_to_ptx(runs):
    """Every generated kernel of PTX_CASES, and every library kernel any case launched, compiles for sm_80."""
    modules, seen = [], set()
    for name, (gradient, _, _, launches) in runs.items():
        generated = gradient.function.name + "_kernel_"
        fresh = {launch for launch in launches - seen if name in PTX_CASES or not launch[0].startswith(generated)}
        seen |= fresh
        modules.append((gradient.source, fresh | (cuda_ptx.as_float32(fresh) if name in FLOAT32_CASES else set())))
    status, failures, stderr = cuda_ptx.compile_ptx(modules)
    if status == cuda_ptx.NO_NVVM:
        pytest.skip(f"NVVM is not installed, so PTX cannot be compiled (pip install -e '.[cuda-ptx]'): {stderr[-300:]}")
    assert status == 0, stderr
    assert failures == []


_REJECTED = """

@cuda.jit
def rejected_kernel(out):
    out[0] = float(out[0] > 0.0)  # runs on the simulator; Numba cannot type float() of a bool for a GPU
"""


def test_the_ptx_check_reports_a_kernel_only_the_simulator_runs(runs):
    """The check itself: a kernel that fails to compile in a later module, which shares the first
    module's runtime library, is reported by name, and the first module's kernels still compile."""
    gradient, _, _, launches = runs["tanh_sum"]
    own, mark, library = gradient.source.partition("\n# ---- runtime library")
    assert mark, "the generated module no longer ends with its runtime library"
    rejected = ("rejected_kernel", (("array", "float64", 1, "C"),))
    modules = [(gradient.source, set(launches)), (own + _REJECTED + mark + library, {rejected})]
    status, failures, stderr = cuda_ptx.compile_ptx(modules, workers=1)
    if status == cuda_ptx.NO_NVVM:
        pytest.skip(f"NVVM is not installed, so PTX cannot be compiled (pip install -e '.[cuda-ptx]'): {stderr[-300:]}")
    assert status == 0, stderr
    assert [name for name, _ in failures] == ["rejected_kernel"]


# -- errors ----------------------------------------------------------------------


def _einsum(x):
    return np.sum(np.einsum("i,i->", x, x))


def _computed_index(x):
    return np.sum(x[np.argmax(x) - 1] ** 2)


@pytest.mark.parametrize(
    ("function", "message"),
    [
        (_einsum, "einsum"),
        (_computed_index, "computed on the GPU"),
    ],
)
def test_unsupported_constructs_fail_at_build_time_with_a_location(function, message):
    with pytest.raises(BackendError, match=message) as caught:
        sd.grad(function, backend="cuda")
    assert caught.value.location is not None and caught.value.location.file.endswith("test_cuda.py")


# -- the lowering table and shape reasoning -------------------------------------


def test_every_op_is_lowered_or_refused_by_name():
    for op, rule in RULES.items():
        assert unsupported_reason(op) is None or op in UNSUPPORTED, f"add {op} to the CUDA lowering table"
        if rule.elementwise or fusable(op):
            assert is_elementwise(op) or op in UNSUPPORTED or op in CASTS, (
                f"{op} is elementwise but has no kernel template"
            )
    assert not set(ELEMENT_TEMPLATES) & HOST_OPS
    defined = set(vars(device_ops)) | set(vars(device_index))  # what the runtime library copies into a module
    assert sorted(f for f in DEVICE_FUNCTIONS.values() if f not in defined) == []


def test_shape_terms_are_sound():
    a, b = ("of", "a"), ("of", "b")
    kept = ("keep", a, 1)
    assert fits(kept, a) and not fits(a, kept)
    assert fits(SCALAR, kept) and fits(a, bcast(a, b)) and not fits(bcast(a, b), a)
    assert bcast(a, kept, SCALAR) == a
    assert bcast(a, b) == bcast(b, a, kept)
    assert fits(("keep", bcast(a, b), 0), bcast(a, b))


@pytest.mark.skipif(not cuda_kernels.SIMULATOR, reason="about the simulator's launch sizes")
def test_simulator_launches_stay_small():
    assert cuda_kernels.SIMULATOR
    assert cuda_kernels.THREADS * cuda_kernels.MAX_BLOCKS <= 1000
    assert cuda_kernels.REDUCE_THREADS * cuda_kernels.MAX_BLOCKS <= 1000
    assert cuda_kernels.TILE**2 * cuda_kernels.MAX_BLOCKS <= 1000


# -- random broadcasting programs -----------------------------------------------

_UNARY = ("np.tanh({0})", "np.sin({0})", "np.exp(-{0} * {0})", "np.sqrt({0} * {0} + 1.0)", "{0} * 0.5")
_BINARY = ("{0} * {1}", "{0} + {1}", "{0} - {1}", "{0} / (1.0 + {1} * {1})", "np.maximum({0}, {1})")
_REDUCE = (
    "np.sum(a * {0}, axis=0, keepdims=True)",
    "np.max({0} + a, axis=1, keepdims=True)",
    "np.mean(a - {1}, axis=1, keepdims=True)",
)


def _random_program(seed: int) -> str:
    """A loss over a (3, 4), b (4,), c (3, 1), s () mixing elementwise ops, broadcasting and keepdims reductions."""
    rng = np.random.default_rng(seed)
    names, lines = ["a", "b", "c", "s"], []
    for k in range(7):
        kind = rng.integers(0, 3)
        picks = [names[i] for i in rng.integers(0, len(names), 2)]
        template = (_UNARY, _BINARY, _REDUCE)[kind]
        lines.append(f"    v{k} = " + template[rng.integers(0, len(template))].format(*picks))
        names.append(f"v{k}")
    total = " + ".join(f"np.sum({n} * {n})" for n in names[4:])
    return "import numpy as np\n\n\ndef program(a, b, c, s):\n" + "\n".join(lines) + f"\n    return {total}\n"


@pytest.mark.parametrize("seed", range(5))
def test_random_broadcasting_programs(tmp_path, seed):
    path = tmp_path / f"program_{seed}.py"
    path.write_text(_random_program(seed))
    spec = importlib.util.spec_from_file_location(f"cuda_program_{seed}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    rng = np.random.default_rng(seed)
    args = (rng.normal(size=(3, 4)), rng.normal(size=4), rng.normal(size=(3, 1)), 0.3)
    want = sd.grad(module.program, wrt=(0, 1, 2, 3))(*args)
    assert_same(sd.grad(module.program, wrt=(0, 1, 2, 3), backend="cuda")(*args), want, rtol=1e-11)


@pytest.mark.skipif(not cuda_kernels.SIMULATOR, reason="there is a GPU: bench_cuda.py measures instead")
def test_benchmark_says_no_gpu_and_exits_cleanly():
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "bench_cuda.py")], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "no CUDA GPU" in done.stdout
