"""GradBench `ba` (ADBench's bundle adjustment): reprojection errors and their
sparse Jacobian.

A camera is 11 numbers: rotation (angle-axis, 0:3), centre (3:6), focal
length (6), principal point (7:9), radial distortion (9:11). Observation j
sees point obs[j, 1] from camera obs[j, 0]; its error is
w_j * (projection - feature), and w_err_j = 1 - w_j^2. The eval sends one
camera, point, weight and feature, to be repeated n, m and p times.
"""

import numpy as np

import symdiff as sd

N_CAM_PARAMS = 11


def rodrigues_rotate_point(rot, X):
    sqtheta = np.sum(rot**2)
    if sqtheta != 0.0:
        theta = np.sqrt(sqtheta)
        costheta = np.cos(theta)
        sintheta = np.sin(theta)
        w = rot / theta
        w_cross_X = np.cross(w, X)
        tmp = np.dot(w, X) * (1.0 - costheta)
        return X * costheta + w_cross_X * sintheta + w * tmp
    else:
        return X + np.cross(rot, X)


def radial_distort(rad_params, proj):
    rsq = np.sum(proj**2)
    L = 1.0 + rad_params[0] * rsq + rad_params[1] * rsq * rsq
    return proj * L


def project(cam, X):
    Xcam = rodrigues_rotate_point(cam[0:3], X - cam[3:6])
    distorted = radial_distort(cam[9:11], Xcam[0:2] / Xcam[2])
    return distorted * cam[6] + cam[7:9]


def reproj_err(cam, X, w, feat):
    return w * (project(cam, X) - feat)


def w_err(w):
    return 1.0 - w**2


def expand(n, m, p, cam, x, w, feat):
    """The full problem from one camera, point, weight and feature (as GradBench's tools build it)."""
    cams = np.tile(cam, (n, 1))
    X = np.tile(x, (m, 1))
    ws = np.full(p, float(w))
    feats = np.tile(feat, (p, 1))
    obs = np.stack((np.arange(p) % n, np.arange(p) % m), axis=1)
    return cams, X, ws, obs, feats


def objective(cams, X, w, obs, feats):
    """(reproj_err of shape (p, 2), w_err of shape (p,))."""
    p = obs.shape[0]
    reproj = np.zeros((p, 2))
    for j in range(p):
        reproj[j] = reproj_err(cams[obs[j, 0]], X[obs[j, 1]], w[j], feats[j])
    return reproj, w_err(w)


def jacobian(cams, X, w, obs, feats, backend="numpy"):
    """The Jacobian of (reproj_err, w_err) in CSR form (rows, cols, vals), as ADBench lays it out.

    Each observation's two error rows depend on its camera (11 columns), its
    point (3) and its weight (1); each w_err row on its weight alone. The
    rows of a block are two vjps with unit seeds.
    """
    n, m, p = cams.shape[0], X.shape[0], obs.shape[0]
    reproj_vjp = sd.vjp(reproj_err, wrt=(0, 1, 2), backend=backend)
    w_err_grad = sd.grad(w_err, backend=backend)
    block = np.zeros((p, 2, N_CAM_PARAMS + 3 + 1))
    for j in range(p):
        args = (cams[obs[j, 0]], X[obs[j, 1]], w[j], feats[j])
        for row, seed in enumerate((np.array([1.0, 0.0]), np.array([0.0, 1.0]))):
            d_cam, d_x, d_w = reproj_vjp(*args, seed)
            block[j, row] = np.concatenate((d_cam, d_x, [d_w]))
    w_vals = np.array([w_err_grad(wj) for wj in w])

    obs_cols = np.concatenate(
        (
            N_CAM_PARAMS * obs[:, :1] + np.arange(N_CAM_PARAMS),
            N_CAM_PARAMS * n + 3 * obs[:, 1:] + np.arange(3),
            N_CAM_PARAMS * n + 3 * m + np.arange(p)[:, None],
        ),
        axis=1,
    )
    width = N_CAM_PARAMS + 3 + 1
    rows = np.concatenate((width * np.arange(2 * p + 1), 2 * p * width + np.arange(1, p + 1)))
    cols = np.concatenate((np.repeat(obs_cols, 2, axis=0).ravel(), N_CAM_PARAMS * n + 3 * m + np.arange(p)))
    vals = np.concatenate((block.ravel(), w_vals))
    return rows, cols, vals


# GradBench protocol: the eval sends one of each, to be repeated, and takes back a
# deduplicated output (the first two errors, the first 30 and the last entry of the CSR lists).
def prepare(input):
    cam, x, feat = (np.asarray(input[name], dtype=float) for name in ("cam", "x", "feat"))
    return expand(int(input["n"]), int(input["m"]), int(input["p"]), cam, x, float(input["w"]), feat)


def _errors(errors):
    reproj, w = errors
    return {
        "reproj_error": {"elements": reproj[0].tolist(), "repeated": reproj.shape[0]},
        "w_err": {"element": float(w[0]), "repeated": w.shape[0]},
    }


def _sparse(csr):
    return {name: np.concatenate((a[:30], a[-1:])).tolist() for name, a in zip(("rows", "cols", "vals"), csr)}


FUNCTIONS = {"objective": (objective, _errors), "jacobian": (jacobian, _sparse)}
