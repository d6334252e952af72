"""PoseAug's discriminators: a part-aware KCS 3D discriminator that sees only bone
directions, and a 2D pose discriminator. Both return raw scores (LSGAN, no sigmoid)."""
from __future__ import annotations

import torch
from torch import nn

from studio.nets.poseaug_skeleton import PART_BONES, pose_from_bones, root_relative, \
    unit_bones, bone_vectors


class KCSPath(nn.Module):
    """One part's scorer: its 15x15 KCS matrix (225) -> 256 -> 256 -> 256 (+ residual)
    -> 100 -> 1."""

    def __init__(self, channel: int = 256, channel_mid: int = 100) -> None:
        super().__init__()
        self.kcs_layer_1 = nn.Linear(225, channel)
        self.kcs_layer_2 = nn.Linear(channel, channel)
        self.kcs_layer_3 = nn.Linear(channel, channel)
        self.layer_last = nn.Linear(channel, channel_mid)
        self.layer_pred = nn.Linear(channel_mid, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        act = nn.functional.leaky_relu
        psi = act(self.kcs_layer_1(x))
        d2 = self.kcs_layer_3(act(self.kcs_layer_2(psi))) + psi
        return self.layer_pred(act(self.layer_last(d2)))


def kcs_matrices(pose: torch.Tensor) -> torch.Tensor:
    """[B,16,3] -> [B,5,225]: per part, the Gram matrix of the unit bone vectors with the
    other parts' bones zeroed (bone lengths play no part)."""
    unit_pose = pose_from_bones(unit_bones(root_relative(pose)))
    bones = bone_vectors(unit_pose)
    mats = []
    for part in PART_BONES:
        mask = torch.zeros(1, bones.shape[1], 1, dtype=bones.dtype, device=bones.device)
        mask[:, list(part)] = 1.0
        masked = bones * mask
        mats.append(torch.matmul(masked, masked.transpose(1, 2)).reshape(len(pose), -1))
    return torch.stack(mats, dim=1)


class PoseDiscriminator3D(nn.Module):
    """``d3d(pose [B,16,3]) -> [B,5]``: column c scores part c of
    :data:`~studio.nets.poseaug_skeleton.PART_NAMES` (left arm, right arm, left leg,
    right leg, torso)."""

    kind = "d3d"

    def __init__(self, channel: int = 256, channel_mid: int = 100) -> None:
        super().__init__()
        for i in range(1, 6):
            setattr(self, f"kcs_path_{i}", KCSPath(channel, channel_mid))

    def forward(self, pose_3d: torch.Tensor) -> torch.Tensor:
        psi = kcs_matrices(pose_3d)
        return torch.cat([getattr(self, f"kcs_path_{i + 1}")(psi[:, i]) for i in range(5)],
                         dim=1)


class PoseDiscriminator2D(nn.Module):
    """``d2d(pose [B,16,2]) -> [B,1]``: 32 -> 100 x 4 (one residual) -> 100 -> 1."""

    kind = "d2d"

    def __init__(self, num_joints: int = 16, width: int = 100) -> None:
        super().__init__()
        self.pose_layer_1 = nn.Linear(num_joints * 2, width)
        self.pose_layer_2 = nn.Linear(width, width)
        self.pose_layer_3 = nn.Linear(width, width)
        self.pose_layer_4 = nn.Linear(width, width)
        self.layer_last = nn.Linear(width, width)
        self.layer_pred = nn.Linear(width, 1)

    def forward(self, pose_2d: torch.Tensor) -> torch.Tensor:
        act = nn.functional.leaky_relu
        x = pose_2d.reshape(len(pose_2d), -1)
        d1 = act(self.pose_layer_1(x))
        d3 = act(self.pose_layer_3(act(self.pose_layer_2(d1))) + d1)
        return self.layer_pred(act(self.layer_last(self.pose_layer_4(d3))))
