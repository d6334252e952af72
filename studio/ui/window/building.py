"""Building the studio window's own actions, menus, toolbars, status bar and docks (the
window calls these once with itself, ``win``; tools add theirs through
:mod:`studio.ui.window.toolset`)."""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import (QComboBox, QDockWidget, QFormLayout, QLabel, QMainWindow,
                               QProgressBar, QToolButton, QWidget)

from studio.nets.model_registry import available_models
from studio.pipeline.samples import SAMPLES
from studio.ui.views.widgets import ElidedLabel, WrappingLabel, make_action, narrow
from studio.ui.window.remembered import fill_recent_menu


OVERLAYS = (("boxes", "Person &boxes", "B"), ("keypoints", "&Keypoints", "K"),
            ("mesh", "Projected &mesh", "M"), ("samples", "&Sampled points", "P"))
# Toolbar labels, shorter than the menu texts so every button fits.
SHORT_LABELS = {"Person &boxes": "Boxes", "&Keypoints": "Keypoints", "Projected &mesh": "Mesh",
                "&Sampled points": "Samples", "&Filled mesh": "Filled",
                "&Joints and bones": "Skeleton", "&Photo backdrop": "Photo",
                "&Look through the image camera": "Camera view", "&Front view": "Front",
                "&Undo view change": "Undo view",
                "Export &current iteration\N{HORIZONTAL ELLIPSIS}": "Export"}
ELLIPSIS = "\N{HORIZONTAL ELLIPSIS}"


def add_dock(win: QMainWindow, title: str, name: str, widget: QWidget) -> QDockWidget:
    """``widget`` in a dock on the right, named ``name`` (its saved state's key)."""
    dock = QDockWidget(title, win)
    dock.setObjectName(name)
    dock.setWidget(widget)
    win.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
    return dock


def build_result_dock(win: QMainWindow) -> QDockWidget:
    """The person chooser and the result's description."""
    win.people_box = QComboBox()
    win.people_box.setToolTip("The person shown (largest first); click a box in the "
                              "photo to choose too")
    win.people_box.currentIndexChanged.connect(win.select_person)
    narrow(win.people_box)
    win.info_label = WrappingLabel("Open a photo to start.")
    win.info_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    win.timings_label = ElidedLabel()  # one line, the whole of it in its tooltip
    font = win.timings_label.font()
    font.setPointSizeF(font.pointSizeF() * 0.85)
    win.timings_label.setFont(font)
    info = QWidget()
    form = QFormLayout(info)
    form.addRow("Person", win.people_box)
    form.addRow(win.info_label)
    form.addRow(win.timings_label)
    return add_dock(win, "Result", "result_dock", info)


def build_status_bar(win: QMainWindow) -> None:
    """Progress and Cancel (shown while a photo is processed) and the model's name."""
    win.progress_bar = QProgressBar()
    win.progress_bar.setMaximumWidth(220)
    win.progress_bar.setRange(0, 100)
    win.cancel_button = QToolButton()
    win.cancel_button.setText("Cancel")
    win.cancel_button.clicked.connect(win.cancel)
    win.model_label = QLabel()
    for widget in (win.progress_bar, win.cancel_button):
        win.statusBar().addPermanentWidget(widget)
        widget.hide()
    win.statusBar().addPermanentWidget(win.model_label)


def _action(win: QMainWindow, text: str, slot, shortcut: str | QKeySequence | None = None,
            checkable: bool = False, checked: bool = False, tip: str = "") -> QAction:
    return make_action(win, text, slot, shortcut, checkable, checked, tip,
                       icon_text=SHORT_LABELS.get(text))


def build_actions(win: QMainWindow) -> None:
    """The window's own actions, kept as its attributes (``win.open_action``, ...)."""
    view, image = win.mesh_view, win.image_view
    win.open_action = _action(win, f"&Open image{ELLIPSIS}", win.open_dialog,
                              QKeySequence.StandardKey.Open, tip="Open a photo")
    win.export_current_action = _action(
        win, f"Export &current iteration{ELLIPSIS}", lambda: win.export_dialog(False),
        "Ctrl+E", tip="OBJ, PLY, GLB (with the image camera) or SMPL parameters (npz)")
    win.export_all_action = _action(
        win, f"Export &all iterations{ELLIPSIS}", lambda: win.export_dialog(True),
        "Ctrl+Shift+E", tip="One file per iteration")
    win.export_overlay_action = _action(
        win, f"Export &overlay image{ELLIPSIS}", win.export_overlay_dialog,
        tip="The photo with the visible overlays, at full resolution")
    win.screenshot_action = _action(win, f"Save &screenshot{ELLIPSIS}", win.screenshot_dialog,
                                    "Ctrl+Shift+S")
    win.settings_action = _action(win, f"Se&ttings{ELLIPSIS}", win.settings_dialog, "Ctrl+,")
    win.quit_action = _action(win, "&Quit", win.close, QKeySequence.StandardKey.Quit)
    win.overlay_actions = {
        name: _action(win, text, lambda on, n=name: image.set_overlay_visible(n, on), key,
                      checkable=True, checked=image.overlay_visible(name))
        for name, text, key in OVERLAYS}
    win.filled_action = _action(win, "&Filled mesh", win.set_mesh_style, "W", checkable=True,
                                checked=True, tip="Filled, see-through mesh (off: wireframe)")
    win.skeleton_action = _action(win, "&Joints and bones", view.set_skeleton_visible, "J",
                                  checkable=True, checked=False)
    win.ground_action = _action(win, "&Ground grid", view.set_ground_visible, "G",
                                checkable=True, checked=True)
    win.backdrop_action = _action(win, "&Photo backdrop", view.set_backdrop_visible, "H",
                                  checkable=True, checked=True)
    win.look_through_action = _action(
        win, "&Look through the image camera", view.look_through_camera, "C",
        tip="Align the 3D view with the photo's camera: the mesh sits on the photo")
    win.front_action = _action(win, "&Front view", lambda: view.set_view("front"), "F")
    win.side_action = _action(win, "&Side view", lambda: view.set_view("side"), "S")
    win.undo_view_action = _action(win, "&Undo view change", win.undo_view,
                                   QKeySequence.StandardKey.Undo)
    win.fit_action = _action(win, "Fit &photo", image.fit, "0")
    win.fit_camera_action = _action(
        win, "Fit camera to &landmarks", win.set_fit_camera, checkable=True,
        checked=win.worker.fit_camera,
        tip="Place each iteration's mesh with the camera that puts its keypoints on "
            "MediaPipe's landmarks (off: the net's own camera)")
    win.refine_action = _action(
        win, "&Refine meshes", lambda on: win.set_refine(photos=on), checkable=True,
        checked=win.worker.refine_photos,
        tip="Fit each photo's meshes to MediaPipe's keypoints and person mask after the "
            "net's iterations: the 'refined' step (about 0.3 s a person)")
    win.refine_live_action = _action(
        win, "Refine live &frames", lambda on: win.set_refine(live=on), checkable=True,
        checked=win.worker.refine_live,
        tip="Refine every live frame's meshes too (slower: about 0.3 s a person)")
    win.previous_action = _action(win, "&Previous iteration", win.scrubber.step_back,
                                  Qt.Key.Key_Left)
    win.next_action = _action(win, "&Next iteration", win.scrubber.step_forward,
                              Qt.Key.Key_Right)
    win.play_action = _action(win, "P&lay iterations", win.scrubber.toggle_play,
                              Qt.Key.Key_Space)
    for action in (win.previous_action, win.next_action, win.play_action):
        action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        win.addAction(action)


def _add_actions(menu_or_bar, actions) -> None:
    """Add ``actions`` in order; None adds a separator."""
    for action in actions:
        menu_or_bar.addSeparator() if action is None else menu_or_bar.addAction(action)


def build_menus(win: QMainWindow) -> None:
    """File, View, Model (filled by :func:`build_toolbars`) and Help; ``win.exports_end``
    is the File menu's separator that tools' exports go before."""
    win.file_menu = file_menu = win.menuBar().addMenu("&File")
    file_menu.addAction(win.open_action)
    win.recent_menu = file_menu.addMenu("Open &recent")
    win.recent_menu.aboutToShow.connect(lambda: fill_recent_menu(win))
    samples = file_menu.addMenu("Open sa&mple")
    for name in SAMPLES:
        samples.addAction(name, lambda n=name: win.open_sample(n))
    file_menu.addSeparator()
    _add_actions(file_menu, (win.export_current_action, win.export_all_action,
                             win.export_overlay_action, win.screenshot_action))
    win.exports_end = file_menu.addSeparator()
    _add_actions(file_menu, (win.settings_action, win.quit_action))
    view_menu = win.menuBar().addMenu("&View")
    _add_actions(view_menu, (*win.overlay_actions.values(), win.filled_action, win.fit_action,
                             None, win.skeleton_action, win.ground_action, win.backdrop_action,
                             None, win.look_through_action, win.front_action, win.side_action,
                             win.undo_view_action, None, win.previous_action, win.next_action,
                             win.play_action))
    win.model_menu = win.menuBar().addMenu("&Model")
    help_menu = win.menuBar().addMenu("&Help")
    help_menu.addAction("&About", win.about)


def build_toolbars(win: QMainWindow) -> None:
    """The File and View toolbars with the model box, and the Model menu's entries."""
    files = win.addToolBar("File")
    files.setObjectName("file_toolbar")
    files.addAction(win.open_action)
    win.model_box = QComboBox()
    win.model_box.setToolTip("The mesh regressor")
    win.model_group = QActionGroup(win)
    for info in available_models():
        win.model_box.addItem(info.name, info.name)
        row = win.model_box.count() - 1
        tip = f"{info.description}\n{'found at' if info.found else 'not found; looked at'} {info.path}"
        win.model_box.setItemData(row, tip, Qt.ItemDataRole.ToolTipRole)
        if not info.found:
            win.model_box.model().item(row).setEnabled(False)
        action = win.model_menu.addAction(info.name)
        action.setCheckable(True)
        action.setEnabled(info.found)
        action.setToolTip(tip)
        win.model_group.addAction(action)
        action.triggered.connect(lambda _=False, n=info.name: win.set_model(n))
    win.model_menu.addSeparator()
    win.model_menu.addAction(f"Model &file{ELLIPSIS}", win.choose_model_file)
    win.model_menu.addSeparator()
    win.model_menu.addAction(win.fit_camera_action)
    win.model_menu.addAction(win.refine_action)
    win.model_menu.addAction(win.refine_live_action)
    files.addWidget(win.model_box)
    files.addAction(win.export_current_action)
    view = win.addToolBar("View")
    view.setObjectName("view_toolbar")
    _add_actions(view, (*win.overlay_actions.values(), win.filled_action, None,
                        win.skeleton_action, win.backdrop_action, win.look_through_action,
                        win.front_action, win.undo_view_action))
