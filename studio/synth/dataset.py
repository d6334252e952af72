"""Synthetic training batches made on the fly from a seed: no data files.

Batch ``index`` of split ``split`` with seed ``seed`` is a pure function of those three
numbers, so training can resume mid-run and evaluation sets are reproducible; train,
val and test draw from disjoint seed streams.
"""
from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import torch

from studio.body.joint_sets import PART_NAMES, PART_TO_COARSE
from studio.body.model import BodyModel
from studio.nets.backbones import IMAGENET_MEAN, IMAGENET_STD
from studio.nets.geometry import project_to_crop
from studio.synth import cameras, pose_prior, proxy, raster, shading

SPLITS = {"train": 0, "val": 1, "test": 2}
INPUT_KINDS = ("proxy", "rgb")


# Which outfit region colours each SMPL part: 0 skin, 1 top, 2 bottom, 3 shoes, 4 sleeves
# (forearms: skin or the top's colour, per image).
_REGION = {"head": 0, "neck": 0, "left_wrist": 0, "right_wrist": 0, "left_hand": 0,
           "right_hand": 0, "spine1": 1, "spine2": 1, "spine3": 1, "left_collar": 1,
           "right_collar": 1, "left_shoulder": 1, "right_shoulder": 1, "pelvis": 2,
           "left_hip": 2, "right_hip": 2, "left_knee": 2, "right_knee": 2, "left_ankle": 3,
           "right_ankle": 3, "left_foot": 3, "right_foot": 3, "left_elbow": 4,
           "right_elbow": 4}
_PART_REGION = torch.tensor([_REGION[name] for name in PART_NAMES])


def clothing_colors(gen: torch.Generator, batch: int, vertex_part: torch.Tensor) -> torch.Tensor:
    """[B,V,3] vertex colours: a skin tone and random top, trousers and shoe colours."""
    skin_light = torch.rand(batch, 1, generator=gen)
    skin = torch.tensor([0.36, 0.22, 0.14]) + skin_light * torch.tensor([0.55, 0.50, 0.45])
    cloth = torch.rand(batch, 3, 3, generator=gen) ** 1.5  # dark clothes are common
    short_sleeves = torch.rand(batch, 1, generator=gen) < 0.4
    sleeves = torch.where(short_sleeves, skin, cloth[:, 0])
    palette = torch.stack([skin, cloth[:, 0], cloth[:, 1], cloth[:, 2], sleeves], 1)  # [B,5,3]
    return palette[:, _PART_REGION[vertex_part]]


@dataclass
class Batch:
    """Model inputs and every target PyMAF's losses need, all on one device."""

    inputs: torch.Tensor  # [B,C,S,S]: proxy maps (34) or ImageNet-normalised RGB (3)
    rotmat: torch.Tensor  # [B,24,3,3] ground-truth joint rotations (root in camera frame)
    betas: torch.Tensor  # [B,10]
    cam: torch.Tensor  # [B,3] weak-perspective crop camera
    vertices: torch.Tensor  # [B,V,3]
    keypoints_3d: torch.Tensor  # [B,49,3] pymaf49
    keypoints_2d: torch.Tensor  # [B,49,2] crop coordinates
    keypoints_2d_valid: torch.Tensor  # [B,49] inside the crop
    part: torch.Tensor  # [B,D,D] long, 0 background, 1..24 parts
    coarse: torch.Tensor  # [B,D,D] long, 0 background, 1..14 coarse parts
    uv: torch.Tensor  # [B,D,D,2] per-part UV, 0 on background

    def to(self, device: torch.device) -> Batch:
        """This batch on ``device`` (itself when it is there already)."""
        if self.inputs.device == device:
            return self
        return Batch(**{f.name: getattr(self, f.name).to(device, non_blocking=True)
                        for f in fields(self)})


def batch_generator(split: str, seed: int, index: int) -> torch.Generator:
    """The generator for one batch, from disjoint (split, seed, index) streams."""
    state = np.random.SeedSequence([SPLITS[split], seed, index]).generate_state(2)
    return torch.Generator().manual_seed(int(state[0]) << 32 | int(state[1]))


class SyntheticPeople:
    """Renders batches of posed mannequins as proxy maps or RGB, with dense targets.

    ``size`` is the model input resolution, ``dense_size`` that of the dense head (the top
    pyramid level). Sampling runs on the CPU generator for determinism; the body model and
    rendering run on ``device``.
    """

    def __init__(self, body: BodyModel, input_kind: str = "proxy", size: int = 128,
                 dense_size: int = 32, device: str | torch.device = "cpu") -> None:
        if input_kind not in INPUT_KINDS:
            raise ValueError(f"input kind must be one of {INPUT_KINDS}, not {input_kind!r}")
        self.body = body.to(device)
        self.input_kind, self.size, self.dense_size = input_kind, size, dense_size
        self.device = torch.device(device)
        data = body.data
        self.faces = torch.as_tensor(data.faces, device=self.device)
        parts = torch.as_tensor(data.part_labels, device=self.device)
        self.face_part = raster.face_parts(self.faces, parts)
        self.face_coarse = torch.tensor(PART_TO_COARSE, device=self.device)[self.face_part]
        self.vertex_part = parts
        self.uv = torch.as_tensor(data.uv, dtype=torch.float32, device=self.device)

    def batch(self, split: str, seed: int, index: int, batch_size: int) -> Batch:
        gen = batch_generator(split, seed, index)
        poses = pose_prior.sample_poses(gen, batch_size)
        betas = pose_prior.sample_betas(gen, batch_size)
        rotmat = torch.cat([poses.global_orient[:, None], poses.body_pose], 1)
        dev = self.device
        with torch.no_grad():
            out = self.body(global_orient=rotmat[:, :1].to(dev), body_pose=rotmat[:, 1:].to(dev),
                            betas=betas.to(dev))
            cam = cameras.frame_cameras(gen, out.vertices.cpu()).to(dev)
            kp3d = out.keypoints("pymaf49")
            kp2d = project_to_crop(kp3d, cam)
            crop_points = self._crop_points(out.vertices, cam)
            frags = raster.rasterize(crop_points, self.faces, self.size, cull_backfaces=True)
            dense = raster.rasterize(crop_points, self.faces, self.dense_size,
                                     cull_backfaces=True)
            if self.input_kind == "proxy":
                inputs = self._proxy(gen, out, cam, frags)
            else:
                inputs = self._rgb(gen, out.vertices, frags)
            part = raster.part_labels(dense, self.face_part)
            coarse = raster.part_labels(dense, self.face_coarse)
            uv = raster.interpolate(dense, self.faces, self.uv)
        return Batch(inputs=inputs, rotmat=rotmat.to(dev), betas=betas.to(dev), cam=cam,
                     vertices=out.vertices, keypoints_3d=kp3d, keypoints_2d=kp2d,
                     keypoints_2d_valid=(kp2d.abs() <= 1).all(-1).float(),
                     part=part, coarse=coarse, uv=uv)

    @staticmethod
    def _crop_points(vertices: torch.Tensor, cam: torch.Tensor) -> torch.Tensor:
        """Vertices [B,V,3] -> crop x, y and camera depth z for the rasterizer."""
        xy = project_to_crop(vertices, cam)
        return torch.cat([xy, vertices[..., 2:]], -1)

    def _proxy(self, gen: torch.Generator, out, cam: torch.Tensor,
               frags: raster.Fragments) -> torch.Tensor:
        kp = out.keypoints("mediapipe33")
        exact = project_to_crop(kp, cam).cpu()
        extent = cam[:, 0].cpu() * (out.vertices[..., :2].amax(1) - out.vertices[..., :2].amin(1)
                                    ).amax(1).cpu()
        points, vis = proxy.observe_keypoints(gen, exact, kp[..., 2].cpu(), frags.depth.cpu(),
                                              extent)
        mask = proxy.observe_mask(gen, raster.silhouette(frags).cpu())
        mask, vis = proxy.add_occluders(gen, mask, points, vis)
        return proxy.proxy_maps(mask, points, vis).to(self.device)

    def _rgb(self, gen: torch.Generator, vertices: torch.Tensor,
             frags: raster.Fragments) -> torch.Tensor:
        b = vertices.shape[0]
        colors = clothing_colors(gen, b, self.vertex_part.cpu()).to(self.device)
        light = torch.nn.functional.normalize(torch.randn(b, 3, generator=gen)
                                              + torch.tensor([0.0, -0.5, -1.0]), dim=1)
        ambient = 0.25 + 0.35 * torch.rand(b, generator=gen)
        rgb = shading.shade(frags, self.faces, vertices, colors, light.to(self.device),
                            ambient.to(self.device))
        background = shading.random_backgrounds(gen, b, self.size).to(self.device)
        image = shading.composite(rgb, raster.silhouette(frags), background)
        mean = torch.tensor(IMAGENET_MEAN, device=self.device)
        image = (image - mean) / torch.tensor(IMAGENET_STD, device=self.device)
        return image.permute(0, 3, 1, 2).contiguous()
