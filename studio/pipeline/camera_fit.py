"""Refit a net's crop camera to the landmarks MediaPipe saw.

Why: a mesh regressor predicts pose, shape and camera together, and on real photos its
camera is the weakest part (the built-in proxy net was trained on made people only): the
pose may be right while the mesh sits a little too small, too large or beside the person.
MediaPipe's landmarks say where the body's keypoints are on the photo, so the camera that
puts the model's own keypoints there follows in closed form, and the net's pose and shape
are kept as they are.

The crop camera ``cam`` = (s, tx, ty) sees body-frame point X at crop coordinate
``s * (X[:2] + (tx, ty)) * k`` with ``k = 1 / (1 + X[2] * s * CROP_SIZE / (2 * FOCAL_LENGTH))``
(:func:`studio.nets.geometry.project_to_crop`: a perspective camera at depth
``2 f / (CROP_SIZE s)``). ``k`` is within a percent of 1 for a body, so it is taken from
the previous estimate of ``s``, and then the projection is linear in ``(s, s tx, s ty)``:
a weighted linear least-squares problem with three unknowns, solved a few times to settle
``k`` (microseconds for 33 points).

The fit is guarded: too few seen landmarks, landmarks bunched together (a face alone
says little about where the body is), a degenerate system or a scale far from the net's
all keep the net's camera.
"""
from __future__ import annotations

import numpy as np

from studio.nets.geometry import CROP_SIZE, FOCAL_LENGTH

MIN_LANDMARKS = 4  # seen landmarks needed for a fit
MIN_SPREAD = 0.15  # crop units: the seen landmarks' weighted RMS distance from their centre
MAX_SCALE_CHANGE = 2.0  # the fitted s must lie within this factor of the net's s
PASSES = 3  # solves, each with the depth factor of the previous s


def depth_factor(points: np.ndarray, s: float) -> np.ndarray:
    """[N] the perspective factor ``k`` of body-frame points [N,3] for camera scale ``s``."""
    return 1.0 / (1.0 + points[:, 2] * s * CROP_SIZE / (2.0 * FOCAL_LENGTH))


def project_weak(points: np.ndarray, cam: np.ndarray) -> np.ndarray:
    """Body-frame points [N,3] -> crop coordinates [N,2] under ``cam`` = (s, tx, ty),
    as the nets project (the depth factor included)."""
    s, tx, ty = (float(v) for v in cam)
    points = np.asarray(points, np.float64)
    return s * (points[:, :2] + (tx, ty)) * depth_factor(points, s)[:, None]


def solve_camera(points: np.ndarray, targets: np.ndarray, weights: np.ndarray,
                 s_guess: float) -> np.ndarray | None:
    """The (s, tx, ty) whose projection of body-frame ``points`` [N,3] best matches crop
    coordinates ``targets`` [N,2] in the ``weights``-weighted least-squares sense; None
    when the system is degenerate (points all in one place) or s comes out <= 0."""
    points = np.asarray(points, np.float64)
    targets = np.asarray(targets, np.float64)
    root_w = np.sqrt(np.asarray(weights, np.float64))
    n = len(points)
    s = float(s_guess)
    for _ in range(PASSES):
        k = depth_factor(points, s)
        # Rows u_i = s k X_i + a k, v_i = s k Y_i + b k, unknowns (s, a, b) = (s, s tx, s ty).
        design = np.zeros((2 * n, 3))
        design[:n, 0], design[:n, 1] = k * points[:, 0], k
        design[n:, 0], design[n:, 2] = k * points[:, 1], k
        rhs = np.concatenate([targets[:, 0], targets[:, 1]])
        w = np.concatenate([root_w, root_w])
        design *= w[:, None]
        rhs = rhs * w
        solution, _, rank, singular = np.linalg.lstsq(design, rhs, rcond=None)
        if rank < 3 or singular[-1] < 1e-9 * singular[0]:
            return None
        s = float(solution[0])
        if not np.isfinite(solution).all() or s <= 0:
            return None
    return np.array([s, solution[1] / s, solution[2] / s])


def fit_crop_camera(points: np.ndarray, targets: np.ndarray, weights: np.ndarray,
                    net_cam: np.ndarray) -> np.ndarray | None:
    """The crop camera that puts the model's keypoints ``points`` [K,3] (body frame) on
    MediaPipe's landmarks ``targets`` [K,2] (crop coordinates), each weighted by
    ``weights`` [K] (visibility; 0 for landmarks not seen), or None when the fit is not
    to be trusted and the net's camera ``net_cam`` should stay: fewer than
    MIN_LANDMARKS seen, landmarks bunched within MIN_SPREAD, a degenerate system, or a
    scale not within MAX_SCALE_CHANGE of the net's."""
    weights = np.asarray(weights, np.float64)
    used = np.isfinite(weights) & (weights > 0) & np.isfinite(targets).all(axis=1) \
        & np.isfinite(points).all(axis=1)
    if used.sum() < MIN_LANDMARKS:
        return None
    points, targets, weights = (np.asarray(points, np.float64)[used],
                                np.asarray(targets, np.float64)[used], weights[used])
    centre = (weights[:, None] * targets).sum(axis=0) / weights.sum()
    spread = np.sqrt((weights * ((targets - centre) ** 2).sum(axis=1)).sum() / weights.sum())
    net_s = float(net_cam[0])
    if spread < MIN_SPREAD or not np.isfinite(net_s) or net_s <= 0:
        return None
    cam = solve_camera(points, targets, weights, net_s)
    if cam is None or not (net_s / MAX_SCALE_CHANGE <= cam[0] <= net_s * MAX_SCALE_CHANGE):
        return None
    return cam.astype(np.float32)
