"""The scene-pose tool's work on the worker thread (no Qt): generate ranked poses for a
box, lift one to a body through the keypoint fit, and write exports."""
from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from studio.pipeline.scenepose import GeneratedPose, ScenePoseModel, load_scenepose


@dataclass(frozen=True)
class ModelChoices:
    """What the generator offers: how many templates (the most the dock can ask for), and
    the classes one can ask for."""

    templates: int
    class_names: tuple[str, ...]

    @classmethod
    def of(cls, model: ScenePoseModel) -> ModelChoices:
        return cls(len(model.templates.poses), tuple(model.templates.class_names()))


@dataclass(frozen=True)
class GeneratedPoses:
    request: int            # the tool's request number: older answers are dropped
    box: tuple[float, float, float, float] | None  # where they were asked: a box ...
    poses: list[GeneratedPose]
    choices: ModelChoices = ModelChoices(0, ())
    point: tuple[float, float] | None = None  # ... or a point (sizes predicted)

    def where(self) -> dict[str, list[float]]:
        """``{"box": [...]}`` or ``{"point": [...]}``, as exports write it."""
        return {"box": list(self.box)} if self.box is not None else {"point": list(self.point)}


@dataclass(frozen=True)
class LiftedBody:
    rank: int
    vertices: np.ndarray  # [V,3] camera frame (x right, y down, z away), metres
    faces: np.ndarray
    joints: np.ndarray    # [24,3] the same frame
    translation: np.ndarray  # [3] included in both
    intrinsics: np.ndarray   # [3] focal, cx, cy in pixels


class ModelSlot:
    """The generator, loaded once on first use (on the worker thread)."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self._model: ScenePoseModel | None = None
        self._lock = threading.Lock()

    def get(self) -> ScenePoseModel:
        with self._lock:
            if self._model is None:
                self._model = load_scenepose(self.path)
            return self._model


def choices(slot: ModelSlot) -> ModelChoices:
    """The generator's choices, so the dock can list its classes before a first box."""
    return ModelChoices.of(slot.get())


def generate(slot: ModelSlot, request: int, image: np.ndarray, top_k: int,
             pose_class: str = "", box=None, point=None) -> GeneratedPoses:
    """The ranked poses for a box, or for a point (the paper's ask: sizes predicted)."""
    model = slot.get()
    poses = model.generate(image, box=box, point=point, top_k=top_k, pose_class=pose_class)
    return GeneratedPoses(request, None if box is None else tuple(float(v) for v in box),
                          poses, ModelChoices.of(model),
                          None if point is None else tuple(float(v) for v in point))


def lift(rank: int, keypoints: np.ndarray, image_size: tuple[int, int],
         classes: tuple[str, ...] = ()) -> LiftedBody:
    """The body of a generated pose seen through the photo's camera (a lying one on the
    ground: :func:`studio.pipeline.scene_lift.lift_scene_pose`)."""
    from studio.pipeline.scene_lift import lift_scene_pose

    fit = lift_scene_pose(keypoints, image_size, classes)
    return LiftedBody(rank, fit.vertices[0], fit.faces, fit.joints[0], fit.trans[0],
                      fit.intrinsics[0])
