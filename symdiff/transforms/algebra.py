"""Simplify whole elementwise adjoint expressions with SymPy.

The derivative table works one primitive at a time, so the backward pass of
`p = 1 / (1 + np.exp(-z))` is `p_bar * p / p_4 * p_3` (three saved arrays),
and the logistic loss `y * log(p) + (1 - y) * log(1 - p)` gives a chain of
eight elementwise passes whose value is just `y - p`. This pass takes each
adjoint expression tree (the elementwise backward equations that feed one
another), writes it as a SymPy expression, and rewrites it through the
forward relations between the saved values (`p = 1 / p_4` means
`p_4 = 1 / p`; `p_4 = 1 + p_3` means `p_3 = p_4 - 1`), trying each saved
value of a chain as the one the others are expressed in. `sympy.cancel` and
`sympy.factor` then do the algebra; a candidate replaces the tree only when
it has fewer operations plus saved values. Fewer saved values matter most in
loops: every one is a list push and pop per iteration.

A `sum_to` inside the tree (undoing broadcasting) is lifted to the root when
that is exact for every shape: `sum_to(a, s) * b == sum_to(a * b, s)` when
`b` has shape `s`, and `sum_to(a, s) + sum_to(c, s) == sum_to(a + c, s)` when
`a` and `c` provably have one shape. Otherwise it stays a leaf.

Runs in the reverse transform, before loops decide what to save.
"""

from __future__ import annotations

import functools
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from symdiff.analysis.shapes import ShapeClasses
from symdiff.ir.nodes import Atom, Const, Eqn, Function, Var, reads, walk
from symdiff.rules import RULES

# Backward ops a tree is built from (all elementwise and rational or unary).
_BINARY = {"add", "sub", "mul", "truediv"}
_TREE_OPS = _BINARY | {"neg"}
# Forward ops whose operand can be recovered from their result: op -> position of the operand.
_INVERTIBLE = {"add", "sub", "mul", "truediv", "neg"}


@dataclass
class Forward:
    """What the backward pass may use about the forward program: definitions, consumers, shapes."""

    defs: dict[str, Eqn] = field(default_factory=dict)
    consumers: dict[str, list[Eqn]] = field(default_factory=dict)
    classes: ShapeClasses = field(default_factory=ShapeClasses)
    params: set[str] = field(default_factory=set)
    component_memo: dict[str, frozenset[str]] = field(default_factory=dict, repr=False)

    @classmethod
    def of(cls, function: Function) -> Forward:
        facts = cls(params={p.name for p in function.params})
        for eqn in walk(function.body):
            for out in eqn.outs:
                facts.defs[out.name] = eqn
            for atom in set(eqn.ins):
                if isinstance(atom, Var):
                    facts.consumers.setdefault(atom.name, []).append(eqn)
            facts.classes.learn(eqn)
        return facts

    def components(self, name: str) -> frozenset[str]:
        """Shape classes whose broadcast is the shape of `name` (its elementwise leaves).

        The elementwise definitions form a DAG in which a value is read many times
        (`h = h + np.tanh(h * w)` reads `h` twice per step), so an unmemoised walk is
        exponential in the program's length. Results are memoised per name and the
        walk keeps its own stack, so neither time nor Python recursion grows with it.
        """
        memo = self.component_memo
        if name in memo:
            return memo[name]
        stack = [(name, self._elementwise_operands(name))]
        path = {name}  # the names being walked: one met again closes a cycle
        while stack:
            top, operands = stack[-1]
            below = next((n for n in operands or () if n not in memo and n not in path), None)
            if below is not None:
                stack.append((below, self._elementwise_operands(below)))
                path.add(below)
                continue
            stack.pop()
            path.discard(top)
            memo[top] = self._combine(top, operands)
        return memo[name]

    def _elementwise_operands(self, name: str) -> list[str] | None:
        """The names an elementwise `name` broadcasts together, or None when `name` is a leaf
        (not defined by an elementwise op, a `where`, or combined with a non-scalar constant)."""
        eqn = self.defs.get(name)
        rule = RULES.get(eqn.op) if eqn is not None else None
        if eqn is None or rule is None or not rule.elementwise or eqn.op == "where":
            return None
        if any(isinstance(a, Const) and not isinstance(a.value, (int, float)) for a in eqn.ins):
            return None
        return [a.name for a in eqn.ins if isinstance(a, Var)]

    def _combine(self, name: str, operands: list[str] | None) -> frozenset[str]:
        found: set[str] = set()
        for operand in operands or ():
            # an operand still being walked closes a cycle: it counts as its own class
            found |= self.component_memo.get(operand) or {self.classes.find(operand)}
        return frozenset(found or {self.classes.find(name)})


# -- trees of backward equations ----------------------------------------------


@dataclass
class Tree:
    """An adjoint expression: `op` over children, or a leaf `atom`."""

    op: str | None
    children: tuple[Tree, ...] = ()
    atom: Atom | None = None
    shape: Atom | None = None  # the target of a sum_to node
    eqns: tuple[Eqn, ...] = ()  # the backward equations this subtree replaces


# The most backward equations one tree may hold. A longer adjoint expression (the
# accumulation `w_bar = w_bar + ...` over a 1000-statement function is one tree as
# deep as the program) is cut into trees of at most this size: each goes to SymPy
# on its own, which keeps SymPy's superlinear work and the recursion over trees bounded.
MAX_TREE = 64


def _grow(root: Eqn, local: dict[str, Eqn], uses: dict[str, int], cut: list[Eqn], sum_to: bool = True) -> Tree:
    """The tree of `root` and the single-use tree equations below it, taken nearest the
    root first up to `MAX_TREE`; the equations beyond go to `cut` (roots of trees of
    their own). With `sum_to=False` a `sum_to` below the root is a leaf. No recursion."""
    expanded: dict[str, Eqn] = {}  # in breadth-first order
    queue = deque(_operands(root))
    while queue:
        atom = queue.popleft()
        eqn = local.get(atom.name) if isinstance(atom, Var) else None
        if eqn is None or uses.get(atom.name, 0) != 1 or eqn.op not in _TREE_OPS | ({"sum_to"} if sum_to else set()):
            continue
        if len(expanded) + 1 >= MAX_TREE:
            cut.append(eqn)
            continue
        expanded[atom.name] = eqn
        queue.extend(_operands(eqn))
    trees: dict[str, Tree] = {}
    for name, eqn in reversed(expanded.items()):  # children before their parents
        trees[name] = _node(eqn, trees)
    return _node(root, trees)


def _operands(eqn: Eqn) -> tuple[Atom, ...]:
    """The operands that are children in a tree (a `sum_to`'s shape is not)."""
    return eqn.ins[:1] if eqn.op == "sum_to" else eqn.ins


def _node(eqn: Eqn, trees: dict[str, Tree]) -> Tree:
    children = tuple(trees.get(a.name) if isinstance(a, Var) and a.name in trees else Tree(None, atom=a)
                     for a in _operands(eqn))  # fmt: skip
    shape = eqn.static_dict().get("shape") if eqn.op == "sum_to" else None
    return Tree(eqn.op, children, shape=shape, eqns=(*(e for c in children for e in c.eqns), eqn))


def _sum_to_eqns(tree: Tree) -> list[Eqn]:
    """The sum_to equations directly in `tree` (not below another sum_to)."""
    if tree.op == "sum_to":
        return [tree.eqns[-1]]
    return [e for c in tree.children for e in _sum_to_eqns(c)]


def _leaves(tree: Tree) -> list[Atom]:
    if tree.op is None:
        return [tree.atom]
    return [a for c in tree.children for a in _leaves(c)]


def _has_sum_to(tree: Tree) -> bool:
    return tree.op == "sum_to" or any(_has_sum_to(c) for c in tree.children)


# -- lifting sum_to to the root -------------------------------------------------


class _Lift:
    """Decides whether every `sum_to` in a tree can move to its root (see the module docstring)."""

    def __init__(self, forward: Forward, local: dict[str, Eqn]):
        self.forward, self.local = forward, local
        self.target: Atom | None = None  # the shape every sum_to reduces to
        self.cls: str | None = None  # shape class of that target

    def full(self, tree: Tree) -> bool:
        """`tree` has exactly the target's shape (or is a scalar constant)."""
        if tree.op is None:
            atom = tree.atom
            if isinstance(atom, Const):
                return isinstance(atom.value, (int, float))
            return self.forward.classes.find(atom.name) == self.cls
        if tree.op == "sum_to":
            return False
        return all(self.full(c) for c in tree.children)

    def kind(self, tree: Tree) -> str | None:
        """Kind of `tree`: "full", "lifted" (has a sum_to that can move up) or None (cannot lift)."""
        if tree.op == "sum_to":
            if not self.same_target(tree.shape):
                return None
            inner = tree.children[0]
            # sum_tos below this one are dropped with it only where they lift too: dropping one
            # under an add of a narrower term would broadcast that term, and count it per row.
            return "lifted" if not _has_sum_to(inner) or self.kind(inner) is not None else None
        if not _has_sum_to(tree):
            return "full" if self.full(tree) else None
        kinds = [self.kind(c) for c in tree.children]
        if None in kinds:
            return None
        if tree.op == "neg":
            return kinds[0]
        if tree.op == "mul" and "full" in kinds:
            return "lifted"
        if tree.op == "truediv" and kinds == ["lifted", "full"]:
            return "lifted"
        if tree.op in ("add", "sub") and kinds == ["lifted", "lifted"]:
            widths = {self.width(c) for c in tree.children}
            return "lifted" if len(widths) == 1 and None not in widths else None
        return None

    def same_target(self, shape: Atom) -> bool:
        source = self._shape_source(shape)
        if source is None:
            return False
        if self.target is None:
            self.target, self.cls = shape, self.forward.classes.find(source)
        return self.forward.classes.find(source) == self.cls

    def _shape_source(self, shape: Atom) -> str | None:
        eqn = self.local.get(shape.name) if isinstance(shape, Var) else None
        if eqn is None or eqn.op != "shape" or not isinstance(eqn.ins[0], Var):
            return None
        return eqn.ins[0].name

    def width(self, tree: Tree) -> str | None:
        """The shape below the lifted sum_tos, when it is provably one known shape."""
        inners = _sum_to_inners(tree)
        widths = {self._inner_width(t) for t in inners}
        return widths.pop() if len(widths) == 1 else None

    def _inner_width(self, tree: Tree) -> str | None:
        leaves = _leaves(tree)
        wide = [
            a for a in leaves if isinstance(a, Var) and a.name in self.local and self.local[a.name].op == "broadcast_to"
        ]
        shapes = {self.local[a.name].static_dict()["shape"] for a in wide}
        if len(shapes) != 1:
            return None
        shape = shapes.pop()
        source = self._shape_source(shape)
        if source is None:
            return None
        parts = self.forward.components(source)
        for atom in leaves:
            if isinstance(atom, Const):
                if not isinstance(atom.value, (int, float)):
                    return None
            elif atom not in wide and self.forward.classes.find(atom.name) not in parts:
                return None
        return shape.name


def _sum_to_inners(tree: Tree) -> list[Tree]:
    if tree.op == "sum_to":
        return [tree.children[0]]
    return [t for c in tree.children for t in _sum_to_inners(c)]


def _drop_sum_tos(tree: Tree) -> Tree:
    if tree.op == "sum_to":
        return _drop_sum_tos(tree.children[0])
    if tree.op is None:
        return tree
    return Tree(tree.op, tuple(_drop_sum_tos(c) for c in tree.children), eqns=tree.eqns)


# -- SymPy ------------------------------------------------------------------


def _sympy():
    import sympy

    return sympy


def _number(value):
    """An exact SymPy number for a Python int or float (`0.01` -> 1/100, which prints back as 0.01)."""
    sp = _sympy()
    return sp.Integer(value) if isinstance(value, int) else sp.Rational(repr(value))


def _to_sympy(tree: Tree, symbols: dict):
    sp = _sympy()
    if tree.op is None:
        atom = tree.atom
        if isinstance(atom, Const):
            return _number(atom.value)
        if atom.name not in symbols:
            symbols[atom.name] = sp.Symbol(f"v{len(symbols)}")
        return symbols[atom.name]
    args = [_to_sympy(c, symbols) for c in tree.children]
    if tree.op == "add":
        return args[0] + args[1]
    if tree.op == "sub":
        return args[0] - args[1]
    if tree.op == "mul":
        return args[0] * args[1]
    if tree.op == "truediv":
        return args[0] / args[1]
    return -args[0]


def _relation(eqn: Eqn, operand: str, result, sp):
    """`operand` in terms of `result` (the sympy symbols), from the forward `eqn`; None if not invertible."""
    if eqn.op not in _INVERTIBLE or len(eqn.outs) != 1:
        return None
    consts = [a for a in eqn.ins if not (isinstance(a, Var) and a.name == operand)]
    if len(consts) != len(eqn.ins) - 1 or not all(
        isinstance(c, Const) and isinstance(c.value, (int, float)) for c in consts
    ):
        return None
    c = _number(consts[0].value) if consts else None
    first = isinstance(eqn.ins[0], Var) and eqn.ins[0].name == operand
    if eqn.op == "neg":
        return -result
    if eqn.op == "add":
        return result - c
    if eqn.op == "sub":
        return result + c if first else c - result
    if eqn.op == "mul":
        return None if c == 0 else result / c
    return result * c if first else c / result  # truediv


def _definition(eqn: Eqn, operand: str, operand_symbol, sp):
    """The result of the forward `eqn` in terms of `operand`'s symbol (constants elsewhere)."""
    if eqn.op not in _INVERTIBLE or len(eqn.outs) != 1:
        return None
    args = []
    for a in eqn.ins:
        if isinstance(a, Var) and a.name == operand:
            args.append(operand_symbol)
        elif isinstance(a, Const) and isinstance(a.value, (int, float)):
            args.append(_number(a.value))
        else:
            return None
    if eqn.op == "neg":
        return -args[0]
    return {"add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b,
            "truediv": lambda a, b: a / b}[eqn.op](*args)  # fmt: skip


def _chains(names: list[str], forward: Forward, params: set[str]) -> list[list[tuple[str, str]]]:
    """Groups of values linked by invertible forward ops, as edges (operand, result): the
    saved values `names`, plus the arguments they are made from (arguments cost nothing)."""
    present = set(names)
    edges = []
    for name in names:
        eqn = forward.defs.get(name)
        if eqn is None or eqn.op not in _INVERTIBLE or len(eqn.outs) != 1:
            continue
        operands = [a.name for a in eqn.ins if isinstance(a, Var)]
        if len(operands) == 1 and (operands[0] in present or operands[0] in params) and operands[0] != name:
            edges.append((operands[0], name))
    nodes = list(dict.fromkeys([*names, *(a for a, _ in edges)]))
    groups: dict[str, set[str]] = {n: {n} for n in nodes}
    for a, b in edges:
        merged = groups[a] | groups[b]
        for n in merged:
            groups[n] = merged
    seen, out = set(), []
    for n in nodes:
        key = frozenset(groups[n])
        if len(key) > 1 and key not in seen:
            seen.add(key)
            out.append([e for e in edges if e[0] in key])
    return out


def _express(rep: str, members: set[str], edges, forward: Forward, symbols: dict, sp) -> dict | None:
    """Each member of a chain as an expression in `rep`'s symbol, walking the edges both ways."""
    known = {rep: symbols[rep]}
    frontier = [rep]
    while frontier:
        name = frontier.pop()
        for a, b in edges:
            if a == name and b not in known:  # b = f(a)
                value = _definition(forward.defs[b], a, known[a], sp)
            elif b == name and a not in known:  # a = f^-1(b)
                value = _relation(forward.defs[b], a, known[b], sp)
                b, a = a, b
            else:
                continue
            if value is None:
                return None
            known[b] = value
            frontier.append(b)
    if set(known) != members:
        return None
    return {symbols[n]: v for n, v in known.items() if n != rep}


# -- back to equations --------------------------------------------------------


class _Emit:
    """SymPy expression -> backward equations, written the way a person would."""

    def __init__(self, atoms: dict, fresh: Callable[[str], str], hint: str, loc):
        self.atoms, self.fresh, self.hint, self.loc = atoms, fresh, hint, loc
        self.eqns: list[Eqn] = []

    def op(self, name: str, *ins: Atom) -> Var:
        out = Var(self.fresh(self.hint), temp=True)
        self.eqns.append(Eqn((out,), name, tuple(ins), (), self.loc, True))
        return out

    def __call__(self, expr) -> Atom:
        sp = _sympy()
        if expr.is_Symbol:
            return self.atoms[expr]
        if expr.is_Number:
            if expr.is_Integer:
                return Const(float(int(expr)))
            if expr.is_Rational or expr.is_Float:
                return Const(float(expr))
            raise _Unsupported
        if expr.is_Add:
            terms = sorted(expr.args, key=lambda t: (not t.is_Number, t.could_extract_minus_sign()))
            plus = [t for t in terms if not t.could_extract_minus_sign()]
            minus = [-t for t in terms if t.could_extract_minus_sign()]
            if not plus:
                return self.op("neg", self(sp.Add(*minus)))
            acc = self(plus[0])
            for t in plus[1:]:
                acc = self.op("add", acc, self(t))
            for t in minus:
                acc = self.op("sub", acc, self(t))
            return acc
        if expr.is_Mul:
            coeff, factors = expr.as_coeff_mul()
            factors = list(factors)
            if coeff < 0:  # -(o - 1) reads better as (1 - o)
                flip = next((k for k, f in enumerate(factors) if f.is_Add), None)
                if flip is not None:
                    factors[flip] = sp.expand(-factors[flip])
                    coeff = -coeff
            num = [f for f in factors if not (f.is_Pow and f.exp.is_negative)]
            den = [1 / f for f in factors if f.is_Pow and f.exp.is_negative]
            acc = None
            for f in num:
                acc = self(f) if acc is None else self.op("mul", acc, self(f))
            if abs(coeff) != 1:
                acc = self.op("mul", Const(float(abs(coeff))), acc) if acc is not None else Const(float(abs(coeff)))
            if acc is None:
                acc = Const(1.0)
            for f in den:
                acc = self.op("truediv", acc, self(f))
            return self.op("neg", acc) if coeff < 0 else acc
        if expr.is_Pow and expr.exp.is_Integer:
            n = int(expr.exp)
            if n < 0:
                return self.op("truediv", Const(1.0), self(expr.base**-n))
            if 1 < n <= 3:
                base = self(expr.base)
                acc = base
                for _ in range(n - 1):
                    acc = self.op("mul", acc, base)
                return acc
        raise _Unsupported


class _Unsupported(Exception):
    pass


def _cost(expr, atoms) -> int | None:
    counter = iter(range(10**6))
    emit = _Emit(atoms, lambda hint: f"_{next(counter)}", "", None)
    try:
        emit(expr)
    except _Unsupported:
        return None
    return len(emit.eqns)


@functools.lru_cache(maxsize=4096)
def _cancelled(expr):
    """`expr` as one fraction in lowest terms (cached: the same trees recur in every build)."""
    return _sympy().cancel(expr)


@functools.lru_cache(maxsize=4096)
def _factored(expr):
    return _sympy().factor(expr)


# -- the pass -------------------------------------------------------------------


def simplify_adjoints(block: list, forward: Forward, keep, fresh: Callable[[str], str]) -> list:
    """`block` (backward equations) with each elementwise adjoint tree simplified.

    `keep` are atoms read after the block (adjoints it hands on); `fresh` makes
    new names. Equations of a replaced tree are dropped; nested blocks are left alone.
    """
    block = _live(block, keep)
    uses: dict[str, int] = {}
    for atom in [a for stmt in block for a in reads(stmt)] + list(keep):
        if isinstance(atom, Var):
            uses[atom.name] = uses.get(atom.name, 0) + 1
    local = {e.out.name: e for e in block if isinstance(e, Eqn) and len(e.outs) == 1}
    users: dict[str, Eqn] = {}
    for stmt in block:
        if isinstance(stmt, Eqn):
            for a in stmt.ins:
                if isinstance(a, Var):
                    users[a.name] = stmt
    roots = []
    for stmt in block:
        if not isinstance(stmt, Eqn) or stmt.op not in _TREE_OPS | {"sum_to"} or not stmt.adjoint:
            continue
        user = users.get(stmt.out.name)
        if uses.get(stmt.out.name) == 1 and user is not None and user.op in _TREE_OPS | {"sum_to"}:
            continue  # an inner node of a bigger tree
        roots.append(stmt)
    replaced: dict[int, list[Eqn]] = {}
    dropped: set[int] = set()
    while roots:
        root = roots.pop()
        if id(root) in dropped:
            continue
        new, inner_roots = _rewrite(root, local, uses, forward, fresh)
        roots += inner_roots
        if new is not None:
            eqns, tree_eqns = new
            replaced[id(root)] = eqns
            dropped.update(id(e) for e in tree_eqns if e is not root)
    out = []
    for stmt in block:
        if id(stmt) in replaced:
            out.extend(replaced[id(stmt)])
        elif id(stmt) not in dropped:
            out.append(stmt)
    return out


def _live(block: list, keep) -> list:
    """`block` without the equations whose results nothing reads (a rule's unused cotangents):
    they would count as uses and hide trees, and loops would save values for them."""
    live = {a.name for a in keep if isinstance(a, Var)}
    out = []
    for stmt in reversed(block):
        if isinstance(stmt, Eqn) and not any(o.name in live for o in stmt.outs):
            continue
        live.update(a.name for a in reads(stmt) if isinstance(a, Var))
        out.append(stmt)
    return out[::-1]


def _rewrite(root: Eqn, local, uses, forward: Forward, fresh):
    """(new equations, replaced equations) or None for the tree rooted at `root`, and the
    equations below it left for trees of their own: sum_tos that were not lifted, and
    what did not fit in the tree (see `MAX_TREE`)."""
    cut: list[Eqn] = []
    tree = _grow(root, local, uses, cut)
    target, merged = None, False
    if _has_sum_to(tree):
        lift = _Lift(forward, local)
        if lift.kind(tree) == "lifted":
            merged = len(_sum_to_eqns(tree)) > 1
            target, tree = lift.target, _drop_sum_tos(tree)
        elif root.op == "sum_to":
            return None, cut
        else:  # keep the sum_tos (and what is below them) as they are
            cut = []
            tree = _grow(root, local, uses, cut, sum_to=False)
            below = [local[a.name] for a in _leaves(tree) if isinstance(a, Var) and uses.get(a.name) == 1
                     and a.name in local and local[a.name].op == "sum_to"]  # fmt: skip
            cut = below + cut
    return _algebra(root, tree, target, merged, forward, fresh), cut


def _algebra(root: Eqn, tree: Tree, target, merged: bool, forward: Forward, fresh):
    leaves = [a.name for a in _leaves(tree) if isinstance(a, Var) and a.name in forward.defs]
    names = list(dict.fromkeys(leaves))
    chains = _chains(names, forward, forward.params)
    if not chains and not merged:
        return None  # nothing SymPy could improve: spare the build time
    sp = _sympy()
    symbols: dict[str, object] = {}
    try:
        expr = _to_sympy(tree, symbols)
    except (TypeError, ValueError):
        return None
    atoms = {s: Var(n) for n, s in symbols.items()}
    original_vars = {a for a in _leaves(tree) if isinstance(a, Var)}
    for a in original_vars:
        atoms[symbols[a.name]] = a

    def score(e):  # operations plus saved arrays (arguments are free)
        ops = _cost(e, atoms)
        return None if ops is None else ops + sum(1 for s in e.free_symbols if atoms[s].name in forward.defs)

    best, best_score = None, len(tree.eqns) - (1 if target is not None else 0) + len(set(names))
    candidates = [expr]
    for edges in chains:
        members = sorted({n for e in edges for n in e}, key=lambda n: (n not in symbols, n))  # deterministic
        for n in members:
            if n not in symbols:
                symbols[n] = sp.Symbol(f"v{len(symbols)}")
                atoms[symbols[n]] = Var(n)
        options = []
        for rep in members:
            mapping = _express(rep, set(members), edges, forward, symbols, sp)
            if mapping is not None:
                options.append(mapping)
        candidates = [c.subs(m) for c in candidates for m in options][:16] or candidates
    scored = []
    for candidate in candidates:
        form = _cancelled(candidate)
        s = score(form) if _keeps_shape(form, expr, atoms, forward) else None
        if s is not None:
            scored.append((s, len(scored), form))
    for _, _, form in sorted(scored)[:2]:  # factor only the most promising (factoring is the slow part)
        for option in (form, _factored(form)):
            s = score(option)
            if s is not None and s < best_score:
                best, best_score = option, s
    if best is None or best.is_Atom:
        return None
    emit = _Emit(atoms, fresh, root.out.name.split("~")[0], root.loc)
    value = emit(best)
    if target is not None:
        value = emit.op("sum_to", value)
        emit.eqns[-1] = Eqn(emit.eqns[-1].outs, "sum_to", emit.eqns[-1].ins, (("shape", target),), root.loc, True)
    last = emit.eqns[-1]
    emit.eqns[-1] = Eqn(root.outs, last.op, last.ins, last.static, root.loc, True)
    return emit.eqns, tree.eqns


def _keeps_shape(new, old, atoms, forward: Forward) -> bool:
    """Every array the old expression broadcast over is still represented (by itself or a
    value known to share its shape), so the result's shape cannot shrink."""
    new_classes = {forward.classes.find(atoms[s].name) for s in new.free_symbols}
    return all(forward.classes.find(atoms[s].name) in new_classes for s in old.free_symbols)
