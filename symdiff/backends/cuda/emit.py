"""Print a CUDA `Plan` as Python: one device function and one kernel per group, and the host function.

For each group of fused elementwise equations:

- a device function (`@cuda.jit(device=True)`) computes one element: it
  takes one scalar per operand and returns the values the group writes, and
  reads like the user's own arithmetic (`h = math.tanh(h_1 + b1)`);
- a kernel (`@cuda.jit`) applies it over the index space with a grid-stride
  loop, reading each array operand through `operand_offset` (broadcasting,
  transposes and slices without copies) and writing contiguous outputs.

The host function is printed by the ordinary `FunctionEmitter`, so it keeps
the user's names, the `# grad of:` comments and the program's `if`/`for`/
`while` blocks and tapes (Python lists); only how equations are spelled
changes: launches call `elementwise(...)`, device ops `device_<op>(...)`,
conditions read from the device `host_scalar(...)`.
Everything is built as LibCST nodes.
"""

from __future__ import annotations

import builtins
import keyword

import libcst as cst

from symdiff.backends.cuda.lowering import DEVICE_FUNCTIONS, element_expression
from symdiff.backends.cuda.planning import LAUNCH, TO_DEVICE, TO_HOST, TO_HOST_ARRAY, TO_INDEX, TO_SCALAR, Group, Plan
from symdiff.codegen.emit import FunctionEmitter
from symdiff.codegen.expressions import call, constant, tuple_of
from symdiff.ir.nodes import Atom, Const, Eqn
from symdiff.rules import RULES

DEVICE_RESULTS = "device_results"
_KERNEL_NAMES = {"i", "n", "layout", "math", "cuda", "operand_offset", "owns_element", "np"}


class LocalNames:
    """Python identifiers for IR names inside one kernel: the stem (`x~2` -> `x`), numbered on collision."""

    def __init__(self, reserved: set[str]):
        self.taken = set(reserved) | set(keyword.kwlist) | set(dir(builtins))
        self.names: dict[str, str] = {}

    def __call__(self, name: str, suffix: str = "") -> str:
        key = name + suffix
        if key not in self.names:
            base = name.split("~")[0] + suffix
            candidate, k = base, 1
            while candidate in self.taken:
                k += 1
                candidate = f"{base}_{k}"
            self.taken.add(candidate)
            self.names[key] = candidate
        return self.names[key]


def _name(text: str) -> cst.Name:
    return cst.Name(text)


def _assign(target: cst.BaseAssignTargetExpression, value: cst.BaseExpression) -> cst.SimpleStatementLine:
    return cst.SimpleStatementLine([cst.Assign([cst.AssignTarget(target)], value)])


def _targets(names: list[str]) -> cst.BaseAssignTargetExpression:
    return _name(names[0]) if len(names) == 1 else tuple_of([_name(n) for n in names]).with_changes(lpar=[], rpar=[])


def _offset(row: int) -> cst.Call:
    """`operand_offset(layout, row, i)`: where element i of layout row `row` sits."""
    return call("operand_offset", [_name("layout"), cst.Integer(str(row)), _name("i")])


def _docstring(text: str) -> cst.SimpleStatementLine:
    return cst.SimpleStatementLine([cst.Expr(cst.SimpleString(f'"""{text}"""'))])


def _decorated(name: str, params: list[str], body: list, decorator: str) -> cst.FunctionDef:
    return cst.FunctionDef(
        name=_name(name),
        params=cst.Parameters([cst.Param(_name(p)) for p in params]),
        body=cst.IndentedBlock(body),
        decorators=[cst.Decorator(cst.parse_expression(decorator))],
    )


def _statements_text(group: Group) -> str:
    lines = sorted({m.loc.line for m in group.members if m.loc is not None})
    where = f" (source line{'s' if len(lines) > 1 else ''} {', '.join(map(str, lines))})" if lines else ""
    return f"{len(group.members)} fused elementwise op{'s' if len(group.members) > 1 else ''}{where}"


def element_function(group: Group) -> cst.FunctionDef:
    """The device function computing one element of every value `group` writes."""
    names = LocalNames(_KERNEL_NAMES)
    params = [names(v.name) for v in group.arrays + group.scalars]

    def operand(atom: Atom) -> cst.BaseExpression:
        return constant(atom.value) if isinstance(atom, Const) else _name(names(atom.name))

    body: list = [_docstring(f"One element of {group.name}: {_statements_text(group)}.")]
    for eqn in group.members:
        body.append(_assign(_name(names(eqn.out.name)), element_expression(eqn, [operand(a) for a in eqn.ins])))
    results = [_name(names(v.name)) for v in group.outputs]
    value = results[0] if len(results) == 1 else tuple_of(results).with_changes(lpar=[], rpar=[])
    body.append(cst.SimpleStatementLine([cst.Return(value)]))
    return _decorated(f"{group.name}_element", params, body, "cuda.jit(device=True)")


def kernel_function(group: Group) -> cst.FunctionDef:
    """The kernel applying `group`'s device function over its index space (grid-stride loop)."""
    names = LocalNames(_KERNEL_NAMES)
    outputs = [names(v.name) for v in group.outputs]
    stores = [names(v.name, "_out") for v in group.outputs]
    arrays = [names(v.name) for v in group.arrays]
    scalars = [names(v.name) for v in group.scalars]
    rows = len(outputs)
    reads = [
        cst.Subscript(_name(a), [cst.SubscriptElement(cst.Index(_offset(rows + k + 1)))]) for k, a in enumerate(arrays)
    ]
    element = call(f"{group.name}_element", reads + [_name(s) for s in scalars])
    loop_body: list = [_assign(_targets(outputs), element)]
    for k, (store, value) in enumerate(zip(stores, outputs)):
        target = cst.Subscript(_name(store), [cst.SubscriptElement(cst.Index(_offset(k + 1)))])
        owns = call("owns_element", [_name("layout"), cst.Integer(str(k + 1)), _name("i")])
        loop_body.append(cst.If(test=owns, body=cst.IndentedBlock([_assign(target, _name(value))])))
    loop = cst.For(
        target=_name("i"),
        iter=cst.parse_expression("range(cuda.grid(1), n, cuda.gridsize(1))"),
        body=cst.IndentedBlock(loop_body),
    )
    doc = _docstring("Grid-stride loop over the index space; layout rows 1, 2, ... are the outputs, then the operands.")
    return _decorated(group.name, ["n", "layout", *stores, *arrays, *scalars], [doc, loop], "cuda.jit")


class HostEmitter(FunctionEmitter):
    """The ordinary function printer, with launches, transfers and device ops spelled for the runtime."""

    def __init__(self, plan: Plan, reserved: set[str]):
        super().__init__(plan.host, reserved | {DEVICE_RESULTS})
        self.device_eqns = plan.device_eqns
        self.in_place, self.copies = plan.in_place, plan.copies

    def expression(self, eqn: Eqn) -> cst.BaseExpression:
        operands = [self.atom(a) for a in eqn.ins]
        if eqn.op == LAUNCH:
            count = eqn.static_dict()["arrays"].value
            kernel = _name(eqn.static_dict()["kernel"].value)
            keywords = [("scalars", tuple_of(operands[count:]))] if operands[count:] else []
            keywords.append(("writes", constant(eqn.static_dict()["writes"].value)))
            return call("elementwise", [kernel, tuple_of(operands[:count])], keywords)
        if eqn.op == TO_DEVICE:
            return call("to_device", operands)
        if eqn.op == TO_HOST:
            return call("to_host", operands + [_name(DEVICE_RESULTS)])
        if eqn.op in (TO_SCALAR, TO_INDEX):
            return call("host_scalar" if eqn.op == TO_SCALAR else "host_index", operands)
        if eqn.op == TO_HOST_ARRAY:
            return call("host_array", [*operands, constant(eqn.static_dict()["dtype"].value)])
        if id(eqn) in self.device_eqns:
            made = self.device_call(eqn, operands)
            return call("device_copy", [made]) if id(eqn) in self.copies else made
        return super().expression(eqn)

    def assignment(self, eqn: Eqn) -> list[cst.SimpleStatementLine]:
        """`outs = value`; device ops and the backend's own steps are never written in place (`x[i] = v` on
        the host would not reach the GPU): `x = device_setitem(x, v, i)`."""
        if id(eqn) in self.device_eqns or eqn.op in (LAUNCH, TO_DEVICE, TO_HOST, TO_SCALAR, TO_INDEX, TO_HOST_ARRAY):
            return [
                cst.SimpleStatementLine(
                    [
                        cst.Assign(
                            [cst.AssignTarget(_targets([self.names.get(o.name, o.name) for o in eqn.outs]))],
                            self.expression(eqn),
                        )
                    ]
                )
            ]
        return super().assignment(eqn)

    def device_call(self, eqn: Eqn, operands: list) -> cst.Call:
        """`device_<op>(operands..., statics...)` with NumPy's argument conventions."""
        rule = RULES[eqn.op]
        statics = {k: self.atom(a) for k, a in eqn.static}
        defaults = dict(rule.defaults)
        required = [k for k in rule.static if k not in defaults]
        keywords = [
            (k, statics[k]) for k, atom in eqn.static
            if k not in required and not (k in defaults and isinstance(atom, Const) and atom == Const(defaults[k]))
        ]  # fmt: skip
        path = "device_write" if id(eqn) in self.in_place else DEVICE_FUNCTIONS[eqn.op]
        if rule.variadic:
            return call(path, [tuple_of(operands)], keywords)
        return call(path, operands + [statics[k] for k in required if k in statics], keywords)

    def definition(self) -> cst.FunctionDef:
        """The host `def`, with a keyword-only `device_results=False` switch."""
        node = super().definition()
        flag = cst.Param(
            _name(DEVICE_RESULTS),
            default=cst.Name("False"),
            equal=cst.AssignEqual(cst.SimpleWhitespace(""), cst.SimpleWhitespace("")),
        )
        return node.with_changes(params=node.params.with_changes(star_arg=cst.ParamStar(), kwonly_params=[flag]))


def kernel_definitions(plan: Plan) -> list[cst.FunctionDef]:
    """Device function and kernel of every group, in launch order, two blank lines apart."""
    nodes: list[cst.FunctionDef] = []
    for group in plan.groups:
        nodes += [element_function(group), kernel_function(group)]
    return [
        node.with_changes(leading_lines=[cst.EmptyLine(), cst.EmptyLine()]) if k else node
        for k, node in enumerate(nodes)
    ]


def host_definition(plan: Plan, reserved: set[str]) -> cst.FunctionDef:
    """The host function: the gradient's signature, orchestrating transfers and launches."""
    node = HostEmitter(plan, reserved).definition()
    return node.with_changes(leading_lines=[cst.EmptyLine(), cst.EmptyLine()]) if plan.groups else node


__all__ = ["LocalNames", "host_definition", "kernel_definitions"]
