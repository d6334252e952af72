"""The files every step-based training run keeps in its folder: ``log.jsonl`` (one record
per logged step) and ``checkpoint.pt`` (everything a killed run needs to resume where it
stopped), written atomically so a kill mid-write leaves the previous checkpoint whole."""
from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch

from studio.body.storage import atomic_torch_save


def append_log(run_dir: Path, record: dict) -> None:
    """One JSON line in ``run_dir/log.jsonl``."""
    with open(Path(run_dir) / "log.jsonl", "a") as fh:
        fh.write(json.dumps(record) + "\n")


def save_checkpoint(path: Path, net: torch.nn.Module, opt: torch.optim.Optimizer,
                    sched: torch.optim.lr_scheduler.LRScheduler, config: Any, step: int,
                    history: list, **extra: object) -> None:
    """Weights, optimiser, schedule, the run's config (a dataclass), step and validation
    history, plus ``extra`` entries (random states), to ``path`` atomically."""
    atomic_torch_save({"model": net.state_dict(), "optimizer": opt.state_dict(),
                       "scheduler": sched.state_dict(), "config": asdict(config), "step": step,
                       "history": history, **extra}, path)
