"""Rotation and camera conventions shared by the mesh-regression nets.

They follow PyMAF (and SPIN before it) exactly, because official checkpoints were trained
with them: a different 6D reading or camera model gives wrong meshes from right weights.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

FOCAL_LENGTH = 5000.0
CROP_SIZE = 224


def rot6d_to_rotmat(x: torch.Tensor) -> torch.Tensor:
    """[..., 6k] 6D rotations -> [N, 3, 3] matrices (N = all rotations, in order).

    Each 6 numbers are read row-major as a 3x2 matrix whose two columns are the first
    two basis vectors; Gram-Schmidt makes them orthonormal and the third is their cross.
    """
    m = x.reshape(-1, 3, 2)
    b1 = F.normalize(m[:, :, 0], dim=1)
    a2 = m[:, :, 1]
    b2 = F.normalize(a2 - (b1 * a2).sum(dim=1, keepdim=True) * b1, dim=1)
    b3 = torch.cross(b1, b2, dim=1)
    return torch.stack([b1, b2, b3], dim=-1)


def rotmat_to_axis_angle(rotmat: torch.Tensor) -> torch.Tensor:
    """[..., 3, 3] rotation matrices -> [..., 3] axis-angle vectors (angle in [0, pi]).

    Goes through a unit quaternion (Shepperd's choice of the largest component), which
    stays accurate near 0 and pi where the trace formula loses the axis.
    """
    shape = rotmat.shape[:-2]
    r = rotmat.reshape(-1, 3, 3)
    r00, r11, r22 = r[:, 0, 0], r[:, 1, 1], r[:, 2, 2]
    # Four candidate quaternions (w, x, y, z), each scaled by 4 * its dominant component.
    candidates = torch.stack([
        torch.stack([1 + r00 + r11 + r22, r[:, 2, 1] - r[:, 1, 2],
                     r[:, 0, 2] - r[:, 2, 0], r[:, 1, 0] - r[:, 0, 1]], -1),
        torch.stack([r[:, 2, 1] - r[:, 1, 2], 1 + r00 - r11 - r22,
                     r[:, 0, 1] + r[:, 1, 0], r[:, 0, 2] + r[:, 2, 0]], -1),
        torch.stack([r[:, 0, 2] - r[:, 2, 0], r[:, 0, 1] + r[:, 1, 0],
                     1 - r00 + r11 - r22, r[:, 1, 2] + r[:, 2, 1]], -1),
        torch.stack([r[:, 1, 0] - r[:, 0, 1], r[:, 0, 2] + r[:, 2, 0],
                     r[:, 1, 2] + r[:, 2, 1], 1 - r00 - r11 + r22], -1),
    ], dim=1)
    diag = torch.stack([r00 + r11 + r22, r00, r11, r22], -1)
    best = diag.argmax(dim=1)
    q = F.normalize(candidates[torch.arange(len(r)), best], dim=1)
    q = torch.where(q[:, :1] < 0, -q, q)  # w >= 0 keeps the angle in [0, pi]
    sin_half = q[:, 1:].norm(dim=1)
    angle = 2 * torch.atan2(sin_half, q[:, 0])
    # angle / sin(angle/2) -> 2 as the angle -> 0.
    scale = torch.where(sin_half > 1e-8, angle / sin_half.clamp_min(1e-8),
                        torch.full_like(angle, 2.0))
    return (q[:, 1:] * scale[:, None]).reshape(*shape, 3)


def weak_perspective_to_translation(cam: torch.Tensor, focal_length: float = FOCAL_LENGTH,
                                    crop_size: int = CROP_SIZE) -> torch.Tensor:
    """Camera [B,3] = [s, tx, ty] -> camera-frame translation [B,3] = (tx, ty, 2f/(crop*s))."""
    depth = 2 * focal_length / (crop_size * cam[:, 0] + 1e-9)
    return torch.stack([cam[:, 1], cam[:, 2], depth], dim=-1)


def perspective_projection(points: torch.Tensor, translation: torch.Tensor,
                           focal_length: float = FOCAL_LENGTH) -> torch.Tensor:
    """Points [B,N,3] moved by translation [B,3] -> pixels [B,N,2] around principal point 0."""
    p = points + translation[:, None, :]
    return focal_length * p[..., :2] / p[..., 2:]


def project_to_crop(points: torch.Tensor, cam: torch.Tensor) -> torch.Tensor:
    """Points [B,N,3] seen by weak-perspective camera [B,3] -> crop coordinates in [-1, 1]."""
    pixels = perspective_projection(points, weak_perspective_to_translation(cam))
    return pixels / (CROP_SIZE / 2.0)
