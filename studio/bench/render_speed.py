"""How many synthetic samples per second the renderer makes, stage by stage.

Training renders its data on the fly, so this tells whether a training step is model-
or data-bound: mannequin meshes in small random poses, rendered as silhouette, part
labels, IUV, 33 keypoint heatmaps and a shaded RGB image over a random background.
"""
from __future__ import annotations

import time
from collections.abc import Callable

import torch

from studio.body.registry import load_body_model
from studio.synth import raster, shading
from studio.synth.heatmaps import gaussian_heatmaps

# The stages a proxy-input (silhouette + heatmaps) training step needs besides RGB.
CORE_STAGES = ("rasterize", "silhouette", "parts", "iuv", "heatmaps")


def _timed(device: torch.device, fn: Callable[[], object]) -> tuple[object, tuple[float, float]]:
    """``fn()`` and its (wall, process CPU) seconds."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return out, (time.perf_counter() - wall, time.process_time() - cpu)


def _stage_times(inputs: dict, size: int, device: torch.device) -> dict[str, tuple[float, float]]:
    """(wall, CPU) seconds per stage for one batch rendered at ``size``."""
    faces, points = inputs["faces"], inputs["points"]
    t: dict[str, tuple[float, float]] = {}
    frags, t["rasterize"] = _timed(device, lambda: raster.rasterize(points, faces, size,
                                                                    cull_backfaces=True))
    mask, t["silhouette"] = _timed(device, lambda: raster.silhouette(frags))
    _, t["parts"] = _timed(device, lambda: raster.part_labels(frags, inputs["face_part"]))
    _, t["iuv"] = _timed(device, lambda: raster.interpolate(frags, faces, inputs["uv"]))
    _, t["heatmaps"] = _timed(device, lambda: gaussian_heatmaps(
        inputs["keypoints"], inputs["visible"], size, 2.0 * size / 128))
    rgb, t["shade"] = _timed(device, lambda: shading.shade(
        frags, faces, points, inputs["colors"], inputs["light"], inputs["ambient"],
        face_part=inputs["face_part"]))
    _, t["background"] = _timed(device, lambda: shading.composite(
        rgb, mask, shading.random_backgrounds(inputs["generator"], points.shape[0], size)))
    return t


def _inputs(batch: int, device: torch.device) -> dict:
    """Posed mannequins (small random axis-angles), framed for the crop, plus render inputs."""
    body = load_body_model("mannequin").to(device)
    gen = torch.Generator(device).manual_seed(0)

    def rand(*shape: int) -> torch.Tensor:
        return torch.randn(*shape, generator=gen, device=device)

    with torch.no_grad():
        out = body(global_orient=0.3 * rand(batch, 3), body_pose=0.3 * rand(batch, 69),
                   betas=rand(batch, 10))
    faces = torch.as_tensor(body.data.faces, device=device)
    parts = torch.as_tensor(body.data.part_labels, device=device)
    keypoints = raster.front_view(out.keypoints("mediapipe33"), reference=out.vertices, fill=0.85)
    return {
        "faces": faces, "face_part": raster.face_parts(faces, parts),
        "points": raster.front_view(out.vertices, fill=0.85),
        "uv": torch.as_tensor(body.data.uv, dtype=torch.float32, device=device),
        "keypoints": keypoints[..., :2], "visible": torch.ones(batch, 33, device=device),
        "colors": torch.rand(batch, 24, 3, generator=gen, device=device),
        "light": rand(batch, 3) + torch.tensor([0.0, -0.5, -1.0], device=device),
        "ambient": 0.3 * torch.ones(batch, device=device), "generator": gen,
    }


def render_speed(batch: int = 64, sizes: tuple[int, ...] = (128, 224), device: str = "cpu",
                 repeats: int = 3, threads: int | None = None) -> dict:
    """Samples/s per size: all stages, and the core (no RGB) stages; ms per batch per stage.

    Each stage's time is its fastest of ``repeats`` runs after a warm-up, which keeps out
    some noise from other processes sharing the CPU. ``threads`` sets torch's CPU threads
    for the run. Process CPU time is reported too: with one thread on a busy machine it
    is the steadier estimate of the time on an idle one.
    """
    previous = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        return _render_speed(batch, sizes, torch.device(device), repeats)
    finally:
        torch.set_num_threads(previous)


def _render_speed(batch: int, sizes: tuple[int, ...], dev: torch.device, repeats: int) -> dict:
    inputs = _inputs(batch, dev)
    result: dict = {"batch": batch, "device": str(dev), "threads": torch.get_num_threads()}
    for size in sizes:
        _stage_times(inputs, size, dev)
        runs = [_stage_times(inputs, size, dev) for _ in range(repeats)]
        entry: dict = {}
        for clock, name in ((0, "wall"), (1, "cpu")):
            best = {k: min(r[k][clock] for r in runs) for k in runs[0]}
            core = sum(best[k] for k in CORE_STAGES)
            entry[name] = {
                "samples_per_s": round(batch / sum(best.values()), 1),
                "core_samples_per_s": round(batch / core, 1),
                "ms_per_batch": {k: round(v * 1e3, 2) for k, v in best.items()},
            }
        result[str(size)] = entry
    return result

