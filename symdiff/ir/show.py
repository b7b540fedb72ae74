"""Text form of the Wengert list: what `str(function)` and `symdiff show` print.

One line per equation, `outs = op(ins; static)`, with the source line it came
from at the right. Imports only `symdiff.ir.nodes`.
"""

from __future__ import annotations

from symdiff.ir.nodes import Eqn, Function


def format_eqn(eqn: Eqn) -> str:
    """`h = tanh(z)`-style text for one equation, with static arguments after `;`."""
    outs = ", ".join(str(v) for v in eqn.outs)
    args = ", ".join(str(a) for a in eqn.ins)
    if eqn.static:
        args += "; " + ", ".join(f"{k}={a}" for k, a in eqn.static)
    return f"{outs} = {eqn.op}({args})"


def format_function(function: Function) -> str:
    """A numbered listing of `function`, readable without knowing symdiff."""
    params = ", ".join(str(p) for p in function.params)
    lines = [f"{function.name}({params}):"]
    width = max([len(format_eqn(e)) for e in function.body] + [20])
    for number, eqn in enumerate(function.body, 1):
        text = format_eqn(eqn)
        where = f"  # line {eqn.loc.line}" if eqn.loc is not None else ""
        lines.append(f"  {number:3d}  {text.ljust(width)}{where}")
    result = ", ".join(str(a) for a in function.results())
    lines.append(f"  return {result}")
    return "\n".join(lines)
