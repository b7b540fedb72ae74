"""Silently wrong results from the "Trust" issue, each now exact or refused.

- (7) a source file edited after the import: refused (`SourceChanged`), never
  the edited text differentiated;
- (8) a module-level constant (or array, closure cell, callee) changed after
  a first `grad()`: a fresh `grad()` builds again, on NumPy and on Numba
  (whose on-disk cache is keyed by the generated source, which holds the
  scalar);
- (9) a user rule whose cotangent does not fit its operand: `BadRule` on the
  first call, naming the rule;
- dict arguments and several return values: refused when the derivative is
  built, with a location.

Modules are written to `tmp_path` and imported from there, so they can be
edited and changed like a user's own.
"""

from __future__ import annotations

import importlib.util
import inspect
import os
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

import symdiff as sd
from symdiff.errors import BadRule, NonScalarOutput, SourceChanged, UnsupportedSyntax
from symdiff.rules import registry

BACKENDS = ["numpy", pytest.param("numba", marks=pytest.mark.filterwarnings("ignore"))]


def _module(directory: Path, name: str, text: str):
    path = directory / f"{name}.py"
    path.write_text(textwrap.dedent(text))
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module, path


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))
    later = time.time() + 10  # a new mtime, so linecache and inspect see the edit
    os.utime(path, (later, later))


@pytest.fixture
def user_rules():
    """Rules registered by a test are removed after it."""
    saved = dict(registry.RULES), dict(registry._BY_FUNC)
    yield
    registry.RULES.clear()
    registry.RULES.update(saved[0])
    registry._BY_FUNC.clear()
    registry._BY_FUNC.update(saved[1])


# -- (7) the source file edited after the import ----------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
def test_an_edited_source_file_is_refused_with_the_function_location(tmp_path, backend):
    module, path = _module(
        tmp_path,
        f"edited_{backend}",
        """
        import numpy as np


        def loss(x):
            return np.sum(x * x)
        """,
    )
    inspect.getsource(module.loss)  # linecache now holds the text as imported
    _edit(path, "x * x", "x * x * x")
    with pytest.raises(SourceChanged) as caught:
        sd.grad(module.loss, backend=backend)
    assert caught.value.location.file == str(path)
    assert caught.value.location.line == 5  # the `def` line
    assert "changed after loss() was imported" in str(caught.value)
    assert "reload" in str(caught.value)


def test_a_callee_edited_on_disk_is_refused_too(tmp_path):
    module, path = _module(
        tmp_path,
        "edited_callee",
        """
        import numpy as np


        def inner(x):
            return x * x


        def loss(x):
            return np.sum(inner(x))
        """,
    )
    _edit(path, "return x * x", "return x * x * x")
    with pytest.raises(SourceChanged, match="inner"):
        sd.grad(module.loss)


def test_a_derivative_built_before_the_edit_still_describes_the_running_function(tmp_path):
    module, path = _module(
        tmp_path,
        "edited_after_build",
        """
        import numpy as np


        def loss(x):
            return np.sum(x * x)
        """,
    )
    x = np.array([1.0, 2.0])
    np.testing.assert_allclose(sd.grad(module.loss)(x), 2 * x)
    _edit(path, "x * x", "x * x * x")
    np.testing.assert_allclose(sd.grad(module.loss)(x), 2 * x)  # built from the text that runs


def test_unedited_nested_functions_methods_and_closures_are_read(tmp_path):
    module, _ = _module(
        tmp_path,
        "not_edited",
        '''
        import numpy as np


        def make(scale):
            def scaled(x):
                """A docstring
                over two lines, indented deeper than the def."""
                return np.sum(scale * np.sin(x))

            return scaled


        class Holder:
            @staticmethod
            def loss(x):
                return np.sum(np.exp(x))


        if True:
            def guarded(x):
                return np.sum(np.cos(x))
        ''',
    )
    x = np.array([0.1, 0.2])
    np.testing.assert_allclose(sd.grad(module.make(3.0))(x), 3.0 * np.cos(x))
    np.testing.assert_allclose(sd.grad(module.Holder.loss)(x), np.exp(x))
    np.testing.assert_allclose(sd.grad(module.guarded)(x), -np.sin(x))


# -- (8) globals changed after the first grad() -----------------------------------

_GLOBALS = """
import numpy as np
from types import SimpleNamespace

SCALE = 2.0
W = np.array([1.0, 2.0, 3.0])
config = SimpleNamespace(power=2.0)


def loss(x):
    return np.sum(SCALE * x * W)


def powered(x):
    return np.sum(x ** config.power)
"""


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_changed_module_scalar_gives_a_fresh_build(tmp_path, backend):
    module, _ = _module(tmp_path, f"scalars_{backend}", _GLOBALS)
    x = np.ones(3)
    first = sd.grad(module.loss, backend=backend)
    np.testing.assert_allclose(first(x), 2.0 * module.W)
    module.SCALE = 3.0
    again = sd.grad(module.loss, backend=backend)
    assert again is not first
    np.testing.assert_allclose(again(x), 3.0 * module.W)
    assert sd.grad(module.loss, backend=backend) is again  # unchanged since: the cache serves it
    if backend == "numba":  # the on-disk module is keyed by the generated source, which holds the scalar
        files = {d._compiled.jitted.py_func.__code__.co_filename for d in (first, again)}
        assert len(files) == 2


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_rebound_module_array_gives_a_fresh_build(tmp_path, backend):
    module, _ = _module(tmp_path, f"arrays_{backend}", _GLOBALS)
    x = np.ones(3)
    np.testing.assert_allclose(sd.grad(module.loss, backend=backend)(x), 2.0 * module.W)
    module.W = np.array([5.0, 6.0, 7.0])
    np.testing.assert_allclose(sd.grad(module.loss, backend=backend)(x), 2.0 * module.W)


def test_a_changed_attribute_of_a_module_level_object_gives_a_fresh_build(tmp_path):
    module, _ = _module(tmp_path, "attributes", _GLOBALS)
    x = np.array([1.5, 2.0])
    np.testing.assert_allclose(sd.grad(module.powered)(x), 2.0 * x)
    module.config.power = 3.0
    np.testing.assert_allclose(sd.grad(module.powered)(x), 3.0 * x**2)


def test_a_rebound_closure_cell_and_a_redefined_callee_give_fresh_builds(tmp_path):
    module, _ = _module(
        tmp_path,
        "closures",
        """
        import numpy as np


        def make():
            scale = 2.0

            def loss(x):
                return np.sum(scale * helper(x))

            def set_scale(value):
                nonlocal scale
                scale = value

            return loss, set_scale


        def helper(x):
            return x * x
        """,
    )
    loss, set_scale = module.make()
    x = np.array([1.0, 3.0])
    np.testing.assert_allclose(sd.grad(loss)(x), 4.0 * x)
    set_scale(5.0)
    np.testing.assert_allclose(sd.grad(loss)(x), 10.0 * x)
    module.helper = cubed  # a redefinition, as re-running a notebook cell does
    np.testing.assert_allclose(sd.grad(loss)(x), 15.0 * x**2)


def cubed(x):
    return x * x * x


def test_a_rule_registered_after_a_build_is_used_by_a_fresh_grad(tmp_path, user_rules):
    module, _ = _module(
        tmp_path,
        "late_rule",
        """
        import numpy as np


        def twice(x):
            return 2.0 * x


        def loss(x):
            return np.sum(twice(x))
        """,
    )
    x = np.ones(2)
    np.testing.assert_allclose(sd.grad(module.loss)(x), 2.0)

    @sd.register_derivative(module.twice, elementwise=True)
    def twice_vjp(g, out, x):
        return 7.0 * g  # deliberately not the calculus: shows which derivative runs

    np.testing.assert_allclose(sd.grad(module.loss)(x), 7.0)


# -- (9) a user rule's cotangents are checked on first use -------------------------


def scaled(x):
    return 2.0 * x


def total(x):
    return np.sum(scaled(x) * x)


def test_a_scalar_cotangent_for_a_vector_operand_is_refused_naming_the_rule(user_rules):
    @sd.register_derivative(scaled)
    def scaled_vjp(g, out, x):
        return np.sum(2.0 * g)  # a scalar: NumPy would broadcast it into every element

    gradient = sd.grad(total)
    with pytest.raises(BadRule) as caught:
        gradient(np.ones(3))
    message = str(caught.value)
    assert "scaled_vjp" in message and "shape () for operand 'x' of shape (3,)" in message
    assert caught.value.location.file == __file__
    with pytest.raises(BadRule):  # still refused: never a wrong gradient
        gradient(np.ones(3))


def test_an_elementwise_rule_may_return_the_output_shape_but_not_a_scalar(user_rules):
    @sd.register_derivative(scaled, elementwise=True)
    def scaled_vjp(g, out, x):
        return 2.0 * np.sum(g)

    with pytest.raises(BadRule, match=r"shape \(\)"):
        sd.grad(total)(np.ones(3))


def test_an_integer_cotangent_is_refused(user_rules):
    @sd.register_derivative(scaled)
    def scaled_vjp(g, out, x):
        return np.ones(np.shape(x), dtype=np.int64) * 2

    with pytest.raises(BadRule, match="dtype int64"):
        sd.grad(total)(np.ones(3))


def test_a_right_rule_is_checked_once_and_then_costs_nothing(user_rules):
    @sd.register_derivative(scaled)
    def scaled_vjp(g, out, x):
        return 2.0 * g

    gradient = sd.grad(total)
    assert gradient._unchecked_rules is not None
    x = np.array([1.0, 2.0, 3.0])
    np.testing.assert_allclose(gradient(x), 4.0 * x)
    assert gradient._unchecked_rules is None
    np.testing.assert_allclose(gradient(x), 4.0 * x)


def test_built_in_rules_are_not_user_rules():
    assert not any(registry.RULES[op].user for op in ("tanh", "sum", "matmul", "sum_to", "getitem"))


# -- misuse of the API: refused when the derivative is built -----------------------


def dict_loss(params, x):
    return np.sum(params["w"] * x)


def string_index_on_array(x):
    table = np.zeros(3)
    return np.sum(table["w"] * x)


def two_outputs(x):
    return np.sum(x), np.sum(x * x)


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_string_index_on_a_local_array_is_refused_at_build_with_its_location(backend):
    with pytest.raises(UnsupportedSyntax) as caught:
        sd.grad(string_index_on_array, backend=backend)
    assert "'table' with the string 'w'" in str(caught.value)
    assert caught.value.location.line == inspect.getsourcelines(string_index_on_array)[1] + 2


def test_a_dict_used_as_an_array_is_refused_with_its_location():
    def loss(w):
        return np.sum(w * w)

    with pytest.raises(UnsupportedSyntax, match="a dict cannot be used as an array"):
        sd.grad(loss)({"w": np.ones(2)})


@pytest.mark.parametrize("operator", [sd.grad, sd.value_and_grad, sd.vjp])
def test_several_return_values_are_refused_at_build_with_the_return_location(operator):
    with pytest.raises(NonScalarOutput) as caught:
        operator(two_outputs)
    assert "returns 2 values" in caught.value.message
    assert caught.value.location.line == inspect.getsourcelines(two_outputs)[1] + 1
    assert "vjp" in caught.value.hint and "jacobian" in caught.value.hint


def _raveled_loss(x):
    return np.ravel(np.sum(x**2))


def _first_item(x):
    return x[:1] * 3.0


def _vector(x):
    return x * 2.0


@pytest.mark.parametrize("backend", BACKENDS)
def test_an_output_of_one_element_is_a_scalar_to_grad_as_in_autograd(backend):
    x = np.array([1.0, 2.0])
    np.testing.assert_allclose(sd.grad(_raveled_loss, backend=backend)(x), 2.0 * x)
    np.testing.assert_allclose(sd.grad(_first_item, backend=backend)(x), [3.0, 0.0])
    with pytest.raises(NonScalarOutput, match="scalar output"):
        sd.grad(_vector, backend=backend)(x)
