"""Training the scene-pose generator on rendered scenes (or a Sitcom-format list).

The scenes are rendered once into npz shards (``render_cache``); templates come from the
training split by seeded k-means and are kept in the run folder. Each step draws a batch,
mirrors half of it, jitters colours, and paints a smooth fill over the person's spot in
some (the real evaluation photos have their person painted out that way); optionally it
re-crops some to a photo-like aspect and degrades some like camera photos. Losses: the
compatibility (binary cross-entropy; from ``self_train_from`` on, templates the net scores
above ``self_train_threshold`` join the ground truth's as positives: self-training), the
ground-truth template's scale (L1), its offsets in the person's box (squared, missing
joints masked), the teacher's offsets (squared) and the student's distance to the
teacher's (distillation).

A run folder holds ``checkpoint.pt`` (atomic; a killed run resumes), ``templates.json``
and ``log.jsonl``; ``--out`` gets the weights file when the run reaches its last step,
with the box ranking's compatibility weight fit on the validation scenes
(:func:`calibrate`; re-running a finished run writes the file again).
"""
from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from studio.body.storage import atomic_write_bytes
from studio.nets.scenepose import ScenePoseConfig, ScenePoseNet, joint_heatmaps, roi_align
from studio.nets.scenepose_views import MIRROR, box_frame, crop_boxes, make_views, normalise
from studio.synth.photo_degrade import degrade_photo
from studio.synth.scene_paint import paint_out_box
from studio.synth.scene_reframe import reframe as reframe_scene
from studio.synth.scenepose_data import SceneSet, TemplateSet, build_templates, \
    check_cache_origin, load_cache, render_cache
from studio.train.run_files import append_log, optimise, save_checkpoint, step_record


# How a training scene's person spot is painted out: "paint" is the real photos' kind of
# fill (a rounded blob, normalised convolution plus grain; the default), "ellipse" a
# blurred copy over an ellipse (what the first shipped weights were trained with).
FILL_STYLES = ("paint", "ellipse")


@dataclass
class ScenePoseTrainConfig:
    """Everything that defines a run; stored in its checkpoint and the weights file."""

    data: str = "synth"          # synth (rendered scenes) or sitcom:LIST
    samples: int = 4000          # scenes rendered (synth)
    render_size: int = 192
    templates: int = 14
    input_size: int = 96
    steps: int = 3000
    batch_size: int = 32
    lr: float = 1e-3
    weight_decay: float = 1e-4
    self_train_from: float = 0.5
    self_train_threshold: float = 0.7
    distill_weight: float = 0.5
    fill_probability: float = 0.5
    fill_style: str = "paint"     # paint (scene_paint.paint_out_box) or ellipse
    degrade: float = 0.0          # share of scenes blurred, noised and JPEG-compressed
    reframe: float = 0.0          # share of scenes re-cropped to a photo-like aspect
    val_samples: int = 200
    val_every: int = 250
    checkpoint_every: int = 50
    seed: int = 0
    scene_seed: int = -1         # first rendered scene's seed (-1: seed)
    threads: int = 1

    def __post_init__(self) -> None:
        if not (self.data == "synth" or self.data.startswith("sitcom:")):
            raise ValueError(f"--data {self.data!r}: use synth or sitcom:PATH")
        if self.steps < 1 or self.batch_size < 2 or self.templates < 2:
            raise ValueError("steps must be at least 1, batch size and templates at least 2")
        for name in ("fill_probability", "degrade", "reframe"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"--{name.replace('_', '-')} is a share: use 0 to 1")
        if self.fill_style not in FILL_STYLES:
            raise ValueError(f"--fill-style {self.fill_style!r}: use {' or '.join(FILL_STYLES)}")
        if self.data == "synth" and self.samples <= self.val_samples:
            raise ValueError("--samples must exceed --val-samples")

    def first_scene(self) -> int:
        """The seed of the first rendered scene (``scene_seed``, else ``seed``)."""
        return self.seed if self.scene_seed < 0 else self.scene_seed

    def net_config(self) -> ScenePoseConfig:
        return ScenePoseConfig(templates=self.templates, input_size=self.input_size)


@dataclass
class RunState:
    step: int = 0
    history: list[dict] = field(default_factory=list)


def load_data(config: ScenePoseTrainConfig, run_dir: Path, progress: bool) -> SceneSet:
    """The run's scenes: rendered into ``run_dir/scenes`` on first use, or a Sitcom list."""
    if config.data.startswith("sitcom:"):
        from studio.io.sitcom import load_sitcom

        return load_sitcom(Path(config.data[len("sitcom:"):]))
    folder = run_dir / "scenes"
    check_cache_origin(folder, config.first_scene(), config.render_size)  # before the bar
    bar = tqdm(total=config.samples, disable=not progress, desc="render scenes", unit="scene")
    render_cache(folder, config.samples, config.first_scene(), config.render_size,
                 progress=lambda done, _: bar.update(done - bar.n))
    bar.close()
    return load_cache(folder)


def _lr_factor(step: int, total: int, warmup: int = 100) -> float:
    if step < warmup:
        return (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return 0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))


@dataclass
class Batch:
    images: torch.Tensor     # [B,3,H,W] 0..1, narrower ones padded black on the right
    keypoints: np.ndarray    # [B,16,2] px, -1 missing
    boxes: np.ndarray        # [B,4] px
    widths: np.ndarray       # [B] each image's own width in px

    def views(self, size: int, centres: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """The net's three inputs (:func:`make_views`), each image seen at its own width
        as a photo of that size is, not with the batch's padding."""
        if (self.widths == self.images.shape[-1]).all():
            return make_views(self.images, centres, size)
        each = [make_views(self.images[i:i + 1, :, :, :int(w)], centres[i:i + 1], size)
                for i, w in enumerate(self.widths)]
        return tuple(torch.cat(v) for v in zip(*each))


def _image_tensor(images: list[np.ndarray]) -> torch.Tensor:
    """Images of one height into one tensor, narrower ones padded black on the right."""
    width = max(im.shape[1] for im in images)
    out = torch.zeros(len(images), 3, images[0].shape[0], width)
    for i, im in enumerate(images):
        out[i, :, :, :im.shape[1]] = torch.from_numpy(np.ascontiguousarray(im)).permute(2, 0, 1)
    return out / 255


def make_batch(data: SceneSet, index: np.ndarray, rng: np.random.Generator,
               fill_probability: float, fill_style: str = "paint",
               degrade: float = 0.0, reframe: float = 0.0) -> Batch:
    """Scenes ``index`` with a smooth fill over the spot (``fill_style``, see
    :data:`FILL_STYLES`), a photo-like aspect in a share ``reframe``
    (:func:`studio.synth.scene_reframe.reframe`), camera degradations in a share
    ``degrade`` (:func:`studio.synth.photo_degrade.degrade_photo`), mirroring and colour
    jitter."""
    if fill_style == "paint":
        paint = rng.random(len(index)) < fill_probability
        pictures = [paint_out_box(data.images[i], data.boxes[i], rng) if p
                    else data.images[i] for i, p in zip(index, paint)]
    else:
        pictures = [data.images[i] for i in index]
    kp = data.keypoints[index].astype(np.float64).copy()
    boxes = data.boxes[index].astype(np.float64).copy()
    if reframe > 0:
        for j in np.flatnonzero(rng.random(len(index)) < reframe):
            pictures[j], kp[j], boxes[j] = reframe_scene(pictures[j], kp[j], boxes[j], rng)
    if degrade > 0:
        pictures = [degrade_photo(im, rng) if d else im
                    for im, d in zip(pictures, rng.random(len(index)) < degrade)]
    images = _image_tensor(pictures)
    widths = np.array([im.shape[1] for im in pictures], np.float64)
    for i in np.flatnonzero(rng.random(len(index)) < 0.5):
        w = widths[i]
        images[i, :, :, :int(w)] = images[i, :, :, :int(w)].flip(-1)
        seen = (kp[i] >= 0).all(-1)
        kp[i, :, 0] = np.where(seen, w - kp[i, :, 0], kp[i, :, 0])
        kp[i] = kp[i, list(MIRROR)]
        boxes[i, [0, 2]] = w - boxes[i, [2, 0]]
    b = len(index)
    gain = torch.as_tensor(rng.uniform(0.6, 1.4, (b, 1, 1, 1)) * rng.uniform(0.85, 1.15, (b, 3, 1, 1)),
                           dtype=torch.float32)
    mean = images.mean((1, 2, 3), keepdim=True)
    contrast = torch.as_tensor(rng.uniform(0.7, 1.3, (b, 1, 1, 1)), dtype=torch.float32)
    images = ((images - mean) * contrast + mean) * gain
    if fill_style == "ellipse":
        fill = np.flatnonzero(rng.random(b) < fill_probability)
        if len(fill):
            images[fill] = _smooth_fill(images[fill], boxes[fill], rng)
    return Batch(images.clamp(0, 1), kp, boxes, widths)


def _smooth_fill(images: torch.Tensor, boxes: np.ndarray, rng: np.random.Generator) -> torch.Tensor:
    """Paint an ellipse over each box with a blurred copy of its surroundings, as the
    real photos' person removal does."""
    n, _, h, w = images.shape
    small = F.avg_pool2d(images, 8, ceil_mode=True)
    blurred = F.interpolate(F.avg_pool2d(small, 5, 1, 2, count_include_pad=False),
                            size=(h, w), mode="bilinear", align_corners=False)
    ys = torch.arange(h, dtype=torch.float32)[:, None]
    xs = torch.arange(w, dtype=torch.float32)[None]
    c, _ = box_frame(boxes)
    half = (boxes[:, 2:] - boxes[:, :2]) / 2 * rng.uniform(0.8, 1.2, (n, 1))
    masks = []
    for i in range(n):
        r = ((xs - c[i, 0]) / max(half[i, 0], 1)) ** 2 + ((ys - c[i, 1]) / max(half[i, 1], 1)) ** 2
        masks.append(torch.sigmoid((1 - r) * 8))
    mask = torch.stack(masks)[:, None]
    return images * (1 - mask) + blurred * mask


def losses(net: ScenePoseNet, templates: TemplateSet, batch: Batch, self_train: bool,
           config: ScenePoseTrainConfig) -> dict[str, torch.Tensor]:
    h = float(batch.images.shape[-2])
    poses = normalise(batch.keypoints, batch.boxes)
    k = templates.assign(poses)
    centre, side = box_frame(batch.boxes)
    t = torch.as_tensor
    centres = t(centre, dtype=torch.float32)
    boxes = t(batch.boxes, dtype=torch.float32)
    which = t(k)[:, None]
    out = net(*batch.views(net.config.input_size, centres), which=which,
              boxes=crop_boxes(boxes[:, None], centres, h))
    template = net.templates[which[:, 0]]  # [B,16,2]
    target = t(poses, dtype=torch.float32) - template
    seen = torch.isfinite(target).all(-1)
    target = target.nan_to_num(0.0).clamp(-0.5, 0.5)

    def masked_sq(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return (((a - b) ** 2).sum(-1) * seen).sum() / seen.sum().clamp_min(1)

    positives = F.one_hot(which[:, 0], net.config.templates).float()
    if self_train:
        confident = torch.sigmoid(out.logits.detach()) > config.self_train_threshold
        positives = torch.maximum(positives, confident.float())
    scale_gt = t(2 * side / h, dtype=torch.float32)
    b = boxes.shape[0]
    w = float(batch.images.shape[-1])
    img_box = boxes / boxes.new_tensor([w, h, w, h]) * 2 - 1
    pixels = roi_align(batch.images, img_box[:, None], net.config.teacher_size)[:, 0]
    joints_px = centres[:, None] + template * t(side, dtype=torch.float32)[:, None, None]
    heat = joint_heatmaps(joints_px, boxes, net.config.teacher_size)
    teacher = net.teacher(pixels, heat, template)
    student = out.offsets[:, 0]
    terms = {"compat": F.binary_cross_entropy_with_logits(out.logits, positives),
             "scale": (out.scale[torch.arange(b), which[:, 0]] - scale_gt).abs().mean(),
             "offset": masked_sq(student, target),
             "teacher": masked_sq(teacher, target),
             "distill": masked_sq(student, teacher.detach())}
    terms["total"] = (terms["compat"] + terms["scale"]
                      + 10 * (terms["offset"] + terms["teacher"]
                              + config.distill_weight * terms["distill"]))
    return terms


def validate(net: ScenePoseNet, templates: TemplateSet, data: SceneSet) -> dict:
    """Top-1 and best-of-5 PCK@0.2 in both modes, with the box-only baseline's."""
    from studio.pipeline.scenepose import ScenePoseModel
    from studio.train.scenepose_eval import evaluate

    model = ScenePoseModel(net, templates)
    out = {}
    for mode in ("box", "point"):
        rows = evaluate(model, data, mode, 5)["rows"]
        out[mode] = {name: {"top1": r["top1"]["pck@0.2"], "best5": r["best_of_k"]["pck@0.2"]}
                     for name, r in rows.items()}
    net.train()
    return out


COMPAT_WEIGHTS = (0.25, 0.5, 1.0, 2.0, 4.0)
OFFSET_SCALES = (0.0, 0.5, 1.0)


def calibrate(model, data: SceneSet, k: int = 5) -> tuple[float, float, dict[str, dict]]:
    """The box ranking's compatibility weight (of :data:`COMPAT_WEIGHTS`) and the offsets'
    scale (of :data:`OFFSET_SCALES`) that score best on ``data`` (mean of top-1 and
    best-of-k PCK@0.2), and every pair's figures (keys ``weight/scale``)."""
    from studio.train.scenepose_eval import predict_all, ranked, summarise

    figures = {}
    for scale in OFFSET_SCALES:
        model.offset_scale = scale
        compat, kp = predict_all(model, data, "box")
        for w in COMPAT_WEIGHTS:
            row = summarise(ranked(model.rank_scores(compat, data.boxes, w), kp),
                            data.keypoints, data.heights(), k)
            figures[f"{w}/{scale}"] = {"top1": row["top1"]["pck@0.2"],
                                       "best_of_k": row["best_of_k"]["pck@0.2"]}
    best = max(figures, key=lambda key: figures[key]["top1"] + figures[key]["best_of_k"])
    weight, scale = (float(v) for v in best.split("/"))
    model.compat_weight, model.offset_scale = weight, scale
    return weight, scale, figures


def train(config: ScenePoseTrainConfig, run_dir: Path, out: Path | None = None,
          progress: bool = True, stop_after: int | None = None) -> RunState:
    """Train (or resume) the run in ``run_dir``; write the weights to ``out`` at the end."""
    from studio.pipeline.scenepose import save_scenepose

    if config.threads:
        torch.set_num_threads(config.threads)
    run_dir.mkdir(parents=True, exist_ok=True)
    data = load_data(config, run_dir, progress)
    n_val = min(config.val_samples, len(data) // 10)
    train_set = data.subset(np.arange(n_val, len(data)))
    val_set = data.subset(np.arange(n_val)).painted_out(config.seed)  # as the real photos
    tpath = run_dir / "templates.json"
    if tpath.exists():
        templates = TemplateSet.from_dict(json.loads(tpath.read_text()))
    else:
        templates = build_templates(train_set.keypoints, train_set.boxes, train_set.heights(),
                                    config.templates, config.seed, train_set.pose_class)
        atomic_write_bytes(tpath, json.dumps(templates.to_dict()).encode())
    torch.manual_seed(config.seed)
    net = ScenePoseNet(config.net_config(), torch.as_tensor(templates.poses),
                       torch.as_tensor(templates.extents))
    opt = torch.optim.AdamW(net.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: _lr_factor(s, config.steps))
    ckpt_path = run_dir / "checkpoint.pt"
    state = RunState()
    if ckpt_path.exists():
        ckpt = torch.load(ckpt_path, map_location="cpu", weights_only=False)
        net.load_state_dict(ckpt["model"])
        opt.load_state_dict(ckpt["optimizer"])
        sched.load_state_dict(ckpt["scheduler"])
        state = RunState(step=ckpt["step"], history=ckpt["history"])
    last = config.steps if stop_after is None else min(config.steps, state.step + stop_after)
    bar = tqdm(total=config.steps, initial=state.step, disable=not progress,
               desc="train scenepose", unit="step")
    started = time.perf_counter()
    self_train_step = int(config.self_train_from * config.steps)
    while state.step < last:
        net.train()
        rng = np.random.default_rng([config.seed, state.step])  # resumes repeatably
        index = rng.choice(len(train_set), config.batch_size, replace=False)
        batch = make_batch(train_set, index, rng, config.fill_probability, config.fill_style,
                           config.degrade, config.reframe)
        terms = losses(net, templates, batch, state.step >= self_train_step, config)
        optimise(net, opt, sched, terms["total"])
        state.step += 1
        bar.update(1)
        bar.set_postfix(loss=f"{terms['total'].item():.3f}")
        record = None
        if state.step % 25 == 0 or state.step == config.steps:
            record = step_record(state.step, started, sched, terms)
        if state.step % config.val_every == 0 or state.step == config.steps:
            scores = validate(net, templates, val_set)
            state.history.append({"step": state.step, "val": scores})
            record = (record or {"step": state.step}) | {"val": scores}
            tqdm.write(f"step {state.step}: " + json.dumps(scores))
        if record:
            append_log(run_dir, record)
        if state.step % config.checkpoint_every == 0 or state.step in (last, config.steps):
            save_checkpoint(ckpt_path, net, opt, sched, config, state.step, state.history)
    bar.close()
    if out is not None and state.step == config.steps:
        from studio.pipeline.scenepose import ScenePoseModel

        weight, scale, figures = calibrate(ScenePoseModel(net, templates), val_set)
        save_scenepose(out, net, templates, {
            "steps": state.step, "train_config": asdict(config),
            "validation": state.history[-1] if state.history else None,
            "calibration_validation": figures}, compat_weight=weight, offset_scale=scale)
    return state
