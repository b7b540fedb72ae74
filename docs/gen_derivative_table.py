"""Generate docs/derivative-table.md from symdiff's derivative table itself.

    python docs/gen_derivative_table.py            # rewrite docs/derivative-table.md
    python docs/gen_derivative_table.py --stdout   # print it instead

Everything on the page is read from `symdiff.rules.RULES` (op, spelling,
flags, the rule's source) and from the frontend's own spelling tables, so the
page cannot drift from the code; tests/test_docs.py fails when the checked-in
file differs from this script's output. Run it in a fresh interpreter: rules a
program registers at run time would otherwise show up too.
"""

from __future__ import annotations

import ast
import inspect
import sys
import textwrap
from pathlib import Path

import symdiff
from symdiff.codegen import expressions
from symdiff.frontend import calls, lower
from symdiff.rules import RULES, Composite, Rule
from symdiff.rules.registry import _BY_FUNC, resolve_pending

resolve_pending(imports=True)  # SciPy's spellings are registered when SciPy is imported: the table shows them all

OUTPUT = Path(__file__).with_name("derivative-table.md")

_UNARY_TEXT = {ast.USub: "-a", ast.UAdd: "+a", ast.Not: "not a"}
_COMPARE_TEXT = {ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Eq: "==", ast.NotEq: "!="}
_BOOL_TEXT = {"and_": "a and b", "or_": "a or b"}
# Spellings handled by special cases in symdiff/frontend/lower.py rather than by a table.
_SYNTAX = {
    "getitem": ["x[index]", "a, b = x"],
    "transpose": ["x.T"],
    "stack": ["np.array([a, b, ...])"],
    "copy": ["np.array(x)"],
    "make_tuple": ["(a, b, ...) built from variables"],
    "make_slice": ["x[a:b] with variable bounds"],
    "setitem": ["out[index] = v", "out[index] += v"],
}

INTRO = (
    "symdiff {version} knows {total} ops: {rules} with a derivative rule and {zero} whose derivative is zero "
    "by structure (constructors, comparisons, shape queries, rounding). A rule is an ordinary function "
    "`(g, out, *operands, **static)` returning one cotangent per operand (`None` for none); the reverse pass "
    "inlines its body under your names (see [how it works](how-it-works.md) and [custom rules](custom-rules.md))."
)
COLUMNS = (
    "Columns: **written** is how you spell the op in code you differentiate (a *helper* is a function that "
    "symdiff's generated code calls, from `symdiff.rules.shapes`); **elementwise** ops get every cotangent "
    "wrapped in `sum_to(..., np.shape(operand))` by the reverse transform, so their rules state only the "
    "calculus; **derivative** is `rule` or `zero`; **static** arguments are never differentiated."
)
HELPERS = (
    "These live in `symdiff/rules/shapes.py`. Linear ones come in transpose pairs and have rules of their own, "
    "so code that calls them can be differentiated again; pure shape functions have zero derivative."
)
COMPOSITES = (
    "These have no rule of their own: the frontend inlines their body, written in the supported subset, so "
    "their derivative comes from the rules above."
)

GROUPS = [
    ("symdiff.rules.elementwise", "Elementwise: arithmetic and ufuncs"),
    ("symdiff.rules.reductions", "Reductions"),
    ("symdiff.rules.linalg", "Linear algebra"),
    ("symdiff.rules.shape_ops", "Shape, indexing and joins"),
]


def operator_spellings() -> dict[str, list[str]]:
    """op -> the Python syntax the frontend lowers to it."""
    found: dict[str, list[str]] = {}
    for node, op in lower._BINOPS.items():
        found.setdefault(op, []).append(f"a {lower._op_text(node())} b")
    for node, op in lower._UNARY.items():
        found.setdefault(op, []).append(_UNARY_TEXT[node])
    for node, op in lower._COMPARE.items():
        found.setdefault(op, []).append(f"a {_COMPARE_TEXT[node]} b")
    for op, text in _BOOL_TEXT.items():
        found.setdefault(op, []).append(text)
    for op, texts in _SYNTAX.items():
        found.setdefault(op, []).extend(texts)
    return found


def callable_label(func) -> str | None:
    """How a user writes a call to `func`: `np.tanh`, `math.exp`, `abs`, `scipy.special.erf`,
    `scipy.stats.norm.cdf`; None for operator.* and symdiff's own."""
    module = getattr(func, "__module__", None) or "numpy"
    name = getattr(func, "__name__", repr(func))
    if module == "operator" or module == "_operator":
        return None
    owner = getattr(func, "__self__", None)
    if module.startswith("scipy.stats") and owner is not None:  # a method of a distribution object
        return f"scipy.stats.{getattr(owner, 'name', None) or type(owner).__name__.removesuffix('_gen')}.{name}"
    special = sys.modules.get("scipy.special")
    if module.startswith("scipy.special") or (special is not None and getattr(special, name, None) is func):
        return f"scipy.special.{name}"  # SciPy's ufuncs have no __module__
    if module.startswith("numpy"):
        sub = module.split(".")[1:2]
        return f"np.{sub[0]}.{name}" if sub and sub[0] in ("linalg", "fft", "random") else f"np.{name}"
    if module == "math":
        return f"math.{name}"
    if module == "builtins":
        return name
    return None  # symdiff's own functions: IR plumbing or helpers, described elsewhere


def spellings() -> dict[str, list[str]]:
    """op -> every way of writing it that the frontend accepts."""
    found = operator_spellings()
    for func, entry in _BY_FUNC.items():
        if isinstance(entry, Rule):
            label = callable_label(func)
            if label is not None and label not in found.setdefault(entry.op, []):
                found[entry.op].append(label)
    for method, func in calls._METHODS.items():
        entry = _BY_FUNC.get(func)
        if isinstance(entry, Rule):
            found.setdefault(entry.op, []).append(f"x.{method}()")
    for attribute, func in lower._ATTRIBUTES.items():
        found.setdefault(_BY_FUNC[func].op, []).append(f"x.{attribute}")
    return found


def printed_as(rule: Rule, spelled: list[str]) -> str:
    """How generated code prints the op."""
    operators = {**expressions._BINARY, **expressions._COMPARE, **expressions._UNARY, **expressions._BOOLEAN}
    if rule.op in operators and spelled:
        return f"`{spelled[0]}`"
    if rule.op == "getitem":
        return "`x[index]`"
    if rule.op == "transpose":
        return f"`x.T` (`{rule.path}(x, axes)` with axes)"
    if rule.op == "make_tuple":
        return "a tuple literal"
    return f"`{rule.path}`"


def source_of(func) -> str:
    return textwrap.dedent(inspect.getsource(func)).rstrip() + "\n"


def group_of(rule: Rule, spelled: list[str]) -> str:
    """Section of the page: the rule's module, or helpers/zero; helpers users can write go with their family."""
    if rule.helper and not spelled:
        return "helpers"
    if not rule.differentiable:
        return "zero"
    return (rule.vjp or rule.vjp_each).__module__


def yes(flag: bool) -> str:
    return "yes" if flag else ""


def summary_row(rule: Rule, spelled: list[str]) -> str:
    derivative = "rule" if rule.differentiable else "zero"
    static = ", ".join(rule.static)
    code = ", ".join(f"`{s}`" for s in spelled)
    if rule.helper:
        code += ("; " if code else "") + f"`{rule.path}` (helper in generated code)"
    name = f"[`{rule.op}`](#{rule.op})" if rule.differentiable or rule.helper else f"`{rule.op}`"
    return f"| {name} | {code} | {yes(rule.elementwise)} | {derivative} | {static} |"


def rule_section(rule: Rule, spelled: list[str]) -> list[str]:
    lines = [f'<a id="{rule.op}"></a>', "", f"### `{rule.op}`", ""]
    facts = [f"printed as {printed_as(rule, spelled)}"]
    if spelled:
        facts.insert(0, "written " + ", ".join(f"`{s}`" for s in spelled))
    if rule.elementwise:
        facts.append("elementwise (each cotangent is summed back to its operand's shape)")
    if rule.static:
        facts.append("static: " + ", ".join(f"`{s}`" for s in rule.static))
    if rule.vjp_each is not None:
        facts.append("variadic: the rule returns the cotangent of operand `k`")
    lines += ["; ".join(facts) + ".", ""]
    if rule.helper:
        lines += [
            "The helper itself (copied into standalone modules):",
            "",
            "```python",
            source_of(rule.func).rstrip(),
            "```",
            "",
        ]
    if rule.differentiable:
        lines += ["```python", source_of(rule.vjp or rule.vjp_each).rstrip(), "```", ""]
    return lines


def composite_sections() -> list[str]:
    lines = []
    seen = set()
    for func, entry in _BY_FUNC.items():
        if isinstance(entry, Composite) and entry.impl not in seen:
            seen.add(entry.impl)
            label = callable_label(func) or f"{func.__module__}.{func.__name__}"
            lines += [f"### `{label}`", "", "```python", source_of(entry.impl).rstrip(), "```", ""]
    return lines


def render() -> str:
    spelled = spellings()
    rules = list(RULES.values())
    differentiable = sum(r.differentiable for r in rules)
    intro = INTRO
    lines = [
        "# Derivative table",
        "",
        "<!-- Generated by docs/gen_derivative_table.py from symdiff.rules.RULES; do not edit by hand.",
        "     Regenerate with: python docs/gen_derivative_table.py -->",
        "<!-- snippets: not run -->",
        "",
        intro.format(
            version=symdiff.__version__, total=len(rules), rules=differentiable, zero=len(rules) - differentiable
        ),
        "",
        COLUMNS,
        "",
        "| op | written | elementwise | derivative | static |",
        "| --- | --- | --- | --- | --- |",
    ]
    lines += [summary_row(r, spelled.get(r.op, [])) for r in rules]
    lines += [""]
    for module, title in GROUPS:
        lines += [f"## {title}", ""]
        for rule in rules:
            if group_of(rule, spelled.get(rule.op, [])) == module:
                lines += rule_section(rule, spelled.get(rule.op, []))
    known = {m for m, _ in GROUPS} | {"helpers", "zero"}
    other = [r for r in rules if group_of(r, spelled.get(r.op, [])) not in known]
    if other:
        lines += ["## Other rules", ""]
        for rule in other:
            lines += rule_section(rule, spelled.get(rule.op, []))
    lines += [
        "## Helpers called by generated code",
        "",
        HELPERS,
        "",
    ]
    for rule in rules:
        if group_of(rule, spelled.get(rule.op, [])) == "helpers":
            lines += rule_section(rule, [])
    lines += [
        "## Composites",
        "",
        COMPOSITES,
        "",
    ]
    lines += composite_sections()
    lines += ["## Zero derivative", "", "These ops never carry an adjoint; the reverse pass skips them.", ""]
    for rule in rules:
        if group_of(rule, spelled.get(rule.op, [])) == "zero":
            written = ", ".join(f"`{s}`" for s in spelled.get(rule.op, [])) or f"`{rule.path}`"
            lines.append(f"- `{rule.op}`: {written}")
    return "\n".join(lines).rstrip() + "\n"


def main(argv: list[str]) -> None:
    text = render()
    if "--stdout" in argv:
        sys.stdout.write(text)
    else:
        OUTPUT.write_text(text, encoding="utf-8")
        print(f"wrote {OUTPUT}")


if __name__ == "__main__":
    main(sys.argv[1:])
