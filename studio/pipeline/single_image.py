"""One photo through a mesh regressor: find people, crop each, run the net, keep every
iteration, and place the meshes back on the full-resolution photo.

Plain numpy results and no Qt, so the ``studio run`` command and the GUI's worker share
it. RGB models get ImageNet-normalised crops; proxy models get the maps they were trained
on (MediaPipe's person mask and landmark heatmaps), made through the same crop transform.
"""
from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import torch

from studio.nets.geometry import weak_perspective_to_translation
from studio.nets.model_registry import OFFICIAL, LoadedModel
from studio.pipeline.crops import (CropTransform, ImageCamera, image_camera, normalised_rgb,
                                   proxy_input, square_box)
from studio.pipeline.overlay import RegionRender, mask_iou, render_mesh
from studio.pipeline.people import MAX_PEOPLE, VISIBLE, NoPersonFound, Person, PersonFinder

PERSON_STAGES = ("crop", "net", "body_model", "overlay")  # timed per person, in this order


@dataclass
class MeshIteration:
    """One feedback iteration (index 0: the mean-parameter start), batch item removed.

    Vertices are in the body model's frame turned by the predicted global orientation,
    i.e. the camera's axes (x right, y down, z away), without the camera translation.
    """

    vertices: np.ndarray  # [V,3] float32, metres
    cam: np.ndarray  # [3] weak perspective [s, tx, ty] of the crop
    image_camera: ImageCamera  # the same view on the full image
    betas: np.ndarray  # [10]
    pose: np.ndarray  # [72] axis-angle, root first
    keypoints_2d: np.ndarray  # [49,2] pymaf49 in crop coordinates [-1, 1]
    sample_points: np.ndarray | None  # [N,2] crop coordinates the step sampled; None at 0

    def translation(self) -> np.ndarray:
        """[3] camera-frame translation of the body (focal 5000 px on a 224 px crop, the
        virtual camera the nets project with)."""
        cam = torch.as_tensor(self.cam, dtype=torch.float64)[None]
        return weak_perspective_to_translation(cam)[0].numpy()


@dataclass
class PersonResult:
    """Everything one person produced; the last iteration is the answer."""

    person: Person
    crop: CropTransform
    crop_rgb: np.ndarray  # [S,S,3] uint8, the photo inside the crop
    model_input: np.ndarray  # [C,S,S] float32, exactly what the net was given
    iterations: list[MeshIteration]
    keypoints: np.ndarray  # [33,2] the final body's mediapipe33 points on the image
    keypoint_error_px: float | None  # mean distance to MediaPipe's seen landmarks
    render: RegionRender | None  # the final mesh at full resolution; None if off-image
    mask_iou: float  # final mesh silhouette vs MediaPipe's person mask
    timings_ms: dict[str, float] = field(default_factory=dict)

    @property
    def final(self) -> MeshIteration:
        return self.iterations[-1]


@dataclass
class FrameResult:
    """One photo's people, largest first, and the frame-wide timings."""

    model_name: str
    body_name: str
    input_kind: str
    input_size: int
    image_size: tuple[int, int]  # width, height
    faces: np.ndarray  # [F,3] int64
    people: list[PersonResult]
    timings_ms: dict[str, float] = field(default_factory=dict)


@contextmanager
def timed(timings: dict[str, float], stage: str) -> Iterator[None]:
    """Record the wall time of the ``with`` body in ``timings[stage]`` (milliseconds)."""
    start = time.perf_counter()
    yield
    timings[stage] = (time.perf_counter() - start) * 1000.0


def _numpy(t: torch.Tensor) -> np.ndarray:
    return t[0].detach().float().cpu().numpy()


def keypoint_error(predicted: np.ndarray, person: Person, image_size: tuple[int, int]
                   ) -> float | None:
    """Mean image distance (px) from MediaPipe's seen, in-image landmarks to the model's;
    None when no landmark qualifies."""
    seen = (person.visibility >= VISIBLE) & (person.landmarks >= 0).all(axis=1) \
        & (person.landmarks < np.asarray(image_size)).all(axis=1)
    if not seen.any():
        return None
    return float(np.linalg.norm(predicted[seen] - person.landmarks[seen], axis=1).mean())


def run_person(model: LoadedModel, image: np.ndarray, person: Person) -> PersonResult:
    """The model's iterations for one found person, placed back on the full image."""
    timings: dict[str, float] = {}
    height, width = image.shape[:2]
    size = (width, height)
    device = next(model.net.parameters()).device
    with timed(timings, "crop"):
        transform = CropTransform(square_box(person.extent), model.input_size,
                                  align_corners=model.name != OFFICIAL)
        crop_rgb = transform.warp(image, size)
        if model.input_kind == "proxy":
            inputs = proxy_input(transform.warp(person.mask, size), person.landmarks,
                                 person.visibility, transform)
        else:
            inputs = normalised_rgb(crop_rgb)
    with timed(timings, "net"), torch.inference_mode():
        out = model.net(inputs.to(device))
        iterations = []
        for it in out.iterations:
            cam = _numpy(it.cam)
            iterations.append(MeshIteration(
                vertices=_numpy(it.vertices), cam=cam,
                image_camera=image_camera(cam, transform.box), betas=_numpy(it.betas),
                pose=_numpy(it.theta[:, 13:]), keypoints_2d=_numpy(it.keypoints_2d),
                sample_points=None if it.sample_points is None else _numpy(it.sample_points)))
    with timed(timings, "body_model"), torch.inference_mode():
        rotmat = out.final.rotmat
        body = model.net.body(global_orient=rotmat[:, :1], body_pose=rotmat[:, 1:],
                              betas=out.final.betas)
        keypoints = iterations[-1].image_camera.project(_numpy(body.keypoints("mediapipe33")))
    with timed(timings, "overlay"):
        render = render_mesh(iterations[-1].vertices, model.net.body.data.faces,
                             iterations[-1].image_camera, size)
        iou = mask_iou(render, person, size)
    return PersonResult(person=person, crop=transform, crop_rgb=crop_rgb,
                        model_input=_numpy(inputs), iterations=iterations, keypoints=keypoints,
                        keypoint_error_px=keypoint_error(keypoints, person, size),
                        render=render, mask_iou=iou, timings_ms=timings)


def run_image(model: LoadedModel, image: np.ndarray, finder: PersonFinder,
              max_people: int = MAX_PEOPLE) -> FrameResult:
    """Find the people in RGB uint8 ``image`` and run the model on each, largest first.

    Raises :class:`NoPersonFound` when nobody is there.
    """
    timings: dict[str, float] = {}
    with timed(timings, "detect"):
        people = finder.find(image, max_people)
    if not people:
        raise NoPersonFound("no person found in the image")
    results = [run_person(model, image, person) for person in people]
    for stage in PERSON_STAGES:
        timings[stage] = sum(r.timings_ms[stage] for r in results)
    height, width = image.shape[:2]
    return FrameResult(model_name=model.name, body_name=model.body_name,
                       input_kind=model.input_kind, input_size=model.input_size,
                       image_size=(width, height), faces=model.net.body.data.faces,
                       people=results, timings_ms=timings)
