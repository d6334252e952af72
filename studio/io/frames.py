"""A motion frame by frame: a folder of OBJ meshes (one per frame, for tools that take
mesh sequences) and its SMPL parameters as an AMASS-style npz.

OBJ frames of a :class:`Motion` are its posed meshes plus translation, metres, in the
y-up axes of the animated GLB and BVH (x right, y up, z towards the camera; see
:mod:`studio.io.axes`), the axes Blender's OBJ importer assumes: the sequence stands
upright and moves as the person did. (A single mesh export keeps the camera's axes and
leaves the translation out; in a sequence the translation is the motion.)

The npz holds AMASS's keys, as :func:`studio.io.smpl_params.amass_npz_bytes` writes them
for iterations: ``poses`` [N,72] and ``trans`` [N,3] float32 (camera axes, metres),
``betas`` [10] float32, ``mocap_framerate``, ``gender``, plus ``body_model``, the body's
name. No meshes: a long capture's would dwarf the parameters, and the body model
rebuilds them.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

import numpy as np

from studio.io.axes import Y_UP
from studio.io.meshes import mesh_bytes
from studio.io.motion import Motion
from studio.io.smpl_params import smpl_npz_bytes

FRAME_NAME = "frame_{:06d}.obj"


def obj_frames(frames: Motion | Sequence[np.ndarray],
               faces: np.ndarray | None = None) -> Iterator[tuple[str, bytes]]:
    """(file name, OBJ bytes) per frame, named :data:`FRAME_NAME` from 0, made as they are
    taken (a long motion never sits in memory whole): a motion's meshes (``faces`` default
    to its body's) or the given camera-axes vertex arrays [V,3] with ``faces``, turned y-up."""
    if isinstance(frames, Motion):
        faces = frames.body.faces if faces is None else faces
        frames = (v for batch in frames.vertex_batches() for v in batch)
    if faces is None:
        raise ValueError("faces are needed to write vertex arrays as meshes")
    return _encoded(frames, faces)


def _encoded(frames: Iterable[np.ndarray], faces: np.ndarray) -> Iterator[tuple[str, bytes]]:
    for k, vertices in enumerate(frames):
        yield FRAME_NAME.format(k), mesh_bytes(np.asarray(vertices) * Y_UP, faces, ".obj")


def motion_npz_bytes(motion: Motion, **extra: np.ndarray) -> bytes:
    """The motion's SMPL parameters as npz bytes with the keys the module lists, plus
    ``extra`` arrays as given."""
    return smpl_npz_bytes(motion.poses, motion.betas, motion.trans, motion.fps,
                          motion.body.name, gender=motion.body.gender, **extra)
