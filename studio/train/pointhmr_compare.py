"""``studio eval pointhmr``: the built-in PointHMR against the PyMAF proxy model.

- Synthetic: the test people ``studio eval pymaf`` uses (batch k of the test split from
  the seed, the same batch size), both meshes scored by :func:`mesh_errors_mm`.
- Real photos: the built-in samples and a folder of photos; the largest person of each,
  found once, goes through ``studio run``'s path (no refinement) for each model; mask IoU
  and keypoint error with the camera refitted to MediaPipe's landmarks (``studio run``'s
  default) and with the net's own camera.
"""
from __future__ import annotations

import statistics
from pathlib import Path

import numpy as np
import torch

from studio.nets import pointhmr_builtin
from studio.synth.dataset import SyntheticPeople
from studio.train.pointhmr_eval import evaluate_meshes

POINTHMR = "builtin-pointhmr"
DENSE_SIZE = 4  # the dense targets draw no random numbers: the people do not depend on it


def synthetic(models: dict[str, object], samples: int, seed: int, batch_size: int) -> dict:
    """Errors (mm) of every loaded model (a PointHMR method or a PyMAF crop net)."""
    body = next(iter(models.values())).body
    data = SyntheticPeople(body, "proxy", pointhmr_builtin.INPUT_SIZE, DENSE_SIZE)
    regressor = pointhmr_builtin.vertex_regressor(body, "h36m17")
    predict = {name: _predictor(model) for name, model in models.items()}
    with torch.inference_mode():
        errors = evaluate_meshes(predict, data, regressor, "test", seed, samples, batch_size)
    return {"samples": samples, "seed": seed, "batch_size": batch_size,
            "models": {name: {k: round(v, 2) for k, v in e.items()}
                       for name, e in errors.items()}}


def _predictor(model: object):
    from studio.pipeline.methods import LoadedMethod

    if isinstance(model, LoadedMethod):
        net = model.run.net
        return lambda x: net(x, fine_heatmaps=False)["vertices_full"]
    return lambda x: model.net(x).final.vertices


def photo_set(folder: Path | None) -> list[tuple[str, np.ndarray]]:
    """(name, RGB image) of the built-in samples and every JPEG/PNG in ``folder``."""
    from studio.pipeline.images import read_image
    from studio.pipeline.samples import SAMPLES

    images = [(f"sample:{name}", make()) for name, make in SAMPLES.items()]
    if folder is not None:
        images += [(p.stem, read_image(p)) for p in sorted(folder.iterdir())
                   if p.suffix.lower() in (".jpg", ".jpeg", ".png")]
    return images


def photos(models: dict[str, object], images: list[tuple[str, np.ndarray]]) -> dict:
    """Per photo and model: mask IoU and keypoint error (px), camera fitted and the net's."""
    from studio.pipeline.people import PersonFinder
    from studio.pipeline.single_image import run_person

    rows = []
    with PersonFinder() as finder:
        for photo, image in images:
            people = finder.find(image, max_people=1)
            for name, model in models.items():
                row = {"photo": photo, "model": name, "found": bool(people)}
                for key, fit in (("fitted", True), ("net_camera", False)):
                    if people:
                        result = run_person(model, image, people[0], fit_camera=fit)
                        row[f"iou_{key}"] = _round(result.mask_iou)
                        row[f"kp_px_{key}"] = _round(result.keypoint_error_px)
                rows.append(row)
    return {"rows": rows, "means": {name: _means([r for r in rows if r["model"] == name])
                                    for name in models}}


def _round(value: float | None) -> float | None:
    return None if value is None else round(float(value), 3)


def _means(rows: list[dict]) -> dict:
    keys = ("iou_fitted", "kp_px_fitted", "iou_net_camera", "kp_px_net_camera")
    out = {"photos": len(rows), "found": sum(r["found"] for r in rows)}
    for key in keys:
        values = [r[key] for r in rows if r.get(key) is not None]
        out[key] = round(statistics.fmean(values), 3) if values else None
    return out


def load_models(pointhmr: Path | None, against: str | None, device: str) -> dict[str, object]:
    """The PointHMR method (shipped weights or ``pointhmr``) and the model to compare."""
    from studio.nets.model_registry import load_model
    from studio.pipeline import pointhmr_method

    models: dict[str, object] = {POINTHMR: pointhmr_method.load(device, pointhmr)}
    if against:
        models[against] = load_model(against, device)
    return models
