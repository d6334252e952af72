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
from studio.pipeline.refine import euler_xyz, unseen_limbs
from studio.synth.pose_prior import BASE_POSES, BASE_TABLE, JOINT_LIMITS, euler_to_rotmat

STAND = BASE_TABLE[list(BASE_POSES).index("stand")]  # [23,3] the prior's standing pose
STAND_ROTVEC = rotmat_to_axis_angle(euler_to_rotmat(STAND)).numpy()  # [23,3] axis-angle
END_JOINTS = {10: 7, 11: 8, 22: 20, 23: 21}  # SMPL feet and hands: their parents


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
    """[72] axis-angle ``pose`` with the joints of each limb whose landmarks are all unseen
    (``seen`` [33]: MediaPipe's landmarks that count; :func:`unseen_joints`) at the
    prior's standing pose, the rest as they are."""
    out = np.array(pose, np.float32).reshape(24, 3)
    for joint in unseen_joints(seen):
        out[joint] = STAND_ROTVEC[joint - 1]
    return out.reshape(72)


def unseen_joints(seen: np.ndarray) -> list[int]:
    """SMPL joints whose rotation moves only landmarks not ``seen``
    (:func:`studio.pipeline.refine.unseen_limbs`), and the feet and hands below such a
    joint."""
    unseen = unseen_limbs(seen)
    return unseen + [end for end, parent in END_JOINTS.items() if parent in unseen]


HIPS = (23, 24)  # MediaPipe's hip landmarks
SPINE = (3, 6, 9)  # SMPL's three spine joints, pelvis to chest


def pelvis_from_chest(pose: np.ndarray, seen: np.ndarray) -> np.ndarray:
    """[72] axis-angle ``pose`` with, when neither hip is ``seen`` [33], the root turned to
    where the chest faces and the spine at the prior's standing pose: the chest, and all
    above it, keeps its place in the world, and standing legs hang below it rather than
    along a pelvis tilted to suit guessed legs (a portrait's body leant back 40 degrees).
    Unchanged when a hip is seen."""
    if np.asarray(seen, bool)[list(HIPS)].any():
        return np.asarray(pose, np.float32)
    rotations = Rotation.from_rotvec(np.asarray(pose, np.float64).reshape(24, 3))
    chest = rotations[0]
    for joint in SPINE:
        chest = chest * rotations[joint]
    spine = Rotation.from_matrix(euler_to_rotmat(STAND[[j - 1 for j in SPINE]]).double().numpy())
    standing_spine = spine[0] * spine[1] * spine[2]
    out = rotations.as_rotvec()
    out[0] = (chest * standing_spine.inv()).as_rotvec()
    out[list(SPINE)] = spine.as_rotvec()
    return out.reshape(72).astype(np.float32)
