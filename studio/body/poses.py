"""Named body poses for previews and exports, as SMPL joint name -> axis-angle (radians).

Axes follow SMPL's rest pose: y up, the body faces +z, its left side is +x. So a negative
x rotation swings a hip forward, a positive one bends a knee, and rotating a shoulder
about z lowers or raises the arm (sign mirrored between left and right).
"""
from __future__ import annotations

import numpy as np

from studio.body.joint_sets import SMPL24_NAMES

_ARMS_DOWN = {"left_shoulder": (0.0, 0.0, -1.25), "right_shoulder": (0.0, 0.0, 1.25)}

PRESETS: dict[str, dict[str, tuple[float, float, float]]] = {
    "rest": {},
    "a-pose": {"left_shoulder": (0.0, 0.0, -0.75), "right_shoulder": (0.0, 0.0, 0.75)},
    "walk": {
        **_ARMS_DOWN,
        "left_hip": (-0.45, 0.0, 0.0), "right_hip": (0.35, 0.0, 0.0),
        "left_knee": (0.15, 0.0, 0.0), "right_knee": (0.55, 0.0, 0.0),
        "right_ankle": (-0.2, 0.0, 0.0),
        "left_elbow": (0.0, -0.3, 0.0), "right_elbow": (0.0, 0.3, 0.0),
        "spine1": (0.0, 0.08, 0.0),
    },
    "sit": {
        **_ARMS_DOWN,
        "left_hip": (-1.55, 0.0, 0.0), "right_hip": (-1.55, 0.0, 0.0),
        "left_knee": (1.55, 0.0, 0.0), "right_knee": (1.55, 0.0, 0.0),
        "left_elbow": (0.0, -0.6, 0.0), "right_elbow": (0.0, 0.6, 0.0),
    },
    "arms-up": {"left_shoulder": (0.0, 0.0, 1.2), "right_shoulder": (0.0, 0.0, -1.2)},
}


def preset_pose(name: str) -> np.ndarray:
    """The 72 axis-angle values (24 joints x 3, root first) of a preset."""
    pose = np.zeros((len(SMPL24_NAMES), 3), np.float32)
    for joint, rotation in PRESETS[name].items():
        pose[SMPL24_NAMES.index(joint)] = rotation
    return pose.reshape(-1)
