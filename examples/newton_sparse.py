"""Newton's method with a sparse Hessian: the minimal surface over a square, with symdiff.

    python examples/newton_sparse.py                  # a 150 x 150 grid: 22,500 unknowns
    python examples/newton_sparse.py --quick          # a 24 x 24 grid, as in CI (also: SYMDIFF_EXAMPLE_QUICK=1)
    python examples/newton_sparse.py --plot out.png   # where to save the plot (needs matplotlib)

The surface z = u(x, y) of least area spanning a wire bent along the boundary
of the unit square (Plateau's problem): minimise

    area(u) = h^2 * sum over cells of sqrt(1 + ux^2 + uy^2)

over the values of u at the interior grid points, ux and uy being each cell's
averaged differences. Each cell reads its four corners, so the Hessian has
nine nonzeros per row out of n: at n = 22,500 a dense Hessian would be 4 GB
and 22,500 Hessian-vector products per Newton step.

`symdiff.sparse_hessian(area)` traces the nine-point pattern once, through the
generated gradient's code, colours its columns (9 colours on this stencil,
whatever n is: the grid points in classes of i mod 3 and j mod 3), and gives
each Newton step the Hessian as a scipy.sparse matrix from one batched pass of
9 directions. SciPy's sparse solver does the
rest. Newton converges quadratically: the gradient's norm falls to rounding
in a handful of steps.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import scipy.sparse.linalg

import symdiff


def area(u, boundary, h):
    """The surface's area: `u` the interior heights (m x m), `boundary` the full (m+2) x (m+2)
    grid whose outer ring holds the wire's heights."""
    full = boundary * 1.0
    full[1:-1, 1:-1] = u
    ux = (full[1:, :-1] - full[:-1, :-1] + full[1:, 1:] - full[:-1, 1:]) / (2.0 * h)
    uy = (full[:-1, 1:] - full[:-1, :-1] + full[1:, 1:] - full[1:, :-1]) / (2.0 * h)
    return h * h * np.sum(np.sqrt(1.0 + ux * ux + uy * uy))


gradient = symdiff.grad(area)
hessian = symdiff.sparse_hessian(area)


def wire(m):
    """The boundary heights: a saddle-like wire, (m+2) x (m+2) with zeros inside."""
    s = np.linspace(0.0, 1.0, m + 2)
    x, y = np.meshgrid(s, s, indexing="ij")
    heights = 0.5 * np.sin(2 * np.pi * x) * np.cos(np.pi * y) + 0.3 * (x - y)
    inside = np.zeros_like(heights, dtype=bool)
    inside[1:-1, 1:-1] = True
    return np.where(inside, 0.0, heights)


def newton(m, tolerance=1e-10, steps=30):
    """Newton's method with a backtracking line search; prints one line per step."""
    boundary, h = wire(m), 1.0 / (m + 1)
    u = np.zeros((m, m))
    norms, timings = [], []
    for step in range(steps):
        g = gradient(u, boundary, h)
        norms.append(float(np.linalg.norm(g)))
        if norms[-1] < tolerance:
            break
        start = time.perf_counter()
        matrix = hessian(u, boundary, h)
        timings.append(time.perf_counter() - start)
        direction = -scipy.sparse.linalg.spsolve(matrix.tocsc(), g.ravel()).reshape(u.shape)
        current, t = area(u, boundary, h), 1.0
        while area(u + t * direction, boundary, h) > current + 1e-4 * t * np.sum(g * direction) and t > 1e-8:
            t *= 0.5
        u = u + t * direction
        print(f"step {step:2d}  area {current:.12f}  |gradient| {norms[-1]:.3e}  step length {t:g}")
    print(f"converged: |gradient| {norms[-1]:.3e} after {len(norms) - 1} Newton steps")
    return u, boundary, h, norms, timings


def save_plot(path, u, boundary, norms):
    """The surface and the convergence, side by side; skipped without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: skipping the plot (pip install matplotlib)")
        return
    full = boundary.copy()
    full[1:-1, 1:-1] = u
    figure = plt.figure(figsize=(11, 4.5))
    left = figure.add_subplot(1, 2, 1, projection="3d")
    s = np.linspace(0.0, 1.0, full.shape[0])
    x, y = np.meshgrid(s, s, indexing="ij")
    left.plot_surface(x, y, full, cmap="viridis", linewidth=0)
    left.set_title("minimal surface")
    right = figure.add_subplot(1, 2, 2)
    right.semilogy(np.arange(len(norms)), norms, "o-")
    right.set_xlabel("Newton step")
    right.set_ylabel("|gradient|")
    right.set_title("quadratic convergence, sparse Hessian")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    print(f"plot saved to {path}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a small grid (also SYMDIFF_EXAMPLE_QUICK=1)")
    parser.add_argument("--size", type=int, default=None, help="interior points per side (default 150, quick 24)")
    parser.add_argument("--plot", default="newton_sparse.png", help="where to save the plot (PNG)")
    parser.add_argument("--no-plot", action="store_true", help="do not save a plot")
    options = parser.parse_args(argv)
    quick = options.quick or os.environ.get("SYMDIFF_EXAMPLE_QUICK") == "1"
    m = options.size or (24 if quick else 150)
    boundary, h, u = wire(m), 1.0 / (m + 1), np.full((m, m), 0.1)
    start = time.perf_counter()
    pattern = hessian.pattern(u, boundary, h)
    colors = hessian.colors(u, boundary, h)
    print(f"{m * m} unknowns: the Hessian has {pattern.nnz} nonzeros ({pattern.nnz / (m * m):.1f} per row),")
    print(f"{colors.max() + 1} colours, so one batched pass of {colors.max() + 1} directions per Hessian")
    print(f"(pattern traced and coloured in {time.perf_counter() - start:.2f} s, once for this grid)")
    if m * m <= 1000:  # small enough to check against the dense Hessian
        dense = symdiff.hessian(area)(u, boundary, h).reshape(m * m, m * m)
        difference = np.abs(hessian(u, boundary, h).toarray() - dense).max()
        print(f"sparse Hessian equals the dense one: max |difference| {difference:.1e}")
    u, boundary, h, norms, timings = newton(m)
    print(f"one sparse Hessian: {1e3 * np.median(timings):.1f} ms (median over {len(timings)} Newton steps)")
    if not options.no_plot:
        save_plot(options.plot, u, boundary, norms)


if __name__ == "__main__":
    main()
