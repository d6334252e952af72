"""Source and target pose distributions for PoseAug's cross-dataset experiment, made
from the studio's pose prior and the mannequin body (there is no Human3.6M or 3DHP here).

- *source* (the Human3.6M stand-in): upright everyday poses with mild variation, five
  body shapes, cameras at chest height (1.25-1.4 m), 3.5-5.5 m away, the person facing
  the camera's front half (yaw within +-70 degrees).
- *target* (the 3DHP stand-in): the whole prior (everyday poses incl. sitting,
  crouching, kneeling, lying, plus the training key poses), any yaw, cameras 0.3-2.6 m
  high and 2.5-7 m away, any shape.

Both aim their cameras at the pelvis give or take 0.2 m, so people are near the middle
of the picture in both: the shift is in pose, viewpoint, distance and shape.

A sample is PoseAug's: 16 joints in metres in camera coordinates (x right, y down,
z forward), a camera [9] (no distortion), and the 2D projection in normalized screen
coordinates. Arrays are made once per seed, in chunks, and cached as .npz.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from studio.body.registry import load_body_model
from studio.nets.poseaug_skeleton import project_to_2d
from studio.synth.key_poses import sample_broad_poses
from studio.synth.pose_prior import BASE_POSES, euler_to_rotmat, sample_betas, sample_poses
from studio.synth.smplr_points import PartialBody, layout_points

DEG = math.pi / 180.0
SOURCE_BASES = ("stand", "walk", "a-pose", "reach", "wave", "hands-on-hips", "arms-crossed",
                "arms-up")
SOURCE_SHAPES = 5
SOURCE_SHAPE_SEED = 7  # the source's five body shapes: training and the usual test share them
HELD_OUT_SHAPE_SEED = 1007  # five others, for a source test of unseen "subjects"
IMAGE_SIZE = 1000  # pixels, square, for the focal lengths
DISTRIBUTIONS = ("source", "target")


@dataclass
class PoseSet:
    """``poses`` [N,16,3] camera frame (m), ``cameras`` [N,9], ``pose_2d`` [N,16,2]."""

    poses: np.ndarray
    cameras: np.ndarray
    pose_2d: np.ndarray

    def __len__(self) -> int:
        return len(self.poses)

    def tensors(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return (torch.from_numpy(self.poses), torch.from_numpy(self.cameras),
                torch.from_numpy(self.pose_2d))


def view_groups(poses: torch.Tensor) -> dict[str, torch.Tensor]:
    """[N] masks: upright with the front seen (right hip on the image's left), upright
    with the back seen, and not upright (head less than 0.3 m above the hip: sitting low,
    lying, ...); camera frame, y down."""
    upright = poses[:, 9, 1] < poses[:, 0, 1] - 0.3
    front = poses[:, 1, 0] < poses[:, 4, 0]
    return {"upright_front": upright & front, "upright_back": upright & ~front,
            "not_upright": ~upright}


def _rot_y(angle: torch.Tensor) -> torch.Tensor:
    zero = torch.zeros_like(angle)
    return euler_to_rotmat(torch.stack([zero, angle, zero], -1))


def _source_poses(gen: torch.Generator, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Upright everyday poses: root [N,3,3] in the body frame (y up) facing +z, body."""
    keep = torch.tensor([list(BASE_POSES).index(b) for b in SOURCE_BASES])
    roots, bodies, have = [], [], 0
    while have < n:
        s = sample_poses(gen, 4 * n)
        ok = torch.isin(s.base, keep)
        roots.append(torch.eye(3).expand(int(ok.sum()), 3, 3))
        bodies.append(s.body_pose[ok])
        have += int(ok.sum())
    return torch.cat(roots)[:n], torch.cat(bodies)[:n]


def _camera_frame(joints_world: torch.Tensor, eye: torch.Tensor, target: torch.Tensor
                  ) -> torch.Tensor:
    """World points (y up) -> camera frame (x right, y down, z forward) of a camera at
    ``eye`` [N,3] looking at ``target`` [N,3] with no roll."""
    forward = target - eye
    forward = forward / forward.norm(dim=-1, keepdim=True)
    up = torch.tensor([0.0, 1.0, 0.0]).expand_as(forward)
    right = torch.cross(forward, up, dim=-1)
    right = right / right.norm(dim=-1, keepdim=True)
    down = torch.cross(forward, right, dim=-1)
    rot = torch.stack([right, down, forward], dim=1)  # rows: camera axes in world coords
    return torch.einsum("nij,nkj->nki", rot, joints_world - eye[:, None])


def make_set(kind: str, count: int, seed: int, body: PartialBody, chunk: int = 2000,
             shape_seed: int = SOURCE_SHAPE_SEED) -> PoseSet:
    """``count`` samples of ``kind`` ("source" or "target"), the same for the same seed;
    the source's body shapes are the five drawn by ``shape_seed``."""
    if kind not in DISTRIBUTIONS:
        raise ValueError(f"unknown distribution {kind!r} (use {', '.join(DISTRIBUTIONS)})")
    gen = torch.Generator().manual_seed(int(seed) * 2 + DISTRIBUTIONS.index(kind))
    shapes = sample_betas(torch.Generator().manual_seed(shape_seed), SOURCE_SHAPES, scale=0.8)
    out_p, out_c, out_2 = [], [], []
    for start in range(0, count, chunk):
        n = min(chunk, count - start)
        u = lambda: torch.rand(n, generator=gen)  # noqa: E731
        if kind == "source":
            root, body_pose = _source_poses(gen, n)
            betas = shapes[torch.randint(0, SOURCE_SHAPES, (n,), generator=gen)]
            yaw = (u() * 2 - 1) * 70 * DEG
            distance = 3.5 + 2.0 * u()
            height = 1.25 + 0.15 * u()  # chest height
        else:
            root, body_pose = sample_broad_poses(gen, n)
            betas = sample_betas(gen, n)
            yaw = (u() * 2 - 1) * math.pi
            distance = 2.5 + 4.5 * u()
            height = 0.3 + 2.3 * u()
        root = _rot_y(yaw) @ root
        with torch.no_grad():
            _, sources, _ = body(root, body_pose, betas)
        joints = layout_points(sources, "poseaug16")
        joints = joints - joints[:, :1]
        joints[..., 1] -= joints[..., 1].min(dim=1, keepdim=True).values  # on the ground
        pelvis = joints[:, 0]
        # The body faces +z: a camera on the +z side sees its front at yaw 0.
        eye = torch.stack([pelvis[:, 0], height, pelvis[:, 2] + distance], -1)
        look = pelvis + (torch.rand(n, 3, generator=gen) * 2 - 1) * 0.2
        cam_joints = _camera_frame(joints, eye, look)
        focal = (2.0 + 0.6 * u()) if kind == "target" else (2.2 + 0.2 * u())
        cx, cy = (u() - 0.5) * 0.04, (u() - 0.5) * 0.04
        zeros = torch.zeros(n)
        cameras = torch.stack([focal, focal, cx, cy, zeros, zeros, zeros, zeros, zeros], -1)
        out_p.append(cam_joints)
        out_c.append(cameras)
        out_2.append(project_to_2d(cam_joints, cameras))
    cat = lambda xs: torch.cat(xs).numpy().astype(np.float32)  # noqa: E731
    return PoseSet(cat(out_p), cat(out_c), cat(out_2))


def load_or_make(folder: Path, kind: str, count: int, seed: int,
                 shape_seed: int = SOURCE_SHAPE_SEED) -> PoseSet:
    """The cached set ``folder/{kind}-{count}-{seed}.npz`` (``-shapes{shape_seed}`` before
    the suffix for a source of other shapes), made (and cached) if absent."""
    other = kind == "source" and shape_seed != SOURCE_SHAPE_SEED
    path = Path(folder) / f"{kind}-{count}-{seed}{f'-shapes{shape_seed}' if other else ''}.npz"
    if path.exists():
        with np.load(path) as z:
            return PoseSet(z["poses"], z["cameras"], z["pose_2d"])
    body = PartialBody(load_body_model("mannequin"))
    data = make_set(kind, count, seed, body, shape_seed=shape_seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npz")
    np.savez(tmp, poses=data.poses, cameras=data.cameras, pose_2d=data.pose_2d)
    tmp.replace(path)
    return data
