"""The ``poseaug-lifter`` model: PoseAug's end-to-end use on a photo. MediaPipe's 2D
landmarks become PoseAug's 16 joints, normalized from an image size alone
(u = 2x/W - 1, v = 2y/W - H/W: no camera calibration), a PoseAug-trained estimator
lifts them to a 3D skeleton, and the keypoint fit (SMPLR) turns that into a body placed
on the photo by a crop camera fitted to the landmarks. A model method
(:mod:`studio.pipeline.methods`): the shipped estimator (``models/poseaug``) or an
official PoseAug file given as the checkpoint (any layout ``load_official`` reads).

The image normalized is a square framing the person (:func:`framed_screen`) rather than
the photo: the estimator learnt from people whole in the picture, a few metres away, and
a close-up portrait's joints, with MediaPipe's guessed legs far below the photo, would
lie up to three times outside the range it saw (a 4.6 m tall lift on ``grace-hopper``).

MediaPipe has no pelvis, spine, thorax or H36M head point; they are blended from its
landmarks (:data:`BLENDS`): pelvis = the hips' midpoint, thorax = the shoulders',
spine = halfway between, head = the ears' midpoint pushed back away from the nose
(MediaPipe's ears sit in front of the head's side). On the mannequin in 200 prior poses
these are on average 7, 44, 20 and 5 mm from the body model's own joints (the spine
bends, a blend cannot).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from studio.body import joint_sets
from studio.errors import ModelFileError
from studio.nets import poseaug
from studio.pipeline.crops import CropTransform
from studio.pipeline.keypoint_fit import SMPLRModel, fit_keypoints, load_smplr
from studio.pipeline.keypoint_method import CROP_SIZE, placed_fit
from studio.pipeline.methods import LoadedMethod, MethodOutput
from studio.pipeline.people import Person

NAME = "poseaug-lifter"
LAYOUT = "poseaug16"
# PoseAug joints MediaPipe lacks, as blends of its landmarks (Spine: halfway between Hip
# and Thorax); the Head's weights are the least-squares fit on the mannequin.
BLENDS = {"Hip": {"left_hip": 0.5, "right_hip": 0.5},
          "Thorax": {"left_shoulder": 0.5, "right_shoulder": 0.5},
          "Head": {"left_ear": 0.864, "right_ear": 0.864, "nose": -0.728}}


def _landmark_matrix() -> np.ndarray:
    """[16,33]: row j blends MediaPipe's landmarks into PoseAug joint j."""
    mp = joint_sets.MEDIAPIPE33
    m = np.zeros((len(poseaug.JOINT_NAMES), len(mp)), np.float32)
    for j, name in enumerate(poseaug.JOINT_NAMES):
        if name in BLENDS:
            for landmark, weight in BLENDS[name].items():
                m[j, mp.index(landmark)] = weight
        elif name != "Spine":
            m[j, mp.index(joint_sets.POSEAUG16.semantics[j])] = 1.0
    spine = poseaug.JOINT_NAMES.index("Spine")
    m[spine] = 0.5 * (m[poseaug.JOINT_NAMES.index("Hip")] + m[poseaug.JOINT_NAMES.index("Thorax")])
    return m


LANDMARKS_TO_POSEAUG = _landmark_matrix()
# The median longer side of a person's joint box in normalized screen units (image width
# 2) in PoseAug's training source (`studio eval poseaug`'s source set: 5th-95th
# percentiles 0.58-0.95; the broad target's 0.32-1.07).
SOURCE_EXTENT = 0.73


def load(device: torch.device | str = "cpu", checkpoint: Path | None = None) -> LoadedMethod:
    """The registry's loader: the shipped PoseAug estimator, or ``checkpoint`` (an
    official PoseAug file holding an estimator), with the shipped 3D keypoint fit."""
    path = poseaug.BUILTIN_ESTIMATOR if checkpoint is None else Path(checkpoint)
    if checkpoint is None and not path.is_file():
        raise ModelFileError(f"PoseAug estimator {path.name} not found in {path.parent}; "
                             "train it with `studio train poseaug`, or give an official "
                             "PoseAug checkpoint with --checkpoint")
    estimator = poseaug.load_official(path, "pose", str(device))
    fit = load_smplr(LAYOUT, 3, device=str(device))
    return LoadedMethod(name=NAME, run=PoseAugLifter(estimator, fit), body=fit.body,
                        input_kind="landmarks", input_size=CROP_SIZE, source=path,
                        device=torch.device(device), meta={"estimator": estimator.kind})


def framed_screen(landmarks: np.ndarray) -> np.ndarray:
    """MediaPipe's 33 landmarks [33,2] (pixels) -> PoseAug's 16 joints [16,2] normalized
    in a square virtual image centred on their box, whose side makes the box's longer
    side :data:`SOURCE_EXTENT` wide, as the training source's people are."""
    joints = LANDMARKS_TO_POSEAUG @ np.asarray(landmarks, np.float32)
    low, high = joints.min(0), joints.max(0)
    side = max(float((high - low).max()) * 2.0 / SOURCE_EXTENT, 1e-6)
    framed = joints - (low + high) / 2 + side / 2
    return poseaug.normalize_screen(torch.as_tensor(framed), side, side).numpy()


@torch.no_grad()
def lift(estimator: torch.nn.Module, screen: np.ndarray) -> np.ndarray:
    """[16,2] normalized 2D joints -> [16,3] root-relative 3D skeleton (metres, camera
    axes) from a PoseAug estimator in eval mode."""
    device = next(estimator.parameters()).device
    out = estimator(torch.as_tensor(screen, dtype=torch.float32, device=device)[None])[0]
    return (out - out[:1]).cpu().numpy()


class PoseAugLifter:
    """:class:`~studio.pipeline.methods.PersonMethod`: one lift and fit per person."""

    def __init__(self, estimator: torch.nn.Module, fit: SMPLRModel) -> None:
        self.estimator = estimator.eval()
        self.fit = fit

    def __call__(self, image: np.ndarray, person: Person, transform: CropTransform,
                 maps: torch.Tensor) -> MethodOutput:
        size = (image.shape[1], image.shape[0])
        skeleton = lift(self.estimator, framed_screen(person.landmarks))
        return placed_fit(fit_keypoints(skeleton, LAYOUT, 3, model=self.fit), person,
                          transform, size)
