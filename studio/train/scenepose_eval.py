"""How well generated poses match the person who was there, against two baselines.

Metrics (missing joints masked; each over the ranked poses' first one, "top1", and the
best of the first k, "best_of_k"):
- PCK@0.2: a joint is right within 0.2 torso lengths (left hip to right shoulder, the
  paper's torso);
- PCKh@0.5: within half the head segment (upper neck to head top; only where both exist
  and are scored: the real photos' head joints are estimates, so they have none);
- MSE in image-height units (squared distance / height^2) and in pixels^2.

``best_of_all`` (model and box-only rows): the best of all K templates' poses, the
ceiling any ranking of them reaches.

Baselines: ``mean_template``, the template nearest the mean pose at the mean training
scale around the spot, one pose; ``box_only``, the templates ranked by how well their
aspect matches the box, stretched into it (the canonical pose that fits the box shape).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from studio.nets.scenepose_views import box_aspect, box_frame
from studio.synth.scenepose_data import SceneSet, TemplateSet

TORSO = (3, 12)
HEAD = (8, 9)
ALL_JOINTS = tuple(range(16))


def _nan_missing(keypoints: np.ndarray) -> np.ndarray:
    kp = np.asarray(keypoints, np.float64)
    return np.where((kp < 0).any(-1, keepdims=True), np.nan, kp)


def _ref_length(gt: np.ndarray, pair: tuple[int, int]) -> np.ndarray:
    return np.linalg.norm(gt[:, pair[0]] - gt[:, pair[1]], axis=-1)


def pose_metrics(pred: np.ndarray, keypoints: np.ndarray, heights: np.ndarray,
                 joints=ALL_JOINTS) -> dict[str, np.ndarray]:
    """Per sample and pose [N,R] metrics of ranked poses ``pred`` [N,R,16,2] (NaN = not
    placed, which counts as wrong) against ``keypoints`` [N,16,2] (negative = missing)."""
    gt = _nan_missing(keypoints)
    sel = list(joints)
    seen = np.isfinite(gt[:, sel, 0])[:, None]  # [N,1,J]
    dist = np.linalg.norm(pred[:, :, sel] - gt[:, None, sel], axis=-1)  # [N,R,J]
    dist_or_inf = np.where(np.isfinite(dist), dist, np.inf)
    count = np.maximum(seen.sum(-1), 1)
    out = {}
    for name, pair, alpha in (("pck@0.2", TORSO, 0.2), ("pckh@0.5", HEAD, 0.5)):
        ref = _ref_length(gt, pair)[:, None, None]
        if not set(pair) <= set(sel):
            ref = np.full_like(ref, np.nan)
        hit = (dist_or_inf <= alpha * ref) & seen
        out[name] = np.where(np.isfinite(ref[..., 0]), hit.sum(-1) / count, np.nan)
    sq = np.where(seen, np.nan_to_num(dist, nan=0.0) ** 2, 0.0).sum(-1) / count
    h = np.asarray(heights, np.float64)[:, None]
    out["mse_px"] = sq
    out["mse_norm"] = sq / h ** 2
    return out


def summarise(pred: np.ndarray, keypoints: np.ndarray, heights: np.ndarray, k: int,
              joints=ALL_JOINTS) -> dict[str, dict[str, float]]:
    """Means over samples of top-1 and best-of-k (highest PCK, lowest MSE)."""
    m = pose_metrics(pred[:, :k], keypoints, heights, joints)
    out: dict[str, dict[str, float]] = {"top1": {}, "best_of_k": {}}
    for name, v in m.items():
        best = v.max(1) if name.startswith("pck") else v.min(1)
        for key, col in (("top1", v[:, 0]), ("best_of_k", best)):
            col = col[np.isfinite(col)]
            out[key][name] = round(float(col.mean()), 4) if len(col) else None
    return out


def mean_template_poses(templates: TemplateSet, centres: np.ndarray,
                        heights: np.ndarray) -> np.ndarray:
    """The mean-template baseline [N,1,16,2]: one pose at the mean scale around each spot."""
    pose = templates.poses[templates.mean_template]
    side = templates.mean_scale * np.asarray(heights, np.float64)[:, None, None] / 2
    return (centres[:, None] + pose[None] * side)[:, None]


def box_only_poses(templates: TemplateSet, boxes: np.ndarray) -> np.ndarray:
    """The box-only baseline [N,K,16,2]: templates by nearest mean aspect to the box's,
    stretched into the box."""
    boxes = np.asarray(boxes, np.float64)
    order = np.argsort(np.abs(box_aspect(boxes)[:, None] - templates.aspect[None, :, 0]), 1,
                       kind="stable")
    poses = templates.poses[order]  # [N,K,16,2]
    lo, hi = boxes[:, None, None, :2], boxes[:, None, None, 2:]
    out = (lo + hi) / 2 + poses * (hi - lo) / templates.extents[order][:, :, None]
    return np.clip(out, lo, hi)


def ranked(scores: np.ndarray, poses: np.ndarray) -> np.ndarray:
    """Poses [N,K,16,2] reordered by scores [N,K], best first."""
    order = np.argsort(-scores, 1, kind="stable")
    return np.take_along_axis(poses, order[:, :, None, None], 1)


def predict_all(model, data: SceneSet, mode: str, batch_size: int = 32
                ) -> tuple[np.ndarray, np.ndarray]:
    """Compatibility log-probabilities [N,K] and keypoints [N,K,16,2] of every template
    for every scene, asked with the person's box (``box``) or its centre (``point``)."""
    step = batch_size if isinstance(data.images, np.ndarray) else 1  # one size per batch
    compat, keypoints = [], []
    for start in range(0, len(data), step):
        sl = slice(start, start + step)
        boxes = data.boxes[sl]
        where = {"boxes": boxes} if mode == "box" else {"points": box_frame(boxes)[0]}
        c, kp = model.predict_parts(list(data.images[sl]), **where)
        compat.append(c)
        keypoints.append(kp)
    return np.concatenate(compat), np.concatenate(keypoints)


def generate_all(model, data: SceneSet, mode: str) -> np.ndarray:
    """The model's ranked poses [N,K,16,2] for every scene (see :func:`predict_all`)."""
    compat, kp = predict_all(model, data, mode)
    return ranked(model.rank_scores(compat, data.boxes if mode == "box" else None), kp)


def evaluate(model, data: SceneSet, mode: str = "box", k: int = 5,
             joints=ALL_JOINTS) -> dict:
    """The model and both baselines on ``data``: one table."""
    heights = data.heights()
    centres, _ = box_frame(data.boxes)
    rows = {"model": generate_all(model, data, mode),
            "mean_template": mean_template_poses(model.templates, centres, heights)}
    if mode == "box":  # the box-only baseline needs the box
        rows["box_only"] = box_only_poses(model.templates, data.boxes)
    table = {name: summarise(p, data.keypoints, heights, k, joints) for name, p in rows.items()}
    for name, p in rows.items():
        if p.shape[1] > 1:  # how well the templates cover the poses, whatever the ranking
            table[name]["best_of_all"] = {
                "pck@0.2": summarise(p, data.keypoints, heights, p.shape[1], joints)
                ["best_of_k"]["pck@0.2"]}
    return {"mode": mode, "samples": len(data), "k": k, "joints": list(joints), "rows": table}


def load_real_scenes(folder: Path) -> tuple[SceneSet, list[str], tuple[int, ...]]:
    """The person-removed photos of ``folder`` (``labels.json`` and ``masked/``, see its
    README) with the person's box and keypoints, their names and the joints to score."""
    import cv2

    doc = json.loads((folder / "labels.json").read_text())
    images, kps, boxes, classes, names = [], [], [], [], []
    for e in doc["photos"]:
        path = folder / e["masked"]
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None:
            raise FileNotFoundError(f"cannot read {path}")
        images.append(cv2.cvtColor(image, cv2.COLOR_BGR2RGB))
        kps.append(np.asarray(e["keypoints"], np.float32))
        boxes.append(np.asarray(e["box"], np.float32))
        classes.append(e.get("pose_class", ""))
        names.append(e["name"])
    joints = tuple(doc.get("evaluated_joints", ALL_JOINTS))
    return (SceneSet(images, np.stack(kps), np.stack(boxes), np.array(classes)), names, joints)


def per_sample(model, data: SceneSet, names: list[str], k: int = 5, joints=ALL_JOINTS) -> list[dict]:
    """Box-mode PCK@0.2 per scene (top-1 and best-of-k) of the model and both baselines."""
    heights = data.heights()
    centres, _ = box_frame(data.boxes)
    rows = {"model": generate_all(model, data, "box")[:, :k],
            "mean_template": mean_template_poses(model.templates, centres, heights),
            "box_only": box_only_poses(model.templates, data.boxes)[:, :k]}
    pck = {name: pose_metrics(p, data.keypoints, heights, joints)["pck@0.2"]
           for name, p in rows.items()}
    return [{"name": n, "class": str(data.pose_class[i]),
             **{f"{name}_{what}": round(float(f(v[i])), 4) for name, v in pck.items()
                for what, f in (("top1", lambda r: r[0]), ("best", np.max))}}
            for i, n in enumerate(names)]
