"""Keypoints -> body parameters through SMPLR: the entry point every method uses to turn
keypoints (PoseAug samples, generated scene poses, MediaPipe landmarks, a user's file)
into a posed, shaped body. No Qt.

>>> fit = fit_keypoints(points, "coco17", dims=2, image_size=(1280, 720))
>>> fit.poses, fit.betas, fit.trans, fit.vertices, fit.joints

3D keypoints are metres in any frame and at any translation (the body model's y-up
frame, or y down as MediaPipe's world landmarks); the result is in the same frame. 2D
keypoints are pixels; the result is in the camera's frame (x right, y down, z away), its
translation chosen (least squares) so that the body's keypoints project onto the seen
points with the focal length (default: the image's larger side; the image size defaults
to twice the largest coordinates, i.e. a principal point that keeps every point inside).

After the nets, ``refine_steps`` Gauss-Newton steps (:mod:`studio.pipeline.keypoint_refine`)
fit the body's keypoints to the seen points with the nets' pose as the prior: 3D errors
halve for about 0.4 ms per step and sample at batch 1; ``refine_steps=0`` is the nets
alone.
"""
from __future__ import annotations

import functools
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from studio.body import joint_sets
from studio.body.model import BodyModel
from studio.errors import ModelFileError, StudioError
from studio.nets.smplr import LAYOUTS

MODEL_DIR = Path(__file__).resolve().parents[2] / "models" / "smplr"
FILE_NAMES = {3: "smplr-3d.pt", 2: "smplr-2d.pt"}
DEPTH_PRIOR = 1e-3  # weight of the spread-based depth guess in the 2D translation fit


@dataclass
class KeypointFit:
    """Body parameters and the posed body for N samples (numpy, float32)."""

    poses: np.ndarray  # [N,72] axis-angle, global orientation first
    betas: np.ndarray  # [N,10]
    trans: np.ndarray  # [N,3]: the body model's output plus trans is the body in the frame
    vertices: np.ndarray  # [N,V,3] with trans
    joints: np.ndarray  # [N,24,3] with trans
    keypoints: np.ndarray  # [N,K,3] the body's points of the input layout, with trans
    sources: np.ndarray  # [N,S,3] every keypoint source (joint_sets.SOURCE_NAMES), with trans
    faces: np.ndarray  # [F,3]
    frame: str  # "input" (3D) or "camera" (2D: x right, y down, z away)
    body_name: str
    gender: str = "neutral"
    intrinsics: np.ndarray | None = None  # [N,3] focal, cx, cy (2D)


@dataclass
class SMPLRModel:
    """Loaded keypoint-fit weights and the body they drive."""

    net: torch.nn.Module
    partial: torch.nn.Module
    body: BodyModel
    dims: int
    layouts: tuple[str, ...]
    source: Path
    cache: dict = field(default_factory=dict, repr=False)  # per layout, "mesh", nets

    def keypoint_body(self, layout: str):
        """The layout's :class:`~studio.pipeline.keypoint_refine.KeypointBody` (made once)."""
        from studio.pipeline.keypoint_refine import KeypointBody

        if layout not in self.cache:
            self.cache[layout] = KeypointBody(self.body, layout)
        return self.cache[layout]

    def nets(self, features: torch.Tensor, layout: str) -> tuple[torch.Tensor, torch.Tensor]:
        """Local rotations [B,24,3,3] and betas [B,10] from :func:`encode`'s features,
        through the nets traced for the layout (made once): at batch 1 the eager nets'
        time is a third Python dispatch (0.75 against 0.5 ms), same outputs."""
        key = ("nets", layout)
        if key not in self.cache:
            wrapper = _LayoutNets(self.net, layout).eval()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # the tracer's notes on constants
                self.cache[key] = torch.jit.freeze(
                    torch.jit.trace(wrapper, features, check_trace=False))
        return self.cache[key](features)

    def pose(self, layout: str, rotmat: np.ndarray, betas: np.ndarray):
        """The posed body (:class:`~studio.body.model.BodyOutput`) for local rotations
        [B,24,3,3] and shapes [B,10] (numpy float64): :class:`~studio.pipeline.
        keypoint_mesh.FitMesh` on the refinement's chain (faster at batch 1) unless the
        body has pose correctives."""
        from studio.pipeline.keypoint_mesh import FitMesh

        if self.body.data.posedirs is not None:
            device = self.body.v_template.device
            rot = torch.as_tensor(rotmat, dtype=torch.float32, device=device)
            return self.body(global_orient=rot[:, :1], body_pose=rot[:, 1:],
                             betas=torch.as_tensor(betas, dtype=torch.float32, device=device))
        if "mesh" not in self.cache:
            self.cache["mesh"] = FitMesh(self.body)
        return self.cache["mesh"](self.keypoint_body(layout), rotmat, betas)


class _LayoutNets(torch.nn.Module):
    """The nets for one layout, returning (rotations, betas): what :meth:`SMPLRModel.nets`
    traces."""

    def __init__(self, net: torch.nn.Module, layout: str) -> None:
        super().__init__()
        self.net, self.layout = net, layout

    def forward(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out = self.net(features, self.layout)
        return out.rotmat, out.betas


def smplr_search_dirs() -> list[Path]:
    dirs = [MODEL_DIR]
    for entry in os.environ.get("STUDIO_MODELS", "").split(os.pathsep):
        if entry:
            dirs += [Path(entry).expanduser() / "smplr", Path(entry).expanduser()]
    return dirs


def _find(dims: int) -> Path:
    for folder in smplr_search_dirs():
        if (folder / FILE_NAMES[dims]).is_file():
            return folder / FILE_NAMES[dims]
    where = ", ".join(str(d) for d in smplr_search_dirs())
    raise ModelFileError(f"keypoint-fit weights {FILE_NAMES[dims]} not found (looked in "
                         f"{where}); train them with `studio train smplr --from {dims}d "
                         f"--run-dir DIR --out models/smplr/{FILE_NAMES[dims]}`")


def read_smplr_file(path: str | os.PathLike) -> dict:
    from studio.nets.smplr import FILE_FORMAT

    path = Path(path)
    try:
        content = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as err:  # noqa: BLE001 - any unreadable file is the same problem
        raise ModelFileError(f"{path}: not a readable weights file ({err})") from None
    if not isinstance(content, dict) or content.get("format") != FILE_FORMAT:
        raise ModelFileError(f"{path}: not a keypoint-fit (SMPLR) weights file")
    return content


def load_smplr(layout: str, dims: int, path: str | os.PathLike | None = None,
               body: str | BodyModel | None = None, device: str = "cpu") -> SMPLRModel:
    """The keypoint-fit model for ``layout`` and ``dims`` (2 or 3): the shipped weights
    (``models/smplr/smplr-{dims}d.pt``, or in ``$STUDIO_MODELS``) or ``path``; ``body``
    names the body model of the output (default: the one it was trained on).
    ModelFileError (exit 3) when the file is missing or lacks the layout."""
    if layout not in LAYOUTS:
        raise StudioError(f"unknown layout {layout!r} (use {', '.join(LAYOUTS)})")
    if dims not in (2, 3):
        raise StudioError(f"dims must be 2 or 3, not {dims!r}")
    source = Path(path) if path is not None else _find(dims)
    if path is not None and not source.is_file():
        raise ModelFileError(f"{source}: no such weights file")
    model = _load(str(source.resolve()), None if body is None or isinstance(body, BodyModel)
                  else body, device)
    if model.dims != dims or layout not in model.layouts:
        raise ModelFileError(f"{source}: takes {model.dims}D keypoints of "
                             f"{', '.join(model.layouts)}, not {dims}D {layout}")
    if isinstance(body, BodyModel):
        model = SMPLRModel(model.net, model.partial, body.to(device), model.dims,
                           model.layouts, model.source)
    return model


@functools.lru_cache(maxsize=4)
def _load(path: str, body_spec: str | None, device: str) -> SMPLRModel:
    from studio.body.registry import load_body_model
    from studio.nets.smplr import SMPLR, fold_batchnorm
    from studio.synth.smplr_points import PartialBody

    content = read_smplr_file(path)
    arch = content["arch"]
    state = {k: v.float() if v.is_floating_point() else v
             for k, v in content["state_dict"].items()}
    net = SMPLR(tuple(arch["layouts"]), arch["dims"], state["template_lengths"],
                hidden=arch["hidden"])
    try:
        net.load_state_dict(state)
    except RuntimeError as err:
        raise ModelFileError(f"{path}: weights do not match the network ({err})") from None
    body = load_body_model(body_spec or content.get("body", "mannequin"))
    return SMPLRModel(fold_batchnorm(net).to(device), PartialBody(body).to(device),
                      body.to(device), arch["dims"], tuple(arch["layouts"]), Path(path))


def check_keypoints(points: np.ndarray, layout: str, dims: int,
                    confidence: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Checked float32 points [N,K,D] and seen mask [N,K]; StudioError (exit 2) with one
    clear line for anything wrong."""
    if layout not in joint_sets.LAYOUTS or layout not in LAYOUTS:
        raise StudioError(f"unknown layout {layout!r} (use {', '.join(LAYOUTS)})")
    k = len(joint_sets.LAYOUTS[layout])
    try:
        points = np.asarray(points, dtype=np.float32)
    except (TypeError, ValueError):
        raise StudioError("keypoints: not an array of numbers") from None
    if points.ndim == 2:
        points = points[None]
    if points.ndim != 3 or points.shape[-1] != dims:
        raise StudioError(f"keypoints: shape {list(points.shape)}, expected [N,{k},{dims}] "
                          f"for {dims}D input")
    if points.shape[0] == 0:
        raise StudioError("keypoints: no samples")
    if points.shape[1] != k:
        raise StudioError(f"keypoints: {points.shape[1]} joints, layout {layout} has {k}")
    seen = np.isfinite(points).all(-1)
    if confidence is not None:
        try:
            conf = np.asarray(confidence, dtype=np.float32)
        except (TypeError, ValueError):
            raise StudioError("confidence: not an array of numbers") from None
        if conf.ndim == 1 and points.shape[0] == 1:
            conf = conf[None]
        if conf.shape != points.shape[:2]:
            raise StudioError(f"confidence: shape {list(conf.shape)}, expected "
                              f"{list(points.shape[:2])}")
        seen &= np.nan_to_num(conf) > 0
    empty = np.flatnonzero(seen.sum(1) == 0)
    if len(empty):
        raise StudioError(f"sample {int(empty[0])}: all points are missing")
    return points, seen


def camera_intrinsics(points: np.ndarray, seen: np.ndarray, image_size, focal_length
                      ) -> np.ndarray:
    """[N,3] focal, cx, cy of the 2D fit's camera: the image's centre and, unless given,
    its longer side as the focal length (without ``image_size``, twice the points' extent)."""
    n = points.shape[0]
    if image_size is None:
        coords = np.where(seen[..., None], points, 0.0)
        size = np.maximum(2 * coords.max(axis=1), 1.0)  # [N,2]
    else:
        size = np.asarray(image_size, np.float64).reshape(-1, 2)
        if (size <= 0).any() or not np.isfinite(size).all():
            raise StudioError("image_size: width and height must be positive")
        size = np.broadcast_to(size, (n, 2))
    if focal_length is None:
        focal = size.max(axis=1)
    else:
        focal = np.broadcast_to(np.asarray(focal_length, np.float64).reshape(-1), (n,))
        if (focal <= 0).any() or not np.isfinite(focal).all():
            raise StudioError("focal_length: must be positive")
    return np.stack([focal, size[:, 0] / 2, size[:, 1] / 2], -1).astype(np.float32)


def translation_2d(pred: np.ndarray, pixels: np.ndarray, weight: np.ndarray,
                   intrinsics: np.ndarray) -> np.ndarray:
    """[B,3] translation t with pred + t projecting onto ``pixels`` (weighted least
    squares of the linearised projection; a weak prior on depth from the spreads keeps
    one or two seen points solvable). numpy float64: at batch 1 the torch version's
    thirty operations cost more than the solve."""
    f, c = intrinsics[:, None, :1], intrinsics[:, None, 1:]
    d = pixels - c  # [B,K,2]
    w = weight[..., None]
    b = pred.shape[0]
    # rows: f*t_xy - d*t_z = d*Pz - f*P_xy
    a = np.zeros((b, pred.shape[1], 2, 3))
    a[..., 0, 0] = a[..., 1, 1] = f[..., 0]
    a[..., :, 2] = -d
    rhs = d * pred[..., 2:] - f * pred[..., :2]
    a, rhs = (a * w[..., None]).reshape(b, -1, 3), (rhs * w).reshape(b, -1)
    count = np.maximum(weight.sum(1), 1e-6)
    z0 = f[:, 0, 0] * _spread(pred[..., :2], weight) / np.maximum(_spread(d, weight), 1e-6) \
        - (pred[..., 2] * weight).sum(1) / count
    lam = DEPTH_PRIOR * f[:, 0, 0]
    at = a.transpose(0, 2, 1)
    ata = np.einsum("bij,bjk->bik", at, a) + 1e-9 * np.eye(3)  # einsums: no OpenBLAS threads
    ata[:, 2, 2] += lam ** 2
    atb = np.einsum("bij,bj->bi", at, rhs)
    atb[:, 2] += lam ** 2 * z0
    return np.linalg.solve(ata, atb[..., None])[..., 0]


def _spread(xy: np.ndarray, weight: np.ndarray) -> np.ndarray:
    w = weight[..., None]
    centre = (xy * w).sum(1, keepdims=True) / np.maximum(w.sum(1, keepdims=True), 1e-6)
    return np.sqrt((((xy - centre) ** 2).sum(-1) * weight).sum(1)
                   / np.maximum(weight.sum(1), 1e-6))


def solve(model: SMPLRModel, layout: str, points: torch.Tensor, seen: torch.Tensor,
          intrinsics: torch.Tensor | None = None, refine_steps: int | None = None,
          shape_sigma: float | None = None
          ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """:func:`predict`'s answer as numpy float64 arrays (local rotations, betas, 2D
    translation or None), what :func:`fit_keypoints` goes on with: no round trip through
    float32 tensors."""
    from studio.nets.smplr import encode
    from studio.pipeline import keypoint_refine

    steps = keypoint_refine.STEPS[points.shape[-1]] if refine_steps is None else refine_steps
    with torch.no_grad():
        rotmat, betas = model.nets(encode(points, seen, intrinsics), layout)
    rot, shape = rotmat.double().cpu().numpy(), betas.double().cpu().numpy()
    if points.shape[-1] == 3 and steps == 0:
        return rot, shape, None
    body = model.keypoint_body(layout)  # numpy, float64
    pixels = points.detach().cpu().double().numpy()
    mask = seen.cpu().numpy()
    intr = None if intrinsics is None else intrinsics.detach().cpu().double().numpy()
    t = None
    if points.shape[-1] == 2:
        t = translation_2d(body(rot, shape), np.where(mask[..., None], pixels, 0.0),
                           mask.astype(np.float64), intr)
    if steps > 0:
        rot, shape, t = keypoint_refine.refine_fit(body, rot, shape, pixels, mask, intr, t,
                                                   steps,
                                                   shape_sigma or keypoint_refine.SHAPE_SIGMA)
    return rot, shape, t


def predict(model: SMPLRModel, layout: str, points: torch.Tensor, seen: torch.Tensor,
            intrinsics: torch.Tensor | None = None, refine_steps: int | None = None,
            shape_sigma: float | None = None
            ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """Local rotations [B,24,3,3], betas [B,10] and, for 2D, the camera-frame translation
    [B,3] (None for 3D) from keypoints [B,K,D] (NaN where not ``seen``): the nets, then
    ``refine_steps`` refinement steps (default: :data:`keypoint_refine.STEPS`) with
    ``shape_sigma`` as the shape prior's scale (default :data:`keypoint_refine.SHAPE_SIGMA`)."""
    answer = solve(model, layout, points, seen, intrinsics, refine_steps, shape_sigma)
    return tuple(None if a is None else torch.as_tensor(a, dtype=points.dtype,
                                                          device=points.device)
                 for a in answer)


@torch.no_grad()
def fit_keypoints(points: np.ndarray, layout: str, dims: int, confidence: np.ndarray | None = None,
                  body: str | BodyModel | None = None, image_size=None, focal_length=None,
                  model: SMPLRModel | None = None, batch_size: int = 1024,
                  refine_steps: int | None = None, shape_sigma: float | None = None
                  ) -> KeypointFit:
    """Fit bodies to keypoints [N,K,dims] (or [K,dims]) of ``layout``; NaN or confidence
    0 marks a missing point. 2D: ``image_size`` (width, height) and ``focal_length`` in
    pixels, per call or per sample. ``model`` defaults to :func:`load_smplr`'s;
    ``refine_steps`` and ``shape_sigma`` as for :func:`predict`.

    After the nets and the refinement everything is numpy: at batch 1 the twenty-odd
    torch operations it replaces cost a tenth of the fit."""
    from scipy.spatial.transform import Rotation

    points, seen = check_keypoints(points, layout, dims, confidence)
    model = model or load_smplr(layout, dims, body=body)
    if model.dims != dims or layout not in model.layouts:
        raise StudioError(f"the model takes {model.dims}D keypoints of "
                          f"{', '.join(model.layouts)}, not {dims}D {layout}")
    intr = camera_intrinsics(points, seen, image_size, focal_length) if dims == 2 else None
    device = model.body.v_template.device
    mapping = joint_sets.mapping_matrix(layout)  # [K,S]
    names = ("poses", "betas", "trans", "vertices", "joints", "keypoints", "sources")
    parts: dict[str, list] = {k: [] for k in names}
    for start in range(0, points.shape[0], batch_size):
        sl = slice(start, start + batch_size)
        given, mask = points[sl], seen[sl]
        rot, betas, trans = solve(
            model, layout,
            torch.as_tensor(np.where(mask[..., None], given, np.float32(np.nan)), device=device),
            torch.as_tensor(mask, device=device),
            None if intr is None else torch.as_tensor(intr[sl], device=device),
            refine_steps, shape_sigma)
        posed = model.pose(layout, rot, betas)
        sources = posed.points().cpu().numpy()
        kp = mapping @ sources
        if dims == 3:
            w = mask[..., None].astype(np.float32)
            trans = ((np.where(mask[..., None], given, 0.0) - kp) * w).sum(1) / w.sum(1)
        shift = trans[:, None].astype(np.float32)
        parts["poses"].append(Rotation.from_matrix(rot.reshape(-1, 3, 3), assume_valid=True)
                              .as_rotvec().reshape(-1, 72))
        parts["betas"].append(betas)
        parts["trans"].append(trans)
        vertices = posed.vertices.cpu().numpy()
        vertices += shift  # in place: the posed body's arrays are this call's own
        parts["vertices"].append(vertices)
        parts["joints"].append(posed.joints.cpu().numpy() + shift)
        parts["keypoints"].append(kp + shift)
        sources += shift
        parts["sources"].append(sources)
    arrays = {k: (v[0] if len(v) == 1 else np.concatenate(v)).astype(np.float32, copy=False)
              for k, v in parts.items()}
    return KeypointFit(**arrays, faces=model.body.data.faces, body_name=model.body.data.name,
                       frame="input" if dims == 3 else "camera", gender=model.body.data.gender,
                       intrinsics=intr)
