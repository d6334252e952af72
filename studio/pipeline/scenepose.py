"""Scene-aware pose generation on photos (Qt-free): a scene image and a placement box or
point -> poses ranked by how well they fit there, as MPII-16 pixel keypoints.

Two ways to ask:
- a *point* (the paper's setting): each template is placed at its predicted scale
  around the point and moved by its predicted offsets; scores are the compatibilities;
- a *box* (the studio's): the box fixes where and how big; templates are ranked by the
  compatibility at the box centre times how likely the box's aspect is for them, their
  offsets come from the box's own RoI, and every pose is stretched into the box and
  clipped to it.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch

from studio.errors import ModelFileError, StudioError
from studio.nets.scenepose import ScenePoseConfig, ScenePoseNet
from studio.nets.scenepose_views import crop_boxes, make_views, place_at_point, place_in_box
from studio.synth.scenepose_data import TemplateSet

# A template placed in a box is stretched at most this much more along one axis than the
# other (a user's wide box does not make a standing person twice as fat); chosen on the
# painted validation scenes, where it costs nothing (model card, eighth session).
MAX_STRETCH = 2.0
WORK_HEIGHT = 256  # photos are resized to this height before the net (as trained)
DEFAULT_WEIGHTS = Path(__file__).resolve().parents[2] / "models" / "scenepose" / "scenepose.pt"


@dataclass
class GeneratedPose:
    score: float
    template: int
    keypoints: np.ndarray  # [16,2] image pixels, MPII order, (-1, -1) = not placed
    classes: tuple[str, ...] = ()  # what the template's training people did (TemplateSet.names)
    pose_class: str = ""  # the same for people (TemplateSet.describe): "sitting", "mixed (...)"

    def to_dict(self) -> dict:
        return {"score": round(float(self.score), 6), "template": int(self.template),
                "class": self.pose_class,
                "keypoints": [[round(float(x), 2), round(float(y), 2)]
                              for x, y in self.keypoints]}

    def label(self) -> str:
        """How lists name it: "sitting (template 5)", or "template 5" without a class."""
        return f"{self.pose_class} (template {self.template})" if self.pose_class \
            else f"template {self.template}"


def check_box(box, image_size: tuple[int, int]) -> np.ndarray:
    """The box as floats, or a StudioError saying why it cannot be used."""
    w, h = image_size
    b = np.asarray(box, np.float64)
    if b.shape != (4,) or not np.isfinite(b).all():
        raise StudioError("the box must be four numbers X0,Y0,X1,Y1")
    if b[2] <= b[0] or b[3] <= b[1]:
        raise StudioError(f"the box {_fmt(b)} is empty (X1 must exceed X0 and Y1 exceed Y0)")
    if b[0] < 0 or b[1] < 0 or b[2] > w or b[3] > h:
        raise StudioError(f"the box {_fmt(b)} is outside the {w}x{h} image")
    return b


def check_point(point, image_size: tuple[int, int]) -> np.ndarray:
    w, h = image_size
    p = np.asarray(point, np.float64)
    if p.shape != (2,) or not np.isfinite(p).all() or not (0 <= p[0] < w and 0 <= p[1] < h):
        raise StudioError(f"the point {','.join(f'{v:g}' for v in np.ravel(p))} is outside "
                          f"the {w}x{h} image")
    return p


def _fmt(b: np.ndarray) -> str:
    return ",".join(f"{v:g}" for v in b)


class ScenePoseModel:
    """The net, its templates and the device; :meth:`predict` works in batches.

    A box's ranking adds ``compat_weight`` times the compatibility's log-probability to
    the box aspect's log-likelihood; the predicted offsets are applied times
    ``offset_scale`` (offsets learnt on renders can overshoot on photos). Both are fit on
    the run's validation scenes (:func:`studio.train.scenepose_train.calibrate`) and
    saved with the weights."""

    def __init__(self, net: ScenePoseNet, templates: TemplateSet, source: str = "",
                 compat_weight: float = 1.0, offset_scale: float = 1.0,
                 max_stretch: float = MAX_STRETCH) -> None:
        self.net = net.eval()
        self.templates = templates
        self.source = source
        self.compat_weight = compat_weight
        self.offset_scale = offset_scale
        self.max_stretch = max_stretch  # see place_in_box

    def class_filter(self, pose_class: str | None) -> np.ndarray:
        """[K] the templates ``pose_class`` keeps (all for None or ""), or a StudioError
        naming the classes there are."""
        k = len(self.templates.poses)
        if not pose_class:
            return np.ones(k, bool)
        if not self.templates.classes:
            raise StudioError(f"{self.source or 'this model'} keeps no template classes; "
                              "train it anew to ask for one")
        keep = self.templates.of_class(pose_class)
        if not keep.any():
            raise StudioError(f"no template of class {pose_class!r} (use one of "
                              f"{', '.join(self.templates.class_names())})")
        return keep

    @property
    def device(self) -> torch.device:
        return self.net.templates.device

    def predict(self, images: list[np.ndarray], boxes: np.ndarray | None = None,
                points: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Scores [N,K] (each row sums to 1) and keypoints [N,K,16,2] (pixels, NaN = not
        placed) of every template for images (uint8 [H,W,3], all one size) with a box
        [N,4] or a point [N,2] each."""
        compat, kp = self.predict_parts(images, boxes, points)
        return self.rank_scores(compat, boxes), kp

    def rank_scores(self, compat: np.ndarray, boxes: np.ndarray | None,
                    compat_weight: float | None = None) -> np.ndarray:
        """Scores [N,K] summing to 1 from compatibility log-probabilities [N,K] (and, for
        boxes, their aspect)."""
        logit = compat
        if boxes is not None:
            w = self.compat_weight if compat_weight is None else compat_weight
            logit = w * compat + self.templates.aspect_loglik(np.asarray(boxes))
        scores = np.exp(logit - logit.max(1, keepdims=True))
        return scores / scores.sum(1, keepdims=True)

    @torch.no_grad()
    def predict_parts(self, images: list[np.ndarray], boxes: np.ndarray | None = None,
                      points: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Compatibility log-probabilities [N,K] and keypoints [N,K,16,2] (see
        :meth:`predict`)."""
        scale = WORK_HEIGHT / images[0].shape[0]
        arr = np.stack([_resize(im, scale) for im in images])
        t = torch.as_tensor(arr, device=self.device).permute(0, 3, 1, 2).float() / 255
        h = float(arr.shape[1])
        net = self.net
        if boxes is not None:
            b = torch.as_tensor(np.asarray(boxes, np.float64) * scale, device=self.device).float()
            centres = (b[:, :2] + b[:, 2:]) / 2
            rois = crop_boxes(b[:, None], centres, h).expand(-1, net.config.templates, -1)
        else:
            centres = torch.as_tensor(np.asarray(points, np.float64) * scale,
                                      device=self.device).float()
            rois = None
        out = net(*make_views(t, centres, net.config.input_size), boxes=rois)
        poses = net.templates[None] + self.offset_scale * out.offsets
        compat = torch.nn.functional.logsigmoid(out.logits).cpu().numpy().astype(np.float64)
        if boxes is not None:
            extents = net.extents[None].expand(len(images), -1, -1)
            kp = place_in_box(poses, extents, b, self.max_stretch)
        else:
            kp = place_at_point(poses, out.scale, centres, h)
        return compat, kp.cpu().numpy() / scale

    def generate(self, image: np.ndarray, box=None, point=None, top_k: int = 5,
                 pose_class: str | None = None) -> list[GeneratedPose]:
        """The ``top_k`` best poses for one image (uint8 [H,W,3]) and a box or a point,
        best first; with ``pose_class`` (e.g. "sitting") only templates of that class
        (:meth:`TemplateSet.of_class`), their scores as ranked among all."""
        size = (image.shape[1], image.shape[0])
        if (box is None) == (point is None):
            raise StudioError("give a box or a point")
        keep = self.class_filter(pose_class)
        if box is not None:
            scores, kp = self.predict([image], boxes=check_box(box, size)[None])
        else:
            scores, kp = self.predict([image], points=check_point(point, size)[None])
        order = [k for k in np.argsort(-scores[0], kind="stable") if keep[k]][:top_k]
        return [GeneratedPose(float(scores[0, k]), int(k), np.nan_to_num(kp[0, k], nan=-1.0),
                              tuple(self.templates.names(int(k))),
                              self.templates.describe(int(k))) for k in order]


def _resize(image: np.ndarray, scale: float) -> np.ndarray:
    if image.ndim != 3 or image.shape[2] != 3:
        raise StudioError(f"expected an RGB image, got an array of shape {image.shape}")
    if scale == 1.0:
        return image
    h, w = image.shape[:2]
    size = (max(1, round(w * scale)), WORK_HEIGHT)
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)


def save_scenepose(path: Path, net: ScenePoseNet, templates: TemplateSet, meta: dict,
                   compat_weight: float = 1.0, offset_scale: float = 1.0) -> None:
    """The weights file: config, templates and their statistics, the box ranking's
    compatibility weight, the offsets' scale, fp16 weights."""
    import io

    from studio.io.output import write_output

    state = {k: (v.half() if v.is_floating_point() and not k.startswith(("templates", "extents"))
                 else v) for k, v in net.state_dict().items() if not k.startswith("teacher.")}
    buf = io.BytesIO()
    torch.save({"config": net.config.to_dict(), "templates": templates.to_dict(),
                "compat_weight": compat_weight, "offset_scale": offset_scale,
                "state_dict": state, "meta": meta}, buf)
    write_output(path, buf.getvalue())


def load_scenepose(path: Path | None = None, device: str = "cpu") -> ScenePoseModel:
    """The generator from a weights file (default: the shipped one)."""
    path = Path(path) if path is not None else DEFAULT_WEIGHTS
    if not path.is_file():
        raise ModelFileError(f"scene-pose weights not found: {path} (train them with "
                             "`studio train scenepose`, or pass --model FILE)")
    try:
        doc = torch.load(path, map_location=device, weights_only=True)
        config = ScenePoseConfig.from_dict(doc["config"])
        templates = TemplateSet.from_dict(doc["templates"])
        net = ScenePoseNet(config, torch.as_tensor(templates.poses),
                           torch.as_tensor(templates.extents))
        state = {k: v.float() for k, v in doc["state_dict"].items()}
        missing, unexpected = net.load_state_dict(state, strict=False)
        if unexpected or any(not k.startswith("teacher.") for k in missing):
            raise KeyError(f"missing {missing}, unexpected {unexpected}")
    except (KeyError, RuntimeError, ValueError, TypeError) as err:
        raise ModelFileError(f"{path} is not a scene-pose weights file ({err})") from err
    return ScenePoseModel(net.to(device), templates, str(path),
                          float(doc.get("compat_weight", 1.0)), float(doc.get("offset_scale", 1.0)))


# Skeleton colours by rank (RGB): the best pose first.
RANK_COLOURS = ((255, 64, 64), (255, 170, 0), (80, 200, 80), (60, 160, 255), (200, 90, 255),
                (0, 200, 200), (255, 120, 200), (160, 160, 160))


def draw_poses(image: np.ndarray, poses: list[GeneratedPose], box=None, point=None) -> np.ndarray:
    """The image with the poses' skeletons (best on top, drawn thicker), the box or point."""
    from studio.body.joint_sets import MPII16

    out = np.ascontiguousarray(image.copy())
    thick = max(1, round(max(image.shape[:2]) / 300))
    if box is not None:
        x0, y0, x1, y1 = (int(round(v)) for v in box)
        cv2.rectangle(out, (x0, y0), (x1, y1), (255, 255, 255), thick)
    if point is not None:
        cv2.drawMarker(out, tuple(int(round(v)) for v in point), (255, 255, 255),
                       cv2.MARKER_CROSS, 8 * thick, thick)
    for rank in range(len(poses) - 1, -1, -1):
        kp = poses[rank].keypoints
        colour = RANK_COLOURS[rank % len(RANK_COLOURS)]
        width = thick * (2 if rank == 0 else 1)
        for child, parent in MPII16.bones:
            if (kp[child] >= 0).all() and (kp[parent] >= 0).all():
                cv2.line(out, tuple(np.round(kp[child]).astype(int)),
                         tuple(np.round(kp[parent]).astype(int)), colour, width, cv2.LINE_AA)
    return out


def poses_bytes(poses: list[GeneratedPose], suffix: str, image_size: tuple[int, int],
                where: dict[str, list[float]], extra: dict | None = None) -> bytes:
    """Poses as a JSON or npz file: MPII keypoints in image pixels, scores, templates,
    the image size and where they were asked for (``{"box": ...}`` or ``{"point": ...}``)."""
    import io
    import json

    if suffix.lower() == ".json":
        doc = {**(extra or {}), "image_size": list(image_size), **where,
               "poses": [p.to_dict() for p in poses]}
        return (json.dumps(doc, indent=1) + "\n").encode()
    buf = io.BytesIO()
    np.savez(buf, keypoints=np.stack([p.keypoints for p in poses]).astype(np.float32),
             scores=np.array([p.score for p in poses], np.float32),
             templates=np.array([p.template for p in poses], np.int64),
             classes=np.array([p.pose_class for p in poses], str),
             image_size=np.array(image_size), **{k: np.array(v) for k, v in where.items()})
    return buf.getvalue()
