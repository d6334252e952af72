"""Errors of mesh predictions on synthetic people, measured the same way for any model.

PointHMR predicts vertices, not body-model parameters, so its joints are regressed from
its mesh; to compare it with PyMAF fairly, both models' meshes (and the true mesh) go
through the same regressor: the 17 H36M joints as linear combinations of the vertices,
each set centred on its pelvis, PA-MPJPE after a similarity Procrustes fit, PVE over all
vertices after pelvis centring. Millimetres.
"""
from __future__ import annotations

from collections.abc import Callable

import torch

from studio.synth.dataset import SyntheticPeople
from studio.train.metrics import PELVIS, procrustes_align


def mesh_errors_mm(pred: torch.Tensor, true: torch.Tensor, regressor: torch.Tensor
                   ) -> dict[str, torch.Tensor]:
    """Per-sample MPJPE, PA-MPJPE and PVE [B] of meshes ``pred`` against ``true`` [B, V, 3]."""
    pj = torch.einsum("jv,bvd->bjd", regressor, pred)
    gj = torch.einsum("jv,bvd->bjd", regressor, true)
    pp, gp = pj[:, PELVIS:PELVIS + 1], gj[:, PELVIS:PELVIS + 1]
    pj, gj = pj - pp, gj - gp
    return {"mpjpe": 1000 * (pj - gj).norm(dim=-1).mean(1),
            "pa_mpjpe": 1000 * (procrustes_align(pj, gj) - gj).norm(dim=-1).mean(1),
            "pve": 1000 * ((pred - pp) - (true - gp)).norm(dim=-1).mean(1)}


@torch.no_grad()
def evaluate_meshes(predict: dict[str, Callable[[torch.Tensor], torch.Tensor]],
                    data: SyntheticPeople, regressor: torch.Tensor, split: str, seed: int,
                    samples: int, batch_size: int = 32) -> dict[str, dict[str, float]]:
    """Mean errors of every ``predict[name](inputs) -> vertices [B, V, 3]`` over the same
    ``samples`` people (batch k of ``split`` from ``seed``, as ``studio eval pymaf``)."""
    sums = {name: {"mpjpe": 0.0, "pa_mpjpe": 0.0, "pve": 0.0} for name in predict}
    done, index = 0, 0
    while done < samples:
        n = min(batch_size, samples - done)
        batch = data.batch(split, seed, index, n)
        for name, fn in predict.items():
            for k, v in mesh_errors_mm(fn(batch.inputs), batch.vertices, regressor).items():
                sums[name][k] += float(v.sum())
        done += n
        index += 1
    return {name: {k: v / done for k, v in s.items()} for name, s in sums.items()}
