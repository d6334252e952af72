"""SMPLR's 41 points on any body model, and a fast partial body for training data.

SMPLR (Madadi et al. 2020) describes a body by 23 non-root SMPL joints and 18 surface
landmarks, all relative to the pelvis, linked by a 42-node tree (pelvis, joints,
landmarks). On SMPL (6,890 vertices) the landmarks are SMPLR's vertex ids. Other bodies
(the mannequin) get the equivalent vertex: the outermost vertex hit by a ray from a point
given relative to the rest-pose joints, in the direction of the named surface (for
example ``left_chest``: from 8 cm left of spine3, forwards). The mapping, in SMPLR's
order of the paper's list (chest L/R, belly, hips, upper legs front/back, feet, hands,
biceps/triceps, head top):

| landmark | SMPL id | parent joint | ray start (rest pose) | direction |
|---|---|---|---|---|
| left_chest | 3042 | spine3 | spine3 + (0.08, 0, 0) | +z |
| right_chest | 4428 | spine3 | spine3 + (-0.08, 0, 0) | +z |
| belly | 3503 | spine1 | spine1 | +z |
| left_hip_side | 4311 | left_hip | left_hip | +x |
| right_hip_side | 822 | right_hip | right_hip | -x |
| left_thigh_front | 4361 | left_hip | mid left_hip, left_knee | +z |
| left_thigh_back | 877 | left_hip | mid left_hip, left_knee | -z |
| right_thigh_front | 4386 | right_hip | mid right_hip, right_knee | +z |
| right_thigh_back | 898 | right_hip | mid right_hip, right_knee | -z |
| left_foot_top | 3222 | left_ankle | left_foot | +y |
| right_foot_top | 6620 | right_ankle | right_foot | +y |
| left_hand_back | 2544 | left_wrist | left_hand | +y |
| right_hand_back | 2820 | right_wrist | right_hand | +y |
| left_biceps | 1258 | left_shoulder | mid left_shoulder, left_elbow | +z |
| left_triceps | 4116 | left_shoulder | mid left_shoulder, left_elbow | -z |
| right_biceps | 5365 | right_shoulder | mid right_shoulder, right_elbow | +z |
| right_triceps | 5989 | right_shoulder | mid right_shoulder, right_elbow | -z |
| head_top | 331 | head | head | +y |

SMPL's ids are used as the paper lists them; which id is which surface is our reading of
its list (the mannequin's rays define its own points, which is what the nets learn).
"""
from __future__ import annotations

import functools

import numpy as np
import torch
from torch import nn

from studio.body import joint_sets
from studio.body.model import BodyData
from studio.body.skinning import kinematic_levels, rigid_transforms

SMPL_VERTICES = 6890
_X, _Y, _Z = np.eye(3)
# name, SMPL vertex id, parent joint, ray start (joint or (joint, joint) midpoint), offset,
# direction: the table in the module docstring.
LANDMARKS = (
    ("left_chest", 3042, "spine3", "spine3", (0.08, 0, 0), _Z),
    ("right_chest", 4428, "spine3", "spine3", (-0.08, 0, 0), _Z),
    ("belly", 3503, "spine1", "spine1", (0, 0, 0), _Z),
    ("left_hip_side", 4311, "left_hip", "left_hip", (0, 0, 0), _X),
    ("right_hip_side", 822, "right_hip", "right_hip", (0, 0, 0), -_X),
    ("left_thigh_front", 4361, "left_hip", ("left_hip", "left_knee"), (0, 0, 0), _Z),
    ("left_thigh_back", 877, "left_hip", ("left_hip", "left_knee"), (0, 0, 0), -_Z),
    ("right_thigh_front", 4386, "right_hip", ("right_hip", "right_knee"), (0, 0, 0), _Z),
    ("right_thigh_back", 898, "right_hip", ("right_hip", "right_knee"), (0, 0, 0), -_Z),
    ("left_foot_top", 3222, "left_ankle", "left_foot", (0, 0, 0), _Y),
    ("right_foot_top", 6620, "right_ankle", "right_foot", (0, 0, 0), _Y),
    ("left_hand_back", 2544, "left_wrist", "left_hand", (0, 0, 0), _Y),
    ("right_hand_back", 2820, "right_wrist", "right_hand", (0, 0, 0), _Y),
    ("left_biceps", 1258, "left_shoulder", ("left_shoulder", "left_elbow"), (0, 0, 0), _Z),
    ("left_triceps", 4116, "left_shoulder", ("left_shoulder", "left_elbow"), (0, 0, 0), -_Z),
    ("right_biceps", 5365, "right_shoulder", ("right_shoulder", "right_elbow"), (0, 0, 0), _Z),
    ("right_triceps", 5989, "right_shoulder", ("right_shoulder", "right_elbow"), (0, 0, 0), -_Z),
    ("head_top", 331, "head", "head", (0, 0, 0), _Y),
)
LANDMARK_NAMES = tuple(row[0] for row in LANDMARKS)
NUM_POINTS = 23 + len(LANDMARKS)  # 41: SMPLR's points besides the pelvis
# The 42-node tree: node 0 the pelvis, 1..23 the SMPL joints, 24..41 the landmarks.
TREE_PARENTS = tuple(joint_sets.SMPL24_PARENTS) + tuple(
    joint_sets.SMPL24_NAMES.index(row[2]) for row in LANDMARKS)
RAY_RADIUS = 0.015  # vertices this close to the ray count as hit
RAY_LENGTH = 0.25  # and no farther along it than this (metres)


def _ray_vertex(vertices: np.ndarray, start: np.ndarray, direction: np.ndarray) -> int:
    """The outermost vertex within RAY_RADIUS of the ray (the nearest to it if none)."""
    rel = vertices - start
    along = rel @ direction
    perp = np.linalg.norm(rel - along[:, None] * direction, axis=1)
    hit = (perp < RAY_RADIUS) & (along > 0) & (along < RAY_LENGTH)
    if not hit.any():
        return int(np.argmin(perp + 10 * (along <= 0)))
    return int(np.flatnonzero(hit)[np.argmax(along[hit])])


def landmark_vertices(data: BodyData) -> np.ndarray:
    """[18] vertex ids of SMPLR's landmarks on ``data`` (SMPL's own ids on 6,890-vertex
    bodies, the ray rule of the module docstring otherwise)."""
    if data.num_vertices == SMPL_VERTICES:
        return np.array([row[1] for row in LANDMARKS])
    joints = data.rest_joints()
    name_index = joint_sets.SMPL24_NAMES.index
    ids = []
    for _, _, _, anchor, offset, direction in LANDMARKS:
        pair = (anchor,) if isinstance(anchor, str) else anchor
        start = np.mean([joints[name_index(n)] for n in pair], axis=0) + np.asarray(offset)
        ids.append(_ray_vertex(data.v_template.astype(np.float64), start, direction))
    return np.array(ids)


def relative_vectors(points: torch.Tensor) -> torch.Tensor:
    """[B,41,3] pelvis-relative points -> [B,41,3] vectors from each node's tree parent."""
    full = torch.cat([torch.zeros_like(points[:, :1]), points], dim=1)
    return points - full[:, list(TREE_PARENTS[1:])]


class PartialBody(nn.Module):
    """A body model posed only where keypoints need it: joints in closed form from the
    shape, and linear blend skinning for just the vertices SMPLR's landmarks, the
    studio's landmarks and the extra joint regressor read (a few hundred of thousands).

    ``forward(root, body_pose, betas)`` gives (joints [B,24,3], sources [B,S,3] in
    ``joint_sets.SOURCE_NAMES`` order, SMPLR landmarks [B,18,3]); the same numbers as
    :class:`~studio.body.model.BodyModel` (to float precision), and differentiable.
    """

    def __init__(self, body: nn.Module) -> None:
        super().__init__()
        data: BodyData = body.data
        extra = body.J_regressor_extra.detach().cpu().numpy()
        studio_ids = [data.landmarks[n] for n in joint_sets.LANDMARK_NAMES]
        smplr_ids = landmark_vertices(data)
        used = np.unique(np.concatenate([np.flatnonzero(np.abs(extra).sum(0)), studio_ids,
                                         smplr_ids]))
        where = {int(v): k for k, v in enumerate(used)}
        jreg = body.J_regressor.detach().double()
        v_template = body.v_template.detach().double()
        shapedirs = body.shapedirs.detach().double()
        self.register_buffer("joint_template", (jreg @ v_template).float())
        self.register_buffer("joint_dirs", torch.einsum("jv,vdk->jdk", jreg, shapedirs).float())
        sel = torch.as_tensor(used)
        self.register_buffer("v_template", body.v_template.detach()[sel].clone())
        self.register_buffer("shapedirs", body.shapedirs.detach()[sel].clone())
        self.register_buffer("weights", body.lbs_weights.detach()[sel].clone())
        self.register_buffer("extra", torch.as_tensor(extra[:, used], dtype=torch.float32))
        posedirs = None
        if data.posedirs is not None:  # smplx keeps posedirs as [207, V*3]
            full = body.posedirs.detach().reshape(207, -1, 3)
            posedirs = full[:, sel].reshape(207, -1).clone()
        self.register_buffer("posedirs", posedirs)
        self.register_buffer("parents", body.parents.detach().clone())
        self.studio_idx = [where[int(v)] for v in studio_ids]
        self.smplr_idx = [where[int(v)] for v in smplr_ids]
        self._levels = kinematic_levels(self.parents)

    def forward(self, root: torch.Tensor, body_pose: torch.Tensor, betas: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        b = betas.shape[0]
        rotmats = torch.cat([root.reshape(b, 1, 3, 3), body_pose.reshape(b, 23, 3, 3)], 1)
        rest_joints = self.joint_template + torch.einsum("jdk,bk->bjd", self.joint_dirs, betas)
        shaped = self.v_template + torch.einsum("vdk,bk->bvd", self.shapedirs, betas)
        if self.posedirs is not None:
            eye = torch.eye(3, dtype=rotmats.dtype, device=rotmats.device)
            feature = (rotmats[:, 1:] - eye).reshape(b, -1)
            shaped = shaped + (feature @ self.posedirs).reshape(b, -1, 3)
        levels = self._levels
        if levels and levels[0][0].device != rotmats.device:
            self._levels = levels = [(j.to(rotmats.device), p.to(rotmats.device))
                                     for j, p in levels]
        joints, transforms = rigid_transforms(rotmats, rest_joints, self.parents, levels)
        per_vertex = (self.weights @ transforms.reshape(b, -1, 16)).reshape(b, -1, 4, 4)
        verts = torch.einsum("bvij,bvj->bvi", per_vertex[..., :3, :3], shaped) + \
            per_vertex[..., :3, 3]
        extra = torch.einsum("jv,bvd->bjd", self.extra, verts)
        sources = torch.cat([joints, verts[:, self.studio_idx], extra], dim=1)
        return joints, sources, verts[:, self.smplr_idx]


@functools.lru_cache(maxsize=None)
def _mapping(layout: str) -> torch.Tensor:
    return torch.as_tensor(joint_sets.mapping_matrix(layout), dtype=torch.float32)


def layout_points(sources: torch.Tensor, layout: str) -> torch.Tensor:
    """[B,S,3] sources -> [B,K,3] keypoints of ``layout``."""
    return torch.einsum("ks,bsd->bkd", _mapping(layout).to(sources), sources)


def smplr_points(joints: torch.Tensor, landmarks: torch.Tensor) -> torch.Tensor:
    """[B,41,3] SMPLR's points relative to the pelvis: the 23 joints, then the landmarks."""
    return torch.cat([joints[:, 1:], landmarks], dim=1) - joints[:, :1]
