"""Refinement's silhouette loss, 1 - soft IoU of the splatted body and the mask, with its
gradient written out.

The same value as :func:`studio.synth.soft_silhouette.soft_silhouette` times the
in-photo window and :func:`studio.synth.soft_silhouette.soft_iou`, but autograd's
backward through those (a dozen operations on [N,2,S] and [S,S] tensors, each saving its
inputs) cost twice the forward; by hand it is two [N,S] x [S,S] products and a few
element-wise operations, and a refinement step is about a fifth faster.
"""
from __future__ import annotations

import math

import torch
from torch import Tensor

from studio.synth.soft_silhouette import COVERED_DENSITY, EDGE_SHARPNESS, TAIL


class _SilhouetteLoss(torch.autograd.Function):
    """points [N,2] (crop units) -> 1 - soft IoU with ``mask`` [S,S] over ``inside``."""

    @staticmethod
    def forward(ctx, points: Tensor, sigma: float, mask: Tensor, inside: Tensor) -> Tensor:
        size = mask.shape[-1]
        grid = torch.arange(size, dtype=points.dtype)
        offset = ((points + 1) * ((size - 1) / 2.0))[..., None] - grid  # [N,2,S] pixels
        scaled = offset * (0.5 ** 0.5 / sigma)
        # exact zeros past the tail (as soft_silhouette: denormals slow the products)
        g = torch.nn.functional.threshold(
            torch.exp((scaled * scaled).clamp_(max=TAIL).neg_()), math.exp(-TAIL), 0.0)
        gx, gy = g[:, 0], g[:, 1]
        density = gy.T @ gx  # [S,S]: rows y, columns x
        occupancy = torch.sigmoid((density / COVERED_DENSITY - 0.5) * EDGE_SHARPNESS)
        seen = occupancy * inside
        inter = (seen * mask).sum()
        union = (seen + mask - seen * mask).sum().clamp_min(1e-6)
        ctx.save_for_backward(offset, gx, gy, occupancy, mask, inside, inter, union)
        ctx.sigma, ctx.size = sigma, size
        return 1 - inter / union

    @staticmethod
    def backward(ctx, grad: Tensor):
        offset, gx, gy, occupancy, mask, inside, inter, union = ctx.saved_tensors
        # d(1 - I/U)/d seen = -(mask U - I (1 - mask)) / U^2, then through the window,
        # the logistic and the density's scale
        d_seen = (inter * (1 - mask) - mask * union) / (union * union)
        d_density = d_seen * inside * occupancy * (1 - occupancy) * (
            EDGE_SHARPNESS / COVERED_DENSITY) * grad
        d_gx = gy @ d_density  # [N,S]
        d_gy = gx @ d_density.T
        # d g / d pixel = -g offset / sigma^2; pixels per crop unit (S - 1) / 2
        scale = -(ctx.size - 1) / (2.0 * ctx.sigma * ctx.sigma)
        d_points = torch.stack([(d_gx * gx * offset[:, 0]).sum(1),
                                (d_gy * gy * offset[:, 1]).sum(1)], 1) * scale
        return d_points, None, None, None


def silhouette_loss(points: Tensor, sigma: float, mask: Tensor, inside: Tensor) -> Tensor:
    """1 - soft IoU of ``points`` [N,2] splatted with radius ``sigma`` px and ``mask``
    [S,S], both counted only where ``inside`` [S,S] (a 0-dim tensor)."""
    return _SilhouetteLoss.apply(points, sigma, mask, inside)
