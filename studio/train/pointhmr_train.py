"""Training the built-in PointHMR on synthetic mannequin people (proxy maps, 64 px).

The data engine, schedule and checkpointing are PyMAF's (:mod:`studio.train.pymaf_train`):
batch k of the train split from the seed, AdamW with warm-up and cosine decay, gradient
clipping at 5, an atomic ``checkpoint.pt`` every ``checkpoint_every`` steps (a killed
run resumes where it stopped, re-running the command), ``log.jsonl``; ``--out`` gets the
float16 weights file when the run reaches its last step.
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from tqdm import tqdm

from studio.body.registry import find_body_model
from studio.body.model import BodyModel
from studio.nets import pointhmr_builtin
from studio.nets.model_names import BUILTIN_MODELS
from studio.nets.pointhmr import PointHMR
from studio.nets.pointhmr_mesh import level_indices
from studio.synth.dataset import SyntheticPeople
from studio.synth.stream import batches
from studio.train.pointhmr_eval import evaluate_meshes
from studio.train.pointhmr_losses import MeshTargets, pointhmr_losses
from studio.train.run_files import append_log, optimise, step_record
from studio.train.pymaf_train import (RunState, _keep_freed_memory, _lr_factor, _save_checkpoint,
                                      _set_rates)

DENSE_SIZE = 4  # the data engine's dense targets are for PyMAF; PointHMR ignores them


@dataclass
class PointHMRTrainConfig:
    """Everything that defines a run; stored in its checkpoint and the weights file."""

    steps: int = 4000
    batch_size: int = 16
    lr: float = 1e-3
    weight_decay: float = 1e-4
    seed: int = 0
    val_every: int = 500
    val_samples: int = 256
    checkpoint_every: int = 100
    threads: int = 1
    backbone: str = "pymaf-small"  # a key of pointhmr_builtin.BACKBONES
    # PyMAF proxy weights file that starts a fresh pymaf-small run's encoder ('' : random)
    init_from: str = str(BUILTIN_MODELS["builtin-pymaf-proxy"].path)
    freeze_backbone_steps: int = 0  # keep the started encoder fixed (BN too) this long


def mesh_targets(body: BodyModel) -> MeshTargets:
    mid, coarse = level_indices(body.data)
    return MeshTargets(mid=torch.from_numpy(mid), coarse=torch.from_numpy(coarse),
                       joints=pointhmr_builtin.vertex_regressor(body, "pymaf49")[25:39])


def validate(net: PointHMR, data: SyntheticPeople, seed: int, samples: int,
             batch_size: int) -> dict[str, float]:
    """Validation MPJPE, PA-MPJPE, PVE (mm) of ``net`` on the val split."""
    was = net.training
    net.eval()
    regressor = pointhmr_builtin.vertex_regressor(data.body, "h36m17")
    errs = evaluate_meshes({"net": lambda x: net(x, fine_heatmaps=False)["vertices_full"]},
                           data, regressor, "val", seed, samples, batch_size)["net"]
    net.train(was)
    return errs


def train(config: PointHMRTrainConfig, run_dir: Path, out: Path | None = None,
          progress: bool = True, stop_after: int | None = None) -> RunState:
    """Train (or resume) the run in ``run_dir``; write the weights file to ``out`` at the
    end. ``stop_after`` ends this call after that many steps (with a checkpoint)."""
    _keep_freed_memory()
    if config.threads:
        torch.set_num_threads(config.threads)
    run_dir.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(config.seed)
    body = BodyModel(find_body_model("mannequin"))
    if config.backbone not in pointhmr_builtin.BACKBONES:
        raise ValueError(f"unknown backbone {config.backbone!r}; choose one of "
                         f"{', '.join(pointhmr_builtin.BACKBONES)}")
    net = pointhmr_builtin.build(body, pointhmr_builtin.BACKBONES[config.backbone])
    started_from = _start_encoder(net, config, run_dir / "checkpoint.pt")
    targets = mesh_targets(body)
    opt = torch.optim.AdamW(net.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: _lr_factor(s, config.steps))
    state, rng_state = RunState(), None
    ckpt_path = run_dir / "checkpoint.pt"
    if ckpt_path.exists():
        ckpt = torch.load(ckpt_path, map_location="cpu", weights_only=False)
        net.load_state_dict(ckpt["model"])
        opt.load_state_dict(ckpt["optimizer"])
        sched.load_state_dict(ckpt["scheduler"])
        state, rng_state = RunState(ckpt["step"], ckpt["history"]), ckpt["torch_rng"]
        _set_rates(opt, sched, config, state.step)
    data = SyntheticPeople(body, "proxy", pointhmr_builtin.INPUT_SIZE, DENSE_SIZE)
    last = config.steps if stop_after is None else min(config.steps, state.step + stop_after)
    stream = batches(data, "train", config.seed, config.batch_size, range(state.step, last))
    if rng_state is not None:
        torch.set_rng_state(rng_state)
    bar = tqdm(total=config.steps, initial=state.step, disable=not progress,
               desc="train pointhmr", unit="step")
    started = time.perf_counter()
    net.train()
    while state.step < last:
        _freeze_encoder(net, state.step < config.freeze_backbone_steps)
        batch = next(stream)
        losses = pointhmr_losses(net(batch.inputs, fine_heatmaps=False), batch, targets)
        optimise(net, opt, sched, losses["total"])
        state.step += 1
        bar.update(1)
        bar.set_postfix(loss=f"{losses['total'].item():.3f}")
        record = None
        if state.step % 50 == 0 or state.step == config.steps:
            record = step_record(state.step, started, sched, losses)
        if state.step % config.val_every == 0 or state.step == config.steps:
            val = validate(net, data, config.seed, config.val_samples, 32)
            record = (record or {"step": state.step}) | {
                f"val_{k}": round(v, 2) for k, v in val.items()}
            state.history.append({"step": state.step, "val": val})
        if record:
            append_log(run_dir, record)
        if state.step % config.checkpoint_every == 0 or state.step in (last, config.steps):
            _save_checkpoint(ckpt_path, net, opt, sched, config, state)
    stream.close()
    bar.close()
    if out is not None and state.step == config.steps:
        pointhmr_builtin.save(out, net, body.data.name,
                              {"train_config": asdict(config), "steps": state.step,
                               "encoder_started_from": started_from,
                               "validation": state.history[-1]["val"] if state.history
                               else None})
    return state


def _encoder(net: PointHMR) -> list[torch.nn.Module]:
    """The parts a PyMAF file starts: the backbone and the keypoint readout."""
    return [m for m in (net.backbone, net.readout) if m is not None]


def _start_encoder(net: PointHMR, config: PointHMRTrainConfig, checkpoint: Path) -> str | None:
    """Copy ``config.init_from``'s encoder into a fresh pymaf-small run (a resumed one
    gets its weights from the checkpoint); returns the file's name as stored, or None."""
    if config.backbone != "pymaf-small" or not config.init_from:
        return None
    if not checkpoint.exists():
        pointhmr_builtin.init_from_pymaf(net, config.init_from)
    return Path(config.init_from).name


def _freeze_encoder(net: PointHMR, frozen: bool) -> None:
    """Fix (or free) the started encoder: no gradients, batch-norm on its stored statistics."""
    for module in _encoder(net):
        module.train(not frozen)
        for p in module.parameters():
            p.requires_grad_(not frozen)
