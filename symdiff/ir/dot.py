"""Graphviz DOT text for a Wengert list: what `symdiff show --dot` writes.

Values are ellipses (parameters shaded), primitives are boxes, edges run from
operands to ops to results; `if` arms and loop bodies are drawn as clusters.
Imports only `symdiff.ir.nodes`.
"""

from __future__ import annotations

from symdiff.ir.nodes import Const, Eqn, Function, If, Loop, Var


def _quote(text: str) -> str:
    return '"' + str(text).replace("\\", "\\\\").replace('"', '\\"') + '"'


class _Dot:
    def __init__(self) -> None:
        self.lines: list[str] = []
        self.count = 0

    def op(self, label: str, indent: str) -> str:
        self.count += 1
        node = f"op{self.count}"
        self.lines.append(f"{indent}{node} [shape=box, label={_quote(label)}];")
        return node

    def edge(self, source: str, target: str, indent: str) -> None:
        self.lines.append(f"{indent}{source} -> {target};")

    def operand(self, atom, target: str, indent: str) -> None:
        if isinstance(atom, Var):
            self.edge(_quote(atom.name), target, indent)

    def block(self, body, indent: str) -> None:
        for stmt in body:
            if isinstance(stmt, Eqn):
                node = self.op(stmt.op, indent)
                for atom in stmt.atoms():
                    self.operand(atom, node, indent)
                for out in stmt.outs:
                    self.edge(node, _quote(out.name), indent)
            else:
                self.cluster(stmt, indent)

    def cluster(self, stmt, indent: str) -> None:
        self.count += 1
        kind = "if" if isinstance(stmt, If) else ("for" if stmt.index is not None else "while")
        self.lines.append(f"{indent}subgraph cluster_{self.count} {{")
        self.lines.append(f"{indent}  label={_quote(kind)};")
        node = self.op(kind, indent + "  ")
        for atom in stmt.atoms():
            self.operand(atom, node, indent + "  ")
        for block in stmt.blocks():
            self.block(block, indent + "  ")
        self.lines.append(f"{indent}}}")
        for out in stmt.outs:
            self.edge(node, _quote(out.name), indent)


def to_dot(function: Function) -> str:
    """The computational graph of `function` in Graphviz's DOT language."""
    dot = _Dot()
    dot.lines.append(f"digraph {_quote(function.name)} {{")
    dot.lines.append("  rankdir=TB;")
    for param in function.params:
        dot.lines.append(f"  {_quote(param.name)} [style=filled, fillcolor=lightgrey];")
    dot.block(function.body, "  ")
    for atom in function.results():
        if isinstance(atom, Var):
            dot.lines.append(f"  {_quote(atom.name)} [peripheries=2];")
        elif isinstance(atom, Const):
            dot.lines.append(f"  {_quote(repr(atom.value))} [shape=plaintext];")
    dot.lines.append("}")
    return "\n".join(dot.lines) + "\n"


__all__ = ["Loop", "to_dot"]
