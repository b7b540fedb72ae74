"""Every differentiable op in the rule table, checked through the public API.

The cases live in tests/rules/cases.py: a small module-level function per
op (symdiff reads its source) and inputs inside the op's domain. The check builds
`symdiff.vjp` with respect to every float argument, applies it to a random
seed cotangent (never all ones) and compares each gradient against central
finite differences in float64. It then differentiates that generated VJP
again and compares against finite differences of it: the second-order check
that every rule body stays inside the table. `test_every_op_has_a_case` fails
when a rule is registered without a case there.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import symdiff as sd
from symdiff.errors import UnsupportedSyntax
from symdiff.frontend.lower import lower_function
from symdiff.rules import RULES
from tests.oracles import numeric_grad, numeric_vjp
from tests.rules.cases import CASES, Case, abs_, inputs, max_all, maximum, min_0

RTOL, ATOL = 1e-6, 1e-8


def _as_tuple(value: Any) -> tuple:
    return value if isinstance(value, tuple) else (value,)


def _check(got: Any, want: Any, like: Any) -> None:
    assert np.shape(got) == np.shape(like), f"gradient shape {np.shape(got)} != argument shape {np.shape(like)}"
    np.testing.assert_allclose(got, want, rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id) for c in CASES])
def test_vjp_matches_finite_differences(case: Case) -> None:
    args, wrt, rng = inputs(case)
    if case.op in RULES:  # composites (var, std, norm) lower to several ops
        assert case.op in {eqn.op for eqn in lower_function(case.func).body}
    seed = rng.normal(size=np.shape(case.func(*args)))
    grads = _as_tuple(sd.vjp(case.func, wrt=wrt)(*args, seed))
    assert len(grads) == len(wrt)
    for k, got in zip(wrt, grads):
        _check(got, numeric_vjp(case.func, args, k, seed), args[k])
    if not case.second:
        return
    direction = [rng.normal(size=np.shape(args[k])) for k in wrt]
    for k, u in zip(wrt, direction):
        first = sd.vjp(case.func, wrt=k)  # (*args, seed) -> d<seed, f>/d args[k]
        second = _as_tuple(sd.vjp(first, wrt=wrt)(*args, seed, u))
        for j, got in zip(wrt, second):
            _check(got, numeric_vjp(first, [*args, seed], j, u), args[j])


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id) for c in CASES])
def test_float32_stays_float32(case: Case) -> None:
    """A gradient has its argument's dtype (SPEC §1), including through float64 constants."""
    args, wrt, rng = inputs(case)
    args = [np.float32(x) if k in wrt else x for k, x in enumerate(args)]
    seed = np.float32(rng.normal(size=np.shape(case.func(*args))))
    for k, got in zip(wrt, _as_tuple(sd.vjp(case.func, wrt=wrt)(*args, seed))):
        assert np.result_type(got) == np.float32, f"gradient of argument {k} is {np.result_type(got)}"


def test_ties_share_the_cotangent_evenly() -> None:
    x = np.array([[1.0, 3.0, 3.0], [2.0, 0.0, 3.0]])
    np.testing.assert_allclose(sd.grad(max_all)(x), [[0.0, 1 / 3, 1 / 3], [0.0, 0.0, 1 / 3]], rtol=1e-15)
    np.testing.assert_array_equal(sd.vjp(min_0)(x, np.ones(3)), [[1.0, 0.0, 0.5], [0.0, 1.0, 0.5]])
    np.testing.assert_array_equal(sd.vjp(maximum, wrt=(0, 1))(x, 2.0, np.ones((2, 3)))[1], 2.5)
    np.testing.assert_array_equal(sd.grad(abs_)(0.0), 0.0)


def einsum_ellipsis(x): return np.einsum("...ij->...ji", x)
def einsum_trace(x): return np.einsum("ii->", x)
def einsum_diagonal(x): return np.einsum("ij,jk->ii", x, x)
def einsum_digits(x): return np.einsum("i1->i", x)
def einsum_unknown(x): return np.einsum("ij->ik", x)
def einsum_interleaved(x, y): return np.einsum(x, [0, 1], y, [1, 2])  # would silently drop x
def concatenate_flat(x, y): return np.concatenate((x, y), axis=None)


@pytest.mark.parametrize(
    ("func", "message"),
    [(einsum_ellipsis, "'...'"), (einsum_trace, "index 'i' repeats within 'ii'"),
     (einsum_diagonal, "index 'i' repeats within 'ii'"), (einsum_digits, "not letters"),
     (einsum_unknown, "index 'k' appears in no operand"), (einsum_interleaved, "subscripts first, then array operands"),
     (concatenate_flat, "axis=None")],
)  # fmt: skip
def test_unsupported_forms_are_rejected_at_build_time(func: Callable, message: str) -> None:
    with pytest.raises(UnsupportedSyntax, match=message) as caught:
        sd.grad(func)
    assert f"test_table.py:{func.__code__.co_firstlineno}:" in str(caught.value)


def test_every_op_has_a_case() -> None:
    covered = {case.op for case in CASES}
    missing = sorted(op for op, rule in RULES.items() if rule.differentiable and op not in covered)
    assert not missing, f"differentiable ops without a case in tests/rules/cases.py: {missing}"


# -- meta-gradients: differentiate a function that calls a generated gradient ------------------------------------
C = np.linspace(-1.0, 1.0, 12).reshape(3, 4)


def loss(x):
    return np.sum(np.tanh(x) * np.sin(x) * C) + np.sum(x[1:] @ x.T) + np.max(x)


loss_grad = sd.grad(loss)


def through_grad(x):
    return np.sum(loss_grad(x) * C) + np.prod(np.cos(loss_grad(x)))


def test_gradient_of_a_function_calling_a_generated_gradient() -> None:
    x = np.random.default_rng(7).uniform(-1.0, 1.0, size=(3, 4))
    _check(sd.grad(through_grad)(x), numeric_grad(through_grad, (x,), 0), x)


def scalar(x):
    return np.sin(x) * np.exp(-x * x) + np.log1p(x * x) * np.tanh(x)


def test_grad_of_grad_of_a_scalar_function() -> None:
    d2 = sd.grad(sd.grad(scalar))
    for x in (-1.3, 0.2, 0.9):
        assert d2(x) == pytest.approx(numeric_grad(sd.grad(scalar), (x,), 0), rel=RTOL, abs=ATOL)


# -- core bugs met while testing the table (reported; these flip to passing when fixed) --------------------------
def test_each_operand_cotangent_is_named_after_its_operand() -> None:
    source = sd.grad(concatenate_squares, wrt=(0, 1)).source
    assert "b_bar = axis_slice(" in source, source


def test_a_one_element_tuple_wrt_gives_a_one_element_tuple() -> None:
    assert isinstance(sd.grad(scalar, wrt=(0,))(0.5), tuple)


def concatenate_squares(a, b):
    return np.sum(np.concatenate([a, b]) ** 2)
