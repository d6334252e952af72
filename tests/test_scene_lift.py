"""Generated scene poses lifted to bodies: lying ones on a level ground, the rest from 2D."""
from __future__ import annotations

import numpy as np
import pytest

from studio.pipeline.scene_lift import (BONES, ground_points, lift_scene_pose, lifts_on_ground,
                                        rest_bone_lengths)

SIZE = (640, 480)
INTRINSICS = np.array([640.0, 320.0, 240.0])


def project(points: np.ndarray) -> np.ndarray:
    f, cx, cy = INTRINSICS
    return np.stack([f * points[:, 0] / points[:, 2] + cx,
                     f * points[:, 1] / points[:, 2] + cy], -1)


def lying_skeleton(height: float = 1.4, depth: float = 4.0) -> np.ndarray:
    """[16,3] camera-frame MPII joints of a person lying flat on the ground ``height``
    below a level camera, across the view and a little turned, with human bone lengths."""
    lengths = dict(zip(BONES, rest_bone_lengths()))
    # in the ground plane (x, z): a body along x, limbs straight out from the torso
    plan = np.zeros((16, 2))
    place = {6: (0.0, 0.0), 7: (-1.0, 0.0), 8: (-1.0, 0.0), 9: (-1.0, 0.0),
             2: (0.0, 1.0), 3: (0.0, -1.0), 1: (1.0, 0.0), 0: (1.0, 0.0), 4: (1.0, 0.0),
             5: (1.0, 0.0), 12: (0.0, 1.0), 13: (0.0, -1.0), 11: (0.0, 1.0), 10: (0.0, 1.0),
             14: (0.0, -1.0), 15: (0.0, -1.0)}
    for j in (6, 7, 8, 9, 2, 3, 1, 4, 0, 5, 12, 13, 11, 14, 10, 15):
        parent = [p for (i, p) in BONES if i == j]
        if parent:
            plan[j] = plan[parent[0]] + np.array(place[j]) * lengths[(j, parent[0])]
    turn = np.deg2rad(25)
    rot = np.array([[np.cos(turn), -np.sin(turn)], [np.sin(turn), np.cos(turn)]])
    plan = plan @ rot.T
    return np.column_stack([plan[:, 0], np.full(16, height), plan[:, 1] + depth])


def test_a_lying_pose_is_laid_back_on_the_ground_it_was_seen_on() -> None:
    truth = lying_skeleton()
    found = ground_points(project(truth), INTRINSICS)
    assert found is not None
    np.testing.assert_allclose(found, truth, atol=1e-6)  # human bones: the scale is exact
    missing = project(truth)
    missing[[9, 15]] = -1.0
    again = ground_points(missing, INTRINSICS)
    assert np.isnan(again[[9, 15]]).all()
    np.testing.assert_allclose(again[:9], truth[:9], atol=1e-6)


def test_joints_at_or_above_the_horizon_are_not_on_a_ground_below() -> None:
    pixels = project(lying_skeleton())
    pixels[9, 1] = INTRINSICS[2] - 5  # the head above the picture's middle row
    assert ground_points(pixels, INTRINSICS) is None
    assert ground_points(np.full((16, 2), -1.0), INTRINSICS) is None


@pytest.mark.parametrize("classes, grounded", [(("lying",), True), (("lying", "sitting"), True),
                                               (("sitting", "lying"), False),
                                               (("standing",), False), ((), False)])
def test_which_classes_lie_on_the_ground(classes: tuple[str, ...], grounded: bool) -> None:
    assert lifts_on_ground(classes) is grounded


def test_a_lying_body_rests_flat_where_the_pose_is_and_an_upright_one_comes_from_2d() -> None:
    truth = lying_skeleton()
    pixels = project(truth)
    lying = lift_scene_pose(pixels, SIZE, ("lying",))
    assert lying.frame == "camera" and lying.intrinsics.shape == (1, 3)
    joints = lying.keypoints[0]  # the body's own MPII joints
    assert np.ptp(joints[:, 1]) < 0.25  # flat: every joint near one level
    assert abs(np.median(joints[:, 1]) - truth[0, 1]) < 0.15  # on the ground it was seen on
    assert np.median(np.linalg.norm(project(joints) - pixels, axis=-1)) < 12
    upright = lift_scene_pose(pixels, SIZE, ("standing",))  # the same pixels through the 2D fit
    assert upright.frame == "camera"
    assert np.median(np.linalg.norm(project(upright.keypoints[0]) - pixels, axis=-1)) < 12
