"""Poses far from standing, for the keypoint fit (SMPLR): a broad training prior and a
separate set of hand-made key poses for evaluation.

:func:`sample_broad_poses` mixes the everyday prior of :mod:`studio.synth.pose_prior`
(unchanged, so PyMAF's data is unaffected) with :data:`TRAIN_KEY_POSES` (sitting,
squatting, kneeling, lunging, lying, cross-legged, kicking, reaching, crawling, ...)
varied by Gaussian noise and clamped to the prior's joint limits, and with a free
orientation: any yaw, some pitch and roll, lying poses on the back, front or a side.

:data:`EVAL_KEY_POSES` are written separately (none is a training key pose) and are
only perturbed by a few degrees: they test the fit on poses unlike its training draws.

Angles are the prior's: Euler x, y, z in degrees per joint in SMPL's rest frame, left
side written, the right side mirrored (y and z change sign).
"""
from __future__ import annotations

import math

import torch

from studio.synth.pose_prior import (BODY_JOINTS, DEG, JOINT_LIMITS, euler_to_rotmat,
                                     mirror_euler, sample_poses)

Pose = dict[str, tuple[float, float, float]]
_ARMS_DOWN: Pose = {"left_shoulder": (0, 0, -72), "right_shoulder": (0, 0, 72)}
_ARMS_FORWARD: Pose = {"left_shoulder": (0, -80, -5), "right_shoulder": (0, 80, 5)}

# name -> (pose, orientation): "upright", "lying" (back, front or side) or "prone".
TRAIN_KEY_POSES: dict[str, tuple[Pose, str]] = {
    "sit-chair": ({**_ARMS_DOWN, "left_hip": (-90, 0, 8), "right_hip": (-90, 0, -8),
                   "left_knee": (95, 0, 0), "right_knee": (80, 0, 0),
                   "left_elbow": (0, -60, 0), "right_elbow": (0, 60, 0)}, "upright"),
    "sit-floor": ({"left_hip": (-90, 0, 10), "right_hip": (-90, 0, -10), "spine1": (10, 0, 0),
                   "left_shoulder": (30, 0, -60), "right_shoulder": (30, 0, 60)}, "upright"),
    "cross-legged": ({**_ARMS_DOWN, "left_hip": (-80, 40, 45), "right_hip": (-80, -40, -45),
                      "left_knee": (140, 0, 0), "right_knee": (140, 0, 0), "spine1": (15, 0, 0),
                      "left_elbow": (0, -70, 0), "right_elbow": (0, 70, 0)}, "upright"),
    "squat": ({**_ARMS_FORWARD, "left_hip": (-120, 0, 20), "right_hip": (-120, 0, -20),
               "left_knee": (145, 0, 0), "right_knee": (145, 0, 0), "left_ankle": (-30, 0, 0),
               "right_ankle": (-30, 0, 0), "spine1": (30, 0, 0)}, "upright"),
    "kneel-both": ({**_ARMS_DOWN, "left_hip": (-5, 0, 5), "right_hip": (-5, 0, -5),
                    "left_knee": (95, 0, 0), "right_knee": (95, 0, 0),
                    "left_ankle": (30, 0, 0), "right_ankle": (30, 0, 0)}, "upright"),
    "kneel-sit": ({**_ARMS_DOWN, "left_hip": (-40, 0, 5), "right_hip": (-40, 0, -5),
                   "left_knee": (150, 0, 0), "right_knee": (150, 0, 0), "spine1": (10, 0, 0),
                   "left_ankle": (40, 0, 0), "right_ankle": (40, 0, 0)}, "upright"),
    "lunge-deep": ({"left_hip": (-95, 0, 5), "left_knee": (100, 0, 0), "right_hip": (35, 0, 0),
                    "right_knee": (70, 0, 0), "left_shoulder": (0, 0, 30),
                    "right_shoulder": (0, 0, -30)}, "upright"),
    "kick-front": ({"left_hip": (-100, 0, 0), "left_knee": (10, 0, 0), "right_knee": (10, 0, 0),
                    "spine1": (-10, 0, 0), "left_shoulder": (0, 0, -30),
                    "right_shoulder": (0, 0, 30)}, "upright"),
    "kick-side": ({"left_hip": (-20, 0, 65), "left_knee": (5, 0, 0), "spine1": (0, 0, -20),
                   "spine2": (0, 0, -15), "left_shoulder": (0, 0, -20),
                   "right_shoulder": (0, 0, 20)}, "upright"),
    "knee-up": ({**_ARMS_DOWN, "left_hip": (-110, 0, 0), "left_knee": (120, 0, 0),
                 "left_elbow": (0, -90, 0), "right_elbow": (0, 90, 0)}, "upright"),
    "reach-up": ({"left_shoulder": (0, 0, 75), "right_shoulder": (0, 0, -40),
                  "left_collar": (0, 0, 25), "spine1": (0, 0, 10), "spine2": (0, 0, 10),
                  "right_elbow": (0, 60, 0)}, "upright"),
    "reach-down": ({"spine1": (40, 0, 0), "spine2": (30, 0, 0), "left_hip": (-60, 0, 0),
                    "right_hip": (-60, 0, 0), "left_knee": (30, 0, 0), "right_knee": (30, 0, 0),
                    "left_shoulder": (0, -70, -60), "right_shoulder": (0, 0, 72)}, "upright"),
    "reach-side": ({"left_shoulder": (0, 0, 10), "right_shoulder": (0, 0, 72),
                    "spine1": (0, 0, 15), "spine2": (0, 0, 15), "spine3": (0, 0, 10),
                    "right_hip": (0, 0, -25)}, "upright"),
    "throw": ({"left_shoulder": (0, 0, 60), "left_elbow": (0, -95, 0),
               "right_shoulder": (0, 70, 10), "spine2": (0, 25, 0), "left_hip": (-30, 0, 0),
               "right_hip": (20, 0, 0), "right_knee": (25, 0, 0)}, "upright"),
    "jump-tuck": ({"left_hip": (-100, 0, 10), "right_hip": (-100, 0, -10),
                   "left_knee": (120, 0, 0), "right_knee": (120, 0, 0),
                   "left_shoulder": (0, 0, 70), "right_shoulder": (0, 0, -70)}, "upright"),
    "lying-flat": ({**_ARMS_DOWN}, "lying"),
    "lying-arms-up": ({"left_shoulder": (0, 0, 80), "right_shoulder": (0, 0, -80),
                       "left_hip": (-10, 0, 10), "right_hip": (-10, 0, -10)}, "lying"),
    "lying-knees-up": ({**_ARMS_DOWN, "left_hip": (-70, 0, 5), "right_hip": (-70, 0, -5),
                        "left_knee": (100, 0, 0), "right_knee": (100, 0, 0)}, "lying"),
    "lying-side-curl": ({"left_hip": (-80, 0, 0), "right_hip": (-60, 0, 0),
                         "left_knee": (90, 0, 0), "right_knee": (70, 0, 0),
                         "left_shoulder": (0, -60, -20), "right_shoulder": (0, 60, 20),
                         "spine1": (20, 0, 0)}, "lying"),
    "crawl": ({**_ARMS_FORWARD, "left_hip": (-90, 0, 5), "right_hip": (-90, 0, -5),
               "left_knee": (90, 0, 0), "right_knee": (90, 0, 0), "neck": (-30, 0, 0)}, "prone"),
}
KEY_POSE_FRACTION = 0.5  # share of broad samples drawn from the key poses


def _table(poses: dict[str, tuple[Pose, str]]) -> tuple[torch.Tensor, torch.Tensor]:
    """[P,23,3] radians and [P] orientation codes (0 upright, 1 lying, 2 prone)."""
    codes = {"upright": 0, "lying": 1, "prone": 2}
    table = torch.zeros(len(poses), len(BODY_JOINTS), 3)
    kinds = torch.zeros(len(poses), dtype=torch.long)
    for p, (pose, kind) in enumerate(poses.values()):
        kinds[p] = codes[kind]
        for name, angles in pose.items():
            table[p, BODY_JOINTS.index(name)] = torch.tensor(angles, dtype=torch.float32) * DEG
    return table, kinds


def _rot(axis: int, angle: torch.Tensor) -> torch.Tensor:
    angles = torch.zeros(*angle.shape, 3)
    angles[..., axis] = angle
    return euler_to_rotmat(angles)


UP_TO_CAMERA = _rot(0, torch.tensor(math.pi))  # y up (body frame) -> y down (camera frame)


def orientations(gen: torch.Generator, kinds: torch.Tensor, spread: float = 1.0
                 ) -> torch.Tensor:
    """[B,3,3] root rotations in the body model's frame (y up): any yaw, pitch and roll of
    about 12 and 8 degrees times ``spread``; lying kinds (1) on the back, front or a side,
    prone (2) on the front."""
    b = kinds.shape[0]
    yaw = (torch.rand(b, generator=gen) * 2 - 1) * math.pi
    pitch = torch.randn(b, generator=gen) * 12 * DEG * spread
    roll = torch.randn(b, generator=gen) * 8 * DEG * spread
    side = torch.randint(0, 4, (b,), generator=gen)
    side = torch.where(kinds == 2, 1, side)
    lying = kinds > 0
    pitch = pitch + lying * torch.where(side == 0, -math.pi / 2,
                                        torch.where(side == 1, math.pi / 2, 0.0))
    roll = roll + lying * torch.where(side == 2, math.pi / 2,
                                      torch.where(side == 3, -math.pi / 2, 0.0))
    return _rot(1, yaw) @ _rot(0, pitch) @ _rot(2, roll)


def _perturbed(gen: torch.Generator, table: torch.Tensor, degrees: torch.Tensor
               ) -> torch.Tensor:
    """Key poses [B,23,3] with Gaussian noise of ``degrees`` [B], mirrored half the time,
    clamped to the prior's limits."""
    angles = table + torch.randn(table.shape, generator=gen) * degrees[:, None, None] * DEG
    mirrored = torch.rand(table.shape[0], generator=gen) < 0.5
    angles = torch.where(mirrored[:, None, None], mirror_euler(angles), angles)
    return torch.maximum(torch.minimum(angles, JOINT_LIMITS[..., 1]), JOINT_LIMITS[..., 0])


def sample_broad_poses(gen: torch.Generator, batch: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``batch`` poses as (root [B,3,3] in the body frame, y up; body [B,23,3,3]): half from
    the everyday prior (its camera-facing roots turned back to y up, then any yaw), half
    from the training key poses with 5-25 degrees of noise."""
    table, kinds = _table(TRAIN_KEY_POSES)
    everyday = sample_poses(gen, batch)
    pick = torch.randint(0, len(table), (batch,), generator=gen)
    degrees = 5 + torch.rand(batch, generator=gen) * 20
    key = _perturbed(gen, table[pick], degrees)
    use_key = torch.rand(batch, generator=gen) < KEY_POSE_FRACTION
    body = torch.where(use_key[:, None, None, None], euler_to_rotmat(key), everyday.body_pose)
    prior_root = _rot(1, (torch.rand(batch, generator=gen) * 2 - 1) * math.pi) @ \
        UP_TO_CAMERA @ everyday.global_orient
    root = torch.where(use_key[:, None, None], orientations(gen, kinds[pick]), prior_root)
    return root, body


def any_orientation(gen: torch.Generator, batch: int) -> torch.Tensor:
    """[B,3,3] rotations uniform over all orientations (unit quaternions from a normal
    4-vector): lying, prone, on a side, upside down."""
    w, x, y, z = torch.nn.functional.normalize(torch.randn(batch, 4, generator=gen), dim=-1).T
    return torch.stack([
        torch.stack([1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)], -1),
        torch.stack([2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)], -1),
        torch.stack([2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)], -1),
    ], -2)


# The body parts :func:`sample_training_poses` mixes: torso and head, each leg, each arm.
BODY_PARTS: tuple[tuple[int, ...], ...] = tuple(
    tuple(BODY_JOINTS.index(name) for name in names) for names in (
        ("spine1", "spine2", "spine3", "neck", "head"),
        ("left_hip", "left_knee", "left_ankle", "left_foot"),
        ("right_hip", "right_knee", "right_ankle", "right_foot"),
        ("left_collar", "left_shoulder", "left_elbow", "left_wrist", "left_hand"),
        ("right_collar", "right_shoulder", "right_elbow", "right_wrist", "right_hand")))


def mix_parts(gen: torch.Generator, body: torch.Tensor, share: float) -> torch.Tensor:
    """``body`` [B,23,3,3] with a ``share`` of its poses made of parts of others: each of
    :data:`BODY_PARTS` taken from a draw of the batch chosen at random per part. Joint
    rotations are relative to their parents, so a mix keeps every joint within the prior's
    limits while it makes combinations no single pose has (a one-legged stand under
    raised arms, a lunge with a twisted trunk). A share of 0 draws nothing."""
    if share <= 0:
        return body
    mixed = body.clone()
    chosen = torch.rand(body.shape[0], generator=gen) < share
    for part in BODY_PARTS:
        donor = body[torch.randperm(body.shape[0], generator=gen)][:, part]
        mixed[:, part] = torch.where(chosen[:, None, None, None], donor, body[:, part])
    return mixed


def sample_training_poses(gen: torch.Generator, batch: int, free: float = 0.0,
                          turned: float = 0.0, mixed: float = 0.0
                          ) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`sample_broad_poses` broadened by a rule, for training only (evaluation keeps
    the broad mix): a ``free`` share of poses uniform within the prior's full joint limits,
    a ``turned`` share of the others at any orientation (:func:`any_orientation`), and a
    ``mixed`` share of all made of parts of others (:func:`mix_parts`, drawn last, so the
    other draws do not change with it). With all three 0 it is :func:`sample_broad_poses`,
    the same draws."""
    root, body = sample_broad_poses(gen, batch)
    if free <= 0 and turned <= 0:
        return root, mix_parts(gen, body, mixed)
    lo, hi = JOINT_LIMITS[..., 0], JOINT_LIMITS[..., 1]
    uniform = euler_to_rotmat(lo + torch.rand(batch, *lo.shape, generator=gen) * (hi - lo))
    draw = torch.rand(batch, generator=gen)
    is_free = draw < free
    is_turned = (draw >= free) & (draw < free + turned * (1 - free))
    body = torch.where(is_free[:, None, None, None], uniform, body)
    root = torch.where((is_free | is_turned)[:, None, None], any_orientation(gen, batch), root)
    return root, mix_parts(gen, body, mixed)


# Hand-made evaluation poses, none of them a training key pose (left side written).
EVAL_KEY_POSES: dict[str, tuple[Pose, str]] = {
    "tree": ({"left_hip": (-35, 40, 60), "left_knee": (140, 0, 0), "left_shoulder": (0, 0, 70),
              "right_shoulder": (0, 0, -70), "left_elbow": (0, -40, 0),
              "right_elbow": (0, 40, 0)}, "upright"),
    "warrior": ({"left_hip": (-85, 0, 20), "left_knee": (90, 0, 0), "right_hip": (30, 0, -20),
                 "right_knee": (5, 0, 0), "spine1": (0, 30, 0)}, "upright"),
    "pistol-squat": ({"left_hip": (-125, 0, 10), "left_knee": (145, 0, 0),
                      "right_hip": (-85, 0, 0), "right_knee": (0, 0, 0), "spine1": (35, 0, 0),
                      **_ARMS_FORWARD}, "upright"),
    "arabesque": ({"left_hip": (38, 0, 10), "left_knee": (5, 0, 0), "spine1": (40, 0, 0),
                   "spine2": (20, 0, 0), "right_shoulder": (0, 80, 10),
                   "left_shoulder": (0, 0, 30)}, "upright"),
    "sprint-start": ({"left_hip": (-120, 0, 5), "left_knee": (110, 0, 0),
                      "right_hip": (-60, 0, 0), "right_knee": (120, 0, 0),
                      "spine1": (40, 0, 0), "left_shoulder": (0, -75, -60),
                      "right_shoulder": (0, 75, 60)}, "upright"),
    "archer": ({"left_shoulder": (0, 0, 5), "right_shoulder": (0, 85, 5),
                "right_elbow": (0, 140, 0), "spine2": (0, -20, 0), "left_hip": (0, 0, 20),
                "right_hip": (0, 0, -20)}, "upright"),
    "cheer": ({"left_shoulder": (0, 0, 60), "right_shoulder": (0, 0, -60),
               "left_hip": (-95, 0, 0), "left_knee": (100, 0, 0), "head": (-20, 0, 0)}, "upright"),
    "chair-lean-back": ({"left_hip": (-70, 0, 10), "right_hip": (-70, 0, -10),
                         "left_knee": (70, 0, 0), "right_knee": (70, 0, 0), "spine1": (-20, 0, 0),
                         "left_shoulder": (0, 40, 40), "right_shoulder": (0, -40, -40),
                         "left_elbow": (0, -130, 0), "right_elbow": (0, 130, 0)}, "upright"),
    "deep-kneel-pray": ({"left_hip": (-100, 0, 5), "right_hip": (-100, 0, -5),
                         "left_knee": (150, 0, 0), "right_knee": (150, 0, 0),
                         "spine1": (40, 0, 0), "spine2": (30, 0, 0), **_ARMS_FORWARD},
                        "upright"),
    "one-knee-down": ({"left_hip": (-85, 0, 0), "left_knee": (85, 0, 0), "right_hip": (10, 0, 0),
                       "right_knee": (100, 0, 0), "left_shoulder": (0, 0, -60),
                       "right_elbow": (0, 110, 0), "right_shoulder": (0, 30, 60)}, "upright"),
    "roundhouse": ({"left_hip": (-60, 0, 60), "left_knee": (60, 0, 0), "spine1": (0, 0, -25),
                    "left_shoulder": (0, -60, -40), "right_shoulder": (0, 60, 40),
                    "left_elbow": (0, -110, 0), "right_elbow": (0, 110, 0)}, "upright"),
    "sit-hug-knees": ({"left_hip": (-125, 0, 5), "right_hip": (-125, 0, -5),
                       "left_knee": (140, 0, 0), "right_knee": (140, 0, 0), "spine1": (30, 0, 0),
                       "left_shoulder": (0, -70, -40), "right_shoulder": (0, 70, 40),
                       "left_elbow": (0, -60, 0), "right_elbow": (0, 60, 0)}, "upright"),
    "sunbathe": ({"left_shoulder": (0, -30, 70), "right_shoulder": (0, 30, -70),
                  "left_elbow": (0, -140, 0), "right_elbow": (0, 140, 0),
                  "left_hip": (0, 0, 15), "right_hip": (-60, 0, 0),
                  "right_knee": (90, 0, 0)}, "lying"),
    "plank": ({"left_shoulder": (0, -85, -10), "right_shoulder": (0, 85, 10),
               "left_elbow": (0, -90, 0), "right_elbow": (0, 90, 0)}, "prone"),
    "superman": ({"left_shoulder": (0, 0, 85), "right_shoulder": (0, 0, -85),
                  "left_hip": (25, 0, 0), "right_hip": (25, 0, 0), "neck": (-30, 0, 0),
                  "spine1": (-20, 0, 0)}, "prone"),
    "side-lying-reach": ({"left_shoulder": (0, 0, 80), "left_hip": (-30, 0, 30),
                          "right_hip": (-40, 0, 0), "right_knee": (60, 0, 0),
                          "right_shoulder": (0, 50, 40)}, "lying"),
}


# Hand-made validation poses, neither training nor evaluation key poses (left side written):
# choices between trained candidates are made on these, so a rule that helps unseen poses
# can be chosen without looking at the evaluation's.
VALIDATION_KEY_POSES: dict[str, tuple[Pose, str]] = {
    "chair-pose": ({"left_hip": (-70, 0, 5), "right_hip": (-70, 0, -5), "left_knee": (80, 0, 0),
                    "right_knee": (80, 0, 0), "spine1": (20, 0, 0), "left_shoulder": (0, 0, 80),
                    "right_shoulder": (0, 0, -80), "left_collar": (0, 0, 15),
                    "right_collar": (0, 0, -15)}, "upright"),
    "goalkeeper": ({"left_hip": (-40, 0, 25), "right_hip": (-40, 0, -25), "left_knee": (50, 0, 0),
                    "right_knee": (50, 0, 0), "spine1": (20, 0, 0), "left_shoulder": (0, 0, 0),
                    "right_shoulder": (0, 0, 0), "left_elbow": (0, -30, 0),
                    "right_elbow": (0, 30, 0)}, "upright"),
    "skater": ({"left_hip": (-60, 0, 0), "left_knee": (70, 0, 0), "right_hip": (40, 0, -10),
                "right_knee": (20, 0, 0), "spine1": (40, 0, 0), "left_shoulder": (0, -60, -40),
                "right_shoulder": (0, -40, 50)}, "upright"),
    "side-lunge": ({"left_hip": (-70, 0, 40), "left_knee": (100, 0, 0), "right_hip": (0, 0, -35),
                    "spine1": (25, 0, 0), **_ARMS_FORWARD}, "upright"),
    "hurdle": ({"left_hip": (-80, 0, 0), "left_knee": (30, 0, 0), "right_hip": (20, 0, 0),
                "spine1": (30, 0, 0), "right_shoulder": (0, 80, 0),
                "left_shoulder": (0, -20, -60)}, "upright"),
    "tennis-serve": ({"left_shoulder": (0, 0, 80), "right_shoulder": (0, -30, -60),
                      "right_elbow": (0, 120, 0), "spine2": (-15, 0, 0), "left_hip": (-15, 0, 0),
                      "left_knee": (20, 0, 0)}, "upright"),
    "toe-touch": ({"spine1": (50, 0, 0), "spine2": (30, 0, 0), "spine3": (20, 0, 0),
                   "left_hip": (-40, 0, 5), "right_hip": (-40, 0, -5),
                   "left_shoulder": (0, -70, -20), "right_shoulder": (0, 70, 20)}, "upright"),
    "step-up": ({"left_hip": (-60, 0, 0), "left_knee": (70, 0, 0), "right_hip": (10, 0, 0),
                 "spine1": (10, 0, 0), "left_shoulder": (0, -40, -60),
                 "right_shoulder": (0, -30, 65)}, "upright"),
    "elbows-on-knees": ({"left_hip": (-95, 0, 10), "right_hip": (-95, 0, -10),
                         "left_knee": (90, 0, 0), "right_knee": (90, 0, 0), "spine1": (35, 0, 0),
                         "spine2": (15, 0, 0), "left_shoulder": (0, -60, -40),
                         "right_shoulder": (0, 60, 40), "left_elbow": (0, -90, 0),
                         "right_elbow": (0, 90, 0)}, "upright"),
    "split-leap": ({"left_hip": (-80, 0, 0), "right_hip": (50, 0, 0), "right_knee": (10, 0, 0),
                    "left_shoulder": (0, 0, 40), "right_shoulder": (0, 0, -40)}, "upright"),
    "golf-backswing": ({"spine1": (30, 0, 0), "spine2": (0, 40, 0), "left_hip": (-20, 0, 5),
                        "right_hip": (-20, 0, -5), "left_knee": (20, 0, 0),
                        "right_knee": (20, 0, 0), "left_shoulder": (0, -90, 20),
                        "right_shoulder": (0, 40, -20), "right_elbow": (0, 90, 0)}, "upright"),
    "sumo-squat": ({"left_hip": (-70, 30, 45), "right_hip": (-70, -30, -45),
                    "left_knee": (90, 0, 0), "right_knee": (90, 0, 0), "spine1": (10, 0, 0),
                    "left_shoulder": (0, -40, -60), "right_shoulder": (0, 40, 60)}, "upright"),
    "lying-leg-raise": ({**_ARMS_DOWN, "left_hip": (-90, 0, 0)}, "lying"),
    "lying-figure-four": ({"left_hip": (-60, 40, 40), "left_knee": (100, 0, 0),
                           "right_hip": (-80, 0, 0), "right_knee": (90, 0, 0),
                           "left_shoulder": (0, 0, -40), "right_shoulder": (0, 0, 40)}, "lying"),
    "cobra": ({"spine1": (-30, 0, 0), "spine2": (-20, 0, 0), "neck": (-20, 0, 0),
               "left_shoulder": (0, -40, -60), "right_shoulder": (0, 40, 60),
               "left_elbow": (0, -60, 0), "right_elbow": (0, 60, 0)}, "prone"),
    "bird-dog": ({"right_hip": (-90, 0, -5), "right_knee": (90, 0, 0),
                  "left_shoulder": (0, -80, -5), "right_shoulder": (0, 0, -80)}, "prone"),
}


def cycled_names(poses: dict[str, tuple[Pose, str]], count: int) -> list[str]:
    """The names of ``count`` draws of :func:`eval_key_poses` from ``poses``, in order:
    it cycles through the table from its first pose."""
    names = list(poses)
    return [names[i % len(names)] for i in range(count)]


def eval_key_poses(gen: torch.Generator, count: int, degrees: float = 4.0,
                   poses: dict[str, tuple[Pose, str]] = EVAL_KEY_POSES
                   ) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
    """``count`` evaluation poses cycling through ``poses`` (root [B,3,3] in the body
    frame, body [B,23,3,3], names), each perturbed by ``degrees`` and turned to a random
    yaw (small pitch and roll). :data:`TRAIN_KEY_POSES` drawn so make the validation set
    that choices between trained candidates use (never the evaluation poses)."""
    table, kinds = _table(poses)
    pick = torch.arange(count) % len(table)
    angles = _perturbed(gen, table[pick], torch.full((count,), degrees))
    return (orientations(gen, kinds[pick], spread=0.5), euler_to_rotmat(angles),
            cycled_names(poses, count))
