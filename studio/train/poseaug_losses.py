"""PoseAug's training losses (Gong et al. 2021, official defaults): LSGAN adversarial
terms, the range losses that keep BA/BL changes in bounds, and the error feedback that
asks augmented poses to be a growing factor harder for the estimator than the originals."""
from __future__ import annotations

import torch
import torch.nn.functional as F

# Per-joint weights of the estimator error in the feedback, then three joint groups
# (hips/shoulders, knees/elbows/head, feet/wrists).
JOINT_WEIGHTS = (1, 5, 2, 1, 5, 2, 1, 1, 1, 1, 5, 2, 1, 5, 2, 1)
ERROR_GROUPS = ((1, 4, 10, 13), (2, 5, 9, 11, 14), (3, 6, 12, 15))


def lsgan(scores: torch.Tensor, real: bool) -> torch.Tensor:
    """Least-squares GAN loss of raw scores against the label 1 (real) or 0 (fake)."""
    return F.mse_loss(scores, torch.full_like(scores, 1.0 if real else 0.0))


def range_loss(value: torch.Tensor, centre: float, half_width: float) -> torch.Tensor:
    """Squared distance to ``centre``, counted only outside ``centre +- half_width``."""
    diff = (value - centre) ** 2
    return (diff * (diff > half_width ** 2)).mean()


def rectified_l2(value: torch.Tensor, limit: float) -> torch.Tensor:
    """Squared size of ``value``, counted only beyond ``limit``."""
    return range_loss(value, 0.0, limit)


def grouped_error(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """[B,3] weighted per-joint errors of root-relative ``pred`` vs ``target`` (whose root
    is removed here), averaged over the three joint groups."""
    err = torch.norm(pred - (target - target[:, :1]), dim=-1)
    err = err * torch.tensor(JOINT_WEIGHTS, dtype=err.dtype, device=err.device)
    return torch.stack([err[:, list(g)].mean(-1) for g in ERROR_GROUPS], dim=-1)


def joint_distances(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """[B,J] distance of each joint of [B,J,3] poses (the sqrt's epsilon keeps a perfect
    joint differentiable)."""
    return torch.sqrt(((pred - target) ** 2).sum(-1) + 1e-8)


def mpjpe_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean joint distance [B,J,3] (metres), what the test scores; ours, an estimator
    loss beside the official MSE: each joint's pull is a unit vector, so the hardest
    augmented pairs weigh no more than the rest, where MSE lets a pair pull in proportion
    to its error."""
    return joint_distances(pred, target).mean()


HUBER_DELTA = 0.1  # metres: about the source-only estimator's mean wrist error


def huber_joint_loss(pred: torch.Tensor, target: torch.Tensor,
                     delta: float = HUBER_DELTA) -> torch.Tensor:
    """Mean Huber loss of each joint's distance [B,J,3] (metres), ours: quadratic below
    ``delta`` (a joint's pull grows with its error, as under MSE) and linear above (it
    stays a unit vector, as under the joint distance), so the hardest augmented pairs pull
    about ``delta`` over a source pair's error harder, not in proportion to their error."""
    dist = joint_distances(pred, target)
    return torch.where(dist < delta, 0.5 * dist ** 2 / delta, dist - 0.5 * delta).mean()


def hard_ratio(start: float, end: float, epoch: int, epochs: int) -> float:
    """The feedback target, growing linearly from ``start`` to ``end`` over training."""
    return start + (end - start) * epoch / max(1, epochs)


def feedback_loss(harder: torch.Tensor, easier: torch.Tensor, target: float,
                  tolerance: float) -> torch.Tensor:
    """Pushes the error ratio augmented/original towards ``target`` (outside
    ``+- tolerance``)."""
    return range_loss(harder / easier, target, tolerance)


def frame_loss(pose_3d: torch.Tensor, camera: torch.Tensor, margin: float = 0.95,
               min_depth: float = 1.0) -> torch.Tensor:
    """Keeps augmented people in the picture: squared excess of the (unclamped) pinhole
    projection beyond +-``margin`` and of the depth below ``min_depth`` metres. The
    projection clamps x/z, so without this a person pushed out of view gets no gradient
    back (not in the paper; PoseAug drops such samples afterwards)."""
    depth = pose_3d[..., 2:]
    ratio = pose_3d[..., :2] / depth.clamp(min=0.05)
    screen = camera[:, None, :2] * ratio + camera[:, None, 2:4]
    outside = torch.relu(screen.abs() - margin) ** 2
    near = torch.relu(min_depth - depth) ** 2
    return outside.mean() + near.mean()
