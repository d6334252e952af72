"""One photo through a mesh regressor: find people, crop each, run the net, keep every
iteration, and place the meshes back on the full-resolution photo.

Plain numpy results and no Qt, so the ``studio run`` command and the GUI's worker share
it. RGB models get ImageNet-normalised crops; proxy models get the maps they were trained
on (MediaPipe's person mask and landmark heatmaps), made through the same crop transform.
By default each iteration's crop camera is then refitted to MediaPipe's seen landmarks
(:mod:`studio.pipeline.camera_fit`), which places the meshes on real photos better than
the nets' own cameras do. Model methods (:mod:`studio.pipeline.methods`, e.g.
``keypoint-fit``) replace only the net's step: they make the iterations themselves.
"""
from __future__ import annotations

import time
from dataclasses import replace
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import numpy as np
import torch

from studio.body.model import BodyModel
from studio.nets.model_registry import OFFICIAL, LoadedModel
from studio.pipeline.camera_fit import fit_crop_camera
from studio.pipeline.crops import CropTransform, image_camera, normalised_rgb, proxy_input, square_box
from studio.pipeline.methods import LoadedMethod, MethodOutput
from studio.pipeline.overlay import RegionRender, mask_iou, mesh_fill, render_mesh
from studio.pipeline.people import (MAX_PEOPLE, VISIBLE, NoPersonFound, Person, PersonFinder,
                                    TrackingPersonFinder)
from studio.pipeline.refine import better_than_start, refine_body, refine_mesh
from studio.pipeline.results import DenseMaps, FrameResult, MeshIteration, PersonResult

# timed per person, in this order
PERSON_STAGES = ("crop", "net", "fit", "refine", "overlay", "fill")
PeopleFinder = PersonFinder | TrackingPersonFinder
Model = LoadedModel | LoadedMethod


@contextmanager
def timed(timings: dict[str, float], stage: str) -> Iterator[None]:
    """Record the wall time of the ``with`` body in ``timings[stage]`` (milliseconds)."""
    start = time.perf_counter()
    yield
    timings[stage] = (time.perf_counter() - start) * 1000.0


def _numpy(t: torch.Tensor) -> np.ndarray:
    return t[0].detach().float().cpu().numpy()


def inside_image(points: np.ndarray, image_size: tuple[int, int]) -> np.ndarray:
    """[N] bool: which image points [N,2] lie inside an image of ``image_size`` (w, h)."""
    points = np.asarray(points)
    return (points >= 0).all(axis=1) & (points < np.asarray(image_size)).all(axis=1)


def seen_landmarks(person: Person, image_size: tuple[int, int]) -> np.ndarray:
    """[33] bool: MediaPipe's landmarks that count as seen (visibility >= VISIBLE) and lie
    inside the image."""
    return (person.visibility >= VISIBLE) & inside_image(person.landmarks, image_size)


def keypoint_error(predicted: np.ndarray, person: Person, image_size: tuple[int, int]
                   ) -> float | None:
    """Mean image distance (px) from MediaPipe's seen, in-image landmarks to the model's;
    None when no landmark qualifies."""
    seen = seen_landmarks(person, image_size)
    if not seen.any():
        return None
    return float(np.linalg.norm(predicted[seen] - person.landmarks[seen], axis=1).mean())


def run_person(model: Model, image: np.ndarray, person: Person,
               overlay: bool = True, fit_camera: bool = True,
               refine: bool = False) -> PersonResult:
    """The model's iterations for one found person, placed back on the full image.

    ``overlay=False`` skips the full-resolution silhouette and its mask IoU (a quarter of
    a frame's time): live views draw their own overlays. ``fit_camera`` refits each
    iteration's crop camera so that its body's mediapipe33 keypoints land on MediaPipe's
    seen landmarks (:mod:`studio.pipeline.camera_fit`); the net's camera stays in
    ``MeshIteration.cam`` and is used where the fit is not trusted. ``refine`` adds the
    refined step (:mod:`studio.pipeline.refine`, timed as "refine"), which the keypoints,
    errors and render then describe. A model method's own step replaces the net's
    (:mod:`studio.pipeline.methods`; timed as "net")."""
    timings: dict[str, float] = {}
    height, width = image.shape[:2]
    size = (width, height)
    with timed(timings, "crop"):
        transform = CropTransform(square_box(person.extent), model.input_size,
                                  align_corners=model.name != OFFICIAL)
        crop_rgb = transform.warp(image, size)
        landmark_maps = proxy_input(transform.warp(person.mask, size), person.landmarks,
                                    person.visibility, transform)
        inputs = landmark_maps if model.input_kind != "rgb" else normalised_rgb(crop_rgb)
    with timed(timings, "net"), torch.inference_mode():
        if isinstance(model, LoadedMethod):
            out = model.run(image, person, transform, landmark_maps)
        else:
            out = net_iterations(model, inputs, transform)
        iterations, body_keypoints = out.iterations, out.keypoints
    if fit_camera:
        with timed(timings, "fit"):
            seen = seen_landmarks(person, size)
            targets = transform.to_crop(person.landmarks)
            weights = np.where(seen, person.visibility, 0.0)
            for it, points in zip(iterations, body_keypoints):
                fitted = fit_crop_camera(points, targets, weights, it.cam)
                if fitted is not None:
                    it.fitted_cam = fitted
                    it.image_camera = image_camera(fitted, transform.box)
    keypoints = iterations[-1].image_camera.project(body_keypoints[-1])
    result = PersonResult(person=person, crop=transform, crop_rgb=crop_rgb,
                          model_input=_numpy(inputs), landmark_maps=_numpy(landmark_maps),
                          iterations=iterations, dense=out.dense, keypoints=keypoints,
                          keypoint_error_px=keypoint_error(keypoints, person, size),
                          render=None, mask_iou=None, timings_ms=timings)
    refined, render = None, None
    if refine:
        with timed(timings, "refine"):
            refined = refine_step(result, refine_body(model), size)
    if overlay:  # with refinement, both the start and the refined step are drawn
        faces = model.body.data.faces
        with timed(timings, "overlay"):
            result.render = render_mesh(iterations[-1].vertices, faces,
                                        iterations[-1].image_camera, size)
            result.mask_iou = mask_iou(result.render, person, size)
            if refined is not None:
                render = render_mesh(refined[0].vertices, faces, refined[0].image_camera,
                                     size)
                result.refine.iou_before = result.mask_iou
                result.refine.iou_after = mask_iou(render, person, size)
    if refined is not None:
        choose_refined(result, *refined, render)
    return result


def net_iterations(model: LoadedModel, inputs: torch.Tensor, transform: CropTransform
                   ) -> MethodOutput:
    """A crop net's feedback iterations on ``inputs`` (the crop's RGB or proxy maps),
    with each iteration's mediapipe33 body keypoints and the dense maps."""
    out = model.infer(inputs.to(model.device))
    regressor = np.asarray(model.body.data.J_regressor, np.float32)
    iterations = []
    for it in out.iterations:
        cam = _numpy(it.cam)
        vertices = _numpy(it.vertices)
        iterations.append(MeshIteration(
            vertices=vertices, joints=regressor @ vertices, cam=cam,
            image_camera=image_camera(cam, transform.box), betas=_numpy(it.betas),
            pose=_numpy(it.theta[:, 13:]), keypoints_2d=_numpy(it.keypoints_2d),
            sample_points=None if it.sample_points is None else _numpy(it.sample_points),
            pyramid_map=None if it.feature is None else _numpy(it.feature.abs().mean(1))))
    # The mediapipe33 keypoints of every iteration's posed body: the camera fit's
    # points, and the final one's are what the overlays and errors use.
    body_keypoints = torch.cat([it.body.keypoints("mediapipe33") for it in out.iterations]
                               ).double().cpu().numpy()
    dense = out.final.dense
    dense_maps = None if dense is None else DenseMaps.from_logits(
        {k: _numpy(v) for k, v in dense.items()})
    return MethodOutput(iterations=iterations, keypoints=body_keypoints, dense=dense_maps)


def refine_step(result: PersonResult, body: BodyModel, size: tuple[int, int]
                ) -> tuple[MeshIteration, np.ndarray]:
    """Refine ``result``'s last iteration (:func:`studio.pipeline.refine.refine_mesh`):
    sets ``result.refine`` with the keypoint errors before and after, and returns the
    refined step and its keypoints on the image [33,2]."""
    person = result.person
    refined, points, report = refine_mesh(body, result.iterations[-1], person, result.crop,
                                          size, seen_landmarks(person, size))
    keypoints = refined.image_camera.project(points)
    report.kp_error_before = result.keypoint_error_px
    report.kp_error_after = keypoint_error(keypoints, person, size)
    result.refine = report
    return refined, keypoints


def choose_refined(result: PersonResult, refined: MeshIteration, keypoints: np.ndarray,
                   render: RegionRender | None) -> None:
    """Add the refined step; its keypoints, error, render and IoU replace the start's
    unless the start was better (:func:`studio.pipeline.refine.better_than_start`: then
    the step repeats the start)."""
    report = result.refine
    report.kept = better_than_start(report)
    if not report.kept:
        result.refined = replace(result.iterations[-1], sample_points=None, pyramid_map=None)
        return
    result.refined, result.keypoints = refined, keypoints
    result.keypoint_error_px = report.kp_error_after
    if render is not None:
        result.render, result.mask_iou = render, report.iou_after


def add_fill(result: PersonResult, faces: np.ndarray, image_size: tuple[int, int],
             side: int) -> None:
    """Draw ``result``'s final mesh filled for the 2D view at ``side`` raster pixels
    (``PersonResult.fill``, timed as "fill"): live frames want this done off the UI
    thread."""
    with timed(result.timings_ms, "fill"):
        points, depth = result.final.projected()
        result.fill = mesh_fill(points, faces, depth, image_size, side)


def run_image(model: Model, image: np.ndarray, finder: PeopleFinder,
              max_people: int = MAX_PEOPLE,
              progress: Callable[[str, float], None] | None = None,
              overlay: bool = True, fit_camera: bool = True,
              fill_side: int | None = None,
              model_done: Callable[[], None] | None = None,
              refine: bool = False) -> FrameResult:
    """Find the people in RGB uint8 ``image`` and run the model on each, largest first.

    ``finder`` is a :class:`PersonFinder` for photos or a :class:`TrackingPersonFinder`
    for a stream's frames; ``overlay``, ``fit_camera``, ``fill_side``, ``model_done`` and
    ``refine`` as for :func:`run_people`.
    ``progress(stage, fraction)`` is called before each stage; it may raise to cancel (the
    GUI's worker does). Raises :class:`NoPersonFound` when nobody is there.
    """
    report = progress or (lambda stage, fraction: None)
    timings: dict[str, float] = {}
    report("finding people", 0.0)
    with timed(timings, "detect"):
        people = finder.find(image, max_people)
    return run_people(model, image, people, timings, report, overlay, fit_camera, fill_side,
                      model_done, refine)


def run_people(model: Model, image: np.ndarray, people: list[Person],
               timings: dict[str, float] | None = None,
               progress: Callable[[str, float], None] | None = None,
               overlay: bool = True, fit_camera: bool = True,
               fill_side: int | None = None,
               model_done: Callable[[], None] | None = None,
               refine: bool = False) -> FrameResult:
    """The model on people already found in ``image`` (largest first): live streams find
    them on another thread while the model runs on the previous frame. ``timings`` holds
    the stages already done (``detect``); ``overlay`` and ``fit_camera`` as for
    :func:`run_person`, ``progress`` as for :func:`run_image`; ``refine`` adds each
    person's refined step (:func:`run_person`).

    ``fill_side`` draws each final mesh filled (:func:`add_fill`) after every person's
    model ran and ``model_done()`` was called: a live stream's next frame may start
    while this one's fill is drawn."""
    report = progress or (lambda stage, fraction: None)
    timings = dict(timings or {})
    if not people:
        raise NoPersonFound("no person found in the image")
    height, width = image.shape[:2]
    faces = model.body.data.faces
    results = []
    for k, person in enumerate(people):
        report(f"person {k + 1} of {len(people)}", 0.3 + 0.7 * k / len(people))
        results.append(run_person(model, image, person, overlay, fit_camera, refine))
    if model_done is not None:
        model_done()
    if fill_side is not None:
        for result in results:
            add_fill(result, faces, (width, height), fill_side)
    for stage in PERSON_STAGES:
        if stage in results[0].timings_ms:  # "fit", "overlay", "refine", "fill" when they ran
            timings[stage] = sum(r.timings_ms[stage] for r in results)
    return FrameResult(model_name=model.name, body_name=model.body_name,
                       input_kind=model.input_kind, input_size=model.input_size,
                       image_size=(width, height), faces=faces,
                       parents=np.asarray(model.body.data.parents),
                       part_labels=np.asarray(model.body.data.part_labels),
                       people=results, timings_ms=timings)
