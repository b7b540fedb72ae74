"""Arguments that are lists, tuples and dicts of arrays: gradients come back in the same structure.

Each gradient leaf is checked against central finite differences of the plain function.
"""

import numpy as np
import pytest

import symdiff as sd
from symdiff.structured import leaves, rebuild, structure
from tests.api import pytree_functions as f

RNG = np.random.default_rng(0)
X = RNG.normal(size=(5, 3))


def finite_differences(function, args, k, eps=1e-6):
    """d function / d (every leaf of args[k]), in the structure of args[k]."""
    flat = [np.array(leaf, dtype=float) for leaf in leaves(args[k])]
    grads = []
    for position, leaf in enumerate(flat):
        grad = np.zeros_like(leaf)
        for i in np.ndindex(leaf.shape):
            values = []
            for step in (eps, -eps):
                moved = [v.copy() for v in flat]
                moved[position][i] += step
                arg = rebuild(structure(args[k]), [m if m.shape else float(m) for m in moved])
                values.append(function(*args[:k], arg, *args[k + 1 :]))
            grad[i] = (values[0] - values[1]) / (2 * eps)
        grads.append(grad if grad.shape else float(grad))
    return rebuild(structure(args[k]), grads)


def assert_same_tree(got, want):
    assert structure(got) == structure(want)
    for a, b in zip(leaves(got), leaves(want)):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


MLP_PARAMS = [(RNG.normal(size=(3, 4)), RNG.normal(size=4)), (RNG.normal(size=(4, 2)), RNG.normal(size=2))]
CASES = [
    (f.mlp, (MLP_PARAMS, X), 0),
    (f.dict_loss, ({"w": RNG.normal(size=3), "b": 0.5}, X), 0),
    (f.dict_items, ({"w": RNG.normal(size=3), "bias": RNG.normal(size=2)}, X), 0),
    (f.nested, ({"layers": [{"w": RNG.normal(size=(3, 2))}], "scale": RNG.normal(size=2)}, X), 0),
    (f.data_list, (RNG.normal(size=3), [(X, RNG.normal(size=5)), (2 * X, RNG.normal(size=5))]), 0),
    (f.indexed_tuple, ((RNG.normal(size=3), RNG.normal(size=5)), X), 0),
    (f.sgd_on_a_dict, ({"w": RNG.normal(size=3), "b": 0.3}, X), 0),
    (f.sgd_on_a_dict, ({"w": RNG.normal(size=3), "b": 0.3}, X), 1),
]


@pytest.mark.parametrize("backend", ["numpy", "numba"])
@pytest.mark.parametrize(("function", "args", "k"), CASES, ids=[c[0].__name__ for c in CASES])
def test_gradient_has_the_argument_structure(function, args, k, backend):
    got = sd.grad(function, wrt=k, backend=backend)(*args)
    assert_same_tree(got, finite_differences(function, args, k))


def test_tuples_stay_tuples_and_lists_stay_lists():
    got = sd.grad(f.mlp)(MLP_PARAMS, X)
    assert type(got) is list and all(type(layer) is tuple for layer in got)


def test_value_and_grad_with_several_structured_arguments():
    data = [(X, RNG.normal(size=5))]
    w = RNG.normal(size=3)
    value, (dw, ddata) = sd.value_and_grad(f.data_list, wrt=(0, 1))(w, data)
    assert value == pytest.approx(f.data_list(w, data))
    assert_same_tree(dw, finite_differences(f.data_list, (w, data), 0))
    assert_same_tree(ddata, finite_differences(f.data_list, (w, data), 1))


def test_source_is_the_code_of_the_last_structure():
    grad = sd.grad(f.mlp)
    grad(MLP_PARAMS, X)
    assert grad.source.startswith("def mlp_grad(params_0_0, params_0_1, params_1_0, params_1_1, x):")


def test_a_dict_function_is_built_at_its_first_call():
    grad = sd.grad(f.dict_scaled)  # used by no other test, so not built yet
    with pytest.raises(sd.SymdiffError, match="call it once"):
        grad.source  # noqa: B018
    grad({"w": np.ones(3), "scale": 2.0}, X)
    assert "params_w" in grad.source


def test_an_integer_leaf_cannot_be_differentiated():
    with pytest.raises(sd.SymdiffError, match="integer"):
        sd.grad(f.indexed_tuple)((np.ones(3), np.arange(5)), X)


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_meta_gradient_through_sgd_on_a_list_of_layers(backend):
    got = sd.grad(f.sgd_learning_rate, backend=backend)(0.3, X)
    assert got == pytest.approx(finite_differences(f.sgd_learning_rate, (0.3, X), 0), rel=1e-6)
