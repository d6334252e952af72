"""A few Gauss-Newton steps after the keypoint fit's nets: the body's own keypoints pulled
onto the seen input points, the nets' pose as the prior.

Why: the nets land within about 40 mm of the true joints whatever the noise (their error
is regression error, not noise), while a body fitted to the points themselves is only as
far off as the noise; the nets' answer is the start and the regulariser that keeps the
fit away from the noise's own shapes, and lets missing points follow the rest.

Cheap because only the layout's keypoints are posed (:class:`KeypointBody`): every
keypoint a layout reads (a joint, a surface vertex or a regressed extra joint) is, in
linear blend skinning, ``sum_j T_j C_j(betas)`` over the 24 joints' skinning transforms
``T_j`` with coefficients ``C_j`` linear in the shape (exact for bodies without pose
correctives, such as the mannequin; SMPL's correctives are left out here, a few mm). So
posing is 24 rigid transforms and one small product, and the Jacobian is analytic. It
runs in numpy (float64): at batch 1 a step is some sixty operations on tiny arrays
(about 0.3 ms), where torch's per-operation cost would dominate.

Unknowns per sample: a rotation (axis-angle) after each of the 24 local rotations, the 10
shape coefficients and, for 2D, the camera-frame translation (3D solves it in closed
form). Residuals: the seen points' offsets over the noise scale (:data:`NOISE`), the
rotations' changes over :data:`POSE_SIGMA` (radians) and the shape over
:data:`SHAPE_SIGMA`. From 2D the pose prior is tighter and a third step pays: the
points say nothing of depth, which stays closer to the nets' (COCO-17 at 3 px, 200
samples: 0.5 rad and 2 steps 65.4 mm PA-MPJPE, 0.25/3 60.3, 0.15/3 59.4, 0.1/4 60.9).
"""
from __future__ import annotations

import numpy as np
from scipy.linalg import blas, lapack

from studio.body import joint_sets
from studio.body.model import BodyModel

POSE_SIGMA = {3: 0.5, 2: 0.15}  # radians, by input dims: how far a rotation may move
SHAPE_SIGMA = 1.0  # shape coefficients' prior scale (around the mean shape)
NOISE = {3: 0.015, 2: 3.0}  # residual scale: metres (3D) / pixels (2D)
STEPS = {3: 2, 2: 3}  # Gauss-Newton steps by input dims
DAMPING = 1e-3
N_BETAS = 10


def chain_tables(parents: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
    """A kinematic tree's (``parents`` [n], -1 at the root) pointer-jumping indices and
    subtree matrix [n,n] (``subtree[a, j]``: j is a or below a). Jumping down the tree
    gives the world rotations in log2(depth) batched products (4 for SMPL's depth of 8,
    where level by level takes 8): each jump [n+1] names a joint's ancestor so many
    levels up, index n the identity."""
    n = len(parents)
    above = np.append(np.where(parents >= 0, parents, n), n)
    jumps = []
    while (above[:n] < n).any():
        jumps.append(above)
        above = above[above]
    subtree = np.eye(n)
    for j in range(1, n):
        a = parents[j]
        while a >= 0:
            subtree[a, j] = 1.0
            a = parents[a]
    return jumps, subtree


class KeypointBody:
    """One layout's keypoints [B,K,3] of a body model from local rotations [B,24,3,3]
    and shapes [B,10] (numpy float64), as :meth:`BodyModel.forward` gives them (without
    pose correctives). Products with the shape directions are einsums: numpy's BLAS
    would run them on threads of its own that then spin beside the studio's."""

    def __init__(self, body: BodyModel, layout: str) -> None:
        data = body.data
        mapping = joint_sets.mapping_matrix(layout).astype(np.float64)  # [K,S]
        weights = body.lbs_weights.detach().cpu().double().numpy()  # [V,24]
        v_template = body.v_template.detach().cpu().double().numpy()  # [V,3]
        shapedirs = body.shapedirs.detach().cpu().double().numpy()[..., :N_BETAS]  # [V,3,10]
        jreg = body.J_regressor.detach().cpu().double().numpy()  # [24,V]
        n_joints = jreg.shape[0]
        # sources after the joints are vertex mixes: landmarks, then the extra joints
        landmark_rows = np.zeros((len(joint_sets.LANDMARK_NAMES), v_template.shape[0]))
        for row, name in enumerate(joint_sets.LANDMARK_NAMES):
            landmark_rows[row, data.landmarks[name]] = 1.0
        extra = body.J_regressor_extra.detach().cpu().double().numpy()
        coeff = mapping[:, n_joints:] @ np.concatenate([landmark_rows, extra])  # [K,V]
        used = np.flatnonzero(np.abs(coeff).sum(0))
        # C[k,j] = sum_v coeff[k,v] w[v,j] [v_shaped_v, 1]: its point part linear in the
        # betas (centre + dirs), its last part the joint's weight in the keypoint
        cw = coeff[:, used, None] * weights[None, used]  # [K,U,24]
        centre = np.einsum("kuj,ud->kjd", cw, v_template[used])
        dirs = np.einsum("kuj,udl->kjdl", cw, shapedirs[used])
        weight = cw.sum(1)
        # joint sources: posed joint j = T_j [J_rest_j, 1]
        joint_map = mapping[:, :n_joints]  # [K,24]
        self.rest = jreg @ v_template  # [24,3]
        self.rest_dirs = np.einsum("jv,vdl->jdl", jreg, shapedirs)  # [24,3,10]
        centre += joint_map[..., None] * self.rest[None]
        dirs += joint_map[..., None, None] * self.rest_dirs[None]
        self.weight = weight + joint_map  # [K,24]
        # a keypoint's share carried by joint j: G_j a_kj + w_kj p_j, with the rest-frame
        # part a_kj = c_kj - w_kj J_j linear in the betas (a0 + a_dirs betas)
        a0 = centre - self.weight[..., None] * self.rest[None]
        a_dirs = dirs - self.weight[..., None, None] * self.rest_dirs[None]
        k = a0.shape[0]
        self.a0 = a0
        self.a_dirs = a_dirs.reshape(-1, N_BETAS)  # [K*24*3,10]
        # the same, ordered (joint, axis) x (keypoint, beta): the shape Jacobian's
        # sum_j G_j a_dirs_kj is then one product with the world rotations
        self.a_dirs_by_joint = a_dirs.transpose(1, 2, 0, 3).reshape(n_joints * 3, k * N_BETAS)
        self.parents = body.parents.detach().cpu().numpy().astype(np.int64)
        self.jumps, subtree = chain_tables(self.parents)
        self.subtree = subtree
        self.subtree_weight = self.weight @ subtree.T  # [K,24] over each joint's subtree
        self.rest_dirs_flat = self.rest_dirs.reshape(-1, N_BETAS)  # [72,10]
        bone_dirs = self.rest_dirs.copy()  # the rest bones' shape directions
        bone_dirs[1:] -= self.rest_dirs[self.parents[1:]]
        self.bone_dirs = bone_dirs

    def chain(self, rot: np.ndarray, betas: np.ndarray
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Rest joints [B,24,3], world rotations [B,24,3,3] and posed joints [B,24,3]."""
        b = rot.shape[0]
        rest = self.rest + (betas @ self.rest_dirs_flat.T).reshape(b, -1, 3)
        offsets = rest.copy()
        offsets[:, 1:] -= rest[:, self.parents[1:]]
        n = rot.shape[1]
        world = np.empty((b, n + 1, 3, 3))
        world[:, :n], world[:, n] = rot, np.eye(3)
        for above in self.jumps:  # each joint's product down from its ancestor "above"
            world = world[:, above] @ world
        world = world[:, :n]
        # each posed joint: the sum of its own and its ancestors' turned rest bones
        turned = np.empty_like(rest)
        turned[:, 0] = offsets[:, 0]
        turned[:, 1:] = (world[:, self.parents[1:]] @ offsets[:, 1:, :, None])[..., 0]
        return rest, world, self.subtree.T @ turned

    def parts(self, rot: np.ndarray, betas: np.ndarray
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Each keypoint's share carried by each joint [B,K,24,3] (their sum over joints is
        the keypoint), the posed joints [B,24,3] and world rotations [B,24,3,3]."""
        b = rot.shape[0]
        _, world, joints = self.chain(rot, betas)
        # an einsum: a BLAS product this size would wake OpenBLAS's own threads
        a = self.a0 + np.einsum("ml,bl->bm", self.a_dirs, betas).reshape(b, *self.a0.shape)
        shares = (world[:, None] @ a[..., None])[..., 0] \
            + self.weight[None, ..., None] * joints[:, None]
        return shares, joints, world

    def __call__(self, rot: np.ndarray, betas: np.ndarray) -> np.ndarray:
        return self.parts(rot, betas)[0].sum(2)

    def jacobian(self, rot: np.ndarray, betas: np.ndarray, spare: int = 0
                 ) -> tuple[np.ndarray, np.ndarray]:
        """Keypoints [B,K,3] and their Jacobian [B,K,3,82] with respect to a small rotation
        after each local rotation (axis-angle, 72) and the shape (10); ``spare`` more
        columns at the end are left for the caller (the residuals: no copy to add them)."""
        shares, joints, world = self.parts(rot, betas)
        kp = shares.sum(2)
        b, k = kp.shape[:2]
        n = joints.shape[1]
        jac = np.empty((b, k, 3, 3 * n + N_BETAS + spare))
        # A rotation w (world axis G_a delta_a) at joint a moves every share carried by a
        # joint of a's subtree by w x (share - weight p_a): d kp / d delta_a = -[S]x G_a,
        # whose column c is G_a[:, c] x S (written out: np.cross costs more than the sum).
        s = self.subtree @ shares - self.subtree_weight[..., None] * joints[:, None]
        s = s[..., None]  # [B,K,24,1,3 axes as the last but one]
        g = world[:, None]  # [B,1,24,3,3]: g[..., i, c] is component i of column c
        d_rot = jac[..., :3 * n].reshape(b, k, 3, n, 3)
        d_rot[:, :, 0] = g[..., 1, :] * s[..., 2, :] - g[..., 2, :] * s[..., 1, :]
        d_rot[:, :, 1] = g[..., 2, :] * s[..., 0, :] - g[..., 0, :] * s[..., 2, :]
        d_rot[:, :, 2] = g[..., 0, :] * s[..., 1, :] - g[..., 1, :] * s[..., 0, :]
        # Shape: keypoint = sum_j G_j a_kj + w_kj p_j, with a linear in the betas and each
        # posed joint p_j its parent's plus the turned rest bone.
        turned = np.empty((b, n, 3, N_BETAS))
        turned[:, 0] = self.bone_dirs[0]
        turned[:, 1:] = world[:, self.parents[1:]] @ self.bone_dirs[1:]
        d_joints = (self.subtree.T @ turned.reshape(b, n, 3 * N_BETAS))
        d_rest = (world.transpose(0, 2, 1, 3).reshape(b, 3, 3 * n) @ self.a_dirs_by_joint
                    ).reshape(b, 3, k, N_BETAS).transpose(0, 2, 1, 3)
        jac[..., 3 * n:3 * n + N_BETAS] = d_rest + (self.weight @ d_joints).reshape(b, k, 3, N_BETAS)
        return kp, jac


# CROSS[c] is the cross-product matrix [e_c]x, flattened: [a]x = a @ CROSS
CROSS = np.array([[0, 0, 0, 0, 0, -1, 0, 1, 0], [0, 0, 1, 0, 0, 0, -1, 0, 0],
                  [0, -1, 0, 1, 0, 0, 0, 0, 0]], dtype=np.float64)


def rodrigues(axis_angle: np.ndarray) -> np.ndarray:
    """[...,3] axis-angle -> [...,3,3] rotation matrices:
    cos(t) I + sin(t) [u]x + (1 - cos(t)) u u^T for the unit axis u and angle t."""
    angle = np.sqrt((axis_angle * axis_angle).sum(-1))[..., None]
    unit = axis_angle / np.maximum(angle, 1e-12)
    cross = np.einsum("...c,cm->...m", unit, CROSS).reshape(*unit.shape, 3)  # no BLAS
    cos, sin = np.cos(angle)[..., None], np.sin(angle)[..., None]
    return cos * np.eye(3) + sin * cross + (1 - cos) * (unit[..., :, None] * unit[..., None, :])


def gauss_newton_step(system: np.ndarray, prior_grad: np.ndarray,
                       regulariser: np.ndarray) -> np.ndarray:
    """The step [B,n] minimising |res + jac step|^2 plus the prior's quadratic, for
    ``system`` [B,R,n+1] = the residuals' Jacobian with the residuals as its last column
    (one product gives both J^T J and J^T res). Straight BLAS/LAPACK calls per sample
    (syrk, Cholesky): at these sizes (n 82-85) they stay on the calling thread, where
    numpy's matmul and solve wake OpenBLAS's own threads (ten times slower on two busy
    cores) and torch's equivalents cost 0.1 ms a step in dispatch."""
    step = np.empty(prior_grad.shape)
    for i, full in enumerate(system):
        normal = blas.dsyrk(1.0, full, trans=1)  # upper triangle of full^T full
        factor, _ = lapack.dpotrf(normal[:-1, :-1] + regulariser, lower=0)
        step[i] = -lapack.dpotrs(factor, normal[:-1, -1] + prior_grad[i], lower=0)[0]
    return step


def refine_fit(body: KeypointBody, rotmat: np.ndarray, betas: np.ndarray, points: np.ndarray,
               seen: np.ndarray, intrinsics: np.ndarray | None = None,
               trans: np.ndarray | None = None, steps: int | None = None,
               shape_sigma: float = SHAPE_SIGMA
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Refined local rotations [B,24,3,3], shapes [B,10] and (2D) translation [B,3].

    ``points`` [B,K,D] the input keypoints (any value where not ``seen`` [B,K]); 3D
    metres in any frame (the translation is solved in closed form), 2D pixels with
    ``intrinsics`` [B,3] (focal, cx, cy) and the starting camera-frame ``trans`` [B,3];
    ``steps`` default :data:`STEPS`, ``shape_sigma`` the shape prior's scale.
    """
    dims = points.shape[-1]
    b = rotmat.shape[0]
    rot, shape = np.asarray(rotmat, np.float64), np.asarray(betas, np.float64)
    goal = np.where(seen[..., None], points, 0.0)  # where unseen: NaN, any value
    w = seen.astype(np.float64)[..., None, None]  # [B,K,1,1]
    share = w[..., 0] / np.maximum(w.sum(1), 1)  # [B,K,1]: each seen point's part of a mean
    moved = np.zeros((b, 72))  # the rotations' change from the nets'
    t = None if trans is None else trans.astype(np.float64)
    n = 82 if dims == 3 else 85
    steps = STEPS[dims] if steps is None else steps
    prior = np.concatenate([np.full(72, POSE_SIGMA[dims] ** -2),
                            np.full(N_BETAS, shape_sigma ** -2), np.zeros(n - 82)])
    regulariser = np.diag(prior + DAMPING)
    for _ in range(steps):
        if dims == 3:  # translation in closed form: compare centred points
            kp, system = body.jacobian(rot, shape, spare=1)  # [B,K,3,83], in place below
            system[..., -1] = kp - goal
            system -= (system * share[..., None]).sum(1, keepdims=True)
            system *= w / NOISE[3]
        else:
            kp, jac = body.jacobian(rot, shape)
            f, c = intrinsics[:, None, :1], intrinsics[:, None, 1:]
            cam = kp + t[:, None]
            z = np.maximum(cam[..., 2:], 1e-2)
            res = f * cam[..., :2] / z + c - goal
            proj = np.zeros((*cam.shape[:2], 2, 3))
            proj[..., 0, 0] = proj[..., 1, 1] = (f / z)[..., 0]
            proj[..., :, 2] = -f * cam[..., :2] / z ** 2
            system = np.concatenate([proj @ jac, proj, res[..., None]], -1) * (w / NOISE[2])
        params = np.concatenate([moved, shape] + ([] if t is None else [np.zeros_like(t)]), 1)
        step = gauss_newton_step(system.reshape(b, -1, n + 1), prior * params, regulariser)
        rot = rot @ rodrigues(step[:, :72].reshape(b, 24, 3))
        moved += step[:, :72]
        shape = shape + step[:, 72:82]
        if t is not None:
            t = t + step[:, 82:85]
    return rot, shape, t
