"""A motion frame by frame: a folder of OBJ meshes (one per frame, for tools that take
mesh sequences) and its SMPL parameters as an AMASS-style npz.

OBJ frames of a :class:`Motion` are its posed meshes plus translation, camera axes (x
right, y down, z away), metres: the sequence moves as the person did. (A single mesh
export leaves the translation out; in a sequence it is the motion.)

The npz holds AMASS's keys, as :func:`studio.io.smpl_params.amass_npz_bytes` writes them
for iterations: ``poses`` [N,72] and ``trans`` [N,3] float32 (camera axes, metres),
``betas`` [10] float32, ``mocap_framerate``, ``gender``, plus ``body_model``, the body's
name. No meshes: a long capture's would dwarf the parameters, and the body model
rebuilds them.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from studio.io.meshes import mesh_bytes
from studio.io.motion import Motion
from studio.io.smpl_params import smpl_npz_bytes

FRAME_NAME = "frame_{:06d}.obj"


def obj_frames(frames: Motion | Sequence[np.ndarray],
               faces: np.ndarray | None = None) -> list[tuple[str, bytes]]:
    """(file name, OBJ bytes) per frame, named :data:`FRAME_NAME` from 0: a motion's meshes
    (``faces`` default to its body's) or the given vertex arrays [V,3] with ``faces``."""
    if isinstance(frames, Motion):
        faces = frames.body.faces if faces is None else faces
        frames = frames.vertices()
    if faces is None:
        raise ValueError("faces are needed to write vertex arrays as meshes")
    return [(FRAME_NAME.format(k), mesh_bytes(v, faces, ".obj")) for k, v in enumerate(frames)]


def motion_npz_bytes(motion: Motion) -> bytes:
    """The motion's SMPL parameters as npz bytes with the keys the module lists."""
    return smpl_npz_bytes(motion.poses, motion.betas, motion.trans, motion.fps,
                          motion.body.name, gender=motion.body.gender)
