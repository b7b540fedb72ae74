"""The differential fuzzer: random programs checked against two independent oracles.

- `programs.py` writes random programs (the source text of a function and its
  arguments) from the whole derivative table, with control flow, element
  writes, lists and tuples, broadcasting and float32 inputs;
- `check.py` runs one program through `symdiff.grad` on a backend and sorts
  the result into an outcome: exact, refused at build with a location, or a
  failure (wrong, internal error, refusal at call time, refusal without a
  location), checking the gradient against central finite differences and
  against autograd;
- `test_fuzz.py` runs a few hundred derandomized programs in `pytest`;
- `__main__.py` is the long run, `python -m tests.fuzz --count 10000`
  (docs/testing.md).

Nothing here is imported by symdiff, and nothing here reaches into symdiff
beyond its public API.
"""
