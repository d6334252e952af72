"""PointHMR's training losses (the paper's): vertex L1 at the three mesh resolutions, 3D
and 2D joint L1 (the transformer's joints and those regressed from its mesh), and a
binary cross-entropy plus dice loss on the vertex heat-maps against Gaussians at the
true 2D positions of the coarse vertices.

Targets are pelvis-centred (the net regresses root-relative coordinates) in the
synthetic data's camera frame; 2D terms use the net's own weak-perspective camera.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from studio.nets.geometry import project_to_crop
from studio.nets.pointhmr import cell_centres
from studio.synth.dataset import Batch
from studio.train.losses import PELVIS_GT_SET

LSP14 = slice(25, 39)  # pymaf49's ground-truth set starts with the 14 LSP joints, in
# PointHMR's joint order (right ankle ... neck, head top)
HIPS = (2, 3)  # of the 14
HEATMAP_SIGMA_CELLS = 1.0


@dataclass(frozen=True)
class PointHMRLossWeights:
    vertices: float = 5.0  # per resolution
    joints_3d: float = 5.0
    joints_2d: float = 5.0
    heatmap_bce: float = 1.0
    heatmap_dice: float = 0.5


@dataclass(frozen=True)
class MeshTargets:
    """Which full-mesh vertices make the mid and coarse levels, and the [14, V] regressor
    of the LSP joints from a full mesh."""

    mid: torch.Tensor
    coarse: torch.Tensor
    joints: torch.Tensor


def heatmap_targets(points: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """[B, V, h, w] Gaussians (peak 1, sigma one cell) at ``points`` [B, V, 2] (crop
    coordinates), over the same cell centres the net's soft-argmax uses."""
    centres = cell_centres(h, w, points)  # [h*w, 2]
    d2 = (points[:, :, None, :] - centres).square().sum(-1)  # [B, V, h*w]
    cell = 2.0 / w
    return torch.exp(-d2 / (2 * (HEATMAP_SIGMA_CELLS * cell) ** 2)).view(*points.shape[:2], h, w)


def heatmap_losses(logits: torch.Tensor, target: torch.Tensor, valid: torch.Tensor
                   ) -> tuple[torch.Tensor, torch.Tensor]:
    """(BCE on the sigmoid of the logits, dice of the spatial soft-max against the
    normalised target), over the vertices ``valid`` [B, V] says are inside the crop."""
    weight = valid[..., None, None].expand_as(target)
    count = weight.sum().clamp(min=1)
    bce = (F.binary_cross_entropy_with_logits(logits, target, reduction="none")
           * weight).sum() / count
    prob = F.softmax(logits.flatten(2), -1)
    norm = target.flatten(2) / target.flatten(2).sum(-1, keepdim=True).clamp(min=1e-8)
    dice = 1 - 2 * (prob * norm).sum(-1) / ((prob ** 2).sum(-1) + (norm ** 2).sum(-1) + 1e-8)
    dice = (dice * valid).sum() / valid.sum().clamp(min=1)
    return bce, dice


def pointhmr_losses(out: dict[str, torch.Tensor], batch: Batch, targets: MeshTargets,
                    weights: PointHMRLossWeights = PointHMRLossWeights()
                    ) -> dict[str, torch.Tensor]:
    """Weighted loss terms and their total."""
    pelvis = batch.keypoints_3d[:, list(PELVIS_GT_SET)].mean(1, keepdim=True)
    full = batch.vertices - pelvis
    vertices = sum((out[f"vertices_{level}"] - truth).abs().mean()
                   for level, truth in (("coarse", full[:, targets.coarse]),
                                        ("mid", full[:, targets.mid]), ("full", full)))
    gt_joints = batch.keypoints_3d[:, LSP14] - pelvis
    mesh_joints = torch.einsum("jv,bvd->bjd", targets.joints, out["vertices_full"])
    joints_3d = sum((_hip_centred(j) - _hip_centred(gt_joints)).abs().mean()
                    for j in (out["joints"], mesh_joints))
    gt_2d, valid_2d = batch.keypoints_2d[:, LSP14], batch.keypoints_2d_valid[:, LSP14, None]
    joints_2d = sum(((project_to_crop(j, out["camera"]) - gt_2d).abs() * valid_2d).mean()
                    for j in (out["joints"], mesh_joints))
    logits = out["heatmap_logits"]
    points = project_to_crop(batch.vertices[:, targets.coarse], batch.cam)
    bce, dice = heatmap_losses(logits, heatmap_targets(points, *logits.shape[-2:]),
                               (points.abs() <= 1).all(-1).float())
    terms = {"vertices": weights.vertices * vertices, "joints_3d": weights.joints_3d * joints_3d,
             "joints_2d": weights.joints_2d * joints_2d, "heatmap_bce": weights.heatmap_bce * bce,
             "heatmap_dice": weights.heatmap_dice * dice}
    terms["total"] = sum(terms.values())
    return terms


def _hip_centred(joints: torch.Tensor) -> torch.Tensor:
    return joints - joints[:, list(HIPS)].mean(1, keepdim=True)
