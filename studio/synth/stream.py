"""Training batches made ahead of the model, in order, by worker processes.

A batch is a pure function of (split, seed, index), so workers give exactly the batches
the training loop would make itself. On a GPU machine the data engine's CPU work (pose
sampling, proxy noise) would otherwise keep the GPU waiting; there the machine's other
cores make batches while the GPU trains.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator

import torch
from torch.utils.data import DataLoader, Dataset

from studio.synth.dataset import Batch, SyntheticPeople


class _Indexed(Dataset):
    """Batch ``step`` of a run: index ``step * world + rank``, so ranks never share one."""

    def __init__(self, data: SyntheticPeople, split: str, seed: int, batch_size: int,
                 world: int, rank: int) -> None:
        self.data, self.split, self.seed, self.batch_size = data, split, seed, batch_size
        self.world, self.rank = world, rank

    def __getitem__(self, step: int) -> Batch:
        return self.data.batch(self.split, self.seed, step * self.world + self.rank,
                               self.batch_size)


def batches(data: SyntheticPeople, split: str, seed: int, batch_size: int,
            steps: Iterable[int], workers: int = 0, world: int = 1, rank: int = 0,
            device: str | torch.device | None = None) -> Iterator[Batch]:
    """The batches of ``steps`` in order, made by ``workers`` processes (0: in this one),
    on ``device`` (default: ``data``'s). Workers need ``data`` on the CPU."""
    indexed = _Indexed(data, split, seed, batch_size, world, rank)
    target = torch.device(device) if device is not None else data.device
    if workers == 0:
        made: Iterable[Batch] = (indexed[step] for step in steps)
    else:
        if data.device.type != "cpu":
            raise ValueError("worker processes make batches on the CPU")
        made = DataLoader(indexed, batch_size=None, sampler=list(steps), num_workers=workers,
                          prefetch_factor=2, generator=torch.Generator())
        # (its own generator: seeding the workers must not draw from the global one,
        # which the training step's dropout uses)
    for batch in made:
        yield batch.to(target)
