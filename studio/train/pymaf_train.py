"""Training the built-in PyMAF variants on synthetic mannequin data.

A run is a folder: ``checkpoint.pt`` (model, optimizer, scheduler, step, config; written
atomically every ``checkpoint_every`` steps, so a killed run resumes where it stopped),
``log.csv`` and ``log.jsonl`` (losses and validation errors) and, at the end, the
built-in weights file. Under ``torchrun`` every rank trains on its own batches through
DistributedDataParallel and rank 0 writes.
"""
from __future__ import annotations

import csv
import ctypes
import math
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from torch import nn
from tqdm import tqdm

from studio.body.model import BodyModel
from studio.body.registry import find_body_model
from studio.errors import ModelFileError
from studio.nets.model_registry import load_builtin, save_builtin, stored_state_dict
from studio.nets.pymaf import PARAM_DIM, PyMAF
from studio.synth.dataset import SyntheticPeople
from studio.synth.proxy import NUM_KEYPOINTS, PROXY_CHANNELS
from studio.synth.stream import batches
from studio.train.evaluate import evaluate
from studio.train.losses import pymaf_losses
from studio.train.run_files import append_log, optimise, save_checkpoint, step_record


@dataclass
class TrainConfig:
    """Everything that defines a run; stored in its checkpoint and the weights file."""

    input: str = "proxy"
    backbone: str = "small"
    feedback: str = "maf"
    steps: int = 4000
    batch_size: int = 32
    lr: float = 3e-4
    weight_decay: float = 1e-4
    size: int = 64
    pyramid_channels: int = 32
    hidden: int = 512
    dropout: float = 0.5
    keypoint_readout: bool = False  # proxy input: regressors also get the heatmaps' positions
    regressor_relu: bool = False  # nonlinear regressors (HMR's; PyMAF's are linear)
    init_from: str = ""  # built-in weights file to start from (a fresh run only)
    seed: int = 0
    val_every: int = 500
    val_samples: int = 256
    checkpoint_every: int = 200
    device: str = "cpu"
    threads: int = 0  # 0 keeps torch's default
    data_workers: int = 0  # processes making training batches ahead (0: the loop makes them)

    def __post_init__(self) -> None:
        if self.keypoint_readout and self.input != "proxy":
            raise ValueError("--keypoint-readout needs --input proxy (RGB has no heatmaps)")

    def arch(self) -> dict:
        """PyMAF constructor arguments (besides the body) of this run's network."""
        arch = {"backbone": self.backbone, "in_channels": self.in_channels,
                "pyramid_channels": self.pyramid_channels, "hidden": self.hidden,
                "feedback": self.feedback, "dropout": self.dropout, "smpl_batch_size": 1}
        if self.keypoint_readout:
            arch["keypoint_readout"] = NUM_KEYPOINTS
        if self.regressor_relu:
            arch["regressor_relu"] = True
        return arch

    @property
    def in_channels(self) -> int:
        return PROXY_CHANNELS if self.input == "proxy" else 3


@dataclass
class RunState:
    step: int = 0
    history: list[dict] = field(default_factory=list)


def _keep_freed_memory() -> None:
    """Ask glibc to keep freed large blocks instead of returning them to the kernel.

    Every step allocates the same large tensors again; by default each one is a fresh
    mmap whose pages fault in one by one, which measured up to 2x slower for the
    heatmap stage. Harmless (and skipped) where glibc is not the allocator.
    """
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return
    m_trim_threshold, m_mmap_threshold = -1, -3
    libc.mallopt(m_mmap_threshold, 1 << 30)
    libc.mallopt(m_trim_threshold, (1 << 31) - 1)


def _distributed() -> tuple[int, int]:
    """(rank, world size), initialising the process group when run under torchrun."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not torch.distributed.is_initialized():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        torch.distributed.init_process_group(backend)
    rank = torch.distributed.get_rank() if world > 1 else 0
    return rank, world


def build_network(config: TrainConfig) -> PyMAF:
    return PyMAF(find_body_model("mannequin"), **config.arch())


def warm_start(net: PyMAF, path: str | os.PathLike) -> None:
    """Start ``net`` from a built-in weights file of the same architecture, or of the same
    one without the keypoint readout: then the regressors' new input columns start at
    zero, so the started net gives exactly the file's answers (unless only one of the
    two has ReLU regressors: those share weights but not answers)."""
    source = stored_state_dict(load_builtin(path))
    target = net.state_dict()
    extra = net.readout.out_dim if net.readout is not None else 0
    for key, value in source.items():
        if key not in target:
            raise ModelFileError(f"{path}: {key} is not in this run's network")
        into = target[key]
        if into.shape == value.shape:
            into.copy_(value)
        elif key.endswith("fc1.weight") and extra and \
                into.shape == (value.shape[0], value.shape[1] + extra):
            # inputs [feature, readout, pose, shape, cam]: the readout's columns are new
            features = value.shape[1] - PARAM_DIM
            into.zero_()
            into[:, :features] = value[:, :features]
            into[:, features + extra:] = value[:, features:]
        else:
            raise ModelFileError(f"{path}: {key} has shape {tuple(value.shape)}, this "
                                 f"run's network {tuple(into.shape)}")


def _lr_factor(step: int, total: int, warmup: int = 200) -> float:
    """Linear warm-up, then cosine decay to 5% of the base rate."""
    if step < warmup:
        return (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return 0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))


def _set_rates(opt: torch.optim.Optimizer, sched: torch.optim.lr_scheduler.LambdaLR,
               config: TrainConfig, step: int) -> None:
    """Rates from this call's ``--lr`` and ``--steps``, not the checkpoint's: a resumed
    run may be given a new base rate or length (the same values when neither changed)."""
    sched.base_lrs = [config.lr] * len(opt.param_groups)
    for group in opt.param_groups:
        group["initial_lr"] = config.lr
        group["lr"] = config.lr * _lr_factor(step, config.steps)


def _save_checkpoint(path: Path, net: nn.Module, opt: torch.optim.Optimizer,
                     sched: torch.optim.lr_scheduler.LRScheduler, config: TrainConfig,
                     state: RunState) -> None:
    save_checkpoint(path, net, opt, sched, config, state.step, state.history,
                    torch_rng=torch.get_rng_state())


LOG_COLUMNS = ("step", "seconds", "lr", "keypoints_2d", "keypoints_3d", "pose", "shape",
               "vertices", "dense", "total", "val_mpjpe", "val_pa_mpjpe", "val_pve")


def _log(run_dir: Path, record: dict) -> None:
    append_log(run_dir, record)
    csv_path = run_dir / "log.csv"
    new = not csv_path.exists()
    with open(csv_path, "a", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=LOG_COLUMNS, restval="", extrasaction="ignore")
        if new:
            writer.writeheader()
        writer.writerow(record)


def train(config: TrainConfig, run_dir: Path, out: Path | None = None,
          progress: bool = True, stop_after: int | None = None) -> RunState:
    """Train (or resume) the run in ``run_dir``; write built-in weights to ``out`` at the end.

    ``stop_after`` ends this call after that many steps, with a checkpoint, so a long run
    can be done in slices (a later call resumes it).
    """
    rank, world = _distributed()
    _keep_freed_memory()
    if config.threads:
        torch.set_num_threads(config.threads)
    device = torch.device(config.device)
    if device.type == "cuda" and world > 1:
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
    run_dir.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(config.seed)
    net = build_network(config)
    ckpt_path = run_dir / "checkpoint.pt"
    if config.init_from and not ckpt_path.exists():
        warm_start(net, config.init_from)
    net = net.to(device)
    opt = torch.optim.AdamW([p for p in net.parameters() if p.requires_grad], lr=config.lr,
                            weight_decay=config.weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: _lr_factor(s, config.steps))
    state, rng_state = RunState(), None
    if ckpt_path.exists():
        ckpt = torch.load(ckpt_path, map_location=device, weights_only=False)
        net.load_state_dict(ckpt["model"])
        opt.load_state_dict(ckpt["optimizer"])
        sched.load_state_dict(ckpt["scheduler"])
        state, rng_state = RunState(step=ckpt["step"], history=ckpt["history"]), ckpt["torch_rng"]
        if ckpt["config"]["lr"] != config.lr and rank == 0:
            tqdm.write(f"resuming at step {state.step} with --lr {config.lr:g} "
                       f"(the run had {ckpt['config']['lr']:g})")
        _set_rates(opt, sched, config, state.step)
    model = net
    if world > 1:
        model = nn.parallel.DistributedDataParallel(
            net, device_ids=[device.index] if device.type == "cuda" else None)
    data = SyntheticPeople(net.body, config.input, config.size, net.dense_size(config.size),
                           device)
    last = config.steps if stop_after is None else min(config.steps, state.step + stop_after)
    train_data = data if not config.data_workers or data.device.type == "cpu" else \
        SyntheticPeople(BodyModel(net.body.data), config.input, config.size,
                        net.dense_size(config.size))  # workers make batches on the CPU
    stream = batches(train_data, "train", config.seed, config.batch_size,
                     range(state.step, last), config.data_workers, world, rank, device)
    if rng_state is not None:
        torch.set_rng_state(rng_state)  # last, after everything start-up builds may draw
    bar = tqdm(total=config.steps, initial=state.step, disable=not progress or rank != 0,
               desc=f"train {config.input}/{config.feedback}", unit="step")
    started = time.perf_counter()
    while state.step < last:
        net.train()
        batch = next(stream)
        losses = pymaf_losses(model(batch.inputs), batch)
        optimise(net, opt, sched, losses["total"])
        state.step += 1
        bar.update(1)
        bar.set_postfix(loss=f"{losses['total'].item():.3f}")
        if rank != 0:
            continue
        record = None
        if state.step % 50 == 0 or state.step == config.steps:
            record = step_record(state.step, started, sched, losses)
        if state.step % config.val_every == 0 or state.step == config.steps:
            val = evaluate(net, data, "val", config.seed, config.val_samples,
                           config.batch_size)
            record = (record or {"step": state.step}) | {
                f"val_{k}": round(v, 2) for k, v in val["final"].items()}
            state.history.append({"step": state.step, "val": val})
        if record:
            _log(run_dir, record)
        if state.step % config.checkpoint_every == 0 or state.step in (last, config.steps):
            _save_checkpoint(ckpt_path, net, opt, sched, config, state)
    stream.close()
    bar.close()
    if rank == 0 and out is not None and state.step == config.steps:
        save_builtin(out, net, config.arch(), {"kind": config.input, "size": config.size},
                     {"train_config": asdict(config), "steps": state.step,
                      "validation": state.history[-1]["val"] if state.history else None})
    return state
