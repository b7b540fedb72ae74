"""The `symdiff` command: write derivatives as source files, show the Wengert list.

    symdiff grad path/to/model.py:loss --wrt w --wrt b --out loss_grad.py
    symdiff hessian path/to/model.py:f --wrt x
    symdiff show path/to/model.py:loss [--grad --wrt w] [--dot graph.dot]
    symdiff check path/or/folder [--backend numpy numba] [--seed N] [--json]

A target is `FILE.py:FUNCTION` or `MODULE:FUNCTION` (an importable module).
Errors print one message (with the source location for unsupported code) and
exit non-zero: 1 for code symdiff cannot differentiate, 2 for bad usage or a
missing file or function.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import inspect
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from symdiff.errors import SymdiffError
from symdiff.version import __version__


class UsageError(Exception):
    """A target that cannot be found or loaded (exit status 2)."""


def load_target(target: str) -> Any:
    """The function named by `FILE.py:FUNC` or `MODULE:FUNC`."""
    where, sep, name = target.rpartition(":")
    if not sep or not where or not name:
        raise UsageError(f"target {target!r} must look like path/to/file.py:function or module:function")
    if where.endswith(".py") or "/" in where or "\\" in where:
        path = Path(where)
        if not path.is_file():
            raise UsageError(f"no such file: {where}")
        module = _load_file(path)
    else:
        if os.getcwd() not in sys.path:
            sys.path.insert(0, os.getcwd())  # as `python -m` does, so local modules import
        try:
            module = importlib.import_module(where)
        except ImportError as error:
            raise UsageError(f"cannot import module {where!r}: {error}") from None
    function = getattr(module, name, None)
    if function is None or not callable(function):
        raise UsageError(f"{where} has no function {name!r}")
    return function


def _load_file(path: Path):
    directory = str(path.resolve().parent)
    if directory not in sys.path:
        sys.path.insert(0, directory)
    spec = importlib.util.spec_from_file_location(path.stem, path)
    if spec is None or spec.loader is None:
        raise UsageError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[path.stem] = module
    try:
        spec.loader.exec_module(module)
    except SyntaxError as error:
        raise UsageError(f"{path}:{error.lineno}: syntax error: {error.msg}") from None
    except Exception as error:  # noqa: BLE001 - the user's module failed while importing
        raise UsageError(f"importing {path} failed: {type(error).__name__}: {error}") from None
    return module


def _wrt(values: list[str] | None):
    if not values:
        return 0
    items = [int(v) if v.lstrip("-").isdigit() else v for v in values]
    return items[0] if len(items) == 1 else tuple(items)


def _writable(out: str, force: bool, inputs: tuple[Path, ...] = ()) -> Path:
    """`out` as a path that may be written: not a directory, never one of `inputs` (the source
    read), and not an existing file unless `force`."""
    path = Path(out)
    if path.is_dir():
        raise UsageError(f"{out} is a directory; give a file name")
    if any(path.resolve() == source.resolve() for source in inputs):
        raise UsageError(f"refusing to overwrite {out}: it is the source file being differentiated")
    if path.exists() and not force:
        raise UsageError(f"{out} exists; pass --force to overwrite it")
    return path


def _write(text: str, out: str | None, force: bool = False, inputs: tuple[Path, ...] = ()) -> None:
    if out is None:
        sys.stdout.write(text)
        return
    path = _writable(out, force, inputs)
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as error:
        raise UsageError(f"cannot write {out}: {error.strerror or error}") from None
    print(f"wrote {out}", file=sys.stderr)


def _sources(function: Any) -> tuple[Path, ...]:
    """The file `function` was read from, which no output may overwrite."""
    try:
        found = inspect.getsourcefile(function)
    except TypeError:
        return ()
    return (Path(found),) if found else ()


def _command_line(args: argparse.Namespace) -> str:
    parts = ["symdiff", args.command, args.target]
    parts += [f"--wrt {w}" for w in args.wrt or []]
    for option, default in (("backend", "numpy"), ("mode", "grad")):
        if getattr(args, option, default) != default:
            parts.append(f"--{option} {getattr(args, option)}")
    if getattr(args, "stable", True) is False:
        parts.append("--no-stable")
    if getattr(args, "checkpoint", None) is not None:
        parts.append(f"--checkpoint {args.checkpoint}")
    if getattr(args, "out", None):
        parts.append(f"--out {args.out}")
    return " ".join(parts)


def _checkpoint_option(text: str) -> str:
    """`--checkpoint` as written (kept for the regenerate line), once it parses."""
    _checkpoint_value(text)
    return text


def _checkpoint_value(text: str):
    """K, auto, none, binomial or binomial:N (N states kept at once) as `checkpoint=` takes it."""
    from symdiff.transforms.checkpoint import Binomial

    if text in ("auto", "none", "binomial"):
        return text
    kind, _, count = text.partition(":")
    try:
        value = int(count if kind == "binomial" else text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(
            f"expected a segment length >= 1, 'auto', 'none', 'binomial' or 'binomial:N' with N >= 1, got {text!r}"
        )
    return Binomial(snapshots=value) if kind == "binomial" else value


def cmd_grad(args: argparse.Namespace) -> None:
    from symdiff.api import emit

    function = load_target(args.target)
    regenerate = _command_line(args)
    text = emit(
        function,
        wrt=_wrt(args.wrt),
        backend=args.backend,
        mode=args.mode,
        regenerate=regenerate,
        stable=args.stable,
        checkpoint=None if args.checkpoint is None else _checkpoint_value(args.checkpoint),
    )
    _write(text, args.out, args.force, _sources(function))


def cmd_hessian(args: argparse.Namespace) -> None:
    from symdiff.higher import emit_hessian

    function = load_target(args.target)
    _write(
        emit_hessian(function, wrt=_wrt(args.wrt), regenerate=_command_line(args)),
        args.out,
        args.force,
        _sources(function),
    )


def cmd_show(args: argparse.Namespace) -> None:
    from symdiff.api import _generated_once, _lowered, build
    from symdiff.ir.dot import to_dot

    function = load_target(args.target)
    ir = _generated_once(build(function, _wrt(args.wrt), "grad", "numpy")).function if args.grad else _lowered(function)
    print(ir)
    if args.dot:
        _write(to_dot(ir), args.dot, args.force, _sources(function))
        if shutil.which("dot"):
            svg = str(Path(args.dot).with_suffix(".svg"))
            subprocess.run(["dot", "-Tsvg", args.dot, "-o", svg], check=False)
            print(f"wrote {svg}", file=sys.stderr)


def cmd_check(args: argparse.Namespace) -> int:
    from symdiff.check import check_paths

    try:
        report = check_paths(args.paths, backends=args.backend, seed=args.seed, timeout=args.timeout or None)
    except FileNotFoundError as error:
        raise UsageError(str(error)) from None
    sys.stdout.write(report.to_json() + "\n" if args.json else report.table())
    return report.exit_status


def cmd_cache(args: argparse.Namespace) -> None:
    from symdiff.backends.cache import cache_dir, clear, entries

    directory = cache_dir()
    found = entries(directory)
    if args.action == "info":
        size = sum(path.stat().st_size for path in found)
        print(f"{directory}: {len(found)} files, {size / 1e6:.1f} MB")
        return
    removed = clear(directory)
    print(f"removed {removed} files from {directory}")


EXAMPLES = """examples:
  symdiff grad model.py:loss --wrt w --wrt b --out loss_grad.py
  symdiff grad model.py:loss --mode value_and_grad --backend numba
  symdiff hessian model.py:rosen --wrt x --out rosen_hessian.py
  symdiff show model.py:loss --grad --wrt w --dot loss.dot
  symdiff check src/ --backend numpy numba
  symdiff cache info

An existing file is overwritten only with --force, and the source file being
differentiated never. Exit status: 0 done, 1 code symdiff cannot differentiate
(or `check` found a wrong or crashing one), 2 bad usage, 3 an internal error.
"""


def parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for the docs and tests)."""
    root = argparse.ArgumentParser(
        prog="symdiff",
        description="Readable derivatives of NumPy-style Python.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    root.add_argument("--version", action="version", version=f"symdiff {__version__}")
    commands = root.add_subparsers(dest="command", required=True)
    grad = commands.add_parser("grad", help="write the gradient of a function as a standalone module")
    hessian = commands.add_parser("hessian", help="write a module computing the dense Hessian")
    show = commands.add_parser("show", help="print the Wengert list (and optionally a DOT graph)")
    for sub in (grad, hessian, show):
        sub.add_argument("target", help="path/to/file.py:function or module:function")
        sub.add_argument("--wrt", action="append", help="argument name or index (repeat for several)")
    for sub in (grad, hessian):
        sub.add_argument("--out", help="write here instead of standard output")
    for sub in (grad, hessian, show):
        sub.add_argument("--force", action="store_true", help="overwrite an existing output file")
    grad.add_argument("--backend", default="numpy", choices=["numpy", "numba", "cuda"])
    grad.add_argument(
        "--mode", default="grad", choices=["grad", "value_and_grad", "vjp", "jvp"],
        help="jvp: forward mode, the value and its derivative along a tangent of one --wrt argument",
    )  # fmt: skip
    grad.add_argument(
        "--no-stable",
        dest="stable",
        action="store_false",
        help="keep overflowing compositions as written (docs/stability.md)",
    )
    grad.add_argument(
        "--checkpoint",
        type=_checkpoint_option,
        metavar="K|auto|binomial[:N]",
        help="differentiate long loops in segments of K iterations, or of the square root of the trip count, "
        "or on a binomial schedule keeping at most N states (docs/checkpointing.md)",
    )
    show.add_argument("--grad", action="store_true", help="show the gradient's Wengert list instead")
    show.add_argument("--dot", help="also write the graph in Graphviz DOT (and SVG when `dot` is installed)")
    check = commands.add_parser("check", help="which functions differentiate, checked numerically")
    check.add_argument("paths", nargs="+", help="Python files, or folders searched for *.py")
    check.add_argument("--backend", nargs="+", default=["numpy"], choices=["numpy", "numba", "cuda"])
    check.add_argument("--seed", type=int, default=0, help="seed of the random inputs (default 0)")
    check.add_argument("--json", action="store_true", help="print the results as JSON instead of tables")
    check.add_argument("--timeout", type=float, default=60.0, help="seconds per stage of one function (0: none)")
    cache = commands.add_parser("cache", help="where built and compiled derivatives are cached; clear them")
    cache.add_argument("action", choices=["info", "clear"])
    cache.set_defaults(run=cmd_cache)
    check.set_defaults(run=cmd_check)
    grad.set_defaults(run=cmd_grad)
    hessian.set_defaults(run=cmd_hessian)
    show.set_defaults(run=cmd_show)
    return root


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `symdiff` console script; returns the exit status."""
    args = parser().parse_args(argv)
    try:
        status = args.run(args)
    except BrokenPipeError:  # e.g. `symdiff show ... | head`
        sys.stderr.close()
        return 0
    except UsageError as error:
        print(f"symdiff: {error}", file=sys.stderr)
        return 2
    except SymdiffError as error:
        print(f"symdiff: {error}", file=sys.stderr)
        return 1
    except Exception as error:  # noqa: BLE001 - a symdiff bug: one line, no traceback
        print(f"symdiff: internal error ({type(error).__name__}: {error}); please report it", file=sys.stderr)
        return 3
    return status or 0


if __name__ == "__main__":
    sys.exit(main())
