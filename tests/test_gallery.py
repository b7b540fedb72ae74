"""The gallery of generated derivatives (docs/gallery.md, issue 19).

For each entry of docs/gallery/regenerate.py:
- the generated source equals its golden file in docs/gallery/golden/, so a
  change in what symdiff generates shows up in review as a diff of that file;
- the generated derivative agrees with the hand-written one (docs/gallery/by_hand.py)
  and with central finite differences of the function;
- the generated function has at most twice the code lines of the hand-written
  one (issue 19's done-when). Entries over that bound today are listed in
  OVER_BOUND with their measured counts and marked xfail(strict=True): when one
  comes within the bound, the test says so and the entry leaves the list.
docs/gallery.md must be what the script writes.
"""

from __future__ import annotations

import difflib
import importlib.util
import inspect
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.oracles import numeric_grad

ROOT = Path(__file__).resolve().parent.parent


def _load_gallery():
    path = ROOT / "docs" / "gallery" / "regenerate.py"
    spec = importlib.util.spec_from_file_location("docs_gallery_regenerate", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up here
    spec.loader.exec_module(module)
    return module


gallery = _load_gallery()
ENTRIES = {entry.name: entry for entry in gallery.ENTRIES}
REGENERATE = f"run `{gallery.COMMAND}` and review the diff of docs/gallery/golden/ and docs/gallery.md"

# Generated and hand-written code lines, measured, for the entries over the bound (issue 19).
OVER_BOUND = {
    "softmax_ce": (16, 4),
    "jacobian": (9, 4),
    "learned_optimizer": (54, 17),
}


def _bound_cases():
    for name in ENTRIES:
        if name in OVER_BOUND:
            generated, written = OVER_BOUND[name]
            reason = f"issue 19: generated {generated} lines > 2 x {written} hand-written"
            yield pytest.param(name, marks=pytest.mark.xfail(strict=True, reason=reason), id=name)
        else:
            yield pytest.param(name, id=name)


def test_there_are_ten_entries_with_golden_files():
    assert len(ENTRIES) == 10
    on_disk = {path.stem for path in gallery.GOLDEN.glob("*.py")}
    assert on_disk == set(ENTRIES), f"golden files and entries differ: {REGENERATE}"


@pytest.mark.parametrize("name", ENTRIES)
def test_generated_source_equals_the_golden_file(name):
    entry = ENTRIES[name]
    path = gallery.GOLDEN / f"{name}.py"
    golden = path.read_text(encoding="utf-8") if path.exists() else ""
    fresh = gallery.golden_text(entry)
    diff = "".join(difflib.unified_diff(golden.splitlines(True), fresh.splitlines(True), str(path), "generated now"))
    assert fresh == golden, f"the generated source of {entry.build} changed: {REGENERATE}.\n{diff}"


def test_the_page_is_current():
    shown = gallery.PAGE.read_text(encoding="utf-8")
    assert shown == gallery.page(), f"docs/gallery.md is stale: {REGENERATE}"


def _finite_differences(entry, args):
    """The result the derivative should have, from central differences of the function alone."""
    built = gallery.derivative(entry)
    f = built.primal
    if entry.build.startswith("sd.grad("):
        names = list(inspect.signature(f).parameters)
        found = [numeric_grad(f, args, names.index(name)) for name in built.wrt]
        return tuple(found) if len(found) > 1 else found[0]
    if entry.build.startswith("sd.hvp("):  # H v: the gradient of the derivative along v
        x, v, eps = args[0], args[1], 1e-4
        return numeric_grad(lambda y: (f(y + eps * v) - f(y - eps * v)) / (2 * eps), [x], 0, eps=eps)
    assert entry.build.startswith("sd.jvp("), entry.build
    z, z_dot, eps = args[0], args[1], 1e-6
    return f(z), (f(z + eps * z_dot) - f(z - eps * z_dot)) / (2 * eps)


def _assert_close(actual, expected, rtol, atol, what):
    actual = actual if isinstance(actual, tuple) else (actual,)
    expected = expected if isinstance(expected, tuple) else (expected,)
    assert len(actual) == len(expected), what
    for k, (a, e) in enumerate(zip(actual, expected)):
        assert np.shape(a) == np.shape(e), f"{what}, result {k}: shape {np.shape(a)} != {np.shape(e)}"
        np.testing.assert_allclose(a, e, rtol=rtol, atol=atol, err_msg=f"{what}, result {k}")


@pytest.mark.parametrize("name", ENTRIES)
def test_generated_equals_hand_written_and_finite_differences(name):
    entry = ENTRIES[name]
    args = entry.example(np.random.default_rng(0))
    generated = gallery.derivative(entry)(*args)
    written = getattr(gallery.by_hand, entry.by_hand)(*args)
    _assert_close(generated, written, 1e-10, 1e-12, f"{entry.build} against by_hand.{entry.by_hand}")
    _assert_close(generated, _finite_differences(entry, args), 1e-5, 1e-6, f"{entry.build} against finite differences")


@pytest.mark.parametrize("name", _bound_cases())
def test_generated_is_at_most_twice_the_hand_written_lines(name):
    generated, written = gallery.counts(ENTRIES[name])
    assert generated <= 2 * written, f"{ENTRIES[name].build}: generated {generated} lines > 2 x {written} by hand"


def test_over_bound_lists_the_measured_counts():
    measured = {name: gallery.counts(entry) for name, entry in ENTRIES.items()}
    over = {name: pair for name, pair in measured.items() if pair[0] > 2 * pair[1]}
    assert over == OVER_BOUND, (
        f"the line counts changed ({REGENERATE}); OVER_BOUND in tests/test_gallery.py should be {over}"
    )


def test_line_counts_skip_blanks_comments_and_docstrings():
    text = (
        'def f(x):\n    """Doc\n    string."""\n\n    # a comment\n    y = g(\n        x)  # trailing\n    return y\n'
    )
    assert gallery.code_lines(text) == 4  # def, the two lines of y = g(x), return
