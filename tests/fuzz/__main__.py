"""The long fuzzer run: `python -m tests.fuzz --count 10000 --backend numpy numba --seed 0`.

Prints the count of each outcome per backend (tests/fuzz/check.py says what
each means) and writes every failing program, with its arguments and what
went wrong, to `--out` (one file per program, named by backend, outcome and
program seed; `--reduce` adds a shrunk copy). Program seeds are
`seed * 1_000_000 + i` for i in `--start`, `--start + count`; `--program S`
runs the single program of seed S, to reproduce a failure. The numba backend
draws small programs (`--numba-small`, on by default), since each costs a
Numba compile. The cuda backend runs on Numba's CUDA simulator unless
NUMBA_ENABLE_CUDASIM is set otherwise (`--backend cuda --count 200`: about
two minutes).
"""

from __future__ import annotations

import argparse
import collections
import os
import sys
import tempfile
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.fuzz", description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=1000, help="programs per backend (default 1000)")
    parser.add_argument("--backend", nargs="+", default=["numpy"], choices=["numpy", "numba", "cuda"])
    parser.add_argument("--seed", type=int, default=0, help="run seed: programs seed*1_000_000 + i")
    parser.add_argument("--start", type=int, default=0, help="first i (default 0)")
    parser.add_argument("--program", type=int, help="run only the program of this seed")
    parser.add_argument("--file", type=Path, help="run a program written to --out before (its ARGS, WRT, BACKEND)")
    parser.add_argument("--out", type=Path, default=Path("fuzz-failures"), help="folder for failing programs")
    parser.add_argument("--reduce", action="store_true", help="also write a shrunk copy of each failure")
    parser.add_argument("--numba-small", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--progress", type=int, default=500, help="print the counts every N programs")
    parser.add_argument("--verbose", action="store_true", help="print every program's outcome")
    options = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="symdiff-fuzz-"))
    os.environ.setdefault("SYMDIFF_CACHE_DIR", str(work / "cache"))  # before symdiff is imported
    os.environ.setdefault("NUMBA_ENABLE_CUDASIM", "1")  # before Numba is imported: no GPU needed

    from tests.fuzz.check import FAILURES, KINDS, check
    from tests.fuzz.programs import generate
    from tests.fuzz.reduce import reduce

    seeds = (
        [options.program]
        if options.program is not None
        else [options.seed * 1_000_000 + i for i in range(options.start, options.start + options.count)]
    )
    if options.file is not None:
        program, backend = _read(options.file)
        outcome = check(program, backend, work)
        print(f"{options.file}: {backend}: {outcome.kind} {outcome.detail}")
        if options.reduce and outcome.kind in FAILURES:
            small, small_outcome = reduce(program, backend, work, outcome)
            _write(options.out, backend, small, small_outcome, "-reduced")
        return 1 if outcome.kind in FAILURES else 0
    failed = 0
    for backend in options.backend:
        counts: collections.Counter = collections.Counter()
        refusals: collections.Counter = collections.Counter()
        started = time.perf_counter()
        for done, seed in enumerate(seeds, 1):
            program = generate(seed, small=backend == "numba" and options.numba_small)
            outcome = check(program, backend, work)
            counts[outcome.kind] += 1
            if outcome.kind == "refused":
                refusals[outcome.detail.split(":")[0]] += 1
            if options.verbose or outcome.kind in FAILURES:
                print(f"{backend} seed {seed}: {outcome.kind} {outcome.detail[:300]}", flush=True)
            if outcome.kind in FAILURES:
                failed += 1
                _write(options.out, backend, program, outcome, "")
                if options.reduce:
                    small, small_outcome = reduce(program, backend, work, outcome)
                    _write(options.out, backend, small, small_outcome, "-reduced")
            if done % options.progress == 0 and done < len(seeds):
                print(f"{backend}: {done} programs: " + ", ".join(f"{k} {counts[k]}" for k in KINDS), flush=True)
        seconds = time.perf_counter() - started
        summary = ", ".join(f"{kind} {counts[kind]}" for kind in KINDS)
        print(f"{backend}: {len(seeds)} programs in {seconds:.0f} s: {summary}")
        print(f"{backend}: refusals by error: " + ", ".join(f"{k} {v}" for k, v in refusals.most_common()))
    return 1 if failed else 0


def _read(path: Path):
    """The program of a file `_write` wrote, and its backend."""
    from tests.fuzz.programs import Program, has_writes

    text = path.read_text()
    namespace: dict = {}
    exec(compile(text, str(path), "exec"), namespace)  # noqa: S102 - a program this tool wrote
    source = text[: text.index("\n\nARGS = ")] + "\n"
    source = "\n".join(line for line in source.split("\n") if not line.startswith("# "))
    args, wrt = namespace["ARGS"], namespace["WRT"]
    float32 = any(getattr(a, "dtype", None) == "float32" for a in args)
    return Program(-1, source, args, wrt, has_writes(source), float32), namespace["BACKEND"]


def _write(folder: Path, backend: str, program, outcome, suffix: str) -> None:
    """The program as a file that shows what failed and can be run again."""
    import numpy as np

    folder.mkdir(parents=True, exist_ok=True)
    header = "\n".join("# " + line for line in f"{backend}: {outcome.kind}: {outcome.detail}".splitlines())
    args = ", ".join(
        f"np.array({a.tolist()!r}, dtype=np.{a.dtype})" if isinstance(a, np.ndarray) else repr(a) for a in program.args
    )
    footer = f"\n\nARGS = [{args}]\nWRT = {program.wrt!r}\nBACKEND = {backend!r}\n"
    path = folder / f"{backend}-{outcome.kind}-{program.seed}{suffix}.py"
    path.write_text(header + "\n" + program.source + footer)


if __name__ == "__main__":
    sys.exit(main())
