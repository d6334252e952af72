"""What every step-based training loop (pymaf, pointhmr, smplr, scenepose) shares: one
optimiser step with clipped gradients, the logged record of a step, and the files the run
keeps in its folder: ``log.jsonl`` (one record per logged step) and ``checkpoint.pt``
(everything a killed run needs to resume where it stopped), written atomically so a kill
mid-write leaves the previous checkpoint whole."""
from __future__ import annotations

import json
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch

from studio.body.storage import atomic_torch_save


CLIP_NORM = 5.0  # gradient norm every loop clips at


def optimise(net: torch.nn.Module, opt: torch.optim.Optimizer,
             sched: torch.optim.lr_scheduler.LRScheduler, total: torch.Tensor) -> None:
    """One step down ``total``'s gradients, clipped at :data:`CLIP_NORM`, then the schedule."""
    opt.zero_grad(set_to_none=True)
    total.backward()
    torch.nn.utils.clip_grad_norm_(net.parameters(), CLIP_NORM)
    opt.step()
    sched.step()


def step_record(step: int, started: float, sched: torch.optim.lr_scheduler.LRScheduler,
                terms: dict[str, torch.Tensor], **extra: object) -> dict:
    """A step's log record: step, seconds since ``started`` (``time.perf_counter``), the
    learning rate, ``extra`` entries, then each loss term."""
    return {"step": step, "seconds": round(time.perf_counter() - started, 1),
            "lr": sched.get_last_lr()[0], **extra,
            **{k: round(v.item(), 5) for k, v in terms.items()}}


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
