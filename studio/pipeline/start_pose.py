"""Poses for bodies fitted to landmarks MediaPipe partly guessed: the limbs MediaPipe does
not see at the prior's standing pose (and, for the refinement's start, every joint clamped
to the pose prior's limits). Where a photo shows half a body, the guessed legs and
hidden arms of a fit bend joints up to three radians past the limits (builtin-pointhmr's
net mesh) or fold the legs under a portrait (keypoint-fit on Grace Hopper, whose guessed
knee sat above her hip); standing is what people in photos mostly do.
"""
from __future__ import annotations

import numpy as np
import smplx
import torch
from scipy.spatial.transform import Rotation

from studio.nets.geometry import rotmat_to_axis_angle
from studio.pipeline.refine import LIMB_LANDMARKS, euler_xyz
from studio.synth.pose_prior import BASE_POSES, BASE_TABLE, JOINT_LIMITS, euler_to_rotmat

STAND = BASE_TABLE[list(BASE_POSES).index("stand")]  # [23,3] the prior's standing pose
STAND_ROTVEC = rotmat_to_axis_angle(euler_to_rotmat(STAND)).numpy()  # [23,3] axis-angle
END_JOINTS = {10: 7, 11: 8, 22: 20, 23: 21}  # SMPL feet and hands: their parents
SEEN_FROM, SEEN_AT = 0.1, 0.5  # MediaPipe visibility: unseen below, seen above (as VISIBLE)
HIPS = (23, 24)  # MediaPipe's hip landmarks
SPINE = (3, 6, 9)  # SMPL's three spine joints, pelvis to chest


def start_pose(pose: np.ndarray, seen: np.ndarray) -> np.ndarray:
    """[72] axis-angle ``pose`` with each body joint's Euler angles clamped to the pose
    prior's limits (:data:`studio.synth.pose_prior.JOINT_LIMITS`), the root as it is, and
    the limbs MediaPipe does not see standing (:func:`stand_unseen`)."""
    rotmats = smplx.lbs.batch_rodrigues(torch.as_tensor(pose, dtype=torch.float32
                                                        ).reshape(24, 3))
    angles = torch.maximum(torch.minimum(euler_xyz(rotmats[1:]), JOINT_LIMITS[..., 1]),
                           JOINT_LIMITS[..., 0])
    body = rotmat_to_axis_angle(euler_to_rotmat(angles)).reshape(69).numpy()
    return stand_unseen(np.concatenate([np.asarray(pose[:3], np.float32), body]), seen)


def stand_unseen(pose: np.ndarray, seen: np.ndarray) -> np.ndarray:
    """[72] axis-angle ``pose`` with the joints of each limb whose landmarks are unseen
    turned to the prior's standing pose. ``seen`` [33] says how far each of MediaPipe's
    landmarks counts as seen, 0 to 1 (or booleans); a limb (a joint of
    :data:`~studio.pipeline.refine.LIMB_LANDMARKS`, with the foot or hand below it)
    counts as seen as its best landmark, and in between its joints lie that far from
    standing to the fitted pose (slerp): a limb at the edge of being seen does not jump
    between the two from one video frame to the next."""
    rotations = Rotation.from_rotvec(np.asarray(pose, np.float64).reshape(24, 3))
    out = rotations.as_rotvec()
    for joint, weight in _limb_weights(seen).items():
        if weight < 1.0:
            standing = Rotation.from_rotvec(STAND_ROTVEC[joint - 1].astype(np.float64))
            out[joint] = _towards(standing, rotations[joint], weight).as_rotvec()
    return out.reshape(72).astype(np.float32)


def _limb_weights(seen: np.ndarray) -> dict[int, float]:
    """How far each limb joint (and the foot or hand below it) counts as seen: its
    limb's best landmark in ``seen`` [33] (0..1 or booleans)."""
    seen = np.asarray(seen, np.float64)
    weights = {joint: float(seen[list(marks)].max()) for joint, marks in LIMB_LANDMARKS.items()}
    weights.update({end: weights[parent] for end, parent in END_JOINTS.items()})
    return weights


def fully_seen(seen: np.ndarray) -> bool:
    """Whether every limb and a hip count as fully seen in ``seen`` [33]: then
    :func:`stand_unseen` and :func:`pelvis_from_chest` change nothing, and a caller can
    keep the fitted body as it is posed."""
    hip = float(np.asarray(seen, np.float64)[list(HIPS)].max())
    return hip >= 1.0 and min(_limb_weights(seen).values()) >= 1.0


def _towards(start: Rotation, end: Rotation, weight: float) -> Rotation:
    """The rotation ``weight`` (0..1) of the way from ``start`` to ``end``."""
    return start * Rotation.from_rotvec(weight * (start.inv() * end).as_rotvec())


def soft_seen(visibility: np.ndarray, inside: np.ndarray) -> np.ndarray:
    """[33] in 0..1: how far each landmark counts as seen, rising linearly from
    visibility :data:`SEEN_FROM` to :data:`SEEN_AT` (the people module's ``VISIBLE``:
    whatever counts as seen elsewhere is fully seen here; a ramp from 0.3 to 0.7 bent
    the half-seen arms of the astronaut sample towards standing, 4.8 -> 8.0 px after
    refinement), and 0 outside the image (``inside`` [33] bool)."""
    visibility = np.nan_to_num(np.asarray(visibility, np.float64))
    ramp = (visibility - SEEN_FROM) / (SEEN_AT - SEEN_FROM)
    return np.clip(ramp, 0.0, 1.0) * np.asarray(inside, bool)


def pelvis_from_chest(pose: np.ndarray, seen: np.ndarray) -> np.ndarray:
    """[72] axis-angle ``pose`` with, as far as neither hip is ``seen`` [33] (0..1 or
    booleans, the better hip counts), the root turned to where the chest faces and the
    spine at the prior's standing pose: the chest, and all above it, keeps its place in
    the world, and standing legs hang below it rather than along a pelvis tilted to suit
    guessed legs (a portrait's body leant back 40 degrees). Unchanged when a hip is seen;
    between, root and spine lie that far from the chest's to the fitted ones (slerp)."""
    weight = float(np.asarray(seen, np.float64)[list(HIPS)].max())
    if weight >= 1.0:
        return np.asarray(pose, np.float32)
    rotations = Rotation.from_rotvec(np.asarray(pose, np.float64).reshape(24, 3))
    chest = rotations[0]
    for joint in SPINE:
        chest = chest * rotations[joint]
    spine = Rotation.from_matrix(euler_to_rotmat(STAND[[j - 1 for j in SPINE]]).double().numpy())
    standing_spine = spine[0] * spine[1] * spine[2]
    out = rotations.as_rotvec()
    out[0] = _towards(chest * standing_spine.inv(), rotations[0], weight).as_rotvec()
    for k, joint in enumerate(SPINE):
        out[joint] = _towards(spine[k], rotations[joint], weight).as_rotvec()
    return out.reshape(72).astype(np.float32)
