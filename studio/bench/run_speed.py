"""Where ``studio run``'s time goes on one photo: milliseconds per pipeline stage.

The photo is a real one shipped with scikit-image (the astronaut), placed on a 1280 x 720
canvas and JPEG-encoded, so decoding, detection and rendering see a typical HD frame.
"""
from __future__ import annotations

import io
import os
import statistics
import time

import torch
from PIL import Image

from studio.nets.model_registry import LoadedModel
from studio.pipeline.images import decode_image
from studio.pipeline.overlay import draw_overlay, label_mask
from studio.pipeline.people import PersonFinder
from studio.pipeline.single_image import PERSON_STAGES, run_image

WIDTH, HEIGHT = 1280, 720
STAGES = ("decode", "detect", *PERSON_STAGES)
DETECT_PARTS = ("detector", "landmarks", "search")  # of "detect": see PersonFinder.timings


def hd_photo_jpeg() -> bytes:
    """The astronaut, scaled to the frame's height, centred on a grey 1280 x 720 JPEG."""
    from skimage import data

    person = Image.fromarray(data.astronaut()).resize((HEIGHT, HEIGHT), Image.LANCZOS)
    canvas = Image.new("RGB", (WIDTH, HEIGHT), (128, 128, 128))
    canvas.paste(person, ((WIDTH - HEIGHT) // 2, 0))
    buf = io.BytesIO()
    canvas.save(buf, format="JPEG", quality=90)
    return buf.getvalue()


def _one_run(model: LoadedModel, finder: PersonFinder, jpeg: bytes,
             fit_camera: bool = True, refine: bool = True) -> tuple[dict, int]:
    """Stage times (ms) of one photo, the overlay including drawing and the label mask."""
    start = time.perf_counter()
    image = decode_image(jpeg, "benchmark photo")
    decode_ms = (time.perf_counter() - start) * 1000.0
    result = run_image(model, image, finder, fit_camera=fit_camera, refine=refine)
    start = time.perf_counter()
    renders = [p.render for p in result.people]
    draw_overlay(image, renders)
    label_mask(result.image_size, renders)
    compose_ms = (time.perf_counter() - start) * 1000.0
    stages = {"decode": decode_ms, **result.timings_ms}
    stages["overlay"] += compose_ms
    stages.update({f"detect_{part}": ms for part, ms in finder.timings.items()
                   if part in DETECT_PARTS})
    return stages, len(result.people)


def run_speed(model: LoadedModel, repeats: int = 5, fit_camera: bool = True,
              refine: bool = True) -> dict:
    """Median milliseconds per stage over ``repeats`` runs after one warm-up run
    (``fit_camera`` and ``refine`` as for :func:`studio.pipeline.single_image.run_person`,
    refinement on as ``studio run`` has it; their "fit" and "refine" stages are left out
    when off)."""
    jpeg = hd_photo_jpeg()
    with PersonFinder() as finder:
        _, people = _one_run(model, finder, jpeg, fit_camera, refine)
        runs = [_one_run(model, finder, jpeg, fit_camera, refine)[0] for _ in range(repeats)]
    ran = [s for s in STAGES if s in runs[0]]
    stages = {s: round(statistics.median(r[s] for r in runs), 2) for s in ran}
    detect_parts = {p: round(statistics.median(r[f"detect_{p}"] for r in runs), 2)
                    for p in DETECT_PARTS if f"detect_{p}" in runs[0]}
    total = round(statistics.median(sum(r[s] for s in ran) for r in runs), 2)
    device = model.device
    return {"torch": torch.__version__, "device": str(device), "threads": torch.get_num_threads(),
            "model": model.name, "input_kind": model.input_kind, "input_size": model.input_size,
            "image": {"width": WIDTH, "height": HEIGHT, "jpeg_bytes": len(jpeg)},
            "people": people, "repeats": repeats, "fit_camera": fit_camera,
            "refine": refine,
            "stages_ms": stages, "detect_parts_ms": detect_parts, "total_ms": total,
            "cpu_count": os.cpu_count()}
