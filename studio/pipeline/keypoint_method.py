"""The ``keypoint-fit`` model: MediaPipe's 3D world landmarks through the keypoint fit
(SMPLR, :mod:`studio.pipeline.keypoint_fit`) to a body, placed on the photo by a crop
camera fitted to MediaPipe's 2D landmarks. A model method
(:mod:`studio.pipeline.methods`): no crop net runs, so it costs a few milliseconds
beside the person finder.

MediaPipe's world landmarks are metres around the hips' midpoint in the camera's axes
(x right, y down, z away), the frame mesh iterations use, so the fit's body needs no
turning: it is only centred on its pelvis. MediaPipe guesses every landmark, unseen ones
too, and all of them are fitted (left out, the fit's own fill-in from the broad pose
prior folded the astronaut's cut-off legs, hips bent 2 rad). Then the limbs none of whose
landmarks is seen stand (the prior's standing pose, :mod:`studio.pipeline.start_pose`),
and with no hip seen the pelvis follows the chest: MediaPipe's guess for legs off a
portrait can be anything (Grace Hopper's knee above her hip, a crouch). "Seen" ramps
from visibility 0.1 to 0.5 (:func:`~studio.pipeline.start_pose.soft_seen`) and the
poses blend in between, so live, a webcam's hips at the frame's edge do not make the
body jump between the two. Unlike builtin-pointhmr's start, the seen joints are not
clamped to the prior's limits: that put the start up to 18 px further from the landmarks
on nine of the 14 `studio bench refine` photos.
Visibility weighs the 2D landmarks in the camera fit only. MediaPipe's skeleton is not
the body model's (wider hips, other shoulders), and with the fit's default shape prior
the refinement bent the shape far out of its range to match it (|betas| 6-7 on the
astronaut and Grace Hopper); :data:`SHAPE_SIGMA` holds it nearer the mean shape.
"""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from scipy.spatial.transform import Rotation

from studio.body import joint_sets
from studio.pipeline.camera_fit import project_weak, solve_camera
from studio.pipeline.crops import CropTransform, image_camera
from studio.pipeline.keypoint_fit import KeypointFit, SMPLRModel, fit_keypoints, load_smplr
from studio.pipeline.methods import LoadedMethod, MethodOutput
from studio.pipeline.people import Person
from studio.pipeline.results import MeshIteration
from studio.pipeline.single_image import inside_image
from studio.pipeline.start_pose import fully_seen, pelvis_from_chest, soft_seen, stand_unseen

NAME = "keypoint-fit"
LAYOUT = "mediapipe33"
START_CAM = np.array([0.9, 0.0, 0.0], np.float32)  # SMPL's mean camera: the fallback
CROP_SIZE = 128  # crop view and landmark maps only: no net reads them (224 px: 3x the time)
SHAPE_SIGMA = 0.5  # the refinement's shape prior for MediaPipe's landmarks


def load(device: torch.device | str = "cpu", checkpoint: Path | None = None) -> LoadedMethod:
    """The registry's loader: the shipped 3D weights, or ``checkpoint``."""
    model = load_smplr(LAYOUT, 3, path=checkpoint, device=str(device))
    model.keypoint_body(LAYOUT)  # the refinement's body, made now rather than at a frame
    return LoadedMethod(name=NAME, run=KeypointFitMethod(model), body=model.body,
                        input_kind="landmarks", input_size=CROP_SIZE, source=model.source,
                        device=torch.device(device))


def crop_camera(points: np.ndarray, targets: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """The crop camera (s, tx, ty) putting body points [K,3] on crop coordinates [K,2]
    (least squares, :func:`studio.pipeline.camera_fit.solve_camera`), started from the
    scale of the two point sets' spreads; :data:`START_CAM` when nothing can be fitted."""
    w = np.asarray(weights, np.float64)
    if (w > 0).sum() < 2:
        return START_CAM.copy()

    def spread(xy: np.ndarray) -> float:
        centre = (w[:, None] * xy).sum(0) / w.sum()
        return float(np.sqrt((w * ((xy - centre) ** 2).sum(1)).sum() / w.sum()))

    body_spread = spread(points[:, :2])
    guess = spread(targets) / body_spread if body_spread > 1e-6 else float(START_CAM[0])
    cam = solve_camera(points, targets, w, guess if guess > 0 else float(START_CAM[0]))
    return START_CAM.copy() if cam is None else cam.astype(np.float32)


class KeypointFitMethod:
    """:class:`~studio.pipeline.methods.PersonMethod`: one fit per person, one iteration."""

    def __init__(self, model: SMPLRModel) -> None:
        self.model = model

    def __call__(self, image: np.ndarray, person: Person, transform: CropTransform,
                 maps: torch.Tensor) -> MethodOutput:
        size = (image.shape[1], image.shape[0])
        fit = fit_keypoints(person.world_landmarks, LAYOUT, 3, model=self.model,
                            shape_sigma=SHAPE_SIGMA)
        seen = soft_seen(person.visibility, inside_image(person.landmarks, size))
        if not fully_seen(seen):  # posing the body again costs a fifth of the fit
            pose = pelvis_from_chest(stand_unseen(fit.poses[0], seen), seen)
            fit = reposed(self.model, fit, pose)
        return placed_fit(fit, person, transform, size)


def reposed(model: SMPLRModel, fit: KeypointFit, pose: np.ndarray) -> KeypointFit:
    """``fit``'s first body in the axis-angle ``pose`` [72], its shape and translation
    kept."""
    rotations = Rotation.from_rotvec(np.asarray(pose, np.float64).reshape(24, 3)).as_matrix()
    posed = model.pose(LAYOUT, rotations[None], fit.betas[:1].astype(np.float64))
    shift = fit.trans[:1, None].astype(np.float32)
    sources = posed.points().cpu().numpy() + shift
    return replace(fit, poses=np.asarray(pose, np.float32)[None], betas=fit.betas[:1],
                   trans=fit.trans[:1], vertices=posed.vertices.cpu().numpy() + shift,
                   joints=posed.joints.cpu().numpy() + shift, sources=sources,
                   keypoints=_MEDIAPIPE33 @ sources)


_PYMAF49 = joint_sets.mapping_matrix("pymaf49").astype(np.float32)
_MEDIAPIPE33 = joint_sets.mapping_matrix("mediapipe33").astype(np.float32)


def placed_fit(fit: KeypointFit, person: Person, transform: CropTransform,
               image_size: tuple[int, int]) -> MethodOutput:
    """A keypoint fit's first body as a method's one iteration: centred on its pelvis and
    placed with the crop camera that puts its mediapipe33 points on the person's seen,
    in-image landmarks (every method that ends in a keypoint fit shares this)."""
    pelvis = fit.joints[0, 0]
    sources = fit.sources[0] - pelvis
    keypoints = _MEDIAPIPE33 @ sources
    visibility = np.nan_to_num(np.asarray(person.visibility, np.float32))
    cam = crop_camera(keypoints, transform.to_crop(person.landmarks),
                      np.where(inside_image(person.landmarks, image_size), visibility, 0.0))
    iteration = MeshIteration(
        vertices=fit.vertices[0] - pelvis, joints=fit.joints[0] - pelvis, cam=cam,
        image_camera=image_camera(cam, transform.box), betas=fit.betas[0], pose=fit.poses[0],
        keypoints_2d=project_weak(_PYMAF49 @ sources, cam).astype(np.float32),
        sample_points=None, pyramid_map=None)
    return MethodOutput(iterations=[iteration], keypoints=keypoints[None].astype(np.float64))
