"""The derivative table: a mapping from op name to a small `Rule` record.

A rule's `vjp` is an ordinary function in the supported subset with signature
`(g, out, *primal_args, **static) -> cotangent(s)`: one cotangent per positional
primal argument, `None` where an argument gets none. Because it is plain NumPy,
the reverse transform inlines its body (lowered once by the frontend) and
symdiff can differentiate the result again. The vjp's own signature doubles as
the op's call signature: positional names after `g, out` are the operands, and
the names in `static` are never differentiated (axis, keepdims, shape).

Built-in rules use `register_derivative`, the same function users call. A
rule whose vjp is defined outside the symdiff package is a *user* rule
(`Rule.user`): the first call of a derivative that uses one checks
(`rules/user_checks.py`) that its cotangents fit their operands (the "Trust" issue: a
scalar cotangent for a vector operand used to be broadcast silently).
`generation()` counts registrations, so caches of built derivatives can tell
that the table changed.

Rules for another library's functions (SciPy's) are registered lazily, so that
`import symdiff` does not import that library: `register_later(module, register)`
keeps `register`, which runs the first time a lookup misses, or a rule is
registered, once `module` is in `sys.modules`. A user's code cannot call
`scipy.special.erf` without having imported `scipy.special`, so every lookup
finds what an eager registration would have found. `resolve_pending(imports=True)`
imports those modules and registers everything now (the derivative table's docs
need the whole table). This module imports only `symdiff.errors`.
"""

from __future__ import annotations

import importlib
import inspect
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from symdiff.errors import DuplicateRule, NoDerivative


@dataclass(frozen=True)
class Rule:
    """One primitive: how to call it, how to print it, how to differentiate it.

    `vjp is None` means the op's outputs have zero derivative by structure
    (constructors, comparisons, shape queries). `vjp_each` is used instead of
    `vjp` by variadic ops (`concatenate`): it returns the cotangent of operand
    `k`. `elementwise` ops get every cotangent summed back to its operand's
    shape by the reverse transform, and may be loop-fused by compiled backends.
    """

    op: str
    func: Callable
    path: str
    vjp: Callable | None = None
    params: tuple[str, ...] = ()
    static: tuple[str, ...] = ()
    defaults: tuple[tuple[str, Any], ...] = ()
    variadic: bool = False
    elementwise: bool = False
    vjp_each: Callable | None = None
    helper: bool = False  # defined in symdiff.rules, copied into standalone modules
    check: Callable | None = field(default=None, compare=False)
    static_first: bool = False  # NumPy spells it f(*static, *operands), as np.einsum does
    sizes: tuple[str, ...] = ()  # operands that are tuples of sizes (np.full's shape): kept as tuples, no derivative
    user: bool = field(default=False, compare=False)  # registered by a user: checked on first use

    @property
    def differentiable(self) -> bool:
        return self.vjp is not None or self.vjp_each is not None


@dataclass(frozen=True)
class Composite:
    """A callable lowered by inlining `impl`, a function in the supported subset."""

    func: Callable
    impl: Callable
    check: Callable | None = field(default=None, compare=False)  # check(bound arguments) may raise


RULES: dict[str, Rule] = {}
_BY_FUNC: dict[Any, Rule | Composite] = {}
_GENERATION = [0]  # registrations so far
_PENDING: list[tuple[str, Callable[[], None]]] = []  # (module, register): run once `module` is imported


def register_later(module: str, register: Callable[[], None]) -> None:
    """Run `register()` (which registers rules for `module`'s functions) once `module` has been
    imported, by the user or by anyone: at the next lookup miss or registration after that."""
    _PENDING.append((module, register))
    resolve_pending()


def resolve_pending(imports: bool = False) -> bool:
    """Run the pending registrations whose module is imported (every one, importing its module,
    with `imports=True`, skipping a module that is not installed); True if any ran."""
    ran = False
    for entry in list(_PENDING):
        module, register = entry
        if module not in sys.modules:
            if not imports:
                continue
            try:
                importlib.import_module(module)
            except ImportError:  # an optional library that is not installed: its spellings stay unknown
                continue
        if entry in _PENDING:  # `register` may register rules, which resolves pending ones too
            _PENDING.remove(entry)
            register()
            ran = True
    return ran


def generation() -> int:
    """How many rules and composites have been registered: part of the key of cached derivatives."""
    return _GENERATION[0]


def _key(func: Any) -> Any:
    try:
        hash(func)
        return func
    except TypeError:
        return id(func)


def default_path(func: Callable) -> str:
    """How generated code spells `func`: `np.tanh`, `np.linalg.norm`, or a helper's name."""
    name = getattr(func, "__name__", str(func))
    module = getattr(func, "__module__", None) or "numpy"
    if module.startswith("numpy"):
        sub = module.split(".")[1:2]
        if sub and sub[0] in ("linalg", "fft", "random"):
            return f"np.{sub[0]}.{name}"
        return f"np.{name}"
    return name


def global_names() -> set[str]:
    """The global names generated code reads: `np`, `operator`, Python's builtins, the shape
    helpers and every rule's callee. A module array the function reads must be given another."""
    import builtins

    from symdiff.rules import shapes

    helpers = {n for n, v in vars(shapes).items() if callable(v) and not n.startswith("_")}
    callees = {rule.path.split(".")[0] for rule in RULES.values()}
    return {"np", "operator", "math", "scipy", "numba"} | set(dir(builtins)) | helpers | callees


def _signature(vjp: Callable, static: tuple[str, ...]):
    sig = inspect.signature(vjp)
    names = list(sig.parameters)[2:]
    variadic = any(p.kind is p.VAR_POSITIONAL for p in sig.parameters.values())
    params = tuple(
        n for n in names if n not in static and sig.parameters[n].kind is not inspect.Parameter.VAR_POSITIONAL
    )
    defaults = tuple(
        (n, sig.parameters[n].default) for n in names if sig.parameters[n].default is not inspect.Parameter.empty
    )
    return params, defaults, variadic


def _add(rule: Rule, aliases: tuple = (), override: bool = False) -> Rule:
    resolve_pending()  # a rule for an imported library's function meets its built-in one, as if eager
    taken = _BY_FUNC.get(_key(rule.func))
    if not override and (rule.op in RULES or taken is not None):
        raise DuplicateRule(
            f"a rule for {rule.op if rule.op in RULES else _describe(rule.func)!r} is already registered",
            hint="pass override=True to register_derivative to replace it",
        )
    RULES[rule.op] = rule
    _GENERATION[0] += 1
    for func in (rule.func, *aliases):
        if override:
            _BY_FUNC[_key(func)] = rule
        else:
            _BY_FUNC.setdefault(_key(func), rule)
    return rule


def _describe(func: Callable) -> str:
    return getattr(func, "__qualname__", None) or getattr(func, "__name__", repr(func))


def register_derivative(
    func: Callable,
    *,
    op: str | None = None,
    static: tuple[str, ...] = (),
    elementwise: bool = False,
    path: str | None = None,
    aliases: tuple = (),
    each: bool = False,
    helper: bool = False,
    check: Callable | None = None,
    static_first: bool = False,
    sizes: tuple[str, ...] = (),
    override: bool = False,
) -> Callable[[Callable], Callable]:
    """Register the vector-Jacobian product of `func`; use as a decorator.

    Example::

        @symdiff.register_derivative(np.tanh, elementwise=True)
        def tanh_vjp(g, out, x):
            return g * (1.0 - out) * (1.0 + out)

    The body must stay inside the supported subset so that generated code can
    be differentiated again. `each=True` registers `vjp(g, out, k, *args)`
    returning the cotangent of the `k`-th of a variable number of operands.
    `check(static_dict)` may raise to reject static arguments at build time.
    `static_first=True` lets a variadic op be called as NumPy's
    `f(*static, *operands)` (`np.einsum(subscripts, a, b)`) as well as
    `f(operands, **static)`. `sizes` names operands that are tuples of sizes
    known only when running (`np.full`'s `shape`): they are passed as tuples,
    never made arrays, and `vjp` returns None for them. `override=True` replaces an existing rule for
    `func` (a built-in one included) instead of raising `DuplicateRule`.
    """

    def add(vjp: Callable) -> Callable:
        target = _without_k(vjp) if each else vjp
        params, defaults, variadic = _signature(target, tuple(static))
        if not set(sizes) <= set(params) or (sizes and variadic):
            raise ValueError(f"sizes={tuple(sizes)!r} must name operands of {vjp.__name__}: {params!r}")
        _add(
            Rule(
                op=op or func.__name__,
                func=func,
                path=path or default_path(func),
                vjp=None if each else vjp,
                vjp_each=vjp if each else None,
                params=params,
                static=tuple(static),
                defaults=defaults,
                variadic=variadic,
                elementwise=elementwise,
                helper=helper,
                check=check,
                static_first=static_first,
                sizes=tuple(sizes),
                user=not (getattr(vjp, "__module__", None) or "").startswith("symdiff."),
            ),
            tuple(aliases),
            override,
        )
        return vjp

    return add


def _without_k(vjp: Callable) -> Callable:
    """A stand-in whose signature is `vjp`'s without the operand index `k`."""
    sig = inspect.signature(vjp)
    params = list(sig.parameters.values())
    stub = lambda *a, **k: None  # only its signature is read
    stub.__signature__ = sig.replace(parameters=params[:2] + params[3:])
    return stub


def register_nondiff(
    func: Callable,
    *,
    op: str | None = None,
    path: str | None = None,
    aliases: tuple = (),
    helper: bool = False,
    check: Callable | None = None,
) -> Callable:
    """Declare `func` as having zero derivative by structure (constructors, comparisons).

    `check(keywords)` receives the call's keyword arguments as atoms and may
    raise to refuse them at build time.
    """
    _add(
        Rule(op=op or func.__name__, func=func, path=path or default_path(func), helper=helper, check=check),
        tuple(aliases),
    )
    return func


def register_composite(func: Callable, *, check: Callable | None = None) -> Callable[[Callable], Callable]:
    """Lower calls to `func` by inlining `impl`, written in the supported subset.

    `check(arguments)` receives the call's arguments by name (atoms or constants)
    and raises a SymdiffError for the cases `impl` does not cover.
    """

    def add(impl: Callable) -> Callable:
        resolve_pending()
        _BY_FUNC[_key(func)] = Composite(func, impl, check)
        _GENERATION[0] += 1
        return impl

    return add


def lookup_callable(func: Any) -> Rule | Composite | None:
    """The rule or composite for a Python callable, or None if it has none.

    A standalone module written by `symdiff.emit` carries copies of the shape
    helpers; a copy with the same name and bytecode is the same primitive.
    """
    try:
        found = _BY_FUNC.get(_key(func))
        if found is None and _PENDING and resolve_pending():
            found = _BY_FUNC.get(_key(func))
    except TypeError:
        return None
    if found is None and inspect.isfunction(func):
        for rule in RULES.values():
            original = rule.func
            same_name = inspect.isfunction(original) and original.__name__ == func.__name__
            if rule.helper and same_name and original.__code__.co_code == func.__code__.co_code:
                return rule
    return found


def add_aliases(op: str, *aliases: Any) -> None:
    """Let the rule for `op` also answer calls to `aliases` (another library's spellings of it)."""
    found = RULES[op]
    for func in aliases:
        _BY_FUNC.setdefault(_key(func), found)
    _GENERATION[0] += 1


def rule(op: str) -> Rule:
    """The rule for `op`; a missing op is a symdiff bug surfaced as NoDerivative."""
    try:
        return RULES[op]
    except KeyError:
        raise NoDerivative(f"no rule is registered for op {op!r}") from None
