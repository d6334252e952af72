"""The body model explorer: a 3D body view, pose presets and shape sliders, export."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QCloseEvent
from PySide6.QtWidgets import QDockWidget, QFileDialog, QLabel, QMainWindow, QMessageBox, QWidget

from studio.body.model import BodyData
from studio.errors import StudioError
from studio.ui.body.controls import BodyControls
from studio.ui.views.body_scene import BodyScene
from studio.ui.body.state import BodyState, pose_presets
from studio.ui.body.view import BodyView
from studio.ui.body.mesh_export import MESH_FORMATS, export_mesh
from studio.ui.views.widgets import make_action

APP_TITLE = "Human Mesh Studio: body model"


class BodyWindow(QMainWindow):
    """Shows one body model; the panel's choices go to :class:`BodyState`, results to the view."""

    def __init__(self, data: BodyData, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"{APP_TITLE} \N{EM DASH} {data.name}")
        self.resize(1280, 800)
        self.state = BodyState(data)
        self.presets = pose_presets()

        self.view = BodyView(self)
        self.setCentralWidget(self.view)
        self.controls = BodyControls(self.presets.keys())
        self.controls.preset_changed.connect(self._on_preset)
        self.controls.beta_changed.connect(self._on_beta)
        self.controls.shape_reset.connect(self._on_shape_reset)
        dock = QDockWidget("Body", self)
        dock.setObjectName("body_dock")
        dock.setWidget(self.controls)
        dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable
                         | QDockWidget.DockWidgetFeature.DockWidgetFloatable)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)

        self._build_actions()
        self._build_menus_and_toolbar()
        self.model_label = QLabel(f"{data.name}  \N{MIDDLE DOT}  {data.num_vertices:,} vertices")
        self.statusBar().addPermanentWidget(self.model_label)

        vertices, joints = self.state.evaluate()
        self.view.show_scene(BodyScene.build(vertices, joints, self.state.faces,
                                             self.state.parents, self.state.part_labels),
                             skeleton=self.joints_action.isChecked(),
                             ground=self.ground_action.isChecked())
        first = self.controls.preset_box.currentText()
        if first:
            self._on_preset(first)

    def _action(self, text: str, slot, shortcut: str | None = None,
                checkable: bool = False, checked: bool = False) -> QAction:
        return make_action(self, text, slot, shortcut, checkable, checked)

    def _build_actions(self) -> None:
        self.export_action = self._action("&Export mesh\N{HORIZONTAL ELLIPSIS}", self.export_mesh_dialog,
                                          "Ctrl+E")
        self.quit_action = self._action("&Quit", self.close, "Ctrl+Q")
        self.joints_action = self._action("&Joints and bones", self.view.set_skeleton_visible,
                                          "J", checkable=True, checked=False)
        self.ground_action = self._action("&Ground grid", self.view.set_ground_visible,
                                          "G", checkable=True, checked=True)
        self.reset_camera_action = self._action("&Reset camera", self.view.reset_camera, "R")
        self.front_action = self._action("&Front view", lambda: self.view.set_view("front"), "F")
        self.side_action = self._action("&Side view", lambda: self.view.set_view("side"), "S")

    def _build_menus_and_toolbar(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        file_menu.addAction(self.export_action)
        file_menu.addSeparator()
        file_menu.addAction(self.quit_action)
        view_menu = self.menuBar().addMenu("&View")
        toolbar = self.addToolBar("View")
        toolbar.setObjectName("view_toolbar")
        for action in (self.joints_action, self.ground_action, None, self.reset_camera_action,
                       self.front_action, self.side_action):
            if action is None:
                view_menu.addSeparator()
                toolbar.addSeparator()
            else:
                view_menu.addAction(action)
                toolbar.addAction(action)

    def _refresh(self) -> None:
        self.view.update_body(*self.state.evaluate())

    def _on_preset(self, name: str) -> None:
        self.state.set_pose(self.presets.get(name, {}))
        self._refresh()
        self.statusBar().showMessage(f"Pose: {name}", 3000)

    def _on_beta(self, index: int, value: float) -> None:
        self.state.set_beta(index, value)
        self._refresh()

    def _on_shape_reset(self) -> None:
        self.state.reset_shape()
        self._refresh()

    def export_mesh_dialog(self) -> None:
        """Ask for a file name and save the current mesh there."""
        filters = ";;".join(f"{label} (*{ext})" for ext, label in MESH_FORMATS.items())
        path, chosen = QFileDialog.getSaveFileName(self, "Export mesh", "body.obj", filters)
        if not path:
            return
        if Path(path).suffix.lower() not in MESH_FORMATS:
            path += chosen[chosen.index("(*") + 2:-1]
        vertices, _ = self.state.evaluate()
        try:
            saved = export_mesh(path, vertices, self.state.faces, self.state.part_labels)
        except (StudioError, OSError) as err:
            QMessageBox.critical(self, APP_TITLE, f"Could not export the mesh:\n{err}")
            return
        self.statusBar().showMessage(f"Saved {saved}", 5000)

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 (Qt's name)
        self.view.close_view()
        super().closeEvent(event)
