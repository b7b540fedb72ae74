"""The differential operators users call: grad, value_and_grad, vjp, emit, ...

Each builds (once per function, wrt, mode and backend) the pipeline
frontend -> reverse transform -> optimize -> codegen -> backend, and returns a
`Derivative`: a callable with the primal's signature that also carries
`.source`, `.primal`, `.wrt` and `.function` (the IR). Higher-order operators
(`hessian`, `hvp`, `jacobian`, `jvp`) are compositions of these.

Built derivatives are cached by function object, `wrt`, mode and backend, and
a cached one is reused only while it still describes the function: while the
globals the function read (module scalars folded into the generated code,
arrays, callees; `frontend.source.snapshot`) still hold the same values
and no rule was registered since (`rules.registry.generation`). A derivative
that uses a user's rule checks that rule's cotangents on its first call.
"""

from __future__ import annotations

import functools
import inspect
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from symdiff import (
    build_cache,
    rules,  # noqa: F401 - registers the built-in derivative table
)
from symdiff.backends import BACKENDS, load, source_only
from symdiff.codegen.emit import helpers_used
from symdiff.codegen.standalone import module_source
from symdiff.compose import SourceFunction, identifier
from symdiff.errors import BadRule, BadWrt, Location, NoDerivative, NonScalarOutput, SymdiffError, UnsupportedSyntax
from symdiff.frontend.lower import lower_function
from symdiff.frontend.source import Dependency, read_source, snapshot
from symdiff.ir.nodes import Const, Function, Var, walk
from symdiff.optimize import optimize
from symdiff.optimize.dce import dce
from symdiff.optimize.known_shapes import fold_known_shapes, number_tapes
from symdiff.progress import told_when_slow
from symdiff.rules.registry import RULES, Rule, generation, lookup_callable
from symdiff.rules.user_checks import install_checks
from symdiff.structured import CONTAINERS, Deferred, StructuredCalls, count
from symdiff.transforms.checkpoint import Length, check_length, segment_loops
from symdiff.transforms.forward import jvp_function
from symdiff.transforms.reverse import active_vars, base_name, tape_vars, vjp_function
from symdiff.transforms.stable import stabilize
from symdiff.transforms.untaken import guard_untaken_inputs
from symdiff.version import __version__

Wrt = int | str | Sequence[int | str]
_CACHE: dict[tuple, Derivative] = {}
_FLOAT64 = np.dtype(np.float64)  # native float64 arrays share this dtype object: `is` is the cheap test


# Forward mode's builds: (value, tangent) or the tangent alone ("tangent", what hvp needs), each
# also with the tangents batched on a first axis ("jvps", "tangents": dense Jacobians and Hessians).
FORWARD_MODES = ("jvp", "jvps", "tangent", "tangents")


class Derivative:
    """A generated derivative: call it like the primal (plus a seed for vjp)."""

    def __init__(
        self,
        primal: Callable,
        function: Function,
        wrt: tuple[str, ...],
        mode: str,
        backend: str,
        lowering: Lowering | None = None,
        stored: build_cache.Stored | None = None,
        rebuild: Callable[[], Function] | None = None,
    ):
        """From `function` (the derivative's IR), or from what an earlier process built (`stored`,
        read from the build cache, with `rebuild`: the IR, built again only if asked for)."""
        self.primal = primal
        self._function, self._rebuild = function, rebuild
        self.wrt = wrt
        self.mode = mode
        self.backend = backend
        name = function.name if stored is None else stored.name
        self._filename = f"<symdiff {name}>"
        if stored is None:
            compiled = load(backend).compile_function(function, self._filename)
            self._names = tuple(p.name for p in function.params)
            self._defaults = dict(function.defaults)
        else:
            # The Numba backend's NumPy tier (a background compile) needs the IR: built if asked for.
            extra = {"rebuild": lambda: self.function} if backend == "numba" else {}
            compiled = load(backend).compile_stored(stored, self._filename, **extra)
            self._names, self._defaults = stored.params, dict(stored.defaults)
        self._source, self._carried = compiled.source, compiled.carried
        self._compiled, self._namespace = compiled.function, compiled.namespace
        self._mixed = compiled.mixed
        self._signature = inspect.signature(primal) if callable(primal) else None
        names = list(self._names)
        self._positions = [names.index(w) for w in wrt]  # in wrt order, like the gradients
        functools.update_wrapper(self, primal, assigned=("__module__", "__doc__"), updated=())
        self.__name__ = name
        self.__qualname__ = name
        self._lowering = lowering
        checked = lowering is None or stored is not None  # a stored build has no user rules (build_cache.py)
        self._unchecked_rules = None if checked else _user_rules(lowering.function, wrt)
        self._others = [k for k in range(len(names)) if k not in self._positions]
        self._structured: StructuredCalls | None = None
        self._wrt_spec: Wrt = wrt
        self._stable = True
        self._checkpoint: Length | None = None
        # Calls with numbers only, of a derivative with a loop, run a build for numbers (`_for_numbers`),
        # one for each combination of float and int arguments; None where there are none.
        self._numbers: dict[str, Callable] | None = {} if _specialises(mode, backend, self._source) else None
        self._numbers_sources: dict[str, str] = {}

    @property
    def function(self) -> Function:
        """The derivative's IR (after a build-cache hit, built again on first use)."""
        if self._function is None:
            self._function = self._rebuild()
        return self._function

    @property
    def source(self) -> str:
        """The generated source; after a call with list, tuple or dict arguments, the one for that call."""
        if self._structured is not None and self._structured.last is not None:
            return self._structured.last.source
        return self._source

    @property
    def __symdiff_source__(self) -> tuple[str, dict, str, str]:
        """What the frontend needs to differentiate this derivative again.

        Always the portable NumPy form, whatever backend runs this derivative.
        """
        if self.backend == "numpy":
            return self._source, self._namespace, self._filename, self.__name__
        portable = load("numpy").compile_function(self.function, f"<symdiff {self.function.name} (numpy)>")
        return portable.source, portable.namespace, f"<symdiff {self.function.name} (numpy)>", self.function.name

    @property
    def ready(self) -> bool:
        """Whether calls run the backend's compiled code: False only while a Numba gradient built
        with `SYMDIFF_NUMBA_BACKGROUND=1` has not yet compiled its first call's types (those calls
        run the NumPy build of the same derivative; backends/numba/tiered.py)."""
        tiered = getattr(self._compiled, "wait", None)
        return True if tiered is None else self._compiled.ready

    def wait(self, timeout: float | None = None) -> bool:
        """Block until a background Numba compile of this derivative ends (`timeout` seconds at
        most); whether later calls run the compiled code. A compile that failed raises its error
        here (backends/numba/tiered.py). True at once on a derivative without a background compile;
        False on one whose first call has not come yet (no compile has started)."""
        tiered = getattr(self._compiled, "wait", None)
        return True if tiered is None else tiered(timeout)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if kwargs:
            args = self._bind(args, kwargs)
        plain = self._plain(args)  # floats and float64 arrays and scalars: nothing to check or cast (a hot path)
        if not plain and any(type(a) in CONTAINERS for a in args) or self._container_among_others(args):
            return self._structured_calls()(args)
        if self._unchecked_rules is not None:  # only until a first call has checked them
            self._check_user_rules(args)
        if not plain:
            for position in self._positions:
                if position < len(args):
                    _check_differentiable(args[position], self._names[position])
        if plain and self._numbers is not None:
            kinds = _number_kinds(args, len(self._names))
            if kinds is not None:
                found = self._numbers.get(kinds)
                return (found or self._for_numbers(kinds))(*args)
        try:
            if not plain and self._mixed is not None:  # Numba: a float32 twin (CUDA types its kernels per call)
                result = self._mixed(*args)
            else:
                result = self._compiled(*args)
        except NonScalarOutput as error:
            raise NonScalarOutput(
                f"{error.message} (from {getattr(self.primal, '__name__', 'the function')})"
            ) from None
        return result if plain else self._in_argument_dtypes(result, args)

    def _for_numbers(self, kinds: str) -> Callable:
        """The derivative built for numbers of `kinds` ("f" a float, "i" an int, one a parameter),
        in which the shapes are constants and the tapes arrays of float64 numbers: a loop's step
        calls no `np.shape` or `sum_to` (each a microsecond on a number) and saves 8 bytes a
        value, as a person writing the scalar loop would. Built at the first call with numbers
        of those kinds; where that build fails, the general derivative (right for numbers too) runs."""
        try:
            built = _build_for(
                self.primal,
                {},
                self.wrt,
                self.mode,
                self.backend,
                self._stable,
                shapes=((),) * len(self._names),
                checkpoint=self._checkpoint,
                numbers=tuple(kinds),
                as_tuple=isinstance(self._wrt_spec, (tuple, list)),
            )
        except Exception:  # noqa: BLE001 - the general derivative is right for numbers too
            self._numbers[kinds] = self._compiled
            self._numbers_sources[kinds] = self._source
            return self._compiled
        self._numbers[kinds] = built._compiled
        self._numbers_sources[kinds] = built.source
        return built._compiled

    def over_directions(self) -> Callable | None:
        """`loop(*args, seeds)`: this derivative along each row of `seeds` (its last parameter),
        stacked on a first axis, in one compiled call without Python between rows; None where
        the backend has no such loop (NumPy batches directions in its own generated code) or
        this derivative is not called straight through its compiled function."""
        make = getattr(load(self.backend), "over_directions", None)
        if make is None or self._numbers is not None or len(self._positions) != 1:
            return None
        return make(self._compiled, len(self._names))

    def source_for(self, *args: Any) -> str:
        """The generated source a call with `args` runs: the one built for numbers where every
        argument is a number and this derivative has a loop (built now if new), else `source`."""
        kinds = _number_kinds(args, len(self._names)) if self._numbers is not None and self._plain(args) else None
        if kinds is None:
            return self.source
        if kinds not in self._numbers:
            self._for_numbers(kinds)
        return self._numbers_sources[kinds]

    def _container_among_others(self, args: tuple) -> bool:
        for position in self._others:
            if position < len(args) and type(args[position]) in CONTAINERS:
                return True
        return False

    def _structured_calls(self) -> StructuredCalls:
        """Calls with list, tuple or dict arguments: a derivative per structure (symdiff/structured.py)."""
        if self._structured is None:
            several = isinstance(self._wrt_spec, (tuple, list))
            build_for = functools.partial(_build_for, stable=self._stable, checkpoint=self._checkpoint)
            self._structured = StructuredCalls(self.primal, self.wrt, several, self.mode, self.backend, build_for)
        return self._structured

    structured = _structured_calls  # a function calling this one inside with lists, tuples or dicts uses it

    def _check_user_rules(self, args: tuple) -> None:
        """Run the function once with each user rule's cotangents checked against its operands.

        The forward program is run with NumPy, with the user ops' calls
        replaced by `checking_call` wrappers; any error other than `BadRule`
        is left for the real call to raise, and the check waits for a later
        call. After one clean run the derivative runs unchecked.
        """
        function = self._lowering.function
        namespace = load("numpy").compile_function(function, f"<symdiff {function.name} (rule check)>").namespace
        install_checks(namespace, self._unchecked_rules)
        try:
            namespace[function.name](*args[: len(function.params)])
        except BadRule:
            raise
        except Exception:  # noqa: BLE001 - e.g. wrong argument shapes: the real call reports them
            return
        self._unchecked_rules = None

    def _plain(self, args: tuple) -> bool:
        for position in self._positions:
            if position >= len(args):
                return False
            value = args[position]
            kind = type(value)
            # A NumPy float64 scalar (an element of a float64 array, as in a loop over one) is as
            # plain as a float: its gradient needs no cast.
            if kind is not float and kind is not np.float64 and not (kind is np.ndarray and value.dtype is _FLOAT64):
                return False
        return True

    def _in_argument_dtypes(self, result: Any, args: tuple) -> Any:
        """Gradients keep their argument's floating dtype (float32 in, float32 out), as in JAX."""
        if self.mode in FORWARD_MODES:  # the tangent keeps the argument's dtype
            alone = self.mode in ("tangent", "tangents")
            value, tangent = (None, result) if alone else result
            position = self._positions[0]
            tangent = _like(tangent, args[position]) if position < len(args) else tangent
            return tangent if alone else (value, tangent)
        value = None
        if self.mode == "value_and_grad":
            value, result = result
        several = isinstance(result, tuple)
        grads = result if several else (result,)
        cast = tuple(_like(g, args[k]) if k < len(args) else g for g, k in zip(grads, self._positions))
        grads = cast if several else cast[0]
        return (value, grads) if self.mode == "value_and_grad" else grads

    def _bind(self, args: tuple, kwargs: dict) -> tuple:
        names = list(self._names)
        values = list(args) + [None] * (len(names) - len(args))
        for key, value in kwargs.items():
            if key not in names:
                raise TypeError(f"{self.__name__}() got an unexpected keyword argument {key!r}")
            values[names.index(key)] = value
        defaults = self._defaults
        for k, name in enumerate(names):
            if k >= len(args) and name not in kwargs:
                if name not in defaults:
                    raise TypeError(f"{self.__name__}() missing argument {name!r}")
                values[k] = defaults[name]
        return tuple(values)

    def __repr__(self) -> str:
        return f"<symdiff {self.mode} of {getattr(self.primal, '__name__', '?')} wrt {', '.join(self.wrt)}>"

    def _repr_markdown_(self) -> str:
        """Jupyter shows the generated source, highlighted as Python."""
        return f"```python\n{self.source}```"


def _specialises(mode: str, backend: str, source: str) -> bool:
    """Whether calls with numbers only run a build for shape (): on the NumPy backend (the
    compiled ones type their code per call anyway), for the gradient modes, where the code has
    a loop (straight-line code reads each shape once: a second build would not pay)."""
    if backend != "numpy" or mode not in ("grad", "value_and_grad"):
        return False
    return any(line.lstrip().startswith(("for ", "while ")) for line in source.splitlines())


def _number_kinds(args: tuple, count: int) -> str | None:
    """ "f" for each float argument, "i" for each int (a bool or a NumPy integer is neither), or
    None unless every argument is given and is one of those."""
    if len(args) != count:
        return None
    kinds = ""
    for value in args:
        kind = type(value)
        if kind is float or kind is np.float64:
            kinds += "f"
        elif kind is int:
            kinds += "i"
        else:
            return None
    return kinds


def _like(gradient: Any, argument: Any) -> Any:
    dtype = getattr(argument, "dtype", None)
    if dtype is None or dtype.kind not in "fc" or getattr(gradient, "dtype", None) == dtype:
        return gradient
    if isinstance(argument, np.generic):  # np.float32(1.5) in, np.float32 out (a Python float has no dtype)
        return dtype.type(gradient)
    return np.asarray(gradient).astype(dtype)


def _check_differentiable(value: Any, name: str) -> None:
    if isinstance(value, dict):
        raise BadWrt(
            f"argument {name!r} is a dict: symdiff differentiates floats and arrays",
            hint="pass the arrays as separate arguments; dicts, lists and tuples of arrays (pytrees) "
            "are not supported yet (docs/limitations.md)",
        )
    if isinstance(value, (bool, np.bool_)) or (
        isinstance(value, (int, np.integer)) or (isinstance(value, np.ndarray) and value.dtype.kind in "biu")
    ):
        raise BadWrt(
            f"argument {name!r} is an integer or boolean, which cannot be differentiated",
            hint="pass floats (e.g. 2.0 or x.astype(float)), or leave it out of wrt",
        )


def _wrt_indices(function: Function, wrt: Wrt) -> tuple[int, ...]:
    names = [p.name for p in function.params]
    items = list(wrt) if isinstance(wrt, (tuple, list)) else [wrt]
    if not items:
        raise BadWrt("wrt is empty")
    indices = []
    for item in items:
        if isinstance(item, bool) or not isinstance(item, (int, str)):
            raise BadWrt(f"wrt entries must be argument indices or names, got {item!r}")
        if isinstance(item, str):
            if item not in names:
                raise BadWrt(f"{function.name}() has no argument {item!r}; its arguments are {', '.join(names)}")
            indices.append(names.index(item))
        else:
            if not -len(names) <= item < len(names):
                raise BadWrt(f"wrt={item} is out of range: {function.name}() takes {len(names)} arguments")
            indices.append(item % len(names))
    defaults = dict(function.defaults)
    for index in indices:
        default = defaults.get(names[index])
        if isinstance(default, (bool, int)) and not isinstance(default, float):
            raise BadWrt(f"argument {names[index]!r} defaults to the integer {default!r} and cannot be differentiated")
    return tuple(indices)


@dataclass(frozen=True)
class Lowering:
    """A lowered function and what its IR depends on besides its source."""

    function: Function
    reads: tuple[Dependency, ...]  # the globals it read, with their values then
    rules: int  # `generation()` of the rule table then

    def current(self) -> bool:
        """Whether lowering the function again would give the same IR."""
        return self.rules == generation() and all(read.unchanged() for read in self.reads)


_LOWERED: dict[Callable, Lowering] = {}


def _lowering(primal: Callable) -> Lowering:
    found = _LOWERED.get(primal)
    if found is not None and found.current():
        return found
    found = Lowering(*snapshot(lambda: lower_function(primal)), generation())
    _LOWERED[primal] = found
    return found


def _lowered(primal: Callable) -> Function:
    """The IR of `primal`, lowered again when a global it read has changed."""
    return _lowering(primal).function


_lowered.cache_clear = _LOWERED.clear  # what tests call to start from cold caches


def build(
    primal: Callable, wrt: Wrt, mode: str, backend: str, stable: bool = True, checkpoint: Length | None = None
) -> Derivative:
    """Build (or fetch from the cache) the derivative of `primal`; `stable` rewrites overflowing
    compositions into stable forms first (transforms/stable.py); `checkpoint` differentiates the
    function's long loops in segments (transforms/checkpoint.py)."""
    check_runnable = getattr(load(backend), "check_runnable", None)
    if check_runnable is not None:
        check_runnable()  # a backend that cannot run here refuses now, not at the first call
    if checkpoint is not None:
        check_length(checkpoint)
    key = (primal, tuple(wrt) if isinstance(wrt, list) else wrt, mode, backend, stable, checkpoint)
    cached = _CACHE.get(key)
    if cached is not None and (isinstance(cached, Deferred) or cached._lowering.current()):
        return cached
    entry = _disk_entry(primal, wrt, mode, backend, stable, checkpoint)
    if entry is not None:
        found = _from_disk(entry, primal, wrt, mode, backend, stable, checkpoint)
        if found is not None:
            _CACHE[key] = found
            return found
    name = getattr(primal, "__name__", "f")
    with told_when_slow(
        f"building the derivative of {name}()", f"built the derivative of {name}()", BUILD_NOTICE_AFTER
    ):
        derivative = _build_new(primal, wrt, mode, backend, stable, checkpoint, key)
    if entry is not None and isinstance(derivative, Derivative):
        _to_disk(entry, derivative)
    return derivative


@dataclass(frozen=True)
class _Reads:
    """For a derivative read from the build cache: what its key read, to tell whether it is current."""

    reads: tuple[Dependency, ...]
    rules: int

    def current(self) -> bool:
        return self.rules == generation() and build_cache.current(self.reads)


def _disk_entry(
    primal: Callable, wrt: Wrt, mode: str, backend: str, stable: bool, checkpoint: Length | None
) -> build_cache.Entry | None:
    """Where the build cache keeps this derivative, or None when it cannot (build_cache.py)."""
    if not build_cache.enabled():
        return None
    module = load(backend)
    settings = module.build_options() if hasattr(module, "build_options") else None
    if settings is None:
        return None
    normal = tuple(wrt) if isinstance(wrt, list) else wrt
    options = {
        "mode": mode,
        "wrt": repr(normal),
        "backend": backend,
        "stable": stable,
        "checkpoint": repr(checkpoint),
        "settings": settings,
    }
    return build_cache.entry_for(primal, options)


def _from_disk(
    entry: build_cache.Entry,
    primal: Callable,
    wrt: Wrt,
    mode: str,
    backend: str,
    stable: bool,
    checkpoint: Length | None,
) -> Derivative | None:
    """The derivative an earlier process built and stored as `entry`, or None."""
    try:
        stored = build_cache.load(entry)
    except SymdiffError:
        if backend in ("numpy", "cuda"):
            return None  # an unusable cache directory: these backends run without one
        raise
    if stored is None:
        return None

    def rebuild() -> Function:
        function = _lowering(readable_function(primal)).function
        return _derivative_ir(function, primal, wrt, mode, stable, checkpoint)[0]

    reads = _Reads(entry.reads, generation())
    derivative = Derivative(primal, None, stored.wrt, mode, backend, reads, stored, rebuild)
    derivative._wrt_spec, derivative._stable, derivative._checkpoint = wrt, stable, checkpoint
    return derivative


def _to_disk(entry: build_cache.Entry, derivative: Derivative) -> None:
    """Store what `derivative`'s build printed, when it can stand alone (no arrays among its values)."""
    function = derivative.function
    if function.free or not build_cache.storable(function.defaults):
        return
    helpers = tuple(helpers_used(function)) if derivative.backend == "numpy" else ()
    stored = build_cache.Stored(
        name=function.name,
        params=derivative._names,
        defaults=function.defaults,
        wrt=derivative.wrt,
        source=derivative._source,
        helpers=helpers,
        carried=derivative._carried,
    )
    build_cache.save(entry, stored)


BUILD_NOTICE_AFTER = 1.0  # seconds a build runs before symdiff says so on stderr (symdiff.progress)


def _build_new(
    primal: Callable, wrt: Wrt, mode: str, backend: str, stable: bool, checkpoint: Length | None, key: tuple
) -> Derivative:
    """`build` where the cache has no current derivative: lower, differentiate, optimise, generate."""
    primal = readable_function(primal)
    try:
        lowering = _lowering(primal)
    except (UnsupportedSyntax, NoDerivative) as error:
        by_shape = getattr(error, "needs_shapes", False)
        per_call = getattr(error, "needs_structure", False) or getattr(error, "depends_on_none", False) or by_shape
        if not per_call and not _defaults_to_none(primal):
            raise
        names = tuple(_signature_names(primal, wrt))
        build_for = functools.partial(_build_for, stable=stable, checkpoint=checkpoint)
        derivative = Deferred(primal, names, isinstance(wrt, (tuple, list)), mode, backend, build_for, by_shape)
        if not getattr(error, "needs_structure", False) and not by_shape:
            derivative.build_for_defaults()  # a refusal for the usual call (`ax=None`) is raised now
        _CACHE[key] = derivative
        return derivative
    function = lowering.function
    if _string_index(function, params_only=True) is not None:  # a dict argument: built for its keys when called
        indices = _wrt_indices(function, wrt)
        names = tuple(function.params[i].name for i in indices)
        build_for = functools.partial(_build_for, stable=stable, checkpoint=checkpoint)
        derivative = Deferred(primal, names, isinstance(wrt, (tuple, list)), mode, backend, build_for)
        _CACHE[key] = derivative
        return derivative
    derivative_ir, names = _derivative_ir(function, primal, wrt, mode, stable, checkpoint)
    derivative = Derivative(primal, derivative_ir, names, mode, backend, lowering)
    derivative._wrt_spec, derivative._stable, derivative._checkpoint = wrt, stable, checkpoint
    _CACHE[key] = derivative
    return derivative


def _derivative_ir(
    function: Function, primal: Callable, wrt: Wrt, mode: str, stable: bool, checkpoint: Length | None
) -> tuple[Function, tuple[str, ...]]:
    """The optimised derivative of the lowered `function`, and the names of its `wrt` arguments."""
    indices = _wrt_indices(function, wrt)
    names = tuple(function.params[i].name for i in indices)
    _refuse_string_index(function)
    _refuse_several_outputs(function, primal, mode)
    _refuse_list_values(function)
    as_tuple = isinstance(wrt, (tuple, list))
    prepared = _checkpointed(_stable(function, stable), checkpoint)
    if mode in FORWARD_MODES:  # forward mode (transforms/forward.py), one argument
        if len(indices) != 1:
            raise BadWrt("forward mode takes the tangent of one argument", hint="build one jvp per argument")
        batched, value = mode in ("jvps", "tangents"), mode in ("jvp", "jvps")
        forward = jvp_function(_stable(function, stable), indices[0], batched, value=value)
        derivative_ir = _stable_values(optimize(forward), stable)
    else:
        derivative_ir = _stable_values(optimize(vjp_function(prepared, indices, mode, as_tuple)), stable)
    return derivative_ir, names


def _checkpointed(function: Function, checkpoint: Length | None) -> Function:
    """Long loops in segments whose inner values are computed again, not saved (checkpoint.py):
    the function's own on `checkpoint`, and those its code marks with `checkpointed`."""
    return segment_loops(function, checkpoint)


def _stable(function: Function, stable: bool) -> Function:
    """Stable forms of compositions whose naive derivative overflows, and np.where arms that
    read guarded operands (before differentiating)."""
    return guard_untaken_inputs(stabilize(function)) if stable else function


def _stable_values(derivative: Function, stable: bool) -> Function:
    """Stable forms of the values the finished derivative still computes."""
    return dce(stabilize(derivative, "value")) if stable else derivative


def readable_function(primal: Callable) -> Callable:
    """`primal`, or for a library function with a derivative rule and no Python source
    (`grad(np.sqrt)`, `grad(scipy.special.erf)`) a one-line function that calls it."""
    if inspect.isfunction(primal) or hasattr(primal, "__symdiff_source__") or lookup_callable(primal) is None:
        return primal
    count = getattr(primal, "nin", None)
    if count is None:
        try:
            params = inspect.signature(primal).parameters.values()
            count = sum(p.default is inspect.Parameter.empty and p.kind <= p.POSITIONAL_OR_KEYWORD for p in params)
        except (TypeError, ValueError):
            count = 1
    names = ", ".join(["x", "y", "z"][:count] if count <= 3 else [f"x{k}" for k in range(count)])
    label = identifier(primal)
    return SourceFunction(f"def {label}({names}):\n    return f({names})\n", {"f": primal}, label)


def _defaults_to_none(primal: Callable) -> bool:
    """Whether a parameter defaults to None (`ax=None`): code that lowers only where it is None
    (`if ax: plot(ax, ...)`) is built for the arguments of each call."""
    try:
        return any(p.default is None for p in inspect.signature(primal).parameters.values())
    except (TypeError, ValueError):
        return False


def _signature_names(primal: Callable, wrt: Wrt) -> list[str]:
    params = list(inspect.signature(primal).parameters)
    items = list(wrt) if isinstance(wrt, (tuple, list)) else [wrt]
    try:
        return [item if isinstance(item, str) else params[item] for item in items]
    except IndexError:
        raise BadWrt(f"wrt={wrt!r} is out of range: {getattr(primal, '__name__', 'f')}() takes {len(params)} arguments")


def _build_for(
    primal: Callable,
    structures: dict,
    wrt: tuple[str, ...],
    mode: str,
    backend: str,
    stable: bool = True,
    shapes: tuple | None = None,
    checkpoint: Length | None = None,
    numbers: tuple[str, ...] | None = None,
    as_tuple: bool = True,
) -> Derivative:
    """The derivative of `primal` for arguments of these structures (and, given `shapes`, of
    leaves of these shapes), with respect to all leaves of `wrt`; `numbers` (one kind a
    parameter, "f" for a float64 number, "i" for an int) builds for numbers of those kinds:
    its loops' tapes of float64 numbers are arrays of them; `as_tuple` returns a tuple of
    gradients also for one (as a `wrt` given as a tuple asks)."""
    lowering = Lowering(*snapshot(lambda: lower_function(primal, structures, shapes)), generation())
    function = lowering.function
    _refuse_string_index(function)
    _refuse_several_outputs(function, primal, mode)
    offsets, start = {}, 0
    for name in inspect.signature(primal).parameters:
        size = count(structures.get(name))
        offsets[name], start = range(start, start + size), start + size
    indices = tuple(k for name in wrt for k in offsets[name])
    if mode not in ("grad", "value_and_grad", "vjp"):
        raise BadWrt(f"{mode} of functions with list, tuple or dict arguments is not supported yet")
    derivative_ir = _stable_values(
        optimize(vjp_function(_checkpointed(_stable(function, stable), checkpoint), indices, mode, as_tuple, shapes)),
        stable,
    )
    if shapes is not None:  # what the reverse pass could not fold (backward loops, tapes) folds now
        known = {p.name: shape for p, shape in zip(function.params, shapes) if shape is not None}
        derivative_ir = _stable_values(optimize(fold_known_shapes(derivative_ir, known)), stable)
    if numbers is not None:
        derivative_ir = number_tapes(derivative_ir, {p.name: k for p, k in zip(function.params, numbers)})
    if shapes is not None:  # the code holds shapes as constants: say for which
        described = ", ".join(f"{p.name} {shape}" for p, shape in zip(function.params, shapes) if shape != ())
        described = described or "numbers (shape ())"
        derivative_ir = replace(derivative_ir, doc=f"{derivative_ir.doc} Built for {described} only.")
    names = tuple(function.params[k].name for k in indices)
    return Derivative(primal, derivative_ir, names, mode, backend, lowering)


def _string_index(function: Function, params_only: bool = False):
    """The first `x["key"]` on a value the IR takes for an array (on a parameter: a dict argument)."""
    params = {p.name for p in function.params}
    for eqn in walk(function.body):
        if eqn.op not in ("getitem", "setitem"):
            continue
        if params_only and not (isinstance(eqn.ins[0], Var) and eqn.ins[0].name in params):
            continue
        index = eqn.static_dict().get("index")
        value = index.value if isinstance(index, Const) else None
        items = value if isinstance(value, tuple) else (value,)
        key = next((item for item in items if isinstance(item, str)), None)
        if key is not None:
            return eqn, key
    return None


def _refuse_string_index(function: Function) -> None:
    """A string index on an array would build and then fail when called."""
    found = _string_index(function)
    if found is not None:
        eqn, key = found
        name = base_name(eqn.ins[0].name) if isinstance(eqn.ins[0], Var) else "the value"
        raise UnsupportedSyntax(
            f"indexing {name!r} with the string {key!r}, but {name!r} is an array here",
            eqn.loc,
            "string keys index dicts: pass a dict of arrays as the argument",
        )


def _refuse_list_values(function: Function) -> None:
    """A list filled with `append` is a tape to symdiff: using it as a value would fail when called."""
    tapes = tape_vars(function.body)
    for eqn in walk(function.body):
        if eqn.op in ("tape_push", "tape_pop", "tape_new"):
            continue
        used = next((a for a in eqn.ins if isinstance(a, Var) and a.name in tapes), None)
        if used is not None:
            raise UnsupportedSyntax(
                f"the list {base_name(used.name)!r} filled with append is used as a value here",
                eqn.loc,
                "lists filled in a loop can only be appended to and popped from; fill an array "
                "instead (out = np.zeros((n, ...)); out[i] = ...) or build the list with a comprehension",
            )
    results = [a for a in function.results() if isinstance(a, Var) and a.name in tapes]
    if results:
        raise UnsupportedSyntax(f"{function.name}() returns the list {base_name(results[0].name)!r} filled with append")


def _refuse_several_outputs(function: Function, primal: Callable, mode: str) -> None:
    if not isinstance(function.result, tuple):
        return
    try:
        where = read_source(primal).return_location()
    except SymdiffError:
        where = None
    wanted = "one array output" if mode == "vjp" else "one scalar output"
    raise NonScalarOutput(
        f"{mode} needs {wanted}, but {function.name}() returns {len(function.result)} values",
        where,
        "return one value: differentiate each output in its own function, or stack them into one array "
        "(np.stack) and use symdiff.vjp or symdiff.jacobian",
    )


def _user_rules(function: Function, wrt: tuple[str, ...]) -> dict[str, tuple[Rule, set[int], str]] | None:
    """User rules the derivative inlines, each with its operand positions that depend on `wrt`."""
    active = active_vars(function, wrt)
    found: dict[str, tuple[Rule, set[int], str]] = {}
    for eqn in walk(function.body):
        rule = RULES.get(eqn.op)
        if rule is None or not rule.user or not rule.differentiable:
            continue
        positions = {k for k, atom in enumerate(eqn.ins) if isinstance(atom, Var) and atom.name in active}
        if positions:
            found.setdefault(eqn.op, (rule, set(), _where(eqn.loc)))[1].update(positions)
    return found or None


def _where(loc: Location | None) -> str:
    return "?" if loc is None else f"{loc.file}:{loc.line}:{loc.col + 1}"


def _decorator(mode: str, doc: str):
    def operator(
        f: Callable | None = None,
        wrt: Wrt = 0,
        *,
        backend: str = "numpy",
        argnum: Wrt | None = None,
        stable: bool = True,
        checkpoint: Length | None = None,
    ):
        if argnum is not None:  # autograd's name for wrt
            wrt = argnum
        if f is None:
            return lambda g: build(g, wrt, mode, backend, stable, checkpoint)
        if isinstance(f, (int, str, tuple, list)) and not callable(f):
            raise BadWrt("pass wrt by keyword: @grad(wrt=...)")
        return build(f, wrt, mode, backend, stable, checkpoint)

    operator.__doc__ = doc
    operator.__symdiff_operator__ = True  # called inside a function being lowered: run while building
    return operator


grad = _decorator(
    "grad",
    """Gradient of a scalar function with respect to argument(s) `wrt`.

    Usable as `@grad`, `@grad(wrt="w")` or `grad(f, wrt=(0, 1))`; a tuple
    `wrt` gives a tuple of gradients. Compositions that overflow (`np.log(1 + np.exp(x))`,
    `np.log(np.sum(np.exp(z)))`, ...) are computed in stable forms unless `stable=False`
    (docs/stability.md). `checkpoint=k` (or "auto", k = the square root of the trip count)
    differentiates each counted loop of the function's body in segments of k iterations,
    saving one state per segment and running each segment again when its turn comes in the
    backward pass: memory of about 2 sqrt(T) iterations instead of T. `checkpoint=
    symdiff.Binomial(snapshots=s)` (or `memory=bytes`, or "binomial") keeps at most s states
    on Griewank's binomial schedule, `while` loops included (docs/checkpointing.md).
    Example::

        @symdiff.grad
        def loss(w, x):
            return np.sum(np.tanh(x @ w) ** 2)

        dw = loss(w, x)          # same shape as w
        print(loss.source)       # the generated gradient function
    """,
)
value_and_grad = _decorator(
    "value_and_grad",
    """Like `grad`, but returns `(f(*args), gradient)` from one forward pass.""",
)


def vjp(
    f: Callable,
    wrt: Wrt = 0,
    *,
    backend: str = "numpy",
    argnum: Wrt | None = None,
    stable: bool = True,
    checkpoint: Length | None = None,
) -> Derivative:
    """Vector-Jacobian product: `vjp(f)(*args, seed)` is the gradient of `sum(seed * f(*args))`.

    Example: `vjp(np_fn)(x, np.ones(3))` for a function with a 3-vector output.
    """
    return build(f, wrt if argnum is None else argnum, "vjp", backend, stable, checkpoint)


vjp.__symdiff_operator__ = True  # called inside a function being lowered: run while building


def _header(f: Callable, what: str, wrt: tuple[str, ...], regenerate: str) -> str:
    origin = f"{getattr(f, '__module__', '?')}:{getattr(f, '__qualname__', getattr(f, '__name__', '?'))}"
    return (
        f"Generated by symdiff {__version__} from {origin}; do not edit.\n"
        f"Derivative: {what} with respect to {', '.join(wrt)}.\n"
        f"Regenerate: {regenerate}"
    )


def emit(
    f: Callable,
    path: str | None = None,
    *,
    wrt: Wrt = 0,
    backend: str = "numpy",
    mode: str = "grad",
    regenerate: str | None = None,
    stable: bool = True,
    checkpoint: Length | None = None,
) -> str:
    """The source of a standalone module holding the derivative of `f` (written to `path` if given).

    The module imports only NumPy; its function is named `<f>_grad`
    (or `<f>_value_and_grad`, `<f>_vjp`, `<f>_jvp` for the other modes; "jvp" is forward
    mode, its function taking the tangent of `wrt` last and returning the value and its tangent). Its header names
    the source function (never a file path), `wrt`, the symdiff version and
    `regenerate`, the command that rebuilds it. Example::

        symdiff.emit(loss, "loss_grad.py", wrt=("w", "b"))
    """
    with source_only():  # only the text is wanted: a CUDA module can be emitted without a GPU
        derivative = _generated_once(build(f, wrt, mode, backend, stable, checkpoint))
    name = getattr(f, "__name__", "f")
    regenerate = regenerate or f"symdiff.emit({name}, wrt={derivative.wrt!r}, mode={mode!r})"
    header = _header(f, mode, derivative.wrt, regenerate)
    if backend == "numpy":
        text = module_source([derivative.function], header=header)
    else:  # the compiled backends' source is already a whole module (NumPy and Numba imports only)
        comment = "".join(f"# {line}".rstrip() + "\n" for line in header.splitlines())
        text = comment + "\n" + derivative.source
    _write_module(f, path, text)
    return text


def _generated_once(derivative: Derivative | Deferred) -> Derivative:
    """`derivative`, which must be one function for every call: a module cannot hold a derivative
    built per call for its arguments' structure or shapes."""
    if isinstance(derivative, Deferred):
        what = "shapes" if derivative.structured().by_shape else "structure (a dict or a None argument)"
        raise UnsupportedSyntax(
            f"the derivative of {getattr(derivative.primal, '__name__', 'f')} is built for each call's "
            f"arguments' {what}, so no one module holds it",
            hint="call the derivative on such arguments from Python, then read its .source",
        )
    return derivative


def _write_module(f: Callable, path: str | None, text: str) -> None:
    """Write `text` to `path`, which must not be the file `f` was read from."""
    if path is None:
        return
    try:
        source = inspect.getsourcefile(f)
    except TypeError:
        source = None
    if source is not None and os.path.realpath(source) == os.path.realpath(path):
        raise SymdiffError(f"refusing to write the derivative over {path}: it is the source of {identifier(f)}")
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)


__all__ = ["BACKENDS", "Derivative", "SymdiffError", "build", "emit", "grad", "value_and_grad", "vjp"]
