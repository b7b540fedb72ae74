"""Algebraic simplification and removal of no-op shape bookkeeping.

Two kinds of rewrite:
- identities with constants: `x * 1`, `x + 0`, `x / 1`, `x ** 1`, `--x`;
- shape no-ops: `sum_to(x, np.shape(y))`, `broadcast_to(...)` and
  `reshape(...)` are dropped when `x` is known to have `y`'s shape.

Shapes are not known when code is generated, so "same shape" is inferred
from the ops themselves (`symdiff.analysis.shapes.ShapeClasses`).

Spreading 1.0 over the shape of an inexact (float) array and multiplying
(`np.broadcast_to(1.0, np.shape(x)) * e`, the seed of `np.sum` meeting an
elementwise term of `x`'s shape) is `e`: the same values and shape, without
a pass over the array. Its dtype is `e`'s own, where the product's was
float64 for a float32 `e`: the cotangent keeps the forward values' precision.

A third: a scalar spread over a shape and then scaled,
`np.broadcast_to(c, s) * k` with `c` and `k` scalars, is `np.broadcast_to(c * k, s)`:
each element was `c * k` already, computed once instead of once per element
(the seed of `np.sum` times the constants of the loss, `ones * 100.0 * 2`).
"""

from __future__ import annotations

from dataclasses import replace

from symdiff.analysis.aliases import PASSED_ON, VIEWS
from symdiff.analysis.ranks import known_ranks
from symdiff.analysis.shapes import SHAPED_LIKE_LAST
from symdiff.ir.names import Names
from symdiff.ir.nodes import Atom, Const, Eqn, Function, Loop, Var, defined, reads, walk
from symdiff.optimize.fuse_shapes import ShapeFacts
from symdiff.optimize.walk import rename_values, rewrite_function
from symdiff.rules import RULES

_BOOLEAN = frozenset(
    {"eq", "ne", "lt", "le", "gt", "ge", "logical_and", "logical_or", "logical_not", "isnan", "isfinite"}
)


def _identity(eqn: Eqn, classes: ShapeFacts, ranks: dict[str, int], booleans: set[str]) -> Atom | None:
    """The atom `eqn` is equal to, if it is a no-op. Arithmetic with 1 or 0 is none on a boolean
    array (`mask * 1.0` is a float array, `mask` a boolean one): names in `booleans` never answer."""
    a = eqn.ins[0] if eqn.ins else None
    b = eqn.ins[1] if len(eqn.ins) > 1 else None
    if eqn.op in _ARITHMETIC + ("pow",) and any(isinstance(x, Var) and x.name in booleans for x in (a, b)):
        return None

    def const(atom, *values):
        return isinstance(atom, Const) and type(atom.value) in (int, float) and atom.value in values

    if eqn.op == "mul" and isinstance(a, Var) and const(b, 1):
        return a
    if eqn.op == "mul" and isinstance(b, Var) and const(a, 1):
        return b
    if eqn.op in ("add", "sub") and isinstance(a, Var) and const(b, 0):
        return a
    if eqn.op == "add" and isinstance(b, Var) and const(a, 0):
        return b
    if eqn.op in ("truediv", "pow") and isinstance(a, Var) and const(b, 1):
        return a
    if eqn.op == "where" and isinstance(a, Const) and type(a.value) is bool:
        picked, other = (eqn.ins[1], eqn.ins[2]) if a.value else (eqn.ins[2], eqn.ins[1])
        if isinstance(other, Const) and type(other.value) in (int, float):
            return picked  # a scalar condition and a scalar other arm leave the picked arm's shape
    if eqn.op in SHAPED_LIKE_LAST and eqn.op != "scatter_add":
        shape = eqn.static_dict().get("shape")
        number = isinstance(a, Const) and type(a.value) in (int, float)
        if shape == Const(()) and (number or _rank(a, ranks) == 0):
            return a  # a scalar summed to, spread over or reshaped to a scalar's shape
        if isinstance(a, Var) and shape is not None and classes.given_shape.get(a.name) == shape:
            return a  # already given exactly this shape
        if classes.has_shape(a, shape) or classes.has_kept_shape(a, shape):
            return a
    return None


_BROADCASTING = ("add", "sub", "mul", "truediv", "eq", "ne", "lt", "le", "gt", "ge")


_PRODUCTS = ("matmul", "dot")
_PRODUCT_ADJOINTS = ("matmul_adjoint_a", "matmul_adjoint_b")


def _summed_inside(eqn: Eqn, sums: dict[str, Eqn], products: dict[str, tuple], classes: ShapeFacts) -> Eqn:
    """`matmul_adjoint_a(g, a, b)` for `matmul_adjoint_a(sum_to(g, np.shape(a @ b)), a, b)` (and `_b`):
    the helpers sum their cotangent to the product's shape themselves (`x @ w + c`'s cotangent
    reaches `w` without a `sum_to` to `x @ w`'s shape in between)."""
    if eqn.op not in _PRODUCT_ADJOINTS or not isinstance(eqn.ins[0], Var) or eqn.ins[0].name not in sums:
        return eqn
    summed = sums[eqn.ins[0].name]
    shape = summed.static_dict().get("shape")
    source = classes.shape_of.get(shape.name) if isinstance(shape, Var) else None
    if source is None or not any(
        operands == eqn.ins[1:] and classes.find(name) == classes.find(source) for name, operands in products.items()
    ):
        return eqn
    return Eqn(eqn.outs, eqn.op, (summed.ins[0], *eqn.ins[1:]), eqn.static, eqn.loc, eqn.adjoint)


def _unspread(eqn: Eqn, broadcasts: dict[str, Eqn], classes: ShapeFacts) -> Eqn:
    """`x op e` for `np.broadcast_to(x, s) op e` (either order, `op` arithmetic), where `e`'s shape
    is, or broadcasts over, `s`: the operation broadcasts `x` itself, to the same values and
    `e`'s shape, without materialising the spread (`np.sum`'s cotangent times `exp`'s partial).
    The same for `np.reshape(x, s)` of a 0-d `x` (`s` is then all ones: a full reduction's
    value or cotangent given back its axes)."""
    if eqn.op not in _BROADCASTING or len(eqn.ins) != 2:
        return eqn
    ins = list(eqn.ins)
    for position in (0, 1):
        spread, other = ins[position], ins[1 - position]
        if not (isinstance(spread, Var) and spread.name in broadcasts and isinstance(other, Var)):
            continue
        broadcast = broadcasts[spread.name]
        if classes.spans_shape(other, broadcast.static_dict().get("shape")):
            ins[position] = broadcast.ins[0]
            return Eqn(eqn.outs, eqn.op, tuple(ins), eqn.static, eqn.loc, eqn.adjoint)
    return eqn


def _rank(atom: Atom, ranks: dict[str, int]) -> int | None:
    return ranks.get(atom.name) if isinstance(atom, Var) else None


_SCALES = ("truediv", "mul")
_ARITHMETIC = ("add", "sub", "mul", "truediv", "neg")
# Ops whose result is inexact (float or complex) whatever their operands' dtypes.
_INEXACT = {
    "tanh", "exp", "log", "sin", "cos", "sqrt", "truediv", "expm1", "log1p", "sinh", "cosh", "arctan", "tan",
    "arcsin", "arccos", "expit", "erf",
}  # fmt: skip


def _times_spread(eqn: Eqn, spreads: dict[str, Eqn], scalars: set[str], floats: set[str], inexact: set[str],
                  classes: ShapeFacts) -> Atom | Eqn | None:  # fmt: skip
    """`c * e` for `broadcast_to(c, s) * e` (either order), where `c` is a scalar and `e`'s shape
    is, or broadcasts over, `s`; `e` itself where `c` is 1.0 and `e` is inexact.

    Exact: each element is the same multiplication, and the product has `e`'s shape either way.
    Its dtype is `e`'s own for an inexact `e`, where spreading a Python float first made a float64
    array (float32 in, float32 out); `c` must be a float or `e` inexact, so that integer operands
    never meet a different integer width than before.
    """
    for position, broadcast, other in _spread_factors(eqn, spreads):
        c = broadcast.ins[0]
        if not (
            isinstance(other, Var)
            and _is_scalar(c, scalars)
            and classes.spans_shape(other, broadcast.static_dict().get("shape"))
        ):
            continue
        if other.name in inexact and isinstance(c, Const) and type(c.value) is float and c.value == 1.0:
            return other
        if other.name in inexact or _is_float(c, floats):
            operands = (c, other) if position == 0 else (other, c)
            return Eqn(eqn.outs, "mul", operands, (), eqn.loc, eqn.adjoint)
    return None


def _spread_factors(eqn: Eqn, spreads: dict[str, Eqn]):
    """For a product `a * b`, each (position, broadcast, other factor) where the factor at
    `position` is a spread `broadcast_to(c, s)` of a scalar (the two rewrites around this)."""
    if eqn.op != "mul" or len(eqn.ins) != 2:
        return
    for position in (0, 1):
        spread = eqn.ins[position]
        if isinstance(spread, Var) and spread.name in spreads:
            yield position, spreads[spread.name], eqn.ins[1 - position]


_COUNTS = ("size", "len", "ndim")


def _spread_scaled(eqn: Eqn, spreads: dict[str, Eqn], scalars: set[str], floats: set[str], fresh) -> list | None:
    """`broadcast_to(c, s) * k` (either order) as `broadcast_to(c * k, s)`, for scalars `c` and `k`.

    Exact: every element of the product is the one float multiplication `c * k`
    (multiplication commutes in IEEE arithmetic, and the order is kept anyway),
    and the result has the shape `s` and the dtype the elementwise product had.
    One of `c`, `k` must be a float, so that the scalar product is float
    arithmetic as the elementwise one was, not Python integers (which never wrap).
    """
    for position, broadcast, k in _spread_factors(eqn, spreads):
        c = broadcast.ins[0]
        if not _is_scalar(k, scalars) or not (_is_float(c, floats) or _is_float(k, floats)):
            continue
        scaled = Var(fresh(f"{eqn.out.name.split('~')[0]}_scalar"), temp=True)
        operands = (c, k) if position == 0 else (k, c)
        product = Eqn((scaled,), "mul", operands, (), eqn.loc, eqn.adjoint)
        return [product, Eqn(eqn.outs, "broadcast_to", (scaled,), broadcast.static, eqn.loc, eqn.adjoint)]
    return None


def _respread(eqn: Eqn, spreads: dict[str, Eqn], shapes: set[str], kept: set[str]) -> Eqn:
    """`broadcast_to(c, t)` for `reshape(broadcast_to(c, s), t)` or `broadcast_to(broadcast_to(c, s), t)`
    with `c` a scalar: every element is `c` either way, and the shape is `t` (a shape that np.shape
    and its helpers made, so never one with a -1 for reshape to fill in).

    A reshape folds only to a reduction's `keepdims_shape` (`kept`), whose sizes agree whenever its
    axis is valid, and `dce` keeps that check. Any other reshape stays: `s` may be the shape of a
    forward value (`np.squeeze(x, 0)`, `np.reshape(x, (5,))`) that raises for these arguments, and
    folding it away would return a gradient where the function fails."""
    if eqn.op not in ("reshape", "broadcast_to") or len(eqn.outs) != 1:
        return eqn
    spread, shape = eqn.ins[0], eqn.static_dict().get("shape")
    if not (isinstance(spread, Var) and spread.name in spreads and isinstance(shape, Var) and shape.name in shapes):
        return eqn
    if eqn.op == "reshape" and shape.name not in kept:
        return eqn
    return Eqn(eqn.outs, "broadcast_to", spreads[spread.name].ins, (("shape", shape),), eqn.loc, eqn.adjoint)


def _is_float(atom: Atom, floats: set[str]) -> bool:
    if isinstance(atom, Const):
        return type(atom.value) is float
    return atom.name in floats


def _is_scalar(atom: Atom, counts: set[str]) -> bool:
    """A number, or a count (np.size, len, ndim): never an array that could widen a result."""
    if isinstance(atom, Const):
        return type(atom.value) in (int, float)
    return atom.name in counts


def _only_spread(function: Function) -> set[str]:
    """Names read only as the value a `broadcast_to` spreads (so the rewrite above leaves them dead)."""
    other: set[str] = {a.name for a in function.results() if isinstance(a, Var)}
    spread: set[str] = set()
    for atom, eqn in _reads(function.body):
        if eqn is not None and eqn.op == "broadcast_to" and atom is eqn.ins[0]:
            spread.add(atom.name)
        else:
            other.add(atom.name)
    return spread - other


def _reads(body):
    """(variable read, the equation reading it or None for control flow) over `body`."""
    for stmt in body:
        for atom in stmt.atoms():
            if isinstance(atom, Var):
                yield atom, stmt if isinstance(stmt, Eqn) else None
        if not isinstance(stmt, Eqn):
            for block in stmt.blocks():
                yield from _reads(block)


_WRITES = ("setitem", "add_at")  # functional writes that codegen may run in place on their first operand
_SAME_MEMORY = VIEWS | PASSED_ON


def _never_written(function: Function) -> dict[str, Var]:
    """Names that are parameters or top-level values no element write may reach (through views,
    loop-carried values or an `if`'s outputs), in the order they are defined: reading one later
    reads the value it was given."""
    links: dict[str, set[str]] = {}
    written: set[str] = set()

    def link(*atoms) -> None:
        names = [a.name for a in atoms if isinstance(a, Var)]
        for name in names:
            links.setdefault(name, set()).update(names)

    def scan(body) -> None:
        for stmt in body:
            if isinstance(stmt, Eqn):
                if stmt.op in _WRITES and isinstance(stmt.ins[0], Var):
                    written.update((stmt.ins[0].name, stmt.out.name))
                if stmt.op in _SAME_MEMORY or stmt.op in _WRITES:
                    link(stmt.out, stmt.ins[0])
                continue
            if isinstance(stmt, Loop):
                for group in zip(stmt.outs, stmt.carried, stmt.inits, stmt.results):
                    link(*group)
            else:
                for group in zip(stmt.outs, stmt.then_results, stmt.else_results):
                    link(*group)
            for block in stmt.blocks():
                scan(block)

    scan(function.body)
    reached, stack = set(written), list(written)
    while stack:
        for other in links.get(stack.pop(), ()):
            if other not in reached:
                reached.add(other)
                stack.append(other)
    top = list(function.params) + [out for eqn in function.body if isinstance(eqn, Eqn) for out in eqn.outs]
    return {var.name: var for var in top if var.name not in reached}


def _divided_last(eqn: Eqn, quotients: dict[str, tuple], scalars: set[str], fresh) -> list[Eqn] | None:
    """`e / n` for `(1.0 / n) * e` and `c * e / n` for `(c / n) * e` (either order), where `n` is a
    count and `e` is not a number: as a person writes a mean's gradient, rounded once rather than
    twice, and an array division where `n` is 0 (an empty mean: `e` is empty) rather than a
    Python one, which raises ZeroDivisionError."""
    if eqn.op != "mul" or len(eqn.outs) != 1:
        return None
    for k in (0, 1):
        scale, other = eqn.ins[k], eqn.ins[1 - k]
        if not isinstance(scale, Var) or scale.name not in quotients or not isinstance(other, Var):
            continue
        if other.name in scalars or other.name in quotients:
            return None
        top, count = quotients[scale.name]
        if top == Const(1.0):
            return [Eqn(eqn.outs, "truediv", (other, count), (), eqn.loc, eqn.adjoint)]
        if not isinstance(top, Const) or type(top.value) not in (int, float):
            return None
        product = Var(fresh(f"{eqn.out.name.split('~')[0]}_1"), temp=True)
        scaled = ("neg", (other,)) if top == Const(-1.0) else ("mul", (top, other))
        return [
            Eqn((product,), *scaled, (), eqn.loc, eqn.adjoint),
            Eqn(eqn.outs, "truediv", (product, count), (), eqn.loc, eqn.adjoint),
        ]
    return None


def _masked_twice(eqn: Eqn, masked: dict[str, tuple]) -> Atom | None:
    """`where(c, where(c, a, z), z)` is the inner `where` (a cotangent masked by two guards);
    records `eqn` when it masks one arm with a constant."""
    cond, x, y = eqn.ins
    for kept, other, side in ((x, y, True), (y, x, False)):
        if isinstance(kept, Var) and isinstance(other, Const):
            if masked.get(kept.name) == (cond, side, other):
                return kept
            masked[eqn.out.name] = (cond, side, other)
    return None


def simplify(function: Function) -> Function:
    """`function` with identities and shape no-ops removed."""
    classes = ShapeFacts()
    negations: dict[str, Atom] = {}
    all_axes: set[str] = set()  # names holding keepdims_shape(s, None)
    kept_scalars: dict[str, Atom] = {}  # reshape(v, keepdims_shape(s, None)) -> v
    masked: dict[str, tuple] = {}  # where(c, a, 0.0) -> (c, which arm is kept, the other arm)
    counts: set[str] = set()  # names holding a count (np.size, len): scalars
    names = Names({p.name for p in function.params} | {n for n, _ in function.free})
    names.used |= {v.name for stmt in function.body for v in defined(stmt)}
    spread = _only_spread(function)
    spreads: dict[str, Eqn] = {}  # broadcast_to(c, s) of a scalar c
    scalars: set[str] = set()  # counts, and arithmetic on numbers and counts: Python scalars
    floats: set[str] = set()  # the scalars among them that are floats
    inexact: set[str] = set()  # arrays known to be float or complex, whatever the inputs' dtypes
    inherits: dict[str, Var] = {}  # a temporary -> the named value it replaced
    shapes: set[str] = set()  # names holding a shape tuple made by np.shape and its helpers (no -1 in it)
    kept_shapes: set[str] = set()  # names holding keepdims_shape(s, axis)
    ranks = known_ranks(function)
    quotients: dict[str, tuple] = {}  # c / n for a count n -> (c, n)
    broadcasts: dict[str, Eqn] = {}  # broadcast_to(x, s) of an array x
    booleans: set[str] = set()  # comparisons and logical ops: boolean arrays
    sums: dict[str, Eqn] = {}  # sum_to(x, s)
    products: dict[str, tuple] = {}  # a @ b -> (a, b)

    def visit(eqn: Eqn, scope):
        if len(eqn.outs) != 1:
            return eqn
        eqn = _summed_inside(_unspread(eqn, broadcasts, classes), sums, products, classes)
        scaled = _spread_scaled(eqn, spreads, scalars, floats, names.fresh)
        if scaled is not None:
            product, eqn = scaled
            scalars.add(product.out.name)
            floats.add(product.out.name)
            return [product, visit(eqn, scope)]
        if eqn.op in _ARITHMETIC and all(_is_scalar(a, scalars) for a in eqn.ins):
            scalars.add(eqn.out.name)
            if eqn.op == "truediv" or any(_is_float(a, floats) for a in eqn.ins):
                floats.add(eqn.out.name)
        eqn = _respread(eqn, spreads, shapes, kept_shapes)
        if eqn.op in ("shape", "keepdims_shape", "broadcast_shapes"):
            shapes.add(eqn.out.name)
        if eqn.op == "keepdims_shape":
            kept_shapes.add(eqn.out.name)
        if eqn.op == "broadcast_to" and _is_scalar(eqn.ins[0], scalars):
            spreads[eqn.out.name] = eqn
        if eqn.op in _INEXACT or eqn.op in _ARITHMETIC and any(_is_float(a, inexact) for a in eqn.ins):
            inexact.add(eqn.out.name)
        if eqn.op == "keepdims_shape" and eqn.ins[1:] == (Const(None),):
            all_axes.add(eqn.out.name)
        shape = eqn.static_dict().get("shape")
        if eqn.op == "reshape" and isinstance(shape, Var) and shape.name in all_axes:
            kept_scalars[eqn.out.name] = eqn.ins[0]
        kept = eqn.ins[0] if eqn.op in _SCALES and isinstance(eqn.ins[0], Var) else None
        if kept is not None and kept.name in kept_scalars and _is_scalar(eqn.ins[1], counts) and eqn.out.name in spread:
            # `reshape(v, keepdims_shape(s, None)) / n`, spread to s later, is `v / n` spread to s
            out = Var(names.fresh(f"{eqn.out.name.split('~')[0]}_scalar"), temp=True)
            kept_scalars[eqn.out.name] = out
            classes.learn(eqn)
            return [Eqn((out,), eqn.op, (kept_scalars[kept.name], eqn.ins[1]), (), eqn.loc, eqn.adjoint), eqn]
        if eqn.op in _COUNTS:
            counts.add(eqn.out.name)
            scalars.add(eqn.out.name)
        if eqn.op == "truediv" and isinstance(eqn.ins[1], Var) and eqn.ins[1].name in counts:
            quotients[eqn.out.name] = eqn.ins
        divided = _divided_last(eqn, quotients, scalars, names.fresh)
        if divided is not None:
            return divided
        if eqn.op == "broadcast_to" and isinstance(eqn.ins[0], Var) and eqn.ins[0].name in kept_scalars:
            # A full reduction's cotangent is a scalar: it broadcasts without the reshape.
            eqn = Eqn(eqn.outs, eqn.op, (kept_scalars[eqn.ins[0].name],), eqn.static, eqn.loc, eqn.adjoint)
        spread_times = _times_spread(eqn, spreads, scalars, floats, inexact, classes)
        if isinstance(spread_times, Eqn):
            eqn = spread_times
        same = spread_times if isinstance(spread_times, Var) else _identity(eqn, classes, ranks, booleans)
        if same is None and eqn.op == "neg" and isinstance(eqn.ins[0], Var):
            same = negations.get(eqn.ins[0].name)
        if same is None and eqn.op == "where":
            same = _masked_twice(eqn, masked)
        if same is not None:
            if isinstance(same, Var) and same.temp and not eqn.out.temp:
                inherits.setdefault(same.name, eqn.out)
            return same
        if eqn.op == "neg":
            negations[eqn.out.name] = eqn.ins[0]
        if (
            eqn.op == "broadcast_to"
            and isinstance(eqn.ins[0], Var)
            or eqn.op == "reshape"
            and classes.is_zero_d(eqn.ins[0])
        ):
            broadcasts[eqn.out.name] = eqn
        if eqn.op == "sum_to":
            sums[eqn.out.name] = eqn
        if eqn.op in _BOOLEAN:
            booleans.add(eqn.out.name)
        if eqn.op in _PRODUCTS:
            products[eqn.out.name] = eqn.ins
        classes.learn(eqn)
        return eqn

    simplified = rewrite_function(function, visit)
    # A rule's temporary that stands for a dropped value (`1.0 * (2 * e)` is `2 * e`) takes that
    # value's name (`e_bar`), which says what it holds: unused now, since its equation is gone.
    made = {out.name for stmt in simplified.body for out in defined(stmt)}
    equations = {out.name for eqn in walk(simplified.body) for out in eqn.outs}
    renames = {old: Var(new.name, True) for old, new in inherits.items() if old in equations and new.name not in made}
    return rename_values(simplified, renames)


def _computed(function: Function) -> set[str]:
    """Names that something other than a shape query reads, and the results: values computed anyway."""
    found = {a.name for a in function.results() if isinstance(a, Var)}
    for atom, eqn in _reads(function.body):
        if eqn is None or eqn.op not in ("shape", "size"):
            found.add(atom.name)
    return found


def count_from_values(function: Function) -> Function:
    """`np.size(x)` for `np.size(np.broadcast_to(c, np.shape(y)))`, the count of a mean's cotangent.

    `x` has `y`'s shape, and is a parameter or a top-level value that no element
    write reaches (so reading it anywhere later reads an array of that shape)
    which the function computes anyway, before this count: the first such, so
    as not to keep a value alive (the mean's own operand) only for its size. Run on code without
    dead values, so that "computed anyway" means read by a live equation.
    """
    plain = _never_written(function)
    computed = _computed(function)
    classes = ShapeFacts()
    broadcasts: dict[str, Eqn] = {}
    seen = {p.name for p in function.params}  # defined before the equation visited

    def visit(eqn: Eqn, scope):
        seen.update(out.name for out in eqn.outs)
        if len(eqn.outs) != 1:
            return eqn
        classes.learn(eqn)
        if eqn.op == "broadcast_to":
            broadcasts[eqn.out.name] = eqn
        if eqn.op != "size" or not isinstance(eqn.ins[0], Var) or eqn.ins[0].name not in broadcasts:
            return eqn
        shape = broadcasts[eqn.ins[0].name].static_dict().get("shape")
        source = classes.shape_of.get(shape.name) if isinstance(shape, Var) else None
        if source is None:
            return eqn
        root = classes.find(source)
        candidates = (v for name, v in plain.items() if name in computed and name in seen)
        same = next((v for v in candidates if classes.find(v.name) == root), None)
        return eqn if same is None else Eqn(eqn.outs, "size", (same,), (), eqn.loc, eqn.adjoint)

    function = rewrite_function(function, visit)
    return _count_later(function, plain, computed)


_PINNED = {"tape_new", "tape_push", "tape_pop", "setitem", "add_at"}


def _count_later(function: Function, plain: dict[str, Var], computed: set[str]) -> Function:
    """`np.size(x)` for a top-level `np.size(np.broadcast_to(c, s))` where the first top-level value
    `x` of exactly the shape `s` comes later (`y - p` for the mean of `y * log(p) + ...`, whose
    shape is `np.broadcast_shapes(np.shape(y), np.shape(p))`): the count, and the equations between
    that read it, move to just after `x`. Only pure equations move, and nothing else between reads them."""
    classes = ShapeFacts()
    for eqn in walk(function.body):
        if len(eqn.outs) == 1:
            classes.learn(eqn)
    body = list(function.body)
    made = {eqn.out.name: eqn for eqn in body if isinstance(eqn, Eqn) and len(eqn.outs) == 1}
    for i, eqn in enumerate(body):
        spread = (
            made.get(eqn.ins[0].name)
            if isinstance(eqn, Eqn) and eqn.op == "size" and isinstance(eqn.ins[0], Var)
            else None
        )
        if spread is None or spread.op != "broadcast_to":
            continue
        shape = spread.static_dict().get("shape")
        later = next(
            (j for j in range(i + 1, len(body)) if isinstance(body[j], Eqn) and len(body[j].outs) == 1
             and body[j].out.name in plain and body[j].out.name in computed and classes.has_shape(body[j].out, shape)),
            None,
        )  # fmt: skip
        moved = _readers_before(body, i, later) if later is not None else None
        if moved is None:
            continue
        body[i] = Eqn(eqn.outs, "size", (body[later].out,), (), eqn.loc, eqn.adjoint)
        kept = [stmt for k, stmt in enumerate(body[: later + 1]) if k not in moved]
        body = kept + [body[k] for k in sorted(moved)] + body[later + 1 :]
        return replace(function, body=tuple(body))  # one count per pass: the pipeline runs to a fixed point
    return function


def _readers_before(body: list, i: int, later: int) -> set[int] | None:
    """Positions of `body[i]` and of the statements before `later` that read it, directly or through
    each other: all pure equations, none read by `body[later]` (else None)."""
    moved, names = {i}, {body[i].out.name}
    for k in range(i + 1, later + 1):
        stmt = body[k]
        if not any(isinstance(a, Var) and a.name in names for a in reads(stmt)):
            continue
        if k == later or not isinstance(stmt, Eqn) or stmt.op in _PINNED or stmt.op not in RULES:
            return None
        moved.add(k)
        names.update(out.name for out in stmt.outs)
    return moved
