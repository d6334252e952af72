"""Training and test batches for the keypoint fit (SMPLR), made on the fly.

A batch is bodies (broad pose prior or hand-made key poses, shapes from the body's shape
space) seen as one keypoint layout:
- 3D: keypoints in metres with any translation, in the body model's frame (y up) or,
  for half the samples, upside down as MediaPipe's world landmarks are (y down); the
  targets are in the same frame;
- 2D: the body in front of a pinhole camera (x right, y down, z away), projected to
  pixels; the targets are in the camera frame.
Noise from :mod:`studio.synth.keypoint_noise`.

2D cameras: images 480-1920 px wide (height 0.56-1.33 of that), focal length 0.7-1.5
times the larger side, the person 30-90% of the image height tall, anywhere in the
central part of the image.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from studio.synth.key_poses import UP_TO_CAMERA, sample_broad_poses
from studio.synth.keypoint_noise import (NoiseLevel, fixed_levels, jittered, skeleton_noise,
                                         training_levels)
from studio.synth.pose_prior import sample_betas
from studio.synth.smplr_points import PartialBody, layout_points, smplr_points

BODY_HEIGHT = 1.7  # metres, for placing people in the 2D cameras


@dataclass
class KeypointBatch:
    keypoints: torch.Tensor  # [B,K,D] noisy input, NaN where missing
    seen: torch.Tensor  # [B,K] bool
    intrinsics: torch.Tensor | None  # [B,3] focal, cx, cy (2D only)
    image_size: torch.Tensor | None  # [B,2] width, height (2D only)
    points: torch.Tensor  # [B,41,3] true SMPLR points, pelvis-relative, output frame
    rotmat: torch.Tensor  # [B,24,3,3] true rotations in the output frame
    betas: torch.Tensor  # [B,10]
    clean: torch.Tensor  # [B,K,D] exact keypoints (before noise)


def _cameras(gen: torch.Generator, b: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Intrinsics [B,3], image sizes [B,2] and pelvis positions [B,3] in the camera frame."""
    u = lambda: torch.rand(b, generator=gen)  # noqa: E731
    width = 480 + u() * 1440
    height = width * (0.56 + u() * 0.77)
    focal = torch.maximum(width, height) * (0.7 + u() * 0.8)
    depth = focal * BODY_HEIGHT / (height * (0.3 + u() * 0.6))
    x = (u() - 0.5) * 0.5 * width / focal * depth
    y = (u() - 0.5) * 0.4 * height / focal * depth
    intrinsics = torch.stack([focal, width / 2, height / 2], -1)
    return intrinsics, torch.stack([width, height], -1), torch.stack([x, y, depth], -1)


def make_batch(body: PartialBody, gen: torch.Generator, batch: int, layout: str, dims: int,
               level: NoiseLevel | None = None,
               poses: Callable[[torch.Generator, int], tuple[torch.Tensor, torch.Tensor]]
               = sample_broad_poses) -> KeypointBatch:
    """``batch`` samples of ``layout`` in ``dims`` (2 or 3); ``level`` None draws a
    training noise level per sample; ``poses(gen, batch)`` draws (root in the body frame,
    body rotations): the broad prior by default."""
    root, body_pose = poses(gen, batch)
    betas = sample_betas(gen, batch)
    if dims == 3:
        flip = torch.rand(batch, generator=gen) < 0.5
        root = torch.where(flip[:, None, None], UP_TO_CAMERA @ root, root)
    else:
        root = UP_TO_CAMERA @ root
    with torch.no_grad():
        joints, sources, landmarks = body(root, body_pose, betas)
    points = smplr_points(joints, landmarks)
    exact = layout_points(sources, layout) - joints[:, :1]
    levels = training_levels(gen, batch, dims) if level is None else fixed_levels(level, batch)
    skeleton = skeleton_noise(exact, layout, levels, gen)
    intrinsics = sizes = None
    if dims == 3:
        shift = torch.randn(batch, 1, 3, generator=gen) * 2.0
        clean, observed = exact + shift, skeleton + shift
    else:
        intrinsics, sizes, pelvis = _cameras(gen, batch)

        def project(p: torch.Tensor) -> torch.Tensor:
            cam = p + pelvis[:, None]
            return intrinsics[:, None, :1] * cam[..., :2] / cam[..., 2:] + intrinsics[:, None, 1:]

        clean, observed = project(exact), project(skeleton)
    noisy, seen = jittered(observed, levels, gen)
    rotmat = torch.cat([root[:, None], body_pose], dim=1)
    return KeypointBatch(keypoints=noisy, seen=seen, intrinsics=intrinsics, image_size=sizes,
                         points=points, rotmat=rotmat, betas=betas, clean=clean)
