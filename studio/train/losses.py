"""PyMAF's training losses, summed over every feedback iteration.

Weights follow PyMAF's defaults (2D and 3D keypoints 300, pose 60, shape 0.06, all
squared errors); synthetic data also has exact meshes, so a vertex L1 term is added, and
the auxiliary dense-correspondence head gets cross-entropy on part indices and smooth L1
on U/V at the true part, as in the paper.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from studio.nets.pymaf import PyMAFOutput
from studio.synth.dataset import Batch

PELVIS_GT_SET = (25 + 2, 25 + 3)  # pymaf49 ground-truth-set hips: centre the 3D joints


@dataclass(frozen=True)
class LossWeights:
    keypoints_2d: float = 300.0
    keypoints_3d: float = 300.0
    pose: float = 60.0
    shape: float = 0.06
    vertices: float = 5.0
    dense: float = 0.5


def _centred(points: torch.Tensor) -> torch.Tensor:
    pelvis = points[:, list(PELVIS_GT_SET)].mean(1, keepdim=True)
    return points - pelvis


def dense_loss(dense: dict[str, torch.Tensor], batch: Batch) -> torch.Tensor:
    """Part and coarse-part cross-entropy plus U/V smooth L1 on the person's pixels."""
    loss = F.cross_entropy(dense["uv_index"], batch.part) + \
        F.cross_entropy(dense["ann_index"], batch.coarse)
    fg = batch.part > 0
    if fg.any():
        index = batch.part[:, None]
        u = dense["u"].gather(1, index)[:, 0][fg]
        v = dense["v"].gather(1, index)[:, 0][fg]
        loss = loss + F.smooth_l1_loss(u, batch.uv[..., 0][fg]) + \
            F.smooth_l1_loss(v, batch.uv[..., 1][fg])
    return loss


def pymaf_losses(output: PyMAFOutput, batch: Batch,
                 weights: LossWeights = LossWeights()) -> dict[str, torch.Tensor]:
    """Weighted loss terms (summed over the predicted iterations) and their total."""
    terms = {name: torch.zeros((), device=batch.inputs.device)
             for name in ("keypoints_2d", "keypoints_3d", "pose", "shape", "vertices")}
    valid = batch.keypoints_2d_valid[..., None]
    gt_3d = _centred(batch.keypoints_3d)
    gt_verts = batch.vertices - batch.keypoints_3d[:, list(PELVIS_GT_SET)].mean(1, keepdim=True)
    for it in output.iterations[1:]:
        terms["keypoints_2d"] += ((it.keypoints_2d - batch.keypoints_2d) ** 2 * valid).mean()
        terms["keypoints_3d"] += ((_centred(it.keypoints_3d) - gt_3d) ** 2).mean()
        terms["pose"] += ((it.rotmat - batch.rotmat) ** 2).mean()
        terms["shape"] += ((it.betas - batch.betas) ** 2).mean()
        pelvis = it.keypoints_3d[:, list(PELVIS_GT_SET)].mean(1, keepdim=True)
        terms["vertices"] += (it.vertices - pelvis - gt_verts).abs().mean()
    out = {name: getattr(weights, name) * value for name, value in terms.items()}
    if output.final.dense is not None:
        out["dense"] = weights.dense * dense_loss(output.final.dense, batch)
    out["total"] = sum(out.values())
    return out
