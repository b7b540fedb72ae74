"""GradBench's own evals, driven through symdiff's tool and GradBench's own tools, side by side.

    python benchmarks/gradbench/compare.py --gradbench DIR [--quick] [--evals lse gmm ...]
                                           [--tools numpy numba jax manual] [--markdown FILE]

DIR is a GradBench checkout (https://github.com/gradbench/gradbench, with its
`evals/*/data` files for ba and ht). Nothing of GradBench is copied here: each
eval is GradBench's own `python/gradbench/gradbench/evals/<eval>/run.py`,
run with the checkout as its working directory, and it generates the inputs
and validates every answer with its own validator (for most evals a
comparison with GradBench's hand-written C++ "manual" tool, which it builds
with `make`: that needs a C++ compiler and nlohmann's json.hpp, found through
CPLUS_INCLUDE_PATH, e.g. /usr/include/nlohmann from the nlohmann-json3-dev
package; particle and saddle carry their expected values, hello checks
arithmetic).

Each contender gets its own eval process and its own tool process:

- `numpy`, `numba`: `benchmarks/gradbench/tool.py --backend numpy|numba`;
- `jax`: GradBench's `python/gradbench/gradbench/tools/jax/run.py`, for the
  evals it has (its `tools/jax/evals.txt`);
- `manual`: GradBench's hand-written C++ (`cpp.py manual`), for its evals.

The contenders advance in lockstep, one `evaluate` message at a time, in an
order that rotates from message to message, so a noisy stretch of the machine
hits all of them. Every tool process is pinned to the same single CPU (JAX's
run.py pins itself to CPU 0, so all are pinned there) with one BLAS thread.
Each eval's own `analysis` message gives the validation of that contender's
answer; on top, every answer is compared with the other contenders' answers
to the same message (GradBench's `compare_json_objects`).

Timings are the tools' own (`timings` in the response, one per run); the
first run is reported apart (it includes symdiff's build and Numba's or
JAX's compile), the steady state is the median of the other runs, with the
interquartile range. Ratios: gradient / objective of the same contender and
size, and symdiff / JAX, symdiff / manual per function.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from benchmarks import method

# Which function of each eval is the objective, and which are derivatives.
OBJECTIVE = {
    "hello": "square", "lse": "primal", "llsq": "primal", "det": "primal", "kmeans": "cost",
    "gmm": "objective", "ba": "objective", "ht": "objective", "lstm": "objective", "ode": "primal",
    "particle": None, "saddle": None,
}  # fmt: skip
EVALS = tuple(OBJECTIVE)

# Eval arguments: sizes (from each eval's own defaults, the smaller ones) and runs.
SIZES = {
    "quick": {
        "hello": [], "lse": ["-n", "2500", "40000"], "llsq": ["-n", "16", "256"], "det": ["-l", "5", "7"],
        "kmeans": ["-k", "10", "-n", "1000", "-d", "8"], "gmm": ["-d", "2", "10", "-k", "5", "-n", "1000"],
        "ba": ["--min", "1", "--max", "1"], "ht": ["--min", "1", "--max", "1", "--model", "small"],
        "lstm": ["-l", "2", "-c", "1024"], "ode": ["-n", "1000", "-s", "1", "10"], "particle": [], "saddle": [],
    },
    "full": {
        "hello": [], "lse": ["-n", "2500", "40000", "640000"], "llsq": ["-n", "16", "256", "1024"],
        "det": ["-l", "5", "7", "9"], "kmeans": ["-k", "10", "100", "-n", "1000", "10000", "-d", "8"],
        "gmm": ["-d", "2", "10", "20", "-k", "5", "10", "-n", "1000"], "ba": ["--min", "1", "--max", "3"],
        "ht": ["--min", "1", "--max", "3", "--model", "small"], "lstm": ["-l", "2", "4", "-c", "1024", "4096"],
        "ode": ["-n", "1000", "10000", "-s", "1", "10"], "particle": [], "saddle": [],
    },
}  # fmt: skip
RUNS = {"quick": ["--min-runs", "3", "--min-seconds", "0"], "full": ["--min-runs", "5", "--min-seconds", "0.2"]}
TOOLS = ("numpy", "numba", "jax", "manual")


def tool_command(tool: str, gradbench: Path) -> list[str]:
    if tool in ("numpy", "numba"):
        return [sys.executable, str(ROOT / "benchmarks/gradbench/tool.py"), "--backend", tool]
    if tool == "jax":
        return [sys.executable, str(gradbench / "python/gradbench/gradbench/tools/jax/run.py")]
    return [sys.executable, str(gradbench / "python/gradbench/gradbench/cpp.py"), "manual"]


def has_eval(tool: str, name: str, gradbench: Path) -> bool:
    if tool in ("numpy", "numba"):
        return True
    listed = gradbench / "tools" / tool / "evals.txt"
    return listed.exists() and name in listed.read_text().split()


class Contender:
    """One eval process wired to one tool process; `advance` relays up to one evaluate."""

    def __init__(self, tool: str, name: str, gradbench: Path, eval_args: list[str], logs: Path):
        env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
        env["PYTHONPATH"] = os.pathsep.join([str(gradbench / "python/gradbench"), str(ROOT)])
        cpu = min(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
        pin = (lambda: os.sched_setaffinity(0, {cpu})) if cpu is not None else None
        self.tool = tool
        self.eval = subprocess.Popen(
            [sys.executable, str(gradbench / f"python/gradbench/gradbench/evals/{name}/run.py"), *eval_args],
            cwd=gradbench, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
            stderr=open(logs / f"{name}-{tool}-eval.log", "w"),  # noqa: SIM115 - lives as long as the process
        )  # fmt: skip
        self.process = subprocess.Popen(
            tool_command(tool, gradbench), cwd=gradbench, env=env, preexec_fn=pin,  # noqa: PLW1509
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
            stderr=open(logs / f"{name}-{tool}-tool.log", "w"),  # noqa: SIM115
        )  # fmt: skip

    def _relay(self, line: str) -> dict:
        self.process.stdin.write(line)
        self.process.stdin.flush()
        answer = self.process.stdout.readline()
        if not answer:
            raise RuntimeError(f"{self.tool}: the tool process ended (see its log)")
        self.eval.stdin.write(answer)
        self.eval.stdin.flush()
        return json.loads(answer)

    def advance(self) -> dict | None:
        """Relay messages until one `evaluate` (and its analysis) has gone through; None at the end."""
        while True:
            line = self.eval.stdout.readline()
            if not line:
                return None
            message = json.loads(line)
            response = self._relay(line)
            if message["kind"] != "evaluate":
                continue
            record = {
                "function": message["function"],
                "description": message.get("description", ""),
                "response": response,
                "valid": None,
                "error": response.get("error"),
            }
            if response.get("success"):
                analysis = json.loads(self.eval.stdout.readline())
                assert analysis["kind"] == "analysis", analysis
                record["valid"], record["error"] = analysis["valid"], analysis.get("error")
                self._relay(json.dumps(analysis) + "\n")
            return record

    def close(self):
        for process in (self.eval, self.process):
            try:
                process.stdin.close()
            except BrokenPipeError:
                pass
            process.wait(timeout=60)


def run_eval(name: str, tools: list[str], gradbench: Path, mode: str, logs: Path) -> list[dict]:
    """One row per evaluate message: each contender's record, side by side."""
    args = SIZES[mode][name] + ([] if name == "hello" else RUNS[mode])
    contenders = [Contender(t, name, gradbench, args, logs) for t in tools if has_eval(t, name, gradbench)]
    rows, turn = [], 0
    try:
        while True:
            shift = turn % len(contenders)
            order = contenders[shift:] + contenders[:shift]
            records = {c.tool: c.advance() for c in order}
            turn += 1
            if all(r is None for r in records.values()):
                return rows
            rows.append({t: r for t, r in records.items() if r is not None})
    finally:
        for c in contenders:
            c.close()


def agreement(row: dict) -> str:
    """GradBench's own comparison of each contender's output with the first successful one's."""
    from gradbench.comparison import compare_json_objects

    done = [(t, r) for t, r in row.items() if r["response"].get("success")]
    if len(done) < 2:
        return "-"
    (first, reference), notes = done[0], []
    for tool, record in done[1:]:
        mismatches = compare_json_objects(reference["response"]["output"], record["response"]["output"])
        if mismatches:
            notes.append(f"{tool}≠{first} ({len(mismatches)})")
    return "; ".join(notes) or "all agree"


def seconds(record: dict | None) -> tuple[float | None, float | None, float]:
    """(first run, steady median, IQR/median) from the tool's own timings."""
    if not record or not record["response"].get("success"):
        return None, None, 0.0
    runs = [t["nanoseconds"] / 1e9 for t in record["response"].get("timings", []) if t["name"] == "evaluate"]
    if not runs:
        return None, None, 0.0
    steady = runs[1:] or runs
    stats = method.Stats(steady)
    return runs[0], statistics.median(steady), stats.spread()


def status(record: dict | None) -> str:
    if record is None:
        return "n/a"
    if not record["response"].get("success"):
        return "FAILED"
    return {True: "valid", False: "INVALID", None: "unchecked"}[record["valid"]]


def table(name: str, rows: list[dict], tools: list[str]) -> list[str]:
    """Markdown: per function and size, each contender's steady time, ratios, validation."""
    objective = {}
    for row in rows:
        for tool, record in row.items():
            if record["function"] == OBJECTIVE[name]:
                objective[tool, record["description"]] = seconds(record)[1]
    present = [t for t in tools if any(t in row for row in rows)]
    head = ["function", "size"] + [f"{t} ms (±IQR/2)" for t in present]
    head += [f"{t} grad/obj" for t in present if OBJECTIVE[name]]
    head += [f"{t}/{o}" for t in ("numpy", "numba") if t in present for o in ("jax", "manual") if o in present]
    head += ["first run ms (" + ", ".join(present) + ")", "validation", "cross-check"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in rows:
        any_record = next(iter(row.values()))
        function, size = any_record["function"], any_record["description"]
        timed = {t: seconds(row.get(t)) for t in present}
        cells = [function, size or "-"]
        cells += [f"{timed[t][1] * 1e3:.3f} ±{timed[t][2] * 50:.0f}%" if timed[t][1] else "-" for t in present]
        if OBJECTIVE[name]:
            for t in present:
                base = objective.get((t, size))
                cells.append(method.ratio(timed[t][1], base) if function != OBJECTIVE[name] else "-")
        for t in ("numpy", "numba"):
            for other in ("jax", "manual"):
                if t in present and other in present:
                    cells.append(method.ratio(timed[t][1], timed[other][1]))
        cells.append(", ".join(f"{timed[t][0] * 1e3:.1f}" if timed[t][0] else "-" for t in present))
        cells.append(", ".join(f"{t} {status(row.get(t))}" for t in present))
        cells.append(agreement(row))
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def errors(name: str, rows: list[dict]) -> list[str]:
    out = []
    for row in rows:
        for tool, record in row.items():
            if record["valid"] is False or not record["response"].get("success"):
                text = (record["error"] or "").strip().splitlines()
                out.append(f"- {name} {record['function']} {record['description']} ({tool}): {' / '.join(text[-3:])}")
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gradbench", type=Path, required=True, help="a GradBench checkout")
    parser.add_argument("--quick", action="store_true", help="the smallest sizes, 3 runs each")
    parser.add_argument("--evals", nargs="+", choices=EVALS, default=list(EVALS))
    parser.add_argument("--tools", nargs="+", choices=TOOLS, default=list(TOOLS))
    parser.add_argument("--markdown", type=Path, help="also write the tables to this file")
    options = parser.parse_args(argv)
    gradbench = options.gradbench.resolve()
    if not (gradbench / "python/gradbench/gradbench/eval.py").exists():
        parser.error(f"{gradbench} is not a GradBench checkout")
    sys.path.insert(0, str(gradbench / "python/gradbench"))
    mode = "quick" if options.quick else "full"
    out = [f"    {line}" for line in method.machine_lines()]
    out += [
        "",
        (
            f"GradBench {gradbench_version(gradbench)}; mode {mode}; eval arguments: runs {' '.join(RUNS[mode])}; "
            "every tool pinned to one CPU, one BLAS thread; steady = median of runs after the first"
        ),
        "",
    ]
    problems, failed = [], False
    with tempfile.TemporaryDirectory(prefix="symdiff-gradbench-") as logs:
        for name in options.evals:
            print(f"{name} ...", file=sys.stderr, flush=True)
            rows = run_eval(name, options.tools, gradbench, mode, Path(logs))
            if not rows:  # the eval process ended before asking anything: say why, and fail
                log = (Path(logs) / f"{name}-numpy-eval.log").read_text().strip().splitlines()
                problems.append(f"- {name}: the eval asked nothing; its stderr ends: {' / '.join(log[-2:])}")
                failed = True
            out += [f"### {name}", "", *table(name, rows, options.tools), ""]
            problems += errors(name, rows)
            failed |= any(status(r) in ("FAILED", "INVALID") for row in rows for t, r in row.items() if t != "manual")
            failed |= any(agreement(row) not in ("all agree", "-") for row in rows)
    if problems:
        out += ["Failures and invalid answers (last lines of the error):", "", *problems, ""]
    text = "\n".join(out)
    print(text)
    if options.markdown:
        options.markdown.write_text(text + "\n")
    return 1 if failed else 0


def gradbench_version(gradbench: Path) -> str:
    try:
        import tomllib

        return tomllib.loads((gradbench / "pyproject.toml").read_text())["project"]["version"]
    except (OSError, KeyError, ValueError):
        return "(version unknown)"


if __name__ == "__main__":
    sys.exit(main())
