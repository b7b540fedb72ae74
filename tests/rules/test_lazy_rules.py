"""`import symdiff` stays cheap: SciPy's rules are registered lazily (`registry.register_later`).

Each test runs a fresh interpreter, since this process has long imported SciPy: there
`import symdiff` must not import scipy.special, scipy.stats, scipy.sparse, SymPy or
Numba, and once the user's module imports SciPy, after symdiff or before it, its
functions differentiate as before and its refusals still come when the derivative is
built, located at the user's line.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

USER_MODULE = """\
import numpy as np
{imports}
import symdiff as sd
{late_imports}


def special(x):
    return np.sum(scipy.special.erf(x) * scipy.special.gammaln(x + 2.0) + scipy.special.expit(x))


def composite(x):
    return scipy.special.logsumexp(x) + np.sum(scipy.stats.norm.logpdf(x, 0.5, 2.0))


def no_mean(x):
    return scipy.stats.multivariate_normal.logpdf(x, cov=np.eye(2))


def no_rule(x):
    return np.sum(scipy.special.erfcx(x))
"""


def run(code: str, tmp_path: Path, imports: str = "", late_imports: str = "") -> dict:
    (tmp_path / "user_module.py").write_text(USER_MODULE.format(imports=imports, late_imports=late_imports))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(tmp_path)])}
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], cwd=tmp_path, env=env, capture_output=True, text=True,
        check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


def test_import_symdiff_imports_no_scipy_sympy_or_numba(tmp_path):
    found = run(
        """
        import json, sys
        import symdiff
        heavy = ("scipy", "scipy.special", "scipy.stats", "scipy.sparse", "sympy", "numba")
        print(json.dumps([name for name in heavy if name in sys.modules]))
        """,
        tmp_path,
    )
    assert found == []


@pytest.mark.parametrize(
    ("imports", "late_imports"),
    [("import scipy.special\nimport scipy.stats", ""), ("", "import scipy.special\nimport scipy.stats")],
    ids=["scipy-first", "symdiff-first"],
)
def test_scipy_rules_found_after_a_lazy_registration(tmp_path, imports, late_imports):
    found = run(
        """
        import json
        import numpy as np
        import scipy.special, scipy.stats
        import symdiff as sd
        from user_module import composite, special

        x = np.array([-0.7, 0.2, 1.3])
        got = sd.grad(special)(x)
        erf, gl, s = scipy.special.erf(x), scipy.special.gammaln(x + 2.0), scipy.special.expit(x)
        want = (2 / np.sqrt(np.pi) * np.exp(-x * x) * gl + erf * scipy.special.digamma(x + 2.0) + s * (1 - s))
        got2 = sd.grad(composite)(x)
        want2 = np.exp(x - scipy.special.logsumexp(x)) - (x - 0.5) / 4.0
        print(json.dumps([np.abs(got - want).max(), np.abs(got2 - want2).max()]))
        """,
        tmp_path, imports, late_imports,
    )  # fmt: skip
    assert max(found) < 1e-12


def test_refusals_after_a_lazy_registration_are_located(tmp_path):
    found = run(
        """
        import json
        import symdiff as sd
        from user_module import no_mean, no_rule

        messages = []
        for function in (no_mean, no_rule):
            try:
                sd.grad(function)  # refused at build time, not at the call
            except sd.SymdiffError as error:
                messages.append([type(error).__name__, str(error)])
        print(json.dumps(messages))
        """,
        tmp_path, late_imports="import scipy.special\nimport scipy.stats",
    )  # fmt: skip
    (kind, message), (_, message2) = found
    assert kind == "UnsupportedSyntax" and "needs its mean" in message
    assert "user_module.py:" in message and "multivariate_normal.logpdf(x, cov=np.eye(2))" in message
    assert "erfcx" in message2 and "user_module.py:" in message2 and "register" in message2


def test_a_user_rule_for_a_scipy_function_meets_the_built_in_one(tmp_path):
    found = run(
        """
        import json
        import numpy as np
        import symdiff as sd
        import scipy.special
        from symdiff.errors import DuplicateRule

        try:
            sd.register_derivative(scipy.special.erf)(lambda g, out, x: g)
            outcome = "registered"
        except DuplicateRule as error:
            outcome = str(error)
        print(json.dumps(outcome))
        """,
        tmp_path,
    )
    assert "already registered" in found
