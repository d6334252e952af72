"""What the scene-pose net sees and how its answers become image keypoints.

Frames: a pose P is box-normalised (box centre 0, longer box side 1). The net's crop is a
square of side H (image height) centred on the spot, with coordinates u = (x - c) / (H/2),
so a pose of scale s lies at u = s * P. Missing joints are NaN throughout.
"""
from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from studio.body.joint_sets import MPII16
from studio.nets.backbones import IMAGENET_MEAN, IMAGENET_STD

# MPII-16 joints swapped by a left-right mirror.
MIRROR = tuple(int(i) for i in MPII16.flip_permutation())


def box_frame(boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Centres [...,2] and longer sides [...] of boxes [...,4] (x0, y0, x1, y1)."""
    boxes = np.asarray(boxes, np.float64)
    centre = (boxes[..., :2] + boxes[..., 2:]) / 2
    side = np.maximum(boxes[..., 2] - boxes[..., 0], boxes[..., 3] - boxes[..., 1])
    return centre, side


def normalise(keypoints: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Box-normalised poses [...,16,2] of pixel keypoints (negative = missing -> NaN)."""
    kp = np.asarray(keypoints, np.float64)
    centre, side = box_frame(boxes)
    p = (kp - centre[..., None, :]) / side[..., None, None]
    return np.where((kp < 0).any(-1, keepdims=True), np.nan, p)


def _normalise_pixels(images: torch.Tensor) -> torch.Tensor:
    mean = images.new_tensor(IMAGENET_MEAN)[:, None, None]
    std = images.new_tensor(IMAGENET_STD)[:, None, None]
    return (images - mean) / std


def _crop(images: torch.Tensor, centres: torch.Tensor, side: float, size: int) -> torch.Tensor:
    """Square crops [B,3,size,size] of ``side`` pixels centred on ``centres`` [B,2] px."""
    b, _, h, w = images.shape
    theta = images.new_zeros(b, 2, 3)
    theta[:, 0, 0] = side / w
    theta[:, 1, 1] = side / h
    theta[:, 0, 2] = 2 * centres[:, 0] / w - 1
    theta[:, 1, 2] = 2 * centres[:, 1] / h - 1
    grid = F.affine_grid(theta, [b, 3, size, size], align_corners=False)
    return F.grid_sample(images, grid, align_corners=False)


def make_views(images: torch.Tensor, centres: torch.Tensor,
               size: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The net's three inputs from images [B,3,H,W] in 0..1 and spots [B,2] in pixels:
    the full image, the square crop of side H and the half-size crop, each size x size
    and ImageNet-normalised; outside the image is black."""
    h = images.shape[-2]
    full = F.interpolate(images, size=(size, size), mode="bilinear", align_corners=False,
                         antialias=True)
    crop = _crop(images, centres, h, size)
    half = _crop(images, centres, h / 2, size)
    return tuple(_normalise_pixels(v) for v in (full, crop, half))  # type: ignore[return-value]


def crop_boxes(boxes: torch.Tensor, centres: torch.Tensor, height: float) -> torch.Tensor:
    """Pixel boxes [B,R,4] in the crop coordinates of spots ``centres`` [B,2]."""
    c = centres.repeat(1, 2)[:, None]
    return (boxes - c) / (height / 2)


def place_at_point(poses: torch.Tensor, scale: torch.Tensor, point: torch.Tensor,
                   height: float) -> torch.Tensor:
    """Pixel keypoints of box-normalised ``poses`` [B,R,16,2] at ``scale`` [B,R] around
    ``point`` [B,2] (the paper's setting)."""
    return point[:, None, None] + poses * scale[..., None, None] * (height / 2)


def place_in_box(poses: torch.Tensor, extents: torch.Tensor, boxes: torch.Tensor,
                 max_stretch: float = math.inf) -> torch.Tensor:
    """Pixel keypoints of ``poses`` [B,R,16,2] whose templates' boxes measure ``extents``
    [B,R,2], stretched so that box fills ``boxes`` [B,4] and clipped to it: every joint
    lies in the box. One axis's scale is at most ``max_stretch`` times the other's (a
    lying template in a square box stays a lying body, not a diagonal one); a template
    held to that fits the box across or down, centred across and standing on the box's
    bottom."""
    lo, hi = boxes[:, None, None, :2], boxes[:, None, None, 2:]
    scale = (hi - lo) / extents[..., None, :]
    if math.isfinite(max_stretch):
        sx, sy = scale[..., :1], scale[..., 1:]
        scale = torch.cat([torch.minimum(sx, sy * max_stretch),
                           torch.minimum(sy, sx * max_stretch)], -1)
    # the template's own box centred across the box and with its bottom on the box's
    across = (lo[..., :1] + hi[..., :1]) / 2 + poses[..., :1] * scale[..., :1]
    down = hi[..., 1:] + (poses[..., 1:] - extents[..., None, 1:] / 2) * scale[..., 1:]
    out = torch.cat([across, down], -1)
    return torch.minimum(torch.maximum(out, lo), hi)


def box_aspect(boxes: np.ndarray) -> np.ndarray:
    """log(width / height) of boxes [...,4]."""
    boxes = np.asarray(boxes, np.float64)
    return np.log(np.maximum(boxes[..., 2] - boxes[..., 0], 1e-6)
                  / np.maximum(boxes[..., 3] - boxes[..., 1], 1e-6))
