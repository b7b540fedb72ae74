"""Higher-order operators composed from `vjp` and `grad` (JAX-style).

- `hvp`: forward over reverse, the tangent of the generated gradient along
  `v` (transforms/forward.py); about two gradients' cost and no Hessian is
  formed. Where an op has no tangent rule yet, reverse over reverse: the
  gradient of `sum(grad(f)(x) * v)`.
- `jvp`: native forward mode (transforms/forward.py): the function with each
  statement's tangent beside it. Where an op has no tangent rule yet, the
  double-vjp trick: `vjp(f)(x, u)` is linear in `u`, so the gradient of
  `sum(vjp(f)(x, u) * t)` with respect to `u` is `J t`.
- `hessian`, `jacobian`: dense matrices from one batched pass with every
  direction (forward over reverse, forward mode), or one hvp or vjp per
  column/row; where the traced sparsity pattern lets columns share a direction
  (`sparsity.py`), from a compressed pass with one direction per colour.
- `emit_hessian`: a standalone module computing the dense Hessian (what
  `symdiff hessian` writes).
Each result has `.source`, `.primal` and `.wrt` like the basic operators.
"""

from __future__ import annotations

import functools
import inspect
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from symdiff.api import Derivative, Wrt, _generated_once, _header, _write_module, build, readable_function
from symdiff.codegen.standalone import module_source
from symdiff.compose import SourceFunction, fresh_param, identifier
from symdiff.directions import unit_directions
from symdiff.errors import BackendError, BadWrt
from symdiff.sparsity import Sparsity, hessian_tracer, jacobian_tracer
from symdiff.structured import Deferred
from symdiff.transforms.forward import NoTangentRule


def _params(f: Callable) -> list[str]:
    source = getattr(f, "__symdiff_source__", None)
    if isinstance(f, Derivative):
        return [p.name for p in f.function.params]
    if isinstance(f, Composite):
        return _params(f._call)
    if source is not None and hasattr(f, "_function"):
        return list(inspect.signature(f._function).parameters)
    return list(inspect.signature(f).parameters)


def _single_wrt(f: Callable, wrt: Wrt) -> str:
    names = _params(f)
    if isinstance(wrt, (tuple, list)):
        if len(wrt) != 1:
            raise BadWrt("this operator takes a single wrt argument", hint="call it once per argument")
        wrt = wrt[0]
    if isinstance(wrt, str):
        if wrt not in names:
            raise BadWrt(f"no argument {wrt!r}; the arguments are {', '.join(names)}")
        return wrt
    if isinstance(wrt, bool) or not isinstance(wrt, int) or not -len(names) <= wrt < len(names):
        raise BadWrt(f"wrt={wrt!r} is not an argument index of a function with {len(names)} arguments")
    return names[wrt]


class Composite:
    """The result of a higher-order operator: a callable with `.source`, `.primal`, `.wrt`."""

    def __init__(self, primal: Callable, wrt: str, inner: Derivative, call: Callable, kind: str):
        self.primal, self.wrt, self.inner, self._call, self.kind = primal, (wrt,), inner, call, kind
        self.__name__ = f"{getattr(primal, '__name__', 'f')}_{kind}"
        if hasattr(call, "__symdiff_source__"):  # called inside a function being differentiated: read as code
            self.__symdiff_source__ = call.__symdiff_source__

    @property
    def source(self) -> str:
        """The generated source (of the last call's shapes, for a derivative built by shape)."""
        return self.inner.source

    def __call__(self, *args: Any) -> Any:
        return self._call(*args)

    def __repr__(self) -> str:
        return f"<symdiff {self.kind} of {getattr(self.primal, '__name__', '?')} wrt {self.wrt[0]}>"

    def _repr_markdown_(self) -> str:
        """Jupyter shows the generated source, highlighted as Python."""
        return f"```python\n{self.source}```"


def _wrapper(f: Callable, inner: Callable, extra: str, body: str, kind: str) -> SourceFunction:
    names = _params(f)
    extra_name = fresh_param(names, extra)
    name = f"{identifier(f)}_{kind}_of"
    args = ", ".join(names)
    text = f"def {name}({args}, {extra_name}):\n    return {body.format(args=args, extra=extra_name)}\n"
    return SourceFunction(text, {"np": np, "inner": inner}, name)


def hvp(f: Callable, wrt: Wrt = 0, *, backend: str = "numpy", argnum: Wrt | None = None) -> Composite:
    """Hessian-vector product: `hvp(f)(*args, v)` is H(args) @ v without forming H.

    Example: `symdiff.hvp(loss, wrt="w")(w, x, y, v)` has the shape of `w`.
    `backend` compiles the final program, as for `grad`.
    """
    f, wrt = readable_function(f), wrt if argnum is None else argnum  # argnum: autograd's name for wrt
    name = _single_wrt(f, wrt)
    g = build(f, name, "grad", "numpy")
    try:  # forward over reverse: the gradient's tangent along v, one forward pass through its code
        forward = build(g, name, "tangent", backend) if isinstance(g, Derivative) else None
    except NoTangentRule:
        forward = None
    if not isinstance(forward, Derivative):  # reverse over reverse: the gradient of sum(grad(f)(x) * v)
        wrapped = _wrapper(f, g, "v", "np.sum(inner({args}) * {extra})", "hvp")
        inner = build(wrapped, name, "grad", backend)
        return Composite(f, name, inner, inner, "hvp")
    call = _wrapper(f, forward, "v", "inner({args}, {extra})", "hvp")
    return Composite(f, name, forward, call, "hvp")


def jvp(f: Callable, wrt: Wrt = 0, *, backend: str = "numpy", argnum: Wrt | None = None) -> Composite:
    """Forward mode: `jvp(f)(*args, tangent)` returns `(f(*args), J @ tangent)`.

    Example: `value, slope = symdiff.jvp(np_fn)(x, direction)`. The generated code is the
    function with each statement's tangent after it (transforms/forward.py), one pass, no tape.
    A function using an op that has no tangent rule yet (rules/tangents.py) is differentiated
    by the double-vjp trick instead: the same numbers, through a reverse pass.
    """
    f, wrt = readable_function(f), wrt if argnum is None else argnum  # argnum: autograd's name for wrt
    name = _single_wrt(f, wrt)
    try:
        forward = build(f, name, "jvp", backend)
    except NoTangentRule:
        return _jvp_by_reverse(f, name, backend)
    if not isinstance(forward, Derivative):  # built per call (structure or shapes): reverse mode knows how
        return _jvp_by_reverse(f, name, backend)
    return Composite(f, name, forward, forward, "jvp")


def _jvp_by_reverse(f: Callable, name: str, backend: str) -> Composite:
    """`jvp` by the double-vjp trick: the gradient of `sum(vjp(f)(x, u) * t)` with respect to `u`."""
    back = build(f, name, "vjp", "numpy")
    names = _params(f)
    seed = fresh_param(names + ["tangent"], "u")
    tangent = fresh_param(names + [seed], "tangent")
    label = f"{identifier(f)}_jvp_of"
    args = ", ".join(names)
    text = f"def {label}({args}, {seed}, {tangent}):\n    return np.sum(inner({args}, {seed}) * {tangent})\n"
    wrapped = SourceFunction(text, {"np": np, "inner": back}, label)
    inner = build(wrapped, seed, "grad", backend)

    label = f"{identifier(f)}_jvp"
    text = (
        f"def {label}({args}, {tangent}):\n    value = primal({args})\n"
        f"    return value, inner({args}, np.zeros_like(value) + 0.0, {tangent})\n"
    )  # source, so that a function calling this jvp can be differentiated in turn
    call = SourceFunction(text, {"np": np, "primal": f, "inner": inner}, label)
    return Composite(f, name, inner, call, "jvp")


def elementwise_grad(f: Callable, wrt: Wrt = 0, *, backend: str = "numpy", argnum: Wrt | None = None) -> Composite:
    """autograd's `elementwise_grad`: `vjp(f)(*args, ones)`, the derivative of each output
    element with respect to the input element it is computed from (f applied elementwise).

    Example: `symdiff.elementwise_grad(np.tanh)` is 1 - tanh(x)**2 at every x; it nests
    (`elementwise_grad(elementwise_grad(f))`) as it is a function with source.
    """
    f, wrt = readable_function(f), wrt if argnum is None else argnum  # argnum: autograd's name for wrt
    name = _single_wrt(f, wrt)
    back = build(f, name, "vjp", backend)
    args = ", ".join(_params(f))
    label = f"{identifier(f)}_egrad"
    text = f"def {label}({args}):\n    return inner({args}, np.ones_like(primal({args})) + 0.0)\n"
    call = SourceFunction(text, {"np": np, "primal": f, "inner": back}, label)
    return Composite(f, name, back, call, "egrad")


def jacobian(f: Callable, wrt: Wrt = 0, *, backend: str = "numpy", argnum: Wrt | None = None,
             sparsity: bool = True) -> Composite:  # fmt: skip
    """Dense Jacobian, shape `out.shape + x.shape`. Where its traced sparsity pattern lets columns
    that share no row share a direction, and that takes at most half the directions, one compressed
    pass (`sparsity.py`; `sparsity=False` never traces); else, with no more inputs than outputs,
    forward mode with every direction at once (jacfwd), and with fewer outputs reverse mode with
    every output's cotangent at once (jacrev: the vjp's forward mode along its cotangent, which
    it is linear in), NumPy backend; else one vjp per output element.

    Example: `symdiff.jacobian(np_fn)(x)` for `np_fn(x) = np.tanh(A @ x)`.
    """
    f, wrt = readable_function(f), wrt if argnum is None else argnum  # argnum: autograd's name for wrt
    name = _single_wrt(f, wrt)
    back = build(f, name, "vjp", backend)
    position = _params(f).index(name)
    batched = _batched(f, name, backend)
    plans = _jacobian_sparsity(f, name, position, _output_shape(f)) if sparsity else None

    def call(*args: Any) -> np.ndarray:
        x = np.asarray(args[position])
        out = np.asarray(f(*args))
        plan = plans.plan(args, min(x.size, out.size)) if plans is not None else None
        if plan is not None:
            if plan.by_rows:
                found = compressed_rows(reverse_rows(), back, args, position, plan.seeds)
            else:
                found = compressed_products(batched, by_jvp, _tangent, args, position, plan.seeds)
            return plan.dense(found, out.shape + x.shape)
        if batched is not None and x.size <= out.size:  # fewer inputs than outputs: all columns in one pass
            columns = _by_columns(batched, args, position, out.shape)
            if columns is not None:
                return columns
        if x.size > out.size and reverse_rows() is not None:  # fewer outputs: all rows in one reverse pass
            rows = _by_rows(reverse_rows(), args, position, out.shape)
            if rows is not None:
                return rows
        return rows_of(*args)

    @functools.cache
    def reverse_rows() -> Derivative | None:
        return _batched_rows(back, backend)

    @functools.cache
    def forward_products() -> Composite:  # one jvp per direction, where no batched pass runs
        return jvp(f, name, backend=backend)

    def by_jvp(*args: Any) -> Any:
        return forward_products()(*args)

    def rows_of(*args: Any) -> np.ndarray:
        out = np.asarray(f(*args))
        x = np.asarray(args[position])
        rows = np.zeros(out.shape + x.shape)
        for index in np.ndindex(out.shape):
            seed = np.zeros(out.shape)
            seed[index] = 1.0
            rows[index] = back(*args, seed)
        return rows

    composite = Composite(f, name, batched or back, call, "jacobian")  # .source: the code that usually runs
    composite.reverse_rows = reverse_rows  # the batched reverse pass of a wide Jacobian, built at first use
    composite.sparsity = plans  # `.sparsity.plan(args, directions)`: the compression a call takes, or None
    return composite


def hessian(f: Callable, wrt: Wrt = 0, *, backend: str = "numpy", argnum: Wrt | None = None,
            sparsity: bool = True) -> Composite:  # fmt: skip
    """Dense Hessian, shape `x.shape + x.shape`: forward over reverse with every direction at once
    (NumPy backend), else one hvp per coordinate. Where the traced sparsity pattern lets columns
    that share no row share a direction, and that takes at most half the directions, only those
    (`sparsity.py`; `sparsity=False` never traces).

    Example: `symdiff.hessian(rosenbrock)(x)`.
    """
    product = hvp(f, wrt if argnum is None else argnum, backend=backend)
    position = _params(f).index(product.wrt[0])
    gradient = build(readable_function(f), product.wrt[0], "grad", "numpy")
    batched = _batched(gradient, product.wrt[0], backend)
    plans = _hessian_sparsity(gradient, position) if sparsity else None

    def call(*args: Any) -> np.ndarray:
        x = np.asarray(args[position], dtype=float)
        plan = plans.plan(args, x.size) if plans is not None else None
        if plan is not None:
            found = compressed_products(batched, product, _itself, args, position, plan.seeds)
            return plan.dense(found, x.shape + x.shape)
        if batched is not None:  # forward over reverse, every direction in one pass
            columns = _by_columns(batched, args, position, x.shape)
            if columns is not None:
                return columns
        columns = np.zeros(x.shape + x.shape)
        for index in np.ndindex(x.shape):
            v = np.zeros(x.shape)
            v[index] = 1.0
            columns[(Ellipsis,) + index] = product(*args, v)
        return columns

    composite = Composite(f, product.wrt[0], batched or product.inner, call, "hessian")
    composite.sparsity = plans  # `.sparsity.plan(args, directions)`: the compression a call takes, or None
    return composite


def _hessian_sparsity(gradient: Derivative | Deferred, position: int) -> Sparsity | None:
    if isinstance(gradient, Deferred):  # built per call: no one program holds the pattern
        return None
    return Sparsity(hessian_tracer(gradient), position, symmetric=True)


def _jacobian_sparsity(f: Callable, name: str, position: int, out_shape: Callable) -> Sparsity | None:
    try:
        forward, back = build(f, name, "jvp", "numpy"), None
    except NoTangentRule:
        forward, back = None, build(f, name, "vjp", "numpy")
    if isinstance(forward or back, Deferred):
        return None
    return Sparsity(jacobian_tracer(f, forward, back), position, out_shape=out_shape)


def _output_shape(f: Callable) -> Callable[[tuple], tuple]:
    def shape(args: tuple) -> tuple:
        return np.shape(f(*args))

    return shape


def _itself(value: Any) -> Any:
    return value


def _tangent(pair: Any) -> Any:
    return pair[1]


def emit_hessian(f: Callable, path: str | None = None, *, wrt: Wrt = 0, regenerate: str | None = None) -> str:
    """A standalone module with the generated Hessian-vector product and `<f>_hessian` (one hvp per
    column), written to `path` if given; what `symdiff hessian` writes. Example::

        symdiff.higher.emit_hessian(rosen, "rosen_hessian.py")
    """
    product = hvp(f, wrt)
    inner = _generated_once(product.inner).function
    names = [p.name for p in inner.params]
    position = names.index(product.wrt[0])
    args = ", ".join(names[:-1])
    name = getattr(f, "__name__", "f")
    wrapper = (
        f"def {name}_hessian({args}):\n"
        f'    """Dense Hessian of {name} with respect to {product.wrt[0]}, one Hessian-vector product per column."""\n'
        f"    x = np.asarray({names[position]}, dtype=float)\n"
        f"    columns = np.zeros(x.shape + x.shape)\n"
        f"    for index in np.ndindex(x.shape):\n"
        f"        v = np.zeros(x.shape)\n"
        f"        v[index] = 1.0\n"
        f"        columns[(Ellipsis,) + index] = {inner.name}({args}, v)\n"
        f"    return columns\n"
    )
    regenerate = regenerate or f"symdiff.higher.emit_hessian({name}, wrt={product.wrt[0]!r})"
    text = module_source([inner], header=_header(f, "hessian", product.wrt, regenerate)) + "\n\n" + wrapper
    _write_module(f, path, text)
    return text


def _batched(f: Callable, name: str, backend: str) -> Derivative | Directions | None:
    """Forward mode with every direction at once, where it has a rule for each op: on NumPy the
    tangents batched on a first axis of one generated function; on a backend that compiles a
    loop over directions (Numba), that loop around the compiled tangent, raced against the NumPy
    batched pass (`Directions`); else None (one product per direction)."""
    if isinstance(f, Deferred):  # a gradient built per call: no one program to push tangents through
        return None
    try:
        batched = build(f, name, "tangents", "numpy")
    except NoTangentRule:
        batched = None
    batched = batched if isinstance(batched, Derivative) else None
    if backend == "numpy":
        return batched
    try:
        product = build(f, name, "tangent", backend)
    except (NoTangentRule, BackendError):
        return None
    return (
        Directions(product, batched=batched) if isinstance(product, Derivative) and product.over_directions() else None
    )


_UNBATCHED = "their tangents cannot be batched"  # the end of batch_index's message


def compressed_rows(rows: Derivative | None, back: Callable, args: tuple, position: int,
                    seeds: np.ndarray) -> np.ndarray:  # fmt: skip
    """The vjps along each cotangent seed, one row each: one batched reverse pass (`_batched_rows`),
    or one vjp per seed where the backend or these arguments cannot batch."""
    given = list(args)
    given[position] = np.asarray(args[position], dtype=float)
    if rows is not None and len(seeds):
        try:
            return np.asarray(rows(*given, np.zeros(seeds.shape[1:]), seeds)).reshape(len(seeds), -1)
        except ValueError as error:
            if not str(error).endswith(_UNBATCHED):
                raise
    return np.array([np.asarray(back(*given, seed)) for seed in seeds], dtype=float).reshape(len(seeds), -1)


def _batched_rows(back: Derivative | Deferred, backend: str) -> Derivative | None:
    """The vjp's forward mode along its cotangent (the last parameter): every row of the Jacobian
    from one forward pass and one backward pass with the cotangents batched; None where it cannot."""
    if not isinstance(back, Derivative):
        return None
    if backend == "numpy":
        return _batched(back, back.function.params[-1].name, backend)
    if not back.over_directions():
        return None
    on_numpy = build(back.primal, back.wrt[0], "vjp", "numpy")  # the vjp itself along each cotangent, compiled
    rows = _batched(on_numpy, on_numpy.function.params[-1].name, "numpy") if isinstance(on_numpy, Derivative) else None
    return Directions(back, skip=1, batched=rows)


class Directions:
    """A compiled product (a Hessian-vector product, a jvp's tangent, a vjp) along many directions,
    called as the NumPy backend's batched pass is: `(*args, seeds)`, one result per row of
    `seeds`, stacked on a first axis.

    The backend's `over_directions` loop runs the products in one compiled call, each direction
    with its own forward pass. The NumPy backend's batched pass, where the op table batches the
    function, runs one forward pass for all directions, with every op k directions wide: for
    array code with large products it is the faster one (a dense Jacobian of `tanh(a @ x) * x` at
    n = 1000: 10 ms against 670 ms), for small products or scalar loops the compiled loop is (a
    50-step Euler loop, n = 10: 2.7 ms against 10.5 ms). Neither always wins, so for each shape of
    the arguments both run once on real calls, the loop twice (its first call compiles), and the
    faster one runs from then on (`chosen`). Both are exact, so the numbers differ in rounding
    only. Arguments the loop does not take as they are (lists, float32, ...) take the batched pass,
    or, where there is none, one product per direction through the derivative's own call; both
    cast and check them."""

    def __init__(self, product: Derivative, skip: int = 0, batched: Derivative | None = None):
        self.product = product
        self.skip = skip  # parameters before the seeds that the product does not take (the rows' base cotangent)
        self.batched = batched  # the NumPy backend's batched pass, or None where the op table cannot batch
        self._loop = product.over_directions()
        self._compiles = True  # until Numba fails to compile the loop for some arguments
        self.chosen: dict[tuple, str] = {}  # argument shapes -> "loop" or "batched", once both were timed
        self._timed: dict[tuple, dict[str, float]] = {}

    @property
    def source(self) -> str:
        """The product's generated source, then the loop that runs it along every direction."""
        return self.product.source + "\n\n" + self._loop.source

    def __call__(self, *args: Any) -> np.ndarray:
        given = args[: len(args) - 1 - self.skip]
        if not (self._compiles and self.product._unchecked_rules is None and all(map(_native, given))):
            # the NumPy batched pass casts and checks such arguments itself, as the NumPy backend does
            return self.batched(*args) if self.batched is not None else self._one_by_one(given, args[-1])
        if self.batched is None:
            return self._looped(given, args[-1])
        key = tuple((type(a), getattr(a, "shape", None), getattr(a, "dtype", None)) for a in args)
        choice = self.chosen.get(key)
        if choice == "loop":
            return self._looped(given, args[-1])
        if choice == "batched":
            return self.batched(*args)
        timed = self._timed.setdefault(key, {})
        way = "batched" if "batched" not in timed else "compile" if "compile" not in timed else "loop"
        start = time.perf_counter()
        try:
            result = self.batched(*args) if way == "batched" else self._looped(given, args[-1])
        except ValueError as error:
            if way != "batched" or not str(error).endswith(_UNBATCHED):
                raise
            self.chosen[key] = "loop"  # indices that cannot be batched: the loop takes them one by one
            return self._looped(given, args[-1])
        timed[way] = time.perf_counter() - start
        if way == "loop":
            self.chosen[key] = "loop" if timed["loop"] < timed["batched"] else "batched"
        return result

    def _looped(self, given: tuple, seeds: Any) -> np.ndarray:
        seeds = np.asarray(seeds, dtype=float)
        if self._compiles:
            try:
                return self._loop(*given, np.ascontiguousarray(seeds))
            except BackendError:  # these types do not compile in a loop: the products one by one say why
                self._compiles = False
        return self._one_by_one(given, seeds)

    def _one_by_one(self, given: tuple, seeds: Any) -> np.ndarray:
        return np.array([np.asarray(self.product(*given, seed)) for seed in np.asarray(seeds, dtype=float)])


def _native(value: Any) -> bool:
    """Whether a compiled loop takes `value` as a call of the derivative would: float64 or
    integer arrays and Python numbers (anything else goes through the derivative's own casts)."""
    if isinstance(value, np.ndarray):
        return value.dtype == np.float64 or value.dtype.kind in "ib"
    return type(value) in (float, int, bool, np.float64)


def _by_rows(rows: Derivative, args: tuple, position: int, out_shape: tuple) -> np.ndarray | None:
    """`d out / d x` from one batched reverse pass along the unit cotangents (the vjp is linear in
    its cotangent, so its tangent along u is the vjp of u, at any base point: zeros)."""
    given = list(args)
    given[position] = x = np.asarray(args[position], dtype=float)
    units = unit_directions(tuple(out_shape))
    try:
        tangents = np.asarray(rows(*given, np.zeros(out_shape), units))  # (out.size,) + x.shape
    except ValueError as error:
        if str(error).endswith(_UNBATCHED):
            return None
        raise
    return _owned(tangents.reshape(tuple(out_shape) + x.shape))


def _owned(array: np.ndarray) -> np.ndarray:
    """`array` as a C-ordered array the caller may write into, as the one-product-per-direction
    path returns it (a batched pass may end in a read-only broadcast or a transposed view)."""
    if array.flags.writeable and array.flags.c_contiguous:
        return array
    return np.array(array, order="C")


def _by_columns(columns: Derivative, args: tuple, position: int, out_shape: tuple) -> np.ndarray:
    """`d out / d x` from one batched forward pass along the unit vectors of x; None where these
    arguments index with arrays separated by a slice (`batch_index`): the caller takes one
    product per direction instead, the same numbers."""
    x = np.asarray(args[position], dtype=float)
    units = unit_directions(x.shape)
    given = list(args)
    given[position] = x
    try:
        tangents = np.asarray(columns(*given, units))  # (x.size,) + out_shape
    except ValueError as error:
        if str(error).endswith(_UNBATCHED):
            return None
        raise
    by_row = np.moveaxis(tangents.reshape((x.size,) + tuple(out_shape)), 0, -1)
    return _owned(by_row.reshape(tuple(out_shape) + x.shape))


def compressed_products(batched: Derivative | None, product: Any, pick: Callable, args: tuple, position: int,
                        seeds: np.ndarray) -> np.ndarray:  # fmt: skip
    """The products along each seed, one row each: one batched pass, or one product per seed
    where the backend or these arguments cannot batch."""
    given = list(args)
    given[position] = np.asarray(args[position], dtype=float)
    if batched is not None and len(seeds):
        try:
            return np.asarray(batched(*given, seeds)).reshape(len(seeds), -1)
        except ValueError as error:
            if not str(error).endswith(_UNBATCHED):
                raise
    columns = [np.asarray(pick(product(*given, seed))) for seed in seeds]
    return np.array(columns, dtype=float).reshape(len(seeds), -1)


for _operator in (hvp, jvp, elementwise_grad, jacobian, hessian):
    _operator.__symdiff_operator__ = True  # called inside a function being lowered: run while building
