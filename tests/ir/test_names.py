"""Fresh IR names (ir/names.py): the lowest free version, found without rescanning."""

import random

from symdiff.ir import names as names_module
from symdiff.ir.names import Names


def _reference_fresh(used: set[str], base: str) -> str:
    """The definition: the first of `base`, `base~2`, ... not in `used`."""
    name, k = base, 1
    while name in used:
        k += 1
        name = f"{base}~{k}"
    used.add(name)
    return name


def test_versions_count_up_from_the_names_already_used():
    names = Names(["h", "h~2"])
    assert [names.fresh("h") for _ in range(3)] == ["h~3", "h~4", "h~5"]
    assert names.fresh("w") == "w"


def test_a_discarded_name_is_handed_out_again():
    """The frontend frees a name it did not need with `used.discard`."""
    names = Names()
    first, second, third = (names.fresh("x") for _ in range(3))
    names.used.discard(second)
    assert names.fresh("x") == second == "x~2"
    names.used.discard(first)
    assert names.fresh("x") == "x"
    assert names.fresh("x") == "x~4" and third == "x~3"


def test_used_can_be_replaced_and_extended():
    """The reverse transform seeds `used` by assignment and `|=`."""
    names = Names()
    assert names.fresh("a") == "a"
    names.used = {"a", "a~2"}
    names.used |= {"a~3"}
    assert names.fresh("a") == "a~4"


def test_random_use_matches_the_definition():
    rng = random.Random(0)
    names, used = Names(), set()
    for _ in range(3000):
        base = rng.choice(["h", "h~2", "x_bar", "w"])
        if rng.random() < 0.2 and used:
            gone = rng.choice(sorted(used))
            used.discard(gone)
            names.used.discard(gone)
        else:
            assert names.fresh(base) == _reference_fresh(used, base)
        assert names.used == used


def test_many_versions_of_one_name_take_linear_work(monkeypatch):
    """A long function asks for thousands of versions of one name (`h_bar`)."""
    lookups = []

    class Counted(names_module._Taken):
        def __contains__(self, name):
            lookups.append(name)
            return super().__contains__(name)

    monkeypatch.setattr(names_module, "_Taken", Counted)
    names = Names()
    for _ in range(2000):
        names.fresh("h_bar")
    assert len(lookups) <= 2 * 2000
