"""Shrink a failing program to a few lines that fail the same way.

Greedy and line-based: drop one statement (with the block it opens, if any)
or replace an `if`/`for`/`while` header by its body, keep the change when
the program still fails with the same outcome kind, and repeat until no
change helps. Dropping a statement that a later one needs makes NumPy fail,
which is a `skipped` outcome, so such changes are never kept.
"""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path

from tests.fuzz.check import Outcome, check
from tests.fuzz.programs import Program, has_writes


def reduce(program: Program, backend: str, directory: Path, outcome: Outcome) -> tuple[Program, Outcome]:
    """A smaller program with an outcome of the same kind as `outcome` (a failure of `program`)."""
    best, best_outcome = program, outcome
    changed = True
    while changed:  # one pass over the statements per round; a cut keeps the pass going where it was
        changed, position = False, 0
        while True:
            candidates = list(_candidates(best.source))
            if position >= len(candidates):
                break
            smaller = dataclasses.replace(best, source=candidates[position], writes=has_writes(candidates[position]))
            result = check(smaller, backend, directory)
            if result.kind == outcome.kind:
                best, best_outcome, changed = smaller, result, True
            else:
                position += 1
    return best, best_outcome


def _candidates(source: str):
    """Sources with one statement fewer, or one compound statement flattened, largest cut first."""
    lines = source.split("\n")
    body_start = next(i for i, line in enumerate(lines) if line.startswith("def f(")) + 1
    spans = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.stmt) and node.lineno > body_start and not isinstance(node, ast.FunctionDef):
            spans.append((node.lineno - 1, node.end_lineno, node))
    spans.sort(key=lambda span: span[0] - span[1])
    for start, end, node in spans:
        if isinstance(node, ast.Return) and node is _last_return(source):
            continue
        yield _valid("\n".join(lines[:start] + lines[end:]))
        if isinstance(node, (ast.If, ast.For, ast.While)):
            inner = [line[4:] for line in lines[node.body[0].lineno - 1 : node.body[-1].end_lineno]]
            yield _valid("\n".join(lines[:start] + inner + lines[end:]))


def _last_return(source: str) -> ast.Return | None:
    function = next(n for n in ast.parse(source).body if isinstance(n, ast.FunctionDef))
    last = function.body[-1]
    return last if isinstance(last, ast.Return) else None


def _valid(source: str) -> str:
    """`source`, with `pass` in any block left empty."""
    try:
        ast.parse(source)
        return source
    except SyntaxError:
        lines = source.split("\n")
        for i, line in enumerate(lines):
            if line.rstrip().endswith(":") and line.lstrip().startswith(("if", "elif", "else", "for", "while")):
                indent = len(line) - len(line.lstrip())
                following = lines[i + 1] if i + 1 < len(lines) else ""
                if len(following) - len(following.lstrip()) <= indent:
                    lines.insert(i + 1, " " * (indent + 4) + "pass")
                    return _valid("\n".join(lines))
        return source
