"""SymPy simplification of adjoint expressions (transforms/algebra.py), against finite differences.

Each test checks both that the simplified form is what a person would write
(the point of the pass) and that the gradient is still right, including at
the shapes where lifting a `sum_to` would be wrong.
"""

import sys

import numpy as np
import pytest

import symdiff as sd
from symdiff.frontend.lower import lower_function
from symdiff.testing import check_derivative
from symdiff.transforms import algebra
from symdiff.transforms.algebra import Forward
from tests.long_functions import chain_source, frame_depth, load, mixed_source
from tests.oracles import numeric_grad


def logistic(w, x, y):
    p = 1.0 / (1.0 + np.exp(-(x @ w)))
    return -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def weighted_sigmoid(z, c):
    return np.sum(sigmoid(z) * c)


def sigmoid_loop(z, c, n):
    s = z
    for _ in range(n):
        s = sigmoid(s) * c
    return np.sum(s)


def shifted_chain(x):
    u = 2.0 * x + 3.0
    v = 1.0 / u
    return np.sum(v * u * x)


def backward_code(f) -> str:
    """The generated backward statements, without the `# grad of:` comments that quote the forward."""
    source = sd.grad(f).source
    backward = source[source.index("# grad of") :]
    return "\n".join(line for line in backward.splitlines() if not line.strip().startswith("#"))


def test_logistic_gradient_is_the_hand_written_formula():
    backward = backward_code(logistic)
    assert "y - p" in backward
    for needle in ("np.log", "/ p", "1 - p"):
        assert needle not in backward, needle
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(20, 3)), (rng.uniform(size=20) > 0.5).astype(float)
    check_derivative(logistic, (0.3 * rng.normal(size=3), x, y), wrt=0, order=2)


@pytest.mark.parametrize("y_shape", [(20,), (4, 20), (1,), ()])
def test_logistic_with_labels_that_broadcast(y_shape):
    """The lifted sum_to must still reduce when y is wider than p (or a scalar)."""
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(20, 3)), rng.uniform(0.1, 0.9, size=y_shape)
    check_derivative(logistic, (0.3 * rng.normal(size=3), x, y), wrt=0)


def test_sigmoid_backward_reads_only_its_output():
    backward = backward_code(weighted_sigmoid)
    assert "np.exp" not in backward and "(1.0 - " in backward
    rng = np.random.default_rng(2)
    check_derivative(weighted_sigmoid, (rng.normal(size=(3, 4)), rng.normal(size=4)), wrt=(0, 1), order=2)


def test_sigmoid_in_a_loop_saves_one_array_per_iteration():
    source = sd.grad(sigmoid_loop).source
    assert source.count("_tape = []") == 1, source
    rng = np.random.default_rng(3)
    check_derivative(sigmoid_loop, (rng.normal(size=(2, 3)), rng.normal(size=3), 4), wrt=(0, 1), order=2)


def test_saturated_sigmoid_gradient_is_finite():
    with np.errstate(over="ignore"):  # the forward's own exp(800)
        g = sd.grad(weighted_sigmoid)(np.array([-800.0, -40.0, 0.0, 40.0, 800.0]), np.ones(5))
    assert np.all(np.isfinite(g))
    np.testing.assert_allclose(g, [0.0, np.exp(-40.0), 0.25, np.exp(-40.0), 0.0], rtol=1e-6, atol=1e-17)


def test_affine_chains_are_rewritten_only_when_cheaper():
    rng = np.random.default_rng(4)
    check_derivative(shifted_chain, (rng.uniform(0.5, 2.0, size=5),), order=2)


def test_float32_stays_float32():
    w = np.ones(3, dtype=np.float32)
    x = np.ones((4, 3), dtype=np.float32)
    y = np.ones(4, dtype=np.float32)
    assert sd.grad(logistic)(w, x, y).dtype == np.float32


# -- build time and stack depth grow linearly with the program (issue: exponential build) --------


def _with_stack_room(room: int, build):
    """Run `build` with at most `room` frames above this one: a build that recursed once per
    statement would raise RecursionError on a function of a few hundred statements."""
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(frame_depth() + room)
    try:
        return build()
    finally:
        sys.setrecursionlimit(limit)


def test_components_walks_each_definition_once(tmp_path, monkeypatch):
    """Every step of the chain reads `h` twice: an unmemoised walk would visit 2**60 paths."""
    function = lower_function(load(tmp_path, chain_source(60), "chain"))
    forward = Forward.of(function)
    calls = []

    def find(name, original=forward.classes.find):
        calls.append(name)
        if len(calls) > 4 * len(forward.defs):
            raise AssertionError("components() walks the definitions more than once")
        return original(name)

    monkeypatch.setattr(forward.classes, "find", find)
    last = forward.defs[function.result.name].ins[0].name  # the final h
    assert forward.components(last) == {forward.classes.find("h"), forward.classes.find("w")}
    assert forward.components(last) is forward.component_memo[last]


def _components_by_recursion(forward, name, seen=frozenset()):
    """The definition `Forward.components` had before it was memoised: the reference."""
    eqn = forward.defs.get(name)
    rule = algebra.RULES.get(eqn.op) if eqn is not None else None
    if eqn is None or rule is None or not rule.elementwise or eqn.op == "where" or name in seen:
        return {forward.classes.find(name)}
    found = set()
    for atom in eqn.ins:
        if isinstance(atom, algebra.Var):
            found |= _components_by_recursion(forward, atom.name, seen | {name})
        elif not isinstance(atom.value, (int, float)):
            return {forward.classes.find(name)}
    return found or {forward.classes.find(name)}


@pytest.mark.parametrize("source, name", [(chain_source(8), "chain"), (mixed_source(24), "mixed")])
def test_components_agree_with_the_recursive_definition(tmp_path, source, name):
    forward = Forward.of(lower_function(load(tmp_path, source, name)))
    for defined in reversed(list(forward.defs)):  # the longest walks first, memo empty
        assert forward.components(defined) == _components_by_recursion(forward, defined), defined


def test_adjoint_trees_are_cut_to_a_bounded_size(tmp_path, monkeypatch):
    """`w_bar` accumulates over every step: one tree as deep as the program unless cut."""
    sizes = []
    original = algebra._algebra

    def record(root, tree, *args):
        sizes.append(len(tree.eqns))
        return original(root, tree, *args)

    monkeypatch.setattr(algebra, "_algebra", record)
    sd.grad(load(tmp_path, chain_source(200), "chain"), wrt=(0, 1))
    assert max(sizes) == algebra.MAX_TREE  # cut, and cut no smaller than the bound


def test_a_400_step_chain_builds_without_deep_recursion(tmp_path):
    chain = load(tmp_path, chain_source(400), "chain")
    gradient = _with_stack_room(300, lambda: sd.grad(chain, wrt=(0, 1)))
    rng = np.random.default_rng(5)
    h, w = 0.1 * rng.normal(size=(3, 4)), 0.1 * rng.normal(size=4)
    dh, dw = rng.normal(size=(3, 4)), rng.normal(size=4)
    eps = 1e-6
    numeric = (chain(h + eps * dh, w + eps * dw) - chain(h - eps * dh, w - eps * dw)) / (2 * eps)
    g_h, g_w = gradient(h, w)
    np.testing.assert_allclose(np.sum(g_h * dh) + np.sum(g_w * dw), numeric, rtol=1e-6)


def test_a_300_statement_function_builds_without_deep_recursion(tmp_path):
    mixed = load(tmp_path, mixed_source(300), "mixed")
    _with_stack_room(300, lambda: sd.grad(mixed, wrt=(0, 1, 2, 3)))


@pytest.mark.parametrize("source, name", [(chain_source(30), "chain"), (mixed_source(40), "mixed")])
def test_long_functions_match_finite_differences(tmp_path, source, name):
    """Every gradient entry of the long functions against a central difference in float64."""
    f = load(tmp_path, source, name)
    rng = np.random.default_rng(6)
    if name == "chain":
        args = [0.3 * rng.normal(size=(3, 4)), 0.3 * rng.normal(size=4)]
    else:
        args = [rng.normal(size=(3, 4)), rng.normal(size=(3, 4)), rng.normal(size=4), 0.5 * rng.normal(size=(4, 4))]
    gradients = sd.grad(f, wrt=tuple(range(len(args))))(*args)
    for k, gradient in enumerate(gradients):
        np.testing.assert_allclose(gradient, numeric_grad(f, args, k), rtol=1e-6, atol=1e-8)
