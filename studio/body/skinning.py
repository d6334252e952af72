"""Linear blend skinning for :class:`~studio.body.model.BodyModel`, built from smplx's parts.

``smplx.lbs.lbs`` always multiplies the pose feature by ``posedirs``: for the mannequin,
which has no pose correctives, that is a 207 x 21,000 matrix of zeros (17 MB read per
call), and it walks the kinematic chain one joint at a time (23 small matrix products).
PyMAF poses the body four times per crop, so on a live stream that was a third of the
net's time. :func:`skin` gives the same vertices and joints (tested against
``smplx.lbs.lbs``) but skips the pose correctives when there are none and composes the
chain one tree level at a time (8 products for SMPL's tree).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from smplx.lbs import blend_shapes, transform_mat, vertices2joints

Levels = list[tuple[torch.Tensor, torch.Tensor]]


def kinematic_levels(parents: torch.Tensor) -> Levels:
    """The non-root joints grouped by their depth in the tree, shallowest first, each as
    (joints, their parents): a level only needs the levels above it."""
    depth = [0] * len(parents)
    for joint in range(1, len(parents)):
        depth[joint] = depth[int(parents[joint])] + 1
    levels = []
    for level in range(1, max(depth, default=0) + 1):
        joints = torch.tensor([j for j, d in enumerate(depth) if d == level], dtype=torch.long)
        levels.append((joints, parents[joints].to(torch.long)))
    return levels


def rigid_transforms(rotmats: torch.Tensor, joints: torch.Tensor, parents: torch.Tensor,
                     levels: Levels) -> tuple[torch.Tensor, torch.Tensor]:
    """Posed joints [B,J,3] and the transforms [B,J,4,4] that move each rest-pose point
    bound to a joint, from local rotations [B,J,3,3] and rest joints [B,J,3]; as
    ``smplx.lbs.batch_rigid_transform``."""
    b, count = joints.shape[:2]
    column = joints.unsqueeze(-1)
    offsets = column.clone()
    offsets[:, 1:] -= column[:, parents[1:]]
    local = transform_mat(rotmats.reshape(-1, 3, 3), offsets.reshape(-1, 3, 1)
                          ).reshape(b, count, 4, 4)
    world = local.clone()
    for level, level_parents in levels:
        world[:, level] = (world[:, level_parents] @ local[:, level]).to(world.dtype)
    posed = world[:, :, :3, 3]
    rest = F.pad(column, [0, 0, 0, 1])  # [B,J,4,1] homogeneous rest joints
    return posed, world - F.pad(world @ rest, [3, 0])


def skin(betas: torch.Tensor, rotmats: torch.Tensor, v_template: torch.Tensor,
         shapedirs: torch.Tensor, posedirs: torch.Tensor | None, J_regressor: torch.Tensor,
         parents: torch.Tensor, levels: Levels, weights: torch.Tensor
         ) -> tuple[torch.Tensor, torch.Tensor]:
    """Vertices [B,V,3] and joints [B,J,3] for shapes [B,10] and local rotations
    [B,J,3,3]; ``posedirs`` [207, V*3] in smplx's layout, or None when the body has no
    pose correctives. Buffers as ``smplx.SMPL`` holds them."""
    b = rotmats.shape[0]
    shaped = v_template + blend_shapes(betas, shapedirs)
    rest_joints = vertices2joints(J_regressor, shaped)
    if posedirs is not None:
        eye = torch.eye(3, dtype=rotmats.dtype, device=rotmats.device)
        feature = (rotmats[:, 1:] - eye).reshape(b, -1)
        shaped = shaped + (feature @ posedirs).reshape(b, -1, 3)
    posed_joints, transforms = rigid_transforms(rotmats, rest_joints, parents, levels)
    per_vertex = (weights @ transforms.reshape(b, -1, 16)).reshape(b, -1, 4, 4)
    vertices = torch.einsum("bvij,bvj->bvi", per_vertex[..., :3, :3], shaped)
    return vertices + per_vertex[..., :3, 3], posed_joints
