"""Differential fuzzing: random programs are differentiated exactly or refused at build time.

Each program of `tests/fuzz/programs.py` goes through `symdiff.grad` on a
backend, and `tests/fuzz/check.py` sorts the result: the gradient must agree
with central finite differences and with autograd, or `grad` must refuse the
program with an error that names its file and line. Never a wrong gradient,
an internal exception, or a refusal at the first call.

Short and derandomized by default (CI): 300 programs on the NumPy backend
and 5 small ones on the numba backend, whose compiles are slow.
`SYMDIFF_FUZZ=1` draws `SYMDIFF_FUZZ_EXAMPLES` (300 unless set) programs
per backend from a random run seed, printed for reproduction; the long run is
`python -m tests.fuzz` (docs/testing.md).
"""

from __future__ import annotations

import math
import os
import random
import tempfile
import warnings
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

import symdiff as sd
from symdiff.rules import RULES
from tests.fuzz import templates
from tests.fuzz.check import FAILURES, check
from tests.fuzz.hessian_check import WRONG as HESSIAN_WRONG
from tests.fuzz.hessian_check import check_hessian
from tests.fuzz.programs import generate
from tests.fuzz.sparse_check import WRONG as SPARSE_WRONG
from tests.fuzz.sparse_check import check_sparse

FUZZ = os.environ.get("SYMDIFF_FUZZ") == "1"
RUN = random.randrange(1, 10**6) if FUZZ else 0
COUNT = int(os.environ.get("SYMDIFF_FUZZ_EXAMPLES", "300")) if FUZZ else 300
NUMBA_COUNT = COUNT // 4 if FUZZ else 5
SEEDS = [RUN * 1_000_000 + i for i in range(COUNT)]
NUMBA_SEEDS = [RUN * 1_000_000 + i for i in range(NUMBA_COUNT)]
if FUZZ:
    print(f"tests/fuzz: run seed {RUN} (python -m tests.fuzz --seed {RUN} reproduces it)")


@pytest.fixture(scope="module")
def directory(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


def _assert_allowed(seed: int, backend: str, directory: Path) -> None:
    program = generate(seed, small=backend == "numba")
    outcome = check(program, backend, directory)
    assert outcome.kind not in FAILURES, (
        f"{outcome.kind}: {outcome.detail}\n\n{program.source}\nargs = {program.args!r}, wrt = {program.wrt!r}\n"
        f"reproduce: python -m tests.fuzz --program {seed} --backend {backend} --reduce"
    )


@pytest.mark.parametrize("seed", SEEDS)
def test_numpy_backend_is_exact_or_refuses(seed: int, directory: Path) -> None:
    _assert_allowed(seed, "numpy", directory)


@pytest.mark.parametrize("seed", NUMBA_SEEDS)
def test_numba_backend_is_exact_or_refuses(seed: int, directory: Path) -> None:
    _assert_allowed(seed, "numba", directory)


def test_every_elementwise_op_of_the_table_is_drawn() -> None:
    drawn = set(templates.UNARY) | set(templates.BINARY) | set(templates.SCALAR_UNARY) | set(templates.SCALAR_BINARY)
    missing = sorted(op for op, rule in RULES.items() if rule.elementwise and op not in drawn)
    assert not missing, f"add templates for {missing} to tests/fuzz/templates.py"


def test_programs_mostly_run_in_numpy() -> None:
    """The generator keeps values in domain: a fuzzer whose programs fail in NumPy tests nothing."""
    finite = 0
    for seed in range(200):
        program = generate(seed)
        namespace: dict = {}
        exec(program.source, namespace)  # noqa: S102 - our own generated program
        try:
            with np.errstate(all="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                finite += math.isfinite(float(namespace["f"](*program.args)))
        except (ValueError, IndexError, TypeError):
            pass
    assert finite >= 180, f"only {finite} of 200 programs run finitely in NumPy"


SPARSE_SEEDS = [RUN * 1_000_000 + i for i in range(60)]


@pytest.mark.parametrize("seed", SPARSE_SEEDS)
def test_sparse_hessians_equal_the_dense_one_or_refuse(seed: int, directory: Path) -> None:
    """tests/fuzz/sparse_check.py: the sparse Hessian's numbers and pattern, and the batched dense
    Hessian against one hvp per column."""
    outcome, detail = check_sparse(generate(seed), directory)
    assert outcome not in SPARSE_WRONG, f"{outcome}: {detail}\n\n{generate(seed).source}"


def test_sparse_hessians_of_random_programs_are_mostly_traced() -> None:
    """A tracer that refuses everything would pass the test above: most programs must be exact."""
    with tempfile.TemporaryDirectory() as folder:
        outcomes = Counter(check_sparse(generate(seed), Path(folder))[0] for seed in range(40))
    assert outcomes["exact"] >= 12, outcomes


# tests/fuzz/hessian_check.py: second order against differences of the gradient and autograd's Hessian.
# 20068 and 20219 were refused: their generated gradients wrote an element of a 1-D cotangent in
# place after reading it, which the second build took for a view (ranks lost through a loop and
# through an `if` arm that returns); 20295 is a removable singularity at an exact zero; 21048 got
# half its reverse-over-reverse Hessian (an in-place write into memory a view still held).
HESSIAN_SEEDS = [RUN * 1_000_000 + i for i in range(40)] + [20068, 20219, 20295, 21048]


@pytest.mark.parametrize("seed", HESSIAN_SEEDS)
def test_hessians_match_differences_of_the_gradient_and_autograd(seed: int, directory: Path) -> None:
    outcome, detail = check_hessian(generate(seed), directory)
    assert outcome not in HESSIAN_WRONG, f"{outcome}: {detail}\n\n{generate(seed).source}"


def test_the_hessian_check_compares_most_programs_and_catches_a_wrong_entry(monkeypatch) -> None:
    """A check that skips everything, or cannot see a wrong entry, would pass the test above."""
    with tempfile.TemporaryDirectory() as folder:
        outcomes = Counter(check_hessian(generate(seed), Path(folder))[0] for seed in range(11, 23))
        assert outcomes["exact"] >= 6, outcomes
        hessian = sd.hessian

        def off_by_a_little(*args, **kwargs):
            inner = hessian(*args, **kwargs)
            return lambda *a: np.asarray(inner(*a)) * (1 + 1e-3) + 1e-3  # zero Hessians too

        monkeypatch.setattr(sd, "hessian", off_by_a_little)
        wrong = Counter(check_hessian(generate(seed), Path(folder))[0] for seed in range(11, 23))
    assert wrong["wrong"] >= outcomes["exact"] - 1, wrong
