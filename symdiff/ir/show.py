"""Text form of the Wengert list: what `str(function)` and `symdiff show` print.

One line per equation, `outs = op(ins; static)`, with the source line it came
from at the right; `if` arms and loop bodies are indented under their header.
Imports only `symdiff.ir.nodes`.
"""

from __future__ import annotations

from symdiff.ir.nodes import Eqn, Function, If, Loop


def format_eqn(eqn: Eqn) -> str:
    """`h = tanh(z)`-style text for one equation, with static arguments after `;`."""
    outs = ", ".join(str(v) for v in eqn.outs)
    args = ", ".join(str(a) for a in eqn.ins)
    if eqn.static:
        args += "; " + ", ".join(f"{k}={a}" for k, a in eqn.static)
    return f"{outs} = {eqn.op}({args})"


def _join(atoms) -> str:
    return ", ".join(str(a) for a in atoms)


def _lines(body, depth: int) -> list[tuple[str, object]]:
    pad = "  " * depth
    lines: list[tuple[str, object]] = []
    for stmt in body:
        if isinstance(stmt, Eqn):
            lines.append((pad + format_eqn(stmt), stmt.loc))
        elif isinstance(stmt, If):
            lines.append((f"{pad}{_join(stmt.outs)} = if {stmt.cond}:", stmt.loc))
            lines += _lines(stmt.then_body, depth + 1)
            lines.append((f"{pad}  yield {_join(stmt.then_results)}", None))
            lines.append((f"{pad}else:", None))
            lines += _lines(stmt.else_body, depth + 1)
            lines.append((f"{pad}  yield {_join(stmt.else_results)}", None))
        elif isinstance(stmt, Loop):
            carried = ", ".join(f"{c}={i}" for c, i in zip(stmt.carried, stmt.inits))
            if stmt.index is not None:
                order = "reversed " if stmt.reverse else ""
                head = f"for {stmt.index} in {order}range({_join(stmt.bounds)})"
            else:
                head = "while"
            lines.append((f"{pad}{_join(stmt.outs)} = {head} carrying ({carried}):", stmt.loc))
            if stmt.cond is not None:
                lines += _lines(stmt.cond_body, depth + 1)
                lines.append((f"{pad}  test {stmt.cond}", None))
            lines += _lines(stmt.body, depth + 1)
            lines.append((f"{pad}  next {_join(stmt.results)}", None))
    return lines


def format_function(function: Function) -> str:
    """A numbered listing of `function`, readable without knowing symdiff."""
    params = ", ".join(str(p) for p in function.params)
    head = [f"{function.name}({params}):"]
    lines = _lines(function.body, 0)
    width = min(max([len(text) for text, _ in lines] + [20]), 56)
    for number, (text, loc) in enumerate(lines, 1):
        where = f"  # line {loc.line}" if loc is not None else ""
        head.append(f"  {number:3d}  {text.ljust(width)}{where}")
    head.append(f"  return {_join(function.results())}")
    return "\n".join(head)
