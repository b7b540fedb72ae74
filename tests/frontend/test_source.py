"""frontend/source.py quotes statements as `ast.get_source_segment` would, without re-joining the
source per call, and reads a free name one way (`FunctionSource.lookup`) for the lowering and the
snapshot a cached derivative is checked against."""

import ast
import inspect

import numpy as np
import pytest

import symdiff as sd
from symdiff.errors import UnsupportedSyntax
from symdiff.frontend.lower import lower_function
from symdiff.frontend.source import _segment, snapshot
from tests.frontend import views

MULTILINE = (
    'def f(x):\n    y = "é" + "ü"  # ä\n    if (x >\n            1):\n        z = [1,\n             2]\n    return x\n'
)


def test_segments_match_the_standard_library():
    for text in (MULTILINE, inspect.getsource(views)):
        lines = tuple(text.splitlines())
        nodes = [n for n in ast.walk(ast.parse(text)) if isinstance(n, (ast.stmt, ast.expr))]
        assert len(nodes) > 10
        for node in nodes:
            assert _segment(lines, node) == (ast.get_source_segment(text, node) or "")


def test_a_closure_cell_not_assigned_yet_is_a_located_error():
    """The enclosing function assigns `scale` after the build: the name is not defined yet (it was
    a bare `ValueError: Cell is empty` while the closure was copied when the source was read)."""

    def outer():
        def f(x):
            return np.sum(x * x) * scale

        with pytest.raises(UnsupportedSyntax, match="name 'scale' is not defined") as caught:
            sd.grad(f)(np.ones(2))
        scale = 2.0
        assert sd.grad(f)(np.ones(2)) == pytest.approx([4.0, 4.0])  # assigned now: read as it is
        return caught.value, scale

    error, _ = outer()
    assert error.location.file == __file__


def test_the_snapshot_holds_what_the_lowering_read():
    """A closure value and a default computed from module names: what the lowering folded in is what
    the snapshot records, and a rebinding makes the snapshot stale."""
    scale = 3.0

    def f(x, shift=-np.pi / 2):
        return np.sum(x * scale) + shift

    function, reads = snapshot(lambda: lower_function(f))
    assert function.defaults == (("shift", -np.pi / 2),) and "3.0" in str(function)
    (read,) = [r for r in reads if r.path == ("scale",)]
    assert read.value == 3.0 and read.unchanged()
    scale = 4.0
    assert not read.unchanged() and scale == 4.0
