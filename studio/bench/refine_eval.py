"""``studio bench refine``: what refinement changes and what it costs, per photo.

Each photo's largest person goes through ``studio run``'s path with refinement on
(:func:`studio.pipeline.single_image.run_person`); the table lists mask IoU and keypoint
error of the net's last iteration (before) and of the refined step (after, also when the
pipeline kept the start instead), whether it was kept, and the refinement's time. The
photos are the built-in samples (:mod:`studio.pipeline.samples`) and every image of a
folder (default: the shared real scene photos, where present). ``--overlays DIR`` writes
one PNG per photo to look at: MediaPipe's mask in green, the start's silhouette outlined
in red, the refined one in blue, the seen landmarks as white dots.
"""
from __future__ import annotations

import argparse
import json
import statistics
from collections.abc import Callable
from pathlib import Path

import numpy as np

from studio.errors import StudioError

PHOTOS_DIR = Path("/work/shared/data/scenes/photos")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
# The issue's targets, checked in the summary.
IOU_TARGET = 0.65
MS_TARGET = 300.0


def photo_set(folder: Path | None, samples: bool = True) -> list[tuple[str, np.ndarray]]:
    """(name, RGB image) of the built-in samples (when ``samples``) and of every image in
    ``folder`` (sorted by name)."""
    from studio.pipeline.images import read_image
    from studio.pipeline.samples import SAMPLES

    photos = [(f"sample:{name}", make()) for name, make in SAMPLES.items()] if samples else []
    if folder is not None:
        if not folder.is_dir():
            raise StudioError(f"{folder}: no such folder")
        photos += [(p.stem, read_image(p)) for p in sorted(folder.iterdir())
                   if p.suffix.lower() in IMAGE_SUFFIXES]
    if not photos:
        raise StudioError("no photos to measure")
    return photos


def _outline(image: np.ndarray, render, colour: tuple[int, int, int]) -> None:
    import cv2

    if render is None:
        return
    h, w = render.silhouette.shape
    full = np.zeros(image.shape[:2], np.uint8)
    full[render.y:render.y + h, render.x:render.x + w] = render.silhouette
    contours, _ = cv2.findContours(full, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    cv2.drawContours(image, contours, -1, colour, max(1, image.shape[0] // 300))


def overlay_image(image: np.ndarray, result, start_render, refined_render) -> np.ndarray:
    """The photo with MediaPipe's mask (green tint), the start's and the refined step's
    silhouettes (red and blue outlines) and the seen landmarks (white)."""
    import cv2

    from studio.pipeline.people import MASK_THRESHOLD
    from studio.pipeline.single_image import seen_landmarks

    height, width = image.shape[:2]
    out = image.copy()
    mask = cv2.resize(result.person.mask, (width, height)) >= MASK_THRESHOLD
    out[mask] = (0.6 * out[mask] + 0.4 * np.array([0, 255, 0])).astype(np.uint8)
    _outline(out, start_render, (255, 0, 0))
    _outline(out, refined_render, (0, 90, 255))
    seen = seen_landmarks(result.person, (width, height))
    for x, y in result.person.landmarks[seen]:
        cv2.circle(out, (round(x), round(y)), max(2, height // 200), (255, 255, 255), -1)
    return out


def _measure(model, finder, name: str, image: np.ndarray, overlays: Path | None) -> dict:
    from studio.pipeline.overlay import render_mesh
    from studio.pipeline.single_image import run_person

    people = finder.find(image, max_people=1)
    if not people:
        return {"photo": name, "found": False}
    result = run_person(model, image, people[0], overlay=True, fit_camera=True, refine=True)
    report = result.refine
    if overlays is not None:
        from PIL import Image

        size = (image.shape[1], image.shape[0])
        faces = model.body.data.faces
        start = render_mesh(result.iterations[-1].vertices, faces,
                            result.iterations[-1].image_camera, size)
        refined = render_mesh(result.refined.vertices, faces, result.refined.image_camera, size)
        safe = name.replace(":", "_")
        Image.fromarray(overlay_image(image, result, start, refined)).save(
            overlays / f"{safe}.png")
    return {"photo": name, "found": True, "kept": report.kept,
            "iou_before": report.iou_before, "iou_after": report.iou_after,
            "iou_final": result.mask_iou,
            "kp_before": report.kp_error_before, "kp_after": report.kp_error_after,
            "kp_final": result.keypoint_error_px, "ms": report.ms,
            "loss_first": report.loss[0], "loss_best": min(report.loss)}


def refine_eval(model, photos: list[tuple[str, np.ndarray]],
                overlays: Path | None = None) -> dict:
    """Refinement's figures on ``photos`` (see the module's docstring) for a loaded
    model (a crop net or a model method)."""
    from studio.pipeline.people import PersonFinder

    if overlays is not None:
        overlays.mkdir(parents=True, exist_ok=True)
    with PersonFinder() as finder:
        rows = [_measure(model, finder, name, image, overlays) for name, image in photos]
    return {"model": model.name, "rows": rows, "summary": summary(rows)}


def _mean(values: list[float]) -> float | None:
    return round(statistics.fmean(values), 4) if values else None


def summary(rows: list[dict]) -> dict:
    """Means before/after, the targets' counts: photos under IOU_TARGET after refinement,
    refined meshes worse than their start, and the median and largest time."""
    found = [r for r in rows if r["found"]]
    kp = [r for r in found if r["kp_before"] is not None]
    return {
        "photos": len(rows), "found": len(found),
        "iou_before": _mean([r["iou_before"] for r in found]),
        "iou_final": _mean([r["iou_final"] for r in found]),
        "kp_before": _mean([r["kp_before"] for r in kp]),
        "kp_final": _mean([r["kp_final"] for r in kp]),
        "under_iou_target": [r["photo"] for r in found if r["iou_final"] < IOU_TARGET],
        "kp_not_halved": [r["photo"] for r in kp if r["kp_final"] > 0.5 * r["kp_before"]],
        "start_kept": [r["photo"] for r in found if not r["kept"]],
        "ms_median": _mean([statistics.median(r["ms"] for r in found)]) if found else None,
        "ms_max": max((r["ms"] for r in found), default=None),
    }


def refine_table(doc: dict) -> str:
    """The readable form of :func:`refine_eval`'s document."""
    def f(v: float | None, spec: str) -> str:
        return "n/a" if v is None else format(v, spec)

    lines = [f"refinement on {doc['model']}: before -> after (final: what studio run shows)",
             f"{'photo':<22}{'IoU before':>11}{'after':>7}{'final':>7}"
             f"{'kp px before':>13}{'after':>7}{'final':>7}{'kept':>6}{'ms':>6}"]
    for r in doc["rows"]:
        if not r["found"]:
            lines.append(f"{r['photo']:<22}  nobody found")
            continue
        lines.append(f"{r['photo']:<22}{f(r['iou_before'], '.3f'):>11}{f(r['iou_after'], '.3f'):>7}"
                     f"{f(r['iou_final'], '.3f'):>7}{f(r['kp_before'], '.1f'):>13}"
                     f"{f(r['kp_after'], '.1f'):>7}{f(r['kp_final'], '.1f'):>7}"
                     f"{'yes' if r['kept'] else 'no':>6}{r['ms']:>6.0f}")
    s = doc["summary"]
    lines += [f"mean IoU {f(s['iou_before'], '.3f')} -> {f(s['iou_final'], '.3f')}, keypoint error "
              f"{f(s['kp_before'], '.2f')} -> {f(s['kp_final'], '.2f')} px; "
              f"{s['found']}/{s['photos']} found; ms median {f(s['ms_median'], '.0f')}, "
              f"max {f(s['ms_max'], '.0f')}",
              f"under IoU {IOU_TARGET}: {', '.join(s['under_iou_target']) or 'none'}; "
              f"error not halved: {', '.join(s['kp_not_halved']) or 'none'}; "
              f"start kept: {', '.join(s['start_kept']) or 'none'}"]
    return "\n".join(lines)


def add_bench_refine(sub: argparse._SubParsersAction,
                     common: Callable[[argparse.ArgumentParser], None],
                     apply_common: Callable[[argparse.Namespace], object]) -> None:
    """Register ``studio bench refine`` (``common``/``apply_common``: bench's --device,
    --threads and --json)."""
    from studio.commands.run import default_model

    parser = sub.add_parser(
        "refine",
        description="Refinement's effect and time per person: mask IoU and keypoint error "
                    "before and after on the built-in samples and a folder of photos (each "
                    "photo's largest person), against the targets IoU >= "
                    f"{IOU_TARGET}, error halved, <= {MS_TARGET:.0f} ms.")
    common(parser)
    parser.add_argument("--model", default=None,
                        help="the model whose meshes are refined (default: studio run's)")
    parser.add_argument("--photos", type=Path, default=None, metavar="DIR",
                        help=f"folder of photos (default {PHOTOS_DIR} when present)")
    parser.add_argument("--no-samples", dest="samples", action="store_false",
                        help="leave out the built-in sample photos")
    parser.add_argument("--overlays", type=Path, default=None, metavar="DIR",
                        help="write one PNG per photo: mask green, start red, refined blue")

    def run(args: argparse.Namespace) -> int:
        from studio.nets.model_registry import load_model

        device = apply_common(args)
        folder = args.photos if args.photos is not None else \
            (PHOTOS_DIR if PHOTOS_DIR.is_dir() else None)
        doc = refine_eval(load_model(args.model or default_model(), device),
                          photo_set(folder, args.samples), args.overlays)
        doc["thread_choice"] = args.thread_choice.as_dict()
        print(json.dumps(doc, indent=2) if args.json else refine_table(doc))
        return 0

    parser.set_defaults(func=run)
