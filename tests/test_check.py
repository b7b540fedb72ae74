"""`symdiff check`: inputs found, outcomes sorted, tables printed, exit statuses (the coverage issue)."""

import json
from pathlib import Path

import pytest

from symdiff.check import check_paths
from symdiff.cli import main

FIXTURES = Path(__file__).parent / "check_fixtures"


@pytest.fixture(scope="module", autouse=True)
def _fixture_rules_stay_here():
    """coverage_wrong.py registers a deliberately wrong rule (`wobble`) when `check` imports it;
    it is removed after this module, so that later tests in the same process do not see a user
    rule (one turns the build cache off, and the CUDA lowering table test lists every rule)."""
    from symdiff.rules import registry, tangents

    names, funcs = set(registry.RULES), set(registry._BY_FUNC)
    yield
    # Only user rules go: symdiff's own rules registered meanwhile (scipy's, when imported) stay.
    for name in [n for n, rule in registry.RULES.items() if rule.user and n not in names]:
        del registry.RULES[name]
        tangents.TANGENTS.pop(name, None)
    for func in [f for f, rule in registry._BY_FUNC.items() if getattr(rule, "user", False) and f not in funcs]:
        del registry._BY_FUNC[func]


def outcomes(report, backend="numpy"):
    return {r.function: r for r in report.results if r.backend == backend}


@pytest.fixture(scope="module")
def works():
    return outcomes(check_paths([FIXTURES / "coverage_works.py"]))


@pytest.mark.parametrize(
    "name, inputs",
    [
        ("tanh_loss", "w=(3,)"),  # a vector is tried first
        ("power", "a=float n=int"),  # `n` is an integer by its name; a vector makes no scalar
        ("with_default", "x=(3,) shift=float"),
        ("from_dict", "params={a:float,b:float}"),  # keys read from params['a'], params['b']
        ("vector_output", "x=(3,)"),  # checked through vjp with a random seed
        ("two_outputs", "a=(3,)"),  # checked through the seed-weighted sum of its outputs
        ("squared", "v=(3,)"),  # a module-level lambda, named by its variable
    ],
)
def test_inputs_are_found_and_the_derivative_works(works, name, inputs):
    assert works[name].inputs == inputs
    assert works[name].outcome == "works", works[name].detail


def test_only_functions_defined_in_the_file_are_checked(works):
    assert "imported_helper" not in works
    assert next(iter(works)) == "tanh_loss"  # in source order


def test_what_has_no_oracle_is_skipped_with_a_reason(works):
    assert works["noisy"].outcome == "skipped"
    assert "random" in works["noisy"].detail
    assert works["no_floats"].outcome == "skipped"
    assert works["no_floats"].detail == "no float argument"


def test_a_refusal_shows_where(tmp_path):
    found = outcomes(check_paths([FIXTURES / "coverage_refused.py"]))
    assert found["guarded"].outcome == "refused"
    assert found["guarded"].detail.startswith("coverage_refused.py:7:")
    assert "try" in found["guarded"].detail


def test_a_wrong_user_rule_makes_its_callers_wrong():
    found = outcomes(check_paths([FIXTURES / "coverage_wrong.py"]))
    assert found["uses_wobble"].outcome == "wrong"
    assert "finite differences" in found["uses_wobble"].detail


def test_a_plain_exception_from_symdiff_is_a_crash():
    found = outcomes(check_paths([FIXTURES / "coverage_crash.py"]))
    assert found["uses_scale"].outcome == "crash"
    assert found["uses_scale"].detail == "at build: RuntimeError: not a SymdiffError"


def test_the_numba_backend_gets_its_own_column():
    report = check_paths([FIXTURES / "coverage_works.py"], backends=("numpy", "numba"))
    found = outcomes(report, "numba")
    assert found["tanh_loss"].outcome == "works", found["tanh_loss"].detail
    header = report.table().splitlines()[1].split()
    assert header == ["function", "inputs", "numpy", "numba"]


def run(capsys, *args):
    """`symdiff check ARGS` in this process (a subprocess would pay symdiff's import again)."""
    status = main(["check", *args])
    done = capsys.readouterr()
    return status, done.out, done.err


def test_command_exits_0_when_nothing_is_wrong_and_prints_a_table(capsys):
    status, out, err = run(capsys, str(FIXTURES / "coverage_works.py"), str(FIXTURES / "coverage_refused.py"))
    assert status == 0, out + err
    assert "guarded [numpy] refused: coverage_refused.py:7:" in out
    assert out.rstrip().splitlines()[-1] == "numpy: 10 functions: 7 works, 1 refused, 0 wrong, 0 crash, 2 skipped"


def test_command_exits_1_on_wrong_or_crash_and_writes_json(capsys):
    status, out, err = run(capsys, str(FIXTURES), "--json")
    assert status == 1, err
    found = {(Path(r["file"]).name, r["function"]): r["outcome"] for r in json.loads(out)["results"]}
    assert found["coverage_wrong.py", "uses_wobble"] == "wrong"
    assert found["coverage_crash.py", "uses_scale"] == "crash"


def test_command_exits_2_on_a_missing_path(capsys, tmp_path):
    status, _, err = run(capsys, str(tmp_path / "absent.py"))
    assert status == 2
    assert "no such file" in err


def test_a_module_that_fails_to_import_is_one_row(tmp_path):
    (tmp_path / "broken_import.py").write_text("raise ValueError('no data here')\n")
    (tmp_path / "refused_import.py").write_text(
        "import symdiff\n\n\ndef f(x):\n    try:\n        return x\n    except ValueError:\n        return x\n\n\n"
        "df = symdiff.grad(f)\n"
    )
    found = {Path(r.file).name: r for r in check_paths([tmp_path]).results}
    assert found["broken_import.py"].function == "<module>"
    assert found["broken_import.py"].outcome == "skipped"
    assert found["broken_import.py"].detail == "import failed: ValueError: no data here"
    assert found["refused_import.py"].outcome == "refused"
    assert found["refused_import.py"].detail.startswith("import failed: refused_import.py:5:")
