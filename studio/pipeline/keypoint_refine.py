"""A few Gauss-Newton steps after the keypoint fit's nets: the body's own keypoints pulled
onto the seen input points, the nets' pose as the prior.

Why: the nets land within about 40 mm of the true joints whatever the noise (their error
is regression error, not noise), while a body fitted to the points themselves is only as
far off as the noise; the nets' answer is the start and the regulariser that keeps the
fit away from the noise's own shapes, and lets missing points follow the rest.

Cheap because only the layout's keypoints are posed (:class:`KeypointBody`): every
keypoint a layout reads (a joint, a surface vertex or a regressed extra joint) is, in
linear blend skinning, ``sum_k T_k C_k(betas)`` over the 24 joints' skinning transforms
``T_k`` with coefficients ``C_k`` linear in the shape (exact for bodies without pose
correctives, such as the mannequin; SMPL's correctives are left out here, a few mm). So
a forward pass is 24 rigid transforms and one small product, and the Jacobian by
finite differences over the 85 unknowns is one batched forward pass.

Unknowns per sample: a rotation (axis-angle) after each of the 24 local rotations, the 10
shape coefficients and, for 2D, the camera-frame translation (3D solves it in closed
form). Residuals: the seen points' offsets over the noise scale, the rotations over
:data:`POSE_SIGMA` (radians) and the shape over 1 (the shape space's own scale) over
:data:`SHAPE_SIGMA`.
"""
from __future__ import annotations

import numpy as np
import smplx
import torch
from torch import nn

from studio.body import joint_sets
from studio.body.model import BodyModel
from studio.body.skinning import kinematic_levels, rigid_transforms

POSE_SIGMA = 0.5  # radians: how far a rotation may move from the nets' (regulariser)
SHAPE_SIGMA = 3.3  # shape coefficients' prior scale
NOISE = {3: 0.015, 2: 3.0}  # residual scale: metres (3D) / pixels (2D)
STEPS = 2  # Gauss-Newton steps
EPS = 1e-6  # finite-difference step
DAMPING = 1e-3


class KeypointBody(nn.Module):
    """One layout's keypoints [B,K,3] of a body model from local rotations [B,24,3,3]
    and shapes [B,10], as :meth:`BodyModel.forward` gives them (without pose
    correctives)."""

    def __init__(self, body: BodyModel, layout: str) -> None:
        super().__init__()
        data = body.data
        mapping = joint_sets.mapping_matrix(layout).astype(np.float64)  # [K,S]
        weights = body.lbs_weights.detach().double().numpy()  # [V,24]
        v_template = body.v_template.detach().double().numpy()  # [V,3]
        shapedirs = body.shapedirs.detach().double().numpy()  # [V,3,10]
        jreg = body.J_regressor.detach().double().numpy()  # [24,V]
        n_joints = jreg.shape[0]
        # each source as a combination of vertices, skinned (landmarks, extra joints)
        # or as a joint (posed by its own transform)
        landmark_rows = np.zeros((len(joint_sets.LANDMARK_NAMES), v_template.shape[0]))
        for row, name in enumerate(joint_sets.LANDMARK_NAMES):
            landmark_rows[row, data.landmarks[name]] = 1.0
        extra = body.J_regressor_extra.detach().double().numpy()
        vertex_rows = np.concatenate([landmark_rows, extra])  # sources 24.. as vertex mixes
        coeff = mapping[:, n_joints:] @ vertex_rows  # [K,V]
        used = np.flatnonzero(np.abs(coeff).sum(0))
        # C0[k,j] = sum_v coeff[k,v] w[v,j] [v_template_v, 1]; Cdirs the same for shapedirs
        cw = coeff[:, used, None] * weights[None, used]  # [K,U,24]
        c0 = np.concatenate([np.einsum("kuj,ud->kjd", cw, v_template[used]),
                             cw.sum(1)[..., None]], -1)
        cdirs = np.concatenate([np.einsum("kuj,udl->kjdl", cw, shapedirs[used]),
                                np.zeros((*cw.shape[0:1], n_joints, 1, shapedirs.shape[-1]))],
                               -2)
        # joint sources: posed joint j = T_j [J_rest_j, 1]
        joint_map = mapping[:, :n_joints]  # [K,24]
        rest = jreg @ v_template
        rest_dirs = np.einsum("jv,vdl->jdl", jreg, shapedirs)
        c0 += joint_map[..., None] * np.concatenate([rest, np.ones((n_joints, 1))], -1)[None]
        cdirs[..., :3, :] += joint_map[..., None, None] * rest_dirs[None]
        self.register_buffer("c0", torch.as_tensor(c0))
        self.register_buffer("cdirs", torch.as_tensor(cdirs))
        self.register_buffer("rest", torch.as_tensor(rest))
        self.register_buffer("rest_dirs", torch.as_tensor(rest_dirs))
        self.register_buffer("parents", body.parents.detach().clone())
        parents = self.parents.tolist()
        subtree = np.eye(n_joints)  # subtree[a, j]: j is a or below a
        for j in range(1, n_joints):
            a = parents[j]
            while a >= 0:
                subtree[a, j] = 1.0
                a = parents[a] if a > 0 else -1
        self.register_buffer("subtree", torch.as_tensor(subtree))
        # constants of the Jacobian: each joint's part of each keypoint, summed over
        # subtrees, and the rest bones' shape directions
        self.register_buffer("subtree_weight", torch.as_tensor(c0[..., 3] @ subtree.T))
        bone_dirs = rest_dirs.copy()
        bone_dirs[1:] -= rest_dirs[parents[1:]]
        self.register_buffer("bone_dirs", torch.as_tensor(bone_dirs))
        self._levels = kinematic_levels(self.parents)

    def parts(self, rotmats: torch.Tensor, betas: torch.Tensor
              ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Each keypoint's share carried by each joint [B,K,24,3] (their sum over joints is
        the keypoint), the posed joints [B,24,3] and world rotations [B,24,3,3]."""
        rest = self.rest + torch.einsum("jdl,bl->bjd", self.rest_dirs, betas)
        joints, transforms = rigid_transforms(rotmats, rest, self.parents, self._levels)
        coeff = self.c0 + torch.einsum("kjdl,bl->bkjd", self.cdirs, betas)  # [B,K,24,4]
        shares = torch.einsum("bjxd,bkjd->bkjx", transforms[:, :, :3], coeff)
        return shares, joints, transforms[:, :, :3, :3]

    def forward(self, rotmats: torch.Tensor, betas: torch.Tensor) -> torch.Tensor:
        return self.parts(rotmats, betas)[0].sum(2)


def _rodrigues(axis_angle: torch.Tensor) -> torch.Tensor:
    return smplx.lbs.batch_rodrigues(axis_angle.reshape(-1, 3)).reshape(
        *axis_angle.shape[:-1], 3, 3)


def _skew(v: torch.Tensor) -> torch.Tensor:
    """[...,3] -> [...,3,3] cross-product matrices."""
    zero = torch.zeros_like(v[..., 0])
    x, y, z = v.unbind(-1)
    return torch.stack([zero, -z, y, z, zero, -x, -y, x, zero], -1).reshape(*v.shape, 3)


def _jacobian(body: KeypointBody, rot: torch.Tensor, betas: torch.Tensor
              ) -> tuple[torch.Tensor, torch.Tensor]:
    """Keypoints [B,K,3] and their Jacobian [B,K,3,82] with respect to a small rotation
    after each local rotation (axis-angle, 72) and the shape (10)."""
    shares, joints, world = body.parts(rot, betas)
    kp = shares.sum(2)
    b, k = kp.shape[:2]
    # A rotation w (world axis G_a delta_a) at joint a moves every share carried by a
    # joint of a's subtree by w x (share - weight p_a): d kp / d delta_a = -[S]x G_a.
    carried = torch.einsum("aj,bkjx->bkax", body.subtree, shares) \
        - body.subtree_weight[None, ..., None] * joints[:, None]
    d_rot = -(_skew(carried) @ world[:, None])  # [B,K,24,3,3]
    d_rot = d_rot.permute(0, 1, 3, 2, 4).reshape(b, k, 3, 72)
    # Shape: keypoint = sum_j G_j c_kj + w_kj (p_j - G_j J_j), with c, J linear in the
    # betas and each posed joint p_j its parent's plus the turned rest bone.
    turned = torch.cat([body.bone_dirs[:1].expand(b, -1, -1, -1),
                        world[:, body.parents[1:]] @ body.bone_dirs[1:]], 1)
    d_joints = torch.einsum("ij,bixl->bjxl", body.subtree, turned)
    d_betas = torch.einsum("bjxy,kjyl->bkxl", world, body.cdirs[..., :3, :]) \
        + torch.einsum("kj,bjxl->bkxl", body.c0[..., 3], d_joints - world @ body.rest_dirs)
    return kp, torch.cat([d_rot, d_betas], -1)


def _centred(x: torch.Tensor, share: torch.Tensor) -> torch.Tensor:
    """[B,K,...] minus its ``share``-weighted mean over the points."""
    return x - (x * share).sum(1, keepdim=True)


@torch.no_grad()
def refine_fit(body: KeypointBody, rotmat: torch.Tensor, betas: torch.Tensor,
               points: torch.Tensor, seen: torch.Tensor, intrinsics: torch.Tensor | None = None,
               trans: torch.Tensor | None = None, steps: int = STEPS
               ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """Refined local rotations [B,24,3,3], shapes [B,10] and (2D) translation [B,3].

    ``points`` [B,K,D] the input keypoints (any value where not ``seen`` [B,K]); 3D
    metres in any frame (the translation is solved in closed form), 2D pixels with
    ``intrinsics`` [B,3] (focal, cx, cy) and the starting camera-frame ``trans`` [B,3].
    """
    dims = points.shape[-1]
    b = rotmat.shape[0]
    rot, shape = rotmat.double(), betas.double()
    goal = points.double().nan_to_num()
    w = seen.double()[..., None, None]  # [B,K,1,1]
    share = w[..., 0] / w.sum(1).clamp_min(1)  # [B,K,1]: each seen point's part of a mean
    moved = torch.zeros(b, 72, dtype=torch.float64, device=rot.device)  # from the nets'
    t = None if trans is None else trans.double()
    n = 82 if dims == 3 else 85
    damping = DAMPING * torch.eye(n, dtype=torch.float64, device=rot.device)
    prior = torch.cat([torch.full((72,), POSE_SIGMA ** -2), torch.full((10,), SHAPE_SIGMA ** -2),
                       torch.zeros(n - 82)]).to(rot)
    for _ in range(steps):
        kp, jac = _jacobian(body, rot, shape)
        if dims == 3:  # translation in closed form: compare centred points
            res = (_centred(kp, share) - _centred(goal, share)) * w[..., 0] / NOISE[3]
            jac = _centred(jac, share[..., None]) * w / NOISE[3]
        else:
            f, c = intrinsics.double()[:, None, :1], intrinsics.double()[:, None, 1:]
            cam = kp + t[:, None]
            z = cam[..., 2:].clamp_min(1e-2)
            res = (f * cam[..., :2] / z + c - goal) * w[..., 0] / NOISE[2]
            proj = torch.zeros(*cam.shape[:2], 2, 3, dtype=cam.dtype, device=cam.device)
            proj[..., 0, 0] = proj[..., 1, 1] = (f / z)[..., 0]
            proj[..., :, 2] = -f * cam[..., :2] / z ** 2
            proj = proj * w / NOISE[2]
            jac = torch.cat([proj @ jac, proj], -1)  # [B,K,2,85]
        jac, res = jac.reshape(b, -1, n), res.reshape(b, -1)
        params = torch.cat([moved, shape] + ([] if dims == 3 else [torch.zeros_like(t)]), 1)
        hessian = jac.transpose(1, 2) @ jac + torch.diag_embed(prior.expand(b, n)) + damping
        grad = (jac.transpose(1, 2) @ res[..., None])[..., 0] + prior * params
        step = -torch.linalg.solve(hessian, grad)
        rot = rot @ _rodrigues(step[:, :72].reshape(b, 24, 3))
        moved = moved + step[:, :72]
        shape = shape + step[:, 72:82]
        if dims == 2:
            t = t + step[:, 82:85]
    return (rot.to(rotmat.dtype), shape.to(betas.dtype),
            None if t is None else t.to(betas.dtype))
