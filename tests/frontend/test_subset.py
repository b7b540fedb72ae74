"""Each rejected construct gets a clear, located SymdiffError at build time (SPEC §3)."""

import pickle

import numpy as np
import pytest

import symdiff as sd
from symdiff.errors import BadWrt, NoDerivative, NonScalarOutput, SymdiffError, UnsupportedSyntax
from tests.frontend import rejected as r

CASES = [
    (r.uses_class, UnsupportedSyntax, "class definitions"),
    (r.uses_try, UnsupportedSyntax, "try/except"),
    (r.uses_with, UnsupportedSyntax, "with statements"),
    (r.uses_generator, UnsupportedSyntax, "comprehension over an array's rows"),
    (r.uses_global, UnsupportedSyntax, "global statements"),
    (r.mutates_argument_through_a_second_name, UnsupportedSyntax, "mutation of argument 'x' (through the name 'y')"),
    (r.unknown_call, NoDerivative, "median"),
    (r.recursive, UnsupportedSyntax, "recursive call"),
    (r.undefined_name, UnsupportedSyntax, "not_defined_anywhere"),
    (r.no_return, UnsupportedSyntax, "must return a value"),
    (r.default_from_call, UnsupportedSyntax, "parameter defaults"),
    (r.like_with_other_shape, UnsupportedSyntax, "shape= keyword"),
]


@pytest.mark.parametrize("function, kind, words", CASES, ids=[c[0].__name__ for c in CASES])
def test_rejected_at_build_time_with_location(function, kind, words):
    with pytest.raises(kind) as caught:
        sd.grad(function)  # building, not calling, raises
    error = caught.value
    assert isinstance(error, SymdiffError)
    assert words in error.message
    assert error.location is not None and error.location.file.endswith("rejected.py")
    text = str(error)
    assert f"rejected.py:{error.location.line}:" in text
    assert "^" in text  # the caret under the construct
    assert "docs/errors.md#" in text


def test_location_points_at_the_construct():
    with pytest.raises(UnsupportedSyntax) as caught:
        sd.grad(r.uses_class)
    location = caught.value.location
    assert "class" in location.source_line
    assert location.source_line[location.col :].startswith("class")


def test_unknown_call_says_how_to_register_a_rule():
    with pytest.raises(NoDerivative) as caught:
        sd.grad(r.unknown_call)
    assert "register_derivative" in str(caught.value)


def test_non_scalar_output_points_to_vjp_and_jacobian():
    with pytest.raises(NonScalarOutput) as caught:
        sd.grad(r.non_scalar)(np.ones(3))
    assert "vjp" in str(caught.value) and "jacobian" in str(caught.value)


@pytest.mark.parametrize("wrt", ["z", 2, -3, (0, "nope"), 1.5, ()])
def test_bad_wrt_is_rejected(wrt):
    with pytest.raises(BadWrt):
        sd.grad(r.two_args, wrt=wrt)


def test_integer_argument_cannot_be_differentiated():
    with pytest.raises(BadWrt, match="integer"):
        sd.grad(r.two_args)(np.arange(3), np.ones(3))


def test_errors_pickle_and_keep_their_location():
    with pytest.raises(UnsupportedSyntax) as caught:
        sd.grad(r.uses_try)
    copy = pickle.loads(pickle.dumps(caught.value))
    assert type(copy) is UnsupportedSyntax and copy.location == caught.value.location
    assert isinstance(copy, SyntaxError)


def test_unknown_backend_is_a_symdiff_error():
    with pytest.raises(SymdiffError, match="backend"):
        sd.grad(r.two_args, backend="tpu")


def test_a_default_naming_a_module_constant_is_accepted():
    np.testing.assert_allclose(sd.grad(r.default_from_constant)(np.ones(2)), [2.0, 2.0])
