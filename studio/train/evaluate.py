"""Per-iteration errors of a PyMAF network on freshly generated synthetic people."""
from __future__ import annotations

from collections.abc import Callable

import torch

from studio.nets.pymaf import PyMAF
from studio.synth.dataset import Batch, SyntheticPeople
from studio.train.metrics import errors_mm


@torch.no_grad()
def evaluate(net: PyMAF, data: SyntheticPeople, split: str, seed: int, samples: int,
             batch_size: int = 32,
             start: Callable[[Batch], tuple[torch.Tensor, ...]] | None = None) -> dict:
    """Mean MPJPE, PA-MPJPE and PVE (mm) of every iteration over ``samples`` people.

    Returns ``{"samples": N, "iterations": [{metric: mm}, ...], "final": {metric: mm}}``;
    iteration 0 is the start: the mean parameters, or ``start(batch)``'s (6D pose,
    betas, camera), e.g. :func:`studio.pipeline.pymaf_kpstart.synthetic_start`.
    """
    was_training = net.training
    net.eval()
    sums: list[dict[str, float]] = []
    done, index = 0, 0
    while done < samples:
        n = min(batch_size, samples - done)
        batch = data.batch(split, seed, index, n)
        output = net(batch.inputs, start=None if start is None else start(batch))
        for i, it in enumerate(output.iterations):
            errs = errors_mm(data.body, it.rotmat, it.betas, batch.rotmat, batch.betas)
            if len(sums) <= i:
                sums.append({k: 0.0 for k in errs})
            for k, v in errs.items():
                sums[i][k] += float(v.sum())
        done += n
        index += 1
    net.train(was_training)
    iterations = [{k: v / done for k, v in s.items()} for s in sums]
    return {"samples": done, "iterations": iterations, "final": iterations[-1]}
