"""Keypoint heatmaps as training targets or network inputs.

A 2-D gaussian is the outer product of two 1-D gaussians, so a [K,S,S] stack costs two
[K,S] exponentials and one multiply instead of K*S*S exponentials.
"""
from __future__ import annotations

import torch
from torch import Tensor


def gaussian_heatmaps(points: Tensor, visible: Tensor, size: int, sigma_px: float) -> Tensor:
    """Unnormalised gaussians [B,K,S,S] at ``points`` [B,K,2] (crop coordinates in [-1,1]).

    Value 1 exactly at each keypoint's continuous position (pixel centres are at
    -1 + 2j/(S-1), as in the rasterizer), so the brightest pixel is the one nearest to
    it; keypoints with ``visible`` [B,K] false/0 give all-zero maps.
    """
    grid = torch.arange(size, device=points.device, dtype=points.dtype)
    centre = (points + 1) * ((size - 1) / 2.0)  # [B,K,2] in pixels
    g = torch.exp(-(grid - centre[..., None]).square() / (2.0 * sigma_px ** 2))  # [B,K,2,S]
    gx = g[:, :, 0] * visible.to(points.dtype)[..., None]
    return g[:, :, 1, :, None] * gx[:, :, None, :]
