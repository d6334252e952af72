"""The points refinement reads, posed without the rest of the mesh.

Each refinement step needs only the body's mediapipe33 keypoints and its silhouette's
surface samples, which touch about 2,700 of the mannequin's 7,000 vertices. Skinning just
those (and the joints from the regressor applied to the shape space once, up front) gives
the same points as :class:`studio.body.model.BodyModel` at about 40% of its cost, forward
and backward: a step used to be two thirds skinning.
"""
from __future__ import annotations

import numpy as np
import torch
from smplx.lbs import blend_shapes

from studio.body import joint_sets as js
from studio.body.model import NUM_JOINTS, BodyModel
from studio.body.skinning import rigid_transforms
from studio.synth.soft_silhouette import SurfaceSamples


class PointBody:
    """``body``'s mediapipe33 keypoints and ``samples``' points for a pose and shape."""

    def __init__(self, body: BodyModel, samples: SurfaceSamples) -> None:
        mapping = js.mapping_matrix("mediapipe33")  # [33, sources]
        landmark_count = len(js.LANDMARK_NAMES)
        if mapping[:, NUM_JOINTS + landmark_count:].any():
            raise ValueError("mediapipe33 reads points this class does not pose")
        landmark_vertices = np.array([body.data.landmarks[n] for n in js.LANDMARK_NAMES])
        corners = samples.corners.numpy().reshape(-1)
        wanted = np.unique(np.concatenate([corners, landmark_vertices]))
        index = torch.as_tensor(wanted)
        with torch.no_grad():
            regressor = body.J_regressor
            self.v_template = body.v_template[index]
            self.shapedirs = body.shapedirs[index]
            self.weights = body.lbs_weights[index]
            self.joint_template = regressor @ body.v_template
            self.joint_shapedirs = torch.einsum("jv,vdk->jdk", regressor, body.shapedirs)
            self.posedirs = None
            if body._pose_correctives:  # [207, V*3] -> the wanted vertices' columns
                self.posedirs = body.posedirs.reshape(body.posedirs.shape[0], -1, 3)[
                    :, index].reshape(body.posedirs.shape[0], -1)
        dt = self.v_template.dtype
        self.parents, self.levels = body.parents, body._levels
        self.joint_map = torch.as_tensor(mapping[:, :NUM_JOINTS], dtype=dt)
        to_wanted = np.zeros((landmark_count, len(wanted)), np.float32)
        to_wanted[np.arange(landmark_count), np.searchsorted(wanted, landmark_vertices)] = 1
        self.vertex_map = torch.as_tensor(
            mapping[:, NUM_JOINTS:NUM_JOINTS + landmark_count] @ to_wanted, dtype=dt)
        self.corners = torch.as_tensor(np.searchsorted(wanted, corners))
        self.bary = samples.bary.to(dt)

    def __call__(self, rotmats: torch.Tensor, betas: torch.Tensor
                 ) -> tuple[torch.Tensor, torch.Tensor]:
        """(keypoints [B,33,3], surface samples [B,N,3]) for local rotations
        [B,24,3,3] and betas [B,10], as the whole body would place them."""
        b = rotmats.shape[0]
        shaped = self.v_template + blend_shapes(betas, self.shapedirs)
        rest_joints = self.joint_template + torch.einsum("bk,jdk->bjd", betas,
                                                         self.joint_shapedirs)
        if self.posedirs is not None:
            eye = torch.eye(3, dtype=rotmats.dtype)
            feature = (rotmats[:, 1:] - eye).reshape(b, -1)
            shaped = shaped + (feature @ self.posedirs).reshape(b, -1, 3)
        joints, transforms = rigid_transforms(rotmats, rest_joints, self.parents, self.levels)
        per_vertex = (self.weights @ transforms.reshape(b, -1, 16)).reshape(b, -1, 4, 4)
        vertices = torch.einsum("bvij,bvj->bvi", per_vertex[..., :3, :3], shaped) \
            + per_vertex[..., :3, 3]
        keypoints = self.joint_map @ joints + self.vertex_map @ vertices
        corner = vertices[:, self.corners].reshape(b, -1, 3, 3)
        return keypoints, (corner * self.bary[None, :, :, None]).sum(2)
