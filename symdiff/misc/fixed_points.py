"""autograd's `fixed_point(f, a, x0, distance, tol)`: iterate `x = f(a)(x)` from `x0` until two
iterates are within `tol`.

autograd differentiates it implicitly (an adjoint fixed-point iteration);
symdiff differentiates the iterations themselves, the ones that ran. For a
contraction both converge to the derivative at the fixed point as the
iterates do, and they differ by about as much as the last iterate differs
from the fixed point: tighten `tol` for a tighter derivative.
"""

from __future__ import annotations


def fixed_point(f, a, x0, distance, tol):
    """The first iterate of `x = f(a)(x)` from `x0` within `tol` of the one before it."""
    step = f(a)
    x, x_prev = step(x0), x0
    while distance(x, x_prev) > tol:
        x, x_prev = step(x), x
    return x
