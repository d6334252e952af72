"""``studio eval poseaug``: MPJPE and PA-MPJPE (mm, root-relative, 16 joints) of the
estimators trained without augmentation, with random augmentation and with PoseAug, on
held-out samples of the source and the target distribution."""
from __future__ import annotations

from pathlib import Path

import torch

from studio.nets.poseaug_files import load_official
from studio.synth.poseaug_data import DISTRIBUTIONS, SOURCE_SHAPE_SEED, load_or_make, \
    view_groups
from studio.train.metrics import procrustes_align
from studio.train.poseaug_train import VARIANTS, WEIGHT_FILES

TEST_SEED_OFFSET = 1000  # test sets never share a seed with a training set


@torch.no_grad()
def per_sample_mm(model: torch.nn.Module, pose_2d: torch.Tensor, poses: torch.Tensor,
                  batch: int = 2048) -> tuple[torch.Tensor, torch.Tensor]:
    """[N] MPJPE and PA-MPJPE in mm of ``model`` on 2D inputs against 3D poses."""
    model.eval()
    mpjpe, pa = [], []
    for i in range(0, len(poses), batch):
        pred = model(pose_2d[i:i + batch])
        pred = pred - pred[:, :1]
        gt = poses[i:i + batch] - poses[i:i + batch, :1]
        mpjpe.append((pred - gt).norm(dim=-1).mean(-1))
        pa.append((procrustes_align(pred, gt) - gt).norm(dim=-1).mean(-1))
    return torch.cat(mpjpe) * 1000, torch.cat(pa) * 1000


def errors_mm(model: torch.nn.Module, pose_2d: torch.Tensor, poses: torch.Tensor
              ) -> dict[str, float]:
    """Mean MPJPE and PA-MPJPE in mm, and MPJPE per :func:`view_groups` group."""
    mpjpe, pa = per_sample_mm(model, pose_2d, poses)
    out = {"mpjpe": round(float(mpjpe.mean()), 1), "pa_mpjpe": round(float(pa.mean()), 1)}
    for name, mask in view_groups(poses).items():
        if mask.any():
            out[f"mpjpe_{name}"] = round(float(mpjpe[mask].mean()), 1)
    return out


def evaluate(weights: Path, samples: int, seed: int, cache: Path,
             shape_seed: int = SOURCE_SHAPE_SEED) -> dict:
    """Errors of every variant whose file is in ``weights`` (a run stopped with ``--until``
    has only the first ones) on both distributions, and each augmented variant's change
    against the others (percent, negative = lower error). ``shape_seed`` picks the source
    test's body shapes (the training ones by default)."""
    present = [v for v in VARIANTS if (Path(weights) / WEIGHT_FILES[v]).is_file()]
    if not present:
        raise FileNotFoundError(f"{weights}: none of "
                                f"{', '.join(WEIGHT_FILES[v] for v in VARIANTS)}")
    sets = {kind: load_or_make(cache, kind, samples, seed + TEST_SEED_OFFSET,
                               shape_seed).tensors()
            for kind in DISTRIBUTIONS}
    result: dict = {"samples": samples, "seed": seed, "source_shape_seed": shape_seed,
                    "variants": {},
                    "view_share": {kind: {name: round(float(mask.float().mean()), 3)
                                          for name, mask in view_groups(data[0]).items()}
                                   for kind, data in sets.items()}}
    for variant in present:
        model = load_official(Path(weights) / WEIGHT_FILES[variant])
        result["variants"][variant] = {kind: errors_mm(model, data[2], data[0])
                                       for kind, data in sets.items()}
    v = result["variants"]
    for variant, others in (("random", ("source-only",)), ("poseaug", ("source-only", "random"))):
        if variant in v:
            result[f"{variant}_change_percent"] = {
                f"{kind}_vs_{other}": round(100 * (v[variant][kind]["mpjpe"] /
                                                   v[other][kind]["mpjpe"] - 1), 1)
                for kind in DISTRIBUTIONS for other in others if other in v}
    return result
