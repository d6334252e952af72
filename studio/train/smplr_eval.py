"""Evaluating the keypoint fit (SMPLR) on synthetic keypoints: MPJPE, PA-MPJPE and PA-PVE
in mm per noise level, on broad pose-prior samples and on the hand-made key poses.

Joints are the H36M-17 joints every body gives, both sides centred on their pelvis (as
``studio eval pymaf``); PA-PVE aligns the whole mesh (similarity transform) first. The fit
is :func:`studio.pipeline.keypoint_fit.predict`'s: the nets, then ``refine_steps``
refinement steps.
"""
from __future__ import annotations

import time

import torch

from studio.pipeline.keypoint_fit import predict
from studio.synth.keypoint_noise import EVAL_LEVELS, NoiseLevel
from studio.synth.smplr_data import make_batch
from studio.train.metrics import procrustes_align

CHUNK = 200


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
                   key_poses: bool, refine_steps: int | None = None) -> dict[str, float]:
    """Mean errors over ``samples`` test samples drawn from ``seed``."""
    model.net.eval()
    gen = torch.Generator().manual_seed(10_000_019 + seed)
    sums: dict[str, float] = {}
    for start in range(0, samples, CHUNK):
        count = min(CHUNK, samples - start)
        batch = make_batch(model.partial, gen, count, layout, model.dims, level,
                           key_poses=key_poses)
        for name, values in batch_errors(model, layout, batch, refine_steps).items():
            sums[name] = sums.get(name, 0.0) + float(values.sum())
    return {name: round(total / samples, 1) for name, total in sums.items()}


def evaluate(model, layout: str, samples: int, seed: int, refine_steps: int | None = None
             ) -> dict:
    """Every noise level of the model's input kind, on prior samples and key poses."""
    from studio.pipeline.keypoint_refine import STEPS

    steps = STEPS[model.dims] if refine_steps is None else refine_steps
    started = time.perf_counter()
    rows = []
    for poses in ("prior", "key-poses"):
        for level in EVAL_LEVELS[model.dims]:
            errors = evaluate_level(model, layout, samples, seed, level, poses == "key-poses",
                                    steps)
            rows.append({"poses": poses, "noise": level.label(model.dims),
                         "jitter": level.jitter, "missing": level.missing, **errors})
    return {"model": str(model.source), "layout": layout, "dims": model.dims,
            "samples": samples, "seed": seed, "refine_steps": steps,
            "joints": "h36m17, pelvis-centred",
            "seconds": round(time.perf_counter() - started, 1), "rows": rows}
