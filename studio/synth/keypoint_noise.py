"""Noise of real keypoint detectors, applied to exact keypoints of a synthetic body.

Two kinds: MediaPipe-like 3D landmarks (metres) and 2D detections (pixels). Both get
- bone-length differences: every bone of the layout's tree scaled by its own factor
  (a detector's skeleton is not the body model's), and a fixed offset per point;
- jitter: Gaussian, of the level's size (mm or px);
- missing points, at the level's rate (never so many that fewer than 4 stay);
- left-right swaps: at a small rate a sample has one left/right pair exchanged.

:class:`NoiseLevel` fixes the sizes for evaluation; :func:`training_level` draws one per
sample so a net sees every strength from none to large.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import torch

from studio.body import joint_sets

MIN_VISIBLE = 4


@dataclass(frozen=True)
class NoiseLevel:
    """Noise of one strength: jitter (metres for 3D, pixels for 2D), missing rate, swap
    rate, relative bone-length spread and per-point offset (metres)."""

    jitter: float = 0.0
    missing: float = 0.0
    swap: float = 0.0
    bone: float = 0.0
    offset: float = 0.0

    def label(self, dims: int) -> str:
        size = f"{self.jitter * 1000:g}mm" if dims == 3 else f"{self.jitter:g}px"
        return f"{size}/{self.missing * 100:g}%missing"


# What evaluation reports: the targets are 15 mm (3D) and 3 px + 10% missing (2D).
EVAL_LEVELS = {
    3: (NoiseLevel(), NoiseLevel(jitter=0.015), NoiseLevel(jitter=0.015, missing=0.1),
        NoiseLevel(jitter=0.03, missing=0.2)),
    2: (NoiseLevel(), NoiseLevel(jitter=3.0, missing=0.1), NoiseLevel(jitter=6.0, missing=0.2)),
}


@functools.lru_cache(maxsize=None)
def _tree_order(layout: str) -> tuple[np.ndarray, np.ndarray]:
    """The layout's joints parents-first, and their parents."""
    parents = joint_sets.LAYOUTS[layout].parents
    order, placed = [], set()
    while len(order) < len(parents):
        for j, p in enumerate(parents):
            if j not in placed and (p < 0 or p in placed):
                order.append(j)
                placed.add(j)
    order = np.array(order)
    return order, np.array(parents)[order]


def bone_scaled(points: torch.Tensor, layout: str, spread: torch.Tensor,
                gen: torch.Generator) -> torch.Tensor:
    """[B,K,D] points with every bone of the layout's tree scaled by 1 + N(0, spread[B])."""
    order, parents = _tree_order(layout)
    b, k, _ = points.shape
    scale = 1 + torch.randn(b, k, 1, generator=gen) * spread[:, None, None]
    out = points.clone()
    for j, p in zip(order.tolist(), parents.tolist()):
        if p >= 0:
            out[:, j] = out[:, p] + (points[:, j] - points[:, p]) * scale[:, j]
    return out


def _swap_pairs(points: torch.Tensor, layout: str, rate: torch.Tensor,
                gen: torch.Generator) -> torch.Tensor:
    pairs = joint_sets.LAYOUTS[layout].flip_pairs
    if not pairs:
        return points
    b = points.shape[0]
    swap = torch.rand(b, generator=gen) < rate
    pick = torch.randint(0, len(pairs), (b,), generator=gen)
    out = points.clone()
    for s in torch.nonzero(swap).flatten().tolist():
        i, j = pairs[int(pick[s])]
        out[s, [i, j]] = points[s, [j, i]]
    return out


def missing_mask(b: int, k: int, rate: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """[B,K] bool, True where a point is seen: each missing with ``rate`` [B], at least
    MIN_VISIBLE seen."""
    draw = torch.rand(b, k, generator=gen)
    seen = draw >= rate[:, None]
    keep = draw.argsort(dim=1, descending=True)[:, :min(MIN_VISIBLE, k)]
    return seen.scatter(1, keep, True)


def training_levels(gen: torch.Generator, b: int, dims: int) -> dict[str, torch.Tensor]:
    """Per-sample noise strengths [B] for training: jitter up to 40 mm / 8 px, up to 30%
    missing (none in a quarter of the samples), swaps in 2%."""
    u = lambda: torch.rand(b, generator=gen)  # noqa: E731
    missing = u() * 0.3 * (u() > 0.25)
    return {"jitter": u() * (0.04 if dims == 3 else 8.0), "missing": missing,
            "swap": torch.full((b,), 0.02), "bone": u() * 0.05, "offset": u() * 0.015}


def fixed_levels(level: NoiseLevel, b: int) -> dict[str, torch.Tensor]:
    return {name: torch.full((b,), float(getattr(level, name)))
            for name in ("jitter", "missing", "swap", "bone", "offset")}


def skeleton_noise(points: torch.Tensor, layout: str, levels: dict[str, torch.Tensor],
                   gen: torch.Generator) -> torch.Tensor:
    """3D points [B,K,3] (metres) with bone-length differences, offsets and swaps."""
    out = bone_scaled(points, layout, levels["bone"], gen)
    out = out + torch.randn(out.shape, generator=gen) * levels["offset"][:, None, None]
    return _swap_pairs(out, layout, levels["swap"], gen)


def jittered(points: torch.Tensor, levels: dict[str, torch.Tensor], gen: torch.Generator
             ) -> tuple[torch.Tensor, torch.Tensor]:
    """Points [B,K,D] with Gaussian jitter, and the [B,K] mask of seen points; missing
    points are NaN."""
    b, k, _ = points.shape
    out = points + torch.randn(points.shape, generator=gen) * levels["jitter"][:, None, None]
    seen = missing_mask(b, k, levels["missing"], gen)
    return out.masked_fill(~seen[..., None], float("nan")), seen
