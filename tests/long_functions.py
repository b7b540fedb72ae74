"""Long straight-line functions for the build-scaling tests, written to disk at run time.

symdiff reads a function's source from its file, so each test writes its
function to a module under pytest's `tmp_path` and imports it.
`benchmarks/bench_build.py` times the same shapes of program.
"""

from __future__ import annotations

import hashlib
import importlib.util
import sys

# One statement of each kind, cycled; every kind keeps the values bounded.
MIXED = (
    "y = np.tanh(x * w) + 0.5 * y",
    "x = x + 0.1 * np.sin(y)",
    "s = np.sum(x * y) / 12.0",
    "y = y - 0.01 * s * x",
    "x = 0.5 * np.cos(x @ m) + 0.5 * x",
    "y = y / (1.0 + x * x)",
    "x = np.exp(-0.5 * y * y) * x",
    "y = np.sqrt(1.0 + y * y) - 1.0 + 0.1 * y",
    "x = x - 0.1 * np.mean(x, axis=0)",
    "y = 0.9 * y + np.log(1.0 + x * x)",
)


def chain_source(steps: int) -> str:
    """`chain(h, w)`: `steps` unrolled `h = h + np.tanh(h * w)`, returning `np.sum(h)`."""
    return "\n".join(["def chain(h, w):", *["    h = h + np.tanh(h * w)"] * steps, "    return np.sum(h)", ""])


def mixed_source(statements: int) -> str:
    """`mixed(x, y, w, m)`: `statements` statements cycling through `MIXED`."""
    body = [f"    {MIXED[k % len(MIXED)]}" for k in range(statements)]
    return "\n".join(["def mixed(x, y, w, m):", "    s = 0.0", *body, "    return np.sum(x * y) + s", ""])


def load(folder, source: str, name: str):
    """Write `source` as a module in `folder` and return its function `name`."""
    module_name = f"long_{name}_{hashlib.sha1(source.encode()).hexdigest()[:12]}"
    path = folder / f"{module_name}.py"
    path.write_text("import numpy as np\n\n\n" + source)
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return getattr(module, name)


def frame_depth() -> int:
    """How many Python frames are on the stack now."""
    frame, depth = sys._getframe(), 0
    while frame is not None:
        frame, depth = frame.f_back, depth + 1
    return depth
