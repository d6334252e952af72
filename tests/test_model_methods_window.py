"""The ``keypoint-fit`` model method in the studio window (pytest-qt under xvfb): chosen
from the Model menu, shown on a photo in both views and exported, and streamed live."""
from __future__ import annotations

import numpy as np
import pytest
import trimesh
from PIL import Image

from studio.pipeline.samples import astronaut, mannequin
from studio.pipeline.sources import VideoSource
from window_fixtures import studio_window

pytestmark = pytest.mark.gui
WAIT_MS = 120_000


@pytest.fixture
def window(qtbot, tmp_path):
    win = studio_window(qtbot, tmp_path, (1400, 860))
    yield win
    win.close()


def test_keypoint_fit_from_the_model_menu(qtbot, window, tmp_path):
    [action] = [a for a in window.model_group.actions() if a.text() == "keypoint-fit"]
    assert action.isEnabled()
    assert window.model_box.findData("keypoint-fit") >= 0
    action.trigger()
    assert window.model_name == "keypoint-fit"
    photo = tmp_path / "astronaut.png"
    Image.fromarray(astronaut()).save(photo)
    with qtbot.waitSignal(window.result_shown, timeout=WAIT_MS):
        window.open_file(photo)
    doc = window.document
    assert doc.result.model_name == "keypoint-fit" and doc.people_count == 1
    person = doc.current_person
    assert len(person.iterations) == 1 and person.mask_iou > 0.6
    assert "mask IoU" in window.info_label.text()
    vertices = doc.current.vertices
    assert np.array(window.image_view.mesh_points).shape == (len(vertices), 2)
    shown = window.mesh_view.actors["mesh"].mapper.dataset.points
    assert np.asarray(shown).shape == (len(vertices), 3)
    [path] = window.export(tmp_path / "fit.obj", all_iterations=False)
    assert len(trimesh.load(path, force="mesh", process=False).vertices) == len(vertices)
    assert window.settings.model == "keypoint-fit"  # loaded, so remembered


def test_keypoint_fit_streams_live(qtbot, window, tmp_path):
    import cv2

    from studio.ui.live.controller import LiveController

    path = tmp_path / "walk.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 15.0, (240, 320))
    base = mannequin(240, 320)
    for k in range(8):
        writer.write(cv2.cvtColor(np.roll(base, 3 * k, axis=1), cv2.COLOR_RGB2BGR))
    writer.release()
    window.set_model("keypoint-fit", rerun=False)
    live = LiveController.of(window)
    live.start(VideoSource(path, loop=True))
    for _ in range(3):
        with qtbot.waitSignal(window.result_shown, timeout=WAIT_MS):
            pass
    doc = window.document
    assert doc.result.model_name == "keypoint-fit"
    assert doc.current_person.fill is not None
    assert np.array(window.image_view.mesh_points).shape == (len(doc.current.vertices), 2)
    live.stop()
