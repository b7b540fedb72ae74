"""Generated source: valid, ruff-clean, deterministic, commented, standalone (SPEC §4)."""

import importlib.util
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import symdiff as sd
from tests.api.test_smoke import logistic_loss, mlp_loss
from tests.oracles import numeric_grad
from tests.transforms import programs as p

CORPUS = [
    (logistic_loss, 0),
    (mlp_loss, (0, 1, 2, 3)),
    (p.branchy, (0, 1)),
    (p.rnn, (0, 1)),
    (p.lstm, (0, 1, 2)),
    (p.sqrt_newton, 0),
    (p.column_writes, 0),
    (p.nested_loops, 0),
]
IDS = [f.__name__ for f, _ in CORPUS]
GOLDEN = Path(__file__).parent / "golden"


def fresh_source(function, wrt, mode="grad"):
    """Build without the cache, so determinism is tested across real rebuilds."""
    sd.api._CACHE.clear()
    sd.api._lowered.cache_clear()
    return sd.emit(function, wrt=wrt, mode=mode)


@pytest.mark.parametrize("function, wrt", CORPUS, ids=IDS)
def test_source_compiles_and_is_deterministic(function, wrt):
    first, second = fresh_source(function, wrt), fresh_source(function, wrt)
    assert first == second
    compile(first, "<generated>", "exec")


def test_source_is_identical_in_another_process(tmp_path):
    script = "import symdiff as sd; from tests.api.test_smoke import mlp_loss; print(sd.emit(mlp_loss, wrt=(0, 1, 2, 3)), end='')"
    root = Path(__file__).parents[2]
    other = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=root, check=True)
    assert other.stdout == fresh_source(mlp_loss, (0, 1, 2, 3))


@pytest.mark.skipif(shutil.which("ruff") is None, reason="ruff is not installed")
def test_generated_modules_pass_ruff(tmp_path):
    for k, (function, wrt) in enumerate(CORPUS):
        (tmp_path / f"generated_{k}.py").write_text(fresh_source(function, wrt))
    (tmp_path / "second_order.py").write_text(sd.emit(sd.grad(p.hundred_steps)))
    done = subprocess.run(["ruff", "check", "--no-cache", "--isolated", str(tmp_path)], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def test_backward_blocks_quote_the_forward_statements():
    source = sd.grad(mlp_loss, wrt=(0, 1, 2, 3)).source
    for statement in ("h = np.tanh(x @ w1 + b1)", "logits = h @ w2 + b2"):
        assert f"# grad of: {statement}" in source
    assert "w1_bar" in source and "b2_bar" in source
    assert "h = np.tanh(h_1 + b1)" in source or "h = np.tanh(x @ w1 + b1)" in source


def test_dead_adjoints_are_pruned():
    only_w2 = sd.grad(mlp_loss, wrt=2).source
    assert "w1_bar" not in only_w2 and "b1_bar" not in only_w2


def test_emitted_module_runs_without_symdiff(tmp_path):
    path = tmp_path / "loss_grad.py"
    sd.emit(p.lstm, str(path), wrt=(0, 1, 2))
    (tmp_path / "symdiff.py").write_text("raise ImportError('symdiff must not be needed')\n")
    rng = np.random.default_rng(0)
    n, d, batch, steps = 2, 2, 3, 4
    args = [
        0.5 * rng.normal(size=(d, 4 * n)), 0.5 * rng.normal(size=(n, 4 * n)), 0.1 * rng.normal(size=4 * n),
        rng.normal(size=(steps, batch, d)), rng.normal(size=(batch, n)), rng.normal(size=(batch, n)),
    ]  # fmt: skip
    np.save(tmp_path / "args.npy", np.array(args, dtype=object), allow_pickle=True)
    script = textwrap.dedent(
        """
        import numpy as np, loss_grad
        args = list(np.load("args.npy", allow_pickle=True))
        grads = loss_grad.lstm_grad(*args)
        np.save("grads.npy", np.array(grads, dtype=object), allow_pickle=True)
        """
    )
    subprocess.run([sys.executable, "-c", script], cwd=tmp_path, check=True)
    grads = np.load(tmp_path / "grads.npy", allow_pickle=True)
    for k, g in enumerate(grads):
        np.testing.assert_allclose(g, numeric_grad(p.lstm, args, k), rtol=1e-6, atol=1e-8)


def test_emit_never_writes_over_the_source_it_read(tmp_path):
    (tmp_path / "square_model.py").write_text("import numpy as np\n\n\ndef f(x):\n    return np.sum(x * x)\n")
    spec = importlib.util.spec_from_file_location("square_model", tmp_path / "square_model.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    before = (tmp_path / "square_model.py").read_text()
    with pytest.raises(sd.SymdiffError, match="source of f"):
        sd.emit(module.f, str(tmp_path / "square_model.py"))
    assert (tmp_path / "square_model.py").read_text() == before


def test_emitted_module_can_be_differentiated_again(tmp_path):
    path = tmp_path / "scalar_grad.py"
    sd.emit(p.branchy, str(path), wrt=0)
    spec = importlib.util.spec_from_file_location("scalar_grad", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    second = sd.grad(module.branchy_grad)
    for x in (0.7, -0.4):
        h = 1e-5
        expected = (module.branchy_grad(x + h, 1.3) - module.branchy_grad(x - h, 1.3)) / (2 * h)
        assert second(x, 1.3) == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize("name, function, wrt", [("logistic_grad.py", logistic_loss, 0), ("mlp_grad.py", mlp_loss, (0, 1, 2, 3))])
def test_golden_sources(name, function, wrt):
    expected = (GOLDEN / name).read_text()
    actual = fresh_source(function, wrt).split("\n", 3)[3]  # without the header naming the module
    if actual != expected:
        import difflib

        diff = "".join(difflib.unified_diff(expected.splitlines(True), actual.splitlines(True), name, "generated"))
        pytest.fail(f"generated source changed; if intended, regenerate with\n  python -m tests.codegen.regenerate\n{diff}")


def test_emit_for_a_compiled_backend_writes_what_that_backend_runs(tmp_path):
    path = tmp_path / "rosen_cuda.py"
    text = sd.emit(rosen_for_emit, str(path), backend="cuda")
    assert text.startswith("# Generated by symdiff") and "cuda.jit" in text and "import symdiff" not in text
    module = importlib.util.module_from_spec(importlib.util.spec_from_file_location("rosen_cuda", path))
    module.__spec__.loader.exec_module(module)
    x = np.array([0.3, -0.2, 1.1])
    np.testing.assert_allclose(module.rosen_for_emit_grad(x), sd.grad(rosen_for_emit)(x), rtol=1e-12)


def rosen_for_emit(x):
    return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


def reused_after_loop(w, x):
    h = x
    for _ in range(3):
        h = np.tanh(h * w)
    return np.sum(h * w + w)


def test_loop_gradient_accumulators_add_in_place():
    """A weight's accumulator starts as fresh zeros and is added to in place (no array per step)."""
    rng = np.random.default_rng(3)
    w, u, xs, h0 = rng.normal(size=(3, 4)), rng.normal(size=(4, 4)), rng.normal(size=(5, 3)), rng.normal(size=4)
    derivative = sd.grad(p.rnn, wrt=(0, 1))
    assert "w_bar += " in derivative.source and "u_bar += " in derivative.source
    for k, got in enumerate(derivative(w, u, xs, h0)):
        np.testing.assert_allclose(got, numeric_grad(p.rnn, (w, u, xs, h0), k), rtol=1e-6, atol=1e-8)
    twice = derivative(w, u, xs, h0)[0]  # a second call starts from fresh zeros again
    np.testing.assert_allclose(twice, derivative(w, u, xs, h0)[0], rtol=0, atol=0)


@pytest.mark.parametrize("w", [0.7, np.array([0.5, -1.2, 0.9])], ids=["scalar", "vector"])
def test_loop_accumulator_not_in_place_when_its_start_is_shared(w):
    """A weight also read after the loop starts its accumulator from another adjoint: no `+=` there."""
    x = np.array([0.3, -0.4, 1.1])
    derivative = sd.grad(reused_after_loop)
    assert "w_bar += " not in derivative.source
    np.testing.assert_allclose(derivative(w, x), numeric_grad(reused_after_loop, (w, x), 0), rtol=1e-6, atol=1e-8)


def test_loop_reading_one_row_per_step_accumulates_that_row_in_place():
    """The cotangent of `xs[t]` goes into its row of the accumulator (`xs_bar[t] += ...`), not
    into a fresh zeros array the size of `xs` added every step (quadratic in the sequence length)."""
    rng = np.random.default_rng(4)
    w, u, xs, h0 = rng.normal(size=(3, 4)), rng.normal(size=(4, 4)), rng.normal(size=(6, 3)), rng.normal(size=4)
    for backend, line in (("numpy", "xs_bar[t] += "), ("numba", "add_into(xs_bar, ")):
        derivative = sd.grad(p.rnn, wrt=(2, 0), backend=backend)
        assert line in derivative.source and "scatter_add(" not in derivative.source
        for k, got in zip((2, 0), derivative(w, u, xs, h0)):
            np.testing.assert_allclose(got, numeric_grad(p.rnn, (w, u, xs, h0), k), rtol=1e-6, atol=1e-8)
        twice = derivative(w, u, xs, h0)[0]  # a second call starts from fresh zeros again
        np.testing.assert_allclose(twice, derivative(w, u, xs, h0)[0], rtol=0, atol=0)


def scalar_weight_loop(w, x):
    h = x
    for _ in range(3):
        h = np.tanh(h * w)
    return np.sum(h)


def test_scalar_weight_accumulated_in_a_loop_is_a_scalar():
    """No `+=` on an accumulator that may be 0-d: a float argument's gradient stays a NumPy scalar."""
    x = np.array([0.3, -0.4, 1.1])
    got = sd.grad(scalar_weight_loop)(0.7, x)
    assert isinstance(got, np.floating)
    assert got == pytest.approx(numeric_grad(scalar_weight_loop, (0.7, x), 0), rel=1e-6)
