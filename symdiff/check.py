"""`symdiff check`: which functions of a code base symdiff differentiates, checked numerically.

For every top-level function (and module-level lambda) defined in the given
files, `check_paths` finds inputs on which the plain function runs, builds its
derivative on each backend with respect to every float argument, calls it, and
compares the result with central finite differences and, when autograd is
installed, with autograd run on the same code. Each function gets one outcome
per backend (`OUTCOMES`):

- `works`: the derivative agrees with the oracles;
- `refused`: symdiff raised a `SymdiffError` (shown with its file:line);
- `wrong`: a derivative of the wrong structure or shape, not finite where the
  function is smooth, or disagreeing with an oracle;
- `crash`: any other exception from symdiff, when the derivative is built or called;
- `skipped`: no oracle applies: no inputs were found on which the function runs
  and returns finite floats, it has no float argument, it draws random numbers,
  or it is not differentiable at the drawn point.

Inputs. A parameter with a default keeps it; one annotated or named like an
integer (`n`, `i`, `num_*`, ...) gets 2; one read as `p['key']` gets a dict of
floats with those keys; every other parameter tries a (3,) vector, a float and
a (3, 3) matrix with entries uniform in [0.2, 0.8] (inside the domain of log,
sqrt, arcsin, ...): all parameters the same kind first, then mixed kinds. The
first inputs on which the function returns a finite float scalar win; failing
that, the first with a float array (checked through `vjp` with a random seed)
or a tuple of them (checked through a function returning the seed-weighted sum).

The oracles, in float64. Central differences with step h = 1e-5 and 2h per
element: an element is compared only where the function is smooth (the
one-sided differences agree, and the h and 2h central differences agree). The
h difference's truncation error is about a third of the gap between the two,
its rounding error about 2.2e-16 |f| / h = 2e-11 |f|; the tolerance is ten times
that estimate plus 1e-7 of the gradient's scale. Where autograd agrees with the
finite differences, symdiff must match autograd to 1e-9 of the scale: two exact
reverse modes differ only by rounding.

This module uses only symdiff's public operators and `symdiff.compose`.
"""

from __future__ import annotations

import ast
import contextlib
import importlib.util
import inspect
import io
import itertools
import json
import os
import signal
import sys
import textwrap
import threading
import traceback
import types
import warnings
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from symdiff.errors import SymdiffError

__all__ = ["OUTCOMES", "Report", "Result", "check_paths", "find_functions"]

OUTCOMES = ("works", "refused", "wrong", "crash", "skipped")
STEP = 1e-5
KINDS = {"(3,)": (3,), "float": (), "(3,3)": (3, 3)}
INTEGER_NAMES = {"n", "m", "k", "i", "j", "t", "axis", "idx", "index", "size", "steps", "count", "depth", "seed"}


@dataclass
class Result:
    """The outcome of one function on one backend."""

    file: str
    function: str
    line: int
    backend: str
    outcome: str  # one of OUTCOMES
    detail: str = ""
    inputs: str = ""


@dataclass
class Report:
    """All results of a check, rendered as tables (`table`) or JSON (`to_json`)."""

    backends: Sequence[str]
    results: list[Result] = field(default_factory=list)
    files: list[str] = field(default_factory=list)  # every file checked, those without functions too

    @property
    def exit_status(self) -> int:
        """1 when any function is wrong or crashes, else 0."""
        return int(any(r.outcome in ("wrong", "crash") for r in self.results))

    def counts(self) -> dict[str, dict[str, int]]:
        """{backend: {outcome: count}}."""
        counts = {b: dict.fromkeys(OUTCOMES, 0) for b in self.backends}
        for r in self.results:
            counts[r.backend][r.outcome] += 1
        return counts

    def table(self) -> str:
        """One table per file (a row per function, a column per backend), details, then a summary."""
        lines: list[str] = []
        for file in self.files:
            lines += _file_table(file, [r for r in self.results if r.file == file], self.backends)
        for backend, counts in self.counts().items():
            total = sum(counts.values())
            lines.append(f"{backend}: {total} functions: " + ", ".join(f"{counts[o]} {o}" for o in OUTCOMES))
        return "\n".join(lines) + "\n"

    def to_json(self) -> str:
        return json.dumps({"results": [asdict(r) for r in self.results], "counts": self.counts()}, indent=1)


def _file_table(file: str, results: list[Result], backends: Sequence[str]) -> list[str]:
    by_function: dict[tuple[int, str], dict[str, Result]] = {}
    for r in results:
        by_function.setdefault((r.line, r.function), {})[r.backend] = r
    if not by_function:
        return [f"== {file}", "  (no top-level functions)", ""]
    width = max(len("function"), *(len(name) for _, name in by_function))
    wide = min(36, max(len("inputs"), *(len(r.inputs) for r in results)))
    lines = [f"== {file}", f"  {'function':<{width}}  {'inputs':<{wide}}  " + "  ".join(f"{b:<7}" for b in backends)]
    notes = []
    for (_, name), cells in by_function.items():
        first = next(iter(cells.values()))
        outcomes = "  ".join(f"{cells[b].outcome if b in cells else '-':<7}" for b in backends)
        lines.append(f"  {name:<{width}}  {first.inputs[:wide]:<{wide}}  {outcomes}")
        notes += [f"  {name} [{b}] {r.outcome}: {r.detail}" for b, r in cells.items() if r.outcome != "works"]
    return [line.rstrip() for line in lines] + notes + [""]


def check_paths(
    paths: Iterable[str | Path],
    backends: Sequence[str] = ("numpy",),
    seed: int = 0,
    timeout: float | None = 60.0,
    select: Callable[[str, Callable], bool] | None = None,
) -> Report:
    """Check every top-level function in `paths` (files, or folders searched for *.py) on `backends`.

    `select(name, function)` may leave functions out. `timeout` bounds, in
    seconds, each stage of one function (finding inputs, the oracles, each
    backend). Example::

        report = check_paths(["src/model.py"], backends=("numpy", "numba"))
        print(report.table())
    """
    os.environ.setdefault("MPLBACKEND", "Agg")  # user modules that plot must not open windows
    report = Report(tuple(backends))
    for path in _python_files(paths):
        report.files.append(str(path))
        try:
            with _deadline(timeout):
                found = find_functions(path)
        except (Exception, _TimedOut) as error:  # noqa: BLE001 - the user's module failed to import
            outcome, detail = _import_failure(error, path)
            report.results += [Result(str(path), "<module>", 0, b, outcome, detail) for b in backends]
            continue
        for name, function in found:
            if select is None or select(name, function):
                report.results += _check_function(path, name, function, backends, seed, timeout)
    return report


def _python_files(paths: Iterable[str | Path]) -> list[Path]:
    files: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            files += sorted(
                p for p in path.rglob("*.py") if not any(part.startswith((".", "__pycache__")) for part in p.parts)
            )
        elif path.is_file():
            files.append(path)
        else:
            raise FileNotFoundError(f"no such file or folder: {path}")
    return files


def find_functions(path: Path) -> list[tuple[str, Callable]]:
    """Import `path` as a module (its folder on sys.path); its own functions and lambdas, in source order."""
    directory = str(path.resolve().parent)
    if directory not in sys.path:
        sys.path.insert(0, directory)
    spec = importlib.util.spec_from_file_location(path.stem, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[path.stem] = module  # so sibling modules importing it get this copy
    with _quiet():
        spec.loader.exec_module(module)
    own = str(path.resolve())
    found = []
    for name, value in vars(module).items():
        if not isinstance(value, types.FunctionType) or str(Path(value.__code__.co_filename).resolve()) != own:
            continue
        if value.__name__ == name or value.__name__ == "<lambda>":
            found.append((name, value))
    return sorted(found, key=lambda item: item[1].__code__.co_firstlineno)


def _import_failure(error: BaseException, path: Path) -> tuple[str, str]:
    """A module's import that raised: refused or crash when symdiff raised it, else skipped."""
    if isinstance(error, _TimedOut):
        return "skipped", "import took longer than the time limit"
    if isinstance(error, SymdiffError):
        return "refused", "import failed: " + _refusal(error)
    detail = f"import failed: {type(error).__name__}: {_first_line(error)}"
    files = [frame.filename for frame in traceback.extract_tb(error.__traceback__)]
    own = str(path.resolve())
    after = files[next((k for k, file in enumerate(files) if file == own or file == str(path)), len(files)) :]
    package = str(Path(__file__).resolve().parent) + os.sep
    return ("crash", detail) if any(file.startswith(package) for file in after) else ("skipped", detail)


def _check_function(path, name, f, backends, seed, timeout) -> list[Result]:
    line = f.__code__.co_firstlineno
    rng = np.random.default_rng([seed, zlib.crc32(f"{path.name}:{name}".encode())])

    def every(outcome: str, detail: str, inputs: str = "") -> list[Result]:
        return [Result(str(path), name, line, b, outcome, detail, inputs) for b in backends]

    try:
        with _quiet(), _deadline(timeout):
            probe = _find_inputs(f, rng)
    except _TimedOut:
        return every("skipped", f"no inputs found within {timeout:g} s")
    except Exception as error:  # noqa: BLE001 - e.g. a second call that fails where the first ran
        return every("skipped", f"primal fails ({type(error).__name__}: {_first_line(error)})")
    if isinstance(probe, str):
        return every("skipped", probe)
    floats = [k for k, value in enumerate(probe.args) if _is_float(value)]
    given = [k for k in floats if not probe.defaulted[k]]
    wrt = given or floats  # arguments left at their defaults only when there is nothing else
    if not wrt:
        return every("skipped", "no float argument", probe.describe())
    reference = None
    try:
        with _quiet(), _deadline(timeout):
            oracle = _finite_differences(probe, wrt)
            if oracle is not None:
                reference = _autograd(probe, wrt)
    except _TimedOut:
        return every("skipped", f"finite differences took over {timeout:g} s", probe.describe())
    except Exception as error:  # noqa: BLE001 - the primal fails at the point it ran on before
        return every("skipped", f"primal fails ({type(error).__name__}: {_first_line(error)})", probe.describe())
    if oracle is None:
        return every("skipped", "not differentiable at the drawn point", probe.describe())
    return [
        Result(
            str(path), name, line, backend, *_judge(probe, wrt, oracle, reference, backend, timeout), probe.describe()
        )
        for backend in backends
    ]


# --- inputs -----------------------------------------------------------------


@dataclass
class Probe:
    """A function with inputs it runs on; `seeds` weight a non-scalar output into a scalar."""

    f: Callable
    names: list[str]
    args: list[Any]
    kind: str  # "scalar", "array" or "tuple"
    seeds: Any = None
    defaulted: list[bool] = field(default_factory=list)  # per argument: its default value was used

    def objective(self, args: Sequence[Any], numpy: Any = np) -> float:
        out = self.f(*_copy(args))
        if self.kind == "scalar":
            return out
        if self.kind == "array":
            return numpy.sum(out * self.seeds)
        return sum(numpy.sum(o * s) for o, s in zip(out, self.seeds))

    def describe(self) -> str:
        return " ".join(f"{n}={_describe(a)}" for n, a in zip(self.names, self.args))


def _find_inputs(f: Callable, rng: np.random.Generator) -> Probe | str:
    try:
        params = list(inspect.signature(f).parameters.values())
    except (TypeError, ValueError):
        return "no signature"
    if any(p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) or (p.kind == p.KEYWORD_ONLY and p.default is p.empty)
           for p in params):  # fmt: skip
        return "takes *args, **kwargs or keyword-only arguments"
    keys = _string_keys(f)
    options = [_options(p, keys.get(p.name)) for p in params]
    names = [p.name for p in params]
    fallback, failure = None, "no inputs found"
    for choice in _combinations(options):
        args = [make(rng) for _, make in choice]
        try:
            out = f(*_copy(args))
        except Exception as error:  # noqa: BLE001 - not the inputs this function wants
            failure = f"primal fails on every input tried ({type(error).__name__}: {_first_line(error)})"
            continue
        kind = _output_kind(out)
        if kind is None:
            failure = f"output is not finite floats ({_describe(out)})"
            continue
        defaulted = [label == "default" for label, _ in choice]
        if kind == "scalar":
            return _deterministic(Probe(f, names, args, kind, None, defaulted), out)
        fallback = fallback or Probe(f, names, args, kind, _seeds(out, rng), defaulted)
    if fallback is not None:
        return _deterministic(fallback, fallback.f(*_copy(fallback.args)))
    return failure


def _options(param: inspect.Parameter, keys: dict | None) -> list[tuple[str, Callable]]:
    if param.default is not param.empty:
        return [("default", lambda rng, value=param.default: value)]
    annotation = param.annotation if isinstance(param.annotation, str) else getattr(param.annotation, "__name__", "")
    name = param.name.lower()
    if annotation == "int" or name in INTEGER_NAMES or name.startswith(("n_", "num_")):
        return [("int", lambda rng: 2)]
    if annotation == "bool":
        return [("bool", lambda rng: True)]
    if keys:
        return [("dict", lambda rng: _dict_of_floats(keys, rng))]
    kinds = ["float"] if annotation == "float" else list(KINDS)
    return [(kind, lambda rng, shape=KINDS[kind]: _draw(shape, rng)) for kind in kinds]


def _combinations(options: list[list]) -> Iterable[tuple]:
    """All parameters the same kind first (by position in their lists), then every mix for up to 3 choices."""
    widest = max((len(o) for o in options), default=1)
    tried = set()
    for k in range(widest):
        index = tuple(min(k, len(o) - 1) for o in options)
        tried.add(index)
        yield tuple(o[i] for o, i in zip(options, index))
    if sum(len(o) > 1 for o in options) <= 3:
        for index in itertools.product(*(range(len(o)) for o in options)):
            if index not in tried:
                yield tuple(o[i] for o, i in zip(options, index))


def _string_keys(f: Callable) -> dict[str, dict]:
    """{param: key tree} for parameters read as `p['a']` or `p['a']['b']` in f's source."""
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(f)))
    except (OSError, TypeError, SyntaxError):
        return {}
    found: dict[str, dict] = {}
    for node in ast.walk(tree):
        chain = []
        while (
            isinstance(node, ast.Subscript)
            and isinstance(node.slice, ast.Constant)
            and isinstance(node.slice.value, str)
        ):
            chain.append(node.slice.value)
            node = node.value
        if chain and isinstance(node, ast.Name):
            level = found.setdefault(node.id, {})
            for key in reversed(chain):
                level = level.setdefault(key, {})
    return found


def _dict_of_floats(keys: dict, rng: np.random.Generator) -> dict:
    return {k: _dict_of_floats(sub, rng) if sub else _draw((), rng) for k, sub in keys.items()}


def _draw(shape: tuple, rng: np.random.Generator) -> Any:
    value = rng.uniform(0.2, 0.8, size=shape)
    return float(value) if shape == () else value


def _output_kind(out: Any) -> str | None:
    if isinstance(out, (tuple, list)) and out and all(_output_kind(o) in ("scalar", "array") for o in out):
        return "tuple"
    if isinstance(out, (bool, np.bool_)) or not isinstance(out, (float, int, np.number, np.ndarray)):
        return None
    array = np.asarray(out)
    if array.dtype.kind != "f" or not np.all(np.isfinite(array)):
        return None
    return "scalar" if array.ndim == 0 else "array"


def _seeds(out: Any, rng: np.random.Generator) -> Any:
    if isinstance(out, (tuple, list)):
        return [_seeds(o, rng) for o in out]
    drawn = rng.normal(size=np.shape(out))
    return float(drawn) if np.ndim(out) == 0 else drawn


def _deterministic(probe: Probe, out: Any) -> Probe | str:
    again = probe.f(*_copy(probe.args))
    same = all(np.array_equal(a, b, equal_nan=True) for a, b in zip(_leaves(out), _leaves(again)))
    return probe if same else "draws random numbers: two calls on the same inputs differ"


# --- oracles ----------------------------------------------------------------


def _finite_differences(probe: Probe, wrt: list[int]) -> list[list[tuple]] | None:
    """Per wrt argument, per leaf: (central difference, its error bound, where smooth); None if smooth nowhere."""
    value = float(probe.objective(probe.args))
    found = [[_leaf_differences(probe, k, j, value) for j in range(len(_leaves(probe.args[k])))] for k in wrt]
    return found if any(smooth.any() for per_arg in found for _, _, smooth in per_arg) else None


def _leaf_differences(probe: Probe, k: int, j: int, value: float) -> tuple:
    leaves, rebuild = _flatten(probe.args[k])
    x = np.asarray(leaves[j], dtype=np.float64)
    central, error, smooth = np.zeros(x.shape), np.zeros(x.shape), np.zeros(x.shape, dtype=bool)
    for i in np.ndindex(x.shape):
        values = {}
        for multiple in (-2, -1, 1, 2):
            moved = x.copy()
            moved[i] += multiple * STEP
            args = list(probe.args)
            step = moved if x.ndim else float(moved)
            args[k] = rebuild([step if n == j else leaf for n, leaf in enumerate(leaves)])
            try:
                values[multiple] = float(probe.objective(args))
            except Exception:  # noqa: BLE001 - a step out of the domain: not smooth there
                values[multiple] = np.nan
        near = (values[1] - values[-1]) / (2 * STEP)
        far = (values[2] - values[-2]) / (4 * STEP)
        forward, backward = (values[1] - value) / STEP, (value - values[-1]) / STEP
        scale = max(1.0, abs(value), abs(near))
        smooth[i] = abs(near - far) <= 1e-6 * scale and abs(forward - backward) <= 1e-3 * scale
        central[i] = near
        error[i] = 10 * (abs(near - far) / 3 + 2e-11 * max(1.0, abs(value))) + 1e-7 * scale
    return central, error, smooth


def _autograd(probe: Probe, wrt: list[int]) -> list[list[np.ndarray]] | None:
    """autograd's gradients of the same code with `autograd.numpy` for NumPy, or None where it cannot run it."""
    try:
        import autograd
        import autograd.numpy as anp
    except ImportError:
        return None
    try:
        f = _with_autograd_numpy(probe.f)
        twin = Probe(f, probe.names, probe.args, probe.kind, probe.seeds, probe.defaulted)
        found = []
        for k in wrt:
            gradient = autograd.grad(lambda *a: twin.objective(a, anp), k)(*_copy(probe.args))
            leaves = [np.asarray(g, dtype=np.float64) for g in _leaves(gradient)]
            if [leaf.shape for leaf in leaves] != [np.shape(a) for a in _leaves(probe.args[k])]:
                return None
            found.append(leaves)
        return found
    except Exception:  # noqa: BLE001 - something autograd lacks: finite differences only
        return None


def _with_autograd_numpy(f: types.FunctionType) -> types.FunctionType:
    """`f` and the module functions it reaches, rebound to a copy of its globals with autograd's NumPy."""
    import autograd.numpy
    import autograd.scipy

    pairs = [(np, autograd.numpy), (np.linalg, autograd.numpy.linalg), (np.random, autograd.numpy.random)]
    with contextlib.suppress(ImportError):
        import autograd.scipy.special
        import autograd.scipy.stats
        import scipy.special
        import scipy.stats

        pairs += [(scipy.special, autograd.scipy.special), (scipy.stats, autograd.scipy.stats)]
    swap = {id(real): twin for real, twin in pairs}
    for real, twin in pairs:
        for name, value in vars(real).items():
            if hasattr(twin, name) and not isinstance(value, (int, float, str, type(None))):
                swap.setdefault(id(value), getattr(twin, name))
    namespace = {name: swap.get(id(value), value) for name, value in f.__globals__.items()}
    for name, value in list(namespace.items()):
        if isinstance(value, types.FunctionType) and value.__globals__ is f.__globals__:
            namespace[name] = _rebound(value, namespace)
    return _rebound(f, namespace)


def _rebound(f: types.FunctionType, namespace: dict) -> types.FunctionType:
    return types.FunctionType(f.__code__, namespace, f.__name__, f.__defaults__, f.__closure__)


# --- one backend ------------------------------------------------------------


def _judge(probe, wrt, oracle, reference, backend, timeout) -> tuple[str, str]:
    try:
        with _quiet(), _deadline(timeout):
            derivative = _derivative(probe, wrt, backend)
    except _TimedOut:
        return "crash", f"building the derivative took over {timeout:g} s"
    except SymdiffError as error:
        return "refused", _refusal(error)
    except Exception as error:  # noqa: BLE001 - what this command looks for
        return "crash", f"at build: {type(error).__name__}: {_first_line(error)}"
    try:
        with _quiet(), _deadline(timeout):
            extra = [probe.seeds] if probe.kind == "array" else []
            got = derivative(*_copy(probe.args), *extra)
    except _TimedOut:
        return "crash", f"the derivative's call took over {timeout:g} s"
    except SymdiffError as error:
        return "refused", "at call: " + _refusal(error)
    except Exception as error:  # noqa: BLE001 - what this command looks for
        return "crash", f"at call: {type(error).__name__}: {_first_line(error)}"
    got = got if isinstance(got, tuple) else (got,)
    for position, k in enumerate(wrt):
        wrong = _compare(got[position] if position < len(got) else None, probe, k, oracle[position],
                         None if reference is None else reference[position])  # fmt: skip
        if wrong:
            return "wrong", f"argument {probe.names[k]}: {wrong}"
    return "works", ""


def _derivative(probe: Probe, wrt: list[int], backend: str) -> Callable:
    from symdiff.api import grad, vjp
    from symdiff.compose import SourceFunction, fresh_param

    names = tuple(probe.names[k] for k in wrt)
    if probe.kind == "scalar":
        return grad(probe.f, wrt=names, backend=backend)
    if probe.kind == "array":
        return vjp(probe.f, wrt=names, backend=backend)
    seeds = [fresh_param(probe.names, f"seed_{n}") for n in range(len(probe.seeds))]
    params = ", ".join(probe.names)
    total = " + ".join(f"np.sum(outputs[{n}] * {s})" for n, s in enumerate(seeds))
    text = f"def weighted_outputs({params}, {', '.join(seeds)}):\n    outputs = primal({params})\n    return {total}\n"
    wrapper = SourceFunction(text, {"np": np, "primal": probe.f}, "weighted_outputs")
    derivative = grad(wrapper, wrt=names, backend=backend)
    return lambda *args: derivative(*args, *probe.seeds)


def _compare(got: Any, probe: Probe, k: int, oracle: list[tuple], reference: list | None) -> str:
    """Why `got` is not the gradient with respect to argument k, or "" if it is."""
    expected = _leaves(probe.args[k])
    try:
        leaves = _leaves(got)
    except TypeError:
        leaves = None
    if got is None or leaves is None or len(leaves) != len(expected):
        return f"structure {_describe(got)}, expected {_describe(probe.args[k])}"
    for j, (value, argument, (central, error, smooth)) in enumerate(zip(leaves, expected, oracle)):
        where = f"[{j}]" if len(expected) > 1 else ""
        if np.shape(value) != np.shape(argument):
            return f"{where}shape {np.shape(value)}, expected {np.shape(argument)}"
        value = np.asarray(value, dtype=np.float64)
        bad = smooth & ~(np.abs(value - central) <= error)  # NaN compares false: caught here too
        if bad.any():
            i = tuple(int(n) for n in np.argwhere(bad)[0]) if np.ndim(bad) else ()
            return f"{where}{list(i)} is {value[i]!r}, finite differences give {central[i]!r}"
        if reference is None:
            continue
        trusted = smooth & (np.abs(reference[j] - central) <= error)
        tight = 1e-9 * max(1.0, float(np.max(np.abs(reference[j]), initial=0.0)))
        bad = trusted & ~(np.abs(value - reference[j]) <= tight)
        if bad.any():
            i = tuple(int(n) for n in np.argwhere(bad)[0]) if np.ndim(bad) else ()
            return f"{where}{list(i)} is {value[i]!r}, autograd gives {reference[j][i]!r}"
    return ""


# --- helpers ----------------------------------------------------------------


def _flatten(value: Any) -> tuple[list, Callable[[list], Any]]:
    """The leaves of a dict/list/tuple structure, and a function rebuilding it from new leaves."""
    if isinstance(value, (dict, list, tuple)):
        keys = list(value) if isinstance(value, dict) else list(range(len(value)))
        parts = [_flatten(value[key]) for key in keys]
        sizes = list(itertools.accumulate((len(leaves) for leaves, _ in parts), initial=0))

        def rebuild(leaves: list) -> Any:
            items = [make(leaves[a:b]) for (_, make), a, b in zip(parts, sizes, sizes[1:])]
            return dict(zip(keys, items)) if isinstance(value, dict) else type(value)(items)

        return [leaf for leaves, _ in parts for leaf in leaves], rebuild
    return [value], lambda leaves: leaves[0]


def _leaves(value: Any) -> list:
    return _flatten(value)[0]


def _is_float(value: Any) -> bool:
    leaves = _leaves(value)
    return bool(leaves) and all(
        isinstance(v, (float, np.floating)) or (isinstance(v, np.ndarray) and v.dtype.kind == "f") for v in leaves
    )


def _copy(args: Sequence[Any]) -> list:
    """Fresh copies, so a function that writes into an argument cannot change the next call's inputs."""
    return [_flatten(a)[1]([v.copy() if isinstance(v, np.ndarray) else v for v in _leaves(a)]) for a in args]


def _describe(value: Any) -> str:
    if isinstance(value, dict):
        return "{" + ",".join(f"{k}:{_describe(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return f"{type(value).__name__}[{len(value)}]"
    if isinstance(value, np.ndarray):
        return f"{value.dtype.name if value.dtype.kind != 'f' else ''}{value.shape}".replace(" ", "")
    return type(value).__name__


def _refusal(error: SymdiffError) -> str:
    where = error.location
    at = f"{Path(where.file).name}:{where.line}:{where.col + 1}: " if where is not None else "(no location) "
    return f"{at}{type(error).__name__}: {error.message.splitlines()[0] if error.message else ''}"


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0][:200] if text else ""


class _TimedOut(BaseException):
    """Raised by the alarm; a BaseException so that user code's `except Exception` cannot swallow it."""


@contextlib.contextmanager
def _deadline(seconds: float | None):
    if not seconds or not hasattr(signal, "setitimer") or threading.current_thread() is not threading.main_thread():
        yield
        return

    def alarm(signum, frame):
        raise _TimedOut

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@contextlib.contextmanager
def _quiet():
    """User code's prints and NumPy's warnings do not belong in the table."""
    with (
        contextlib.redirect_stdout(io.StringIO()),
        contextlib.redirect_stderr(io.StringIO()),
        warnings.catch_warnings(),
        np.errstate(all="ignore"),
    ):
        warnings.simplefilter("ignore")
        yield
