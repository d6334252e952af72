"""A recorded capture as one motion: per-frame SMPL poses and translations on one body
shape, the single input of every animation exporter (animated GLB, BVH, OBJ frames, npz).

Axes and units are the pipeline's: a pose is SMPL axis-angle, root first, whose global
orientation turns the body's own frame (y up, facing +z) into the camera's axes (x right,
y down, z away); ``trans`` is metres in the camera's axes, so :meth:`Motion.vertices` is
the mesh in the camera frame, frame by frame, as ``vertices + trans`` is for one
:class:`~studio.pipeline.results.MeshIteration`.
"""
from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from studio.body.model import NUM_BETAS, NUM_JOINTS, BodyData, BodyModel
from studio.pipeline.results import MeshIteration

BATCH = 256  # frames posed at once by Motion.vertices; bounds memory on long captures


@dataclass
class Motion:
    """N frames at ``fps`` frames per second of ``body`` with shape ``betas``."""

    poses: np.ndarray  # [N,72] axis-angle, root first
    betas: np.ndarray  # [10]
    trans: np.ndarray  # [N,3] metres, camera axes
    fps: float
    body: BodyData

    def __post_init__(self) -> None:
        self.poses = np.asarray(self.poses, np.float64).reshape(-1, NUM_JOINTS * 3)
        self.betas = np.asarray(self.betas, np.float64).reshape(NUM_BETAS)
        self.trans = np.asarray(self.trans, np.float64).reshape(-1, 3)
        if len(self.poses) == 0:
            raise ValueError("a motion needs at least one frame")
        if len(self.trans) != len(self.poses):
            raise ValueError(f"{len(self.poses)} poses but {len(self.trans)} translations")
        if not self.fps > 0:
            raise ValueError(f"frame rate {self.fps} is not positive")

    @classmethod
    def from_iterations(cls, frames: Sequence[MeshIteration], body: BodyData,
                        fps: float) -> Motion:
        """One frame per iteration (e.g. each captured frame's final one), in the order
        given. A skinned mesh has one shape, so ``betas`` is the frames' mean shape: the
        per-frame estimates of one person differ only by noise."""
        if not frames:
            raise ValueError("no frames to make a motion of")
        return cls(poses=np.stack([f.pose.reshape(-1) for f in frames]),
                   betas=np.mean([f.betas for f in frames], axis=0),
                   trans=np.stack([f.translation() for f in frames]), fps=fps, body=body)

    @property
    def num_frames(self) -> int:
        return len(self.poses)

    def joint_rotvecs(self) -> np.ndarray:
        """[N,24,3] each joint's local rotation as axis-angle (joint 0: the global one)."""
        return self.poses.reshape(-1, NUM_JOINTS, 3)

    def rest_shape(self) -> tuple[np.ndarray, np.ndarray]:
        """The shaped body in the rest pose, the bind pose of skinned exports: vertices
        [V,3] (template + shape blend shapes) and joints [24,3] regressed from them, metres
        in the body's frame (y up, facing +z)."""
        data = self.body
        vertices = (data.v_template.astype(np.float64)
                    + np.asarray(data.shapedirs, np.float64) @ self.betas)
        return vertices, np.asarray(data.J_regressor, np.float64) @ vertices

    def vertices(self) -> np.ndarray:
        """[N,V,3] float32 posed meshes plus translation, camera axes, metres: the body
        model's output, pose correctives included where the body has them."""
        return np.concatenate(list(self.vertex_batches()))

    def vertex_batches(self) -> Iterator[np.ndarray]:
        """:meth:`vertices` :data:`BATCH` frames at a time ([B,V,3] float32, in order), so a
        long motion is written frame by frame in bounded memory."""
        model = BodyModel(self.body)
        with torch.no_grad():
            for start in range(0, self.num_frames, BATCH):
                pose = torch.as_tensor(self.poses[start:start + BATCH], dtype=torch.float32)
                betas = torch.as_tensor(self.betas, dtype=torch.float32).expand(len(pose), -1)
                posed = model(global_orient=pose[:, :3], body_pose=pose[:, 3:], betas=betas)
                yield (posed.vertices.numpy()
                       + self.trans[start:start + BATCH, None]).astype(np.float32)
