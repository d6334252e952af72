"""A minimal tool registered through the contract (:mod:`studio.ui.tools.contract`) in
the real studio window: a panel, a worker job and a 2D mark. ``BrightestPoint`` is the
example the README shows."""
from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtWidgets import QDockWidget, QLabel

from result_fixtures import astronaut_image
from studio.ui.tools.contract import Tool, ToolHost, ToolJob
from window_fixtures import studio_window

pytestmark = pytest.mark.gui
RESULT_TIMEOUT_MS = 120_000


def brightest(image: np.ndarray) -> np.ndarray:
    """The centre of the photo's brightest pixel, (x, y)."""
    y, x = np.unravel_index(np.argmax(image.sum(axis=2)), image.shape[:2])
    return np.array([x + 0.5, y + 0.5])


class BrightestPoint(Tool):
    """Marks the photo's brightest pixel, found on the worker thread."""

    name = "brightest"
    title = "Brightest point"

    def __init__(self, host: ToolHost) -> None:
        self.host = host
        self.label = QLabel("Open a photo.")

    def panel(self) -> QLabel:
        return self.label

    def person_shown(self, document) -> None:
        image = document.image
        self.host.run_job(self, ToolJob(run=lambda models: brightest(image),
                                        result_type=np.ndarray, label="brightest pixel"))

    def job_finished(self, job: ToolJob, xy: np.ndarray) -> None:
        self.host.image_view.set_marks(self.name, xy, colour=(255, 255, 0))
        self.label.setText(f"brightest at {xy[0]:.0f}, {xy[1]:.0f}")


class ModelUser(Tool):
    """Asks for the window's model by name, and for a result of the wrong type."""

    name = "model_user"

    def __init__(self, host: ToolHost) -> None:
        self.host = host
        self.answers: list[tuple[str, object]] = []

    def person_shown(self, document) -> None:
        name = self.host.model_name
        self.host.run_job(self, ToolJob(run=lambda models: models[name].name, models=(name,),
                                        result_type=str, label="model name"))
        self.host.run_job(self, ToolJob(run=lambda models: 42, result_type=str,
                                        label="wrong type"))

    def job_finished(self, job: ToolJob, result: object) -> None:
        self.answers.append(("finished", result))

    def job_failed(self, job: ToolJob, message: str) -> None:
        self.answers.append(("failed", message))


@pytest.fixture
def window(qtbot, tmp_path):
    from studio.ui.window.tool_list import TOOLS

    win = studio_window(qtbot, tmp_path, None, (*TOOLS, BrightestPoint, ModelUser))
    yield win
    win.close()


def test_a_minimal_tool_gets_a_dock_a_worker_job_and_a_2d_mark(qtbot, window):
    tool = window.tools.get(BrightestPoint)
    dock = window.findChild(QDockWidget, "brightest_dock")
    assert dock is not None and dock.widget() is tool.label is window.brightest_panel
    assert window.findChild(QDockWidget, "maps_dock") is not None  # the built-in tools stay

    image = astronaut_image()
    with qtbot.waitSignal(window.result_shown, timeout=RESULT_TIMEOUT_MS):
        window.open_image(image, "astronaut")
    qtbot.waitUntil(lambda: "brightest" in window.image_view.marks, timeout=RESULT_TIMEOUT_MS)
    xy = brightest(image)
    marked = window.image_view.marks["brightest"].getData()
    assert np.allclose(np.column_stack(marked), [xy])
    assert tool.label.text() == f"brightest at {xy[0]:.0f}, {xy[1]:.0f}"

    window.image_view.set_marks("brightest", None)
    assert "brightest" not in window.image_view.marks

    # marks with bones are a skeleton: a line per pair, gone with the marks
    window.image_view.set_marks("bones", [[0, 0], [10, 0], [10, 10]], bones=[(0, 1), (1, 2)])
    assert np.allclose(window.image_view.mark_bones["bones"].getData()[0], [0, 10, 10, 10])
    window.image_view.set_marks("bones", None)
    assert not window.image_view.marks.keys() & {"bones"} and not window.image_view.mark_bones


def test_tool_docks_share_one_tab_group_and_a_tool_can_bring_its_own_forward(qtbot, window):
    docks = window.tools.docks
    assert len(docks) >= 3 and docks[0].objectName() == "maps_dock"
    assert set(window.tabifiedDockWidgets(docks[0])) == set(docks[1:])
    assert not docks[0].visibleRegion().isEmpty()  # the first tool's tab is in front
    assert docks[-1].visibleRegion().isEmpty()
    window.show_panel(window.tools.get(BrightestPoint))
    qtbot.waitUntil(lambda: not docks[-1].visibleRegion().isEmpty())
    assert docks[0].visibleRegion().isEmpty()
    assert window.height() <= 1000  # five tools' docks stacked made the window taller


def test_jobs_get_their_models_by_name_and_a_wrong_result_type_fails(qtbot, window):
    tool = window.tools.get(ModelUser)
    with qtbot.waitSignal(window.result_shown, timeout=RESULT_TIMEOUT_MS):
        window.open_image(astronaut_image(), "astronaut")
    qtbot.waitUntil(lambda: len(tool.answers) == 2, timeout=RESULT_TIMEOUT_MS)
    assert tool.answers[0] == ("finished", window.model_name)
    assert tool.answers[1][0] == "failed" and "int" in tool.answers[1][1]
