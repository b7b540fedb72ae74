"""The Wengert list IR: nodes, verifier and printer (see `symdiff.ir.nodes`)."""

from symdiff.ir.nodes import Atom, Const, Eqn, Function, Var

__all__ = ["Atom", "Const", "Eqn", "Function", "Var"]
