"""Property test: random programs with views, second names and writes.

symdiff must either refuse a program (UnsupportedSyntax at build time) or
differentiate it exactly as NumPy runs it: its gradient is checked against
central finite differences of the very same function, so a view that symdiff
took for a copy would show. Programs are straight-line or a loop over rows
(`hs[t]`, `hs[t - 1]`, `hs[t + 1]`).

Short and derandomized by default (CI); `SYMDIFF_FUZZ=1` runs
`SYMDIFF_FUZZ_EXAMPLES` (2000 unless set) random programs.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

import symdiff as sd
from symdiff.errors import UnsupportedSyntax
from tests.oracles import numeric_grad
from tests.test_programs import _load

FUZZ = os.environ.get("SYMDIFF_FUZZ") == "1"
ROWS = ["0", "1", "3", "-1", "1:3", ":2", "2:", ":, 0", ":, 1:", "::2"]
LOOP_ROWS = ["t", "t - 1", "t + 1", "t, 0", "t - 1, 1:"]
VIEWS = ["hs[{}]", "hs.T", "hs", "hs.reshape(12)", "np.asarray(hs)", "hs[{}].copy()", "np.array(hs)"]


@st.composite
def programs(draw: st.DrawFn) -> str:
    in_loop = draw(st.booleans())
    rows = ROWS + (LOOP_ROWS if in_loop else [])
    views: list[str] = []
    body = []
    for k in range(draw(st.integers(2, 7))):
        kind = draw(st.sampled_from(["view", "write", "write", "through", "read", "read"]))
        row = draw(st.sampled_from(rows))
        scale = draw(st.sampled_from(["0.5", "1.5", "-2.0"]))
        if kind == "view" or not views and kind in ("through", "read"):
            views.append(f"v{k}")
            body.append(f"v{k} = " + draw(st.sampled_from(VIEWS)).format(row))
        elif kind == "write":
            whole_rows = ":" not in row and "," not in row  # hs[i] takes a row like x; other parts a number
            body.append(
                f"hs[{row}] = np.sin(x * {scale})" if whole_rows else f"hs[{row}] = np.sin(x[{k % 3}] * {scale})"
            )
        elif kind == "through":
            body.append(f"{draw(st.sampled_from(views))} += np.cos(x[{k % 3}] * {scale})")
        else:
            body.append(f"acc = acc + np.sum(np.sin({draw(st.sampled_from(views))}) * {scale})")
    indent = "        " if in_loop else "    "
    lines = ["    hs = np.zeros((4, 3)) + x", "    acc = 0.0"]
    if in_loop:
        names = [line.split(" = ")[0] for line in body if " = " in line and line.split(" = ")[0].isidentifier()]
        lines += [f"    {name} = hs[0] * 0.0" for name in dict.fromkeys(names) if name.startswith("v")]
        lines.append("    for t in range(1, 3):")
    lines += [indent + line for line in body]
    lines.append("    return acc + np.sum(hs * hs)")
    return "import numpy as np\n\n\ndef program(x):\n" + "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def directory(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("view_programs")


@settings(
    max_examples=int(os.environ.get("SYMDIFF_FUZZ_EXAMPLES", "2000")) if FUZZ else 200,
    deadline=None,
    derandomize=not FUZZ,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(source=programs())
def test_views_are_refused_or_differentiated_as_numpy_runs_them(directory: Path, source: str) -> None:
    note(source)
    f = _load(directory, source).program
    x = np.array([0.3, -0.8, 1.1])
    try:
        f(x)
    except (ValueError, IndexError):
        return  # shapes that do not broadcast in NumPy either
    try:
        gradient = sd.grad(f)
    except UnsupportedSyntax as error:
        assert "shares memory" in error.message or "argument" in error.message, error.message
        return
    np.testing.assert_allclose(gradient(x), numeric_grad(f, (x,), 0), rtol=1e-6, atol=1e-8)
