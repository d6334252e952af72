"""``studio eval poseaug``: MPJPE and PA-MPJPE (mm, root-relative, 16 joints) of the
estimators trained without augmentation, with random augmentation and with PoseAug, on
held-out samples of the source and the target distribution."""
from __future__ import annotations

from pathlib import Path

import torch

from studio.nets.poseaug_files import load_official
from studio.synth.poseaug_data import DISTRIBUTIONS, load_or_make
from studio.train.metrics import procrustes_align
from studio.train.poseaug_train import VARIANTS, WEIGHT_FILES

TEST_SEED_OFFSET = 1000  # test sets never share a seed with a training set


@torch.no_grad()
def errors_mm(model: torch.nn.Module, pose_2d: torch.Tensor, poses: torch.Tensor,
              batch: int = 2048) -> dict[str, float]:
    """Mean MPJPE and PA-MPJPE in mm of ``model`` on 2D inputs against 3D poses."""
    model.eval()
    mpjpe, pa = [], []
    for i in range(0, len(poses), batch):
        pred = model(pose_2d[i:i + batch])
        pred = pred - pred[:, :1]
        gt = poses[i:i + batch] - poses[i:i + batch, :1]
        mpjpe.append((pred - gt).norm(dim=-1).mean(-1))
        pa.append((procrustes_align(pred, gt) - gt).norm(dim=-1).mean(-1))
    return {"mpjpe": round(float(torch.cat(mpjpe).mean()) * 1000, 1),
            "pa_mpjpe": round(float(torch.cat(pa).mean()) * 1000, 1)}


def evaluate(weights: Path, samples: int, seed: int, cache: Path) -> dict:
    """Errors of every variant on both distributions, and PoseAug's change against the
    other two (percent, negative = lower error)."""
    sets = {kind: load_or_make(cache, kind, samples, seed + TEST_SEED_OFFSET).tensors()
            for kind in DISTRIBUTIONS}
    result: dict = {"samples": samples, "seed": seed, "variants": {}}
    for variant in VARIANTS:
        model = load_official(Path(weights) / WEIGHT_FILES[variant])
        result["variants"][variant] = {kind: errors_mm(model, data[2], data[0])
                                       for kind, data in sets.items()}
    v = result["variants"]
    result["poseaug_change_percent"] = {
        f"{kind}_vs_{other}": round(100 * (v["poseaug"][kind]["mpjpe"] /
                                           v[other][kind]["mpjpe"] - 1), 1)
        for kind in DISTRIBUTIONS for other in ("source-only", "random")}
    return result
