"""The PointHMR tool in the studio window: all heat-maps over the crop, a vertex picked in
the 3D view shows its heat-map and colours its attention, a point in 2D lights up the
vertices peaking there, compare mode colours PointHMR's mesh by its distance to PyMAF's.
The net has random weights (saved like the shipped file): the links, not the answers,
are under test."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PySide6.QtWidgets import QDockWidget

from studio.body.model import BodyModel
from studio.body.registry import find_body_model
from studio.nets import pointhmr_builtin
from window_fixtures import studio_window

pytestmark = pytest.mark.gui
TIMEOUT_MS = 120_000


@pytest.fixture
def window(qtbot, tmp_path):
    win = studio_window(qtbot, tmp_path)
    yield win
    win.close()


def test_vertex_heatmaps_follow_the_3d_mesh(qtbot, window, tmp_path) -> None:
    from studio.ui.tools.pointhmr import tool as tool_module
    from studio.ui.tools.pointhmr.jobs import PointHMRSlot
    from studio.ui.tools.pointhmr.tool import PointHMRTool

    torch.manual_seed(0)
    body = BodyModel(find_body_model("mannequin"))
    weights = pointhmr_builtin.save(tmp_path / "p.pt", pointhmr_builtin.build(body).eval(),
                                    "mannequin", {})
    tool = window.tools.get(PointHMRTool)
    assert window.findChild(QDockWidget, "pointhmr_dock") is not None
    tool.slot = PointHMRSlot(weights)
    window.open_sample("mannequin")  # the window's model is PyMAF's: nothing runs
    qtbot.waitUntil(lambda: window.document.has_result, timeout=TIMEOUT_MS)
    qtbot.wait(200)
    assert tool.analysis is None
    tool.view.run_button.click()
    qtbot.waitUntil(lambda: tool.analysis is not None, timeout=TIMEOUT_MS)
    a = tool.analysis
    assert a.heatmaps.shape == (438, 32, 32) and a.attention.shape == (4, 438, 438)
    np.testing.assert_allclose(a.heatmaps.sum((1, 2)), 1.0, atol=1e-4)
    np.testing.assert_array_equal(tool.view.shown_map, a.heatmaps.max(0))

    # hover the 3D body: the nearest coarse vertex's heat-map and peak show in 2D
    mesh_view = window.mesh_view
    hit = ("", -1)
    w, h = mesh_view.width(), mesh_view.height()
    for fy in np.linspace(0.3, 0.7, 9):
        hit = mesh_view.hover_at(w / 2, h * fy)
        if hit[0] == "vertex":
            break
    assert hit[0] == "vertex", "no body under the 3D view's centre line"
    qtbot.waitUntil(lambda: tool.picked >= 0, timeout=5_000)
    picked = tool.picked
    np.testing.assert_array_equal(tool.view.shown_map, a.heatmaps[picked])
    np.testing.assert_array_equal(tool.view.peaks.data["x"], a.peaks[picked:picked + 1, 0])
    shown = np.asarray(window.document.current.vertices)
    nearest = np.argmin(((shown[a.coarse_index] - shown[hit[1]]) ** 2).sum(1))
    assert picked == nearest
    assert tool_module.ATTENTION_KEY in mesh_view._tool_meshes

    # each block's attention reaches only its k-hop neighbourhood, shrinking block by block
    reach = []
    for block in range(4):
        tool.view.block_box.setCurrentIndex(block)
        reach.append(int((a.attention[block, picked] > 0).sum()))
    assert reach == sorted(reach, reverse=True) and reach[-1] < reach[0]

    # a point in 2D lights up the vertices whose heat-maps peak there
    tool.view.clicked.emit(*a.peaks[picked])
    assert tool_module.PEAKING_KEY in mesh_view._tool_meshes
    assert "vertices peak at" in tool.view.caption.text()
    assert tool.view.shown_map[np.unravel_index(a.heatmaps[picked].argmax(), (32, 32))] > 0

    # compare mode: PyMAF runs on the same maps; PointHMR's mesh coloured by the distance
    tool.view.compare_box.setChecked(True)
    qtbot.waitUntil(lambda: tool.analysis is not None and tool.analysis.distances_mm
                    is not None, timeout=TIMEOUT_MS)
    assert tool_module.COMPARE_KEY in mesh_view._tool_meshes
    assert tool.analysis.distances_mm.shape == (7000,)
    assert "Compare:" in tool.view.caption.text()
