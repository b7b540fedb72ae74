"""A standalone module around generated functions: header, imports, helpers.

The module imports only NumPy (plus Numba for compiled backends). The shape
helpers a function calls (`sum_to`, `matmul_adjoint_b`, ...) are copied in
from `symdiff.rules.shapes`, with their own dependencies, in the order they
appear there, so the file runs where symdiff is not installed.
"""

from __future__ import annotations

import ast
import builtins
import inspect

import libcst as cst
import numpy as np

from symdiff.codegen.emit import emit_function, helpers_used
from symdiff.errors import UnsupportedSyntax
from symdiff.ir.nodes import Function, walk
from symdiff.rules import RULES, shapes
from symdiff.rules.opaque import import_line

_NON_SCALAR = '''class NonScalarOutput(ValueError):
    """grad was applied to a function whose output is not a scalar."""
'''


def helper_closure(names: list[str]) -> list[str]:
    """`names` and every helper of rules/shapes.py they call, in the order shapes.py defines them."""
    module_names = [n for n, v in vars(shapes).items() if inspect.isfunction(v) and v.__module__ == shapes.__name__]
    wanted: set[str] = set()
    pending = list(names)
    while pending:
        name = pending.pop()
        if name in wanted or name not in module_names:
            continue
        wanted.add(name)
        tree = ast.parse(inspect.getsource(getattr(shapes, name)))
        pending.extend(node.id for node in ast.walk(tree) if isinstance(node, ast.Name))
    order = inspect.getsource(shapes)
    return sorted(wanted, key=lambda n: order.index(f"def {n}("))


def helper_sources(functions: list[Function]) -> list[str]:
    """Source text of every helper the functions need (dependencies included)."""
    names: list[str] = []
    for function in functions:
        names += [n for n in helpers_used(function) if n not in names]
    closure = helper_closure(names)
    texts = [inspect.getsource(getattr(shapes, n)) for n in closure]
    if "grad_seed" in closure:
        texts.insert(0, _NON_SCALAR)
    return texts


def _user_imports(functions: list[Function]) -> str:
    """`from module import f` for user functions that have registered rules."""
    lines = set()
    for function in functions:
        for eqn in walk(function.body):
            rule = RULES[eqn.op]
            if _is_user_rule(rule):
                lines.add(f"from {rule.func.__module__} import {rule.path}\n")
    return "".join(sorted(lines))


def _constant_source(name: str, value) -> str:
    if not isinstance(value, (np.ndarray, np.generic)):  # what a call run as it is is called through
        try:
            return import_line(name, value) or ""
        except ValueError as error:
            raise UnsupportedSyntax(
                f"the generated module calls {name}, but {error}",
                hint=f"make {name} inside the function (`{name} = np.random.RandomState(0)`) or pass it in",
            ) from None
    array = np.asarray(value)
    return f"{name} = np.array({array.tolist()!r}, dtype=np.{array.dtype.name})\n"


def module_source(functions: list[Function], header: str = "", imports: tuple[str, ...] = ("numpy as np",)) -> str:
    """The text of a runnable module holding `functions`."""
    parts = []
    if header:
        parts.append("".join(f"# {line}".rstrip() + "\n" for line in header.splitlines()))
    parts.append("".join(f"import {name}\n" for name in imports) + _user_imports(functions))
    parts.extend(helper_sources(functions))
    constants = {name: value for f in functions for name, value in f.free}
    if constants:
        parts.append("".join(_constant_source(n, v) for n, v in sorted(constants.items())))
    for function in functions:
        parts.append(cst.Module(body=[emit_function(function)]).code)
    return "\n\n".join(part.rstrip("\n") + "\n" for part in parts).rstrip("\n") + "\n"


def _is_user_rule(rule) -> bool:
    """A rule registered by a user for one of their own functions (called by its name)."""
    module = getattr(rule.func, "__module__", "") or ""
    return rule.path.isidentifier() and not hasattr(builtins, rule.path) and not module.startswith("symdiff")
