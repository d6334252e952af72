"""The mannequin's design: SMPL-like rest joints and the implicit surface around them.

Coordinates follow SMPL: metres, y up, the body faces +z, +x is the body's left, and the
origin is centred like SMPL's template (pelvis about 0.22 m below it, soles at about
y = -1.17, head top at about y = +0.57, so standing height is about 1.74 m).
Left-side parts are described once and mirrored.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from studio.body.implicit import Ellipsoid, Field, RoundBox, RoundCone, smooth_min

# Rest-pose joints, left side and midline; right-side joints mirror x.
_LEFT_AND_MID = {
    "pelvis": (0.0, -0.225, 0.012),
    "left_hip": (0.078, -0.305, 0.008),
    "spine1": (0.0, -0.110, -0.008),
    "left_knee": (0.098, -0.700, 0.012),
    "spine2": (0.0, 0.030, 0.004),
    "left_ankle": (0.090, -1.085, -0.028),
    "spine3": (0.0, 0.090, 0.014),
    "left_foot": (0.104, -1.140, 0.095),
    "neck": (0.0, 0.290, -0.012),
    "left_collar": (0.072, 0.210, -0.008),
    "head": (0.0, 0.372, 0.020),
    "left_shoulder": (0.178, 0.232, -0.022),
    "left_elbow": (0.430, 0.224, -0.036),
    "left_wrist": (0.680, 0.224, -0.040),
    "left_hand": (0.772, 0.220, -0.042),
}

SOLE_Y = -1.165
HEAD_TOP_Y = 0.555


def mirror(p: tuple[float, float, float]) -> tuple[float, float, float]:
    return (-p[0], p[1], p[2])


def rest_joints(names: tuple[str, ...]) -> np.ndarray:
    """Rest joint positions [24,3] in the order of ``names`` (SMPL-24 names)."""
    out = []
    for n in names:
        if n in _LEFT_AND_MID:
            out.append(_LEFT_AND_MID[n])
        else:
            out.append(mirror(_LEFT_AND_MID["left_" + n.removeprefix("right_")]))
    return np.asarray(out, np.float64)


@dataclass(frozen=True)
class Part:
    """A primitive with the SMPL joint whose segment it belongs to (left-side name)."""

    shape: Field
    joint: str


def _mirror_shape(s: Field) -> Field:
    if isinstance(s, Ellipsoid):
        return Ellipsoid(mirror(s.center), s.radii)
    if isinstance(s, RoundCone):
        return RoundCone(mirror(s.a), mirror(s.b), s.ra, s.rb)
    if isinstance(s, RoundBox):
        return RoundBox(mirror(s.center), s.half, s.rounding, -s.yaw)
    raise TypeError(s)


def _right(name: str) -> str:
    return name.replace("left_", "right_")


J = _LEFT_AND_MID

HEAD = [
    Part(Ellipsoid((0.0, 0.468, 0.018), (0.077, 0.097, 0.096)), "head"),
    Part(Ellipsoid((0.0, 0.408, 0.048), (0.058, 0.058, 0.066)), "head"),
    Part(RoundCone((0.0, 0.462, 0.100), (0.0, 0.432, 0.121), 0.010, 0.014), "head"),
]
EAR_LEFT = Part(Ellipsoid((0.077, 0.455, 0.012), (0.014, 0.030, 0.020)), "head")
NECK = Part(RoundCone((0.0, 0.245, -0.012), (0.0, 0.405, 0.004), 0.058, 0.050), "neck")
TORSO = [
    Part(Ellipsoid((0.0, 0.140, 0.010), (0.152, 0.140, 0.104)), "spine3"),
    Part(Ellipsoid((0.0, -0.020, 0.018), (0.134, 0.130, 0.098)), "spine2"),
    Part(Ellipsoid((0.0, -0.120, 0.012), (0.130, 0.100, 0.094)), "spine1"),
    Part(Ellipsoid((0.0, -0.240, 0.000), (0.162, 0.110, 0.104)), "pelvis"),
]
TORSO_LEFT = [
    Part(RoundCone((0.02, 0.218, -0.016), (0.165, 0.226, -0.022), 0.068, 0.060), "left_collar"),
    Part(Ellipsoid((0.070, 0.165, 0.055), (0.072, 0.060, 0.050)), "spine3"),
    Part(Ellipsoid((0.066, -0.290, -0.045), (0.080, 0.085, 0.078)), "pelvis"),
]
ARM_LEFT = [
    Part(Ellipsoid((0.185, 0.226, -0.022), (0.070, 0.064, 0.060)), "left_shoulder"),
    Part(RoundCone(J["left_shoulder"], J["left_elbow"], 0.052, 0.040), "left_shoulder"),
    Part(RoundCone(J["left_elbow"], (0.545, 0.224, -0.038), 0.040, 0.037), "left_elbow"),
    Part(RoundCone((0.545, 0.224, -0.038), J["left_wrist"], 0.037, 0.027), "left_elbow"),
]
HAND_LEFT = [
    Part(RoundBox((0.733, 0.221, -0.041), (0.044, 0.005, 0.030), 0.013), "left_wrist"),
    Part(RoundBox((0.815, 0.219, -0.042), (0.036, 0.003, 0.027), 0.011), "left_hand"),
    Part(RoundCone((0.700, 0.214, -0.008), (0.765, 0.206, 0.036), 0.016, 0.011), "left_hand"),
]
LEG_LEFT = [
    Part(RoundCone((0.087, -0.270, 0.004), J["left_knee"], 0.083, 0.054), "left_hip"),
    Part(RoundCone(J["left_knee"], J["left_ankle"], 0.052, 0.033), "left_knee"),
    Part(Ellipsoid((0.096, -0.830, -0.028), (0.046, 0.095, 0.045)), "left_knee"),
]
FOOT_LEFT = [
    Part(RoundCone(J["left_ankle"], (0.090, -1.128, -0.048), 0.036, 0.037), "left_ankle"),
    Part(RoundCone((0.090, -1.128, -0.048), (0.101, -1.137, 0.090), 0.037, 0.028), "left_ankle"),
    Part(Ellipsoid((0.101, -1.139, 0.098), (0.046, 0.027, 0.050)), "left_foot"),
    Part(Ellipsoid((0.104, -1.147, 0.145), (0.041, 0.018, 0.032)), "left_foot"),
]


def _mirrored(parts: list[Part]) -> list[Part]:
    return [Part(_mirror_shape(pt.shape), _right(pt.joint)) for pt in parts]


def _union(parts: list[Part], p: np.ndarray, k: float) -> np.ndarray:
    """Smooth union of parts."""
    d = parts[0].shape(p)
    for part in parts[1:]:
        d = smooth_min(d, part.shape(p), k)
    return d


@dataclass(frozen=True)
class Limb:
    """A chain of part groups, each joined to the previous with its own blend width."""

    groups: tuple[tuple[list[Part], float], ...]
    attach_k: float

    def mirrored(self) -> "Limb":
        return Limb(tuple((_mirrored(g), k) for g, k in self.groups), self.attach_k)

    @property
    def parts(self) -> list[Part]:
        return [pt for g, _ in self.groups for pt in g]


ARM = Limb(((ARM_LEFT, 0.008), (HAND_LEFT, 0.010)), attach_k=0.045)
LEG = Limb(((LEG_LEFT, 0.010), (FOOT_LEFT, 0.030)), attach_k=0.05)
LIMBS = (ARM, ARM.mirrored(), LEG, LEG.mirrored())
LIMB_UNION_K = 0.012


EAR_RIGHT = _mirrored([EAR_LEFT])[0]
CORE_TORSO = TORSO + TORSO_LEFT + _mirrored(TORSO_LEFT)
CORE_HEAD = HEAD + [EAR_LEFT, EAR_RIGHT]
ALL_PARTS = CORE_TORSO + [NECK] + CORE_HEAD + [pt for limb in LIMBS for pt in limb.parts]


def _limb_field(limb: Limb, p: np.ndarray) -> np.ndarray:
    d = None
    for parts, k in limb.groups:
        g = _union(parts, p, k)
        d = g if d is None else smooth_min(d, g, k)
    return d


def _core_field(p: np.ndarray) -> np.ndarray:
    torso = _union(CORE_TORSO, p, 0.06)
    head = smooth_min(smooth_min(HEAD[0].shape(p), HEAD[1].shape(p), 0.04), HEAD[2].shape(p), 0.012)
    ears = np.minimum(EAR_LEFT.shape(p), EAR_RIGHT.shape(p))
    head = smooth_min(head, ears, 0.01)
    return smooth_min(smooth_min(torso, NECK.shape(p), 0.045), head, 0.035)


def body_sdf(p: np.ndarray, chunk: int = 400_000) -> np.ndarray:
    """Signed distance (approximate) to the mannequin surface; negative inside."""
    out = np.empty(len(p))
    for s in range(0, len(p), chunk):
        q = p[s:s + chunk]
        core = _core_field(q)
        # Each limb blends into the core on its own; the limbs are then united with a narrow
        # blend, so the thighs never web together yet the crotch crease stays rounded.
        d = None
        for limb in LIMBS:
            f = smooth_min(core, _limb_field(limb, q), limb.attach_k)
            d = f if d is None else smooth_min(d, f, LIMB_UNION_K)
        out[s:s + chunk] = d
    return out


def nearest_part_joint(p: np.ndarray) -> list[str]:
    """For each point, the joint of the primitive it lies closest to (or deepest inside)."""
    raw = np.stack([pt.shape(p) for pt in ALL_PARTS])
    return [ALL_PARTS[i].joint for i in raw.argmin(axis=0)]
