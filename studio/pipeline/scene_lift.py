"""Generated scene poses (MPII-16 pixels) lifted to bodies seen through the photo's camera.

Upright poses go through the 2D keypoint fit. A lying pose does not: from 2D alone the
fit stands it up in the picture's plane, so a body lying on a beach comes out floating
sideways above the sand. A lying person is on the ground, so each joint is taken where its
pixel's ray meets a level ground plane below the camera (nearer the camera the lower it
is in the picture), the plane's depth set by a human's bone lengths; the 3D keypoint fit
then poses the body on those points.
"""
from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from studio.body.joint_sets import MPII16
from studio.pipeline.keypoint_fit import (KeypointFit, camera_intrinsics, fit_keypoints,
                                         load_smplr)

LAYOUT = "mpii16"
BONES = tuple((i, p) for i, p in enumerate(MPII16.parents) if p >= 0)
_CHILD, _PARENT = (np.array(side) for side in zip(*BONES))
# Joints this close to the horizon (as a share of the focal length) or above it are not
# on a ground below the camera: the pose is lifted from 2D instead.
MIN_BELOW_HORIZON = 0.02


def lifts_on_ground(classes: Sequence[str]) -> bool:
    """Whether a template named by ``classes`` (``TemplateSet.names``, the commonest
    first) lies on the ground."""
    return bool(classes) and classes[0] == "lying"


def bone_lengths(points: np.ndarray) -> np.ndarray:
    """[15] lengths of the :data:`BONES` of MPII-16 ``points`` [16,3] (NaN where a joint is
    NaN)."""
    return np.linalg.norm(points[_CHILD] - points[_PARENT], axis=-1)


@functools.lru_cache(maxsize=1)
def rest_bone_lengths() -> np.ndarray:
    """[15] the MPII-16 bone lengths of the body model's mean shape, metres."""
    body = load_smplr(LAYOUT, 3).keypoint_body(LAYOUT)
    rest = body(np.broadcast_to(np.eye(3), (1, 24, 3, 3)).copy(), np.zeros((1, 10)))[0]
    return bone_lengths(rest)


def ground_points(keypoints: np.ndarray, intrinsics: np.ndarray) -> np.ndarray | None:
    """[16,3] camera-frame points (NaN where not placed) of ``keypoints`` [16,2] (pixels,
    negative = not placed) laid on a level ground below a level camera with ``intrinsics``
    (focal, cx, cy), scaled so the bones match a human's (median ratio); None when a
    placed joint is not below the horizon."""
    f, cx, cy = (float(v) for v in intrinsics)
    placed = (keypoints >= 0).all(1)
    below = (keypoints[:, 1] - cy) / f
    if not placed.any() or (below[placed] < MIN_BELOW_HORIZON).any():
        return None
    # the ray through each pixel meets the plane y = 1 (camera frame, y down) at
    # ((u - cx) / (v - cy), 1, f / (v - cy)); the whole picture scales with the plane's y
    with np.errstate(divide="ignore", invalid="ignore"):
        unit = np.stack([(keypoints[:, 0] - cx) / f / below, np.ones(16), 1 / below], -1)
    unit[~placed] = np.nan
    lengths = bone_lengths(unit)
    ok = np.isfinite(lengths) & (lengths > 1e-9)
    if not ok.any():
        return None
    return unit * float(np.median(rest_bone_lengths()[ok] / lengths[ok]))


def lift_scene_pose(keypoints: np.ndarray, image_size: tuple[int, int],
                    classes: Sequence[str] = ()) -> KeypointFit:
    """The body of a generated pose ``keypoints`` [16,2] (pixels, negative = not placed)
    in the camera frame of a photo of ``image_size`` (focal length = its longer side, as
    the 2D fit assumes): on the ground for a lying class, else from 2D."""
    keypoints = np.asarray(keypoints, np.float64)
    placed = (keypoints >= 0).all(1)
    intrinsics = camera_intrinsics(keypoints[None], placed[None], image_size, None)[0]
    if lifts_on_ground(classes):
        points = ground_points(keypoints, intrinsics)
        if points is not None:
            fit = fit_keypoints(points[None].astype(np.float32), LAYOUT, dims=3)
            return replace(fit, frame="camera", intrinsics=intrinsics[None])
    points = np.where(placed[:, None], keypoints, np.nan)
    return fit_keypoints(points[None].astype(np.float32), LAYOUT, dims=2,
                         image_size=image_size)
