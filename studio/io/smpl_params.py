"""SMPL parameters as an AMASS-style npz, the layout motion tools read, plus the mesh so
the file is useful without the body model.

Keys, for N frames of V vertices:

- ``poses`` [N,72] float32 axis-angle, root first; ``trans`` [N,3] float32 metres in the
  camera's axes (x right, y down, z away): ``vertices + trans`` is the mesh in the camera
  frame.
- ``betas`` [10] float32, the last frame's shape: AMASS keeps one shape per sequence, and
  its readers slice ``betas[:10]``. ``frame_betas`` [N,10] holds every frame's own shape
  (the feedback iterations refine the shape as well as the pose).
- ``gender`` "neutral"; ``body_model`` the body the parameters drive (the built-in nets'
  mannequin shares SMPL's skeleton, not its surface).
- ``mocap_framerate``, always, because AMASS readers expect it; for a still or a set of
  feedback iterations the frames are not moments in time and the rate is nominal.
- ``vertices`` [V,3] float32 for one frame, [N,V,3] for several; ``faces`` [F,3] int32.
"""
from __future__ import annotations

import io
from collections.abc import Sequence

import numpy as np

from studio.pipeline.results import MeshIteration

NOMINAL_FRAMERATE = 30.0


def smpl_npz_bytes(poses: np.ndarray, betas: np.ndarray, trans: np.ndarray,
                   framerate: float, body_name: str, gender: str = "neutral",
                   **extra: np.ndarray) -> bytes:
    """The AMASS keys for ``poses`` [N,72], one shape ``betas`` [10] and ``trans`` [N,3]
    (float32), ``gender``, ``mocap_framerate`` and ``body_model``, plus ``extra`` arrays
    as given: one layout for every exporter of SMPL parameters."""
    buf = io.BytesIO()
    np.savez(buf, poses=np.asarray(poses, np.float32).reshape(-1, 72),
             betas=np.asarray(betas, np.float32), trans=np.asarray(trans, np.float32),
             gender=np.array(gender), body_model=np.array(body_name),
             mocap_framerate=np.array(float(framerate)), **extra)
    return buf.getvalue()


def amass_npz_bytes(frames: MeshIteration | Sequence[MeshIteration], faces: np.ndarray,
                    body_name: str, framerate: float = NOMINAL_FRAMERATE) -> bytes:
    """One iteration, or a sequence of them as frames in the order given, as npz bytes."""
    frames = [frames] if isinstance(frames, MeshIteration) else list(frames)
    if not frames:
        raise ValueError("no frames to write")
    vertices = np.stack([f.vertices for f in frames]).astype(np.float32)
    return smpl_npz_bytes(
        np.stack([f.pose.reshape(72) for f in frames]), frames[-1].betas,
        np.stack([f.translation() for f in frames]), framerate, body_name,
        frame_betas=np.stack([f.betas for f in frames]).astype(np.float32),
        vertices=vertices[0] if len(frames) == 1 else vertices,
        faces=np.asarray(faces).astype(np.int32))
