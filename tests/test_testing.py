"""`symdiff.testing.check_derivative`: passes on right derivatives, fails on wrong ones."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from symdiff.errors import BadWrt
from symdiff.rules import registry
from symdiff.testing import check_derivative


def loss(w, x):
    return np.sum(np.tanh(x @ w) ** 2) + np.max(w) * np.mean(np.exp(x))


def layer(x, w, b):
    return np.logaddexp(x @ w, b) * np.sin(x[:, :1])


def cube(x):
    return x * x * x


def uses_cbrt(x):
    return np.sum(np.cbrt(x) * np.cos(x))


def uses_cbrt_again(x):
    return np.sum(np.cbrt(x) * np.cos(x))


def uses_cube(x):
    return np.sum(cube(x) * np.cos(x))


def wrong_first_vjp(g, out, x):
    return g / (3.0 * out)  # should be g / (3 out**2)


def wrong_second_vjp(g, out, x):
    # Right value, but np.round has zero derivative: the dependence on x is lost at second order.
    return g / (3.0 * np.round(out * out, 12))


def cube_vjp(g, out, x):
    return g * 3.0 * x * x


@pytest.fixture
def rule(request: pytest.FixtureRequest) -> Iterator[None]:
    """Register `request.param` = (func, vjp) as a user rule, and remove it afterwards.

    symdiff caches derivatives per function, so each test differentiates its own function.
    """
    saved_rules, saved_funcs = dict(registry.RULES), dict(registry._BY_FUNC)
    func, vjp = request.param
    registry.register_derivative(func, op=f"test_{vjp.__name__}")(vjp)
    yield
    registry.RULES.clear()
    registry.RULES.update(saved_rules)
    registry._BY_FUNC.clear()
    registry._BY_FUNC.update(saved_funcs)


def test_right_derivatives_pass_to_second_order() -> None:
    rng = np.random.default_rng(0)
    check_derivative(loss, (rng.normal(size=3), rng.normal(size=(4, 3))), wrt="w", order=2)
    args = (rng.normal(size=(4, 3)), rng.normal(size=(3, 2)), rng.normal(size=2))
    check_derivative(layer, args, wrt=(0, 1, 2), order=2)
    check_derivative(cube, (0.7,), order=2)


@pytest.mark.parametrize("rule", [(np.cbrt, wrong_first_vjp)], indirect=True)
def test_a_wrong_rule_fails(rule: None) -> None:
    x = np.linspace(0.5, 1.5, 4)
    with pytest.raises(AssertionError, match="first derivative of 'uses_cbrt' disagrees"):
        check_derivative(uses_cbrt, (x,))


@pytest.mark.parametrize("rule", [(np.cbrt, wrong_second_vjp)], indirect=True)
def test_a_rule_that_is_wrong_only_at_second_order_fails_at_order_2(rule: None) -> None:
    x = np.linspace(0.5, 1.5, 4)
    check_derivative(uses_cbrt_again, (x,), order=1)
    with pytest.raises(AssertionError, match="second derivative"):
        check_derivative(uses_cbrt_again, (x,), order=2)


@pytest.mark.parametrize("rule", [(cube, cube_vjp)], indirect=True)
def test_a_rule_for_a_user_function(rule: None) -> None:
    check_derivative(uses_cube, (np.linspace(0.5, 1.5, 4),), order=2)


def test_bad_arguments_are_rejected() -> None:
    with pytest.raises(BadWrt):
        check_derivative(cube, (1.0,), wrt="y")
    with pytest.raises(BadWrt):
        check_derivative(cube, (1.0,), wrt=3)
    with pytest.raises(ValueError, match="order"):
        check_derivative(cube, (1.0,), order=3)
