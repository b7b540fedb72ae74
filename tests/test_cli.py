"""The `symdiff` command through subprocesses: every command, clean errors (issue 7)."""

import importlib.util
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from tests.oracles import numeric_grad

MODEL = textwrap.dedent(
    """
    import numpy as np

    def loss(w, b, x, y):
        p = 1.0 / (1.0 + np.exp(-(x @ w + b)))
        return -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))

    def rosen(x):
        return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)

    def bad(x):
        with open("log.txt") as log:
            return x

    def diagonal_product(A):
        if A.shape[0] == 1:
            return A[0, 0]
        return A[0, 0] * diagonal_product(A[1:, 1:])

    def weighted(params):
        return np.sum(params["w"] ** 2)

    def unrolled(x, n):
        h = x
        for t in range(n):
            h = np.tanh(h * 0.9 + 0.01)
        return np.sum(h)
    """
)


def run(*args, cwd, env=None):
    command = [sys.executable, "-m", "symdiff", *args]
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, check=False)


def load(path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def project(tmp_path):
    (tmp_path / "model.py").write_text(MODEL)
    return tmp_path


def test_grad_writes_an_importable_module_with_a_header(project):
    done = run("grad", "model.py:loss", "--wrt", "w", "--wrt", "b", "--out", "loss_grad.py", cwd=project)
    assert done.returncode == 0, done.stderr
    text = (project / "loss_grad.py").read_text()
    assert "from model:loss" in text and "with respect to w, b" in text
    assert "symdiff grad model.py:loss --wrt w --wrt b --out loss_grad.py" in text
    assert str(project) not in text  # no machine paths in generated files
    generated = load(project / "loss_grad.py")
    model = load(project / "model.py")
    rng = np.random.default_rng(0)
    args = (rng.normal(size=3), 0.2, rng.normal(size=(7, 3)), rng.integers(0, 2, 7) * 1.0)
    dw, db = generated.loss_grad(*args)
    np.testing.assert_allclose(dw, numeric_grad(model.loss, args, 0), rtol=1e-6, atol=1e-9)
    assert db == pytest.approx(numeric_grad(model.loss, args, 1), rel=1e-6)


def test_regenerate_line_keeps_mode_and_no_stable(project):
    done = run("grad", "model.py:loss", "--mode", "value_and_grad", "--no-stable", cwd=project)
    assert done.returncode == 0, done.stderr
    assert "symdiff grad model.py:loss --mode value_and_grad --no-stable" in done.stdout
    assert "logaddexp" not in done.stdout  # the loss's log(p) kept as written
    stable = run("grad", "model.py:loss", "--mode", "value_and_grad", cwd=project)
    assert "np.logaddexp" in stable.stdout and "--no-stable" not in stable.stdout


def test_grad_to_standard_output_and_module_targets(project):
    done = run("grad", "model:rosen", cwd=project)
    assert done.returncode == 0, done.stderr
    assert "def rosen_grad(x):" in done.stdout


def test_hessian_module_matches_the_analytic_hessian(project):
    assert run("hessian", "model.py:rosen", "--out", "rosen_hessian.py", cwd=project).returncode == 0
    hessian = load(project / "rosen_hessian.py").rosen_hessian(np.array([1.0, 2.0, 3.0]))
    np.testing.assert_allclose(hessian, [[402, -400, 0], [-400, 3802, -800], [0, -800, 200]])


def test_show_prints_the_wengert_list_and_writes_dot(project):
    done = run("show", "model.py:loss", "--dot", "graph.dot", cwd=project)
    assert done.returncode == 0, done.stderr
    assert "matmul(x, w)" in done.stdout and "# line" in done.stdout
    assert (project / "graph.dot").read_text().startswith('digraph "loss"')
    gradient = run("show", "model.py:loss", "--grad", "--wrt", "b", cwd=project)
    assert "b_bar" in gradient.stdout


@pytest.mark.parametrize(
    "args, status, words",
    [
        (("grad", "model.py:bad"), 1, "with statements are not supported"),
        (("grad", "missing.py:f"), 2, "no such file"),
        (("grad", "model.py:absent"), 2, "has no function 'absent'"),
        (("grad", "model.py"), 2, "must look like"),
        (("grad", "not_a_module_anywhere:f"), 2, "cannot import module"),
        (("grad", "model.py:loss", "--wrt", "q"), 1, "no argument 'q'"),
        (("grad", "model.py:diagonal_product"), 1, "built for each call's arguments' shapes"),
        (("hessian", "model.py:diagonal_product"), 1, "built for each call's arguments' shapes"),
        (("grad", "model.py:weighted"), 1, "built for each call's arguments' structure"),
    ],
)
def test_bad_targets_give_one_clean_message(project, args, status, words):
    done = run(*args, cwd=project)
    assert done.returncode == status
    assert words in done.stderr
    assert "Traceback" not in done.stderr


def test_checkpoint_is_kept_in_the_regenerate_line_and_the_code(project):
    done = run("grad", "model.py:unrolled", "--checkpoint", "auto", "--out", "unrolled_grad.py", cwd=project)
    assert done.returncode == 0, done.stderr
    text = (project / "unrolled_grad.py").read_text()
    assert "--checkpoint auto" in text and "for segment in reversed(range(segments)):" in text
    module = load(project / "unrolled_grad.py")
    x = np.array([0.2, -0.5])
    np.testing.assert_allclose(
        module.unrolled_grad(x, 7),
        numeric_grad(lambda v: load(project / "model.py").unrolled(v, 7), (x,), 0),
        rtol=1e-6,
    )
    refused = run("grad", "model.py:unrolled", "--checkpoint", "0", cwd=project)
    assert refused.returncode == 2 and "segment length" in refused.stderr


def test_a_binomial_schedule_from_the_command_line_is_standalone(project):
    done = run("grad", "model.py:unrolled", "--checkpoint", "binomial:3", "--out", "binomial_grad.py", cwd=project)
    assert done.returncode == 0, done.stderr
    text = (project / "binomial_grad.py").read_text()
    assert "--checkpoint binomial:3" in text and "def revolve_next(" in text and "import symdiff" not in text
    module = load(project / "binomial_grad.py")
    x = np.array([0.2, -0.5])
    np.testing.assert_allclose(
        module.unrolled_grad(x, 9),
        numeric_grad(lambda v: load(project / "model.py").unrolled(v, 9), (x,), 0),
        rtol=1e-6,
    )
    refused = run("grad", "model.py:unrolled", "--checkpoint", "binomial:0", cwd=project)
    assert refused.returncode == 2 and "binomial:N" in refused.stderr


def test_existing_output_is_overwritten_only_with_force(project):
    (project / "out.py").write_text("# mine\n")
    refused = run("grad", "model.py:rosen", "--out", "out.py", cwd=project)
    assert refused.returncode == 2 and "--force" in refused.stderr and len(refused.stderr.splitlines()) == 1
    assert (project / "out.py").read_text() == "# mine\n"
    assert run("grad", "model.py:rosen", "--out", "out.py", "--force", cwd=project).returncode == 0
    assert "def rosen_grad(x):" in (project / "out.py").read_text()


@pytest.mark.parametrize("command", [["grad", "model.py:rosen", "--out"], ["show", "model.py:rosen", "--dot"]])
def test_the_input_file_is_never_overwritten(project, command):
    before = (project / "model.py").read_text()
    done = run(*command, "model.py", "--force", cwd=project)
    assert done.returncode == 2 and "source file" in done.stderr
    assert (project / "model.py").read_text() == before


def test_output_to_a_directory_or_nowhere_is_one_clean_line(project):
    (project / "sub").mkdir()
    for out in ("sub", "missing/dir/out.py"):
        done = run("grad", "model.py:rosen", "--out", out, cwd=project)
        assert done.returncode == 2 and len(done.stderr.splitlines()) == 1, done.stderr
        assert "internal error" not in done.stderr


def test_version_and_help_examples(project):
    import symdiff

    done = run("--version", cwd=project)
    assert done.returncode == 0 and done.stdout.strip() == f"symdiff {symdiff.__version__}"
    assert "examples:" in run("--help", cwd=project).stdout


def test_cache_info_and_clear_touch_only_symdiff_files(project):
    cache = project / "cache"
    (cache / "__pycache__").mkdir(parents=True)
    mine = cache / "notes.py"
    mine.write_text("# not symdiff's\n")
    entry = cache / ("loss_grad_" + "0123456789abcdef01234567" + ".py")
    entry.write_text("x = 1\n")
    index = cache / "__pycache__" / (entry.stem + ".loss_grad-3.py311.nbi")
    index.write_bytes(b"\0")
    build = cache / ("loss_build_" + "0123456789abcdef01234567" + ".json")  # symdiff/build_cache.py
    build.write_text("{}\n")
    notes = cache / "notes.json"
    notes.write_text("{}\n")
    env = {**os.environ, "SYMDIFF_CACHE_DIR": str(cache)}
    info = run("cache", "info", cwd=project, env=env)
    assert info.returncode == 0 and "3 files" in info.stdout
    cleared = run("cache", "clear", cwd=project, env=env)
    assert cleared.returncode == 0 and "removed 3 files" in cleared.stdout
    assert mine.exists() and notes.exists() and not entry.exists() and not index.exists() and not build.exists()


def test_forward_mode_from_the_command_line(project):
    done = run("grad", "model.py:unrolled", "--mode", "jvp", "--out", "unrolled_jvp.py", cwd=project)
    assert done.returncode == 0, done.stderr
    text = (project / "unrolled_jvp.py").read_text()
    assert "--mode jvp" in text and "def unrolled_jvp(x, n, x_dot):" in text and "import symdiff" not in text
    module, model = load(project / "unrolled_jvp.py"), load(project / "model.py")
    x, direction = np.array([0.2, -0.5]), np.array([1.0, -2.0])
    value, tangent = module.unrolled_jvp(x, 6, direction)
    assert value == model.unrolled(x, 6)
    assert tangent == pytest.approx(np.sum(numeric_grad(lambda v: model.unrolled(v, 6), (x,), 0) * direction))
