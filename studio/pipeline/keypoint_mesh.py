"""The keypoint fit's last step: the whole body posed from the refined rotations and shape.

Why not :meth:`BodyModel.forward`: at batch 1 its time is the cost of some fifty small
torch operations (about 0.65 ms, a fifth of the fit's 3 ms budget), most of them the
kinematic chain, which the refinement's :class:`~studio.pipeline.keypoint_refine.
KeypointBody` already walks in numpy. Here the chain comes from there and the mesh is
three products: the shape blend, the skinning weights times the 24 transforms, and the
per-vertex transform. Bodies with pose correctives (SMPL) keep the body model's forward:
this skips the correctives, as the refinement does.
"""
from __future__ import annotations

import numpy as np
import torch

from studio.body import joint_sets
from studio.body.model import BodyModel, BodyOutput
from studio.pipeline.keypoint_refine import N_BETAS, KeypointBody


class FitMesh:
    """Vertices, joints, landmarks and extra joints of a body without pose correctives
    from local rotations [B,24,3,3] and shapes [B,10] (numpy float64 in, as the
    refinement leaves them; torch float32 out)."""

    def __init__(self, body: BodyModel) -> None:
        if body.data.posedirs is not None:
            raise ValueError("FitMesh skips pose correctives: use the body model's forward")
        self.v_template = body.v_template.detach()
        self.shapedirs = body.shapedirs.detach()[..., :N_BETAS].reshape(-1, N_BETAS).T
        self.weights = body.lbs_weights.detach()  # [V,24]
        # the extra joints' regressor on the vertices it reads (1,267 of the 7,000)
        extra = body.J_regressor_extra.detach()  # [9,V]
        self.extra_vertices = torch.nonzero(extra.abs().sum(0)).flatten()
        self.extra = extra[:, self.extra_vertices].contiguous()
        self.landmarks = torch.as_tensor([body.data.landmarks[n]
                                          for n in joint_sets.LANDMARK_NAMES],
                                         device=self.v_template.device)

    def __call__(self, chain: KeypointBody, rotmat: np.ndarray, betas: np.ndarray
                 ) -> BodyOutput:
        b, dt = rotmat.shape[0], self.v_template.dtype
        rest, world, joints = chain.chain(rotmat, betas)
        # the skinning transforms [G_j | p_j - G_j J_j], column by column (12 numbers)
        shift = joints - (world @ rest[..., None])[..., 0]
        transforms = np.concatenate([world, shift[..., None]], -1).transpose(0, 1, 3, 2)
        transforms = torch.from_numpy(np.ascontiguousarray(transforms)).to(
            self.v_template.device, dt).reshape(b, -1, 12)
        shape = torch.as_tensor(betas, dtype=dt, device=self.v_template.device)
        shaped = self.v_template + (shape @ self.shapedirs).reshape(b, -1, 3)
        columns = (self.weights @ transforms).reshape(b, -1, 4, 3)  # per vertex
        vertices = torch.addcmul(columns[:, :, 3], columns[:, :, 0], shaped[..., :1])
        vertices.addcmul_(columns[:, :, 1], shaped[..., 1:2])
        vertices.addcmul_(columns[:, :, 2], shaped[..., 2:])
        return BodyOutput(vertices=vertices,
                          joints=torch.from_numpy(joints).to(vertices),
                          landmarks=vertices[:, self.landmarks],
                          extra_joints=self.extra @ vertices[:, self.extra_vertices],
                          rotmats=torch.from_numpy(rotmat).to(vertices))
