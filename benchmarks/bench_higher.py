"""Higher order: Hessian-vector products and Hessians from symdiff, side by side with their references.

Run from the repository root:

    python benchmarks/bench_higher.py             # full run (about half a minute)
    python benchmarks/bench_higher.py --quick     # few repeats: a smoke test, not a measurement
    python benchmarks/bench_higher.py --profile   # also: the costliest statements of the generated hvp

Two workloads (issues 4 and 16):
  (a) the 784-256-10 tanh MLP with a stable softmax cross-entropy, batch 256:
      time of `symdiff.hvp` (forward over reverse, with respect to w1) over
      the time of one gradient with respect to w1 (target <= 3), beside the
      reverse-over-reverse hvp it replaced and, when JAX is importable,
      `jax.jit` of `jvp(grad(f))` given device arrays. For scale, a central
      finite-difference hvp costs two gradients. The hvp is first checked
      against those finite differences (and JAX's). Also printed: the line
      counts of f (the source), f' (`grad(f).source`) and f'' (`hvp(f).source`).
  (b) the dense Hessian of the Rosenbrock function, n = 100 and 1000:
      `symdiff.hessian` as users call it (its traced sparsity pattern lets 3
      directions do: one compressed pass, a dense array filled from it) and
      with every direction (`sparsity=False`: forward over reverse with all n
      directions batched in one pass), against one hvp per column, the
      analytic form, and `jax.jit(jax.hessian(f))` in float64 given a device
      array (optional; its compile time is printed separately).
  (b') a Hessian that is dense, log(sum(exp(a @ x))) with a full matrix a, n = 100 and
      1000: `symdiff.hessian` (the trace gives up: every direction) against JAX. What
      symdiff costs where sparsity cannot help.
  (c) the dense Jacobian of tanh(a @ x) * x, m = n = 100 and 1000 (batched forward
      mode), and of tanh(a @ x) * sum(x^2) with m = 100 < n = 1000 (batched reverse
      mode: the vjp's forward mode along its cotangent), against one vjp per row and
      `jax.jit` of `jacfwd` and `jacrev`.
  (d) the sparse Hessian of the same Rosenbrock chain (tridiagonal): `symdiff.sparse_hessian`
      (pattern traced once, 3 colours, one batched pass of 3 directions) against the dense
      `symdiff.hessian(sparsity=False)` (every direction) and `jax.jit(jax.hessian)` at
      n = 2000, and alone with the analytic sparse Hessian at n = 10^5, where a dense one
      would be 80 GB. The first call, which traces the pattern and colours it, is timed apart.
      At n = 10^5 also with `coloring="acyclic"` (2 colours, entries solved along the path).
  (d') a costlier pentadiagonal objective at n = 10^5: `coloring="star"` (5 colours, every
      entry read directly) against `"acyclic"` (3 colours, entries solved along trees),
      checked against the dense Hessian (every direction) at n = 300.

Sections (b), (b') and (c) also time `backend="numba"`: one compiled loop over the
directions around the compiled product (symdiff/backends/numba/batched.py) or the
NumPy batched pass, whichever its first calls timed faster (printed), and in (b)
the per-column Python loop the compiled loop replaced.

Timings are min-of-N repeats with the contenders interleaved in every repeat,
as in bench_core.py.
"""

from __future__ import annotations

import argparse
import inspect
import sys
import time
import types
from pathlib import Path

import numpy as np
from bench_control import print_costly_statements

import symdiff as sd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks import method


def chosen(directions):
    """What `backend="numba"` ran for the last shape: the compiled loop over directions, or the
    NumPy batched pass that beat it (symdiff.higher.Directions)."""
    return ", ".join(directions.chosen.values()) or "not chosen yet"


def check_agreement(ours, theirs, rtol, atol):
    """Largest |difference| between two tuples of arrays; raises (method.cross_check) if they disagree."""
    return method.cross_check({"theirs": theirs, "ours": ours}, rtol=rtol, atol=atol)["ours"]


def interleaved_min(contenders, args, repeats):
    """Median seconds per call of each contender, with the shared method (rotating, after warm-up)."""
    # JAX contenders here close over device arrays already and block in their own calls.
    return {name: stats.median for name, stats in method.interleaved(contenders, args, repeats).items()}


# -- workload (a): tanh MLP with softmax cross-entropy -----------------------------------


def mlp_loss(w1, b1, w2, b2, x, y):
    h = np.tanh(x @ w1 + b1)
    logits = h @ w2 + b2
    z = logits - np.max(logits, axis=1, keepdims=True)
    log_probs = z - np.log(np.sum(np.exp(z), axis=1, keepdims=True))
    return -np.mean(np.sum(y * log_probs, axis=1))


def mlp_data(rng):
    w1 = rng.normal(size=(784, 256)) / np.sqrt(784)
    b1 = np.zeros(256)
    w2 = rng.normal(size=(256, 10)) / np.sqrt(256)
    b2 = np.zeros(10)
    x = rng.normal(size=(256, 784))
    y = np.eye(10)[rng.integers(0, 10, 256)]
    return (w1, b1, w2, b2, x, y)


def line_count(text):
    """Non-blank lines."""
    return sum(1 for line in text.splitlines() if line.strip())


def run_mlp(repeats, profile):
    rng = np.random.default_rng(0)
    args = mlp_data(rng)
    v = rng.normal(size=args[0].shape)
    v /= np.linalg.norm(v)
    grad_w1 = sd.grad(mlp_loss, wrt=0)
    grad_all = sd.grad(mlp_loss, wrt=(0, 1, 2, 3))
    hvp_w1 = sd.hvp(mlp_loss, wrt=0)
    reverse_hvp = _reverse_over_reverse(mlp_loss, grad_w1)

    eps = 1e-4

    def fd_hvp(w1, *rest):
        # Two gradients: the cost floor of the simplest hvp (and the reference values).
        *others, direction = rest
        return (grad_w1(w1 + eps * direction, *others) - grad_w1(w1 - eps * direction, *others)) / (2 * eps)

    exact = hvp_w1(*args, v)
    error = check_agreement((exact,), (fd_hvp(*args, v),), rtol=1e-5, atol=1e-6 * np.max(np.abs(exact)))
    check_agreement((exact,), (reverse_hvp(*args, v),), rtol=1e-10, atol=1e-12 * np.max(np.abs(exact)))
    with_v = (*args, v)
    contenders = {
        "forward": lambda *a: mlp_loss(*a[:-1]),
        "grad w1": lambda *a: grad_w1(*a[:-1]),
        "grad all": lambda *a: grad_all(*a[:-1]),
        "hvp w1": hvp_w1,
        "rev hvp": reverse_hvp,
        "fd hvp": fd_hvp,
    }
    jax_hvp, jax_version = _jax_mlp_hvp(with_v)
    if jax_hvp is not None:
        check_agreement((exact,), (np.asarray(jax_hvp()),), rtol=1e-9, atol=1e-12 * np.max(np.abs(exact)))
        contenders["jax hvp"] = lambda *a: jax_hvp()
    best = interleaved_min(contenders, with_v, repeats)
    ms = 1e3
    print()
    print("(a) MLP 784-256-10 tanh + softmax cross-entropy, batch 256")
    print(f"{'':<34}{'ms':>9}{'/ grad w1':>11}{'/ forward':>11}")
    labels = {
        "forward": "forward f",
        "grad w1": "grad wrt w1",
        "grad all": "grad wrt w1, b1, w2, b2",
        "hvp w1": "hvp wrt w1 (symdiff, fwd over rev)",
        "rev hvp": "hvp wrt w1 (rev over rev)",
        "fd hvp": "hvp by finite differences (2 grads)",
    }
    if jax_hvp is not None:
        labels["jax hvp"] = f"jax {jax_version} jit(jvp(grad)), f64"
    for key, label in labels.items():
        seconds = best[key]
        print(f"  {label:<36}{seconds * ms:>7.3f}{seconds / best['grad w1']:>11.2f}{seconds / best['forward']:>11.2f}")
    if jax_hvp is not None:
        print(f"  symdiff hvp / jax hvp: {best['hvp w1'] / best['jax hvp']:.2f}x (target, issue 16: <= 1.0)")
    ratio = best["hvp w1"] / best["grad w1"]
    print(f"  hvp agrees with finite differences of the gradient: max |difference| {error:.1e}")
    print(f"  target (issue 4): hvp / grad <= 3: {'ok' if ratio <= 3.0 else 'MISSED'} ({ratio:.2f})")
    print()
    print("  line counts (non-blank) of the generated functions:")
    print(f"    f   (mlp_loss source)          {line_count(inspect.getsource(mlp_loss)):4d}")
    print(f"    f'  (grad wrt w1)              {line_count(grad_w1.source):4d}")
    print(f"    f'  (grad wrt all four)        {line_count(grad_all.source):4d}")
    print(f"    f'' (hvp wrt w1)               {line_count(hvp_w1.source):4d}")
    if profile:
        print()
        print_costly_statements(hvp_w1.inner, with_v)


def _reverse_over_reverse(f, gradient):
    """The hvp symdiff built before forward mode: the gradient of sum(grad(f)(w1, ...) * v)."""
    from symdiff.api import build
    from symdiff.higher import _wrapper

    return build(_wrapper(f, gradient, "v", "np.sum(inner({args}) * {extra})", "hvp"), "w1", "grad", "numpy")


def _jax_mlp_hvp(with_v):
    """A no-argument call of `jax.jit(jvp(grad(loss)))` on device arrays, or None without JAX."""
    try:
        import jax
        import jax.numpy as jnp
    except ImportError:
        return None, None
    jax.config.update("jax_enable_x64", True)

    def loss(w1, b1, w2, b2, x, y):
        h = jnp.tanh(x @ w1 + b1)
        logits = h @ w2 + b2
        z = logits - jnp.max(logits, axis=1, keepdims=True)
        log_probs = z - jnp.log(jnp.sum(jnp.exp(z), axis=1, keepdims=True))
        return -jnp.mean(jnp.sum(y * log_probs, axis=1))

    @jax.jit
    def hvp(w1, b1, w2, b2, x, y, v):
        return jax.jvp(lambda w: jax.grad(loss)(w, b1, w2, b2, x, y), (w1,), (v,))[1]

    device = [jnp.asarray(a) for a in with_v]
    hvp(*device).block_until_ready()  # compiled before timing
    return (lambda: hvp(*device).block_until_ready()), jax.__version__


# -- workload (b): Hessian of Rosenbrock ------------------------------------------------


def rosenbrock(x):
    return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


def rosenbrock_hessian(x):
    """The analytic Hessian (tridiagonal)."""
    n = x.size
    h = np.zeros((n, n))
    i = np.arange(n - 1)
    h[i, i] += 1200 * x[:-1] ** 2 - 400 * x[1:] + 2
    h[i + 1, i + 1] += 200
    h[i, i + 1] -= 400 * x[:-1]
    h[i + 1, i] -= 400 * x[:-1]
    return h


def jax_hessian():
    """`jax.jit(jax.hessian(rosenbrock))` in float64, or None without JAX."""
    try:
        import jax
        import jax.numpy as jnp
    except ImportError:
        return None, None
    jax.config.update("jax_enable_x64", True)

    def rosenbrock_jax(x):
        return jnp.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)

    compiled = jax.jit(jax.hessian(rosenbrock_jax))
    device = {}  # the argument as a device array, made once per x (outside the timing)

    def call(x):
        key = id(x)
        if key not in device:
            device[key] = jnp.asarray(x)
        return compiled(device[key]).block_until_ready()

    return call, jax.__version__


def run_rosenbrock(repeats, n=100):
    x = np.random.default_rng(1).normal(size=n)
    start = time.perf_counter()
    hessian = sd.hessian(rosenbrock)
    build = time.perf_counter() - start
    every = sd.hessian(rosenbrock, sparsity=False)
    error = check_agreement((hessian(x), every(x)), (rosenbrock_hessian(x),) * 2, rtol=1e-12, atol=1e-9)
    colours = hessian.sparsity.plan((x,), x.size).count
    product = sd.hvp(rosenbrock)

    def one_hvp_per_column(x):
        return np.stack([product(x, e) for e in np.eye(x.size)], axis=-1)

    numba_every = sd.hessian(rosenbrock, backend="numba", sparsity=False)  # one compiled loop over directions
    numba_product = sd.hvp(rosenbrock, backend="numba")

    def one_numba_hvp_per_column(x):  # what backend="numba" ran before the compiled loop
        return np.stack([numba_product(x, e) for e in np.eye(x.size)], axis=-1)

    check_agreement((numba_every(x), one_numba_hvp_per_column(x)), (rosenbrock_hessian(x),) * 2, rtol=1e-12, atol=1e-9)
    contenders = {"symdiff": hessian, "every": every, "columns": one_hvp_per_column, "analytic": rosenbrock_hessian,
                  "numba every": numba_every, "numba columns": one_numba_hvp_per_column}  # fmt: skip
    jax_call, jax_version = jax_hessian()
    if jax_call is not None:
        start = time.perf_counter()
        jax_result = np.asarray(jax_call(x))
        jax_compile = time.perf_counter() - start
        jax_error = check_agreement((hessian(x),), (jax_result,), rtol=1e-12, atol=1e-9)
        contenders["jax"] = jax_call
    best = interleaved_min(contenders, (x,), repeats)
    ms = 1e3
    print()
    print(f"(b) dense Hessian of Rosenbrock, n={n}")
    print(f"  {f'symdiff.hessian ({colours} directions)':<36}{best['symdiff'] * ms:>9.3f} ms   (build {build * ms:.0f} ms)")  # fmt: skip
    print(f"  {'hessian(sparsity=False), batched':<36}{best['every'] * ms:>9.3f} ms   (every direction)")
    print(f"  {'one symdiff.hvp per column':<36}{best['columns'] * ms:>9.3f} ms")
    print(f"  {'numba, every direction':<36}{best['numba every'] * ms:>9.3f} ms   (backend='numba', sparsity=False)")  # fmt: skip
    print(f"  {'numba, one hvp per column (Python)':<36}{best['numba columns'] * ms:>9.3f} ms")
    print(f"  {'analytic, NumPy':<36}{best['analytic'] * ms:>9.3f} ms")
    print(f"  symdiff agrees with the analytic Hessian: max |difference| {error:.1e}")
    if jax_call is None:
        print("  jax is not installed: no JAX comparison (pip install jax)")
        return
    print(f"  {f'jax {jax_version} jit(hessian), float64':<36}{best['jax'] * ms:>9.3f} ms   (compile {jax_compile * ms:.0f} ms)")  # fmt: skip
    print(f"  symdiff / jax: {best['symdiff'] / best['jax']:.2f}x (target, issue 16: <= 1.0); every direction / jax: {best['every'] / best['jax']:.2f}x; symdiff agrees with jax: max |difference| {jax_error:.1e}")  # fmt: skip
    print(f"  numba every direction / jax: {best['numba every'] / best['jax']:.2f}x; / numpy batched: {best['numba every'] / best['every']:.2f}x; / Python columns: {best['numba every'] / best['numba columns']:.2f}x (numba ran: {chosen(numba_every.inner)})")  # fmt: skip


def log_sum_exp_of_a_layer(x, a):
    return np.log(np.sum(np.exp(a @ x)))


def run_dense_hessian(repeats, n=100):
    rng = np.random.default_rng(4)
    x, a = rng.normal(size=n), rng.normal(size=(n, n)) / np.sqrt(n)
    hessian = sd.hessian(log_sum_exp_of_a_layer)
    p = np.exp(a @ x - np.max(a @ x))
    p /= p.sum()
    expected = a.T @ (np.diag(p) - np.outer(p, p)) @ a
    check_agreement((hessian(x, a),), (expected,), rtol=1e-9, atol=1e-12)
    assert hessian.sparsity.plan((x, a), x.size) is None  # dense: every direction
    on_numba = sd.hessian(log_sum_exp_of_a_layer, backend="numba")
    check_agreement((on_numba(x, a),), (expected,), rtol=1e-9, atol=1e-12)
    contenders = {"symdiff": hessian, "numba": on_numba}
    try:
        import jax
        import jax.numpy as jnp
    except ImportError:
        jax = None
    if jax is not None:
        jax.config.update("jax_enable_x64", True)
        compiled = jax.jit(jax.hessian(lambda x, a: jnp.log(jnp.sum(jnp.exp(a @ x)))))
        device = (jnp.asarray(x), jnp.asarray(a))
        check_agreement((hessian(x, a),), (np.asarray(compiled(*device)),), rtol=1e-9, atol=1e-12)
        contenders["jax"] = lambda *args: compiled(*device).block_until_ready()
    best = interleaved_min(contenders, (x, a), repeats)
    ms = 1e3
    print()
    print(f"(b') dense Hessian of log(sum(exp(a @ x))), n={n} (no sparsity to use)")
    print(f"  {'symdiff.hessian (every direction)':<36}{best['symdiff'] * ms:>9.3f} ms")
    print(f"  {'numba, every direction':<36}{best['numba'] * ms:>9.3f} ms   (ran: {chosen(on_numba.inner)})")
    if jax is not None:
        print(f"  {f'jax {jax.__version__} jit(hessian), float64':<36}{best['jax'] * ms:>9.3f} ms")
        print(f"  symdiff / jax: {best['symdiff'] / best['jax']:.2f}x (target, issue 16: <= 1.0); numba / jax: {best['numba'] / best['jax']:.2f}x")  # fmt: skip


# -- workload (c): a square Jacobian -------------------------------------------------------


def layer(x, a):
    return np.tanh(a @ x) * x


def wide_layer(x, a):
    return np.tanh(a @ x) * np.sum(x**2)


def layer_by_hand(x, a):
    t = np.tanh(a @ x)
    return np.diag(t) + (1.0 - t**2)[:, None] * a * x[:, None]


def wide_layer_by_hand(x, a):
    t = np.tanh(a @ x)
    return (1.0 - t**2)[:, None] * a * np.sum(x**2) + np.outer(t, 2.0 * x)


def run_jacobian(repeats, n=100):
    rng = np.random.default_rng(2)
    x, a = rng.normal(size=n), rng.normal(size=(n, n)) / np.sqrt(n)
    jacobian_against_jax(repeats, layer, layer_by_hand, (x, a), f"tanh(a @ x) * x, m = n = {n}", "forward")


def run_wide_jacobian(repeats, m=100, n=1000):
    rng = np.random.default_rng(5)
    x, a = rng.normal(size=n), rng.normal(size=(m, n)) / np.sqrt(n)
    title = f"tanh(a @ x) * sum(x^2), m = {m} < n = {n}"
    jacobian_against_jax(repeats, wide_layer, wide_layer_by_hand, (x, a), title, "reverse")


def jacobian_against_jax(repeats, f, by_hand, args, title, way):
    """symdiff's dense Jacobian of f against its analytic form, one vjp per row, and JAX's jacfwd and
    jacrev (the same f written with jax.numpy: `np` swapped for `jnp` in f's globals)."""
    jacobian = sd.jacobian(f)
    check_agreement((jacobian(*args),), (by_hand(*args),), rtol=1e-12, atol=1e-12)
    back = sd.vjp(f)
    rows = np.size(f(*args))

    def one_vjp_per_row(*args):
        return np.stack([back(*args, e) for e in np.eye(rows)])

    on_numba = sd.jacobian(f, backend="numba")  # one compiled loop over the directions
    check_agreement((on_numba(*args),), (by_hand(*args),), rtol=1e-12, atol=1e-12)
    contenders = {"symdiff": jacobian, "rows": one_vjp_per_row, "numba": on_numba}
    try:
        import jax
        import jax.numpy as jnp
    except ImportError:
        jax = None
    if jax is not None:
        jax.config.update("jax_enable_x64", True)
        f_jax = types.FunctionType(f.__code__, {**f.__globals__, "np": jnp}, f.__name__)
        device = tuple(jnp.asarray(a) for a in args)
        for name, transform in (("jacfwd", jax.jacfwd), ("jacrev", jax.jacrev)):
            compiled = jax.jit(transform(f_jax))
            check_agreement((jacobian(*args),), (np.asarray(compiled(*device)),), rtol=1e-12, atol=1e-12)
            contenders[name] = lambda *_, c=compiled: c(*device).block_until_ready()
    best = interleaved_min(contenders, args, repeats)
    ms = 1e3
    print()
    print(f"(c) dense Jacobian of {title}")
    print(f"  {f'symdiff.jacobian (batched {way})':<36}{best['symdiff'] * ms:>9.3f} ms")
    print(f"  {'one symdiff.vjp per row':<36}{best['rows'] * ms:>9.3f} ms")
    ran = chosen(on_numba.reverse_rows() if way == "reverse" else on_numba.inner)
    print(f"  {'numba, every direction':<36}{best['numba'] * ms:>9.3f} ms   (ran: {ran})")
    if jax is not None:
        for name in ("jacfwd", "jacrev"):
            print(f"  {f'jax {jax.__version__} jit({name}), float64':<36}{best[name] * ms:>9.3f} ms")
        faster = min(best["jacfwd"], best["jacrev"])
        print(f"  symdiff / faster jax: {best['symdiff'] / faster:.2f}x (target, issue 16: <= 1.0); numba / faster jax: {best['numba'] / faster:.2f}x")  # fmt: skip


# -- workload (d): a sparse Hessian ---------------------------------------------------------


def rosenbrock_sparse_hessian(x):
    """The analytic Hessian as a scipy.sparse matrix."""
    import scipy.sparse

    diagonal = np.zeros(x.size)
    diagonal[:-1] += 1200 * x[:-1] ** 2 - 400 * x[1:] + 2
    diagonal[1:] += 200
    off = -400 * x[:-1]
    return scipy.sparse.diags([off, diagonal, off], [-1, 0, 1], format="csr")


def run_sparse(repeats, n_dense, n_large):
    rng = np.random.default_rng(3)
    x = rng.normal(size=n_dense)
    sparse = sd.sparse_hessian(rosenbrock)
    start = time.perf_counter()
    matrix = sparse(x)
    first = time.perf_counter() - start
    dense = sd.hessian(rosenbrock, sparsity=False)  # every direction: what the compression saves
    check_agreement((matrix.toarray(),), (dense(x),), rtol=1e-12, atol=1e-9)
    error = check_agreement((matrix.toarray(),), (rosenbrock_sparse_hessian(x).toarray(),), rtol=1e-12, atol=1e-9)
    contenders = {"sparse": sparse, "dense": dense, "analytic": rosenbrock_sparse_hessian}
    jax_call, jax_version = jax_hessian()
    if jax_call is not None:
        check_agreement((matrix.toarray(),), (np.asarray(jax_call(x)),), rtol=1e-12, atol=1e-9)
        contenders["jax"] = jax_call
    best = interleaved_min(contenders, (x,), repeats)
    ms = 1e3
    print()
    print(f"(d) sparse Hessian of Rosenbrock (tridiagonal), n={n_dense}: {sparse.colors(x).max() + 1} colours")
    print(f"  {'symdiff.sparse_hessian':<36}{best['sparse'] * ms:>9.3f} ms   (first call, tracing the pattern: {first * ms:.0f} ms)")  # fmt: skip
    print(f"  {'hessian(sparsity=False), batched':<36}{best['dense'] * ms:>9.3f} ms   (every direction)")
    print(f"  {'analytic, scipy.sparse':<36}{best['analytic'] * ms:>9.3f} ms")
    if jax_call is not None:
        print(f"  {f'jax {jax_version} jit(hessian), float64':<36}{best['jax'] * ms:>9.3f} ms")
        print(f"  dense jax / sparse symdiff: {best['jax'] / best['sparse']:.1f}x")
    ratio = best["dense"] / best["sparse"]
    print(f"  dense symdiff / sparse symdiff: {ratio:.0f}x (target, issue 16: >= 100); agrees with the analytic one: max |difference| {error:.1e}")  # fmt: skip
    big = rng.normal(size=n_large)
    large = sd.sparse_hessian(rosenbrock)
    start = time.perf_counter()
    matrix = large(big)
    first = time.perf_counter() - start
    expected = rosenbrock_sparse_hessian(big)
    error = abs(matrix - expected).max()  # sparse against sparse: no dense matrix of n^2 at this size
    if not error <= 1e-12 * abs(expected).max() or matrix.nnz != 3 * n_large - 2:
        raise AssertionError(f"the sparse Hessian disagrees with the analytic one: {error:.3g}, {matrix.nnz} nonzeros")
    acyclic = sd.sparse_hessian(rosenbrock, coloring="acyclic")  # 2 colours, entries solved along the path
    solved = acyclic(big)
    error_acyclic = abs(solved - expected).max()
    if not error_acyclic <= 1e-12 * abs(expected).max() or acyclic.colors(big).max() + 1 != 2:
        raise AssertionError(f"the acyclic sparse Hessian disagrees with the analytic one: {error_acyclic:.3g}")
    contenders = {"sparse": large, "acyclic": acyclic, "analytic": rosenbrock_sparse_hessian}
    best = interleaved_min(contenders, (big,), max(3, repeats // 5))
    print(f"  n={n_large}: symdiff.sparse_hessian {best['sparse'] * ms:.2f} ms (first call {first:.2f} s), analytic {best['analytic'] * ms:.2f} ms; max |difference| {error:.1e}")  # fmt: skip
    print(f"  n={n_large}: coloring='acyclic' (2 colours) {best['acyclic'] * ms:.2f} ms; max |difference| {error_acyclic:.1e}")  # fmt: skip


def banded(x):
    """A costlier objective whose terms read three neighbours: a pentadiagonal Hessian."""
    return np.sum(np.log1p(np.exp(np.sin(x[2:] * x[1:-1] + x[:-2])))) + np.sum(np.tanh(x[1:] - x[:-1]) ** 2)


def run_sparse_banded(repeats, n_check, n_large):
    """(d') star (5 colours) against acyclic (3 colours, solved along trees) on a pentadiagonal Hessian."""
    rng = np.random.default_rng(4)
    x = rng.normal(size=n_check)
    expected = sd.hessian(banded, sparsity=False)(x)  # every direction
    for coloring in ("star", "acyclic"):
        check_agreement(
            (sd.sparse_hessian(banded, coloring=coloring)(x).toarray(),), (expected,), rtol=1e-12, atol=1e-9
        )
    big = rng.normal(size=n_large)
    contenders = {coloring: sd.sparse_hessian(banded, coloring=coloring) for coloring in ("star", "acyclic")}
    first = {}
    for name, hessian in contenders.items():
        start = time.perf_counter()
        hessian(big)
        first[name] = time.perf_counter() - start
    star, acyclic = (contenders[name](big) for name in ("star", "acyclic"))
    error = abs(star - acyclic).max()
    if not error <= 1e-12 * abs(star).max():
        raise AssertionError(f"acyclic and star sparse Hessians disagree: {error:.3g}")
    best = interleaved_min(contenders, (big,), repeats)
    ms = 1e3
    print()
    print(f"(d') sparse Hessian of a pentadiagonal objective, n={n_large} (checked against every direction at n={n_check})")  # fmt: skip
    for name, hessian in contenders.items():
        colours = hessian.colors(big).max() + 1
        print(f"  {f'coloring={name!r}, {colours} colours':<36}{best[name] * ms:>9.2f} ms   (first call {first[name]:.2f} s)")  # fmt: skip
    print(f"  star / acyclic: {best['star'] / best['acyclic']:.2f}x; max |difference| {error:.1e}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="few repeats: a smoke test, not a measurement")
    parser.add_argument("--repeats", type=int, default=None, help="timing samples per contender (default 30)")
    parser.add_argument("--profile", action="store_true", help="print the costliest statements of the hvp")
    options = parser.parse_args(argv)
    repeats = options.repeats or (3 if options.quick else 30)
    method.print_machine()
    print(f"median of {repeats} interleaved samples of ~50 ms each (rotating order, after warm-up)")
    run_mlp(repeats, options.profile)
    run_rosenbrock(repeats)
    run_rosenbrock(max(3, repeats // 5), 1000)
    run_dense_hessian(repeats)
    run_dense_hessian(max(3, repeats // 5), 1000)
    run_jacobian(repeats)
    run_jacobian(max(3, repeats // 5), 1000)
    run_wide_jacobian(max(3, repeats // 5))
    run_sparse(max(3, repeats // 5), 500 if options.quick else 2000, 10_000 if options.quick else 100_000)
    run_sparse_banded(max(3, repeats // 5), 300, 10_000 if options.quick else 100_000)


if __name__ == "__main__":
    main()
