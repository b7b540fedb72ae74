"""A GradBench tool: symdiff's derivatives of the NumPy objectives in this folder.

    python benchmarks/gradbench/tool.py [--backend numpy|numba]

Reads GradBench's JSON-lines messages on stdin and answers each on stdout
(https://github.com/gradbench/gradbench/blob/main/CONTRIBUTING.md): `start`
names the tool, `define` imports the eval's module, `evaluate` runs one of
its functions at least `min_runs` times and for at least `min_seconds`,
timing each run (converting the input and output is not timed). Symdiff
builds a derivative once, so the first run includes the build (and the
Numba compile).
"""

import argparse
import importlib
import inspect
import json
import sys
import time
import traceback
from pathlib import Path

from symdiff import SymdiffError

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repository root, for `benchmarks.gradbench`


def evaluate(module, function, input, backend):
    run, post = module.FUNCTIONS[function]
    args = module.prepare(input)
    kwargs = {"backend": backend} if "backend" in inspect.signature(run).parameters else {}
    runs = input if isinstance(input, dict) else {}
    timings, elapsed = [], 0.0
    while len(timings) < runs.get("min_runs", 1) or elapsed < runs.get("min_seconds", 0):
        start = time.perf_counter_ns()
        output = run(*args, **kwargs)
        nanoseconds = time.perf_counter_ns() - start
        timings.append({"name": "evaluate", "nanoseconds": nanoseconds})
        elapsed += nanoseconds / 1e9
    return {"success": True, "output": post(output), "timings": timings}


def respond(message, backend):
    if message["kind"] == "start":
        return {"tool": "symdiff", "config": {"backend": backend}}
    if message["kind"] not in ("define", "evaluate"):
        return {}
    try:
        module = importlib.import_module(f"benchmarks.gradbench.{message['module']}")
        if message["kind"] == "define":
            return {"success": True}
        return evaluate(module, message["function"], message["input"], backend)
    except Exception as error:  # noqa: BLE001 - any failure is the answer `success: false`, and the tool goes on
        # A refusal's message says what and where; anything else gets its traceback.
        text = str(error) if isinstance(error, SymdiffError) else "".join(traceback.format_exception(error))
        return {"success": False, "error": text}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=("numpy", "numba"), default="numpy")
    backend = parser.parse_args().backend
    for line in sys.stdin:
        message = json.loads(line)
        print(json.dumps({"id": message["id"]} | respond(message, backend)), flush=True)


if __name__ == "__main__":
    main()
