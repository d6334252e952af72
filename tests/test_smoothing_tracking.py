"""One-Euro smoothing (noise, steps, speed-dependent lag, rotations across the axis-angle
seam) and track ids over made-up boxes that cross, appear and disappear."""
from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from studio.pipeline.crops import ImageCamera
from studio.pipeline.smoothing import (OneEuroFilter, PoseSmoother, SmoothingSettings,
                                       smoothing_factor)
from studio.pipeline.tracking import (TrackedPerson, Tracker, box_iou,
                                      fixed_camera_translation)

RATE = 30.0
TIMES = np.arange(300) / RATE


def filtered(signal: np.ndarray, **params: float) -> np.ndarray:
    f = OneEuroFilter(**params)
    return np.array([f(x, t) for x, t in zip(signal, TIMES)])


def test_smoothing_factor_matches_the_low_pass_formula() -> None:
    # tau = 1 / (2 pi fc); alpha = 1 / (1 + tau / dt)
    assert smoothing_factor(1.0, 1 / 30) == pytest.approx(1 / (1 + 30 / (2 * np.pi)))
    assert smoothing_factor(1e9, 1 / 30) == pytest.approx(1.0)


def test_noisy_constant_is_steadied() -> None:
    noisy = 1.0 + np.random.default_rng(0).normal(0, 0.1, (len(TIMES), 3))
    out = filtered(noisy, min_cutoff=1.0, beta=0.0)
    settled = slice(60, None)
    assert out[settled].var(axis=0).max() < noisy[settled].var(axis=0).min() / 5
    assert np.abs(out[settled].mean(axis=0) - 1.0).max() < 0.03


def test_step_is_followed_with_bounded_lag() -> None:
    step = (TIMES >= 1.0).astype(float)
    out = filtered(step, min_cutoff=1.0, beta=0.0)
    assert out[TIMES < 1.0] == pytest.approx(0.0)
    reached = TIMES[np.argmax(out >= 0.9)] - 1.0
    assert 0.1 < reached < 0.5  # a 1 Hz low-pass: about 0.37 s to 90%
    assert out[-1] == pytest.approx(1.0, abs=1e-3)


def test_beta_cuts_the_lag_of_fast_motion() -> None:
    ramp = 2.0 * TIMES  # 2 units per second
    lag_plain = np.abs(ramp - filtered(ramp, min_cutoff=0.5, beta=0.0))[60:].mean()
    lag_fast = np.abs(ramp - filtered(ramp, min_cutoff=0.5, beta=2.0))[60:].mean()
    assert lag_fast < lag_plain / 3


def test_filter_reset_and_repeated_time() -> None:
    f = OneEuroFilter()
    f(np.zeros(2), 0.0)
    assert f(np.ones(2), 0.0) == pytest.approx(np.zeros(2))  # no time passed: no change
    f.reset()
    assert f(np.ones(2), 1.0) == pytest.approx(np.ones(2))


def person(track_id: int = 0, pose: np.ndarray | None = None, box=(0, 0, 10, 20),
           seed: int = 0) -> TrackedPerson:
    rng = np.random.default_rng(seed)
    return TrackedPerson(
        track_id=track_id, box=np.asarray(box, np.float32),
        pose=(rng.normal(0, 0.3, 72) if pose is None else pose).astype(np.float32),
        betas=rng.normal(0, 1, 10).astype(np.float32),
        cam=np.array([0.9, 0.1, 0.2], np.float32),
        translation=np.array([0.1, 0.2, 3.0], np.float32),
        keypoints=rng.uniform(0, 100, (33, 2)).astype(np.float32),
        landmarks=rng.uniform(0, 100, (33, 2)).astype(np.float32),
        visibility=rng.uniform(0, 1, 33).astype(np.float32))


def test_smoother_is_identity_when_off() -> None:
    smoother = PoseSmoother()
    assert not smoother.settings.enabled  # off by default
    p = person()
    assert smoother(p, 0.0) is p and smoother(person(seed=1), 0.1).pose == pytest.approx(
        person(seed=1).pose)


def test_smoother_steadies_rotations_across_the_axis_angle_seam() -> None:
    """A joint turned about pi (axis-angle flips between v and -v there) with jitter: the
    smoothed rotation stays near the truth instead of averaging v and -v towards zero."""
    rng = np.random.default_rng(1)
    truth = Rotation.from_rotvec([0.0, 0.0, np.pi])
    smoother = PoseSmoother(SmoothingSettings(enabled=True, min_cutoff=1.0, beta=0.0))
    raw_error, smooth_error = [], []
    for t in TIMES[:120]:
        noisy = Rotation.from_rotvec(rng.normal(0, 0.08, 3)) * truth
        pose = np.zeros((24, 3))
        pose[5] = noisy.as_rotvec()
        if rng.random() < 0.5:  # the same rotation, written the other way round the seam
            angle = np.linalg.norm(pose[5])
            pose[5] *= -(2 * np.pi - angle) / angle
        out = smoother(person(pose=pose.reshape(72)), t)
        got = Rotation.from_rotvec(out.pose.reshape(24, 3)[5].astype(np.float64))
        raw_error.append((noisy * truth.inv()).magnitude())
        smooth_error.append((got * truth.inv()).magnitude())
        assert out.pose.reshape(24, 3)[0] == pytest.approx(np.zeros(3), abs=1e-5)
    assert np.mean(smooth_error[30:]) < np.mean(raw_error[30:]) / 2
    assert max(smooth_error[30:]) < 0.15


def test_smoother_keeps_tracks_apart_and_forgets() -> None:
    smoother = PoseSmoother(SmoothingSettings(enabled=True))
    a, b = person(0, seed=0), person(1, seed=1)
    assert smoother(a, 0.0).betas == pytest.approx(a.betas)
    assert smoother(b, 0.0).betas == pytest.approx(b.betas)  # its own first sample
    moved = person(0, seed=2)
    assert not np.allclose(smoother(moved, 0.1).betas, moved.betas)  # smoothed with a
    smoother.forget(0)
    assert smoother(moved, 0.2).betas == pytest.approx(moved.betas)  # a fresh start


def test_box_iou() -> None:
    iou = box_iou([[0, 0, 10, 10]], [[0, 0, 10, 10], [5, 0, 15, 10], [20, 20, 30, 30]])
    assert iou[0] == pytest.approx([1.0, 50 / 150, 0.0])
    assert box_iou(np.zeros((0, 4)), [[0, 0, 1, 1]]).shape == (0, 1)


def walker(x: float) -> list[float]:
    return [x, 0.0, x + 40.0, 100.0]


def test_people_crossing_keep_their_ids() -> None:
    """Two people walk past each other, 8 px a frame; the detector lists them by size
    (here alternately), so order says nothing about who is who."""
    tracker = Tracker()
    left_id = right_id = None
    for k in range(30):
        a, b = walker(0.0 + 8 * k), walker(232.0 - 8 * k)  # they overlap fully at k=14.5
        boxes = [a, b] if k % 2 else [b, a]
        ids = tracker.update(boxes)
        got_a, got_b = (ids[0], ids[1]) if k % 2 else (ids[1], ids[0])
        if k == 0:
            left_id, right_id = got_a, got_b
        assert (got_a, got_b) == (left_id, right_id), f"swapped at frame {k}"
    assert {left_id, right_id} == {0, 1}


def test_new_people_get_new_ids_and_lost_ones_retire() -> None:
    tracker = Tracker(max_missed=3)
    assert tracker.update([walker(0)]) == [0]
    assert tracker.update([walker(2), walker(300)]) == [0, 1]  # someone walks in
    for _ in range(3):  # person 1 unseen for 3 frames: still kept
        assert tracker.update([walker(2)]) == [0]
        assert tracker.retired == []
    assert tracker.update([walker(2), walker(300)]) == [0, 1]  # back in time, same id
    for _ in range(3):
        tracker.update([walker(2)])
    tracker.update([walker(2)])  # the 4th missed frame retires person 1
    assert tracker.retired == [1]
    assert [t.id for t in tracker.tracks] == [0]
    assert tracker.update([walker(2), walker(300)]) == [0, 2]  # ids are never reused
    assert tracker.update([]) == [] and [t.missed for t in tracker.tracks] == [1, 1]


def test_fixed_camera_translation_keeps_image_place_and_size() -> None:
    camera = ImageCamera(focal=5000.0, centre=(400.0, 150.0), translation=(0.1, -0.2, 40.0))
    size, focal = (640, 480), 800.0
    t = fixed_camera_translation(camera, size, focal)
    point = np.array([0.3, 0.5, 0.0])  # a body point, with the root at the origin
    crop_view = camera.project(point)
    fixed_view = focal * (point + t)[:2] / (point + t)[2] + np.array(size) / 2
    assert fixed_view == pytest.approx(crop_view, abs=0.5)  # weak perspective: nearly
    assert t[2] == pytest.approx(40.0 * focal / 5000.0)
