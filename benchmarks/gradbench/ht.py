"""GradBench `ht` (ADBench's hand tracking): the residuals between observed
points and a skinned hand model posed by 26 parameters, and their Jacobian.

theta: global rotation (angle-axis, 0:3), translation (3:6), then per finger
two angles for the first joint and one for each of the next two. Model
arrays as GradBench sends them: base_relatives and inverse_base_absolutes
(bones, 4, 4), base_positions (vertices, 4) homogeneous, weights
(vertices, bones). In the "complicated" variant each point lies on a
triangle of the mesh at barycentric coordinates us (points, 2), which are
differentiated too.
"""

import numpy as np

import symdiff as sd


def to_pose_params(theta, n_bones):
    pose_params = np.zeros((n_bones + 3, 3))
    pose_params[0] = theta[0:3]
    pose_params[1] = np.ones(3)  # scale
    pose_params[2] = theta[3:6]
    i_theta = 6
    i_pose = 5
    for finger in range(5):
        for joint in range(3):
            pose_params[i_pose, 0] = theta[i_theta]
            i_theta += 1
            if joint == 0:
                pose_params[i_pose, 1] = theta[i_theta]
                i_theta += 1
            i_pose += 1
        i_pose += 1
    return pose_params


def euler_angles_to_rotation_matrix(xzy):
    tx, ty, tz = xzy[0], xzy[2], xzy[1]
    Rx = np.eye(3)
    Rx[1, 1] = np.cos(tx)
    Rx[2, 1] = np.sin(tx)
    Rx[1, 2] = -Rx[2, 1]
    Rx[2, 2] = Rx[1, 1]
    Ry = np.eye(3)
    Ry[0, 0] = np.cos(ty)
    Ry[0, 2] = np.sin(ty)
    Ry[2, 0] = -Ry[0, 2]
    Ry[2, 2] = Ry[0, 0]
    Rz = np.eye(3)
    Rz[0, 0] = np.cos(tz)
    Rz[1, 0] = np.sin(tz)
    Rz[0, 1] = -Rz[1, 0]
    Rz[1, 1] = Rz[0, 0]
    return Rz @ Ry @ Rx


def get_posed_relatives(pose_params, base_relatives):
    n_bones = base_relatives.shape[0]
    relatives = np.zeros((n_bones, 4, 4))
    for i in range(n_bones):
        tr = np.eye(4)
        tr[:3, :3] = euler_angles_to_rotation_matrix(pose_params[i + 3])
        relatives[i] = base_relatives[i] @ tr
    return relatives


def relatives_to_absolutes(relatives, parents):
    absolutes = np.zeros_like(relatives)
    for i in range(relatives.shape[0]):
        if parents[i] == -1:
            absolutes[i] = relatives[i]
        else:
            absolutes[i] = absolutes[parents[i]] @ relatives[i]
    return absolutes


def angle_axis_to_rotation_matrix(angle_axis):
    norm = np.sqrt(np.sum(angle_axis**2))
    if norm < 0.0001:
        return np.eye(3)
    x, y, z = angle_axis / norm
    s, c = np.sin(norm), np.cos(norm)
    return np.array(
        [
            [x * x + (1 - x * x) * c, x * y * (1 - c) - z * s, x * z * (1 - c) + y * s],
            [x * y * (1 - c) + z * s, y * y + (1 - y * y) * c, y * z * (1 - c) - x * s],
            [x * z * (1 - c) - y * s, z * y * (1 - c) + x * s, z * z + (1 - z * z) * c],
        ]
    )


def apply_global_transform(pose_params, positions):
    R = angle_axis_to_rotation_matrix(pose_params[0]) * pose_params[1]  # column i scaled by scale[i]
    return R @ positions + pose_params[2][:, None]


def get_skinned_vertex_positions(
    pose_params, base_relatives, parents, inverse_base_absolutes, base_positions, weights, is_mirrored
):
    """Vertex positions, shape (3, vertices): each vertex moved by its bones' transforms, weighted."""
    relatives = get_posed_relatives(pose_params, base_relatives)
    absolutes = relatives_to_absolutes(relatives, parents)
    transforms = absolutes @ inverse_base_absolutes
    moved = transforms @ base_positions.T  # (bones, 4, vertices)
    positions = np.sum(moved[:, :3, :] * weights.T[:, None, :], axis=0)
    if is_mirrored:
        positions = positions * np.array([[-1.0], [1.0], [1.0]])
    return apply_global_transform(pose_params, positions)


def hand_objective(
    theta,
    parents,
    base_relatives,
    inverse_base_absolutes,
    base_positions,
    weights,
    is_mirrored,
    points,
    correspondences,
):
    """Residuals, shape (points, 3): each point minus the vertex it corresponds to."""
    pose_params = to_pose_params(theta, base_relatives.shape[0])
    vertices = get_skinned_vertex_positions(
        pose_params, base_relatives, parents, inverse_base_absolutes, base_positions, weights, is_mirrored
    )
    return points - vertices[:, correspondences].T


def hand_objective_complicated(
    theta,
    us,
    parents,
    base_relatives,
    inverse_base_absolutes,
    base_positions,
    weights,
    is_mirrored,
    points,
    correspondences,
    triangles,
):
    """Residuals, shape (points, 3): each point minus its point on a triangle, at barycentric us."""
    pose_params = to_pose_params(theta, base_relatives.shape[0])
    vertices = get_skinned_vertex_positions(
        pose_params, base_relatives, parents, inverse_base_absolutes, base_positions, weights, is_mirrored
    )
    corners = triangles[correspondences]  # (points, 3) vertex indices
    u0 = us[:, 0:1]
    u1 = us[:, 1:2]
    hand_points = (
        u0 * vertices[:, corners[:, 0]].T
        + u1 * vertices[:, corners[:, 1]].T
        + (1.0 - u0 - u1) * vertices[:, corners[:, 2]].T
    )
    return points - hand_points


def objective(theta, us, model, points, correspondences):
    """Residuals flattened point by point, as the eval reports them."""
    if us.size == 0:
        err = hand_objective(theta, *model[:6], points, correspondences)
    else:
        err = hand_objective_complicated(theta, us, *model[:6], points, correspondences, model[6])
    return err.ravel()


def jacobian(theta, us, model, points, correspondences, backend="numpy"):
    """The Jacobian of the flattened residuals, one vjp per residual.

    model is (parents, base_relatives, inverse_base_absolutes, base_positions,
    weights, is_mirrored, triangles). In the complicated variant, residual
    3i+k depends on us[i] alone, so its row starts with those two
    derivatives, then the 26 for theta (ADBench's layout).
    """
    npts = points.shape[0]
    rows = []
    if us.size == 0:
        back = sd.vjp(hand_objective, backend=backend)
        for r in range(3 * npts):
            seed = np.zeros((npts, 3))
            seed[r // 3, r % 3] = 1.0
            rows.append(back(theta, *model[:6], points, correspondences, seed))
    else:
        back = sd.vjp(hand_objective_complicated, wrt=(0, 1), backend=backend)
        for r in range(3 * npts):
            seed = np.zeros((npts, 3))
            seed[r // 3, r % 3] = 1.0
            d_theta, d_us = back(theta, us, *model[:6], points, correspondences, model[6], seed)
            rows.append(np.concatenate((d_us[r // 3], d_theta)))
    return np.array(rows)


# GradBench protocol: arguments from the eval's input, outputs as it expects them.
def prepare(input):
    data = input["data"]
    model = data["model"]

    def floats(value):
        return np.asarray(value, dtype=float)

    model_arrays = (
        np.asarray(model["parents"], dtype=int),
        floats(model["base_relatives"]),
        floats(model["inverse_base_absolutes"]),
        floats(model["base_positions"]),
        floats(model["weights"]),
        bool(model["is_mirrored"]),
        np.asarray(model["triangles"], dtype=int).reshape(-1, 3),
    )
    us = floats(input["us"]).reshape(-1, 2)
    return (
        floats(input["theta"]),
        us,
        model_arrays,
        floats(data["points"]),
        np.asarray(data["correspondences"], dtype=int),
    )


FUNCTIONS = {"objective": (objective, np.ndarray.tolist), "jacobian": (jacobian, np.ndarray.tolist)}
