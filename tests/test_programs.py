"""Property test: random straight-line programs from the op table.

Hypothesis draws a program of elementwise, reduction and matrix-product
statements over a few inputs of different shapes (so broadcasting is
everywhere), writes it as source text to a module under a temporary
directory, imports it, and checks `symdiff.grad` with respect to every input
against central finite differences, and the second derivative with
`symdiff.testing.check_derivative`. Statements are chosen so that values stay
in each op's domain and bounded on the drawn inputs.

Short and derandomized by default (CI). `SYMDIFF_FUZZ=1` makes a long,
randomized run of `SYMDIFF_FUZZ_EXAMPLES` programs (2000 unless set).
"""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

import symdiff as sd
from symdiff.testing import check_derivative
from tests.oracles import numeric_grad

FUZZ = os.environ.get("SYMDIFF_FUZZ") == "1"
INPUTS = {"x": (3, 4), "y": (4,), "z": (3, 1), "s": (), "w": (4, 4)}

# Templates over operands {0}, {1}; guards keep every op inside its domain.
UNARY = [
    "np.tanh({0})", "np.sin({0})", "np.cos({0})", "np.arctan({0})", "-{0}", "np.abs({0})",
    "np.exp(np.tanh({0}))", "np.log(1.5 + np.sin({0}))", "np.log1p({0} * {0})", "np.expm1(np.cos({0}))",
    "np.sqrt(1.0 + {0} * {0})", "np.square(np.sin({0}))", "np.tan(0.5 * np.tanh({0}))",
    "np.arcsin(0.9 * np.tanh({0}))", "np.arccos(0.9 * np.sin({0}))", "np.sinh(np.cos({0}))",
    "np.cosh(np.sin({0}))", "np.clip({0}, -0.5, 0.5)", "{0} ** 2", "(1.0 + {0} * {0}) ** 0.5",
]  # fmt: skip
BINARY = [
    "{0} + {1}", "{0} - {1}", "{0} * {1}", "{0} / (1.0 + {1} * {1})", "np.maximum({0}, {1})",
    "np.minimum({0}, {1})", "np.logaddexp({0}, {1})", "np.arctan2({0}, 1.0 + {1} * {1})",
    "np.power(1.0 + {0} * {0}, np.sin({1}))", "np.where({0} > {1}, {0}, 0.5 * {1})",
]  # fmt: skip
REDUCTIONS = ["np.sum", "np.mean", "np.max", "np.min", "np.prod", "np.var", "np.linalg.norm"]
PRODUCTS = [
    "{0} @ {1}", "np.dot({0}, {1})", "np.matmul({0}, {1})", "{0}.T @ {1}",
    "np.einsum('ij,jk->ik', {0}, {1})", "np.einsum('ij,ij->j', {0}, {1})", "np.einsum('i,j', {0}, {1})",
]  # fmt: skip


def _evaluate(expression: str, env: dict) -> np.ndarray | None:
    """The value of `expression` on the drawn inputs, or None if invalid or unbounded there."""
    try:
        with np.errstate(all="raise"):
            value = np.asarray(eval(expression, {"np": np}, env))  # our own templates, not user input
    except (ValueError, FloatingPointError):
        return None
    if expression.startswith("np.linalg.norm") and np.any(value < 1e-3):
        return None  # the norm has no derivative at zero
    return value if np.all(np.abs(value) < 1e3) else None


def _options(draw: st.DrawFn, env: dict) -> list[str]:
    """Candidate right-hand sides of one new statement over the names in `env`."""
    names = list(env)
    kind = draw(st.sampled_from(["unary", "binary", "binary", "reduction", "product"]))
    if kind == "unary":
        template = draw(st.sampled_from(UNARY))
        return [template.format(n) for n in names]
    if kind in ("binary", "product"):
        template = draw(st.sampled_from(BINARY if kind == "binary" else PRODUCTS))
        pairs = [(a, b) for a in names for b in names if kind == "binary" or np.ndim(env[a]) * np.ndim(env[b])]
        return [template.format(a, b) for a, b in pairs]
    reduce, name = draw(st.sampled_from(REDUCTIONS)), draw(st.sampled_from(names))
    ndim = np.ndim(env[name])
    axis = draw(st.sampled_from([None, *range(ndim), *([-1] if ndim else []), *([(0, 1)] if ndim == 2 else [])]))
    return [f"{reduce}({name}, axis={axis}, keepdims={draw(st.booleans())})"]


@st.composite
def programs(draw: st.DrawFn) -> tuple[str, list]:
    """(source of `def program(x, y, z, s, w)`, its arguments)."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    args = [float(rng.uniform(-1.5, 1.5)) if not s else rng.uniform(-1.5, 1.5, size=s) for s in INPUTS.values()]
    env = dict(zip(INPUTS, args))
    lines, used = [], set()
    for k in range(draw(st.integers(1, 8))):
        valid = [(o, v) for o in _options(draw, env) if (v := _evaluate(o, env)) is not None]
        if not valid:
            continue
        expression, value = draw(st.sampled_from(valid))
        lines.append(f"    t{k} = {expression}")
        used |= {node.id for node in ast.walk(ast.parse(expression)) if isinstance(node, ast.Name)}
        env[f"t{k}"] = value
    outputs = [n for n in env if n not in used and n.startswith("t")] or ["x"]
    lines.append("    return " + " + ".join(f"np.sum(np.sin({n}))" for n in outputs))
    source = f"import numpy as np\n\n\ndef program({', '.join(INPUTS)}):\n" + "\n".join(lines) + "\n"
    return source, args


def _load(directory: Path, source: str) -> ModuleType:
    name = "program_" + hashlib.sha256(source.encode()).hexdigest()[:16]
    path = directory / f"{name}.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def directory(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("programs")


@settings(
    max_examples=int(os.environ.get("SYMDIFF_FUZZ_EXAMPLES", "2000")) if FUZZ else 25,
    deadline=None,
    derandomize=not FUZZ,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@given(program=programs())
def test_random_program_gradients_match_finite_differences(directory: Path, program: tuple[str, list]) -> None:
    source, args = program
    note(source)
    f = _load(directory, source).program
    grads = sd.grad(f, wrt=tuple(range(len(args))))(*args)
    for k, got in enumerate(grads):
        assert np.shape(got) == np.shape(args[k])
        np.testing.assert_allclose(got, numeric_grad(f, args, k), rtol=1e-6, atol=1e-8, err_msg=f"argument {k}")
    check_derivative(f, args, wrt=(0, 1, 4), order=2, trials=1)
