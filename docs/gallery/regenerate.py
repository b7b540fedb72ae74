"""The gallery of generated derivatives (issue 19): golden files and docs/gallery.md.

    python docs/gallery/regenerate.py    # rewrite docs/gallery/golden/*.py and docs/gallery.md

Ten functions as a user writes them (functions.py), each differentiated by one
symdiff operator (`Entry.build`, evaluated as written on the page), beside a
derivative written by hand (by_hand.py). A golden file holds the generated
source (NumPy backend) under a short header; tests/test_gallery.py regenerates
each in memory and compares, so a change in the generated code shows up in
review as a diff of that file. The page shows, per entry, the function, the
generated derivative, the hand-written one and their line counts.

A line count is the number of lines holding code: blank lines, comments and
docstrings do not count; a statement wrapped over three lines counts three.
"""

from __future__ import annotations

import ast
import io
import sys
import tokenize
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:  # run as a script or loaded by path: functions.py and by_hand.py sit beside it
    sys.path.insert(0, str(HERE))

import by_hand
import functions

import symdiff as sd

ROOT = HERE.parent.parent
GOLDEN = HERE / "golden"
PAGE = ROOT / "docs" / "gallery.md"
COMMAND = "python docs/gallery/regenerate.py"


@dataclass(frozen=True)
class Entry:
    """One function of the gallery and how its derivative is built."""

    name: str  # the golden file's stem
    title: str
    about: str  # what the entry shows, a sentence or two for the page
    shown: tuple[str, ...]  # the names in functions.py that make up the user's code, in page order
    build: str  # the symdiff call, evaluated with functions.py's names and `sd`
    by_hand: str  # the hand-written derivative's name in by_hand.py
    example: Callable[[np.random.Generator], tuple]  # arguments for a call of the derivative


def _mlp_arguments(rng):
    w1, b1, w2, b2 = rng.normal(size=(3, 4)), rng.normal(size=4), rng.normal(size=(4, 2)), rng.normal(size=2)
    return w1, b1, w2, b2, rng.normal(size=(10, 3)), rng.normal(size=(10, 2))


def _lstm_arguments(rng, n=3, inputs=2, batch=2):
    weights = 0.5 * rng.normal(size=(inputs, 4 * n)), 0.5 * rng.normal(size=(n, 4 * n)), 0.1 * rng.normal(size=4 * n)
    return *weights, rng.normal(size=(batch, inputs)), rng.normal(size=(batch, n)), rng.normal(size=(batch, n))


def _learned_optimizer_arguments(rng):
    a = rng.normal(size=(8, 4))
    return 2.0, float(np.log(0.05)), np.zeros(4), a, rng.normal(size=8), 5


ENTRIES = (
    Entry(
        "rosen",
        "Rosenbrock",
        "The classic test function: two overlapping slices of `x`, so each `x[i]` gets a contribution from each.",
        ("rosen",),
        "sd.grad(rosen)",
        "rosen_grad",
        lambda rng: (rng.normal(size=6),),
    ),
    Entry(
        "logistic",
        "Logistic regression",
        "The mean cross-entropy of a linear model; by hand the whole gradient is the residual `p - y` pulled back "
        "through `x @ w`.",
        ("logistic",),
        'sd.grad(logistic, wrt="w")',
        "logistic_grad",
        lambda rng: (0.5 * rng.normal(size=3), rng.normal(size=(20, 3)), rng.integers(0, 2, 20) * 1.0),
    ),
    Entry(
        "softmax_ce",
        "Softmax cross-entropy",
        "A numerically stable log-softmax (the row maximum subtracted) and the mean cross-entropy against one-hot "
        "labels. The hand-written gradient uses that each row of labels sums to 1; the generated one does not "
        "assume it.",
        ("softmax_ce",),
        'sd.grad(softmax_ce, wrt="logits")',
        "softmax_ce_grad",
        lambda rng: (rng.normal(size=(8, 5)), np.eye(5)[rng.integers(0, 5, 8)]),
    ),
    Entry(
        "mlp",
        "Multilayer perceptron",
        "One tanh hidden layer and a squared error, differentiated with respect to all four parameters.",
        ("mlp",),
        'sd.grad(mlp, wrt=("w1", "b1", "w2", "b2"))',
        "mlp_grad",
        _mlp_arguments,
    ),
    Entry(
        "lstm_cell",
        "LSTM cell",
        "One step of an LSTM cell whose four gates are slices of one matrix product, calling a `sigmoid` helper; "
        "a squared norm of the new state stands in for the rest of a network.",
        ("sigmoid", "lstm_cell"),
        'sd.grad(lstm_cell, wrt=("wx", "wh", "b"))',
        "lstm_cell_grad",
        _lstm_arguments,
    ),
    Entry(
        "while_loop",
        "A while loop",
        "A loop whose trip count depends on the data: the gradient runs it, keeping each iterate, then runs back "
        "through as many steps.",
        ("shrink",),
        "sd.grad(shrink)",
        "shrink_grad",
        lambda rng: (rng.uniform(-1.0, 1.0, size=5), 1e-3),
    ),
    Entry(
        "element_write",
        "An element-write loop",
        "`y[t] = ...` into an array the function created, each element read back in the next step: a linear "
        "filter, differentiated with respect to its coefficient and its input.",
        ("recurrence",),
        'sd.grad(recurrence, wrt=("a", "x"))',
        "recurrence_grad",
        lambda rng: (0.7, rng.normal(size=6)),
    ),
    Entry(
        "hessian",
        "A Hessian",
        "The Rosenbrock Hessian times a vector, without forming the Hessian: forward mode over the generated "
        "gradient, so the code is the gradient with each statement's tangent beside it. `sd.hessian(rosen)` runs "
        "the same code with every direction at once.",
        ("rosen",),
        "sd.hvp(rosen)",
        "rosen_hvp",
        lambda rng: (rng.normal(size=6), rng.normal(size=6)),
    ),
    Entry(
        "jacobian",
        "A Jacobian",
        "Forward mode through a softmax: the value and the Jacobian times a tangent, `J @ z_dot`. "
        "`sd.jacobian(softmax)` runs it with every unit vector at once to give the dense Jacobian.",
        ("softmax",),
        "sd.jvp(softmax)",
        "softmax_jvp",
        lambda rng: (rng.normal(size=5), rng.normal(size=5)),
    ),
    Entry(
        "learned_optimizer",
        "A learned-optimizer step",
        "The shape of examples/learned_optimizer.py, kept small: a learned update rule called in an unrolled "
        "loop of steps on a least-squares problem, each step calling a generated gradient. The meta-gradient "
        "differentiates through those calls (second order) to the rule's two parameters.",
        ("inner_loss", "inner_grad", "rule_step", "unrolled"),
        'sd.grad(unrolled, wrt=("scale", "log_step"))',
        "unrolled_grad",
        _learned_optimizer_arguments,
    ),
)


def derivative(entry: Entry):
    """The derivative symdiff builds for `entry`, from the text of `entry.build`."""
    return eval(entry.build, {"sd": sd, **vars(functions)})  # the call shown on the page, run as written


def golden_text(entry: Entry) -> str:
    """The golden file of `entry`: a header, then the generated source."""
    header = (
        f"# Generated by {COMMAND}: the source of {entry.build} (NumPy backend).\n"
        "# Do not edit: a change here is a change in what symdiff generates; review it.\n"
        "# Helpers it calls (sum_to, matmul_adjoint_b, ...) come with symdiff.emit's standalone module.\n"
        "# ruff: noqa\n"
        "# fmt: off\n"
    )
    return header + derivative(entry).source


def definition(module, name: str) -> str:
    """The source of the top-level function or assignment `name` in `module`'s file."""
    text = Path(module.__file__).read_text(encoding="utf-8")
    for node in ast.parse(text).body:
        if isinstance(node, ast.FunctionDef) and node.name == name:
            return ast.get_source_segment(text, node) + "\n"
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == name for t in node.targets):
            return ast.get_source_segment(text, node) + "\n"
    raise LookupError(f"{name} is not defined at the top level of {module.__file__}")


def hand_written(entry: Entry) -> str:
    """The source of `entry`'s hand-written derivative."""
    return definition(by_hand, entry.by_hand)


def code_lines(text: str) -> int:
    """Lines of `text` holding code: not blank, not only a comment, not part of a docstring."""
    docstrings = set()
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.FunctionDef) and ast.get_docstring(node, clean=False) is not None:
            docstrings.update(range(node.body[0].lineno, node.body[0].end_lineno + 1))
    code = set()
    skipped = {tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT, tokenize.ENDMARKER}
    for token in tokenize.generate_tokens(io.StringIO(text).readline):
        if token.type not in skipped:
            code.update(range(token.start[0], token.end[0] + 1))
    return len(code - docstrings)


def counts(entry: Entry) -> tuple[int, int]:
    """Code lines of the generated derivative and of the hand-written one."""
    return code_lines(derivative(entry).source), code_lines(hand_written(entry))


def page() -> str:
    """The text of docs/gallery.md."""
    measured = {entry.name: counts(entry) for entry in ENTRIES}
    within = sum(generated <= 2 * written for generated, written in measured.values())
    parts = [_PAGE_HEAD.format(command=COMMAND, within=within, total=len(ENTRIES)), _summary(measured)]
    for number, entry in enumerate(ENTRIES, 1):
        parts.append(_section(number, entry, *measured[entry.name]))
    return "\n".join(parts)


_PAGE_HEAD = """<!-- snippets: not run -->
<!-- Generated by {command} from docs/gallery/*.py; edit those, then run it. -->
# Gallery: generated derivatives beside hand-written ones

Ten functions as a user would write them, each with the derivative symdiff
generates for it (NumPy backend, the function's `.source`) and one written by
hand in plain NumPy. The generated code is kept in golden files,
[`docs/gallery/golden/`](gallery/golden/), that
[`tests/test_gallery.py`](../tests/test_gallery.py) regenerates and compares:
a change in what symdiff generates shows up in review as a diff of those
files. The same test checks every generated derivative against the
hand-written one and against finite differences, and checks the bound of
issue 19: the generated function has at most twice the lines of the
hand-written one. Entries over the bound are marked as expected failures
there, with their counts. Within the bound today: {within} of {total}.

Lines are lines holding code: blank lines, comments (including the
`# grad of:` comments) and docstrings do not count. The generated code calls
a few helpers (`sum_to`, `matmul_adjoint_b`, `scatter_add`, ...) that are not
counted; `sd.emit` writes them into the standalone module
([generated source](generated-source.md)). The functions are in
[`docs/gallery/functions.py`](gallery/functions.py), the hand-written
derivatives in [`docs/gallery/by_hand.py`](gallery/by_hand.py); after a
change, `{command}` rewrites the golden files and
this page.
"""


def _summary(measured: dict[str, tuple[int, int]]) -> str:
    rows = [
        "| entry | built with | generated | by hand | ratio | within 2x |",
        "| --- | --- | ---: | ---: | ---: | --- |",
    ]
    for number, entry in enumerate(ENTRIES, 1):
        generated, written = measured[entry.name]
        within = "yes" if generated <= 2 * written else "no"
        anchor = _anchor(number, entry)
        rows.append(
            f"| [{entry.title}](#{anchor}) | `{entry.build}` | {generated} | {written} | "
            f"{generated / written:.1f} | {within} |"
        )
    return "\n".join(rows) + "\n"


def _anchor(number: int, entry: Entry) -> str:
    """GitHub's and mkdocs' anchor for the heading `_section` writes."""
    words = "".join(c for c in f"{number} {entry.title}".lower() if c.isalnum() or c in " -")
    return words.replace(" ", "-")


def _section(number: int, entry: Entry, generated: int, written: int) -> str:
    user_code = "\n\n\n".join(definition(functions, name).rstrip("\n") for name in entry.shown)
    return (
        f"## {number}. {entry.title}\n\n{entry.about}\n\n"
        f"The function:\n\n```python\n{user_code}\n```\n\n"
        f"Generated by `{entry.build}`, {generated} lines "
        f"([golden file](gallery/golden/{entry.name}.py)):\n\n"
        f"```python\n{derivative(entry).source.rstrip(chr(10))}\n```\n\n"
        f"By hand, {written} lines:\n\n```python\n{hand_written(entry).rstrip(chr(10))}\n```\n"
    )


def main() -> None:
    GOLDEN.mkdir(exist_ok=True)
    for entry in ENTRIES:
        path = GOLDEN / f"{entry.name}.py"
        path.write_text(golden_text(entry), encoding="utf-8")
        print(f"wrote {path.relative_to(ROOT)}")
    PAGE.write_text(page(), encoding="utf-8")
    print(f"wrote {PAGE.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
