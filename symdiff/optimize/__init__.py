"""Optimisation passes over the IR, run in order by `pipeline.optimize`."""

from symdiff.optimize.pipeline import optimize

__all__ = ["optimize"]
