"""Evaluation errors in millimetres: MPJPE, PA-MPJPE (after Procrustes) and PVE.

Joints are the 17 H36M joints every body model gives, both prediction and ground truth
centred on their pelvis; vertices are centred the same way.
"""
from __future__ import annotations

import torch

from studio.body.model import BodyModel

PELVIS = 0  # h36m17


def procrustes_align(pred: torch.Tensor, gt: torch.Tensor) -> torch.Tensor:
    """``pred`` [B,N,3] moved by the similarity transform that best fits ``gt``."""
    mu_p, mu_g = pred.mean(1, keepdim=True), gt.mean(1, keepdim=True)
    p, g = pred - mu_p, gt - mu_g
    u, s, vt = torch.linalg.svd(p.transpose(1, 2) @ g)
    d = torch.sign(torch.linalg.det(u @ vt))
    fix = torch.ones_like(s)
    fix[:, -1] = d
    rot = u @ torch.diag_embed(fix) @ vt
    scale = (s * fix).sum(1) / (p ** 2).sum((1, 2))
    return scale[:, None, None] * p @ rot + mu_g


def errors_mm(body: BodyModel, rotmat: torch.Tensor, betas: torch.Tensor,
              gt_rotmat: torch.Tensor, gt_betas: torch.Tensor) -> dict[str, torch.Tensor]:
    """Per-sample MPJPE, PA-MPJPE and PVE [B] in mm of predicted vs true parameters."""
    pred = body(global_orient=rotmat[:, :1], body_pose=rotmat[:, 1:], betas=betas)
    true = body(global_orient=gt_rotmat[:, :1], body_pose=gt_rotmat[:, 1:], betas=gt_betas)
    pj, gj = pred.keypoints("h36m17"), true.keypoints("h36m17")
    pp, gp = pj[:, PELVIS:PELVIS + 1], gj[:, PELVIS:PELVIS + 1]
    pj, gj = pj - pp, gj - gp
    return {
        "mpjpe": 1000 * (pj - gj).norm(dim=-1).mean(1),
        "pa_mpjpe": 1000 * (procrustes_align(pj, gj) - gj).norm(dim=-1).mean(1),
        "pve": 1000 * ((pred.vertices - pp) - (true.vertices - gp)).norm(dim=-1).mean(1),
    }
