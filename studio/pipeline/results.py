"""The plain result types that flow from the pipeline to the UI and the exporters.

No Qt and no torch modules here: a :class:`FrameResult` is numpy arrays and numbers, so
views can draw it, exporters can write it and tests can build one by hand.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from studio.nets.geometry import weak_perspective_to_translation
from studio.pipeline.crops import CropTransform, ImageCamera
from studio.pipeline.overlay import MeshFill, RegionRender
from studio.pipeline.people import Person


@dataclass
class MeshIteration:
    """One feedback iteration (index 0: the mean-parameter start), batch item removed.

    Vertices are in the body model's frame turned by the predicted global orientation,
    i.e. the camera's axes (x right, y down, z away), without the camera translation.
    """

    vertices: np.ndarray  # [V,3] float32, metres
    joints: np.ndarray  # [24,3] the body model's skeleton joints, same frame
    cam: np.ndarray  # [3] weak perspective [s, tx, ty] of the crop, as the net predicted it
    image_camera: ImageCamera  # the crop camera the mesh is placed with, on the full image
    betas: np.ndarray  # [10]
    pose: np.ndarray  # [72] axis-angle, root first
    keypoints_2d: np.ndarray  # [49,2] pymaf49 in crop coordinates [-1, 1]
    sample_points: np.ndarray | None  # [N,2] crop coordinates the step sampled; None at 0
    pyramid_map: np.ndarray | None  # [h,w] mean |activation| of the level sampled; None at 0
    # [3] ``cam`` refitted to MediaPipe's landmarks (studio.pipeline.camera_fit), which
    # image_camera shows; None when not fitted (turned off, or the fit was not trusted)
    fitted_cam: np.ndarray | None = None
    # projected()'s answer and the camera and vertices it was made from
    _projection: tuple[ImageCamera, np.ndarray, tuple[np.ndarray, np.ndarray]] | None = \
        field(default=None, init=False, repr=False, compare=False)

    @property
    def crop_camera(self) -> np.ndarray:
        """[3] the crop camera the mesh is placed with: the fitted one, else the net's."""
        return self.cam if self.fitted_cam is None else self.fitted_cam

    def projected(self) -> tuple[np.ndarray, np.ndarray]:
        """The vertices as image points [V,2] and their depth [V] in metres from the image
        camera, float32: what the 2D view draws. Made once for a camera and vertices
        (assign new ones, do not change them in place): a live frame's fill, drawn by the
        worker, and the 2D view both need it."""
        camera, vertices = self.image_camera, self.vertices
        kept = self._projection
        if kept is None or kept[0] is not camera or kept[1] is not vertices:
            points = camera.project(vertices).astype(np.float32)
            depth = (vertices[:, 2] + camera.translation[2]).astype(np.float32)
            points.flags.writeable = depth.flags.writeable = False  # shared: read only
            kept = self._projection = (camera, vertices, (points, depth))
        return kept[2]

    def translation(self) -> np.ndarray:
        """[3] camera-frame translation of the body under :attr:`crop_camera` (focal 5000
        px on a 224 px crop, the virtual camera the nets project with)."""
        cam = torch.as_tensor(self.crop_camera, dtype=torch.float64)[None]
        return weak_perspective_to_translation(cam)[0].numpy()


@dataclass
class DenseMaps:
    """The auxiliary head's dense correspondences over the crop (final iteration)."""

    part_probability: np.ndarray  # [25,h,w] softmax over background + 24 parts
    part: np.ndarray  # [h,w] int, 0 background, 1..24 the most likely part
    u: np.ndarray  # [h,w] U of the most likely part, in [0, 1]
    v: np.ndarray  # [h,w] V of the most likely part, in [0, 1]

    @classmethod
    def from_logits(cls, dense: dict[str, np.ndarray]) -> DenseMaps:
        """From the head's raw ``uv_index``/``u``/``v`` channels [C,h,w]."""
        logits = dense["uv_index"].astype(np.float64)
        prob = np.exp(logits - logits.max(axis=0, keepdims=True))
        prob /= prob.sum(axis=0, keepdims=True)
        part = prob.argmax(axis=0)

        def chosen(maps: np.ndarray) -> np.ndarray:
            return np.clip(np.take_along_axis(maps, part[None], axis=0)[0], 0.0, 1.0)

        return cls(part_probability=prob.astype(np.float32), part=part,
                   u=chosen(dense["u"]).astype(np.float32),
                   v=chosen(dense["v"]).astype(np.float32))


@dataclass
class RefineReport:
    """What refinement (:mod:`studio.pipeline.refine`) did for one person."""

    steps: int
    loss: list[float]  # the objective before each step and after the last (steps + 1)
    ms: float
    kept: bool = True  # False: the start was better and is shown as the refined step
    iou_before: float | None = None  # mask IoU; None when not drawn (live frames)
    iou_after: float | None = None
    kp_error_before: float | None = None  # px, mean over MediaPipe's seen landmarks
    kp_error_after: float | None = None
    terms: dict[str, float] = field(default_factory=dict)  # the chosen step's terms

    def as_dict(self, decimals: int = 4) -> dict:
        """JSON-ready, numbers rounded to ``decimals``."""
        def r(v: float | None) -> float | None:
            return None if v is None else round(float(v), decimals)
        return {"steps": self.steps, "loss": [r(v) for v in self.loss], "ms": r(self.ms),
                "kept": self.kept, "iou_before": r(self.iou_before),
                "iou_after": r(self.iou_after), "kp_error_before": r(self.kp_error_before),
                "kp_error_after": r(self.kp_error_after),
                "terms": {k: r(v) for k, v in self.terms.items()}}


@dataclass
class PersonResult:
    """Everything one person produced; the last step (:meth:`steps`) is the answer."""

    person: Person
    crop: CropTransform
    crop_rgb: np.ndarray  # [S,S,3] uint8, the photo inside the crop
    model_input: np.ndarray  # [C,S,S] float32, exactly what the net was given
    landmark_maps: np.ndarray  # [34,S,S] person mask + MediaPipe's 33 keypoint heatmaps
    iterations: list[MeshIteration]
    dense: DenseMaps | None  # None when the net has no dense head
    keypoints: np.ndarray  # [33,2] the final body's mediapipe33 points on the image
    keypoint_error_px: float | None  # mean distance to MediaPipe's seen landmarks
    render: RegionRender | None  # the final mesh at full resolution; None if off-image
    # or not drawn (live frames)
    mask_iou: float | None  # final mesh silhouette vs MediaPipe's mask; None if not drawn
    timings_ms: dict[str, float] = field(default_factory=dict)
    # The final mesh filled for the 2D view, when the worker drew it (live frames: the
    # views then need not, on the UI thread)
    fill: MeshFill | None = None
    # The refinement step after the net's iterations (studio.pipeline.refine), when it
    # ran; keypoints, errors, render and mask_iou then describe it
    refined: MeshIteration | None = None
    refine: RefineReport | None = None

    def steps(self) -> list[MeshIteration]:
        """What the scrubber and the exports step through: the net's iterations, then the
        refined step when there is one."""
        return self.iterations if self.refined is None else [*self.iterations, self.refined]

    @property
    def final(self) -> MeshIteration:
        return self.iterations[-1] if self.refined is None else self.refined


@dataclass
class FrameResult:
    """One photo's people, largest first, and the frame-wide timings."""

    model_name: str
    body_name: str
    input_kind: str
    input_size: int
    image_size: tuple[int, int]  # width, height
    faces: np.ndarray  # [F,3] int64
    parents: np.ndarray  # [24] the skeleton's parent indices, -1 at the root
    part_labels: np.ndarray  # [V] each vertex's body part (0..23), for colouring
    people: list[PersonResult]
    timings_ms: dict[str, float] = field(default_factory=dict)
