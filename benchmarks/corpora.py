"""`symdiff check` on other tools' test corpora: Tangent's test functions and autograd's examples.

Nothing is fetched and nothing of either project is stored in this
repository: pass the path of a checkout (or of a bare git directory, read at
its HEAD), and the files are copied into a temporary folder and checked there.

    git clone https://github.com/google/tangent /tmp/tangent
    git clone https://github.com/HIPS/autograd /tmp/autograd
    python benchmarks/corpora.py tangent /tmp/tangent                       # numpy backend
    python benchmarks/corpora.py autograd /tmp/autograd --backend numpy numba
    python benchmarks/corpora.py tangent /tmp/tangent --markdown            # the tables in docs/coverage.md

- **tangent**: `tests/functions.py`, copied unchanged. Its imports of
  `tangent` are served by a stub module written next to it (`trace` returns
  its argument; everything else raises), and TensorFlow is absent, so its
  `tf = None`. The *applicable* functions are those written in plain NumPy:
  not decorated, and not reading the names `tf`, `tangent` or
  `insert_grad_of` (the TensorFlow tests, Tangent's stack helpers and its
  context manager); 103 of the file's 141 names.
- **autograd**: the *applicable* examples are the `examples/**/*.py` that
  import `grad` or `value_and_grad` from autograd and otherwise only
  `autograd.numpy` (and its `random` and `linalg`) and `autograd.scipy.*`:
  11 files (`data.py`, a data loader that differentiates nothing, is left out). Every example
  is copied with only its import lines changed (`autograd.numpy` -> `numpy`,
  `autograd.scipy.X` -> `scipy.X`, `from autograd import grad` -> `from symdiff
  import grad`, `autograd.misc` -> `symdiff.misc`, `autograd.extend` ->
  `symdiff.extend`, `autograd.test_util` -> `symdiff.testing`), then each
  applicable one is imported (which runs its
  module-level code, so `rosenbrock.py` and `sinusoid.py` run with symdiff's
  `grad`) and checked. An example counts as covered when it imports, at least
  one of its functions works, and none is refused, wrong or crashes.

The exit status is `symdiff check`'s: 1 if any function is wrong or crashes.
"""

from __future__ import annotations

import argparse
import ast
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from symdiff.check import OUTCOMES, Report, check_paths

TANGENT_STUB = '''"""A stand-in for `tangent`, so that Tangent's tests/functions.py imports without it."""


def trace(f):
    return f


def _absent(*args, **kwargs):
    raise NotImplementedError("tangent is not installed: this is symdiff's stand-in")


insert_grad_of = Stack = push = pop = _absent
'''
TANGENT_ONLY_NAMES = {"tf", "tangent", "insert_grad_of"}
SAME_NAMES = "grad|value_and_grad|elementwise_grad|hessian_vector_product|hessian|jacobian"  # symdiff has them
AUTOGRAD_IMPORTS = re.compile(
    r"^(import autograd\.(numpy|scipy)(\.[\w.]+)? as \w+"
    r"|from autograd\.(numpy|scipy)(\.[\w.]+)? import .*"
    r"|from autograd\.misc(\.optimizers|\.flatten|\.fixed_points)? import [\w, ]+"
    r"|from autograd\.extend import ((defvjp|primitive)(, )?)+"
    r"|from autograd\.test_util import check_grads"
    rf"|from autograd import ({SAME_NAMES})( as \w+)?(, ({SAME_NAMES})( as \w+)?)*)\s*$"
)


def read_files(root: Path, under: str) -> dict[str, bytes]:
    """{relative path: contents} of the files under `under` in a checkout or a bare git directory."""
    if (root / under).is_dir():
        return {str(p.relative_to(root)): p.read_bytes() for p in sorted((root / under).rglob("*")) if p.is_file()}
    git = ["git", f"--git-dir={root}"]
    names = subprocess.run([*git, "ls-tree", "-r", "--name-only", "HEAD", under], capture_output=True, text=True,
                           check=True).stdout.splitlines()  # fmt: skip
    return {
        name: subprocess.run([*git, "show", f"HEAD:{name}"], capture_output=True, check=True).stdout for name in names
    }


def tangent_applicable(text: str) -> set[str]:
    """Names of the top-level functions of Tangent's functions.py written in plain NumPy."""
    found = set()
    for node in ast.parse(text).body:
        if isinstance(node, ast.FunctionDef) and not node.decorator_list:
            names = {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}
            if not names & TANGENT_ONLY_NAMES:
                found.add(node.name)
    return found


def run_tangent(root: Path, work: Path, backends, seed) -> tuple[Report, str]:
    text = read_files(root, "tests")["tests/functions.py"].decode()
    (work / "functions.py").write_text(text)
    (work / "tangent.py").write_text(TANGENT_STUB)
    applicable = tangent_applicable(text)
    report = check_paths([work / "functions.py"], backends, seed, select=lambda name, f: name in applicable)
    lines = [f"tangent tests/functions.py: {len(applicable)} applicable functions"]
    for backend, counts in report.counts().items():
        lines.append(f"  {backend}: " + ", ".join(f"{counts[o]} {o}" for o in OUTCOMES))
    return report, "\n".join(lines)


def rewrite_imports(text: str) -> str:
    """autograd's example with its autograd imports pointing at NumPy, SciPy and symdiff; nothing else changed."""
    out = []
    for line in text.splitlines(keepends=True):
        if line.startswith("from autograd import ") and AUTOGRAD_IMPORTS.match(line):
            line = line.replace("from autograd import", "from symdiff import", 1)
        elif match := re.match(r"import autograd\.((?:numpy|scipy)[\w.]*) as (\w+)", line):
            module, _, last = match.group(1).rpartition(".")  # scipy.stats.multivariate_normal is no module
            line = f"from {module} import {last}" if module else f"import {last}"
            line += f" as {match.group(2)}\n"
        elif line.startswith(("from autograd.numpy", "from autograd.scipy")):
            line = line.replace("from autograd.", "from ", 1)
        elif line.startswith("from autograd.misc"):  # symdiff.misc: flatten, the optimizers, fixed_point
            line = line.replace("from autograd.misc", "from symdiff.misc", 1)
        elif line.startswith("from autograd.extend import"):  # primitive and defvjp: symdiff.extend
            line = line.replace("from autograd.extend", "from symdiff.extend", 1)
        elif line.startswith("from autograd.test_util import"):  # check_grads: symdiff.testing
            line = line.replace("from autograd.test_util", "from symdiff.testing", 1)
        out.append(line)
    return "".join(out)


def autograd_applicable(text: str) -> bool:
    """An example that differentiates (imports grad or value_and_grad) using only NumPy, SciPy and those."""
    imports = [line.split("#")[0].rstrip() for line in text.splitlines() if re.match(r"(import|from) autograd\b", line)]
    differentiates = any(
        line.startswith(("from autograd import ", "from autograd.misc.optimizers")) for line in imports
    )
    return differentiates and all(AUTOGRAD_IMPORTS.match(line) for line in imports)


def run_example(path: Path, seconds: float) -> str:
    """Run one rewritten example as a script: `ran`, `running at the time limit`, or why it stopped."""
    env = {**os.environ, "MPLBACKEND": "Agg"}
    try:
        done = subprocess.run([sys.executable, path.name], cwd=path.parent, env=env, capture_output=True, text=True,
                              timeout=seconds, check=False)  # fmt: skip
    except subprocess.TimeoutExpired:
        return "running at the time limit, no error so far"
    if done.returncode == 0:
        return "ran"
    lines = done.stderr.splitlines()
    start = max((k for k, line in enumerate(lines) if line.startswith("Traceback")), default=-1) + 1
    error = next((line for line in lines[start:] if line and not line[0].isspace()), lines[-1] if lines else "?")
    inside = any(line.lstrip().startswith('File "') and f"{os.sep}symdiff{os.sep}" in line for line in lines[start:])
    kind = "refused" if error.startswith("symdiff.errors.") else "crash" if inside else "fails"
    return f"{kind}: {error[:240]}"


def write_synthetic_mnist(directory: Path, train: int = 6000, test: int = 1000, seed: int = 0) -> None:
    """MNIST's four files in its own format, with made-up digits, where the examples' `data_mnist`
    reads them: it downloads a file only when it is missing, and this machine has no network.

    Each class is a fixed random 28x28 pattern plus noise, so the examples train on something
    learnable; what is measured is that they run, not their accuracy.
    """
    import gzip
    import struct

    import numpy as np

    rng = np.random.default_rng(seed)
    patterns = rng.uniform(0, 255, size=(10, 28, 28))
    directory.mkdir(parents=True, exist_ok=True)
    for kind, count in (("train", train), ("t10k", test)):
        labels = rng.integers(0, 10, size=count).astype(np.uint8)
        images = np.clip(patterns[labels] + rng.normal(0, 40, size=(count, 28, 28)), 0, 255).astype(np.uint8)
        with gzip.open(directory / f"{kind}-labels-idx1-ubyte.gz", "wb") as out:
            out.write(struct.pack(">II", 2049, count) + labels.tobytes())
        with gzip.open(directory / f"{kind}-images-idx3-ubyte.gz", "wb") as out:
            out.write(struct.pack(">IIII", 2051, count, 28, 28) + images.tobytes())


def run_autograd(root: Path, work: Path, backends, seed, run_main: float = 0) -> tuple[Report, str]:
    files = read_files(root, "examples")
    chosen = []
    for name, data in files.items():
        path = work / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if not name.endswith(".py"):
            path.write_bytes(data)  # images the examples read
            continue
        text = data.decode()
        path.write_text(rewrite_imports(text))
        if autograd_applicable(text):
            chosen.append(path)
    report = check_paths(chosen, backends, seed)
    lines = [f"autograd examples: {len(chosen)} applicable files"]
    if run_main:
        write_synthetic_mnist(work / "examples" / "data")
        runs = {p.name: run_example(p, run_main) for p in chosen}
        lines.append(f"  run as scripts (numpy backend, {run_main:g} s each): "
                     f"{sum(r.startswith(('ran', 'running')) for r in runs.values())} of {len(chosen)} run")  # fmt: skip
        lines += [f"    {name}: {outcome}" for name, outcome in runs.items()]
    for backend in backends:
        covered = [p.name for p in chosen if _covered(report, str(p), backend)]
        counts = report.counts()[backend]
        lines.append(f"  {backend}: {len(covered)} of {len(chosen)} examples covered; functions: "
                     + ", ".join(f"{counts[o]} {o}" for o in OUTCOMES))  # fmt: skip
        lines.append(f"    not covered: {', '.join(p.name for p in chosen if p.name not in covered) or '-'}")
    return report, "\n".join(lines)


def _covered(report: Report, file: str, backend: str) -> bool:
    outcomes = [r.outcome for r in report.results if r.file == file and r.backend == backend]
    return "works" in outcomes and not {"refused", "wrong", "crash"} & set(outcomes)


def markdown(report: Report) -> str:
    """The results as Markdown tables, one per file, with the reason of every outcome but `works`."""
    lines = []
    for file in report.files:
        rows: dict[str, dict] = {}
        for r in report.results:
            if r.file == file:
                rows.setdefault(r.function, {})[r.backend] = r
        lines += [f"### {Path(file).name}", "", "| function | inputs | " + " | ".join(report.backends) + " | reason |",
                  "| --- | --- | " + " | ".join("---" for _ in report.backends) + " | --- |"]  # fmt: skip
        for name, cells in rows.items():
            failing = {b: r.detail.replace("|", "\\|") for b, r in cells.items() if r.outcome != "works" and r.detail}
            same = len(set(failing.values())) == 1 and len(failing) == len(cells)
            reasons = list(failing.values())[:1] if same else [f"{b}: {d}" for b, d in failing.items()]
            first = next(iter(cells.values()))
            outcomes = " | ".join(cells[b].outcome if b in cells else "-" for b in report.backends)
            lines.append(f"| `{name}` | {first.inputs} | {outcomes} | {'; '.join(reasons)} |")
        lines.append("" if rows else "(no top-level functions)\n")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("corpus", choices=["tangent", "autograd"])
    parser.add_argument("path", type=Path, help="a checkout of google/tangent or HIPS/autograd, or its git directory")
    parser.add_argument("--backend", nargs="+", default=["numpy"], choices=["numpy", "numba"])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--markdown", action="store_true", help="print Markdown tables instead of text ones")
    parser.add_argument("--run-main", type=float, default=0, metavar="SECONDS",
                        help="autograd: also run each example as a script, for at most SECONDS")  # fmt: skip
    options = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix=f"symdiff-{options.corpus}-") as folder:
        work = Path(folder)
        sys.path.insert(0, folder)
        here = os.getcwd()
        os.chdir(folder)  # examples that save figures write them here
        try:
            if options.corpus == "tangent":
                report, summary = run_tangent(options.path.resolve(), work, options.backend, options.seed)
            else:
                report, summary = run_autograd(
                    options.path.resolve(), work, options.backend, options.seed, options.run_main
                )
        finally:
            os.chdir(here)
        print(markdown(report) if options.markdown else report.table().replace(folder + os.sep, ""))
        print(summary.replace(folder + os.sep, ""))
    return report.exit_status


if __name__ == "__main__":
    sys.exit(main())
