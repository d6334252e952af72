"""The scene-pose tool in the studio window: a box dragged with the mouse brings new poses,
hovering highlights one, clicking one shows a body in 3D, exports write files."""
from __future__ import annotations

import json

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtWidgets import QDockWidget

from gui_events import send_mouse
from studio.pipeline.scenepose import save_scenepose
from test_scenepose import tiny_model
from window_fixtures import studio_window

pytestmark = pytest.mark.gui
TIMEOUT_MS = 120_000


def scene_image() -> np.ndarray:
    """A plain room: wall above, floor below, no person."""
    image = np.zeros((240, 320, 3), np.uint8)
    image[:150] = (180, 170, 150)
    image[150:] = (90, 70, 50)
    return image


@pytest.fixture
def window(qtbot, tmp_path):
    win = studio_window(qtbot, tmp_path)
    yield win
    win.close()


def _widget_pos(window, x: float, y: float) -> QPoint:
    """The image view's widget pixel showing photo pixel (x, y)."""
    iv = window.image_view
    return iv.graphics.mapFromScene(iv.view.mapViewToScene(QPointF(x, y)))


def _drag_across(qtbot, window, start_xy: tuple[float, float], end_x: float) -> None:
    """Drag with the left button from photo pixel ``start_xy`` across to ``end_x``."""
    viewport = window.image_view.graphics.viewport()
    start, end = _widget_pos(window, *start_xy), _widget_pos(window, end_x, start_xy[1])
    send_mouse(viewport, "press", start, Qt.MouseButton.LeftButton)
    for t in np.linspace(0, 1, 21)[1:]:
        p = QPoint(round(start.x() + t * (end.x() - start.x())), start.y())
        send_mouse(viewport, "move", p, Qt.MouseButton.LeftButton)
        qtbot.wait(15)  # pyqtgraph drops moves faster than its mouse rate limit
    send_mouse(viewport, "release", end, Qt.MouseButton.LeftButton)


def test_dragging_the_box_regenerates_poses_and_a_click_lifts_one_to_a_body(
        qtbot, window, tmp_path) -> None:
    from studio.ui.tools.scenepose.jobs import ModelSlot
    from studio.ui.tools.scenepose.tool import ScenePoseTool

    model = tiny_model()
    weights = tmp_path / "tiny.pt"
    save_scenepose(weights, model.net, model.templates, {})
    tool = window.tools.get(ScenePoseTool)
    assert window.findChild(QDockWidget, "scenepose_dock") is not None
    tool.slot = ModelSlot(weights)
    window.open_image(scene_image(), "room")
    tool.view.top_k.setValue(3)
    tool.place_box((130, 60, 190, 200))  # tall box
    qtbot.waitUntil(lambda: tool.result is not None, timeout=TIMEOUT_MS)
    first = tool.result
    assert first.box == (130, 60, 190, 200)
    assert tool.view.list.count() == 3 and len(tool.skeletons) == 3
    window.image_view.view.setRange(xRange=(0, 320), yRange=(0, 240), padding=0)
    qtbot.wait(50)

    _drag_across(qtbot, window, (160, 130), 220)  # the box's body, 60 px to the right
    qtbot.waitUntil(lambda: tool.result is not first and tool.result.box == tool.box(),
                    timeout=TIMEOUT_MS)
    moved = tool.result
    box_shift = moved.box[0] - first.box[0]
    assert box_shift > 20 and moved.box[1] == pytest.approx(first.box[1], abs=2)
    shift = moved.poses[0].keypoints[:, 0].mean() - first.poses[0].keypoints[:, 0].mean()
    assert shift == pytest.approx(box_shift, abs=8)  # the poses moved with the box
    for pose in moved.poses:  # every pose lies in the new box
        assert (pose.keypoints[:, 0] >= moved.box[0] - 1e-3).all()
        assert (pose.keypoints[:, 0] <= moved.box[2] + 1e-3).all()

    # a wide low box (a sofa's) re-ranks the templates
    tool.set_box((40, 150, 280, 210))
    qtbot.waitUntil(lambda: tool.result.box == (40, 150, 280, 210), timeout=TIMEOUT_MS)
    assert tool.result.poses[0].template != moved.poses[0].template
    assert tool.view.top_k.maximum() == model.net.config.templates  # all the model has

    # asking for one class: only its poses, the box kept
    combo = tool.view.pose_class
    assert [combo.itemData(i) for i in range(combo.count())] == ["", "lying", "standing"]
    wide = tool.result
    combo.setCurrentIndex(combo.findData("standing"))
    qtbot.waitUntil(lambda: tool.result is not wide, timeout=TIMEOUT_MS)
    assert tool.result.box == wide.box and tool.result.poses
    assert all(p.pose_class == "standing" for p in tool.result.poses)
    assert tool.view.list.item(0).text().split()[1] == "standing"
    standing = tool.result
    combo.setCurrentIndex(0)  # any pose again
    qtbot.waitUntil(lambda: tool.result is not standing, timeout=TIMEOUT_MS)
    assert [p.template for p in tool.result.poses] == [p.template for p in wide.poses]

    # hovering highlights, clicking lifts to a body in the 3D view
    tool.highlight(2)
    assert tool.skeletons[2].opts["pen"].widthF() > tool.skeletons[0].opts["pen"].widthF()
    item = tool.view.list.item(1)
    tool.view.list.itemClicked.emit(item)
    qtbot.waitUntil(lambda: tool.body is not None, timeout=TIMEOUT_MS)
    # no person in the photo: the body is the 3D view's, seen through the photo's camera
    assert window.mesh_view.scene is not None and window.mesh_view.camera is not None
    assert "backdrop" in window.mesh_view.actors
    assert window.mesh_view.looking_through  # the first body is seen over the photo
    assert window.mesh_view.can_undo_camera()
    assert tool.body.rank == 1 and tool.body.vertices.shape[1] == 3
    written = tool.write_poses(tmp_path / "poses.json")
    doc = json.loads(written[0].read_text())
    assert len(doc["poses"]) == 3 and doc["box"] == [40, 150, 280, 210]
    assert tool.write_body(tmp_path / "body.obj")[0].stat().st_size > 1000
    window.grab().save(str(tmp_path / "window.png"))

    window.open_image(scene_image(), "room again")  # a new photo clears the tool
    assert tool.roi is None and tool.result is None and tool.view.list.count() == 0


def test_the_dock_lists_the_models_classes_before_the_first_box(qtbot, window, tmp_path) -> None:
    """Showing the dock loads the model on the worker, so a class can be chosen first; the
    first box then asks for that class only."""
    from studio.ui.tools.scenepose.jobs import ModelSlot
    from studio.ui.tools.scenepose.tool import ScenePoseTool

    model = tiny_model()
    weights = tmp_path / "tiny.pt"
    save_scenepose(weights, model.net, model.templates, {})
    tool = window.tools.get(ScenePoseTool)
    qtbot.wait(50)
    assert not tool.asked_choices  # behind another tab at start: nothing loaded
    tool.slot = ModelSlot(weights)
    window.open_image(scene_image(), "room")
    dock = window.findChild(QDockWidget, "scenepose_dock")
    dock.show()
    dock.raise_()
    combo = tool.view.pose_class
    qtbot.waitUntil(lambda: combo.count() > 1, timeout=TIMEOUT_MS)
    assert tool.result is None and tool.roi is None  # no box yet
    assert [combo.itemData(i) for i in range(combo.count())] == ["", "lying", "standing"]
    assert tool.view.top_k.maximum() == len(model.templates.poses)
    combo.setCurrentIndex(combo.findData("lying"))
    assert tool.result is None  # no box: choosing a class asks for nothing
    tool.place_box((40, 150, 280, 210))
    qtbot.waitUntil(lambda: tool.result is not None, timeout=TIMEOUT_MS)
    assert tool.result.poses and all(p.pose_class == "lying" for p in tool.result.poses)
    dock.hide()
    dock.show()  # shown again: nothing asked twice
    assert tool.asked_choices


def test_a_point_asks_as_the_paper_does_and_follows_a_drag(qtbot, window, tmp_path) -> None:
    """Asked with a point the poses take the model's own sizes around it; dragging the
    point brings new poses, a click lifts one, the export says where they were asked, and
    placing a box takes the point's place."""
    from studio.ui.tools.scenepose.jobs import ModelSlot
    from studio.ui.tools.scenepose.tool import ScenePoseTool

    model = tiny_model()
    weights = tmp_path / "tiny.pt"
    save_scenepose(weights, model.net, model.templates, {})
    tool = window.tools.get(ScenePoseTool)
    tool.slot = ModelSlot(weights)
    window.open_image(scene_image(), "room")
    tool.view.top_k.setValue(3)
    tool.place_box((130, 60, 190, 200))
    tool.view.point_button.click()  # the point replaces the box, in the photo's middle
    assert tool.roi is None and tool.point() == (160, 144)
    qtbot.waitUntil(lambda: tool.result is not None and tool.result.point == (160, 144),
                    timeout=TIMEOUT_MS)
    first = tool.result
    assert first.box is None and len(first.poses) == 3 and tool.view.list.count() == 3
    assert "the point 160,144" in tool.view.status.text()
    window.image_view.view.setRange(xRange=(0, 320), yRange=(0, 240), padding=0)
    qtbot.wait(50)

    _drag_across(qtbot, window, (160, 144), 110)  # the point, 50 px to the left
    qtbot.waitUntil(lambda: tool.result is not first and tool.result.point == tool.point(),
                    timeout=TIMEOUT_MS)
    moved = tool.result
    assert moved.point[0] < 130 and moved.point[1] == pytest.approx(144, abs=2)
    shift = moved.poses[0].keypoints[:, 0].mean() - first.poses[0].keypoints[:, 0].mean()
    assert shift < -20  # the poses moved with the point

    tool.view.list.itemClicked.emit(tool.view.list.item(0))
    qtbot.waitUntil(lambda: tool.body is not None, timeout=TIMEOUT_MS)
    doc = json.loads(tool.write_poses(tmp_path / "poses.json")[0].read_text())
    assert doc["point"] == list(moved.point) and "box" not in doc

    tool.set_point((400, 100))  # off the photo: said, nothing asked
    qtbot.waitUntil(lambda: "outside the 320x240 image" in tool.view.status.text(),
                    timeout=TIMEOUT_MS)
    assert tool.result is moved
    tool.place_box((130, 60, 190, 200))  # a box takes the point's place
    assert tool.marker is None
    qtbot.waitUntil(lambda: tool.result.box == (130, 60, 190, 200), timeout=TIMEOUT_MS)
