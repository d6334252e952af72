"""PoseAug's augmentor: bone angles (BA), bone lengths (BL), then rotation and
translation (RT), each an MLP fed the root-relative pose and 48 Gaussian noise channels.

Attribute names follow the official ``PoseGenerator`` so its state dicts load as they
are. Noise is an explicit argument per stage (drawn in the official order ba, bl, rot,
trans when left out), so a call can be repeated exactly.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from studio.nets.poseaug_skeleton import (BLR9_TO_BONE15, FIXED_ANGLE_BONES,
                                          FIXED_RATIO_GROUP, bone_lengths, pose_from_bones,
                                          root_relative, unit_bones)

NOISE = 48
POSE = 48  # 16 joints x 3
ROTATION_SCALE = 3.1415  # the official code's pi
STAGES = ("ba", "bl", "rt")


class HiddenBlock(nn.Module):
    """Linear-BN-LeakyReLU twice, no residual (the generators' ``Linear``)."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.w1 = nn.Linear(width, width)
        self.batch_norm1 = nn.BatchNorm1d(width)
        self.w2 = nn.Linear(width, width)
        self.batch_norm2 = nn.BatchNorm1d(width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = nn.functional.leaky_relu(self.batch_norm1(self.w1(x)))
        return nn.functional.leaky_relu(self.batch_norm2(self.w2(y)))


def _trunk(first: nn.Linear, norm: nn.BatchNorm1d, stages: nn.ModuleList,
           x: torch.Tensor) -> torch.Tensor:
    y = nn.functional.leaky_relu(norm(first(x)))
    for stage in stages:
        y = stage(y)
    return y


class BAGenerator(nn.Module):
    """Adds 45 offsets to the unit bone directions and renormalises; lengths are kept,
    bones 6 and 7 keep their directions."""

    def __init__(self, width: int = 256, num_stage: int = 2) -> None:
        super().__init__()
        self.w1 = nn.Linear(POSE + NOISE, width)
        self.batch_norm1 = nn.BatchNorm1d(width)
        self.linear_stages = nn.ModuleList(HiddenBlock(width) for _ in range(num_stage))
        self.w2 = nn.Linear(width, POSE - 3)

    def forward(self, pose: torch.Tensor, noise: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor]:
        x = root_relative(pose)
        unit, length = unit_bones(x), bone_lengths(x)
        y = _trunk(self.w1, self.batch_norm1, self.linear_stages,
                   torch.cat((x.reshape(len(x), -1), noise), dim=1))
        moved = unit + self.w2(y).view(len(x), -1, 3)
        moved = moved / torch.norm(moved, dim=2, keepdim=True)
        keep = torch.ones_like(unit)
        keep[:, list(FIXED_ANGLE_BONES)] = 0.0
        moved = moved * keep + unit * (1 - keep)
        ba_diff = 1 - torch.sum(moved * unit, dim=2)
        return pose_from_bones(moved * length) + pose[:, :1], ba_diff


class BLGenerator(nn.Module):
    """Nine length ratios in (-limit, limit), shared by left/right bone pairs; the
    spine-thorax ratio is always 0."""

    def __init__(self, width: int = 256, num_stage: int = 2, limit: float = 0.2) -> None:
        super().__init__()
        self.limit = limit
        self.w1_BL = nn.Linear(POSE + 15 + NOISE, width)
        self.batch_norm_BL = nn.BatchNorm1d(width)
        self.linear_stages_BL = nn.ModuleList(HiddenBlock(width) for _ in range(num_stage))
        self.w2_BL = nn.Linear(width, len(set(BLR9_TO_BONE15)))
        mask = torch.ones(1, 9)
        mask[0, FIXED_RATIO_GROUP] = 0.0
        self.register_buffer("ratio_mask", mask, persistent=False)
        self.register_buffer("group_of_bone", torch.tensor(BLR9_TO_BONE15), persistent=False)

    def forward(self, pose: torch.Tensor, pose_ba: torch.Tensor, noise: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor]:
        x = root_relative(pose)
        features = torch.cat((x.reshape(len(x), -1), bone_lengths(x)[..., 0], noise), dim=1)
        y = _trunk(self.w1_BL, self.batch_norm_BL, self.linear_stages_BL, features)
        blr = torch.tanh(self.w2_BL(y) * self.ratio_mask) * self.limit
        return apply_length_ratios(pose_ba, blr, self.group_of_bone), blr


def apply_length_ratios(pose: torch.Tensor, blr: torch.Tensor,
                        group_of_bone: torch.Tensor | None = None) -> torch.Tensor:
    """Scale each bone of ``pose`` [B,16,3] by (1 + its group's ratio) from ``blr`` [B,9];
    directions and the root stay."""
    groups = torch.tensor(BLR9_TO_BONE15, device=blr.device) if group_of_bone is None \
        else group_of_bone
    x = root_relative(pose)
    length = bone_lengths(x)
    scaled = unit_bones(x) * (length * blr[:, groups, None] + length)
    return pose_from_bones(scaled) + pose[:, :1]


def angle_axis_to_matrix(r: torch.Tensor) -> torch.Tensor:
    """[B,3] axis-angle -> [B,3,3], as torchgeometry 0.1.2 computes it: Rodrigues with the
    axis r / (|r| + 1e-6), and I + [r]x where |r|^2 <= 1e-6."""
    theta2 = torch.sum(r * r, dim=1, keepdim=True)
    theta = torch.sqrt(theta2)
    wx, wy, wz = torch.chunk(r / (theta + 1e-6), 3, dim=1)
    cos, sin = torch.cos(theta), torch.sin(theta)
    one_c = 1.0 - cos
    normal = torch.cat([cos + wx * wx * one_c, wx * wy * one_c - wz * sin,
                        wy * sin + wx * wz * one_c,
                        wz * sin + wx * wy * one_c, cos + wy * wy * one_c,
                        -wx * sin + wy * wz * one_c,
                        -wy * sin + wx * wz * one_c, wx * sin + wy * wz * one_c,
                        cos + wz * wz * one_c], dim=1).view(-1, 3, 3)
    rx, ry, rz = torch.chunk(r, 3, dim=1)
    one = torch.ones_like(rx)
    taylor = torch.cat([one, -rz, ry, rz, one, -rx, -ry, rx, one], dim=1).view(-1, 3, 3)
    big = (theta2 > 1e-6).view(-1, 1, 1).type_as(r)
    return big * normal + (1 - big) * taylor


class RTGenerator(nn.Module):
    """An axis-angle rotation (pi * tanh) about the root and a translation whose depth is a
    square (never negative); the output's root is the translation."""

    def __init__(self, width: int = 256, num_stage: int = 2) -> None:
        super().__init__()
        self.w1_R = nn.Linear(POSE + NOISE, width)
        self.batch_norm_R = nn.BatchNorm1d(width)
        self.linear_stages_R = nn.ModuleList(HiddenBlock(width) for _ in range(num_stage))
        self.w1_T = nn.Linear(POSE + NOISE, width)
        self.batch_norm_T = nn.BatchNorm1d(width)
        self.linear_stages_T = nn.ModuleList(HiddenBlock(width) for _ in range(num_stage))
        self.w2_R = nn.Linear(width, 3)
        self.w2_T = nn.Linear(width, 3)

    def forward(self, pose: torch.Tensor, pose_bl: torch.Tensor, noise_rot: torch.Tensor,
                noise_trans: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        x = root_relative(pose).reshape(len(pose), -1)
        r = _trunk(self.w1_R, self.batch_norm_R, self.linear_stages_R,
                   torch.cat((x, noise_rot), dim=1))
        r = torch.tanh(self.w2_R(r)) * ROTATION_SCALE
        t = _trunk(self.w1_T, self.batch_norm_T, self.linear_stages_T,
                   torch.cat((x, noise_trans), dim=1))
        t = self.w2_T(t)
        t = torch.cat([t[:, :2], t[:, 2:] * t[:, 2:]], dim=1)
        rotated = torch.matmul(angle_axis_to_matrix(r), root_relative(pose_bl).transpose(1, 2))
        return rotated.transpose(1, 2) + t[:, None, :], r, t


class PoseAugmentor(nn.Module):
    """The augmentor (official ``PoseGenerator``). ``aug(pose_3d, noise_ba=None,
    noise_bl=None, noise_rot=None, noise_trans=None)`` returns a dict with ``pose_ba``,
    ``ba_diff``, ``pose_bl``, ``blr``, ``pose_rt``, ``rot`` and ``trans``."""

    kind = "augmentor"

    def __init__(self, width: int = 256, num_stage: int = 2, blr_limit: float = 0.2) -> None:
        super().__init__()
        self.BAprocess = BAGenerator(width, num_stage)
        self.BLprocess = BLGenerator(width, num_stage, blr_limit)
        self.RTprocess = RTGenerator(width, num_stage)

    def forward(self, pose_3d: torch.Tensor, noise_ba: torch.Tensor | None = None,
                noise_bl: torch.Tensor | None = None, noise_rot: torch.Tensor | None = None,
                noise_trans: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        if pose_3d.ndim != 3 or pose_3d.shape[1:] != (16, 3):
            raise ValueError(f"the augmentor takes poses [B,16,3], got {tuple(pose_3d.shape)}")
        b, dev = pose_3d.shape[0], pose_3d.device
        noises = []
        for given in (noise_ba, noise_bl, noise_rot, noise_trans):  # the official draw order
            noises.append(torch.randn(b, NOISE, device=dev) if given is None else given.to(dev))
        pose_ba, ba_diff = self.BAprocess(pose_3d, noises[0])
        pose_bl, blr = self.BLprocess(pose_3d, pose_ba, noises[1])
        pose_rt, rot, trans = self.RTprocess(pose_3d, pose_bl, noises[2], noises[3])
        return {"pose_ba": pose_ba, "ba_diff": ba_diff, "pose_bl": pose_bl, "blr": blr,
                "pose_rt": pose_rt, "rot": rot, "trans": trans}


def draw_noise(count: int, seed: int, strength: dict[str, float] | None = None
               ) -> dict[str, torch.Tensor]:
    """Seeded noise per stage ([count,48] each, official order), scaled by ``strength``
    (1 = the training distribution; 0 = the output at zero noise)."""
    gen = torch.Generator().manual_seed(int(seed))
    strength = strength or {}
    out = {}
    for name in ("ba", "bl", "rot", "trans"):
        out[f"noise_{name}"] = torch.randn(count, NOISE, generator=gen) * \
            float(strength.get(name, 1.0))
    return out


def rotation_degrees(rot: torch.Tensor) -> torch.Tensor:
    """[B,3] axis-angle -> [B] rotation angle in degrees (for reports)."""
    return torch.norm(rot, dim=1) * 180.0 / math.pi
