"""Write a gradient to a standalone Python file, with the command line and with `symdiff.emit`.

    python examples/emit_gradient_file.py                   # writes into a temporary directory
    python examples/emit_gradient_file.py --out loss_grad.py  # keep the file

The loss is `loss(w, b, x, y)` in examples/models.py. This script first runs
the command line,

    symdiff grad examples/models.py:loss --wrt w --out loss_grad.py

imports the file it wrote, and checks it; then does the same with
`symdiff.emit` and checks that both files hold the same gradient function.

The written module needs only NumPy: it is the generated source plus the few
helper functions it calls (`sum_to`, ...), with a header naming the function
it came from and how to regenerate it. Commit it, read it, step through it
with pdb. This script

1. writes the file with `symdiff.emit(loss, path, wrt="w")`;
2. imports it like any module and compares `loss_grad(w, b, x, y)` with
   central finite differences of `loss`;
3. imports and runs it again in a fresh interpreter in which `import symdiff`
   fails, to show that the file stands alone.
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

import symdiff as sd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from models import loss  # examples/ is not a package: import its module by path

CLI_EQUIVALENT = "symdiff grad examples/models.py:loss --wrt w --out loss_grad.py"

# Run in a fresh interpreter: symdiff is made unimportable before the generated file is imported.
STANDALONE_CHECK = """
import importlib.util, sys
import numpy as np
sys.modules["symdiff"] = None  # any `import symdiff` now raises ImportError
spec = importlib.util.spec_from_file_location("loss_grad", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
rng = np.random.default_rng(0)
w, x, y = rng.normal(size=4), rng.normal(size=(8, 4)), np.sign(rng.normal(size=8))
print(module.loss_grad(w, 0.5, x, y).shape)
"""


def import_file(path, name):
    """Import a Python file as a module, without putting its folder on sys.path."""
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def finite_differences(f, w, *rest, eps=1e-6):
    """Central differences of scalar f with respect to the vector w."""
    grad = np.zeros_like(w)
    for i in range(w.size):
        step = np.zeros_like(w)
        step[i] = eps
        grad[i] = (f(w + step, *rest) - f(w - step, *rest)) / (2 * eps)
    return grad


def write_and_check(path):
    """Emit the gradient of `loss` to `path`, import it and compare it with finite differences."""
    text = sd.emit(loss, str(path), wrt="w")
    lines = text.splitlines()
    print(f"wrote {path.name}: {len(lines)} lines (same as: {CLI_EQUIVALENT})")
    print("-- header --")
    print("\n".join(line for line in lines[:4] if line.startswith("#")))
    start = next(i for i, line in enumerate(lines) if line.startswith("def loss_grad("))
    print("-- the gradient function --")
    print("\n".join(lines[start:]))
    print("--")

    module = import_file(path, "loss_grad")
    rng = np.random.default_rng(0)
    w, b = rng.normal(size=6), 0.3
    x, y = rng.normal(size=(50, 6)), np.sign(rng.normal(size=50))
    ours = module.loss_grad(w, b, x, y)
    numeric = finite_differences(loss, w, b, x, y)
    error = float(np.max(np.abs(ours - numeric)))
    print(f"gradient from the file: {np.array2string(ours, precision=5)}")
    print(f"finite differences:     {np.array2string(numeric, precision=5)}")
    print(f"max |difference| {error:.2e}")
    if not error < 1e-7:
        raise SystemExit("the emitted gradient disagrees with finite differences")

    command = [sys.executable, "-c", STANDALONE_CHECK, str(path)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"the emitted file does not run without symdiff:\n{done.stderr}")
    print(f"imported and ran without symdiff: gradient of shape {done.stdout.strip()}")
    print("emitted gradient matches finite differences")


def write_with_the_command_line(path):
    """Run `symdiff grad models.py:loss --wrt w --out path` and import what it wrote."""
    models = Path(__file__).resolve().parent / "models.py"
    command = [sys.executable, "-m", "symdiff", "grad", f"{models}:loss", "--wrt", "w", "--out", str(path)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"the command line failed:\n{done.stderr}")
    print(f"$ {CLI_EQUIVALENT}")
    module = import_file(path, "loss_grad_cli")
    rng = np.random.default_rng(1)
    w, x, y = rng.normal(size=6), rng.normal(size=(20, 6)), np.sign(rng.normal(size=20))
    error = float(np.max(np.abs(module.loss_grad(w, 0.3, x, y) - finite_differences(loss, w, 0.3, x, y))))
    print(f"the command line's file imports and agrees with finite differences (max |difference| {error:.2e})")
    if not error < 1e-7:
        raise SystemExit("the gradient written by the command line disagrees with finite differences")
    return path.read_text()


def main(argv=None):
    parser = argparse.ArgumentParser(description="Emit a gradient module with symdiff.emit and check it.")
    parser.add_argument("--out", type=Path, default=None, help="where to write the module (default: a temp dir)")
    parser.add_argument("--quick", action="store_true", help="accepted for symmetry with the other examples")
    options = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        from_cli = write_with_the_command_line(Path(folder) / "loss_grad_cli.py")
        target = options.out if options.out is not None else Path(folder) / "loss_grad.py"
        write_and_check(target)
        same = from_cli.split("def loss_grad(", 1)[1] == target.read_text().split("def loss_grad(", 1)[1]
        print(f"the command line and symdiff.emit wrote the same gradient function: {same}")
        if options.out is None:
            print("(the files were written to a temporary directory; pass --out FILE to keep one)")


if __name__ == "__main__":
    main()
