"""The closed-form crop-camera fit: exact on exact data, blind to unseen landmarks, and
keeping the net's camera (None) whenever the landmarks cannot be trusted.

No MediaPipe and no net: points and cameras are made here, and projected with the nets'
own projection (studio.nets.geometry) as an independent check of the fit's model.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

from studio.nets.geometry import project_to_crop
from studio.pipeline import camera_fit
from studio.pipeline.camera_fit import fit_crop_camera, project_weak, solve_camera
from studio.pipeline.crops import CropBox, CropTransform, image_camera

TRUE_CAM = np.array([1.37, 0.05, 0.31])
NET_CAM = np.array([1.0, 0.0, 0.2])  # the net's guess: off, but within a factor 2


def body_points(n: int = 33, seed: int = 0) -> np.ndarray:
    """[n,3] keypoint-like points: a 1.7 m tall, 0.5 m wide, 0.3 m deep cloud."""
    rng = np.random.default_rng(seed)
    return rng.uniform(-0.5, 0.5, (n, 3)) * np.array([0.5, 1.7, 0.3])


def crop_projection(points: np.ndarray, cam: np.ndarray) -> np.ndarray:
    """The nets' projection (perspective, focal 5000 px on a 224 px crop) in float64."""
    p = torch.as_tensor(points, dtype=torch.float64)[None]
    c = torch.as_tensor(cam, dtype=torch.float64)[None]
    return project_to_crop(p, c)[0].numpy()


def test_projection_model_is_the_nets() -> None:
    points = body_points()
    np.testing.assert_allclose(project_weak(points, TRUE_CAM), crop_projection(points, TRUE_CAM),
                               atol=1e-9)


def test_recovers_a_known_camera_from_exact_points() -> None:
    points = body_points()
    targets = crop_projection(points, TRUE_CAM)
    fitted = fit_crop_camera(points, targets, np.ones(len(points)), NET_CAM)
    assert fitted is not None
    np.testing.assert_allclose(fitted, TRUE_CAM, atol=1e-5)  # float32 result
    np.testing.assert_allclose(solve_camera(points, targets, np.ones(len(points)), 1.0),
                               TRUE_CAM, atol=1e-9)
    # Flat points (z = 0) make the camera exactly weak perspective: s * (X + t).
    flat = points * (1, 1, 0)
    targets = TRUE_CAM[0] * (flat[:, :2] + TRUE_CAM[1:])
    np.testing.assert_allclose(solve_camera(flat, targets, np.full(33, 0.7), 2.0), TRUE_CAM,
                               atol=1e-12)


def test_fitted_camera_puts_the_points_on_the_image_landmarks() -> None:
    """Through image_camera, the fitted crop camera lands the points on the landmarks given
    in image pixels (to_crop, then the full-image camera: the pipeline's round trip)."""
    transform = CropTransform(CropBox(40.0, -25.0, 380.0), 64)
    points = body_points(seed=1)
    landmarks = transform.to_image(crop_projection(points, TRUE_CAM))
    fitted = fit_crop_camera(points, transform.to_crop(landmarks), np.ones(33), NET_CAM)
    projected = image_camera(fitted, transform.box).project(points)
    np.testing.assert_allclose(projected, landmarks, atol=1e-3)  # pixels


def test_weights_follow_visibility_and_unseen_landmarks_are_ignored() -> None:
    points = body_points(seed=2)
    targets = crop_projection(points, TRUE_CAM)
    weights = np.linspace(0.5, 1.0, 33)
    unseen = [0, 5, 11, 20, 31]
    targets[unseen] = [[3.0, -2.0], [np.nan, np.nan], [0.0, 9.0], [-7.0, 1.0], [np.inf, 0.0]]
    weights[unseen] = 0.0
    fitted = fit_crop_camera(points, targets, weights, NET_CAM)
    np.testing.assert_allclose(fitted, TRUE_CAM, atol=1e-5)
    # Noisy landmarks: a badly placed one counts less the less visible it is.
    rng = np.random.default_rng(3)
    noisy = crop_projection(points, TRUE_CAM) + rng.normal(0, 0.01, (33, 2))
    noisy[7] += (0.4, 0.4)
    errors = []
    for w7 in (1.0, 0.1):
        weights = np.ones(33)
        weights[7] = w7
        errors.append(np.abs(fit_crop_camera(points, noisy, weights, NET_CAM) - TRUE_CAM).max())
    assert errors[1] < errors[0] and errors[1] < 0.02


def test_too_few_landmarks_keep_the_net_camera() -> None:
    points = body_points(seed=4)
    targets = crop_projection(points, TRUE_CAM)
    weights = np.zeros(33)
    weights[[0, 16, 28]] = 1.0  # three seen, spread over the body
    assert camera_fit.MIN_LANDMARKS == 4
    assert fit_crop_camera(points, targets, weights, NET_CAM) is None
    weights[32] = 1.0
    assert fit_crop_camera(points, targets, weights, NET_CAM) is not None
    assert fit_crop_camera(points, targets, np.zeros(33), NET_CAM) is None


def test_degenerate_fits_keep_the_net_camera() -> None:
    points = body_points(seed=5)
    targets = crop_projection(points, TRUE_CAM)
    ones = np.ones(33)
    # Landmarks bunched in one spot (a face alone, or MediaPipe's collapsed guesses).
    bunched = points * 0.05
    assert fit_crop_camera(bunched, crop_projection(bunched, TRUE_CAM), ones, NET_CAM) is None
    assert fit_crop_camera(points, np.zeros((33, 2)), ones, NET_CAM) is None
    # The model's keypoints all in one place: the scale is undetermined.
    same = np.repeat(points[:1], 33, axis=0)
    assert solve_camera(same, targets, ones, 1.0) is None
    assert fit_crop_camera(same, targets, ones, NET_CAM) is None
    # A mirrored person needs s < 0; a scale beyond a factor 2 of the net's is not trusted.
    assert fit_crop_camera(points, -targets, ones, NET_CAM) is None
    assert fit_crop_camera(points, targets, ones, TRUE_CAM * (2.2, 1, 1)) is None
    assert fit_crop_camera(points, targets, ones, TRUE_CAM * (0.45, 1, 1)) is None
    assert fit_crop_camera(points, targets, ones, TRUE_CAM * (1.9, 1, 1)) is not None
    # A broken net camera is not a reference.
    for bad in ([0.0, 0.0, 0.0], [-1.0, 0.0, 0.0], [np.nan, 0.0, 0.0]):
        assert fit_crop_camera(points, targets, ones, np.array(bad)) is None


@pytest.mark.parametrize("shape", [(33, 3), (17, 3)])
def test_returns_float32_of_three(shape) -> None:
    points = body_points(shape[0], seed=6)
    fitted = fit_crop_camera(points, crop_projection(points, TRUE_CAM), np.ones(shape[0]),
                             NET_CAM)
    assert fitted.dtype == np.float32 and fitted.shape == (3,)
