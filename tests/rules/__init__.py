"""Tests of the derivative table: one case per rule, SymPy checks, closure."""
