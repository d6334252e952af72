"""Evaluating the keypoint fit (SMPLR) on synthetic keypoints: MPJPE, PA-MPJPE and PA-PVE
in mm per noise level, on broad pose-prior samples and on the hand-made key poses.

With ``validation`` the pose sets are the broad prior from another seed stream, the
*training* key poses perturbed as the evaluation's are, and hand-made held-out key poses
that neither training nor the evaluation holds (:data:`VALIDATION_KEY_POSES`): choices
between trained candidates are made there, never on the evaluation poses.

Joints are the H36M-17 joints every body gives, both sides centred on their pelvis (as
``studio eval pymaf``); PA-PVE aligns the whole mesh (similarity transform) first. The fit
is :func:`studio.pipeline.keypoint_fit.predict`'s: the nets, then ``refine_steps``
refinement steps.
"""
from __future__ import annotations

import functools
import time

import torch

from studio.pipeline.keypoint_fit import predict
from studio.synth.key_poses import (EVAL_KEY_POSES, TRAIN_KEY_POSES, VALIDATION_KEY_POSES,
                                   cycled_names, eval_key_poses, sample_broad_poses)
from studio.synth.keypoint_noise import EVAL_LEVELS, NoiseLevel
from studio.synth.smplr_data import make_batch
from studio.train.metrics import procrustes_align

CHUNK = 200
SEED_BASE = {False: 10_000_019, True: 20_000_033}  # evaluation, validation
# pose set name -> key-pose table (None: the broad prior)
POSE_SETS = {"prior": None, "key-poses": EVAL_KEY_POSES, "train-key-poses": TRAIN_KEY_POSES,
             "held-out-key-poses": VALIDATION_KEY_POSES}
SETS = {False: ("prior", "key-poses"),
        True: ("prior", "train-key-poses", "held-out-key-poses")}


def _key_pose_draws(poses: dict, gen: torch.Generator, count: int
                    ) -> tuple[torch.Tensor, torch.Tensor]:
    root, body, _ = eval_key_poses(gen, count, poses=poses)
    return root, body


@torch.no_grad()
def batch_errors(model, layout: str, batch, refine_steps: int | None = None
                 ) -> dict[str, torch.Tensor]:
    """Per-sample MPJPE, PA-MPJPE and PA-PVE [B] in mm of the fit to ``batch``."""
    rotmat, betas, _ = predict(model, layout, batch.keypoints, batch.seen, batch.intrinsics,
                               refine_steps)
    pred = model.body(global_orient=rotmat[:, :1], body_pose=rotmat[:, 1:], betas=betas)
    true = model.body(global_orient=batch.rotmat[:, :1], body_pose=batch.rotmat[:, 1:],
                      betas=batch.betas)
    pj, gj = pred.keypoints("h36m17"), true.keypoints("h36m17")
    pj, gj = pj - pj[:, :1], gj - gj[:, :1]
    pv, gv = pred.vertices, true.vertices
    return {"mpjpe": 1000 * (pj - gj).norm(dim=-1).mean(1),
            "pa_mpjpe": 1000 * (procrustes_align(pj, gj) - gj).norm(dim=-1).mean(1),
            "pa_pve": 1000 * (procrustes_align(pv, gv) - gv).norm(dim=-1).mean(1)}


def evaluate_level(model, layout: str, samples: int, seed: int, level: NoiseLevel,
                   poses: str, refine_steps: int | None = None,
                   validation: bool = False) -> dict:
    """Mean errors over ``samples`` test samples of the pose set ``poses`` (a
    :data:`POSE_SETS` name) drawn from ``seed``; on key poses also the mean PA-MPJPE per
    key pose (``per_pose``)."""
    model.net.eval()
    gen = torch.Generator().manual_seed(SEED_BASE[validation] + seed)
    table = POSE_SETS[poses]
    sums: dict[str, float] = {}
    per_pose: dict[str, list[float]] = {name: [] for name in table} if table else {}
    draw = functools.partial(_key_pose_draws, table) if table else sample_broad_poses
    for start in range(0, samples, CHUNK):
        count = min(CHUNK, samples - start)
        batch = make_batch(model.partial, gen, count, layout, model.dims, level, poses=draw)
        errors = batch_errors(model, layout, batch, refine_steps)
        for name, values in errors.items():
            sums[name] = sums.get(name, 0.0) + float(values.sum())
        if table:
            for name, value in zip(cycled_names(table, count), errors["pa_mpjpe"].tolist()):
                per_pose[name].append(value)
    out: dict = {name: round(total / samples, 1) for name, total in sums.items()}
    if per_pose:
        out["per_pose"] = {k: round(sum(v) / len(v), 1) for k, v in per_pose.items() if v}
    return out


def evaluate(model, layout: str, samples: int, seed: int, refine_steps: int | None = None,
             validation: bool = False) -> dict:
    """Every noise level of the model's input kind, on prior samples and key poses (with
    ``validation``: other seeds, the training key poses and the held-out ones)."""
    from studio.pipeline.keypoint_refine import STEPS

    steps = STEPS[model.dims] if refine_steps is None else refine_steps
    started = time.perf_counter()
    rows = []
    for poses in SETS[validation]:
        for level in EVAL_LEVELS[model.dims]:
            errors = evaluate_level(model, layout, samples, seed, level, poses, steps,
                                    validation)
            rows.append({"poses": poses, "noise": level.label(model.dims),
                         "jitter": level.jitter, "missing": level.missing, **errors})
    return {"model": str(model.source), "layout": layout, "dims": model.dims,
            "samples": samples, "seed": seed, "refine_steps": steps,
            "set": "validation" if validation else "evaluation",
            "joints": "h36m17, pelvis-centred",
            "seconds": round(time.perf_counter() - started, 1), "rows": rows}
