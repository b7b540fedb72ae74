"""Hessians of random programs against two independent oracles (trust of second order).

`sparse_check.py` compares symdiff's second-order paths with one another (the
batched dense Hessian with one hvp per column, the sparse Hessian with the
dense one). Agreement among them cannot catch a tangent rule that every path
shares. Here each path is compared with oracles outside forward mode:

- central differences of the first-order gradient (`symdiff.grad`, itself
  checked against finite differences of the function and autograd by
  `check.py`), with steps h = 1e-5 and 2h along each unit direction: an entry
  is compared only where the two central differences agree (the gradient is
  smooth there), to ten times their gap plus 1e-6 of the Hessian's scale;
- autograd's `hessian` (reverse over reverse, another tool), on the same source
  with `autograd.numpy` for `np`, where autograd runs it: where autograd and
  the differences agree, symdiff must match autograd to 1e-8 of the scale.

The paths: `hessian(sparsity=False)` (forward over reverse, every direction in
one batched pass), `hessian` as users call it (compressed where the traced
pattern allows), `hvp` along a random direction (one tangent), and
`jacobian(grad(f))` (reverse mode over a generated gradient). With `--numba`
also `hessian(backend="numba", sparsity=False)` (one compiled hvp per column).

`python -m tests.fuzz.hessian_check --count 300 --start 0` prints the tally and
each program that is not exact.
"""

from __future__ import annotations

import argparse
import tempfile
import warnings
from collections import Counter
from pathlib import Path

import numpy as np

import symdiff as sd
from symdiff.errors import SymdiffError
from tests.fuzz.check import _copies, _float64, _load
from tests.fuzz.programs import Program, generate

WRONG = ("wrong", "internal")
STEP = 1e-5


def check_hessian(program: Program, directory: Path, numba: bool = False) -> tuple[str, str]:
    """(outcome, detail): "exact", "refused", "skipped" or one of WRONG."""
    if np.ndim(program.args[0]) == 0 or np.size(program.args[0]) > 40:
        return "skipped", "a scalar or large first argument"
    try:
        path, f = _load(directory, program.source)
    except Exception as error:  # noqa: BLE001 - the program itself does not import
        return "skipped", f"import: {error}"
    args = _off_ties([_float64(a) for a in program.args], program.seed)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            value = f(*_copies(args))
        except Exception as error:  # noqa: BLE001 - NumPy rejects the program: no oracle
            return "skipped", f"the program raises {type(error).__name__} in NumPy"
        if np.ndim(value) != 0 or not abs(float(value)) <= 1e8:
            return "skipped", "the value is not a finite scalar"
        try:
            gradient = sd.grad(f, 0)
            central, error, smooth = _differences(gradient, args)
        except SymdiffError:
            return "skipped", "the gradient is refused"
        if not smooth.any():
            return "skipped", "the gradient is not differentiable at the point"
        reference = None if program.writes else _autograd_hessian(program, args)
        n = args[0].size
        direction = np.random.default_rng(program.seed).standard_normal(np.shape(args[0]))
        paths = {
            "hessian(sparsity=False)": lambda: sd.hessian(f, 0, sparsity=False)(*_copies(args)),
            "hessian": lambda: sd.hessian(f, 0)(*_copies(args)),
            "hvp": lambda: sd.hvp(f, 0)(*_copies(args), direction),
            "jacobian(grad)": lambda: sd.jacobian(gradient, 0, sparsity=False)(*_copies(args)),
        }
        if numba:
            paths["hessian(numba)"] = lambda: sd.hessian(f, 0, backend="numba", sparsity=False)(*_copies(args))
        refused = []
        for name, run in paths.items():
            try:
                got = np.asarray(run(), dtype=np.float64)
            except SymdiffError as error:
                if str(path) not in str(error) and "backend" not in str(error):
                    return "internal", f"{name}: unlocated {type(error).__name__}: {error}"
                refused.append(name)
                continue
            except Exception as error:  # noqa: BLE001 - a defect to report
                return "internal", f"{name}: {type(error).__name__}: {error}"
            if name == "hvp":
                wrong = _judge_product(got, direction.ravel(), central, error, smooth, reference)
            else:
                if got.size != n * n:
                    return "wrong", f"{name}: shape {got.shape}"
                wrong = _judge(got.reshape(n, n), central, error, smooth, reference)
            if wrong:
                return "wrong", f"{name}: {wrong}"
    if len(refused) == len(paths):
        return "refused", ", ".join(refused)
    return "exact", f"{int(smooth.sum())} of {n * n} entries compared" + (f"; refused: {refused}" if refused else "")


def _off_ties(args: list, seed: int) -> list:
    """The arguments moved by about 1e-3 where a float argument holds a zero or a repeated value.
    The fuzzer draws such points on purpose, to test ties at first order; there the program's
    `np.where(x != 0, np.sin(x) / x, 1.0)` takes the constant branch, whose second derivative AD
    gives (0) and the differences do not (-1/3). Second order is checked at a generic point."""
    floats = [np.ravel(a) for a in args if isinstance(a, (float, np.ndarray)) and np.asarray(a).dtype.kind == "f"]
    values = np.concatenate(floats) if floats else np.zeros(0)
    if not np.any(values == 0.0) and len(np.unique(values)) == values.size:
        return args
    rng = np.random.default_rng(seed)
    return [a + 1e-3 * rng.uniform(0.5, 1.0, np.shape(a)) * rng.choice([-1.0, 1.0], np.shape(a))
            if isinstance(a, (float, np.ndarray)) and np.asarray(a).dtype.kind == "f" else a
            for a in args]  # fmt: skip


def _differences(gradient, args: list) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(central differences of the gradient, their error bound, where they are trusted), n x n:
    column j is the derivative of the gradient along unit direction j."""
    x = np.asarray(args[0], dtype=np.float64)
    n = x.size
    central, error, smooth = np.zeros((n, n)), np.zeros((n, n)), np.zeros((n, n), dtype=bool)
    for j in range(n):
        values = {}
        for multiple in (-2, -1, 1, 2):
            moved = x.copy().ravel()
            moved[j] += multiple * STEP
            try:
                values[multiple] = np.ravel(np.asarray(gradient(moved.reshape(x.shape), *_copies(args[1:])), float))
            except Exception:  # noqa: BLE001 - a step out of the domain: not smooth there
                values[multiple] = np.full(n, np.nan)
        near = (values[1] - values[-1]) / (2 * STEP)
        far = (values[2] - values[-2]) / (4 * STEP)
        scale = np.maximum(1.0, np.maximum(np.abs(near), np.abs(values[1])))
        central[:, j] = near
        error[:, j] = 10 * np.abs(near - far) / 3 + 1e-6 * scale + 2e-10 * np.abs(values[1]) / STEP
        smooth[:, j] = np.isfinite(near) & (np.abs(near - far) <= 1e-4 * scale)
    return central, error, smooth


def _judge(got: np.ndarray, central, error, smooth, reference) -> str:
    """Why an n x n Hessian is wrong, or ""."""
    bad = smooth & ~(np.abs(got - central) <= error)
    if bad.any():
        i, j = np.argwhere(bad)[0]
        return f"at ({i}, {j}) got {got[i, j]!r}, differences of the gradient {central[i, j]!r}"
    if reference is None:
        return ""
    trusted = smooth & np.isfinite(reference) & (np.abs(reference - central) <= error)
    tight = 1e-8 * max(1.0, float(np.max(np.abs(np.where(trusted, reference, 0.0)), initial=0.0)))
    bad = trusted & ~(np.abs(got - reference) <= tight)
    bad &= np.abs(got - central) >= np.abs(reference - central)  # autograd's own slip is not ours
    if bad.any():
        i, j = np.argwhere(bad)[0]
        return f"at ({i}, {j}) got {got[i, j]!r}, autograd {reference[i, j]!r} (differences {central[i, j]!r})"
    return ""


def _judge_product(got: np.ndarray, v: np.ndarray, central, error, smooth, reference) -> str:
    """Why a Hessian-vector product is wrong, or "": compared only in rows the differences trust."""
    rows = smooth.all(axis=1)
    got = np.ravel(got)
    expected = central @ v
    bound = error @ np.abs(v) + 1e-8 * max(1.0, float(np.max(np.abs(expected), initial=0.0)))
    bad = rows & ~(np.abs(got - expected) <= bound)
    if bad.any():
        i = int(np.argwhere(bad)[0][0])
        return f"row {i}: got {got[i]!r}, differences of the gradient give {expected[i]!r}"
    return ""


def _autograd_hessian(program: Program, args: list) -> np.ndarray | None:
    """autograd's Hessian in the first argument, n x n, or None where autograd cannot run the program."""
    import autograd

    namespace: dict = {}
    try:
        source = program.source.replace("import numpy as np", "import autograd.numpy as np")
        source = source.replace("import scipy.special", "import autograd.scipy.special\nscipy = autograd.scipy")
        exec(source, namespace)  # noqa: S102 - our own program
        result = np.asarray(autograd.hessian(namespace["f"], 0)(*_copies(args)), dtype=np.float64)
    except Exception:  # noqa: BLE001 - a construct autograd lacks: differences only
        return None
    n = np.size(args[0])
    return result.reshape(n, n) if result.size == n * n else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=300)
    parser.add_argument("--start", type=int, default=0)
    parser.add_argument("--numba", action="store_true", help="also the Numba backend's Hessian (slow: compiles)")
    options = parser.parse_args()
    tally: Counter = Counter()
    with tempfile.TemporaryDirectory() as directory:
        for seed in range(options.start, options.start + options.count):
            outcome, detail = check_hessian(generate(seed), Path(directory), options.numba)
            tally[outcome] += 1
            if outcome != "exact" and outcome != "skipped":
                print(seed, outcome, detail, flush=True)
    print(dict(tally))


if __name__ == "__main__":
    main()
