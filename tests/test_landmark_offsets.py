"""``studio bench landmarks``: the offset solve and the vertex search find a landmark that
was moved on purpose (views made from the body model itself, no MediaPipe), and bad
arguments exit 2."""
from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from studio.bench import landmark_offsets as lo
from studio.body.model import BodyModel
from studio.body.registry import find_body_model

NOSE, LEFT_EAR, RIGHT_EAR = 0, 7, 8


@pytest.fixture(scope="module")
def body() -> BodyModel:
    return BodyModel(find_body_model("mannequin"))


def _views(body: BodyModel, nose_offset: np.ndarray, ear_vertex: int, twin: int) -> list[dict]:
    """Views whose 'MediaPipe' nose is the body's moved by ``nose_offset`` (head frame)
    and whose ears are vertices ``ear_vertex`` (left) and ``twin`` (right)."""
    rng = np.random.default_rng(3)
    views = []
    for _ in range(8):
        pose = np.zeros(69)
        pose[14 * 3:15 * 3] = rng.uniform(-0.4, 0.4, 3)  # the head
        root = Rotation.from_euler("y", rng.uniform(-70, 70), degrees=True).as_matrix()
        out = lo._posed(body, root, pose, rng.normal(0, 0.5, 10))
        k = 300.0
        view = lo._record(out, k * out.keypoints("mediapipe33")[0].double().numpy()
                          @ lo.RENDER_AXES.T, k * out.vertices[0].double().numpy()
                          @ lo.RENDER_AXES.T, k, lo.RENDER_AXES)
        found = view["model"].copy()
        found[NOSE] += k * lo.RENDER_AXES @ view["rotations"][15] @ nose_offset
        found[LEFT_EAR], found[RIGHT_EAR] = view["vertices"][ear_vertex], view["vertices"][twin]
        view.update(mediapipe=found, visibility=np.ones(33))
        views.append(view)
    return views


def test_the_solve_and_the_search_find_a_moved_landmark(body) -> None:
    data = body.data
    rest = data.v_template
    ear = data.landmarks["left_ear"]
    near = np.flatnonzero((np.linalg.norm(rest - rest[ear], axis=1) > 0.02)
                          & (np.linalg.norm(rest - rest[ear], axis=1) < 0.04))
    target = int(near[0])
    twin = int(np.argmin(np.linalg.norm(rest - rest[target] * [-1, 1, 1], axis=1)))
    offset = np.array([0.01, -0.02, -0.03])
    rows = lo.solve_offsets(_views(body, offset, target, twin), data)
    nose = rows["nose"]
    assert nose["views"] == 8 and nose["before_px"] > 5 and nose["after_px"] < 0.01
    np.testing.assert_allclose(nose["offset_mm"], 1000 * offset, atol=0.1)
    best = rows["ear"]["best_vertex"]
    assert best["vertex"] == target and best["mm"] < 0.01 and best["current_mm"] > 10
    assert rows["eye"]["after_px"] < 0.01 and rows["eye"]["best_vertex"]["mm"] < 0.01


def test_bad_arguments_exit_2(capsys) -> None:
    from studio import cli

    assert cli.main(["bench", "landmarks", "--renders", "0"]) == 2
    assert "--renders must be at least 1" in capsys.readouterr().err
