"""Display names (codegen/naming.py): `NamePicker` against the scan it replaces."""

import keyword
import random

from symdiff.codegen.naming import NamePicker


def _reference_pick(base: str, index: int, holder: dict, last_use: dict, taken: set) -> str:
    """The definition: the first of `base`, `base_2`, ... that no live value holds at `index`."""
    k = 1
    while True:
        candidate = base if k == 1 else f"{base}_{k}"
        current = holder.get(candidate)
        if (
            candidate not in taken
            and not keyword.iskeyword(candidate)
            and (current is None or last_use.get(current, -1) <= index)
        ):
            return candidate
        k += 1


def test_a_name_is_reused_once_its_holder_is_dead():
    last_use = {"x~1": 3, "x~2": 5, "x~3": 9, "x~4": 8}
    picker = NamePicker({}, last_use, {"x_3"})
    assert picker.pick("x", 0, "x~1") == "x"
    assert picker.pick("x", 1, "x~2") == "x_2"
    assert picker.pick("x", 4, "x~3") == "x"  # x~1 was last read at 3
    assert picker.pick("x", 6, "x~4") == "x_2"
    assert picker.pick("x", 6, "x~5") == "x_4"  # x_3 is reserved


def test_random_programs_get_the_names_of_the_scan():
    """Interleaved bases whose versions collide (`h_2` is version 2 of `h` and version 1 of
    `h_2`), values dying at random times, and names taken by ties (`hold`)."""
    rng = random.Random(1)
    for trial in range(20):
        events = 400
        last_use = {f"v{i}": i + rng.choice([0, 1, 2, 5, 40, 400]) for i in range(events)}
        taken = {"h_3", "y_bar"}
        holder, reference_holder = {}, {}
        picker = NamePicker(holder, last_use, taken)
        shown = []
        for index in range(events):
            name = f"v{index}"
            base = rng.choice(["h", "h", "h", "h_2", "y_bar", "lambda"])
            if shown and rng.random() < 0.05:  # a loop output takes an earlier value's name
                display = rng.choice(shown)
                picker.hold(display, name)
                reference_holder[display] = name
                continue
            expected = _reference_pick(base, index, reference_holder, last_use, taken)
            assert picker.pick(base, index, name) == expected, (trial, index)
            reference_holder[expected] = name
            shown.append(expected)
            assert holder == reference_holder


def test_many_live_versions_take_linear_work():
    """A long function keeps hundreds of versions of `x` alive for its backward pass."""
    lookups = []

    class Counted(dict):
        def get(self, key, default=None):
            lookups.append(key)
            return super().get(key, default)

    n = 3000
    last_use = {f"x~{i}": n + (n - i) for i in range(n)}  # all live to the end, freed last-in first-out
    last_use |= {f"t~{i}": n + i + 1 for i in range(n)}
    picker = NamePicker(Counted(), last_use, set())
    for i in range(n):
        picker.pick("x", i, f"x~{i}")
    for i in range(n):  # the backward pass: one x dies per statement and a new one is defined
        picker.pick("x", n + i + 1, f"t~{i}")
    assert len(lookups) <= 10 * n
