"""Refinement's silhouette loss, 1 - soft IoU of the splatted body and the mask, with its
gradient written out.

The same value as :func:`studio.synth.soft_silhouette.soft_silhouette` times the
in-photo window and :func:`studio.synth.soft_silhouette.soft_iou`, but autograd's
backward through those (a dozen operations on [N,2,S] and [S,S] tensors, each saving its
inputs) cost twice the forward; by hand it is two [N,S] x [S,S] products and a few
element-wise operations, and a refinement step is about a fifth faster.
"""
from __future__ import annotations

import torch
from torch import Tensor

from studio.synth.soft_silhouette import (COVERED_DENSITY, EDGE_SHARPNESS, axis_gaussians,
                                           occupancy)


class _SilhouetteLoss(torch.autograd.Function):
    """points [N,2] (crop units) -> 1 - soft IoU with ``mask`` [S,S] over ``inside``."""

    @staticmethod
    def forward(ctx, points: Tensor, sigma: float, mask: Tensor, inside: Tensor) -> Tensor:
        size = mask.shape[-1]
        offset, g = axis_gaussians(points, size, sigma)  # [N,2,S]
        gx, gy = g[:, 0], g[:, 1]
        covered = occupancy(gy.T @ gx)  # [S,S]: rows y, columns x
        seen = covered * inside
        inter = (seen * mask).sum()
        union = (seen + mask - seen * mask).sum().clamp_min(1e-6)
        ctx.save_for_backward(offset, gx, gy, covered, mask, inside, inter, union)
        ctx.sigma, ctx.size = sigma, size
        return 1 - inter / union

    @staticmethod
    def backward(ctx, grad: Tensor):
        offset, gx, gy, covered, mask, inside, inter, union = ctx.saved_tensors
        # d(1 - I/U)/d seen = -(mask U - I (1 - mask)) / U^2, then through the window,
        # the logistic and the density's scale
        d_seen = (inter * (1 - mask) - mask * union) / (union * union)
        d_density = d_seen * inside * covered * (1 - covered) * (
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
