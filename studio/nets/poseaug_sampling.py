"""Drawing augmentations of given 3D poses with the augmentor, reproducibly, with each
stage switchable and its strength set (used by ``studio poseaug augment`` and the panel).

A stage's strength s scales what it does: BA moves each bone direction s of the way to
the augmentor's (then renormalises), BL multiplies the ratios by s, RT scales the
rotation angle by s and moves the root s of the way to the augmentor's translation.
s = 1 is the augmentor itself; s = 0 (or a stage switched off) leaves that stage out.
"""
from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
import torch

from studio.nets.poseaug_augmentor import (STAGES, PoseAugmentor, angle_axis_to_matrix,
                                           apply_length_ratios, draw_noise)
from studio.nets.poseaug_skeleton import (JOINT_NAMES, PART_NAMES, bone_lengths,
                                          pose_from_bones, project_to_2d, root_relative,
                                          unit_bones)

DEFAULT_CAMERA = (2.3, 2.3, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)  # Human3.6M-like, no distortion
PLACE_DEPTH = 4.5  # metres: where poses that are not in front of the camera are put
MAX_STRENGTH = 2.0


@dataclass
class Augmented:
    """Every stage's poses [N,16,3] and projections [N,16,2], the parameters and noise."""

    source_index: torch.Tensor  # [N] which input pose each sample augments
    cameras: torch.Tensor  # [N,9]
    poses: dict[str, torch.Tensor]  # "input", "ba", "bl", "rt"
    pose_2d: dict[str, torch.Tensor]
    ba_diff: torch.Tensor  # [N,15]
    blr: torch.Tensor  # [N,9]
    rot: torch.Tensor  # [N,3]
    trans: torch.Tensor  # [N,3]
    noise: dict[str, torch.Tensor]  # [N,48] each


def place_in_front(poses: torch.Tensor, depth: float = PLACE_DEPTH
                   ) -> tuple[torch.Tensor, torch.Tensor]:
    """Poses with a joint at depth <= 0.1 m (e.g. root-relative ones) moved so their root is
    at (0, 0, ``depth``); returns (poses, [P] bool moved)."""
    moved = (poses[..., 2] <= 0.1).any(dim=1)
    shift = torch.tensor([0.0, 0.0, depth]) - poses[:, 0]
    return torch.where(moved[:, None, None], poses + shift[:, None], poses), moved


def check_stages(stages: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    bad = [s for s in stages if s not in STAGES]
    if bad or not stages:
        raise ValueError(f"stages must be some of {', '.join(STAGES)} "
                         f"(got {', '.join(stages) or 'none'})")
    return tuple(stages)


def check_strength(strength: dict[str, float]) -> dict[str, float]:
    out = {s: 1.0 for s in STAGES}
    for stage, value in strength.items():
        if stage not in STAGES:
            raise ValueError(f"unknown stage {stage!r} in the strengths "
                             f"(use {', '.join(STAGES)})")
        if not 0.0 <= float(value) <= MAX_STRENGTH:
            raise ValueError(f"strength of {stage} must be in [0, {MAX_STRENGTH:g}], got {value}")
        out[stage] = float(value)
    return out


@torch.no_grad()
def augment_poses(aug: PoseAugmentor, poses: torch.Tensor, count: int, seed: int,
                  stages: tuple[str, ...] = STAGES, strength: dict[str, float] | None = None,
                  cameras: torch.Tensor | None = None) -> Augmented:
    """``count`` augmentations of each pose [P,16,3] (metres, camera frame); the same seed
    gives the same samples. ``cameras`` [P,9] (default: :data:`DEFAULT_CAMERA`)."""
    stages = check_stages(stages)
    s = check_strength(strength or {})
    aug.eval()
    poses = poses.float()
    p = len(poses)
    index = torch.arange(p).repeat_interleave(count)
    cams = torch.tensor(DEFAULT_CAMERA).expand(p, 9) if cameras is None else cameras.float()
    cams = cams[index]
    x = poses[index]
    noise = draw_noise(len(x), seed)
    out = aug(x, **noise)
    pose_ba, ba_diff = x, torch.zeros(len(x), 15)
    if "ba" in stages and s["ba"] > 0:
        unit, length = unit_bones(root_relative(x)), bone_lengths(root_relative(x))
        new = unit_bones(root_relative(out["pose_ba"]))
        mixed = unit + s["ba"] * (new - unit)
        mixed = mixed / mixed.norm(dim=-1, keepdim=True)
        pose_ba = pose_from_bones(mixed * length) + x[:, :1]
        ba_diff = 1 - (mixed * unit).sum(-1)
    blr = out["blr"] * s["bl"] if "bl" in stages else torch.zeros_like(out["blr"])
    pose_bl = apply_length_ratios(pose_ba, blr)
    rot, trans = torch.zeros(len(x), 3), pose_bl[:, 0].clone()
    pose_rt = pose_bl
    if "rt" in stages and s["rt"] > 0:
        rot = out["rot"] * s["rt"]
        trans = x[:, 0] + s["rt"] * (out["trans"] - x[:, 0])
        turned = torch.matmul(angle_axis_to_matrix(rot), root_relative(pose_bl).transpose(1, 2))
        pose_rt = turned.transpose(1, 2) + trans[:, None]
    staged = {"input": x, "ba": pose_ba, "bl": pose_bl, "rt": pose_rt}
    return Augmented(source_index=index, cameras=cams, poses=staged,
                     pose_2d={k: project_to_2d(v, cams) for k, v in staged.items()},
                     ba_diff=ba_diff, blr=blr, rot=rot, trans=trans, noise=noise)


@torch.no_grad()
def discriminator_scores(d3d: torch.nn.Module, d2d: torch.nn.Module, pose_3d: torch.Tensor,
                         pose_2d: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """[N,5] part scores of the 3D discriminator and [N] 2D scores (raw; LSGAN: 1 = looks
    real, 0 = looks augmented)."""
    d3d.eval()
    d2d.eval()
    return d3d(pose_3d), d2d(pose_2d)[:, 0]


def augmented_npz_bytes(out: Augmented, placed: torch.Tensor, moved: torch.Tensor, seed: int,
                        count: int, stages: tuple[str, ...], strength: dict[str, float],
                        scores: tuple[torch.Tensor, torch.Tensor] | None = None) -> bytes:
    """The augmented 2D-3D pairs as an .npz: ``poses_{input,ba,bl,rt}`` [N,16,3],
    ``pose_2d_*`` [N,16,2], ``cameras``, per-stage parameters (``ba_diff``, ``blr``, ``rot``,
    ``trans``), the noise, ``seed``/``count``/``stages``/``strength``, and the
    discriminators' scores of the RT samples when given."""
    arrays = {"input_poses": placed.numpy(), "moved_to_front": moved.numpy(),
              "source_index": out.source_index.numpy(), "cameras": out.cameras.numpy(),
              "ba_diff": out.ba_diff.numpy(), "blr": out.blr.numpy(), "rot": out.rot.numpy(),
              "trans": out.trans.numpy(), "seed": np.int64(seed), "count": np.int64(count),
              "stages": np.array(",".join(stages)),
              "strength": np.array([strength.get(s, 1.0) for s in STAGES], np.float32),
              "joint_names": np.array(JOINT_NAMES)}
    for stage in ("input", "ba", "bl", "rt"):
        arrays[f"poses_{stage}"] = out.poses[stage].numpy()
        arrays[f"pose_2d_{stage}"] = out.pose_2d[stage].numpy()
    for name, value in out.noise.items():
        arrays[name] = value.numpy()
    if scores is not None:
        arrays["d3d_scores"], arrays["d2d_scores"] = scores[0].numpy(), scores[1].numpy()
        arrays["d3d_part_names"] = np.array(PART_NAMES)
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()
