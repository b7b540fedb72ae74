"""Fixture for tests/test_check.py: a module another fixture imports from."""


def imported_helper(x):
    return x
