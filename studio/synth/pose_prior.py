"""A pose prior for synthetic people: base poses of everyday activities, varied and clamped
to per-joint anatomical limits, facing the camera from any yaw.

Local joint rotations are Euler angles R = Rx(x) Ry(y) Rz(z) in SMPL's rest frame (y up,
the body faces +z, its left is +x). Limits and base poses are written for the left side
and the spine; the right side is their mirror image, and every sample is mirrored with
probability 1/2, so the prior has no handedness.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from studio.body.joint_sets import SMPL24_NAMES, mirror_name

DEG = math.pi / 180.0
BODY_JOINTS = SMPL24_NAMES[1:]  # the 23 joints below the root

# Left-side and spine limits, degrees: (x range, y range, z range).
_LIMITS_DEG: dict[str, tuple[tuple[float, float], ...]] = {
    "spine1": ((-25, 45), (-30, 30), (-25, 25)),
    "spine2": ((-20, 35), (-25, 25), (-20, 20)),
    "spine3": ((-20, 35), (-25, 25), (-20, 20)),
    "neck": ((-35, 45), (-45, 45), (-30, 30)),
    "head": ((-30, 35), (-40, 40), (-25, 25)),
    "left_hip": ((-130, 40), (-45, 45), (-25, 70)),
    "left_knee": ((0, 150), (-10, 10), (-5, 5)),
    "left_ankle": ((-40, 45), (-20, 20), (-20, 20)),
    "left_foot": ((-30, 30), (-5, 5), (-5, 5)),
    "left_collar": ((-15, 15), (-25, 20), (-15, 30)),
    "left_shoulder": ((-80, 80), (-100, 45), (-85, 85)),
    "left_elbow": ((-20, 20), (-150, 0), (-10, 10)),
    "left_wrist": ((-40, 40), (-30, 30), (-70, 70)),
    "left_hand": ((-15, 15), (-15, 15), (-15, 15)),
}

_ARMS_DOWN = {"left_shoulder": (0, 0, -72), "right_shoulder": (0, 0, 72),
              "left_elbow": (0, -12, 0), "right_elbow": (0, 12, 0)}

# Base poses, degrees, (x, y, z) per joint; unnamed joints are at rest.
BASE_POSES: dict[str, dict[str, tuple[float, float, float]]] = {
    "stand": dict(_ARMS_DOWN),
    "a-pose": {"left_shoulder": (0, 0, -45), "right_shoulder": (0, 0, 45)},
    "t-pose": {},
    "walk": {**_ARMS_DOWN, "left_hip": (-28, 0, 0), "right_hip": (20, 0, 0),
             "left_knee": (10, 0, 0), "right_knee": (35, 0, 0), "right_ankle": (-12, 0, 0),
             "left_shoulder": (15, 0, -72), "right_shoulder": (-20, 0, 72)},
    "run": {"left_hip": (-65, 0, 0), "right_hip": (25, 0, 0), "left_knee": (45, 0, 0),
            "right_knee": (100, 0, 0), "spine1": (12, 0, 0),
            "left_shoulder": (30, 0, -70), "right_shoulder": (-45, 0, 70),
            "left_elbow": (0, -90, 0), "right_elbow": (0, 90, 0)},
    "sit": {**_ARMS_DOWN, "left_hip": (-90, 0, 5), "right_hip": (-90, 0, -5),
            "left_knee": (90, 0, 0), "right_knee": (90, 0, 0),
            "left_elbow": (0, -40, 0), "right_elbow": (0, 40, 0)},
    "crouch": {**_ARMS_DOWN, "left_hip": (-115, 0, 15), "right_hip": (-115, 0, -15),
               "left_knee": (135, 0, 0), "right_knee": (135, 0, 0),
               "left_ankle": (-20, 0, 0), "right_ankle": (-20, 0, 0), "spine1": (25, 0, 0),
               "left_shoulder": (-40, 0, -60), "right_shoulder": (-40, 0, 60)},
    "kneel": {**_ARMS_DOWN, "left_hip": (-90, 0, 0), "left_knee": (90, 0, 0),
              "right_hip": (0, 0, 0), "right_knee": (90, 0, 0), "right_ankle": (30, 0, 0)},
    "lunge": {"left_hip": (-80, 0, 5), "left_knee": (85, 0, 0), "right_hip": (30, 0, 0),
              "right_knee": (20, 0, 0), "left_shoulder": (0, 0, -40),
              "right_shoulder": (0, 0, 40)},
    "reach": {"left_shoulder": (0, -85, -10), "right_shoulder": (0, 0, 72),
              "spine1": (15, 10, 0), "left_collar": (0, -15, 0)},
    "arms-up": {"left_shoulder": (0, 0, 80), "right_shoulder": (0, 0, -80),
                "left_collar": (0, 0, 20), "right_collar": (0, 0, -20)},
    "arms-crossed": {"left_shoulder": (0, -75, -45), "right_shoulder": (0, 75, 45),
                     "left_elbow": (0, -115, 0), "right_elbow": (0, 115, 0)},
    "bend": {"spine1": (40, 0, 0), "spine2": (30, 0, 0), "spine3": (20, 0, 0),
             "left_hip": (-45, 0, 0), "right_hip": (-45, 0, 0), "neck": (-20, 0, 0),
             "left_shoulder": (0, -40, -70), "right_shoulder": (0, 40, 70)},
    "wave": {"left_shoulder": (0, 0, 55), "left_elbow": (0, -100, 0),
             "right_shoulder": (0, 0, 72), "right_elbow": (0, 12, 0)},
    "hands-on-hips": {"left_shoulder": (0, 10, -45), "right_shoulder": (0, -10, 45),
                      "left_elbow": (0, -105, 0), "right_elbow": (0, 105, 0)},
    "lying": {**_ARMS_DOWN},
}
BASE_WEIGHTS = {"stand": 3.0, "walk": 3.0, "run": 1.5, "sit": 2.0, "crouch": 1.0,
                "kneel": 1.0, "lunge": 1.0, "reach": 1.0, "arms-up": 1.0,
                "arms-crossed": 1.0, "bend": 1.0, "wave": 1.0, "hands-on-hips": 1.0,
                "a-pose": 0.5, "t-pose": 0.3, "lying": 0.7}
LYING = "lying"
UNIFORM_FRACTION = 0.1  # samples drawn uniformly inside the limits, for coverage


def _mirror_triplet(name: str, values: tuple) -> tuple:
    """Mirror a left-side entry onto the right side: y and z change sign (x does not)."""
    if name.startswith("left_"):
        x, y, z = values
        flip = (lambda r: (-r[1], -r[0])) if isinstance(x, tuple) else (lambda v: -v)
        return x, flip(y), flip(z)
    return values


def _limit_table() -> torch.Tensor:
    """[23,3,2] lower/upper limits in radians for every body joint."""
    table = torch.zeros(len(BODY_JOINTS), 3, 2)
    for name, limits in _LIMITS_DEG.items():
        table[BODY_JOINTS.index(name)] = torch.tensor(limits) * DEG
        if name.startswith("left_"):
            right = mirror_name(name)
            table[BODY_JOINTS.index(right)] = torch.tensor(_mirror_triplet(name, limits)) * DEG
    return table


JOINT_LIMITS = _limit_table()
_MIRROR_INDEX = torch.tensor([BODY_JOINTS.index(mirror_name(n)) for n in BODY_JOINTS])
_MIRROR_SIGN = torch.tensor([1.0, -1.0, -1.0])


def _base_table() -> torch.Tensor:
    """[P,23,3] base poses in radians, in ``BASE_POSES`` order."""
    table = torch.zeros(len(BASE_POSES), len(BODY_JOINTS), 3)
    for p, pose in enumerate(BASE_POSES.values()):
        for name, angles in pose.items():
            table[p, BODY_JOINTS.index(name)] = torch.tensor(angles, dtype=torch.float32) * DEG
    return table


BASE_TABLE = _base_table()


def euler_to_rotmat(angles: torch.Tensor) -> torch.Tensor:
    """[...,3] Euler angles (x, y, z) -> [...,3,3] matrices Rx(x) @ Ry(y) @ Rz(z)."""
    c, s = torch.cos(angles), torch.sin(angles)
    one, zero = torch.ones_like(c[..., 0]), torch.zeros_like(c[..., 0])

    def mat(rows: list[list[torch.Tensor]]) -> torch.Tensor:
        return torch.stack([torch.stack(r, -1) for r in rows], -2)

    rx = mat([[one, zero, zero], [zero, c[..., 0], -s[..., 0]], [zero, s[..., 0], c[..., 0]]])
    ry = mat([[c[..., 1], zero, s[..., 1]], [zero, one, zero], [-s[..., 1], zero, c[..., 1]]])
    rz = mat([[c[..., 2], -s[..., 2], zero], [s[..., 2], c[..., 2], zero], [zero, zero, one]])
    return rx @ ry @ rz


def mirror_euler(angles: torch.Tensor) -> torch.Tensor:
    """[B,23,3] body Euler angles of the mirror-image pose (left and right swapped)."""
    return angles[:, _MIRROR_INDEX] * _MIRROR_SIGN


@dataclass
class PoseSample:
    """A batch of poses: local Euler angles, their matrices and the camera-facing root."""

    euler: torch.Tensor  # [B,23,3] body joints, radians, inside JOINT_LIMITS
    body_pose: torch.Tensor  # [B,23,3,3]
    global_orient: torch.Tensor  # [B,3,3] in the camera frame (y down, looking along +z)
    base: torch.Tensor  # [B] index into BASE_POSES (-1 for uniform samples)


def _root_orientation(gen: torch.Generator, lying: torch.Tensor) -> torch.Tensor:
    """[B,3,3]: upright in the image (pi about x), any yaw, small pitch and roll; lying
    bodies are pitched by +-90 degrees (on the back or front) or rolled onto a side."""
    b = lying.shape[0]
    frontal = torch.rand(b, generator=gen) < 0.6
    yaw = torch.where(frontal, torch.randn(b, generator=gen) * 45 * DEG,
                      (torch.rand(b, generator=gen) * 2 - 1) * math.pi)
    pitch = torch.randn(b, generator=gen) * 10 * DEG
    roll = torch.randn(b, generator=gen) * 6 * DEG
    side = torch.randint(0, 4, (b,), generator=gen)
    lie_pitch = torch.where(side < 2, torch.where(side == 0, 1.0, -1.0) * math.pi / 2, 0.0)
    lie_roll = torch.where(side >= 2, torch.where(side == 2, 1.0, -1.0) * math.pi / 2, 0.0)
    pitch = pitch + lying * lie_pitch
    roll = roll + lying * lie_roll
    zero = torch.zeros(b)
    upright = euler_to_rotmat(torch.tensor([math.pi, 0.0, 0.0]).expand(b, 3))
    tilt = euler_to_rotmat(torch.stack([pitch, zero, roll], -1))
    turn = euler_to_rotmat(torch.stack([zero, yaw, zero], -1))
    return upright @ tilt @ turn


def sample_poses(gen: torch.Generator, batch: int) -> PoseSample:
    """Draw ``batch`` poses: a base pose, Gaussian variation of random strength, a random
    mirror, clamping to the limits; a tenth are uniform inside the limits."""
    weights = torch.tensor([BASE_WEIGHTS[name] for name in BASE_POSES])
    base = torch.multinomial(weights, batch, replacement=True, generator=gen)
    strength = 0.3 + torch.rand(batch, 1, 1, generator=gen)
    angles = BASE_TABLE[base] + torch.randn(batch, len(BODY_JOINTS), 3, generator=gen) \
        * 14 * DEG * strength
    lo, hi = JOINT_LIMITS[..., 0], JOINT_LIMITS[..., 1]
    uniform = torch.rand(batch, generator=gen) < UNIFORM_FRACTION
    # Uniform draws stay in the middle 70% of each range: the extremes of all joints at
    # once make poses no one holds.
    mid, half = (lo + hi) / 2, (hi - lo) / 2 * 0.7
    drawn = mid + (torch.rand(batch, len(BODY_JOINTS), 3, generator=gen) * 2 - 1) * half
    angles = torch.where(uniform[:, None, None], drawn, angles)
    mirrored = torch.rand(batch, generator=gen) < 0.5
    angles = torch.where(mirrored[:, None, None], mirror_euler(angles), angles)
    angles = torch.maximum(torch.minimum(angles, hi), lo)
    lying = ((base == list(BASE_POSES).index(LYING)) & ~uniform).float()
    return PoseSample(euler=angles, body_pose=euler_to_rotmat(angles),
                      global_orient=_root_orientation(gen, lying),
                      base=torch.where(uniform, -1, base))


def sample_betas(gen: torch.Generator, batch: int, scale: float = 1.0) -> torch.Tensor:
    """[B,10] shape coefficients, standard normal truncated to +-2.5."""
    return (torch.randn(batch, 10, generator=gen) * scale).clamp(-2.5, 2.5)
