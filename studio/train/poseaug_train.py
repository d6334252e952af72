"""``studio train poseaug``: the cross-distribution experiment of PoseAug on synthetic data.

Phases, in order, all on the *source* distribution only (see
:mod:`studio.synth.poseaug_data`):

1. ``pretrain``: the estimator (SimpleBaseline) on source 2D-3D pairs.
2. ``source-only``: that estimator trained on, real pairs only (two passes an epoch).
3. ``random``: the same, one pass an epoch on randomly augmented pairs (BA/BL/RT drawn
   uniformly within the augmentor's ranges), one on real pairs.
4. ``poseaug``: the augmentor and both discriminators trained jointly with the
   estimator as in the official ``run_poseaug.py``: a GAN pass an epoch (LSGAN, range
   losses, error feedback after the warm-up, discriminators every ``df`` steps with a
   pool of past fakes), then one estimator pass on that epoch's valid augmented pairs
   and one on real pairs.

The run folder keeps ``checkpoint.pt`` (atomic, after every epoch; re-running the same
command resumes) and ``log.jsonl``. At the end the weights go to ``out`` in the official
file layouts (see :func:`studio.nets.poseaug_files.save_official`).
"""
from __future__ import annotations

import json
import math
import time
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch.optim.swa_utils import AveragedModel, update_bn

from studio.body.storage import atomic_torch_save
from studio.nets.poseaug_augmentor import NOISE, PoseAugmentor, angle_axis_to_matrix, \
    apply_length_ratios, rotation_degrees
from studio.nets.poseaug_discriminators import PoseDiscriminator2D, PoseDiscriminator3D
from studio.nets.poseaug_estimators import SimpleBaseline
from studio.nets.poseaug_files import save_official
from studio.nets.poseaug_skeleton import FIXED_ANGLE_BONES, bone_lengths, pose_from_bones, \
    project_to_2d, root_relative, unit_bones
from studio.synth.poseaug_data import PoseSet, load_or_make, view_groups
from studio.train import poseaug_losses as L

PHASES = ("pretrain", "source-only", "random", "poseaug")
VARIANTS = PHASES[1:]
# Named settings for ``studio train poseaug --recipe``: "shipped" remade the files in
# models/poseaug byte for byte (with --half --seed 0; the model card has the long form).
RECIPES = {"shipped": {
    "width": 1024, "real_passes": 2, "rotation_start": 1.0, "d2d_turn": 0.5,
    "d2d_rotate": 0.15, "gloss_factorms": 0.05, "epochs": 18, "fake_memory": 4,
    "cooldown": 4, "fake_keep": 0.8, "hardratio_ba_s": 1.5, "hardratio_ba": 2.5,
    "hardratio_std_ba": 1.0, "blr_limit": 0.05, "hardratio_rt_s": 4.25,
    "hardratio_rt": 4.25, "hardratio_std_rt": 3.75}}


@dataclass
class PoseAugConfig:
    """Everything that defines a run (the official defaults where PoseAug has one)."""

    train_samples: int = 40000
    width: int = 512  # the estimator's hidden width (official: 1024)
    stages: int = 2
    dropout: float = 0.25
    batch_size: int = 256
    pretrain_epochs: int = 6
    epochs: int = 12
    warmup: int = 2
    real_passes: int = 1  # estimator passes on real pairs per augmented epoch (ours)
    random_recipe: str = "uniform"  # ours: the random phase's augmentation (RANDOM_RECIPES)
    random_rotate: float = 0.15  # ours: "views" recipe's share turned by any rotation
    lr_p: float = 5e-4
    lr_g: float = 1e-4
    lr_d: float = 1e-4
    df: int = 2
    hardratio_ba_s: float = 3.0
    hardratio_ba: float = 5.0
    hardratio_std_ba: float = 2.0
    hardratio_rt_s: float = 17.0
    hardratio_rt: float = 17.0
    hardratio_std_rt: float = 15.0
    ba_range_m: float = 0.205
    ba_range_w: float = 0.165
    blr_limit: float = 0.1
    gloss_factord2d: float = 1.0
    gloss_factord3d: float = 6.0
    gloss_factordiff: float = 3.0
    gloss_factorfeedback_ba: float = 0.1
    gloss_factorfeedback_rt: float = 0.01
    gloss_factorframe: float = 10.0  # ours: keeps RT samples in the picture
    gloss_factorms: float = 0.0  # ours: mode-seeking weight on the RT rotation (0: off)
    gloss_factorms_trans: float = 0.0  # ours: ... and on the RT translation (0: off)
    rotation_start: float = 0.1  # ours: initial weight scale of the rotation output layer
    d2d_mirror: float = 0.0  # ours: share of the 2D discriminator's reals seen from behind
    d2d_scale: float = 1.0  # ours: ... and nearer/farther (2D scaled by up to this factor)
    d2d_turn: float = 0.0  # ours: share of the 2D discriminator's reals turned to any yaw
    d2d_tilt: float = 0.45  # ours: ... and tilted by up to this many radians
    d2d_rotate: float = 0.0  # ours: share of its reals seen after any rotation
    pool_size: int = 4096
    poseaug_epochs: int = 0  # ours: the PoseAug phase's epochs (0: --epochs, as the others)
    fake_memory: int = 1  # ours: its estimator's augmented pass draws from the last N epochs
    gan_warmup: int = 0  # ours: augmentor/discriminator epochs before the estimator's first
    mix_fakes: bool = False  # ours: augmented and real pairs share the estimator's batches
    feedback_eval: bool = False  # ours: the feedback scores the estimator as test runs it
    val_samples: int = 0  # ours: held-out source pairs scored after every epoch (0: none)
    pick: str = "last"  # ours: each estimator's final ("last") or best "source-val" epoch
    average_last: int = 0  # ours: each estimator is the mean of its last N epochs (0: off)
    cooldown: int = 0  # ours: the PoseAug estimator's last N epochs make only real passes
    cooldown_rehearse: bool = False  # ours: ... and rehearse remembered off-source views
    pose_loss: str = "mse"  # the estimators' loss: "mse" (official), "mpjpe" or "huber"
    fake_keep: float = 1.0  # ours: share of valid augmented pairs kept, most plausible first
    seed: int = 0
    threads: int = 1
    device: str = "cpu"  # where the nets and data live (cuda: random draws differ from cpu)

    def __post_init__(self) -> None:
        for name in ("train_samples", "width", "stages", "batch_size", "epochs", "df",
                     "pool_size", "real_passes"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name.replace('_', '-')} must be at least 1")
        if self.d2d_scale < 1 or not 0 <= self.d2d_mirror <= 1 or self.rotation_start <= 0:
            raise ValueError("d2d-scale must be at least 1, d2d-mirror within 0-1 and "
                             "rotation-start above 0")
        if min(self.d2d_turn, self.d2d_rotate, self.d2d_tilt) < 0 or \
                self.d2d_turn + self.d2d_rotate > 1:
            raise ValueError("d2d-turn, d2d-rotate and d2d-tilt must be at least 0 and "
                             "d2d-turn + d2d-rotate at most 1")
        if self.pick not in ("last", "source-val") or \
                (self.pick == "source-val" and self.val_samples < 1):
            raise ValueError("pick must be last or source-val (which needs val-samples)")
        if self.pose_loss not in POSE_LOSSES:
            raise ValueError(f"pose-loss must be one of {', '.join(POSE_LOSSES)}")
        if self.random_recipe not in RANDOM_RECIPES or not 0 <= self.random_rotate <= 1:
            raise ValueError("random-recipe must be uniform or views and random-rotate "
                             "within 0-1")
        if self.poseaug_epochs < 0 or self.fake_memory < 1:
            raise ValueError("poseaug-epochs must be at least 0 and fake-memory at least 1")
        if not 0 < self.fake_keep <= 1:
            raise ValueError("fake-keep must be above 0 and at most 1")
        if self.gan_warmup < 0:
            raise ValueError("gan-warmup must be at least 0")
        if self.average_last < 0 or (self.average_last and self.pick != "last"):
            raise ValueError("average-last must be at least 0, and needs --pick last")
        if not 0 <= self.warmup < self.gan_epochs():
            raise ValueError("--warmup must be at least 0 and below the PoseAug phase's "
                             "epochs")
        if not 0 <= self.cooldown < self.phase_epochs("poseaug") - self.warmup:
            raise ValueError("cooldown must be at least 0 and leave the PoseAug phase an "
                             "epoch with augmented pairs after its warmup")
        if self.cooldown_rehearse and not self.cooldown:
            raise ValueError("cooldown-rehearse needs a cooldown")

    def phase_epochs(self, phase: str) -> int:
        """How many epochs ``phase`` runs."""
        if phase == "pretrain":
            return self.pretrain_epochs
        return self.poseaug_epochs or self.epochs if phase == "poseaug" else self.epochs

    def gan_epochs(self) -> int:
        """The augmentor's epochs: its warm-up (the estimator frozen), then one per
        estimator epoch of the PoseAug phase. ``warmup`` and the feedback's hardness
        schedule count these."""
        return self.gan_warmup + self.phase_epochs("poseaug")


def _estimator(config: PoseAugConfig) -> SimpleBaseline:
    return SimpleBaseline(config.width, config.stages, config.dropout)


def near_identity_augmentor(mean_root: torch.Tensor, rotation_start: float = 0.1
                            ) -> PoseAugmentor:
    """An augmentor whose first outputs barely change a pose and keep it at ``mean_root``
    (small last layers; the depth bias is the root of the mean depth, since the depth
    output is squared), so the GAN starts from plausible samples. The rotation layer's
    weights are scaled by ``rotation_start`` instead (1: its full initial spread of
    viewpoints)."""
    g = PoseAugmentor()
    with torch.no_grad():
        for last, scale in ((g.BAprocess.w2, 0.1), (g.BLprocess.w2_BL, 0.1),
                            (g.RTprocess.w2_R, rotation_start), (g.RTprocess.w2_T, 0.1)):
            last.weight.mul_(scale)
            last.bias.zero_()
        g.RTprocess.w2_T.bias.copy_(torch.stack([mean_root[0], mean_root[1],
                                                 mean_root[2].clamp(min=0).sqrt()]))
    return g


class FakePool:
    """A pool of past fakes (Shrivastava et al.): once full, each new sample is swapped,
    half the time, for a stored one (each in its own slot), which the discriminator sees
    instead."""

    def __init__(self, size: int, items: torch.Tensor | None = None) -> None:
        self.size = size
        self.items = items

    def __call__(self, batch: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        batch = batch.detach()
        if self.items is None:
            self.items = batch[:self.size].clone()
            return batch
        room = self.size - len(self.items)
        if room > 0:
            self.items = torch.cat([self.items, batch[:room]])
            return batch
        swap = torch.rand(len(batch), generator=gen) > 0.5
        swap[self.size:] = False  # a pool smaller than the batch swaps at most its size
        slots = torch.randperm(self.size, generator=gen)[:int(swap.sum())]
        out = batch.clone()
        out[swap] = self.items[slots]  # distinct slots: one gather and one scatter
        self.items[slots] = batch[swap]
        return out


def _uniform_rotations(count: int, gen: torch.Generator) -> torch.Tensor:
    """[count,3,3] rotations with axis-angle components uniform in the augmentor's +-pi."""
    return angle_axis_to_matrix((torch.rand(count, 3, generator=gen) * 2 - 1) * 3.1415)


def _axis_rotations(axis: int, angle: torch.Tensor) -> torch.Tensor:
    r = torch.zeros(len(angle), 3)
    r[:, axis] = angle
    return angle_axis_to_matrix(r)


def _jitter_bones(x: torch.Tensor, gen: torch.Generator, jitter: float = 0.45) -> torch.Tensor:
    """Root-relative ``x`` with bone directions jittered by N(0, ``jitter``) and renormalised
    (bones 6, 7 kept) and group-shared bone-length ratios uniform in +-0.2 (spine-thorax
    kept): the random stand-in for PoseAug's BA and BL stages."""
    unit, length = unit_bones(x), bone_lengths(x)
    moved = unit + torch.randn(unit.shape, generator=gen) * jitter
    moved = moved / moved.norm(dim=-1, keepdim=True)
    moved[:, list(FIXED_ANGLE_BONES)] = unit[:, list(FIXED_ANGLE_BONES)]
    posed = pose_from_bones(moved * length)
    blr = (torch.rand(len(x), 9, generator=gen) * 2 - 1) * 0.2
    blr[:, 4] = 0.0
    return apply_length_ratios(posed, blr)


def random_augment(pose: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """The plain baseline: bones jittered as :func:`_jitter_bones` (1 - cos about PoseAug's
    target 0.2), then an axis-angle rotation uniform in the augmentor's +-pi range about
    the root, which stays where it was."""
    posed = _jitter_bones(root_relative(pose), gen)
    return torch.matmul(_uniform_rotations(len(pose), gen), posed.transpose(1, 2)
                        ).transpose(1, 2) + pose[:, :1]


def view_augment(pose: torch.Tensor, gen: torch.Generator, rotate: float = 0.15,
                 tilt: float = 0.45, depth: tuple[float, float] = (2.5, 7.5)) -> torch.Tensor:
    """The hand-made recipe the earlier sessions found to help the target (``--random-recipe
    views``): bones jittered as :func:`_jitter_bones`, the person turned about the root to
    any yaw (camera's vertical axis) and tilted by up to ``tilt`` radians (other camera
    heights), a share ``rotate`` turned by any rotation instead (upright people become
    lying ones), and the root moved along its line of sight to a depth uniform in
    ``depth`` metres."""
    b = len(pose)
    posed = _jitter_bones(root_relative(pose), gen)
    turned = _axis_rotations(0, (torch.rand(b, generator=gen) * 2 - 1) * tilt) @ \
        _axis_rotations(1, (torch.rand(b, generator=gen) * 2 - 1) * math.pi)
    pick = torch.rand(b, generator=gen) < rotate
    rot = torch.where(pick[:, None, None], _uniform_rotations(b, gen), turned)
    far = depth[0] + (depth[1] - depth[0]) * torch.rand(b, generator=gen)
    root = pose[:, :1] / pose[:, :1, 2:] * far[:, None, None]
    return posed @ rot.transpose(1, 2) + root


RANDOM_RECIPES = {"uniform": lambda pose, gen, config: random_augment(pose, gen),
                  "views": lambda pose, gen, config: view_augment(pose, gen,
                                                                  config.random_rotate)}


def d2d_real_views(pose_2d: torch.Tensor, mirror: float, scale: float,
                   gen: torch.Generator) -> torch.Tensor:
    """The 2D discriminator's real samples: source 2D poses, a share ``mirror`` of them seen
    from behind (mirrored about the root without swapping sides: exact for an
    orthographic camera) and scaled about the root by a log-uniform factor in
    [1/``scale``, ``scale``] (the same person nearer or farther). The source cameras all
    see the front at one distance; without this the 2D discriminator forbids the RT stage
    the views the paper's rotation exists to make."""
    b = len(pose_2d)
    root = pose_2d[:, :1]
    x = pose_2d - root
    flip = torch.rand(b, generator=gen) < mirror
    x = torch.where(flip[:, None, None], x * torch.tensor([-1.0, 1.0]), x)
    factor = torch.exp((torch.rand(b, generator=gen) * 2 - 1) * math.log(scale))
    return x * factor[:, None, None] + root


def d2d_turned_views(poses: torch.Tensor, cameras: torch.Tensor, pose_2d: torch.Tensor,
                     turn: float, tilt: float, rotate: float, gen: torch.Generator
                     ) -> torch.Tensor:
    """The 2D discriminator's real samples from source pairs: a share ``turn`` of the
    people turned about the root to any yaw (the camera's vertical axis) and tilted by up
    to ``tilt`` radians about its horizontal axis (other camera heights), a share
    ``rotate`` turned by any rotation (the augmentor's +-pi axis-angle range), both
    projected through their own cameras; the rest as they are. The poses stay the
    source's: this widens only the viewpoints the 2D discriminator accepts, which is
    what PoseAug's RT stage exists to change and what the front-half source cameras
    never show."""
    if turn + rotate == 0:  # draws nothing: runs without these views repeat exactly
        return pose_2d
    b = len(poses)
    pick = torch.rand(b, generator=gen)
    turned = _axis_rotations(0, (torch.rand(b, generator=gen) * 2 - 1) * tilt) @ \
        _axis_rotations(1, (torch.rand(b, generator=gen) * 2 - 1) * math.pi)
    rot = torch.where((pick < rotate)[:, None, None], _uniform_rotations(b, gen), turned)
    moved = (pick < turn + rotate)
    if not moved.any():
        return pose_2d
    x = root_relative(poses[moved]) @ rot[moved].transpose(1, 2) + poses[moved][:, :1]
    out = pose_2d.clone()
    out[moved] = project_to_2d(x, cameras[moved])
    return out


def valid_samples(pose_3d: torch.Tensor, pose_2d: torch.Tensor) -> torch.Tensor:
    """[B] bool: in front of the camera and inside the image (the official check)."""
    return (pose_3d[..., 2] > 0.1).all(1) & (pose_2d.abs() <= 1).all(-1).all(-1)


def _batches(n: int, batch: int, gen: torch.Generator) -> list[torch.Tensor]:
    order = torch.randperm(n, generator=gen)
    return [order[i:i + batch] for i in range(0, n - batch + 1, batch)]


POSE_LOSSES = {"mse": torch.nn.functional.mse_loss, "mpjpe": L.mpjpe_loss,
               "huber": L.huber_joint_loss}


def estimator_pass(model: SimpleBaseline, opt: torch.optim.Optimizer, poses: torch.Tensor,
                   pose_2d: torch.Tensor, batch: int, gen: torch.Generator,
                   loss_name: str = "mse") -> float:
    """One epoch of ``loss_name`` (:data:`POSE_LOSSES`) on root-relative targets
    (gradient norm clipped at 1)."""
    model.train()
    criterion = POSE_LOSSES[loss_name]
    total = 0.0
    idx_list = _batches(len(poses), batch, gen)
    for idx in idx_list:
        loss = criterion(model(pose_2d[idx]), root_relative(poses[idx]))
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=1)
        opt.step()
        total += loss.item()
    return total / max(1, len(idx_list))


def real_passes(model: SimpleBaseline, opt: torch.optim.Optimizer,
                data: tuple[torch.Tensor, torch.Tensor, torch.Tensor], passes: int,
                batch: int, gen: torch.Generator, loss_name: str = "mse") -> float:
    """``passes`` epochs on the real (source) pairs; their mean loss."""
    poses, _, pose_2d = data
    return sum(estimator_pass(model, opt, poses, pose_2d, batch, gen, loss_name)
               for _ in range(passes)) / passes


def mixed_pass(model: SimpleBaseline, opt: torch.optim.Optimizer,
               fakes: tuple[torch.Tensor, torch.Tensor],
               data: tuple[torch.Tensor, torch.Tensor, torch.Tensor], passes: int,
               batch: int, gen: torch.Generator, loss_name: str = "mse") -> float:
    """The augmented pairs and ``passes`` copies of the real ones in one shuffled epoch:
    the same samples and steps as an augmented pass followed by the real passes, but each
    batch holds both kinds, so batch normalisation sees in training the mixed statistics
    its running averages hold at test (separate passes normalise augmented batches by
    their own statistics, and the running averages end up the real pairs')."""
    poses, _, pose_2d = data
    return estimator_pass(model, opt, torch.cat([fakes[0]] + [poses] * passes),
                          torch.cat([fakes[1]] + [pose_2d] * passes), batch, gen, loss_name)


class GANParts:
    """The augmentor, discriminators, their optimizers and fake pools."""

    def __init__(self, config: PoseAugConfig, mean_root: torch.Tensor) -> None:
        self.g = near_identity_augmentor(mean_root, config.rotation_start)
        self.d3d, self.d2d = PoseDiscriminator3D(), PoseDiscriminator2D()
        self.opt_g = torch.optim.Adam(self.g.parameters(), lr=config.lr_g)
        self.opt_d3d = torch.optim.Adam(self.d3d.parameters(), lr=config.lr_d)
        self.opt_d2d = torch.optim.Adam(self.d2d.parameters(), lr=config.lr_d)
        self.pool3d, self.pool2d = FakePool(config.pool_size), FakePool(config.pool_size)

    def state(self) -> dict:
        return {"g": self.g.state_dict(), "d3d": self.d3d.state_dict(),
                "d2d": self.d2d.state_dict(), "opt_g": self.opt_g.state_dict(),
                "opt_d3d": self.opt_d3d.state_dict(), "opt_d2d": self.opt_d2d.state_dict(),
                "pool3d": self.pool3d.items, "pool2d": self.pool2d.items}

    def load(self, state: dict) -> None:
        for name in ("g", "d3d", "d2d", "opt_g", "opt_d3d", "opt_d2d"):
            getattr(self, name).load_state_dict(state[name])
        self.pool3d.items, self.pool2d.items = state["pool3d"], state["pool2d"]


def _train_discriminator(d: torch.nn.Module, opt: torch.optim.Optimizer, real: torch.Tensor,
                         fake: torch.Tensor) -> float:
    loss = 0.5 * (L.lsgan(d(real), True) + L.lsgan(d(fake), False))
    opt.zero_grad()
    loss.backward()
    torch.nn.utils.clip_grad_norm_(d.parameters(), max_norm=1)
    opt.step()
    return loss.item()


def rt_spread(g: PoseAugmentor, pose: torch.Tensor, out: dict[str, torch.Tensor],
              noise: dict[str, torch.Tensor], part: str) -> torch.Tensor:
    """Mode seeking (Mao et al., CVPR 2019) on the RT stage: how far its rotation (``part``
    "rot", as rotation matrices) or translation ("trans", metres) moves per unit of that
    part's noise, mean |out(z1) - out(z2)| / mean |z1 - z2| between the pass that made
    ``out`` and one with fresh noise for that part. Its inverse, as a loss, keeps the
    augmentor from turning or placing every person of a batch the same way."""
    key = f"noise_{part}"
    other = torch.randn_like(noise[key])
    rt_noise = {k: other if k == key else noise[k] for k in ("noise_rot", "noise_trans")}
    _, rot, trans = g.RTprocess(pose, out["pose_bl"], rt_noise["noise_rot"],
                                rt_noise["noise_trans"])
    if part == "rot":
        moved = (angle_axis_to_matrix(out["rot"]) - angle_axis_to_matrix(rot)).abs().mean()
    else:
        moved = (out["trans"] - trans).abs().mean()
    return moved / (noise[key] - other).abs().mean()


def gan_pass(config: PoseAugConfig, parts: GANParts, model: SimpleBaseline,
             data: tuple[torch.Tensor, torch.Tensor, torch.Tensor], epoch: int,
             gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, dict]:
    """One epoch of augmentor/discriminator training; returns the epoch's valid augmented
    (3D, 2D) pairs for the estimator and mean losses."""
    poses, cameras, pose_2d = data
    g, d3d, d2d = parts.g, parts.d3d, parts.d2d
    for m in (g, d3d, d2d):
        m.train()
    model.train(not config.feedback_eval)  # eval: running statistics, no dropout, as tested
    epochs = config.gan_epochs()
    ratio_ba = L.hard_ratio(config.hardratio_ba_s, config.hardratio_ba, epoch, epochs)
    ratio_rt = L.hard_ratio(config.hardratio_rt_s, config.hardratio_rt, epoch, epochs)
    seeking = {part: w for part, w in (("rot", config.gloss_factorms),
                                       ("trans", config.gloss_factorms_trans)) if w > 0}
    kept3, kept2, logs = [], [], []
    for step, idx in enumerate(_batches(len(poses), config.batch_size, gen)):
        real3, cam, real2 = poses[idx], cameras[idx], pose_2d[idx]
        for p in list(d3d.parameters()) + list(d2d.parameters()) + list(model.parameters()):
            p.requires_grad_(False)
        noise = {} if not seeking else \
            {f"noise_{k}": torch.randn(len(idx), NOISE) for k in ("ba", "bl", "rot", "trans")}
        out = g(real3, **noise)
        fake2_ba = project_to_2d(out["pose_ba"], cam)
        fake2_rt = project_to_2d(out["pose_rt"], cam)
        adv = config.gloss_factord3d * 0.5 * L.lsgan(d3d(out["pose_ba"]), True) + \
            config.gloss_factord2d * 0.5 * L.lsgan(d2d(fake2_rt), True)
        diff = L.range_loss(out["ba_diff"].mean(-1), config.ba_range_m, config.ba_range_w) + \
            L.rectified_l2(out["blr"], config.blr_limit)
        loss = adv + config.gloss_factordiff * diff + \
            config.gloss_factorframe * L.frame_loss(out["pose_rt"], cam)
        spread = {part: rt_spread(g, real3, out, noise, part) for part in seeking}
        for part, weight in seeking.items():
            loss = loss + weight / (spread[part] + 1e-5)
        feedback = torch.zeros(())
        if epoch > config.warmup:
            origin = L.grouped_error(model(real2), real3)
            err_ba = L.grouped_error(model(fake2_ba), out["pose_ba"])
            err_rt = L.grouped_error(model(fake2_rt), out["pose_rt"])
            feedback = config.gloss_factorfeedback_ba * L.feedback_loss(
                err_ba, origin, ratio_ba, config.hardratio_std_ba) + \
                config.gloss_factorfeedback_rt * L.feedback_loss(
                    err_rt, origin, ratio_rt, config.hardratio_std_rt)
            loss = loss + feedback
        parts.opt_g.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(g.parameters(), max_norm=1)
        parts.opt_g.step()
        for p in list(d3d.parameters()) + list(d2d.parameters()):
            p.requires_grad_(True)
        for p in model.parameters():
            p.requires_grad_(True)
        d_losses = (float("nan"), float("nan"))
        if step % config.df == 0:
            d_losses = (
                _train_discriminator(d3d, parts.opt_d3d, real3,
                                     parts.pool3d(out["pose_ba"], gen)),
                _train_discriminator(d2d, parts.opt_d2d,
                                     d2d_real_views(d2d_turned_views(
                                         real3, cam, real2, config.d2d_turn, config.d2d_tilt,
                                         config.d2d_rotate, gen),
                                         config.d2d_mirror, config.d2d_scale, gen),
                                     parts.pool2d(fake2_rt, gen)))
        rt3, rt2 = out["pose_rt"].detach(), fake2_rt.detach()
        valid = valid_samples(rt3, rt2)
        ok = valid if config.fake_keep == 1 else \
            most_plausible(d3d, out["pose_ba"].detach(), valid, config.fake_keep)
        kept3.append(rt3[ok])
        kept2.append(rt2[ok])
        logs.append([adv.item(), diff.item(), feedback.item(), *d_losses,
                     out["ba_diff"].detach().mean().item(),
                     out["blr"].detach().abs().mean().item(),
                     valid.float().mean().item(),
                     ok.float().mean().item() if config.fake_keep < 1 else math.nan,
                     (rt3[:, 1, 0] > rt3[:, 4, 0]).float().mean().item(),
                     (rt3[:, 9, 1] > rt3[:, 0, 1] - 0.3).float().mean().item(),
                     rotation_degrees(out["rot"].detach()).std().item(),
                     out["trans"].detach()[:, 2].std().item(),
                     *(spread[part].item() if part in spread else math.nan
                       for part in ("rot", "trans"))])
    with warnings.catch_warnings():  # a spread that was not measured stays NaN, unlogged
        warnings.simplefilter("ignore", RuntimeWarning)
        mean = np.nanmean(np.array(logs), axis=0)
    names = ("adv", "diff", "feedback", "d3d", "d2d", "ba_diff", "blr_abs", "valid", "kept",
             "back_seen", "not_upright", "rot_deg_std", "depth_std", "rot_spread",
             "trans_spread")
    return torch.cat(kept3), torch.cat(kept2), {name: float(value) for name, value in
                                                zip(names, mean) if not math.isnan(value)}


@torch.no_grad()
def most_plausible(d3d: torch.nn.Module, pose_ba: torch.Tensor, ok: torch.Tensor,
                   keep: float) -> torch.Tensor:
    """[B] bool: of the ``ok`` samples, the share ``keep`` (rounded up) whose least
    plausible part the 3D discriminator scores most real. Its KCS input sees the
    articulation only, not the global rotation, so people the augmentor laid down are
    judged by their limbs, not for lying (what the target holds); what it drops are the
    articulations no distribution shows."""
    score = d3d(pose_ba).min(1).values.masked_fill(~ok, -math.inf)
    kept = torch.zeros_like(ok)
    kept[score.topk(math.ceil(keep * int(ok.sum()))).indices] = True
    return kept & ok


def recall_fakes(memory: list[tuple[torch.Tensor, torch.Tensor]], count: int,
                 gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """``count`` augmented (3D, 2D) pairs drawn without replacement from the last epochs'
    (``memory``): the augmentor swings from epoch to epoch (a third of its samples lying
    in one, a tenth in the next), and drawing across epochs evens out what the estimator
    learns from."""
    poses = torch.cat([m[0] for m in memory])
    pose_2d = torch.cat([m[1] for m in memory])
    pick = torch.randperm(len(poses), generator=gen)[:count]
    return poses[pick], pose_2d[pick]


def off_source_views(poses: torch.Tensor, pose_2d: torch.Tensor
                     ) -> tuple[torch.Tensor, torch.Tensor]:
    """The pairs whose people are seen from behind or are not upright: views the source
    never shows (its people stand and face the camera's front half). Rehearsing them was
    meant to keep the target's hardest views without pulling the source's depths; it
    costs the source more than no cool-down (model card, fourteenth session)."""
    off = ~view_groups(poses)["upright_front"]
    return poses[off], pose_2d[off]


VAL_SEED_OFFSET = 500  # the validation pairs' seed: apart from training (0) and test (1000)


# The settings first read by a phase: they may change until that phase starts.
LATER_SETTINGS = {
    "random": ("random_recipe", "random_rotate", "real_passes"),
    "poseaug": ("warmup", "lr_g", "lr_d", "df", "hardratio_ba_s", "hardratio_ba",
                "hardratio_std_ba", "hardratio_rt_s", "hardratio_rt", "hardratio_std_rt",
                "ba_range_m", "ba_range_w", "blr_limit", "gloss_factord2d", "gloss_factord3d",
                "gloss_factordiff", "gloss_factorfeedback_ba", "gloss_factorfeedback_rt",
                "gloss_factorframe", "gloss_factorms", "gloss_factorms_trans", "rotation_start",
                "d2d_mirror", "d2d_scale", "d2d_turn", "d2d_tilt", "d2d_rotate", "pool_size",
                "poseaug_epochs", "fake_memory", "gan_warmup", "mix_fakes",
                "feedback_eval", "cooldown", "cooldown_rehearse", "fake_keep")}


def same_settings(stored: dict, config: PoseAugConfig, phase: int = 0, epoch: int = 0
                  ) -> bool:
    """Whether a checkpoint at ``phase`` / ``epoch`` can go on with ``config``: every
    setting that the phases run so far read is the same. A setting added since it was
    made counts as its default (every new option's default keeps the earlier behaviour);
    a phase's own settings may change until it starts (e.g. another PoseAug phase after
    the same first three)."""
    defaults = asdict(PoseAugConfig())
    free = {name for later, names in LATER_SETTINGS.items() for name in names
            if (PHASES.index(later), 0) >= (phase, epoch)} | {"device"}
    return all(stored.get(k, defaults[k]) == v for k, v in asdict(config).items()
               if k not in free)


@torch.no_grad()
def source_val_mpjpe(model: SimpleBaseline, val: tuple[torch.Tensor, ...]) -> float:
    """MPJPE (mm, root-relative) on the held-out source pairs, in eval mode."""
    model.eval()
    poses, _, pose_2d = val
    return float((model(pose_2d) - root_relative(poses)).norm(dim=-1).mean()) * 1000


def keep_best(state: dict, phase: str, model: SimpleBaseline, val: tuple,
              eligible: bool = True) -> float:
    """Scores ``model`` on the source validation pairs and, if ``eligible``, keeps it in
    ``state["best"]`` when it is the phase's best so far (picking by source error never
    looks at the target); returns the score."""
    score = source_val_mpjpe(model, val)
    best = state.setdefault("best", {}).get(phase)
    if eligible and (best is None or score < best["mpjpe"]):
        state["best"][phase] = {"mpjpe": score, "epoch": state["epoch"],
                                "model": {k: v.clone() for k, v in model.state_dict().items()}}
    return round(score, 2)


def averaged_weights(average: AveragedModel, pose_2d: torch.Tensor, batch: int
                     ) -> dict[str, torch.Tensor]:
    """The averaged estimator's weights, its batch-norm statistics recomputed on
    ``pose_2d`` (the source pairs', where the epochs' running averages end too): averaged
    weights give other activations than any epoch's, so no epoch's statistics fit them."""
    update_bn(pose_2d.split(batch), average.module)
    return average.module.state_dict()


def _lr_lambda(epochs: int):
    return lambda e: max(0.0, 1.0 - e / epochs)


def data_folder(run_dir: Path) -> Path:
    return Path(run_dir) / "data"


def train(config: PoseAugConfig, run_dir: Path, out: Path | None = None,
          log=lambda line: print(line, flush=True), until: str = PHASES[-1],
          half: bool = False) -> dict:
    """Run (or resume) every phase up to and including ``until`` (a later command with the
    same settings goes on from there); returns the checkpoint dict. ``half`` writes the
    weights files in float16."""
    if config.threads > 0:
        torch.set_num_threads(config.threads)
    device = torch.device(config.device)
    with torch.device(device):  # every tensor made while training lives there
        state = _train_phases(config, Path(run_dir), device, log, until)
    if out is not None:
        write_weights(state, Path(out), half)
    return state


def _train_phases(config: PoseAugConfig, run_dir: Path, device: torch.device, log,
                  until: str) -> dict:
    """:func:`train`'s phases, inside its device context."""
    run_dir.mkdir(parents=True, exist_ok=True)
    ckpt_path = run_dir / "checkpoint.pt"
    with torch.device("cpu"):  # the data are drawn on the CPU, wherever training runs
        source: PoseSet = load_or_make(data_folder(run_dir), "source", config.train_samples,
                                       config.seed)
        held_out = load_or_make(data_folder(run_dir), "source", config.val_samples,
                                config.seed + VAL_SEED_OFFSET) if config.val_samples else None
    data = tuple(t.to(device) for t in source.tensors())
    val = tuple(t.to(device) for t in held_out.tensors()) if held_out is not None else None
    mean_root = data[0][:, 0].mean(0)
    if ckpt_path.exists():
        state = torch.load(ckpt_path, map_location=device, weights_only=False)
        if not same_settings(state["config"], config, state["phase"], state["epoch"]):
            raise ValueError(f"{ckpt_path} was made with other settings; use another "
                             "--run-dir or the same options")
        state["config"] = asdict(config)
    else:
        state = {"config": asdict(config), "phase": 0, "epoch": 0, "done": {}, "current": None}
    while state["phase"] <= PHASES.index(until):
        phase = PHASES[state["phase"]]
        epochs = config.phase_epochs(phase)
        warm = config.gan_warmup if phase == "poseaug" else 0
        # The phase's initial weights (estimator, augmentor, discriminators) from its own
        # seed, so a run repeats whatever the process drew before.
        torch.manual_seed(config.seed * 100003 + state["phase"] * 1009 + 1008)
        model = _estimator(config)
        base = state["done"].get("pretrain")
        if phase != "pretrain":
            model.load_state_dict(base)
        opt = torch.optim.Adam(model.parameters(), lr=config.lr_p)
        sched = torch.optim.lr_scheduler.LambdaLR(opt, _lr_lambda(epochs))
        parts = GANParts(config, mean_root) if phase == "poseaug" else None
        average = AveragedModel(model) if config.average_last and phase != "pretrain" else None
        if state["current"] is not None:
            model.load_state_dict(state["current"]["model"])
            opt.load_state_dict(state["current"]["opt"])
            sched.load_state_dict(state["current"]["sched"])
            if parts is not None:
                parts.load(state["current"]["gan"])
            if average is not None and state["current"].get("average"):
                average.load_state_dict(state["current"]["average"])
        memory = list((state["current"] or {}).get("fakes") or [])
        while state["epoch"] < warm + epochs:
            epoch = state["epoch"]
            warming = epoch < warm  # the augmentor warms up; the estimator waits
            started = time.time()
            seed = config.seed * 100003 + state["phase"] * 1009 + epoch
            torch.manual_seed(seed)
            gen = torch.Generator(device).manual_seed(seed)
            entry = {"phase": phase, "epoch": epoch + 1}
            if phase == "poseaug" and warm + epochs - epoch <= config.cooldown:
                entry["cooldown"] = True  # the estimator ends on the source's views alone
                if config.cooldown_rehearse:
                    fake3, fake2 = off_source_views(*recall_fakes(memory, len(memory[-1][0]),
                                                                  gen))
                    entry["rehearsed"] = len(fake3)
                    if len(fake3) >= config.batch_size:
                        entry["fake_loss"] = estimator_pass(model, opt, fake3, fake2,
                                                            config.batch_size, gen,
                                                            config.pose_loss)
                entry["real_loss"] = real_passes(model, opt, data, config.real_passes,
                                                 config.batch_size, gen, config.pose_loss)
            elif phase == "poseaug":
                fake3, fake2, entry["gan"] = gan_pass(config, parts, model, data, epoch + 1, gen)
                if config.fake_memory > 1 or config.cooldown_rehearse:
                    memory = (memory + [(fake3, fake2)])[-config.fake_memory:]
                if config.fake_memory > 1:
                    fake3, fake2 = recall_fakes(memory, len(fake3), gen)
                if warming:
                    entry["gan_warmup"] = True
                elif config.mix_fakes and epoch + 1 > config.warmup:
                    entry["mixed_loss"] = mixed_pass(model, opt, (fake3, fake2), data,
                                                     config.real_passes, config.batch_size,
                                                     gen, config.pose_loss)
                else:
                    if epoch + 1 > config.warmup and len(fake3) >= config.batch_size:
                        entry["fake_loss"] = estimator_pass(model, opt, fake3, fake2,
                                                            config.batch_size, gen,
                                                            config.pose_loss)
                    entry["real_loss"] = real_passes(model, opt, data, config.real_passes,
                                                     config.batch_size, gen, config.pose_loss)
            elif phase == "random":
                aug3 = RANDOM_RECIPES[config.random_recipe](data[0], gen, config)
                aug2 = project_to_2d(aug3, data[1])
                ok = valid_samples(aug3, aug2)
                entry["fake_loss"] = estimator_pass(model, opt, aug3[ok], aug2[ok],
                                                    config.batch_size, gen, config.pose_loss)
                entry["valid"] = float(ok.float().mean())
                entry["real_loss"] = real_passes(model, opt, data, config.real_passes,
                                                 config.batch_size, gen, config.pose_loss)
            else:
                entry["real_loss"] = real_passes(model, opt, data,
                                                 1 if phase == "pretrain" else 2,
                                                 config.batch_size, gen, config.pose_loss)
            if not warming:
                sched.step()
                if average is not None and warm + epochs - epoch <= config.average_last:
                    average.update_parameters(model)
            state["epoch"] = epoch + 1
            state["current"] = {"model": model.state_dict(), "opt": opt.state_dict(),
                                "sched": sched.state_dict(),
                                "gan": parts.state() if parts is not None else None,
                                "fakes": memory or None,
                                "average": None if average is None else average.state_dict()}
            if val is not None and phase != "pretrain" and not warming:
                entry["source_val_mpjpe"] = keep_best(  # PoseAug: once its pairs train
                    state, phase, model, val, phase != "poseaug" or epoch + 1 > config.warmup)
            entry["seconds"] = round(time.time() - started, 1)
            with open(run_dir / "log.jsonl", "a") as f:
                f.write(json.dumps(entry) + "\n")
            log(json.dumps(entry))
            atomic_torch_save(state, ckpt_path)
        state["done"][phase] = model.state_dict()
        if average is not None:
            state.setdefault("last", {})[phase] = state["done"][phase]
            torch.manual_seed(config.seed * 100003 + state["phase"] * 1009 + 1007)
            state["done"][phase] = averaged_weights(average, data[2], config.batch_size)
        if config.pick == "source-val" and phase != "pretrain":
            best = state["best"][phase]
            state["done"][phase] = best["model"]
            log(json.dumps({"phase": phase, "picked_epoch": best["epoch"],
                            "source_val_mpjpe": round(best["mpjpe"], 2)}))
        if phase == "poseaug":
            state["done"]["gan"] = {k: parts.state()[k] for k in ("g", "d3d", "d2d")}
        state["phase"] += 1
        state["epoch"] = 0
        state["current"] = None
        atomic_torch_save(state, ckpt_path)
    return state


def _write_estimators(weights: dict[str, dict], config: PoseAugConfig, out: Path
                      ) -> list[Path]:
    """Each variant's estimator in ``weights`` as a PoseAug estimator file in ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for variant in (v for v in VARIANTS if v in weights):
        path = out / WEIGHT_FILES[variant]
        save_official(path, {"epoch": config.phase_epochs(variant), "model_pos": weights[variant]})
        paths.append(path)
    return paths


WEIGHT_FILES = {"source-only": "mlp-source-only.pth.tar", "random": "mlp-random-aug.pth.tar",
                "poseaug": "mlp-poseaug.pth.tar", "gan": "poseaug-gan.pth.tar"}


def _stored(sd: dict[str, torch.Tensor], half: bool) -> dict[str, torch.Tensor]:
    """``sd`` on the CPU, its floating tensors in float16 if ``half`` (the loaders upcast)."""
    return {k: v.cpu().half() if half and v.is_floating_point() else v.cpu()
            for k, v in sd.items()}


def write_weights(state: dict, out: Path, half: bool = False) -> list[Path]:
    """The run's finished weights in official layouts: each estimator as a PoseAug
    estimator file, and the augmentor, both discriminators and the PoseAug estimator as a
    training-state file (once the PoseAug phase is done); float16 if ``half`` (the
    official width's training-state file is 26 MB in float32). With ``average_last`` the
    estimators' last-epoch weights go to ``out/last-epoch`` too, to compare with."""
    config = PoseAugConfig(**{k: v for k, v in state["config"].items()
                              if k in PoseAugConfig.__dataclass_fields__})
    done = {name: _stored(weights, half) if name != "gan" else
            {part: _stored(sd, half) for part, sd in weights.items()}
            for name, weights in state["done"].items()}
    paths = _write_estimators(done, config, out)
    if state.get("last"):
        last = {name: _stored(weights, half) for name, weights in state["last"].items()}
        paths += _write_estimators(last, config, out / "last-epoch")
    if "gan" not in done:
        return paths
    gan = done["gan"]
    path = out / WEIGHT_FILES["gan"]
    save_official(path, {"epoch": config.phase_epochs("poseaug"), "model_G": gan["g"],
                         "model_d3d": gan["d3d"], "model_d2d": gan["d2d"],
                         "model_pos": done["poseaug"]})
    return paths + [path]
