"""A motion as BVH (Biovision Hierarchy): the SMPL skeleton with per-frame Euler angles,
for motion tools that read BVH but not SMPL (Blender, MotionBuilder, game engines).

Conventions of :func:`bvh_bytes`:

- Axes: the camera's turned half a turn about x, as in the animated GLB: x right, y up,
  z towards the camera. The rest skeleton (the body's own frame, y up, facing +z) then
  stands upright, and a person filmed upright stays upright.
- Units: centimetres for OFFSETs and positions (BVH has no unit field; motion-capture BVH
  customarily uses centimetres; Blender's importer scales by 0.01 to get metres).
- Joints: the 24 SMPL joints named as ``joint_sets.SMPL24_NAMES``, in SMPL's tree, listed
  depth first (children in SMPL's index order); each OFFSET is the joint's offset from
  its parent in the shaped rest skeleton (:meth:`Motion.rest_shape`). Leaf joints close
  with an End Site half their own bone long, so viewers draw a last bone; it carries no
  channel.
- Root (pelvis): OFFSET 0 0 0 and channels ``Xposition Yposition Zposition Zrotation
  Xrotation Yrotation``; the positions are the pelvis's absolute position (rest pelvis +
  ``trans``, turned), so readers that add the OFFSET and readers that subtract the rest
  position agree. Other joints: ``Zrotation Xrotation Yrotation``.
- Rotations: degrees; a joint's local rotation matrix is Rz(z) Rx(x) Ry(y) (column
  vectors, channels composed in the order listed, as BVH readers do). They are SMPL's
  local rotations, except the root's: half a turn about x times the global orientation.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy.spatial.transform import Rotation

from studio.body.joint_sets import SMPL24_NAMES
from studio.io.axes import TURN_X
from studio.io.motion import Motion

CENTIMETRES = 100.0  # per metre
EULER = "ZXY"  # scipy's intrinsic order matching the rotation channels below
ROTATION_CHANNELS = ("Zrotation", "Xrotation", "Yrotation")
ROOT_CHANNELS = ("Xposition", "Yposition", "Zposition", *ROTATION_CHANNELS)
END_SITE = 0.5  # an End Site's length as a fraction of its leaf joint's own bone


class BvhData(NamedTuple):
    """A parsed BVH file: joints in file order (End Sites left out)."""

    names: list[str]
    parents: np.ndarray  # [J] int, -1 for the root
    offsets: np.ndarray  # [J,3] as written (this module writes centimetres)
    channels: list[tuple[str, ...]]  # per joint, in file order
    frames: np.ndarray  # [N, total channels] the MOTION values, in channel order
    frame_time: float  # seconds


def bvh_bytes(motion: Motion) -> bytes:
    """The motion as a BVH file (ASCII) laid out as the module says."""
    _, joints = motion.rest_shape()
    parents = motion.body.parents
    offsets = (joints - np.where(parents[:, None] >= 0, joints[parents], 0.0)) * CENTIMETRES
    offsets[0] = 0.0
    lines = ["HIERARCHY"]
    order: list[int] = []  # joints as the hierarchy lists them, depth first

    def write(k: int, depth: int) -> None:
        order.append(k)
        pad = "  " * depth
        keyword, channels = (("ROOT", ROOT_CHANNELS) if depth == 0
                             else ("JOINT", ROTATION_CHANNELS))
        lines.extend([f"{pad}{keyword} {SMPL24_NAMES[k]}", f"{pad}{{",
                      f"{pad}  OFFSET {_numbers(offsets[k])}",
                      f"{pad}  CHANNELS {len(channels)} {' '.join(channels)}"])
        children = np.flatnonzero(parents == k)
        for child in children:
            write(int(child), depth + 1)
        if len(children) == 0:
            lines.extend([f"{pad}  End Site", f"{pad}  {{",
                          f"{pad}    OFFSET {_numbers(offsets[k] * END_SITE)}", f"{pad}  }}"])
        lines.append(f"{pad}}}")

    write(0, 0)
    n = motion.num_frames
    local = motion.joint_rotvecs()[:, order].reshape(-1, 3)  # root first, as order starts
    matrices = Rotation.from_rotvec(local).as_matrix().reshape(n, len(order), 3, 3)
    matrices[:, 0] = TURN_X @ matrices[:, 0]
    degrees = Rotation.from_matrix(matrices.reshape(-1, 3, 3)).as_euler(EULER, degrees=True)
    position = (joints[0] + motion.trans) @ TURN_X.T * CENTIMETRES
    values = np.concatenate([position, degrees.reshape(n, -1)], axis=1)
    lines.extend(["MOTION", f"Frames: {n}", f"Frame Time: {1 / motion.fps:.8f}"])
    lines.extend(_numbers(row) for row in values)
    return ("\n".join(lines) + "\n").encode("ascii")


def _numbers(values: np.ndarray) -> str:
    return " ".join(f"{v:.6f}" for v in values)


def read_bvh(text: str) -> BvhData:
    """Parse a BVH file's text (any joint names, channel orders and End Sites)."""
    tokens = text.split()
    names: list[str] = []
    parents: list[int] = []
    offsets: list[list[float]] = []
    channels: list[tuple[str, ...]] = []
    stack: list[int] = []  # open joints; -2 marks an End Site
    i = tokens.index("HIERARCHY") + 1
    while tokens[i] != "MOTION":
        word = tokens[i]
        if word in ("ROOT", "JOINT"):
            parents.append(next((p for p in reversed(stack) if p != -2), -1))
            names.append(tokens[i + 1])
            stack.append(len(names) - 1)
            i += 2
        elif word == "End":  # "End Site"
            stack.append(-2)
            i += 2
        elif word == "OFFSET":
            if stack[-1] != -2:
                offsets.append([float(v) for v in tokens[i + 1:i + 4]])
            i += 4
        elif word == "CHANNELS":
            count = int(tokens[i + 1])
            channels.append(tuple(tokens[i + 2:i + 2 + count]))
            i += 2 + count
        elif word == "}":
            stack.pop()
            i += 1
        elif word == "{":
            i += 1
        else:
            raise ValueError(f"unexpected {word!r} in the BVH hierarchy")
    if tokens[i + 1] != "Frames:" or tokens[i + 3:i + 5] != ["Frame", "Time:"]:
        raise ValueError("BVH MOTION must start with 'Frames:' and 'Frame Time:'")
    count, frame_time = int(tokens[i + 2]), float(tokens[i + 5])
    width = sum(len(c) for c in channels)
    values = np.array(tokens[i + 6:], dtype=np.float64)
    if values.size != count * width:
        raise ValueError(f"BVH MOTION holds {values.size} numbers, not {count} frames of "
                         f"{width} channels")
    return BvhData(names=names, parents=np.array(parents, np.int64),
                   offsets=np.array(offsets, np.float64).reshape(-1, 3), channels=channels,
                   frames=values.reshape(count, width), frame_time=frame_time)
