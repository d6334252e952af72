"""The body model explorer on a synthetic body: live shape sliders, toggles, screenshots,
export, and its `studio body view` command."""
from __future__ import annotations

import argparse
import sys

import numpy as np
import pytest
import trimesh
from PIL import Image

from body_fixtures import make_stick_body
from studio.errors import ModelFileError


@pytest.fixture(scope="module")
def body():
    return make_stick_body()


@pytest.fixture
def window(qtbot, body):
    from studio.ui.body.window import BodyWindow

    win = BodyWindow(body)
    qtbot.addWidget(win)
    win.resize(1000, 700)
    win.show()
    qtbot.waitExposed(win)
    return win


def _mesh_points(win) -> np.ndarray:
    return np.array(win.view.actors["mesh"].mapper.dataset.points)


def _body_parser() -> argparse.ArgumentParser:
    from studio.commands import body

    parser = argparse.ArgumentParser(prog="studio")
    body.register(parser.add_subparsers(dest="command"))
    return parser


@pytest.mark.gui
def test_window_shows_body_and_model_info(window, body):
    assert _mesh_points(window).shape == (body.num_vertices, 3)
    assert body.name in window.model_label.text()
    assert f"{body.num_vertices:,}" in window.model_label.text()


@pytest.mark.gui
def test_beta_slider_updates_mesh_live(window):
    before = _mesh_points(window)
    window.controls.sliders[0].setValue(250)
    after = _mesh_points(window)
    assert np.abs(after - before).max() > 1e-2
    assert window.state.betas[0] == pytest.approx(2.5)
    window.controls.reset_shape()
    np.testing.assert_allclose(_mesh_points(window), before, atol=1e-5)


@pytest.mark.gui
def test_preset_poses_the_mesh(window):
    before = _mesh_points(window)
    names = [window.controls.preset_box.itemText(i)
             for i in range(window.controls.preset_box.count())]
    posed = next(n for n in names if n != "rest")
    window.controls.preset_box.setCurrentText(posed)
    assert np.abs(_mesh_points(window) - before).max() > 1e-2


@pytest.mark.gui
def test_joint_toggle(window):
    actors = window.view.actors
    assert not actors["joints"].visibility
    window.joints_action.trigger()
    assert actors["joints"].visibility and actors["bones"].visibility
    assert actors["mesh"].prop.opacity < 1.0
    window.joints_action.trigger()
    assert not actors["joints"].visibility
    assert actors["mesh"].prop.opacity == 1.0


@pytest.mark.gui
def test_screenshot_shows_the_3d_view(window, tmp_path):
    from PySide6.QtCore import QPoint

    from studio.ui.views.window_capture import save_window_png

    window.joints_action.trigger()
    out = save_window_png(window, tmp_path / "window.png")
    image = np.asarray(Image.open(out).convert("RGB"), np.float64)
    ratio = image.shape[1] / window.width()
    origin = window.view.mapTo(window, QPoint(0, 0))
    x0, y0 = int(origin.x() * ratio), int(origin.y() * ratio)
    x1, y1 = x0 + int(window.view.width() * ratio), y0 + int(window.view.height() * ratio)
    view = image[y0:y1, x0:x1]
    assert view.size > 0
    assert view.std() > 10.0  # a rendered body, not a uniform grey or black rectangle
    centre = view[view.shape[0] // 3: 2 * view.shape[0] // 3, view.shape[1] // 3: 2 * view.shape[1] // 3]
    assert centre.std() > 10.0


@pytest.mark.gui
def test_views_keep_the_body_in_frame(window):
    for action in (window.side_action, window.front_action, window.reset_camera_action):
        action.trigger()
        focal = np.asarray(window.view.plotter.camera.focal_point)
        points = _mesh_points(window)
        assert np.all(focal >= points.min(axis=0) - 1e-6)
        assert np.all(focal <= points.max(axis=0) + 1e-6)


@pytest.mark.gui
def test_resize_reframes_until_the_user_moves_the_camera(window, qtbot):
    camera = window.view.plotter.camera
    before = camera.position
    window.resize(700, 900)
    qtbot.waitUntil(lambda: camera.position != before)
    style = window.view.plotter.iren.interactor.GetInteractorStyle()
    style.InvokeEvent("StartInteractionEvent")
    moved = camera.position
    window.resize(1100, 650)
    qtbot.wait(50)
    assert camera.position == moved


@pytest.mark.gui
def test_body_view_command_screenshot_and_quit(qapp, body, tmp_path, monkeypatch):
    import studio.ui.app as app

    monkeypatch.setattr(app, "load_body_data", lambda spec: body)
    out = tmp_path / "shot.png"
    args = _body_parser().parse_args(["body", "view", "--screenshot", str(out), "--quit"])
    assert args.func(args) == 0
    assert Image.open(out).size[0] > 0


@pytest.mark.gui
def test_body_view_command_reports_missing_model(qapp, monkeypatch):
    import studio.ui.app as app

    def missing(spec):
        raise ModelFileError(f"model file for {spec!r} not found")

    monkeypatch.setattr(app, "load_body_data", missing)
    args = _body_parser().parse_args(["body", "view", "--model", "nope", "--screenshot", "x.png",
                                      "--quit"])
    with pytest.raises(ModelFileError) as err:
        args.func(args)
    assert err.value.exit_code == 3


@pytest.mark.gui
def test_interactive_viewer_shows_model_errors_in_a_message_box(qapp, monkeypatch):
    import studio.ui.app as app

    shown = []
    monkeypatch.setattr(app, "load_body_data", lambda spec: (_ for _ in ()).throw(
        ModelFileError("body model file not found")))
    monkeypatch.setattr(app.QMessageBox, "critical", lambda *a: shown.append(a[2]))
    assert app.run_body_viewer(model="nope") == 3
    assert shown == ["body model file not found"]


def test_missing_registry_is_a_model_file_error(monkeypatch):
    from studio.ui.app import load_body_data

    monkeypatch.setitem(sys.modules, "studio.body.registry", None)
    with pytest.raises(ModelFileError, match="registry"):
        load_body_data(None)


@pytest.mark.parametrize("suffix", [".obj", ".ply", ".glb"])
def test_export_mesh_round_trips(body, tmp_path, suffix):
    from studio.ui.body.mesh_export import export_mesh

    out = export_mesh(tmp_path / f"body{suffix}", body.v_template, body.faces, body.part_labels)
    loaded = trimesh.load(out, force="mesh", process=False)
    assert len(loaded.faces) == len(body.faces)
    assert [p.name for p in tmp_path.iterdir()] == [out.name]
