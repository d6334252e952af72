"""Training the keypoint fit (SMPLR) on keypoints of synthetic bodies made on the fly.

One run trains one input dimension (3D or 2D) for a set of layouts (one input layer
each, the rest shared); each step draws one layout (the ``focus`` layouts three times as
often) and a batch from :func:`studio.synth.smplr_data.make_batch`. Losses are L1: the
denoised points, the rotation matrices and the shape coefficients; from
``finetune_from`` (a fraction of the steps) on, also the joints and landmarks of the
posed body (the fine-tune through the body model).

A run folder holds ``checkpoint.pt`` (atomic, every ``checkpoint_every`` steps: a killed
run resumes where it stopped) and ``log.jsonl``; ``--out`` gets the weights file (fp16)
when the run reaches its last step.
"""
from __future__ import annotations

import json
import functools
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from tqdm import tqdm

from studio.body.registry import load_body_model
from studio.body.storage import atomic_torch_save
from studio.errors import StudioError
from studio.nets.smplr import FILE_FORMAT, SMPLR, encode, world_rotations
from studio.nets.smplr import LAYOUTS as ALL_LAYOUTS
from studio.synth.key_poses import sample_training_poses
from studio.synth.keypoint_noise import EVAL_LEVELS
from studio.synth.smplr_data import make_batch
from studio.synth.smplr_points import PartialBody, layout_points, relative_vectors, smplr_points
from studio.train.metrics import procrustes_align
from studio.train.run_files import append_log, optimise, save_checkpoint, step_record

DEFAULT_FOCUS = {3: "smpl24,mediapipe33", 2: "coco17"}
LOSS_WEIGHTS = {"points": 10.0, "rotmat": 1.0, "betas": 0.1, "body": 10.0}


@dataclass
class SMPLRConfig:
    """Everything that defines a run; stored in its checkpoint and the weights file."""

    dims: int = 3
    layouts: str = ",".join(ALL_LAYOUTS)
    focus: str = ""  # layouts drawn three times as often ("" = the default for dims)
    body: str = "mannequin"
    steps: int = 6000
    batch_size: int = 256
    lr: float = 1e-3
    weight_decay: float = 1e-4
    hidden: int = 512
    dropout: float = 0.0  # missing points are the noise model's (masked) dropout
    finetune_from: float = 0.05
    seed: int = 0
    val_every: int = 500
    val_samples: int = 512
    checkpoint_every: int = 100
    threads: int = 0
    init: str = ""  # weights file a new run starts from (fine-tuning), "" = random
    free_fraction: float = 0.0  # share of poses uniform in the joint limits, any orientation
    turned_fraction: float = 0.0  # share of the other poses at any orientation
    mixed_fraction: float = 0.0  # share of poses made of other draws' torso, arms and legs

    def __post_init__(self) -> None:
        if self.dims not in (2, 3):
            raise ValueError("dims must be 2 or 3")
        unknown = [k for k in self.layout_list + self.focus_list if k not in ALL_LAYOUTS]
        if unknown:
            raise ValueError(f"unknown layouts {', '.join(unknown)} (known: "
                             f"{', '.join(ALL_LAYOUTS)})")
        if self.steps < 1 or self.batch_size < 2:
            raise ValueError("steps must be at least 1 and batch size at least 2")
        if not all(0 <= v <= 1 for v in (self.free_fraction, self.turned_fraction,
                                         self.mixed_fraction)):
            raise ValueError("free, turned and mixed fractions must be between 0 and 1")

    @property
    def layout_list(self) -> list[str]:
        return [k for k in self.layouts.split(",") if k]

    @property
    def focus_list(self) -> list[str]:
        named = self.focus or DEFAULT_FOCUS[self.dims]
        return [k for k in named.split(",") if k and k in self.layout_list]

    def arch(self) -> dict:
        return {"layouts": self.layout_list, "dims": self.dims, "hidden": self.hidden}


@dataclass
class RunState:
    step: int = 0
    history: list[dict] = field(default_factory=list)


def template_lengths(body: PartialBody) -> torch.Tensor:
    """[41] parent distances of SMPLR's points on the mean shape in the rest pose."""
    eye = torch.eye(3).expand(1, 24, 3, 3)
    joints, _, landmarks = body(eye[:, 0], eye[:, 1:], torch.zeros(1, 10))
    return relative_vectors(smplr_points(joints, landmarks))[0].norm(dim=-1)


def build(config: SMPLRConfig) -> tuple[SMPLR, PartialBody]:
    partial = PartialBody(load_body_model(config.body))
    net = SMPLR(tuple(config.layout_list), config.dims, template_lengths(partial),
                hidden=config.hidden, dropout=config.dropout)
    return net, partial


def _lr_factor(step: int, total: int, warmup: int = 100) -> float:
    if step < warmup:
        return (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return 0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))


def losses(net: SMPLR, partial: PartialBody, batch, layout: str, finetune: bool
           ) -> dict[str, torch.Tensor]:
    out = net(encode(batch.keypoints, batch.seen, batch.intrinsics), layout)
    terms = {"points": F.l1_loss(out.points, batch.points),
             "rotmat": F.l1_loss(world_rotations(out.rotmat), world_rotations(batch.rotmat)),
             "betas": F.l1_loss(out.betas, batch.betas)}
    if finetune:
        joints, _, landmarks = partial(out.rotmat[:, 0], out.rotmat[:, 1:], out.betas)
        terms["body"] = F.l1_loss(smplr_points(joints, landmarks), batch.points)
    terms["total"] = sum(LOSS_WEIGHTS[k] * v for k, v in terms.items())
    return terms


@torch.no_grad()
def quick_errors(net: SMPLR, partial: PartialBody, batch, layout: str) -> dict[str, float]:
    """Mean MPJPE and PA-MPJPE (mm, H36M-17 joints, pelvis-centred) from the joints alone."""
    net.eval()
    out = net(encode(batch.keypoints, batch.seen, batch.intrinsics), layout)
    _, pred, _ = partial(out.rotmat[:, 0], out.rotmat[:, 1:], out.betas)
    _, true, _ = partial(batch.rotmat[:, 0], batch.rotmat[:, 1:], batch.betas)
    pj, gj = layout_points(pred, "h36m17"), layout_points(true, "h36m17")
    pj, gj = pj - pj[:, :1], gj - gj[:, :1]
    return {"mpjpe": round(1000 * (pj - gj).norm(dim=-1).mean().item(), 2),
            "pa_mpjpe": round(1000 * (procrustes_align(pj, gj) - gj).norm(dim=-1).mean().item(), 2)}


def save_weights(path: Path, net: SMPLR, config: SMPLRConfig, extra: dict) -> None:
    """The shipped weights file: fp16 state dict, architecture and training facts."""
    state = {k: v.half() if v.is_floating_point() else v for k, v in net.state_dict().items()}
    atomic_torch_save({"format": FILE_FORMAT, "version": 1, "arch": config.arch(),
                       "body": config.body, "state_dict": state, "train_config": asdict(config),
                       **extra}, path, make_folders=True)  # --out may name a new folder


def weight_soup(paths: list[Path]) -> dict:
    """The uniform average of weights files fine-tuned from one start (a weight soup,
    Wortsman et al. 2022): every floating tensor, batch-norm statistics included; the
    format entries from the first file, each file's training facts in ``soup_of``.
    Runs that share a start stay in one basin, where their mean fits as well as either
    and generalises like neither alone. ValueError unless the files share architecture
    and body model."""
    from studio.pipeline.keypoint_fit import read_smplr_file

    if len(paths) < 2:
        raise ValueError("a soup needs at least two weights files")
    files = [read_smplr_file(p) for p in paths]
    first = files[0]
    for path, content in zip(paths[1:], files[1:]):
        if content["arch"] != first["arch"] or content.get("body") != first.get("body"):
            raise ValueError(f"{path}: another architecture or body model than {paths[0]}")
    state = {}
    for key, value in first["state_dict"].items():
        if value.is_floating_point():
            mean = sum(f["state_dict"][key].float() for f in files) / len(files)
            state[key] = mean.to(value.dtype)
        else:
            state[key] = value
    facts = ("train_config", "steps", "validation")  # each run's own, kept in soup_of
    return {**{k: v for k, v in first.items() if k not in facts}, "state_dict": state,
            "soup_of": [{"file": Path(p).name, **{k: f.get(k) for k in facts}}
                        for p, f in zip(paths, files)]}


def _start_from(net: SMPLR, config: SMPLRConfig) -> None:
    """A new run's weights from the file ``config.init`` (fine-tuning shipped weights with
    a fresh schedule); it must have the run's architecture."""
    from studio.pipeline.keypoint_fit import read_smplr_file

    content = read_smplr_file(config.init)
    if content["arch"] != config.arch():
        raise StudioError(f"{config.init}: architecture {content['arch']} is not the run's "
                         f"{config.arch()}")
    net.load_state_dict({k: v.float() if v.is_floating_point() else v
                         for k, v in content["state_dict"].items()})


def _draw_layout(gen: torch.Generator, config: SMPLRConfig) -> str:
    layouts = config.layout_list
    weights = torch.tensor([3.0 if k in config.focus_list else 1.0 for k in layouts])
    return layouts[int(torch.multinomial(weights, 1, generator=gen))]


def train(config: SMPLRConfig, run_dir: Path, out: Path | None = None, progress: bool = True,
          stop_after: int | None = None) -> RunState:
    """Train (or resume) the run in ``run_dir``; write the weights to ``out`` at the end."""
    if config.threads:
        torch.set_num_threads(config.threads)
    run_dir.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(config.seed)
    net, partial = build(config)
    opt = torch.optim.AdamW(net.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: _lr_factor(s, config.steps))
    ckpt_path = run_dir / "checkpoint.pt"
    state, gen = RunState(), torch.Generator().manual_seed(config.seed)
    if ckpt_path.exists():
        ckpt = torch.load(ckpt_path, map_location="cpu", weights_only=False)
        net.load_state_dict(ckpt["model"])
        opt.load_state_dict(ckpt["optimizer"])
        sched.load_state_dict(ckpt["scheduler"])
        state = RunState(step=ckpt["step"], history=ckpt["history"])
        gen.set_state(ckpt["generator"])
    elif config.init:
        _start_from(net, config)
    val_gen = torch.Generator().manual_seed(config.seed + 1_000_003)
    val_level = EVAL_LEVELS[config.dims][1]
    val = {k: make_batch(partial, val_gen, config.val_samples, k, config.dims, val_level)
           for k in config.focus_list or config.layout_list[:1]}
    last = config.steps if stop_after is None else min(config.steps, state.step + stop_after)
    bar = tqdm(total=config.steps, initial=state.step, disable=not progress,
               desc=f"train smplr {config.dims}d", unit="step")
    started = time.perf_counter()
    finetune_step = int(config.finetune_from * config.steps)
    poses = functools.partial(sample_training_poses, free=config.free_fraction,
                              turned=config.turned_fraction, mixed=config.mixed_fraction)
    while state.step < last:
        net.train()
        layout = _draw_layout(gen, config)
        batch = make_batch(partial, gen, config.batch_size, layout, config.dims, poses=poses)
        terms = losses(net, partial, batch, layout, state.step >= finetune_step)
        optimise(net, opt, sched, terms["total"])
        state.step += 1
        bar.update(1)
        bar.set_postfix(loss=f"{terms['total'].item():.3f}", layout=layout)
        record = None
        if state.step % 50 == 0 or state.step == config.steps:
            record = step_record(state.step, started, sched, terms, layout=layout)
        if state.step % config.val_every == 0 or state.step == config.steps:
            errors = {k: quick_errors(net, partial, b, k) for k, b in val.items()}
            state.history.append({"step": state.step, "val": errors})
            record = (record or {"step": state.step}) | {"val": errors}
            tqdm.write(f"step {state.step}: " + json.dumps(errors))
        if record:
            append_log(run_dir, record)
        if state.step % config.checkpoint_every == 0 or state.step in (last, config.steps):
            save_checkpoint(ckpt_path, net, opt, sched, config, state.step, state.history,
                            generator=gen.get_state())
    bar.close()
    if out is not None and state.step == config.steps:
        save_weights(out, net, config, {"steps": state.step,
                                        "validation": state.history[-1] if state.history else None})
    return state
