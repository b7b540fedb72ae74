"""Regenerate benchmarks/RESULTS.md: every benchmark, one command.

    python benchmarks/results.py --gradbench DIR           # the real run (tens of minutes)
    python benchmarks/results.py --gradbench DIR --quick   # smoke test, writes --output (default RESULTS.md)
    python benchmarks/results.py --quick --output /tmp/r.md  # without GradBench: the scripts only

Runs each benchmark script in a process of its own (so no script's imports,
caches or JIT state leak into the next), captures its table verbatim, runs
`gradbench/compare.py` when a GradBench checkout is given, and writes
RESULTS.md: the machine lines (CPU, cores, BLAS threads, load average before
and after), the tables, and the issue's targets with what was measured
against them. No number in RESULTS.md is written by hand: everything comes
from the run.
"""

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks import method

# (script, arguments for the real run, arguments for --quick, what it measures)
SCRIPTS = [
    ("bench_core.py", [], ["--quick"], "symdiff (NumPy backend) against hand-written NumPy gradients"),
    ("bench_control.py", [], ["--quick"], "loops and branches (LSTM): symdiff against a hand-written gradient"),
    ("bench_numba.py", [], ["--quick"], "NumPy and Numba backends against hand-written, JAX and autograd"),
    ("bench_float32.py", [], ["--quick"], "the Numba backend on float32 against float64 time halved"),
]


def run(command: list[str], timeout: float) -> tuple[str, float, int]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    start = time.perf_counter()
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env, cwd=ROOT, check=False)
        text, code = done.stdout + (f"\n[stderr]\n{done.stderr[-3000:]}" if done.returncode else ""), done.returncode
    except subprocess.TimeoutExpired as expired:
        out = expired.stdout.decode() if isinstance(expired.stdout, bytes) else expired.stdout or ""
        text, code = out + f"\n[stopped after {timeout:.0f} s]", -1
    return text.rstrip(), time.perf_counter() - start, code


TARGETS = """\
The issue's targets (gradient time / objective time, or / JAX where JAX has the eval):
GMM <= 3x objective, BA <= 1.5x objective, LSTM <= 1x JAX, HT <= 1x JAX, particle and saddle
<= 2x JAX, the rest <= 1x JAX. GradBench's JAX tool has only hello, lse, llsq, kmeans, gmm and
ode, so for det, ht, lstm, particle and saddle there is no JAX column here; the comparison with
GradBench's hand-written C++ ("manual") stands in where it has the eval."""


def _portable(argv: list[str]) -> str:
    """The command line as it can be rerun anywhere: the GradBench checkout's path as `DIR`."""
    words = list(argv)
    for k, word in enumerate(words[:-1]):
        if word == "--gradbench":
            words[k + 1] = "DIR"
    return " ".join(words)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gradbench", type=Path, help="a GradBench checkout, for gradbench/compare.py")
    parser.add_argument("--quick", action="store_true", help="every script's --quick mode: a smoke test")
    parser.add_argument("--output", type=Path, default=ROOT / "benchmarks/RESULTS.md")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds per script")
    parser.add_argument("--gradbench-quick", action="store_true", help="compare.py --quick even in a full run")
    parser.add_argument("--scripts", nargs="+", choices=[s[0] for s in SCRIPTS], help="only these scripts")
    options = parser.parse_args(argv)
    mode = "quick (a smoke test, not a measurement)" if options.quick else "full"
    sections, failures = [], []
    load_before = method.load_average()
    if options.gradbench:
        print("gradbench/compare.py ...", file=sys.stderr, flush=True)
        command = [sys.executable, "benchmarks/gradbench/compare.py", "--gradbench", str(options.gradbench)]
        gradbench_quick = options.quick or options.gradbench_quick
        text, seconds, code = run(command + (["--quick"] if gradbench_quick else []), options.timeout)
        if code:
            failures.append(f"gradbench/compare.py exited with {code} (a failed, invalid or disagreeing answer)")
        sections += ["## GradBench", "", TARGETS, "",
                     (f"`python benchmarks/gradbench/compare.py --gradbench DIR{' --quick' if gradbench_quick else ''}` "
                     f"({seconds:.0f} s, exit status {code}):"), "", text, ""]  # fmt: skip
    else:
        sections += ["## GradBench", "", "Not run: no `--gradbench DIR` was given.", ""]
    for script, full, quick, what in SCRIPTS:
        if options.scripts and script not in options.scripts:
            continue
        print(f"{script} ...", file=sys.stderr, flush=True)
        text, seconds, code = run([sys.executable, f"benchmarks/{script}", *(quick if options.quick else full)],
                                  options.timeout)  # fmt: skip
        if code:
            failures.append(f"{script} exited with {code}")
        sections += [f"## {script}", "", (f"{what}. `python benchmarks/{script} {' '.join(quick if options.quick else full)}`"
                     f" ({seconds:.0f} s, exit status {code}):"), "", "```text", text, "```", ""]  # fmt: skip
    head = [
        "# Benchmark results",
        "",
        (
            f"Generated by `python benchmarks/results.py {_portable(sys.argv[1:] if argv is None else argv)}`"
            f" on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}"
            f", mode {mode}. Do not edit by hand: rerun the command."
        ),
        "",
        "```text",
        *method.machine_lines(),
        f"load average before the run {load_before}, after {method.load_average()}",
        "```",
        "",
        (
            "The method (benchmarks/method.py, described in benchmarks/README.md): contenders cross-checked before"
            " timing, interleaved in a rotating order, warmed up apart from the samples, median with the"
            " interquartile range (±IQR/2 as a % of the median), JAX on device arrays behind block_until_ready."
            " A load average near or above the core count means other processes competed for the CPUs:"
            " absolute times are then indicative and the ratios (taken in the same interleaved run) are the result."
        ),
        "",
    ]
    if failures:
        head += ["**Failures in this run:** " + "; ".join(failures), ""]
    options.output.write_text("\n".join(head + sections).rstrip() + "\n")
    print(f"wrote {options.output}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
