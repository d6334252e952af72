"""The studio window as a new user first meets it (issue 24), driven for real: a model
that failed to load is not remembered and a remembered one that is gone or broken gives
way to the default; recent files drop what cannot be opened; a screenshot that cannot be
written ends a scripted run with one line and exit 2 (and is an error box from the File
menu); the first sight (the 3D view's share, every iteration in frame, no photo over the
head, the colour bar beside the body, the timings line, sampled points, people numbered
from 0, out-of-range --person/--iteration refused); the Live menu's motion exports."""
from __future__ import annotations

import threading

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QSettings, QTimer
from PySide6.QtWidgets import QPushButton

from result_fixtures import astronaut_image
from studio import cli
from studio.errors import StudioError
from studio.pipeline.people import shared_finder
from test_capture_export import RATE, check_bvh, check_glb, check_npz, check_obj_folder
from test_capture_export import body, session  # noqa: F401 (fixtures)

pytestmark = pytest.mark.gui
RESULT_TIMEOUT_MS = 120_000
DEFAULT = "builtin-pymaf-proxy"


@pytest.fixture
def settings(tmp_path):
    from studio.ui.window.settings import StudioSettings

    return StudioSettings(QSettings(str(tmp_path / "studio.ini"), QSettings.Format.IniFormat))


@pytest.fixture
def user_settings(qapp, tmp_path, monkeypatch):
    """The settings a plain ``studio gui`` reads, kept under ``tmp_path`` (``qapp``:
    pytest-qt's application, made before a run would make a plain one)."""
    import studio.ui.app as app
    from studio.ui.window.settings import StudioSettings

    QSettings.setPath(QSettings.Format.NativeFormat, QSettings.Scope.UserScope,
                      str(tmp_path / "config"))
    monkeypatch.setattr(app, "FIRST_RENDER_DELAY_MS", 50)
    return StudioSettings()


@pytest.fixture
def photo(tmp_path):
    path = tmp_path / "astronaut.png"
    Image.fromarray(astronaut_image()).save(path)
    return path


@pytest.fixture
def corrupt(tmp_path):
    path = tmp_path / "corrupt.pt"
    path.write_bytes(b"PK\x03\x04 a zip that stops here")
    return path


def _window(qtbot, settings, model=None, size=(1440, 900)):
    from studio.ui.window.studio_window import StudioWindow
    from studio.ui.worker.worker import PipelineWorker

    win = StudioWindow(settings=settings, model=model,
                       worker=PipelineWorker(finder=shared_finder()))
    qtbot.addWidget(win)
    win.resize(*size)
    win.show()
    qtbot.waitExposed(win)
    return win


def _open(qtbot, win, path):
    with qtbot.waitSignal(win.result_shown, timeout=RESULT_TIMEOUT_MS):
        win.open_file(path)


# ------------------------------------------------------------------ item 3: remembered

def test_a_model_that_failed_is_not_remembered_and_a_broken_one_falls_back(
        user_settings, corrupt, capsys):
    """The issue's steps: ``studio gui --model corrupt.pt`` exits 3; a later plain
    ``studio gui`` runs the default. And a model an older studio remembered that is now
    broken gives way to the default with a notice, not an exit."""
    import studio.ui.app as app

    user_settings.model = DEFAULT
    with pytest.raises(StudioError) as failed:
        app.run_studio(sample="mannequin", model=str(corrupt),
                       script=app.Script(quit_after=True))
    assert failed.value.exit_code == 3 and "not a model checkpoint" in str(failed.value)
    user_settings.sync()
    assert user_settings.model == DEFAULT  # the failed one did not replace it
    user_settings.model = str(corrupt)  # as remembered before this fix
    user_settings.sync()
    windows = []
    assert app.run_studio(sample="mannequin", script=app.Script(quit_after=True),
                          window_hook=windows.append) == 0
    win = windows[0]
    assert win.model_name == DEFAULT and win.document.has_result
    assert str(corrupt) in win.last_notice and f"using {DEFAULT}" in win.last_notice
    user_settings.sync()
    assert user_settings.model == DEFAULT  # loaded, so remembered


def test_a_remembered_model_file_that_is_gone_gives_way_to_the_default(qtbot, settings,
                                                                        tmp_path):
    gone = tmp_path / "gone.pt"
    settings.model = str(gone)
    win = _window(qtbot, settings)
    assert win.model_name == DEFAULT
    assert str(gone) in win.last_notice and "no longer there" in win.last_notice
    assert str(gone) in win.statusBar().currentMessage()
    assert settings.model is None
    win.set_model(str(tmp_path / "other.pt"), rerun=False)  # chosen, never loaded
    assert settings.model is None
    win.close()


def test_recent_files_drop_what_cannot_be_opened_and_clear(qtbot, settings, photo, tmp_path):
    from studio.ui.window.remembered import fill_recent_menu

    win = _window(qtbot, settings)
    _open(qtbot, win, photo)
    gone, broken = tmp_path / "gone.png", tmp_path / "broken.png"
    broken.write_bytes(b"not a picture")
    settings.add_recent(gone)
    with qtbot.waitSignal(win.request_failed, timeout=RESULT_TIMEOUT_MS):
        win.open_file(broken)
    assert settings.recent_files == [str(gone.resolve()), str(photo.resolve())]  # not broken
    fill_recent_menu(win)  # what opening the menu does: the gone file is dropped
    texts = [a.text() for a in win.recent_menu.actions()]
    assert texts[0] == str(photo.resolve()) and texts[-1] == "&Clear recent"
    assert settings.recent_files == [str(photo.resolve())]
    win.recent_menu.actions()[-1].trigger()
    assert settings.recent_files == []
    fill_recent_menu(win)
    assert [a.text() for a in win.recent_menu.actions()] == ["(none)"]
    win.close()


# ------------------------------------------------------------------ item 2: screenshots

def _unwritable(monkeypatch):
    """Every atomic write fails as a full or read-only disk would, after the checks."""
    import studio.body.storage as storage

    def fail(path, payload):
        raise OSError(28, "No space left on device", str(path))
    monkeypatch.setattr(storage, "atomic_write_bytes", fail)


@pytest.mark.parametrize("argv", [["gui", "--sample", "mannequin"], ["body", "view"]])
def test_a_screenshot_that_cannot_be_written_ends_with_one_line(user_settings, monkeypatch,
                                                                tmp_path, capsys, argv):
    out = tmp_path / "shots" / "x.png"  # passes the check before the window opens
    _unwritable(monkeypatch)
    assert cli.main([*argv, "--screenshot", str(out), "--quit"]) == 2  # the loop quit
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"studio: error: {out}: cannot write the file (No space left on device)"]
    assert not out.exists()


def test_file_menu_writes_that_fail_show_an_error_box(qtbot, settings, photo, tmp_path,
                                                      monkeypatch):
    import studio.ui.window.exporting as exporting

    win = _window(qtbot, settings)
    _open(qtbot, win, photo)
    target = {"path": ""}
    monkeypatch.setattr(exporting.QFileDialog, "getSaveFileName",
                        lambda *a, **k: (target["path"], ""))
    _unwritable(monkeypatch)
    for name, action in (("shot.png", win.screenshot_action),
                         ("mesh.obj", win.export_current_action),
                         ("overlay.png", win.export_overlay_action)):
        win.last_error = ""
        target["path"] = str(tmp_path / name)
        action.trigger()
        assert "cannot write" in win.last_error and "No space left" in win.last_error, name
        assert not (tmp_path / name).exists()
    monkeypatch.setattr(win.image_view, "export_overlay_rgb",
                        lambda: (_ for _ in ()).throw(ValueError("no image to export")))
    win.export_overlay_action.trigger()
    assert win.last_error == "unexpected error: ValueError: no image to export"
    win.close()


# ------------------------------------------------------------------ item 7: first sight

def _ndc(view, points: np.ndarray) -> np.ndarray:
    """Display-frame points -> the 3D view's normalised coordinates ([-1, 1] in view)."""
    renderer = view.plotter.renderer
    matrix = renderer.GetActiveCamera().GetCompositeProjectionTransformMatrix(
        renderer.GetTiledAspectRatio(), -1, 1)
    m = np.array([[matrix.GetElement(i, j) for j in range(4)] for i in range(4)])
    h = np.column_stack([points, np.ones(len(points))]) @ m.T
    return h[:, :2] / h[:, 3:]


def test_the_window_at_first_sight(qtbot, settings, photo):
    from studio.ui.views.mesh_camera import BAR_SPACE_PX
    from studio.ui.views.mesh_view import DISPLACEMENT_TITLE, DISPLAY_AXES

    win = _window(qtbot, settings)
    _open(qtbot, win, photo)
    view, doc = win.mesh_view, win.document
    # a fair share for the 3D view: about as wide as the 2D view
    assert 0.8 < view.width() / win.image_view.width() < 1.25 and view.width() > 450
    # sampled points start hidden (the toggle stays); people are numbered from 0
    assert not win.image_view.overlay_visible("samples")
    assert not win.overlay_actions["samples"].isChecked()
    win.overlay_actions["samples"].trigger()
    assert win.image_view.samples.isVisible()
    assert win.people_box.itemText(0).startswith("0: ")
    assert win.image_view._box_items[0][1].textItem.toPlainText() == "0"  # noqa: SLF001
    # the photo and the frustum only when looking through the camera
    assert not view.actors["backdrop"].visibility and not view.actors["frustum"].visibility
    # every iteration's whole body in view while scrubbing (T-posed first iteration too)
    translation = doc.current_person.final.image_camera.translation
    for k in range(doc.iteration_count):
        win.scrubber.set_value(k)
        placed = (doc.current_person.steps()[k].vertices + translation) * DISPLAY_AXES
        assert np.abs(_ndc(view, placed)).max() < 1.0, k
    # the movement colours' bar sits at the right edge, the body left of it
    win.scrubber.movement_box.setChecked(True)
    assert view.displacement_shown
    bar = view.plotter.scalar_bars[DISPLACEMENT_TITLE]
    left = bar.GetPosition()[0] * view.width()
    assert view.width() - 90 < left < view.width() - 50
    for it in doc.current_person.iterations:
        x = _ndc(view, (it.vertices + translation) * DISPLAY_AXES)[:, 0]
        assert ((x + 1) / 2 * view.width()).max() < view.width() - BAR_SPACE_PX + 2
    # the timings: one line, elided where it does not fit, whole in its tooltip
    label = win.timings_label
    assert label.full_text.startswith("ms: detect") and label.toolTip() == label.full_text
    assert label.fontMetrics().horizontalAdvance(label.text()) <= label.width()
    info = win.info_label  # every wrapped line of the description has room
    for size in ((1440, 900), (1100, 700)):  # and in a smaller window
        win.resize(*size)
        qtbot.waitUntil(lambda: info.height() >= info.heightForWidth(info.width()))
        assert "mask IoU" in info.text() and info.heightForWidth(info.width()) > 40
        assert label.fontMetrics().horizontalAdvance(label.text()) <= label.width()
        qtbot.wait(100)
        win.grab().save(f"/tmp/window_first_sight_{size[0]}.png")  # to look at
    win.mesh_view.look_through_camera()
    assert view.actors["backdrop"].visibility and view.actors["frustum"].visibility
    win.close()


@pytest.mark.parametrize("flag, message", [
    ("--iteration", "--iteration 9: the result has iterations 0 to 4"),  # 4: refined
    ("--person", "--person 9: 1 person was found (numbered from 0)")])
def test_a_person_or_iteration_that_is_not_there_is_refused(user_settings, tmp_path, capsys,
                                                            flag, message):
    out = tmp_path / "x.png"
    code = cli.main(["gui", "--sample", "astronaut", flag, "9", "--screenshot", str(out),
                     "--quit"])
    assert code == 2 and not out.exists()
    assert capsys.readouterr().err.strip().splitlines() == [f"studio: error: {message}"]


def test_interactive_runs_show_the_nearest_and_say_so(user_settings):
    import studio.ui.app as app
    from PySide6.QtWidgets import QApplication

    windows = []

    def hook(window) -> None:  # the user closes the window soon after the result
        windows.append(window)
        window.result_shown.connect(lambda: QTimer.singleShot(
            200, lambda: (window.close(), QApplication.quit())))

    assert app.run_studio(sample="astronaut", state=app.StudioState(person=3, iteration=7),
                          window_hook=hook) == 0
    win = windows[0]
    assert "--person 3: 1 person was found" in win.last_notice
    assert win.document.person == 0 and win.document.iteration == 4  # the refined step


# ------------------------------------------------------------------ item 10: Live exports

def _exporter(qtbot, settings):
    from studio.ui.live.controller import LiveController

    win = _window(qtbot, settings, size=(1200, 800))
    return win, LiveController.of(win).exporter


def _export_through_the_menu(qtbot, win, exporter, monkeypatch, session, out, chosen):
    import studio.ui.live.recording_export as recording_export

    monkeypatch.setattr(recording_export.QFileDialog, "getExistingDirectory",
                        lambda *a, **k: str(session))
    monkeypatch.setattr(recording_export.QFileDialog, "getSaveFileName",
                        lambda *a, **k: (str(out), chosen))
    exporter.export_session_action.trigger()
    assert exporter.running is not None and exporter.progress.isVisible()
    qtbot.waitUntil(lambda: exporter.running is None, timeout=60_000)


def test_the_live_menu_exports_a_session_in_every_format(qtbot, settings, session, body,
                                                        tmp_path, monkeypatch):
    from studio.ui.live.recording_export import FILTERS

    from studio.ui.live.controller import LiveController

    win, exporter = _exporter(qtbot, settings)
    menu = LiveController.of(win).live_menu.actions()
    assert exporter.export_recording_action in menu and exporter.export_session_action in menu
    filters = {fmt: name for name, fmt in FILTERS.items()}
    for name, fmt in (("take", ".bvh"), ("take.glb", ".glb"), ("take.npz", ".npz"),
                      ("frames", "obj")):
        _export_through_the_menu(qtbot, win, exporter, monkeypatch, session,
                                 tmp_path / name, filters[fmt])
        assert exporter.last_export["frames"] == 11, fmt
        assert f"11 frames at {RATE:.1f} fps" in win.statusBar().currentMessage()
    check_bvh(tmp_path / "take.bvh", 11, RATE)  # the suffix came from the chosen filter
    check_glb(tmp_path / "take.glb", 11, RATE, body, camera=True)
    check_npz(tmp_path / "take.npz", 11, RATE)
    check_obj_folder(tmp_path / "frames", 11, body)
    # Export recording: the window's last recording, once there is one
    assert not exporter.export_recording_action.isEnabled()
    exporter.recorded(session)
    monkeypatch.setattr("studio.ui.live.recording_export.QFileDialog.getSaveFileName",
                        lambda *a, **k: (str(tmp_path / "again.bvh"), ""))
    exporter.export_recording_action.trigger()
    qtbot.waitUntil(lambda: exporter.running is None, timeout=60_000)
    check_bvh(tmp_path / "again.bvh", 11, RATE)
    win.close()


def test_a_live_export_can_be_cancelled_and_the_window_stays_live(qtbot, settings, session,
                                                                 tmp_path, monkeypatch):
    import studio.ui.live.recording_export as recording_export

    win, exporter = _exporter(qtbot, settings)
    gate = threading.Event()
    real = recording_export.export_session

    def held(source, out, progress=None, **kw):  # each frame waits for the test
        def report(done: int, total: int) -> None:
            gate.wait(30)
            progress(done, total)
        return real(source, out, progress=report, **kw)

    monkeypatch.setattr(recording_export, "export_session", held)
    ticks = []
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(1))
    timer.start(10)
    thread = exporter.start(session, f"{tmp_path / 'frames'}/")
    qtbot.wait(200)  # the export waits on its thread; the event loop goes on
    assert thread.isRunning() and len(ticks) > 5
    exporter.progress.findChild(QPushButton).click()  # the dialog's Cancel
    gate.set()
    qtbot.waitUntil(lambda: exporter.running is None, timeout=60_000)
    timer.stop()
    assert not (tmp_path / "frames").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".studio-part")]
    assert "cancelled" in win.statusBar().currentMessage()
    win.last_error = ""
    assert exporter.start(session, str(tmp_path / "take.txt")) is None  # checked first
    assert "unsupported type" in win.last_error
    win.close()
