"""Weak-perspective crop cameras that frame a body the way a person detector would.

A detector's box is the person's extent, enlarged by a margin, with a centre that is a
little off; sometimes the box is too tight or shifted so that limbs leave the crop
(people at the image border, legs below the frame). Training on such crops is what lets
a model handle real detections rather than perfectly centred bodies.
"""
from __future__ import annotations

import torch

TRUNCATION_PROBABILITY = 0.15


def frame_cameras(gen: torch.Generator, vertices: torch.Tensor,
                  truncation: float = TRUNCATION_PROBABILITY) -> torch.Tensor:
    """Cameras [B,3] = [s, tx, ty] for bodies ``vertices`` [B,V,3] in the camera frame.

    With PyMAF's camera a point X maps to about s * (X + t) in crop coordinates, so the
    crop covers the square of side 2/s centred on -t.
    """
    b = vertices.shape[0]
    xy = vertices[..., :2]
    lo, hi = xy.amin(1), xy.amax(1)
    centre, extent = (lo + hi) / 2, (hi - lo).amax(1)
    margin = 1.1 + 0.3 * torch.rand(b, generator=gen)
    jitter = torch.randn(b, 2, generator=gen) * 0.05 * extent[:, None]
    truncated = torch.rand(b, generator=gen) < truncation
    tight = 0.6 + 0.4 * torch.rand(b, generator=gen)
    shift = (torch.rand(b, 2, generator=gen) * 2 - 1) * 0.3 * extent[:, None]
    margin = torch.where(truncated, tight, margin)
    centre = centre + jitter + torch.where(truncated[:, None], shift, torch.zeros_like(shift))
    scale = 2.0 / (extent * margin)
    return torch.cat([scale[:, None], -centre], 1)
