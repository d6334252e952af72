"""A straightforward PyMAF forward over the same weights: the yardstick for our speed.

Written step by step the way the paper and the official code describe it, with nothing
cached or fused: the whole body model (smplx's SMPL forward) at every iteration, the
mesh downsampled by its two sparse matrices (V -> V/4 -> V/16) each time, keypoints
picked by index and pose converted to axis-angle at every iteration. Only for
``feedback="maf"`` nets built from their body model's own downsampling matrices.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import smplx
import torch
import torch.nn.functional as F

from studio.body.joint_sets import LANDMARK_NAMES, mapping_matrix
from studio.body.model import NUM_JOINTS
from studio.nets.geometry import project_to_crop, rot6d_to_rotmat, rotmat_to_axis_angle
from studio.nets.pymaf import NUM_LEVELS, PyMAF, PyMAFOutput


@dataclass
class ReferenceIteration:
    """The outputs the speed comparison checks against :class:`PyMAFIteration`."""

    vertices: torch.Tensor
    theta: torch.Tensor
    keypoints_2d: torch.Tensor
    sample_points: torch.Tensor | None


class ReferencePyMAF:
    """Calls ``net``'s layers in the plain order; ``__call__(crops)`` -> (iterations, dense)."""

    def __init__(self, net: PyMAF) -> None:
        if getattr(net, "maf_extractor", None) is None:
            raise ValueError("the reference forward covers mesh-aligned feedback only")
        self.net = net
        body = net.body
        device = body.v_template.device
        self.downsampling = []
        for d in body.data.downsampling:
            coo = d.tocoo()
            index = torch.as_tensor(np.stack([coo.row, coo.col]), dtype=torch.long)
            self.downsampling.append(torch.sparse_coo_tensor(
                index, torch.as_tensor(coo.data, dtype=torch.float32), coo.shape,
                device=device, check_invariants=True).coalesce())
        self.landmarks = torch.as_tensor([body.data.landmarks[n] for n in LANDMARK_NAMES],
                                         device=device)
        self.keypoints = torch.as_tensor(mapping_matrix("pymaf49").argmax(1), device=device)

    def downsample(self, vertices: torch.Tensor) -> torch.Tensor:
        """[B,V,3] -> [B,N,3] by the sparse matrices, one after the other."""
        b = vertices.shape[0]
        x = vertices.permute(1, 0, 2).reshape(vertices.shape[1], 3 * b)
        for d in self.downsampling:
            x = torch.sparse.mm(d, x)
        return x.reshape(-1, b, 3).permute(1, 0, 2)

    def mesh(self, pose6d: torch.Tensor, betas: torch.Tensor, cam: torch.Tensor,
             points: torch.Tensor | None) -> ReferenceIteration:
        body = self.net.body
        b = pose6d.shape[0]
        rotmat = rot6d_to_rotmat(pose6d).reshape(b, NUM_JOINTS, 3, 3)
        out = smplx.SMPL.forward(body, betas=betas, global_orient=rotmat[:, :1],
                                 body_pose=rotmat[:, 1:], pose2rot=False)
        verts = out.vertices
        extra = torch.einsum("jv,bvd->bjd", body.J_regressor_extra, verts)
        sources = torch.cat([out.joints[:, :NUM_JOINTS], verts[:, self.landmarks], extra], 1)
        keypoints_2d = project_to_crop(sources[:, self.keypoints], cam)
        axis_angle = rotmat_to_axis_angle(rotmat).reshape(b, 3 * NUM_JOINTS)
        return ReferenceIteration(vertices=verts, theta=torch.cat([cam, betas, axis_angle], 1),
                                  keypoints_2d=keypoints_2d, sample_points=points)

    def readout(self, crops: torch.Tensor) -> torch.Tensor:
        """Each keypoint heatmap's centroid and peak, by a loop over the channels, through
        the readout's MLP."""
        maps = crops[:, -self.net.readout.channels:].clamp(min=0)
        size = maps.shape[-1]
        grid = torch.linspace(-1, 1, size, dtype=maps.dtype, device=maps.device)
        read = []
        for k in range(maps.shape[1]):
            m = maps[:, k]
            mass = m.sum(dim=(1, 2)).clamp(min=1e-6)
            read += [(m * grid[None, None, :]).sum(dim=(1, 2)) / mass,
                     (m * grid[None, :, None]).sum(dim=(1, 2)) / mass, m.amax(dim=(1, 2))]
        return self.net.readout.mlp(torch.stack(read, 1))

    def __call__(self, crops: torch.Tensor) -> tuple[list[ReferenceIteration],
                                                      dict[str, torch.Tensor] | None]:
        net = self.net
        b = crops.shape[0]
        feature = net.feature_extractor(crops)
        first = net.regressor[0]
        pose = first.init_pose.expand(b, -1)
        betas = first.init_shape.expand(b, -1)
        cam = first.init_cam.expand(b, -1)
        iterations = [self.mesh(pose, betas, cam, None)]
        readout = self.readout(crops) if net.readout is not None else None
        for level in range(NUM_LEVELS):
            feature = net.deconv_layers[3 * level:3 * level + 3](feature)
            maf, reg = net.maf_extractor[level], net.regressor[level]
            if level == 0:
                points = net.points_grid.transpose(1, 2).expand(b, -1, -1)
            else:
                points = project_to_crop(self.downsample(iterations[-1].vertices), cam)
            sampled = F.grid_sample(feature, points[:, :, None, :], align_corners=True)[..., 0]
            y = F.leaky_relu(maf.conv0(sampled))
            y = F.leaky_relu(maf.conv1(torch.cat([y, sampled], 1)))
            y = F.relu(maf.conv2(torch.cat([y, sampled], 1))).flatten(1)
            step_input = [y] if readout is None else [y, readout]
            # eval mode, so no dropout; act is a ReLU or the identity
            h = reg.act(reg.fc1(torch.cat([*step_input, pose, betas, cam], 1)))
            h = reg.act(reg.fc2(h))
            pose, betas, cam = pose + reg.decpose(h), betas + reg.decshape(h), cam + reg.deccam(h)
            iterations.append(self.mesh(pose, betas, cam, points))
        dense = net.dp_head(feature) if net.dp_head is not None else None
        return iterations, dense


def max_difference(ours: PyMAFOutput, reference: tuple[list[ReferenceIteration],
                                                       dict[str, torch.Tensor] | None]) -> float:
    """Largest absolute difference between the two forwards' outputs (all iterations)."""
    iterations, dense = reference
    pairs = []
    for a, b in zip(ours.iterations, iterations, strict=True):
        pairs += [(a.vertices, b.vertices), (a.theta, b.theta), (a.keypoints_2d, b.keypoints_2d)]
        if a.sample_points is not None:
            pairs.append((a.sample_points, b.sample_points))
    if dense is not None:
        pairs += [(ours.final.dense[k], v) for k, v in dense.items()]
    return max(float((a - b).abs().max()) for a, b in pairs)
