"""SMPLR (Madadi, Bertiche, Escalera 2020): keypoints -> SMPL pose and shape.

Three nets of fully connected layers, each followed by BatchNorm and ELU:
- a denoising autoencoder (:class:`Denoiser`) maps a layout's noisy, partly missing
  keypoints (3D metres or 2D pixels) to SMPLR's 41 pelvis-relative points (23 joints and
  18 surface landmarks, :mod:`studio.synth.smplr_points`), lifting 2D to 3D in the
  camera's frame. It has one input layer per keypoint layout (the rest is shared), skips
  between its mirrored layers and a residual path from the input;
- a pose regressor maps the 41 unit vectors from each point's tree parent (123 numbers)
  to 24 joint rotations, predicted as 6D (:func:`~studio.nets.geometry.rot6d_to_rotmat`)
  in the world frame and turned into the body model's local rotations (a bone's
  direction fixes most of its world rotation: this learns far faster than local ones);
- a shape regressor maps the 41 parent distances minus the template body's to 10 shape
  coefficients.

Input encoding (:func:`encode`): 3D points are centred on the mean of the seen points;
2D pixels become camera rays ((u - c) / f), centred and scaled by their spread, with the
centre and spread appended (the perspective cue). Missing points are zeros plus a mask.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from studio.body import joint_sets
from studio.nets.geometry import rot6d_to_rotmat
from studio.synth.smplr_points import NUM_POINTS, TREE_PARENTS

NUM_ROTATIONS = 24
LAYOUTS = ("smpl24", "openpose25", "coco17", "h36m17", "mpii16", "poseaug16", "mediapipe33")
FILE_FORMAT = "studio-smplr"  # the "format" entry of a weights file
IDENTITY_6D = (1.0, 0.0, 0.0, 1.0, 0.0, 0.0)


def input_size(layout: str, dims: int) -> int:
    """Length of :func:`encode`'s features for a layout."""
    k = len(joint_sets.LAYOUTS[layout])
    return k * dims + k + (3 if dims == 2 else 0)


def encode(points: torch.Tensor, seen: torch.Tensor, intrinsics: torch.Tensor | None = None
           ) -> torch.Tensor:
    """Features [B,F] of keypoints [B,K,D] (NaN where unseen) and their mask [B,K].

    ``intrinsics`` [B,3] = (focal, cx, cy) in pixels, required for 2D points.
    """
    mask = seen.to(points.dtype)[..., None]
    p = torch.nan_to_num(points) * mask
    count = mask.sum(1).clamp_min(1)
    if points.shape[-1] == 2:
        if intrinsics is None:
            raise ValueError("2D keypoints need intrinsics (focal, cx, cy)")
        p = (p - intrinsics[:, None, 1:]) / intrinsics[:, None, :1] * mask
        centre = p.sum(1, keepdim=True) / count[:, None]
        spread = (((p - centre) ** 2).sum(-1, keepdim=True) * mask).sum(1, keepdim=True) \
            / count[:, None]
        spread = spread.sqrt().clamp_min(1e-6)
        rel = (p - centre) / spread * mask
        extra = torch.cat([centre[:, 0] * 5, torch.log(spread[:, 0]) + 2], dim=-1)
        return torch.cat([rel.flatten(1), mask.flatten(1), extra], dim=1)
    centre = p.sum(1, keepdim=True) / count[:, None]
    rel = (p - centre) * mask
    return torch.cat([rel.flatten(1) * 2, mask.flatten(1)], dim=1)


def block(n_in: int, n_out: int) -> nn.Sequential:
    """FC + BatchNorm + ELU, SMPLR's layer."""
    return nn.Sequential(nn.Linear(n_in, n_out), nn.BatchNorm1d(n_out), nn.ELU())


@torch.no_grad()
def fold_batchnorm(net: nn.Module) -> nn.Module:
    """``net`` for inference only: each block's BatchNorm (its running statistics) folded
    into the Linear before it. Why: at batch 1 the nets' time is per-operation cost, and
    this drops 15 of their 50-odd operations; the outputs agree to float rounding."""
    for module in list(net.modules()):
        if isinstance(module, nn.Sequential) and len(module) == 3 \
                and isinstance(module[1], nn.BatchNorm1d):
            linear, norm = module[0], module[1]
            scale = norm.weight / torch.sqrt(norm.running_var + norm.eps)
            linear.weight.mul_(scale[:, None])
            linear.bias.copy_((linear.bias - norm.running_mean) * scale + norm.bias)
            del module[1]
    return net.eval()


class Denoiser(nn.Module):
    """Per-layout input layer, then hidden -> hidden -> hidden/2 -> hidden -> hidden with
    skips (layer 1 into layer 5, layer 2 into layer 4), output 41x3 plus a linear residual
    from the input (SMPLR's residual to the input, through the layout's own layer)."""

    def __init__(self, layouts: tuple[str, ...], dims: int, hidden: int, dropout: float) -> None:
        super().__init__()
        self.heads = nn.ModuleDict({k: block(input_size(k, dims), hidden) for k in layouts})
        self.residual = nn.ModuleDict({k: nn.Linear(input_size(k, dims), NUM_POINTS * 3)
                                       for k in layouts})
        self.dropout = nn.Dropout(dropout)
        self.l2 = block(hidden, hidden)
        self.l3 = block(hidden, hidden // 2)
        self.l4 = block(hidden // 2, hidden)
        self.l5 = block(hidden, hidden)
        self.out = nn.Linear(hidden, NUM_POINTS * 3)
        with torch.no_grad():  # start small: the targets are metres, mostly under 1
            self.out.weight.mul_(0.05)
            for layer in self.residual.values():
                layer.weight.mul_(0.1)

    def forward(self, features: torch.Tensor, layout: str) -> torch.Tensor:
        x = self.dropout(features)
        h1 = self.heads[layout](x)
        h2 = self.l2(h1)
        h4 = self.l4(self.l3(h2)) + h2
        h5 = self.l5(h4) + h1
        return (self.out(h5) + self.residual[layout](x)).reshape(-1, NUM_POINTS, 3)


class Regressor(nn.Module):
    """SMPLR's regressor trunk: widths (h, h, h/2, h/2, h/2), then a linear head."""

    def __init__(self, n_in: int, n_out: int, hidden: int) -> None:
        super().__init__()
        widths = (n_in, hidden, hidden, hidden // 2, hidden // 2, hidden // 2)
        self.trunk = nn.Sequential(*[block(a, b) for a, b in zip(widths[:-1], widths[1:])])
        self.head = nn.Linear(widths[-1], n_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.trunk(x))


SMPL_PARENTS = joint_sets.SMPL24_PARENTS


def local_rotations(world: torch.Tensor) -> torch.Tensor:
    """[B,24,3,3] joint rotations in the world (what the regressor predicts: a bone's
    direction says much about its own world rotation, little about its local one) ->
    local rotations, as the body model takes them: R_parent^T R_joint."""
    parents = torch.tensor(SMPL_PARENTS[1:], device=world.device)
    local = world[:, parents].transpose(-1, -2) @ world[:, 1:]
    return torch.cat([world[:, :1], local], dim=1)


def world_rotations(local: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`local_rotations`: compose local rotations down the SMPL tree."""
    world = [local[:, 0]]
    for j in range(1, NUM_ROTATIONS):
        world.append(world[SMPL_PARENTS[j]] @ local[:, j])
    return torch.stack(world, dim=1)


@dataclass
class SMPLROutput:
    points: torch.Tensor  # [B,41,3] pelvis-relative joints and landmarks, metres
    rotmat: torch.Tensor  # [B,24,3,3] local: global orientation, then the 23 body joints
    betas: torch.Tensor  # [B,10]


class SMPLR(nn.Module):
    """The three nets for one input dimension (2 or 3) and a set of layouts."""

    def __init__(self, layouts: tuple[str, ...], dims: int, template_lengths: torch.Tensor,
                 hidden: int = 512, dropout: float = 0.0) -> None:
        super().__init__()
        unknown = [k for k in layouts if k not in joint_sets.LAYOUTS]
        if unknown or dims not in (2, 3):
            raise ValueError(f"unknown layouts {unknown} or dims {dims}")
        self.layouts, self.dims = tuple(layouts), dims
        self.denoiser = Denoiser(self.layouts, dims, hidden, dropout)
        self.pose = Regressor(NUM_POINTS * 3, NUM_ROTATIONS * 6, hidden)
        self.shape = Regressor(NUM_POINTS, 10, hidden)
        self.register_buffer("template_lengths", torch.as_tensor(template_lengths).float())
        self.register_buffer("parents", torch.tensor(TREE_PARENTS[1:]))
        with torch.no_grad():
            self.pose.head.weight.mul_(0.1)
            self.pose.head.bias.copy_(torch.tensor(IDENTITY_6D).repeat(NUM_ROTATIONS))

    def regress(self, points: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Rotations [B,24,3,3] and betas [B,10] from 41 pelvis-relative points [B,41,3]."""
        full = torch.cat([torch.zeros_like(points[:, :1]), points], dim=1)
        vectors = points - full[:, self.parents]
        lengths = vectors.norm(dim=-1)
        units = vectors / lengths.clamp_min(1e-6)[..., None]
        rot6d = self.pose(units.flatten(1))
        world = rot6d_to_rotmat(rot6d).reshape(-1, NUM_ROTATIONS, 3, 3)
        betas = self.shape((lengths - self.template_lengths) * 10)
        return local_rotations(world), betas

    def forward(self, features: torch.Tensor, layout: str) -> SMPLROutput:
        points = self.denoiser(features, layout)
        rotmat, betas = self.regress(points)
        return SMPLROutput(points=points, rotmat=rotmat, betas=betas)
