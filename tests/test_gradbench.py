"""GradBench's twelve evals (benchmarks/gradbench) against central differences.

Each eval's objective is written as plain NumPy from GradBench's
specification; here symdiff differentiates it on the numpy and numba
backends, on small inputs drawn with a fixed seed, and the result is compared
with central differences in float64 (tests/oracles.py). All twelve
differentiate on both backends, written as GradBench writes them (det's
expansion by minors recurses on A.shape[0]: built once per shape).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import symdiff as sd
from benchmarks.gradbench import ba, det, gmm, hello, ht, kmeans, llsq, lse, lstm, ode, particle, saddle
from tests.oracles import numeric_grad, numeric_vjp

ROOT = Path(__file__).resolve().parent.parent
RTOL, ATOL = 1e-6, 1e-8


def on_backends():
    """Parametrise over the two CPU backends (GradBench's 12 objectives run on both)."""
    return pytest.mark.parametrize("backend", ["numpy", "numba"])


def close(got, expected):
    np.testing.assert_allclose(got, expected, rtol=RTOL, atol=ATOL)


# hello, lse, llsq, ode: gradients of scalar functions of a vector.


@on_backends()
def test_hello(backend):
    close(hello.double(3.5, backend), numeric_grad(hello.square, (3.5,), 0))


@on_backends()
def test_lse(backend):
    x = 3.0 * np.random.default_rng(1).normal(size=8)
    close(lse.gradient(x, backend), numeric_grad(lse.logsumexp, (x,), 0))


@on_backends()
def test_llsq(backend):
    x = np.random.default_rng(2).random(4)
    close(llsq.gradient(x, 9, backend), numeric_grad(llsq.llsq, (x, 9), 0))


@on_backends()
def test_ode(backend):
    x = np.random.default_rng(3).random(5)
    close(ode.gradient(x, 3, backend), numeric_grad(ode.last, (x, 3), 0))


# det: expansion by minors.


def test_det_primal_is_the_determinant():
    A = np.random.default_rng(4).random((4, 4))
    assert det.primal(A) == pytest.approx(np.linalg.det(A), rel=1e-12)


@on_backends()
def test_det(backend):
    """The recursion ends at A.shape[0] == 1: built for each new shape, as jax.jit traces."""
    for ell in (1, 2, 4):
        A = np.random.default_rng(4 + ell).random((ell, ell))
        close(det.gradient(A, backend), numeric_grad(det.det_by_minor, (A,), 0))


# kmeans: the gradient, and J / H with H's diagonal from a Hessian-vector product.


@pytest.fixture(scope="module")
def kmeans_input():
    points = np.random.default_rng(5).random((20, 3))
    centroids = points[-4:].copy()  # as GradBench: every cluster has a point
    dist2 = np.sort(np.sum((points[:, None] - centroids[None]) ** 2, axis=2), axis=1)
    assert np.min(dist2[:, 1] - dist2[:, 0]) > 1e-2  # steps of 1e-3 keep every point's cluster
    return points, centroids


@on_backends()
def test_kmeans_gradient(backend, kmeans_input):
    points, centroids = kmeans_input
    got = sd.grad(kmeans.cost, wrt=1, backend=backend)(points, centroids)
    close(got, numeric_grad(kmeans.cost, kmeans_input, 1))


@on_backends()
def test_kmeans_dir(backend, kmeans_input):
    points, centroids = kmeans_input
    # The cost is quadratic while no point changes cluster, so differences with a step of 1e-3 are exact.
    J = numeric_grad(kmeans.cost, kmeans_input, 1, eps=1e-3)
    along_ones = lambda c: np.sum(numeric_grad(kmeans.cost, (points, c), 1, eps=1e-3))
    H = numeric_grad(along_ones, (centroids,), 0, eps=1e-3)
    close(kmeans.direction(points, centroids, backend), J / H)


# gmm: the gradient with respect to alpha, mu, q and l.


@pytest.fixture(scope="module")
def gmm_input():
    rng = np.random.default_rng(6)
    d, k, n = 3, 2, 5
    alpha, mu, q = rng.normal(size=k), rng.uniform(size=(k, d)), rng.normal(size=(k, d))
    return alpha, mu, q, rng.normal(size=(k, d * (d - 1) // 2)), rng.normal(size=(n, d)), 1, 1.3


@on_backends()
def test_gmm(backend, gmm_input):
    grads = gmm.jacobian(*gmm_input, backend=backend)
    for k, got in enumerate(grads):
        close(got, numeric_grad(gmm.gmm_objective, gmm_input, k))


# ba: one observation's errors (both arms of the rotation), and the sparse Jacobian.


def ba_observation(rotation):
    rng = np.random.default_rng(7)
    cam = np.concatenate((rotation, [0.1, -0.2, -5.0, 1.5], rng.normal(size=2), 0.1 * rng.normal(size=2)))
    return cam, rng.normal(size=3), 0.9, rng.normal(size=2)


@on_backends()
@pytest.mark.parametrize("rotation", [[0.3, -0.2, 0.4], [0.0, 0.0, 0.0]], ids=["rotated", "no-rotation"])
def test_ba_reprojection_error(backend, rotation):
    args = ba_observation(np.array(rotation))
    seed = np.array([0.6, -1.3])
    grads = sd.vjp(ba.reproj_err, wrt=(0, 1, 2), backend=backend)(*args, seed)
    for k, got in enumerate(grads):
        close(got, numeric_vjp(ba.reproj_err, args, k, seed))


@on_backends()
def test_ba_sparse_jacobian(backend):
    cam, x, w, feat = ba_observation(np.array([0.3, -0.2, 0.4]))
    cams, X, ws, obs, feats = ba.expand(2, 3, 5, cam, x, w, feat)
    rng = np.random.default_rng(8)
    cams, X, ws = cams + 0.1 * rng.normal(size=cams.shape), X + rng.normal(size=X.shape), ws + rng.normal(size=5)
    rows, cols, vals = ba.jacobian(cams, X, ws, obs, feats, backend)
    dense = np.zeros((3 * 5, cams.size + X.size + ws.size))
    for r in range(dense.shape[0]):
        dense[r, cols[rows[r] : rows[r + 1]]] = vals[rows[r] : rows[r + 1]]

    def errors(flat):
        reproj, w_err = ba.objective(flat[:22].reshape(2, 11), flat[22:31].reshape(3, 3), flat[31:], obs, feats)
        return np.concatenate((reproj.ravel(), w_err))

    flat = np.concatenate((cams.ravel(), X.ravel(), ws))
    expected = np.array([numeric_vjp(errors, (flat,), 0, np.eye(15)[r]) for r in range(15)])
    close(dense, expected)


# ht: a synthetic hand (GradBench's has 22 bones and hundreds of vertices; the code does not care).


@pytest.fixture(scope="module")
def hand():
    rng = np.random.default_rng(9)
    bones, vertices, npts, triangles = 22, 8, 4, 5

    def rigid():
        transform = np.eye(4)
        transform[:3, :3] = np.linalg.qr(rng.normal(size=(3, 3)))[0]
        transform[:3, 3] = rng.normal(size=3)
        return transform

    parents = np.array([-1] + [int(rng.integers(0, i)) for i in range(1, bones)])
    base_positions = np.ones((vertices, 4))
    base_positions[:, :3] = rng.normal(size=(vertices, 3))
    weights = rng.random((vertices, bones))
    weights /= np.sum(weights, axis=1, keepdims=True)
    model = (
        parents,
        np.array([rigid() for _ in range(bones)]),
        np.array([rigid() for _ in range(bones)]),
        base_positions,
        weights,
        False,
        rng.integers(0, vertices, size=(triangles, 3)),
    )
    theta, us = 0.5 * rng.normal(size=26), 0.5 * rng.random((npts, 2))
    points = rng.normal(size=(npts, 3))
    return theta, us, model, points, rng.integers(0, vertices, size=npts), rng.integers(0, triangles, size=npts)


@on_backends()
def test_ht_simple(backend, hand):
    theta, _, model, points, vertex_of, _ = hand
    args = (theta, *model[:6], points, vertex_of)
    seed = np.random.default_rng(10).normal(size=points.shape)
    got = sd.vjp(ht.hand_objective, backend=backend)(*args, seed)
    close(got, numeric_vjp(ht.hand_objective, args, 0, seed))


@on_backends()
def test_ht_complicated(backend, hand):
    theta, us, model, points, _, triangle_of = hand
    mirrored = (*model[:5], True)  # GradBench's models are not mirrored; this covers the other arm
    args = (theta, us, *mirrored, points, triangle_of, model[6])
    seed = np.random.default_rng(11).normal(size=points.shape)
    grads = sd.vjp(ht.hand_objective_complicated, wrt=(0, 1), backend=backend)(*args, seed)
    for k, got in enumerate(grads):
        close(got, numeric_vjp(ht.hand_objective_complicated, args, k, seed))


@on_backends()
def test_ht_jacobian_layout(backend, hand):
    theta, us, model, points, _, triangle_of = hand
    got = ht.jacobian(theta, us, model, points, triangle_of, backend)
    rows = []
    for r in range(got.shape[0]):
        seed = np.eye(got.shape[0])[r]
        d_theta = numeric_vjp(lambda t: ht.objective(t, us, model, points, triangle_of), (theta,), 0, seed)
        d_us = numeric_vjp(lambda u: ht.objective(theta, u, model, points, triangle_of), (us,), 0, seed)
        rows.append(np.concatenate((d_us[r // 3], d_theta)))
    close(got, np.array(rows))


# lstm: the gradient with respect to main_params and extra_params.


@on_backends()
def test_lstm(backend):
    rng = np.random.default_rng(12)
    layers, bits, chars = 2, 3, 4
    args = (
        rng.random((2 * layers, 4 * bits)),
        rng.random((3, bits)),
        rng.random((2 * layers, bits)),
        (rng.random((chars, bits)) > 0.5) * 1.0,
    )
    expected = np.concatenate([numeric_grad(lstm.lstm_objective, args, k).ravel() for k in (0, 1)])
    close(lstm.jacobian(*args, backend=backend), expected)


# particle and saddle: nested AD; the outer derivative, which differentiates through the inner one.


def variants():
    return pytest.mark.parametrize(
        "variant, backend",
        [(variant, backend) for backend in ("numpy", "numba") for variant in ("rr", "rf", "fr", "ff")],
    )


@variants()
def test_particle(variant, backend):
    got = particle.derivative(variant, backend)(0.1)
    assert got == pytest.approx(numeric_grad(particle.OBJECTIVES[variant], (0.1,), 0), rel=RTOL, abs=ATOL)


@variants()
def test_saddle(variant, backend):
    p1, start = np.array([0.3, -0.4]), np.array([1.0, 1.0])
    cost = saddle.r1_cost_r if variant[1] == "r" else saddle.r1_cost_f
    close(saddle.outer_gradient(variant, backend)(p1, start), numeric_grad(cost, (p1, start), 0))


# The tool: GradBench's protocol on stdin and stdout.


def test_tool_speaks_the_protocol():
    messages = [
        {"id": 0, "kind": "start", "eval": "lse"},
        {"id": 1, "kind": "define", "module": "lse"},
        {"id": 2, "kind": "evaluate", "module": "lse", "function": "gradient", "input": {"x": [1.0, 2.0, 3.0]}},
        {"id": 3, "kind": "define", "module": "hello"},
        {"id": 4, "kind": "evaluate", "module": "hello", "function": "double", "input": 1.5},
        {"id": 5, "kind": "evaluate", "module": "lse", "function": "hessian", "input": {"x": [1.0]}},
        {"id": 6, "kind": "analysis", "of": 2, "valid": True},
    ]
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks/gradbench/tool.py")],
        input="".join(json.dumps(m) + "\n" for m in messages),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    replies = [json.loads(line) for line in done.stdout.splitlines()]
    assert [r["id"] for r in replies] == list(range(7))
    assert replies[0]["tool"] == "symdiff" and replies[1]["success"] and replies[3]["success"]
    x = np.array([1.0, 2.0, 3.0])
    np.testing.assert_allclose(replies[2]["output"], np.exp(x) / np.sum(np.exp(x)), rtol=1e-12)
    assert len(replies[2]["timings"]) == 1 and replies[2]["timings"][0]["name"] == "evaluate"
    assert replies[4]["output"] == 3.0
    assert not replies[5]["success"] and "hessian" in replies[5]["error"]


@pytest.mark.parametrize("variant", ["ff", "fr"])
def test_particle_argmin_with_forward_outer_mode(variant):
    # GradBench's particle eval asks for the argmin, whose optimiser hands np.float64 elements to
    # the jvp-based derivative (GradBench's expected w is 0.2071918746486116).
    assert particle.argmin_w(variant, 0.0) == pytest.approx(0.2071918746486116, rel=1e-9)
