"""frontend/source.py quotes statements as `ast.get_source_segment` would, without re-joining the source per call."""

import ast
import inspect

from symdiff.frontend.source import _segment
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
