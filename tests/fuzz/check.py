"""One program through `symdiff.grad`, sorted into an outcome by two independent oracles.

Outcomes (`KINDS`): the two allowed ones,

- `exact`: the gradient has the arguments' shapes and dtypes and agrees with
  the oracles;
- `refused`: `symdiff.grad` raised a `SymdiffError` whose message names the
  program's file and line;

the failures,

- `wrong`: a gradient that disagrees with an oracle, is not finite where the
  function is smooth, or has the wrong shape or dtype;
- `internal`: any other exception, when the gradient is built or called;
- `call-time`: a `SymdiffError` at the first call (it belongs at build time);
- `unlocated`: a `SymdiffError` at build time that does not say where;

and `skipped`: NumPy itself fails on the program, its value is not finite,
or it is not differentiable at the drawn point (so no oracle applies), or a
comparison ties exactly there and symdiff agrees with autograd, the second AD
tool, where the finite differences see the other branch.

The oracles. Central finite differences in float64 with steps h = 1e-5 and
2h per element; an element is compared only where the function is smooth
there: the forward and backward one-sided differences agree (a kink makes
them differ by the jump in slope) and the two central ones agree (a jump
makes them differ by its size over h). The truncation error of the h
difference is a third of their gap, and its rounding error about
eps * |f| / h = 2e-11 |f|; the tolerance is ten times that estimate plus
1e-7 of the gradient's scale. Then autograd, a second AD tool, on the same
source with `autograd.numpy` for `np` (not for programs with element writes,
which autograd cannot run): where autograd and the finite differences agree,
symdiff must match autograd to 1e-9 of the gradient's scale, because two
exact reverse modes differ only by rounding, unless the differences are
closer to symdiff than to autograd (autograd's own slip). float32 arguments are compared
with the float64 oracles to 1e-3 of the scale: ~2^13 float32 ulps, room for
the rounding of a few dozen operations.
"""

from __future__ import annotations

import hashlib
import importlib.util
import re
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import symdiff as sd
from tests.fuzz.programs import Program

KINDS = ["exact", "refused", "skipped", "wrong", "internal", "call-time", "unlocated"]
TIE = "tie"  # what _compare returns for a tie that both reverse modes resolve the same way
FAILURES = ["wrong", "internal", "call-time", "unlocated"]
STEP = 1e-5


@dataclass
class Outcome:
    kind: str  # one of KINDS
    detail: str = ""


def check(program: Program, backend: str, directory: Path) -> Outcome:
    """Run `program` through `symdiff.grad(..., backend=backend)` and judge the result."""
    try:
        path, f = _load(directory, program.source)
    except Exception as error:  # noqa: BLE001 - a reduced program that no longer defines f
        return Outcome("skipped", f"import: {type(error).__name__}: {error}")
    try:
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return _judge(program, backend, path, f)
    finally:
        sys.modules.pop(path.stem, None)


def _judge(program: Program, backend: str, path: Path, f) -> Outcome:
    wrt = program.wrt if isinstance(program.wrt, tuple) else (program.wrt,)
    args64 = [_float64(a) for a in program.args]
    try:
        value = f(*_copies(args64))
    except Exception as error:  # noqa: BLE001 - NumPy rejects the program too: no oracle
        return Outcome("skipped", f"NumPy: {type(error).__name__}: {error}")
    if np.ndim(value) != 0 or np.asarray(value).dtype.kind not in "biuf" or not abs(float(value)) <= 1e8:
        return Outcome("skipped", f"value {value!r}")
    value = float(value)
    if program.float32:
        try:
            value32 = f(*_copies(program.args))
        except Exception as error:  # noqa: BLE001 - as above, in float32
            return Outcome("skipped", f"NumPy float32: {type(error).__name__}")
        if not abs(float(value32) - float(value)) <= 1e-3 * max(1.0, abs(value)):
            return Outcome("skipped", "float32 value differs (a branch taken the other way)")
    differences = [_finite_differences(f, args64, k, value) for k in wrt]
    if not any(smooth.any() for _, _, smooth in differences):
        return Outcome("skipped", "not differentiable at the point")
    try:
        gradient = sd.grad(f, wrt=program.wrt, backend=backend)
    except sd.SymdiffError as error:
        if re.search(re.escape(str(path)) + r":\d+", str(error)):
            return Outcome("refused", f"{type(error).__name__}: {error.message}")
        return Outcome("unlocated", f"{type(error).__name__}: {error}")
    except Exception as error:  # noqa: BLE001 - what the fuzzer looks for
        return Outcome("internal", f"at build: {type(error).__name__}: {error}")
    try:
        got = gradient(*_copies(program.args))
    except sd.SymdiffError as error:
        return Outcome("call-time", f"{type(error).__name__}: {error}")
    except Exception as error:  # noqa: BLE001 - what the fuzzer looks for
        return Outcome("internal", f"at call: {type(error).__name__}: {error}")
    got = got if isinstance(program.wrt, tuple) else (got,)
    reference = None if program.writes else _autograd(program, args64, wrt)
    for position, k in enumerate(wrt):
        judged = _compare(got[position] if position < len(got) else None, program.args[k], differences[position],
                          None if reference is None else reference[position])  # fmt: skip
        if judged == TIE:
            return Outcome(
                "skipped", "a comparison ties at the point: symdiff and autograd agree, finite differences differ"
            )
        if judged and reference is None and _tie_broken_by_a_nudge(gradient, program, got, position, differences):
            return Outcome("skipped", "a comparison ties at the point: a nudge of 1e-9 makes symdiff agree")
        if judged:
            return Outcome("wrong", f"argument {k}: {judged}")
    return Outcome("exact")


def _compare(got, argument, difference, autograd_value) -> str:
    """Why `got` is wrong for `argument`, or "" if it is right."""
    central, error, smooth = difference
    if got is None or np.shape(got) != np.shape(argument):
        return f"shape {np.shape(got)}, expected {np.shape(argument)}"
    dtype = getattr(argument, "dtype", np.dtype(np.float64))
    if isinstance(argument, (np.ndarray, np.generic)) and getattr(got, "dtype", None) != dtype:
        return f"dtype {getattr(got, 'dtype', type(got).__name__)}, expected {dtype}"
    got = np.asarray(got, dtype=np.float64)
    scale = max(1.0, float(np.max(np.abs(central), initial=0.0)))
    loose = 1e-3 * scale if dtype == np.float32 else 0.0
    bad = smooth & ~(np.abs(got - central) <= error + loose)  # nan compares false: caught here too
    if bad.any():
        if autograd_value is not None:
            # A comparison that ties exactly at the drawn point (`np.where(p != q, p, q)` where p == q == 0):
            # both reverse modes take the branch the program takes, the differences see the other one.
            same = np.abs(got - autograd_value) <= 1e-9 * max(1.0, float(np.max(np.abs(got), initial=0.0))) + loose
            if not (bad & ~same).any():
                return TIE
        i = np.argwhere(bad)[0] if np.ndim(bad) else ()
        return f"at {tuple(int(j) for j in i)} got {got[tuple(i)]!r}, finite differences {central[tuple(i)]!r}"
    if autograd_value is None:
        return ""
    trusted = smooth & (np.abs(autograd_value - central) <= error)
    tight = 1e-9 * max(1.0, float(np.max(np.abs(autograd_value), initial=0.0)))
    bad = trusted & ~(np.abs(got - autograd_value) <= tight + loose)
    # Where the two disagree but the differences side with symdiff, autograd is the one that slipped
    # (seed 102009809: symdiff 6e-11 from the differences, autograd 1.3e-7, inside their bound).
    bad &= np.abs(got - central) >= np.abs(autograd_value - central)
    if bad.any():
        i = tuple(int(j) for j in np.argwhere(bad)[0]) if np.ndim(bad) else ()
        return f"at {i} got {got[i]!r}, autograd {autograd_value[i]!r} (finite differences {central[i]!r})"
    return ""


def _tie_broken_by_a_nudge(gradient, program: Program, got, position: int, differences) -> bool:
    """Whether a finite gradient that disagrees with the differences agrees once every argument moves
    by 1e-9: a comparison that ties exactly at the drawn point (`np.where(p != q, p, q)` at
    p == q == 0) takes one branch there, the differences the other. Not for nan or inf: those
    are what the exact point breaks (`x ** 0` at 0), never a tie."""
    if not np.all(np.isfinite(np.asarray(got[position], dtype=np.float64))):
        return False
    rng = np.random.default_rng(0)
    k = (program.wrt if isinstance(program.wrt, tuple) else (program.wrt,))[position]
    as64 = np.asarray(program.args[k], dtype=np.float64)  # the nudged arguments are float64 (float32 ones too)
    # Random signs, then every argument up, then down: a tie that rounding keeps on one side of the
    # comparison (sin(-1e-9) == -1e-9 in float64) is broken by the other direction.
    for signs in ("random", 1.0, -1.0):
        nudged = [a + 1e-9 * (rng.choice([-1.0, 1.0], np.shape(a)) if signs == "random" else signs)
                  if isinstance(a, (float, np.floating, np.ndarray)) and np.asarray(a).dtype.kind == "f" else a
                  for a in program.args]  # fmt: skip
        try:
            moved = gradient(*_copies(nudged))
        except Exception:  # noqa: BLE001, S112 - no verdict from this nudge
            continue
        moved = moved if isinstance(program.wrt, tuple) else (moved,)
        if not _compare(moved[position], as64 if np.ndim(as64) else float(as64), differences[position], None):
            return True
    return False


def _finite_differences(f, args: list, k: int, value: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(central difference, its error bound, where f is smooth) for argument `k`, elementwise."""
    x = np.asarray(args[k], dtype=np.float64)
    central, error, smooth = (np.zeros(x.shape), np.zeros(x.shape), np.zeros(x.shape, dtype=bool))
    for i in np.ndindex(x.shape):
        values = {}
        for multiple in (-2, -1, 1, 2):
            moved = x.copy()
            moved[i] += multiple * STEP
            point = list(args)
            point[k] = moved if x.ndim else float(moved)
            try:
                values[multiple] = float(f(*_copies(point)))
            except Exception:  # noqa: BLE001 - a step out of the domain: not smooth there
                values[multiple] = np.nan
        near = (values[1] - values[-1]) / (2 * STEP)
        far = (values[2] - values[-2]) / (4 * STEP)
        forward, backward = (values[1] - value) / STEP, (value - values[-1]) / STEP
        scale = max(1.0, abs(value), abs(near))
        # Smooth: forward - backward is h f'', twice what the curvature moves each one-sided difference
        # between steps h and 2h; a kink adds its jump in slope to the first only (a small jump hides
        # under the 1e-3 bound when the value is large).
        curvature = max(
            abs((values[2] - value) / (2 * STEP) - forward), abs((value - values[-2]) / (2 * STEP) - backward)
        )
        kink = abs(forward - backward) > 4 * curvature + 1e-9 * max(1.0, abs(value))
        smooth[i] = abs(near - far) <= 1e-6 * scale and abs(forward - backward) <= 1e-3 * scale and not kink
        central[i] = near
        error[i] = 10 * (abs(near - far) / 3 + 2e-11 * max(1.0, abs(value))) + 1e-7 * scale
    return central, error, smooth


def _autograd(program: Program, args: list, wrt: tuple[int, ...]) -> list | None:
    """autograd's gradients of the same source, or None where autograd cannot run it."""
    import autograd

    namespace: dict = {}
    try:
        source = program.source.replace("import numpy as np", "import autograd.numpy as np")
        source = source.replace("import scipy.special", "import autograd.scipy.special\nscipy = autograd.scipy")
        exec(source, namespace)  # noqa: S102 - our own program
        results = [np.asarray(autograd.grad(namespace["f"], k)(*_copies(args)), dtype=np.float64) for k in wrt]
    except Exception:  # noqa: BLE001 - a construct autograd lacks: finite differences only
        return None
    if any(r.shape != np.shape(args[k]) for r, k in zip(results, wrt)):
        return None
    return results  # not finite where autograd meets a singularity: those elements are not trusted


def _load(directory: Path, source: str):
    name = "fuzz_" + hashlib.sha256(source.encode()).hexdigest()[:16]
    path = directory / f"{name}.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return path, module.f


def _float64(value):
    if isinstance(value, np.ndarray):
        return value.astype(np.float64)
    return float(value) if isinstance(value, (float, np.floating)) else value


def _copies(args: list) -> list:
    """Fresh copies, so a program that writes into an argument cannot change the oracles' inputs."""
    return [a.copy() if isinstance(a, np.ndarray) else a for a in args]
