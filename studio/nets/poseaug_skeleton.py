"""PoseAug's 16-joint skeleton, bones, camera projection and 2D normalisation.

Conventions of the official code (jfzhang95/PoseAug), which its weights depend on:
joints are Human3.6M's 17 without Neck/Nose; a bone vector is parent minus child; the
9 bone-length ratios map onto the 15 bones by :data:`BLR9_TO_BONE15`; 2D poses are in
normalized screen coordinates (u = 2x/W - 1, v = 2y/W - H/W); cameras are
``[fx, fy, cx, cy, k1, k2, k3, p1, p2]`` normalized the same way.
"""
from __future__ import annotations

import torch

from studio.body.joint_sets import POSEAUG16, POSEAUG16_BONE_GROUPS, POSEAUG16_BONES

NUM_JOINTS = 16
JOINT_NAMES = POSEAUG16.names
PARENTS = (-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 8, 10, 11, 8, 13, 14)
BONES = POSEAUG16_BONES
BONE_GROUPS = POSEAUG16_BONE_GROUPS
BLR9_TO_BONE15 = tuple(next(g for g, bones in enumerate(BONE_GROUPS) if b in bones)
                       for b in range(len(BONES)))
FIXED_ANGLE_BONES = (6, 7)  # Hip->Spine, Spine->Thorax keep their directions in BA
FIXED_RATIO_GROUP = 4  # Spine->Thorax keeps its length (size/distance ambiguity)
# The 3D discriminator's five columns: the bones each part's KCS matrix sees. Named by
# the joints they hold (the official code calls them lh, rh, ll, rl, hb; its "ll" holds
# bones 0-2, which end at RHip, RKnee, RFoot).
PART_NAMES = ("left arm", "right arm", "right leg", "left leg", "torso")
PART_BONES = ((7, 9, 10, 11), (7, 12, 13, 14), (0, 1, 2, 3, 6), (0, 3, 4, 5, 6),
              (0, 3, 6, 7, 8, 9, 12))
# The joints of each part (the bones' children and the root/thorax they hang from).
PART_JOINTS = tuple(tuple(sorted({j for b in bones for j in BONES[b]})) for bones in PART_BONES)

_PARENT_IDX = torch.tensor([p for p, _ in BONES])
_CHILD_IDX = torch.tensor([c for _, c in BONES])


def _chain_matrix() -> torch.Tensor:
    """[16,15]: joint j (root-relative) = -(sum of the bone vectors from the root to j)."""
    m = torch.zeros(NUM_JOINTS, len(BONES))
    bone_of_child = {c: b for b, (_, c) in enumerate(BONES)}
    for j in range(1, NUM_JOINTS):
        k = j
        while k != 0:
            m[j, bone_of_child[k]] = -1.0
            k = PARENTS[k]
    return m


_CHAIN = _chain_matrix()


def bone_vectors(pose: torch.Tensor) -> torch.Tensor:
    """[B,16,3] -> [B,15,3] bone vectors, parent minus child (the official sign)."""
    return pose[:, _PARENT_IDX.to(pose.device)] - pose[:, _CHILD_IDX.to(pose.device)]


def bone_lengths(pose: torch.Tensor) -> torch.Tensor:
    """[B,16,3] -> [B,15,1] bone lengths."""
    return torch.norm(bone_vectors(pose), dim=2, keepdim=True)


def unit_bones(pose: torch.Tensor) -> torch.Tensor:
    """[B,16,3] -> [B,15,3] bone directions (parent minus child, unit length)."""
    vectors = bone_vectors(pose)
    return vectors / torch.norm(vectors, dim=2, keepdim=True)


def pose_from_bones(bones: torch.Tensor) -> torch.Tensor:
    """[B,15,3] bone vectors -> [B,16,3] root-relative pose (inverse of bone_vectors)."""
    return torch.matmul(_CHAIN.to(bones), bones)


def root_relative(pose: torch.Tensor) -> torch.Tensor:
    """[B,16,3] pose with joint 0 moved to the origin."""
    return pose - pose[:, :1]


def project_to_2d(points_3d: torch.Tensor, camera: torch.Tensor) -> torch.Tensor:
    """[B,J,3] camera-frame points, [B,9] cameras -> [B,J,2] normalized screen coordinates,
    through PoseAug's distorted pinhole model (x/z and y/z clamped to [-1, 1])."""
    if points_3d.shape[-1] != 3 or camera.ndim != 2 or camera.shape[-1] != 9 \
            or camera.shape[0] != points_3d.shape[0]:
        raise ValueError(f"project_to_2d needs points [B,J,3] and cameras [B,9], got "
                         f"{tuple(points_3d.shape)} and {tuple(camera.shape)}")
    cam = camera[:, None, :]
    f, c, k, p = cam[..., :2], cam[..., 2:4], cam[..., 4:7], cam[..., 7:]
    ab = torch.clamp(points_3d[..., :2] / points_3d[..., 2:], min=-1, max=1)
    r2 = torch.sum(ab ** 2, dim=-1, keepdim=True)
    radial = 1 + torch.sum(k * torch.cat((r2, r2 ** 2, r2 ** 3), dim=-1), dim=-1, keepdim=True)
    tangential = torch.sum(p * ab, dim=-1, keepdim=True)
    return f * (ab * (radial + tangential) + p * r2) + c


def normalize_screen(pixels: torch.Tensor, width: float, height: float) -> torch.Tensor:
    """[...,2] pixel coordinates -> normalized screen coordinates (u = 2x/W - 1,
    v = 2y/W - H/W): all an estimator needs, with no camera calibration."""
    scale = torch.tensor([2.0 / width, 2.0 / width], dtype=pixels.dtype, device=pixels.device)
    offset = torch.tensor([1.0, height / width], dtype=pixels.dtype, device=pixels.device)
    return pixels * scale - offset


def screen_to_pixels(screen: torch.Tensor, width: float, height: float) -> torch.Tensor:
    """Inverse of :func:`normalize_screen`."""
    offset = torch.tensor([1.0, height / width], dtype=screen.dtype, device=screen.device)
    return (screen + offset) * (width / 2.0)


def camera_from_pixels(focal_px: float | torch.Tensor, width: float, height: float,
                       cx_px: float | None = None, cy_px: float | None = None,
                       distortion: tuple[float, ...] = (0, 0, 0, 0, 0)) -> torch.Tensor:
    """[9] PoseAug camera for a pinhole of ``focal_px`` pixels on a W x H image (principal
    point at the centre unless given; distortion k1, k2, k3, p1, p2)."""
    cx_px = width / 2 if cx_px is None else cx_px
    cy_px = height / 2 if cy_px is None else cy_px
    f = float(focal_px) * 2.0 / width
    c = normalize_screen(torch.tensor([cx_px, cy_px], dtype=torch.float32), width, height)
    return torch.tensor([f, f, float(c[0]), float(c[1]), *distortion], dtype=torch.float32)
