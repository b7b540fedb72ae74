"""autograd's `primitive`/`defvjp` (symdiff.extend) and `check_grads` (symdiff.testing)."""

import numpy as np
import pytest

import symdiff as sd
from symdiff.extend import defvjp, primitive
from symdiff.rules import registry
from symdiff.testing import check_grads
from tests.oracles import numeric_grad


@primitive
def stable_logsumexp(x):
    top = np.max(x)
    return top + np.log(np.sum(np.exp(x - top)))


def stable_logsumexp_vjp(ans, x):
    x_shape = x.shape
    return lambda g: np.full(x_shape, g) * np.exp(x - np.full(x_shape, ans))


def softened(y):
    return stable_logsumexp(y**2) * 2.0


@primitive
def scaled_product(a, b, scale=2.0):
    return scale * a * b


def uses_product(a, b):
    return np.sum(scaled_product(a, b) ** 2)


@primitive
def exp(x):  # the name of np.exp's op: the rule must not replace np.exp's
    return np.exp(x)


def exp_of_exp(x):
    return np.sum(exp(np.exp(x)))


Y = np.array([0.3, -1.2, 0.8, 2.0])


@pytest.fixture(scope="module", autouse=True)
def makers():
    """The makers, registered for this module's tests only (the rule table is global)."""
    saved = dict(registry.RULES), dict(registry._BY_FUNC)
    defvjp(stable_logsumexp, stable_logsumexp_vjp)
    defvjp(scaled_product, lambda ans, a, b, scale: lambda g: g * scale * b, None)
    defvjp(exp, lambda ans, x: lambda g: g * ans)
    defvjp(wrong_square, lambda ans, x: lambda g: g * x)  # off by a factor 2
    yield
    for table, before in zip((registry.RULES, registry._BY_FUNC), saved):
        table.clear()
        table.update(before)


def test_a_vjp_maker_is_the_rule_kept_as_a_call():
    grad = sd.grad(softened)
    np.testing.assert_allclose(grad(Y), numeric_grad(softened, (Y,), 0), rtol=1e-7)
    assert "stable_logsumexp(" in grad.source  # kept as a call, not differentiated through
    assert "np.full(" in grad.source  # and the maker's closure inlined into the backward pass


def test_the_makers_closure_is_differentiated_again():
    check_grads(softened, modes=["rev"], order=2)(Y)
    hessian = sd.hessian(softened)(Y)
    step = 1e-6
    columns = [(sd.grad(softened)(Y + step * e) - sd.grad(softened)(Y - step * e)) / (2 * step) for e in np.eye(4)]
    np.testing.assert_allclose(hessian, np.array(columns).T, rtol=1e-6, atol=1e-8)


def test_a_none_maker_gives_its_argument_no_cotangent():
    a, b = np.array([0.5, 1.5]), np.array([2.0, -1.0])
    np.testing.assert_allclose(sd.grad(uses_product)(a, b), numeric_grad(uses_product, (a, b), 0), rtol=1e-7)
    np.testing.assert_array_equal(sd.grad(uses_product, wrt=1)(a, b), np.zeros(2))  # as autograd's None: zero


def test_a_primitive_named_like_a_numpy_op_leaves_that_op_alone():
    x = np.array([0.1, -0.3])
    np.testing.assert_allclose(sd.grad(exp_of_exp)(x), numeric_grad(exp_of_exp, (x,), 0), rtol=1e-7)
    assert sd.rules.RULES["exp"].func is np.exp


def wrong_square(x):
    return x * x


def through_wrong_square(x):
    return np.sum(wrong_square(x))


def test_check_grads_catches_a_wrong_maker_and_passes_a_right_one():
    with pytest.raises(AssertionError, match="first derivative"):
        check_grads(through_wrong_square, modes=["rev"], order=1)(np.array([0.5, 1.0]))
    check_grads(softened)(Y)  # autograd's defaults: both modes, order 2


def test_check_grads_takes_autograds_modes_and_orders_only():
    with pytest.raises(ValueError, match="modes"):
        check_grads(softened, modes=["sideways"])
    with pytest.raises(ValueError, match="order 1 or 2"):
        check_grads(softened, order=3)
