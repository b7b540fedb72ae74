"""Sparse Hessians of random programs against the dense Hessian (issue 16).

For a program of `tests/fuzz/programs.py`, `symdiff.sparse_hessian` in its
first argument must either refuse with `NoSparsityPattern` (a branch, index or
order decided by that argument) or give the dense Hessian's numbers, and its
pattern, traced once, must hold every nonzero of the dense Hessian at the
program's point and at a second, random point: a pattern read at one x must
hold for every x. On the way, the dense Hessian (all directions in one batched
pass) is checked against one Hessian-vector product per column and against
`hessian` as users call it (compressed where the pattern saves half), the
sparse Hessian under an acyclic colouring (entries solved along trees), and
`sparse_jacobian` of the program (one row, so forward mode with every unit
direction in one batch) and `jacobian` (one row: the batched reverse pass)
against its gradient.

`python -m tests.fuzz.sparse_check --count 500` runs a long sweep and prints
the tally.
"""

from __future__ import annotations

import argparse
import tempfile
import warnings
from collections import Counter
from pathlib import Path

import numpy as np

import symdiff as sd
from symdiff import sparsity
from symdiff.errors import NoSparsityPattern, SymdiffError
from tests.fuzz.check import _float64, _load
from tests.fuzz.programs import Program, generate

WRONG = ("wrong", "pattern misses a nonzero", "internal")


def check_sparse(program: Program, directory: Path) -> tuple[str, str]:
    """(outcome, detail): outcome is "exact", "refused", "skipped" or one of WRONG."""
    if np.ndim(program.args[0]) == 0:
        return "skipped", "a scalar first argument"
    try:
        _, f = _load(directory, program.source)
    except Exception as error:  # noqa: BLE001 - the program itself does not import
        return "skipped", f"import: {error}"
    args = [_float64(a) for a in program.args]
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            value = f(*args)
        except Exception as error:  # noqa: BLE001 - the program fails in NumPy itself at this point
            return "skipped", f"the program raises {type(error).__name__} in NumPy"
        if not np.all(np.isfinite(value)):  # (the mean of an empty slice): no derivative to compare
            return "skipped", "the program's value is not finite here"
        try:
            dense = np.asarray(sd.hessian(f, 0, sparsity=False)(*args)).reshape(args[0].size, args[0].size)
        except SymdiffError as error:
            return "skipped", f"dense: {type(error).__name__}"
        except Exception as error:  # noqa: BLE001 - the dense Hessian's own defect, reported too
            return "internal", f"dense hessian: {type(error).__name__}: {error}"
        if not np.all(np.isfinite(dense)):
            return "skipped", "the dense Hessian is not finite here"
        product = sd.hvp(f, 0)  # one direction at a time: checks the batched pass of the dense Hessian
        units = np.eye(args[0].size).reshape((args[0].size,) + np.shape(args[0]))
        columns = np.array([np.ravel(product(*args, unit)) for unit in units]).T
        if not np.allclose(dense, columns, rtol=1e-9, atol=1e-12):
            return "wrong", f"the dense Hessian differs from its columns by {np.abs(dense - columns).max():.3g}"
        gradient = np.ravel(sd.grad(f, 0)(*args))
        one_row = (  # forward mode with every unit direction in one batch; the batched reverse pass
            ("sparse_jacobian", "batched forward", NoSparsityPattern, lambda: sd.sparse_jacobian(f, 0)(*args).toarray()),
            ("jacobian", "batched reverse", SymdiffError, lambda: sd.jacobian(f, 0, sparsity=False)(*args)),
        )  # fmt: skip
        for name, way, refusal, run in one_row:
            try:
                row = np.ravel(run())
            except refusal:
                row = gradient
            except Exception as error:  # noqa: BLE001 - a defect to report
                return "internal", f"{name}: {type(error).__name__}: {error}"
            if not np.allclose(row, gradient, rtol=1e-9, atol=1e-12):
                return "wrong", f"the {way} pass differs from the gradient by {np.abs(row - gradient).max():.3g}"
        try:  # the dense Hessian as users call it: a compressed pass where the pattern saves half
            automatic = np.asarray(sd.hessian(f, 0)(*args)).reshape(dense.shape)
        except Exception as error:  # noqa: BLE001 - a defect to report
            return "internal", f"hessian: {type(error).__name__}: {error}"
        if not np.allclose(automatic, dense, rtol=1e-9, atol=1e-12):
            return "wrong", f"hessian differs from every direction's by {np.abs(automatic - dense).max():.3g}"
        sparse = sd.sparse_hessian(f, 0)
        try:
            matrix = sparse(*args).toarray()
        except NoSparsityPattern as error:
            return "refused", str(error).splitlines()[0]
        except Exception as error:  # noqa: BLE001 - anything else is a defect to report
            return "internal", f"{type(error).__name__}: {error}"
        if not np.allclose(matrix, dense, rtol=1e-9, atol=1e-12):
            return "wrong", f"largest difference {np.abs(matrix - dense).max():.3g}"
        try:  # the same pattern under an acyclic colouring: entries solved along two-coloured trees
            solved = sd.sparse_hessian(f, 0, coloring="acyclic")(*args).toarray()
        except Exception as error:  # noqa: BLE001 - the pattern traced above: anything here is a defect
            return "internal", f"acyclic: {type(error).__name__}: {error}"
        if not np.allclose(solved, dense, rtol=1e-9, atol=1e-12):
            return "wrong", f"acyclic: largest difference {np.abs(solved - dense).max():.3g}"
        pattern = sparse.pattern(*args).toarray()
        sparsity.FAST_TRACE = False  # the object tracer, element by element: the same pattern
        try:
            slow = sd.sparse_hessian(f, 0).pattern(*args).toarray()
        except NoSparsityPattern:
            slow = pattern  # (the fast path runs an astype the object tracer refuses)
        finally:
            sparsity.FAST_TRACE = True
        if not np.array_equal(slow, pattern):
            return (
                "wrong",
                f"the fast tracer's pattern differs from the object tracer's in {np.sum(slow != pattern)} entries",
            )
        elsewhere = [np.random.default_rng(program.seed).uniform(0.2, 1.5, np.shape(args[0])), *args[1:]]
        try:
            other = np.asarray(sd.hessian(f, 0, sparsity=False)(*elsewhere)).reshape(pattern.shape)
        except Exception:  # noqa: BLE001 - the program may not run at the other point
            other = np.zeros_like(dense)
        other = np.where(np.isfinite(other), other, 0.0)
        if np.any((dense != 0) & ~pattern) or np.any((other != 0) & ~pattern):
            return "pattern misses a nonzero", ""
        return "exact", f"{int(pattern.sum())} of {pattern.size} entries"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=300)
    parser.add_argument("--start", type=int, default=0)
    options = parser.parse_args()
    tally: Counter = Counter()
    with tempfile.TemporaryDirectory() as directory:
        for seed in range(options.start, options.start + options.count):
            outcome, detail = check_sparse(generate(seed), Path(directory))
            tally[outcome] += 1
            if outcome in WRONG or outcome == "refused":
                print(seed, outcome, detail)
    print(dict(tally))


if __name__ == "__main__":
    main()
