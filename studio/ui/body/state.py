"""The body the viewer shows: model, shape (betas) and pose, without any Qt.

Views hold one of these and ask it for vertices and joints; they never run the
body model themselves, so the same state drives the snapshot and the window.
"""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch

from studio.body import joint_sets
from studio.body.model import NUM_BETAS, NUM_JOINTS, BodyData, BodyModel

Pose = Mapping[str, tuple[float, float, float]]  # SMPL joint name -> axis-angle (radians)

BETA_RANGE = (-3.0, 3.0)

# Used when studio.body.poses is not available: enough to show a posed body.
FALLBACK_PRESETS: dict[str, Pose] = {
    "rest": {},
    "walk": {
        "left_hip": (-0.45, 0.0, 0.0), "right_hip": (0.35, 0.0, 0.0),
        "left_knee": (0.25, 0.0, 0.0), "right_knee": (0.6, 0.0, 0.0),
        "left_shoulder": (0.3, 0.0, -1.2), "right_shoulder": (-0.3, 0.0, 1.2),
        "left_elbow": (0.0, -0.35, 0.0), "right_elbow": (0.0, 0.35, 0.0),
    },
}


def pose_presets() -> dict[str, Pose]:
    """Named poses: ``studio.body.poses.PRESETS`` when present, else the fallback set."""
    try:
        from studio.body import poses
    except ImportError:
        return dict(FALLBACK_PRESETS)
    presets = getattr(poses, "PRESETS", None)
    if not isinstance(presets, Mapping) or not presets:
        return dict(FALLBACK_PRESETS)
    return {str(name): pose for name, pose in presets.items()}


def pose_vector(pose: Pose) -> np.ndarray:
    """Axis-angles [24,3] from a joint-name dict (missing joints stay at rest)."""
    out = np.zeros((NUM_JOINTS, 3), np.float32)
    for name, aa in pose.items():
        if name not in joint_sets.SMPL24_NAMES:
            raise ValueError(f"unknown SMPL joint {name!r} in pose")
        out[joint_sets.SMPL24_NAMES.index(name)] = np.asarray(aa, np.float32).reshape(3)
    return out


class BodyState:
    """Current shape and pose of one body model; :meth:`evaluate` gives the mesh."""

    def __init__(self, data: BodyData) -> None:
        self.data = data
        self.model = BodyModel(data).eval()
        self.betas = np.zeros(NUM_BETAS, np.float32)
        self.pose = np.zeros((NUM_JOINTS, 3), np.float32)

    @property
    def faces(self) -> np.ndarray:
        return self.data.faces

    @property
    def parents(self) -> np.ndarray:
        return self.data.parents

    @property
    def part_labels(self) -> np.ndarray:
        return self.data.part_labels

    def set_beta(self, index: int, value: float) -> None:
        lo, hi = BETA_RANGE
        self.betas[index] = float(np.clip(value, lo, hi))

    def reset_shape(self) -> None:
        self.betas[:] = 0.0

    def set_pose(self, pose: Pose) -> None:
        self.pose = pose_vector(pose)

    def evaluate(self) -> tuple[np.ndarray, np.ndarray]:
        """Vertices [V,3] and joints [24,3] (float32, metres) of the current state."""
        with torch.no_grad():
            out = self.model(global_orient=torch.from_numpy(self.pose[:1].reshape(1, 3)),
                             body_pose=torch.from_numpy(self.pose[1:].reshape(1, -1)),
                             betas=torch.from_numpy(self.betas[None]))
        return out.vertices[0].numpy(), out.joints[0].numpy()
