"""People placed where and how they fit a scene, with the furniture they use built to fit.

A posed mannequin comes first; the object it uses is then made to its measure: a seat
whose top meets the buttocks while the feet stand on the floor, a bed or sofa under a
lying body, a table under leaning hands, a wall behind a leaning back. That makes every
contact exact (no floating sitters, no legs through tables) without physics, and a
penetration test rejects the fits that would still collide (the caller then tries again).

Poses come from the everyday prior (:mod:`studio.synth.pose_prior`), the key poses
(:mod:`studio.synth.key_poses`) and a few of this module's own (leaning, relaxed sitting),
varied by Gaussian noise, mirrored half the time and clamped to the prior's joint limits.
The body's own frame: y up, facing +z; the support is built in that frame, then the whole
group turns to a random yaw.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
import torch

from studio.body.joint_sets import PART_NAMES
from studio.body.model import BodyModel
from studio.body.registry import find_body_model
from studio.synth import scene_furniture as furn
from studio.synth.key_poses import TRAIN_KEY_POSES
from studio.synth.pose_prior import (BASE_POSES, BODY_JOINTS, DEG, JOINT_LIMITS,
                                     euler_to_rotmat, mirror_euler, sample_betas)
from studio.synth.scene_layout import Piece, penetration

POSE_CLASSES = ("standing", "walking", "sitting", "lying", "crouching", "leaning")
CLASS_WEIGHTS = (0.18, 0.14, 0.26, 0.14, 0.12, 0.16)

Angles = dict[str, tuple[float, float, float]]
_OWN_POSES: dict[str, Angles] = {
    "sit-relaxed": {"left_hip": (-75, 0, 8), "right_hip": (-75, 0, -8), "left_knee": (65, 0, 0),
                    "right_knee": (75, 0, 0), "spine1": (-8, 0, 0),
                    "left_shoulder": (0, -30, -70), "right_shoulder": (0, 30, 70),
                    "left_elbow": (0, -70, 0), "right_elbow": (0, 70, 0)},
    "sit-forward": {"left_hip": (-100, 0, 10), "right_hip": (-100, 0, -10),
                    "left_knee": (100, 0, 0), "right_knee": (105, 0, 0), "spine1": (25, 0, 0),
                    "spine2": (15, 0, 0), "left_shoulder": (0, -55, -60),
                    "right_shoulder": (0, 55, 60), "left_elbow": (0, -80, 0),
                    "right_elbow": (0, 80, 0)},
    "sit-knees-up": {"left_hip": (-115, 0, 8), "right_hip": (-115, 0, -8),
                     "left_knee": (125, 0, 0), "right_knee": (125, 0, 0), "spine1": (20, 0, 0),
                     "left_shoulder": (0, -60, -50), "right_shoulder": (0, 60, 50),
                     "left_elbow": (0, -40, 0), "right_elbow": (0, 40, 0)},
    "sit-floor-knees": {"left_hip": (-125, 0, 12), "right_hip": (-125, 0, -12),
                        "left_knee": (120, 0, 0), "right_knee": (115, 0, 0),
                        "spine1": (15, 0, 0), "left_shoulder": (0, -60, -45),
                        "right_shoulder": (0, 60, 45), "left_elbow": (0, -30, 0),
                        "right_elbow": (0, 30, 0)},
    "lean-table": {"spine1": (10, 0, 0), "neck": (-15, 0, 0), "left_shoulder": (0, -70, -45),
                   "right_shoulder": (0, 70, 45), "left_elbow": (0, -10, 0),
                   "right_elbow": (0, 10, 0)},
    "lean-elbows": {"spine1": (20, 0, 0), "spine2": (10, 0, 0), "neck": (-25, 0, 0),
                    "left_shoulder": (0, -60, -55), "right_shoulder": (0, 60, 55),
                    "left_elbow": (0, -95, 0), "right_elbow": (0, 95, 0)},
    "lean-back": {"left_shoulder": (0, 0, -72), "right_shoulder": (0, 0, 72),
                  "left_hip": (0, 0, 4), "right_hip": (0, 0, -4)},
    "lean-back-crossed": {"left_shoulder": (0, -75, -45), "right_shoulder": (0, 75, 45),
                          "left_elbow": (0, -115, 0), "right_elbow": (0, 115, 0),
                          "left_hip": (-5, 0, 0), "right_hip": (10, 0, -8)},
    "lean-side": {"left_shoulder": (0, 0, 5), "left_elbow": (0, -15, 0),
                  "right_shoulder": (0, 0, 72), "right_hip": (0, 0, -6)},
}

# (pose name, weight) per (class, support). Names look up _OWN_POSES, then BASE_POSES, then
# TRAIN_KEY_POSES.
POSES: dict[str, tuple[tuple[str, float], ...]] = {
    "standing": (("stand", 3), ("arms-crossed", 1), ("hands-on-hips", 1), ("wave", 1),
                 ("reach", 1), ("arms-up", 0.5), ("a-pose", 0.3), ("reach-up", 0.7),
                 ("reach-side", 0.7), ("throw", 0.5)),
    "walking": (("walk", 4), ("run", 1)),
    "sitting": (("sit", 2), ("sit-chair", 2), ("sit-relaxed", 2), ("sit-forward", 1)),
    "sitting-low": (("sit-knees-up", 2), ("sit-forward", 1)),
    # (the key poses' cross-legged sits on its feet: its soles do not lie flat)
    "sitting-floor": (("sit-floor", 1), ("kneel-sit", 1), ("sit-floor-knees", 1)),
    "lying": (("lying-flat", 2), ("lying-arms-up", 1), ("lying-knees-up", 1),
              ("lying-side-curl", 1), ("lying", 1)),
    "crouching": (("crouch", 2), ("squat", 2), ("kneel", 1), ("kneel-both", 1)),
    "leaning-table": (("lean-table", 2), ("lean-elbows", 1)),
    "leaning-wall": (("lean-back", 1), ("lean-back-crossed", 1)),
    "leaning-side": (("lean-side", 1),),
}
# Supports per class: (support, weight) indoors / outdoors.
SUPPORTS = {
    "sitting": ((("chair", 3), ("sofa", 2), ("stool", 1), ("bench", 1), ("bed", 1),
                 ("floor", 1.5), ("stairs", 1)),
                (("bench", 4), ("low_wall", 2), ("stairs", 2), ("chair", 1), ("floor", 1.5))),
    "lying": ((("bed", 4), ("sofa", 3), ("floor", 2)), (("bench", 1), ("floor", 3))),
    "leaning": ((("table", 3), ("counter", 2), ("wall", 3), ("wall-side", 1)),
                (("table", 1), ("low_wall", 2), ("wall", 3), ("wall-side", 1))),
    "standing": ((("floor", 8), ("stairs", 2)), (("floor", 6), ("stairs", 2))),
}
_PART = {name: i for i, name in enumerate(PART_NAMES)}


def _names_to_parts(*names: str) -> list[int]:
    return [_PART[n] for n in names]


FEET = _names_to_parts("left_ankle", "right_ankle", "left_foot", "right_foot")
LOWER_LEGS = _names_to_parts("left_knee", "right_knee") + FEET
SEAT_PARTS = _names_to_parts("pelvis", "left_hip", "right_hip")
TORSO = _names_to_parts("spine1", "spine2", "spine3", "neck", "left_collar", "right_collar",
                        "head", "pelvis")
HANDS = _names_to_parts("left_wrist", "right_wrist", "left_hand", "right_hand")
FOREARMS = _names_to_parts("left_elbow", "right_elbow") + HANDS


@functools.cache
def mannequin() -> BodyModel:
    """The built-in body model in float64, loaded once per process: float32 sums change
    in their last bits with torch's thread count, float64 ones vanish when cast down, so
    a seed gives the same scene in a worker process as in a multi-threaded one."""
    return BodyModel(find_body_model("mannequin")).double()


def _pose_angles(name: str) -> Angles:
    if name in _OWN_POSES:
        return _OWN_POSES[name]
    if name in BASE_POSES:
        return BASE_POSES[name]
    return TRAIN_KEY_POSES[name][0]


def _choose(rng: np.random.Generator, options: tuple[tuple[str, float], ...]) -> str:
    names = [o[0] for o in options]
    w = np.array([o[1] for o in options], np.float64)
    return names[int(rng.choice(len(names), p=w / w.sum()))]


def _euler(rng: np.random.Generator, name: str, degrees: float) -> torch.Tensor:
    """[1,23,3] radians: the named pose with Gaussian noise, mirrored half the time."""
    table = torch.zeros(1, len(BODY_JOINTS), 3)
    for joint, angles in _pose_angles(name).items():
        table[0, BODY_JOINTS.index(joint)] = torch.tensor(angles, dtype=torch.float32) * DEG
    table += torch.from_numpy(rng.normal(0, degrees, table.shape).astype(np.float32)) * DEG
    if rng.random() < 0.5:
        table = mirror_euler(table)
    return torch.maximum(torch.minimum(table, JOINT_LIMITS[..., 1]), JOINT_LIMITS[..., 0])


def _rot(axis: int, angle: float) -> np.ndarray:
    c, s = math.cos(angle), math.sin(angle)
    m = np.eye(3, dtype=np.float32)
    i, j = [(1, 2), (2, 0), (0, 1)][axis]
    m[i, i], m[i, j], m[j, i], m[j, j] = c, -s, s, c
    return m


@dataclass
class Person:
    """A posed body in the world (y up, metres) with the furniture it uses."""

    vertices: np.ndarray  # [V,3]
    keypoints: np.ndarray  # [16,3] MPII order
    hips: np.ndarray  # [2,3] SMPL left and right hip joints
    pose_class: str
    support: str  # "floor", "chair", "bed", "wall", ...
    pieces: list[Piece]  # the furniture built to fit, in the world
    facing: np.ndarray  # [2] unit (x, z): where the body's front (or the support's front) faces
    seat_height: float | None  # top of the seat the person sits on (sitting only)

    def footprint(self, margin: float = 0.1) -> np.ndarray:
        """[4,2] world (x, z) rectangle around the body."""
        lo = self.vertices[:, [0, 2]].min(0) - margin
        hi = self.vertices[:, [0, 2]].max(0) + margin
        return np.array([[lo[0], lo[1]], [hi[0], lo[1]], [hi[0], hi[1]], [lo[0], hi[1]]])


class _Posed:
    """One body's vertices and keypoints in its own frame, moved as fitting goes on."""

    def __init__(self, rng: np.random.Generator, name: str, root: np.ndarray,
                 noise: float, hip_flex: float = 0.0) -> None:
        body = mannequin()
        euler = _euler(rng, name, noise)
        if hip_flex:  # keeps the legs vertical under a pitched torso
            for j in ("left_hip", "right_hip"):
                euler[0, BODY_JOINTS.index(j), 0] -= hip_flex
        gen = torch.Generator().manual_seed(int(rng.integers(1 << 62)))
        betas = sample_betas(gen, 1, 0.8)
        with torch.no_grad():
            out = body(global_orient=torch.from_numpy(root).double()[None], betas=betas.double(),
                       body_pose=euler_to_rotmat(euler.double()))
        self.v = out.vertices[0].numpy().astype(np.float32)
        self.kp = out.keypoints("mpii16")[0].numpy().astype(np.float32)
        self.hips = out.joints[0, 1:3].numpy().astype(np.float32)
        self.part = np.asarray(body.data.part_labels)
        self.forearms = False  # lean on the forearms (else the hands)
        self.side = 1.0  # +1: the raised hand is towards +x

    def of(self, parts: list[int]) -> np.ndarray:
        return self.v[np.isin(self.part, parts)]

    def shift(self, d: np.ndarray) -> None:
        self.v += d
        self.kp += d
        self.hips += d

    def pitch_back(self, degrees: float) -> None:
        """Turn the whole body about the line through its hip joints (x), top backwards."""
        centre = self.hips.mean(0)
        r = _rot(0, -degrees * DEG)
        for pts in (self.v, self.kp, self.hips):
            pts[:] = (pts - centre) @ r.T + centre

    def drop_to(self, parts: list[int] | None, height: float) -> None:
        """Move vertically so the lowest vertex (of ``parts``) is at ``height``."""
        pts = self.v if parts is None else self.of(parts)
        self.shift(np.array([0.0, height - pts[:, 1].min(), 0.0], np.float32))


def _upright(rng: np.random.Generator, pitch_deg: float = 0.0, roll_deg: float = 0.0
             ) -> np.ndarray:
    pitch = (pitch_deg + rng.normal(0, 3)) * DEG
    roll = (roll_deg + rng.normal(0, 2)) * DEG
    return _rot(0, pitch) @ _rot(2, roll)


def _lying_root(rng: np.random.Generator, side: str) -> np.ndarray:
    """Lying on the back, front or a side with the head towards +x."""
    if side == "back":
        r = _rot(0, -math.pi / 2)
    elif side == "front":
        r = _rot(0, math.pi / 2)
    else:
        r = _rot(2, math.pi / 2 if side == "right" else -math.pi / 2)
    head = r @ np.array([0, 1, 0], np.float32)
    r = _rot(1, math.atan2(head[2], head[0])) @ r
    return _rot(0, rng.normal(0, 6) * DEG) @ r


class FitError(Exception):
    """A support could not be fitted to this pose; the caller draws again."""


def _fit_seat(rng: np.random.Generator, p: _Posed, support: str) -> tuple[list[Piece], float]:
    """Feet on the floor, a seat under the buttocks, a backrest behind the back."""
    p.drop_to(FEET, 0.0)
    seat_pts = p.of(SEAT_PARTS)
    hip_z = float(p.hips[:, 2].mean())
    contact = seat_pts[seat_pts[:, 2] < hip_z + 0.1]
    top = float(contact[:, 1].min())
    if not 0.3 <= top <= 0.75 or (support == "sofa" and top > 0.55):
        raise FitError(f"seat height {top:.2f} m")
    z0 = float(contact[:, 2].min()) - rng.uniform(0.0, 0.06)
    knee_z = float(p.kp[[1, 4], 2].min())
    z1 = min(z0 + rng.uniform(0.38, 0.55), knee_z - 0.04, _calves(p, top) - 0.01)
    if z1 - z0 < 0.3:
        raise FitError("no room for the seat between buttocks and calves")
    half = max(0.24, float(np.abs(seat_pts[:, 0]).max()) + 0.04)
    if support in ("bench", "sofa", "low_wall"):
        x0, x1 = -half - rng.uniform(0.2, 1.2), half + rng.uniform(0.2, 1.2)
    else:
        x0, x1 = -half - rng.uniform(0, 0.05), half + rng.uniform(0, 0.05)
    torso = p.of(TORSO)
    torso = torso[torso[:, 1] > top + 0.1]
    back_z = min(z0, float(torso[:, 2].min()) - rng.uniform(0.0, 0.03))
    if support == "low_wall":
        pieces = [furn.panel("low_wall", x0, x1, z0 - rng.uniform(0, 0.3), z1, top)]
    elif support == "bed":
        length = rng.uniform(1.9, 2.2)
        bx0 = x0 - rng.uniform(0, length - (x1 - x0))
        pieces = [furn.bed(rng, top, bx0, bx0 + length, z0 - rng.uniform(0.8, 1.7), z1,
                           head_at_x1=bool(rng.random() < 0.5))]
    else:
        has_back = support == "sofa" or (support in ("chair", "bench") and rng.random() < 0.75)
        if has_back and back_z < z0 - 0.25:
            back_z = z0  # leaning far forward: the backrest stays at the seat's back edge
        back_top = top + rng.uniform(0.35, 0.6)
        pieces = [furn.seat(rng, support, top, x0, x1, z0, z1, back_z if has_back else None,
                            back_top)]
    return pieces, top


def _fit_floor_sit(p: _Posed) -> float:
    """Buttocks on the floor: the body leans back (as people sitting on the ground do, up
    to 30 degrees) until nothing is lower than the buttocks; returns their height."""
    for step in range(6):
        if step:
            p.pitch_back(6.0)
        p.drop_to(None, 0.0)
        buttocks = float(p.of(SEAT_PARTS)[:, 1].min())
        if buttocks < 0.04:
            return buttocks
    raise FitError(f"buttocks {buttocks:.2f} m above the floor")


def _calves(p: _Posed, height: float) -> float:
    """The nearest z (towards the back) of the lower legs below ``height``: where a seat's
    or a step's front must end."""
    legs = p.of(LOWER_LEGS)
    low = legs[legs[:, 1] < height]
    return float(low[:, 2].min()) if len(low) else float(legs[:, 2].max())


def _fit_stairs(rng: np.random.Generator, p: _Posed) -> tuple[list[Piece], float]:
    """Sitting on a step, feet two steps lower, the step between ending before the calves."""
    p.drop_to(FEET, 0.0)
    seat_pts = p.of(SEAT_PARTS)
    hip_z = float(p.hips[:, 2].mean())
    contact = seat_pts[seat_pts[:, 2] < hip_z + 0.1]
    drop = float(contact[:, 1].min())
    rise = drop / 2
    if not 0.12 <= rise <= 0.23:
        raise FitError(f"step rise {rise:.2f} m")
    middle_front = _calves(p, rise + 0.02) - 0.01  # the front of the step between
    # The seat step's tread holds the whole buttocks (the next riser is behind them) and
    # reaches 8 cm in front of them.
    span = middle_front - float(contact[:, 2].min())
    shortest, longest = max(0.21, span / 2 + 0.01), min(0.4, span - 0.08)
    if longest < shortest:
        raise FitError("the buttocks do not fit on a step")
    run = rng.uniform(shortest, longest)
    below = int(rng.integers(0, 3))  # more steps under the feet's tread
    p.shift(np.array([0.0, below * rise, 0.0], np.float32))
    total = below + 2 + int(rng.integers(1, 5))
    width = rng.uniform(1.0, 3.0)
    x0 = -rng.uniform(0.3, width - 0.3)
    stair = furn.stairs(rng, total, rise, run, x0, x0 + width, middle_front + below * run)
    return [stair], (below + 2) * rise


def _fit_step(rng: np.random.Generator, p: _Posed) -> list[Piece]:
    """Standing on a step of a flight of stairs, the tread centred under the feet; the
    flight rises behind or (turned) in front of the person."""
    feet = p.of(FEET)
    z0, z1 = float(feet[:, 2].min()), float(feet[:, 2].max())
    run = rng.uniform(0.28, 0.4)
    if z1 - z0 > run - 0.02:
        raise FitError("the feet do not fit on one tread")
    rise, k = rng.uniform(0.14, 0.2), int(rng.integers(1, 4))
    p.shift(np.array([0.0, k * rise, 0.0], np.float32))
    width = rng.uniform(1.0, 3.0)
    x0 = float(feet[:, 0].mean()) - rng.uniform(0.4, width - 0.4)
    zc = (z0 + z1) / 2
    stair = furn.stairs(rng, k + int(rng.integers(1, 5)), rise, run, x0, x0 + width,
                        zc + run / 2 + (k - 1) * run)
    if rng.random() < 0.5:  # facing up the stairs: the flight turned about the feet
        stair.yaw = math.pi
        stair.x, stair.z = 2 * float(feet[:, 0].mean()), 2 * zc
    return [stair]


def _fit_lying(rng: np.random.Generator, p: _Posed, support: str) -> list[Piece]:
    """A bed, sofa or bench under a body lying along x."""
    if support == "floor":
        p.drop_to(None, 0.0)
        if rng.random() < 0.4:
            lo, hi = p.v[:, [0, 2]].min(0), p.v[:, [0, 2]].max(0)
            m = rng.uniform(0.1, 0.6, 4)
            return [furn.panel("rug", lo[0] - m[0], hi[0] + m[1], lo[1] - m[2], hi[1] + m[3],
                               0.012)]
        return []
    top = {"bed": rng.uniform(0.4, 0.65), "sofa": rng.uniform(0.4, 0.47),
           "bench": rng.uniform(0.4, 0.48)}[support]
    p.drop_to(None, top)
    trunk = p.of(TORSO + SEAT_PARTS)
    lo, hi = trunk[:, [0, 2]].min(0), trunk[:, [0, 2]].max(0)
    all_lo, all_hi = p.v[:, [0, 2]].min(0), p.v[:, [0, 2]].max(0)
    if support == "bed":
        x0, x1 = all_lo[0] - rng.uniform(0.05, 0.3), all_hi[0] + rng.uniform(0.05, 0.3)
        if x1 - x0 < 1.9:
            x0 -= 1.9 - (x1 - x0)
        w = max(rng.uniform(0.9, 1.8), hi[1] - lo[1] + 0.3)
        z0 = lo[1] - rng.uniform(0.1, max(0.11, w - (hi[1] - lo[1]) - 0.1))
        return [furn.bed(rng, top, x0, x1, z0, z0 + w, head_at_x1=True)]
    x0, x1 = all_lo[0] - rng.uniform(0.05, 0.3), all_hi[0] + rng.uniform(0.05, 0.3)
    depth = rng.uniform(0.55, 0.7) if support == "sofa" else rng.uniform(0.4, 0.5)
    if hi[1] - lo[1] > depth - 0.05:
        raise FitError("body wider than the seat")
    z0 = lo[1] - rng.uniform(0.02, depth - (hi[1] - lo[1]) - 0.02)
    back = z0 if support == "sofa" else None
    return [furn.seat(rng, support, top, x0, x1, z0, z0 + depth, back, top + rng.uniform(0.35,
                                                                                          0.5))]


def _fit_lean(rng: np.random.Generator, p: _Posed, support: str) -> list[Piece]:
    """A table or counter under the hands, or a wall behind the back or beside the arm."""
    p.drop_to(FEET, 0.0)
    if support in ("table", "counter", "low_wall"):
        hands = p.of(FOREARMS if p.forearms else HANDS)
        top = float(hands[:, 1].min())
        if not 0.6 <= top <= 1.15:
            raise FitError(f"table height {top:.2f} m")
        z0 = float(hands[:, 2].min()) - rng.uniform(0.0, 0.08)
        z1 = z0 + rng.uniform(0.5, 1.2)
        span = hands[:, 0]
        x0, x1 = float(span.min()) - rng.uniform(0.2, 0.7), float(span.max()) + rng.uniform(0.2,
                                                                                            0.7)
        if support == "low_wall":
            return [furn.panel("low_wall", x0 - 1, x1 + 1, z0, z0 + rng.uniform(0.2, 0.5), top)]
        return [furn.table(rng, support, top, x0, x1, z0, z1)]
    if support == "wall":
        upper = p.v[p.v[:, 1] > 0.7]
        z1 = float(upper[:, 2].min())
        w = rng.uniform(1.0, 4.0)
        return [furn.panel("wall", -w / 2, w / 2, z1 - rng.uniform(0.1, 0.4), z1,
                           rng.uniform(2.0, 3.0))]
    hand = p.of(HANDS)
    x = float(hand[:, 0].max()) if p.side > 0 else float(hand[:, 0].min())
    w = rng.uniform(1.0, 4.0)
    t = rng.uniform(0.1, 0.4)
    x0, x1 = (x, x + t) if p.side > 0 else (x - t, x)
    return [furn.panel("wall", x0, x1, -w / 2, w / 2, rng.uniform(2.0, 3.0))]


def _attempt(rng: np.random.Generator, cls: str, outdoor: bool) -> Person:
    support = "floor"
    if cls in SUPPORTS:
        support = _choose(rng, SUPPORTS[cls][int(outdoor)])
    noise = rng.uniform(3, 10)
    seat_height = None
    if cls == "sitting":
        kind = "sitting-floor" if support == "floor" else "sitting"
        if support == "stairs" and rng.random() < 0.5:
            kind = "sitting-low"
        p = _Posed(rng, _choose(rng, POSES[kind]), _upright(rng, rng.normal(0, 4)), noise)
        if support == "floor":
            pieces, seat_height = [], _fit_floor_sit(p)
        elif support == "stairs":
            pieces, seat_height = _fit_stairs(rng, p)
        else:
            pieces, seat_height = _fit_seat(rng, p, support)
    elif cls == "lying":
        side = str(rng.choice(["back", "back", "front", "left", "right"]))
        p = _Posed(rng, _choose(rng, POSES["lying"]), _lying_root(rng, side), noise)
        pieces = _fit_lying(rng, p, support)
    elif cls == "leaning":
        if support in ("table", "counter", "low_wall"):
            name = _choose(rng, POSES["leaning-table"])
            pitch = rng.uniform(10, 35)
            p = _Posed(rng, name, _upright(rng, pitch), noise, hip_flex=pitch * DEG)
            p.forearms = name == "lean-elbows"
        elif support == "wall":
            pitch = -rng.uniform(5, 14)
            p = _Posed(rng, _choose(rng, POSES["leaning-wall"]), _upright(rng, pitch), noise,
                       hip_flex=pitch * DEG)
        else:
            p = _Posed(rng, "lean-side", _upright(rng, 0, -rng.uniform(4, 10)), noise)
            p.side = 1.0 if p.of(HANDS)[:, 0].max() > -p.of(HANDS)[:, 0].min() else -1.0
        pieces = _fit_lean(rng, p, support)
    else:
        p = _Posed(rng, _choose(rng, POSES[cls]), _upright(rng), noise)
        p.drop_to(None, 0.0)
        pieces = _fit_step(rng, p) if support == "stairs" else []
    for piece in pieces:
        if penetration(piece, p.v) > 0.004 * len(p.v):
            raise FitError(f"the body goes through the {piece.kind}")
    yaw = rng.uniform(-math.pi, math.pi)
    turn = _rot(1, yaw)
    for piece in pieces:
        xz = turn @ np.array([piece.x, 0.0, piece.z], np.float32)
        piece.yaw, piece.x, piece.z = piece.yaw + yaw, float(xz[0]), float(xz[2])
    return Person(p.v @ turn.T, p.kp @ turn.T, p.hips @ turn.T, cls, support, pieces,
                  np.array([math.sin(yaw), math.cos(yaw)], np.float32), seat_height)


def place_person(rng: np.random.Generator, outdoor: bool, pose_class: str | None = None,
                 tries: int = 12) -> Person:
    """A person of ``pose_class`` (default: drawn by :data:`CLASS_WEIGHTS`) with fitted
    furniture, centred near the world origin and turned to a random yaw; fits that fail
    are drawn again, and a standing person is the last resort."""
    cls = pose_class or POSE_CLASSES[int(rng.choice(len(POSE_CLASSES), p=CLASS_WEIGHTS))]
    for _ in range(tries):
        try:
            return _attempt(rng, cls, outdoor)
        except FitError:
            continue
    return _attempt(rng, "standing", outdoor)
