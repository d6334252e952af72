"""The studio's main window: open a photo, scrub PyMAF's feedback iterations in linked
2D and 3D views, inspect the maps, export.

The window only routes: a :class:`PipelineWorker` (own thread) computes, the
:class:`StudioDocument` holds what is shown and derives the numbers, and the views draw.
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QAction, QActionGroup, QCloseEvent, QDragEnterEvent, QDropEvent, QKeySequence
from PySide6.QtWidgets import (QComboBox, QDockWidget, QFileDialog, QFormLayout, QLabel,
                               QMainWindow, QMessageBox, QProgressBar, QSplitter, QToolButton,
                               QVBoxLayout, QWidget)

from studio.errors import StudioError
from studio.io.export import EXPORT_TYPES, export_overlay, export_person
from studio.nets.model_registry import available_models
from studio.pipeline.samples import SAMPLES
from studio.ui import heap
from studio.ui.document import StudioDocument, iteration_name
from studio.ui.image_view import ImageView
from studio.ui.live import LiveController
from studio.ui.maps_panel import MapsPanel
from studio.ui.mesh_view import BACKDROP_DEPTH, MeshView
from studio.ui.scrubber import IterationScrubber
from studio.ui.settings import SettingsDialog, StudioSettings
from studio.ui.widgets import make_action
from studio.ui.window_capture import save_window_png
from studio.ui.worker import ModelChoice, PipelineWorker, WorkerThread

APP_TITLE = "Human Mesh Studio"
DEFAULT_MODEL = "builtin-pymaf-proxy"
IMAGE_FILTER = "Images (*.png *.jpg *.jpeg *.bmp *.tif *.tiff *.webp);;All files (*)"
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
EXPORT_LABELS = ("OBJ mesh", "PLY mesh", "GLB mesh with the image camera",
                 "SMPL parameters, AMASS layout")
OVERLAYS = (("boxes", "Person &boxes", "B"), ("keypoints", "&Keypoints", "K"),
            ("mesh", "Projected &mesh", "M"), ("samples", "&Sampled points", "P"))
MIN_VIEW_WIDTH = 320
DOCK_WIDTH = 360
# Toolbar labels, shorter than the menu texts so every button fits.
SHORT_LABELS = {"Person &boxes": "Boxes", "&Keypoints": "Keypoints", "Projected &mesh": "Mesh",
                "&Sampled points": "Samples", "&Filled mesh": "Filled",
                "&Joints and bones": "Skeleton", "&Photo backdrop": "Photo",
                "&Look through the image camera": "Camera view", "&Front view": "Front",
                "&Undo view change": "Undo view",
                "Export &current iteration\N{HORIZONTAL ELLIPSIS}": "Export"}


class StudioWindow(QMainWindow):
    """One photo at a time; every model call goes through the worker."""

    result_shown = Signal()  # views show a new result
    request_failed = Signal(str, int)  # message, exit code
    iteration_shown = Signal(int)  # views show another iteration or person

    def __init__(self, settings: StudioSettings | None = None,
                 worker: PipelineWorker | None = None, model: str | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(APP_TITLE)
        self.resize(1440, 900)
        self.setAcceptDrops(True)
        self.settings = settings or StudioSettings()
        self.document: StudioDocument | None = None
        self.last_error = ""
        self.failure: tuple[str, int] | None = None  # the last request's error and exit code
        self.timings_ms: dict[str, float] = {}
        self._request = 0
        self._opened_at = 0.0

        self.image_view = ImageView()
        self.mesh_view = MeshView()
        self.scrubber = IterationScrubber()
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self.image_view)
        splitter.addWidget(self.mesh_view)
        for k, view in enumerate((self.image_view, self.mesh_view)):
            view.setMinimumWidth(MIN_VIEW_WIDTH)
            splitter.setStretchFactor(k, 1)
        splitter.setChildrenCollapsible(False)
        self.splitter = splitter
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(splitter, 1)
        layout.addWidget(self.scrubber)
        self.setCentralWidget(central)

        self.maps_panel = MapsPanel()
        self._dock("Maps", "maps_dock", self.maps_panel)
        self.people_box = QComboBox()
        self.people_box.setToolTip("The person shown (largest first); click a box in the "
                                   "photo to choose too")
        self.people_box.currentIndexChanged.connect(self.select_person)
        self.info_label = QLabel("Open a photo to start.")
        self.info_label.setWordWrap(True)
        self.info_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        info = QWidget()
        form = QFormLayout(info)
        form.addRow("Person", self.people_box)
        form.addRow(self.info_label)
        result_dock = self._dock("Result", "result_dock", info)
        self.resizeDocks([self.findChild(QDockWidget, "maps_dock"), result_dock],
                         [DOCK_WIDTH, DOCK_WIDTH], Qt.Orientation.Horizontal)

        self.progress_bar = QProgressBar()
        self.progress_bar.setMaximumWidth(220)
        self.progress_bar.setRange(0, 100)
        self.cancel_button = QToolButton()
        self.cancel_button.setText("Cancel")
        self.cancel_button.clicked.connect(self.cancel)
        self.model_label = QLabel()
        for widget in (self.progress_bar, self.cancel_button):
            self.statusBar().addPermanentWidget(widget)
            widget.hide()
        self.statusBar().addPermanentWidget(self.model_label)

        self.worker = worker or PipelineWorker()
        self._build_actions()
        self._build_menus()
        self._build_toolbars(model or self.settings.model or DEFAULT_MODEL)
        self._connect_views()
        self._on_mesh_style(self.filled_action.isChecked())
        if self.settings.geometry is not None:
            self.restoreGeometry(self.settings.geometry)

        self._heap_unsettled = False  # a model was loaded since the heap was last settled
        self.worker.image_ready.connect(self._on_image_ready)
        self.worker.progress.connect(self._on_progress)
        self.worker.model_ready.connect(self._on_model_ready)
        for signal in (self.worker.finished, self.worker.failed):  # before the live answers
            signal.connect(self._settle_heap)
        self.worker.finished.connect(self._on_finished)
        self.worker.failed.connect(self._on_failed)
        self.worker.cancelled.connect(self._on_cancelled)
        self.worker_thread = WorkerThread(self.worker)
        self.live = LiveController(self)  # Live menu and status readout; stops on close

    # ------------------------------------------------------------------ building
    def _dock(self, title: str, name: str, widget: QWidget) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(name)
        dock.setWidget(widget)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
        return dock

    def _action(self, text: str, slot, shortcut: str | QKeySequence | None = None,
                checkable: bool = False, checked: bool = False, tip: str = "") -> QAction:
        return make_action(self, text, slot, shortcut, checkable, checked, tip,
                           icon_text=SHORT_LABELS.get(text))

    def _build_actions(self) -> None:
        self.open_action = self._action("&Open image\N{HORIZONTAL ELLIPSIS}", self.open_dialog,
                                        QKeySequence.StandardKey.Open, tip="Open a photo")
        self.export_current_action = self._action(
            "Export &current iteration\N{HORIZONTAL ELLIPSIS}", lambda: self.export_dialog(False),
            "Ctrl+E", tip="OBJ, PLY, GLB (with the image camera) or SMPL parameters (npz)")
        self.export_all_action = self._action(
            "Export &all iterations\N{HORIZONTAL ELLIPSIS}", lambda: self.export_dialog(True),
            "Ctrl+Shift+E", tip="One file per iteration")
        self.export_overlay_action = self._action(
            "Export &overlay image\N{HORIZONTAL ELLIPSIS}", self.export_overlay_dialog,
            tip="The photo with the visible overlays, at full resolution")
        self.screenshot_action = self._action("Save &screenshot\N{HORIZONTAL ELLIPSIS}",
                                              self.screenshot_dialog, "Ctrl+Shift+S")
        self.settings_action = self._action("Se&ttings\N{HORIZONTAL ELLIPSIS}",
                                            self.settings_dialog, "Ctrl+,")
        self.quit_action = self._action("&Quit", self.close, QKeySequence.StandardKey.Quit)
        self.overlay_actions = {
            name: self._action(text, lambda on, n=name: self.image_view.set_overlay_visible(n, on),
                               key, checkable=True, checked=True)
            for name, text, key in OVERLAYS}
        self.filled_action = self._action("&Filled mesh", self._on_mesh_style, "W",
                                          checkable=True, checked=True,
                                          tip="Filled, see-through mesh (off: wireframe)")
        self.skeleton_action = self._action("&Joints and bones", self.mesh_view.set_skeleton_visible,
                                            "J", checkable=True, checked=False)
        self.ground_action = self._action("&Ground grid", self.mesh_view.set_ground_visible, "G",
                                          checkable=True, checked=True)
        self.backdrop_action = self._action("&Photo backdrop", self.mesh_view.set_backdrop_visible,
                                            "H", checkable=True, checked=True)
        self.look_through_action = self._action(
            "&Look through the image camera", self.mesh_view.look_through_camera, "C",
            tip="Align the 3D view with the photo's camera: the mesh sits on the photo")
        self.front_action = self._action("&Front view", lambda: self.mesh_view.set_view("front"),
                                         "F")
        self.side_action = self._action("&Side view", lambda: self.mesh_view.set_view("side"), "S")
        self.undo_view_action = self._action("&Undo view change", self._undo_view,
                                             QKeySequence.StandardKey.Undo)
        self.fit_action = self._action("Fit &photo", self.image_view.fit, "0")
        self.fit_camera_action = self._action(
            "Fit camera to &landmarks", self.set_fit_camera, checkable=True,
            checked=self.worker.fit_camera,
            tip="Place each iteration's mesh with the camera that puts its keypoints on "
                "MediaPipe's landmarks (off: the net's own camera)")
        self.previous_action = self._action("&Previous iteration", self.scrubber.step_back,
                                            Qt.Key.Key_Left)
        self.next_action = self._action("&Next iteration", self.scrubber.step_forward,
                                        Qt.Key.Key_Right)
        self.play_action = self._action("P&lay iterations", self.scrubber.toggle_play,
                                        Qt.Key.Key_Space)
        for action in (self.previous_action, self.next_action, self.play_action):
            action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
            self.addAction(action)

    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        file_menu.addAction(self.open_action)
        self.recent_menu = file_menu.addMenu("Open &recent")
        self.recent_menu.aboutToShow.connect(self._fill_recent)
        samples = file_menu.addMenu("Open sa&mple")
        for name in SAMPLES:
            samples.addAction(name, lambda n=name: self.open_sample(n))
        file_menu.addSeparator()
        for action in (self.export_current_action, self.export_all_action,
                       self.export_overlay_action, self.screenshot_action):
            file_menu.addAction(action)
        file_menu.addSeparator()
        file_menu.addAction(self.settings_action)
        file_menu.addAction(self.quit_action)
        view_menu = self.menuBar().addMenu("&View")
        for action in (*self.overlay_actions.values(), self.filled_action, self.fit_action, None,
                       self.skeleton_action, self.ground_action, self.backdrop_action, None,
                       self.look_through_action, self.front_action, self.side_action,
                       self.undo_view_action, None, self.previous_action, self.next_action,
                       self.play_action):
            view_menu.addSeparator() if action is None else view_menu.addAction(action)
        self.model_menu = self.menuBar().addMenu("&Model")
        help_menu = self.menuBar().addMenu("&Help")
        help_menu.addAction("&About", self._about)

    def _build_toolbars(self, model: str) -> None:
        files = self.addToolBar("File")
        files.setObjectName("file_toolbar")
        files.addAction(self.open_action)
        self.model_box = QComboBox()
        self.model_box.setToolTip("The mesh regressor")
        self.model_group = QActionGroup(self)
        for info in available_models():
            self.model_box.addItem(info.name, info.name)
            row = self.model_box.count() - 1
            tip = f"{info.description}\n{'found at' if info.found else 'not found; looked at'} {info.path}"
            self.model_box.setItemData(row, tip, Qt.ItemDataRole.ToolTipRole)
            if not info.found:
                self.model_box.model().item(row).setEnabled(False)
            action = self.model_menu.addAction(info.name)
            action.setCheckable(True)
            action.setEnabled(info.found)
            action.setToolTip(tip)
            self.model_group.addAction(action)
            action.triggered.connect(lambda _=False, n=info.name: self.set_model(n))
        self.model_menu.addSeparator()
        self.model_menu.addAction("Model &file\N{HORIZONTAL ELLIPSIS}", self._choose_model_file)
        self.model_menu.addSeparator()
        self.model_menu.addAction(self.fit_camera_action)
        files.addWidget(self.model_box)
        files.addAction(self.export_current_action)
        view = self.addToolBar("View")
        view.setObjectName("view_toolbar")
        for action in (*self.overlay_actions.values(), self.filled_action, None,
                       self.skeleton_action, self.backdrop_action, self.look_through_action,
                       self.front_action, self.undo_view_action):
            view.addSeparator() if action is None else view.addAction(action)
        self.set_model(model, rerun=False)
        self.model_box.currentIndexChanged.connect(
            lambda row: self.set_model(self.model_box.itemData(row)))

    def _connect_views(self) -> None:
        self.scrubber.iteration_changed.connect(self.show_iteration)
        self.scrubber.movement_colouring_changed.connect(lambda _: self._show_displacement())
        self.image_view.person_clicked.connect(self.select_person)
        self.image_view.hovered.connect(self._on_2d_hover)
        self.mesh_view.hovered.connect(self._on_3d_hover)

    # ------------------------------------------------------------------ opening
    def open_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open image", "", IMAGE_FILTER)
        if path:
            self.open_file(Path(path))

    def open_file(self, path: Path) -> None:
        """Read and process ``path`` in the worker; the photo shows as soon as it is decoded."""
        path = Path(path)
        self.settings.add_recent(path)
        self._start(path, StudioDocument(image=np.zeros((1, 1, 3), np.uint8), path=path,
                                         title=path.name))

    def open_sample(self, name: str) -> None:
        image = SAMPLES[name]()
        self._start(image, StudioDocument(image=image, title=f"sample: {name}"))

    def open_image(self, image: np.ndarray, title: str) -> None:
        """Process an RGB array already in memory."""
        self._start(image, StudioDocument(image=image, title=title))

    def _start(self, source: Path | np.ndarray, document: StudioDocument) -> None:
        self.live.set_paused(True)  # a photo takes the views; Live > Pause resumes
        self._request += 1
        self.failure = None
        self._opened_at = time.perf_counter()
        self.document = document
        self.setWindowTitle(f"{APP_TITLE} \N{EM DASH} {document.title}")
        self.scrubber.set_count(0)
        self.people_box.blockSignals(True)
        self.people_box.clear()
        self.people_box.blockSignals(False)
        self.maps_panel.clear()
        self.mesh_view.clear()
        if isinstance(source, np.ndarray):
            self.image_view.set_image(source)
        self._show_progress(f"opening {document.title}", 0.0)
        self.worker.submit(self._request, source, self._choice())

    def _choice(self) -> ModelChoice:
        return ModelChoice(name=self.model_name, device=self.settings.device)

    def rerun(self) -> None:
        """Run the open photo again (after a model or device change)."""
        if self.document is not None and self.document.image.size > 3:
            self._start(self.document.image, StudioDocument(
                image=self.document.image, path=self.document.path, title=self.document.title))

    def set_fit_camera(self, enabled: bool) -> None:
        """Refit cameras to MediaPipe's landmarks (or not) from now on; runs the open
        photo again so the views show the change."""
        if enabled != self.worker.fit_camera:
            self.worker.fit_camera = enabled
            self.rerun()
        if self.fit_camera_action.isChecked() != enabled:
            self.fit_camera_action.setChecked(enabled)

    def set_model(self, name: str, rerun: bool = True) -> None:
        """Use model ``name`` (registered name or file) from now on."""
        self.model_name = name
        self.settings.model = name
        row = self.model_box.findData(name)
        if row < 0:
            self.model_box.addItem(Path(name).name, name)
            row = self.model_box.count() - 1
        self.model_box.blockSignals(True)
        self.model_box.setCurrentIndex(row)
        self.model_box.blockSignals(False)
        for action in self.model_group.actions():
            action.setChecked(action.text() == name)
        self.model_label.setText(f"model: {name} \N{MIDDLE DOT} {self.settings.device}")
        if rerun:
            self.rerun()

    def _choose_model_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Model file", "", "Model files (*.pt *.pth)")
        if path:
            self.set_model(path)

    def _fill_recent(self) -> None:
        self.recent_menu.clear()
        for entry in self.settings.recent_files:
            self.recent_menu.addAction(entry, lambda p=entry: self._open_recent(p))
        if self.recent_menu.isEmpty():
            self.recent_menu.addAction("(none)").setEnabled(False)

    def _open_recent(self, entry: str) -> None:
        if not Path(entry).is_file():
            self.settings.remove_recent(entry)
            self.report_error("Open recent", f"{entry} is no longer there.")
            return
        self.open_file(Path(entry))

    def cancel(self) -> None:
        """Stop the running request; the photo stays, the last result is dropped."""
        self.worker.cancel(self._request)

    # ------------------------------------------------------------------ worker answers
    def _current(self, request: int) -> bool:
        return request == self._request and self.document is not None

    def _show_progress(self, stage: str, fraction: float) -> None:
        self.progress_bar.setValue(int(100 * fraction))
        self.progress_bar.show()
        self.cancel_button.show()
        self.statusBar().showMessage(f"{stage}\N{HORIZONTAL ELLIPSIS}")

    def _hide_progress(self, message: str, timeout_ms: int = 0) -> None:
        self.progress_bar.hide()
        self.cancel_button.hide()
        self.statusBar().showMessage(message, timeout_ms)

    @Slot(int, object)
    def _on_image_ready(self, request: int, image: np.ndarray) -> None:
        if self._current(request) and self.document.image.size <= 3:
            self.document.image = image
            self.image_view.set_image(image)

    @Slot(int, str, float)
    def _on_progress(self, request: int, stage: str, fraction: float) -> None:
        if self._current(request):
            self._show_progress(stage, fraction)

    @Slot(str, str)
    def _on_model_ready(self, name: str, description: str) -> None:
        self.model_label.setText(f"model: {name} \N{MIDDLE DOT} {self.settings.device}")
        self.model_label.setToolTip(description)
        self._heap_unsettled = True

    @Slot()
    def _settle_heap(self, *_: object) -> None:
        """After the first answer of a newly loaded model, freeze what the load left out of
        later full collections (:mod:`studio.ui.heap`). Here, on the UI thread, and not
        in the worker: a collection there deleted Qt objects that were garbage, and PySide
        then deadlocked against the UI thread deleting others."""
        if self._heap_unsettled:
            self._heap_unsettled = False
            heap.settle()

    @Slot(int, str, int)
    def _on_failed(self, request: int, message: str, exit_code: int) -> None:
        if self._current(request):
            self.failure = (message, exit_code)
            self._hide_progress(f"{self.document.title}: {message}")
            self.info_label.setText(message)
            self.report_error("Could not process the image", message)
            self.request_failed.emit(message, exit_code)

    @Slot(int)
    def _on_cancelled(self, request: int) -> None:
        if self._current(request):
            self._hide_progress("cancelled", 5000)
            self.info_label.setText("Cancelled. Choose a model or open a photo to run again.")

    @Slot(int, object)
    def _on_finished(self, request: int, result) -> None:
        if not self._current(request):
            return
        doc = self.document
        doc.set_result(result)
        self.timings_ms = dict(result.timings_ms)
        self.timings_ms["first_result"] = (time.perf_counter() - self._opened_at) * 1000.0
        self.people_box.blockSignals(True)
        self.people_box.clear()
        for k, person in enumerate(result.people):
            x0, y0, x1, y1 = person.person.extent
            self.people_box.addItem(f"{k + 1}: {x1 - x0:.0f}\N{MULTIPLICATION SIGN}{y1 - y0:.0f} px")
        self.people_box.blockSignals(False)
        self._show_person(reset_camera=True)
        people = f"{doc.people_count} {'person' if doc.people_count == 1 else 'people'}"
        self._hide_progress(f"{doc.title}: {people} in "
                            f"{self.timings_ms['first_result'] / 1000:.1f} s", 10000)
        self.result_shown.emit()

    # ------------------------------------------------------------------ showing
    def select_person(self, index: int) -> None:
        if self.document is not None and self.document.select_person(index):
            self._show_person(reset_camera=False)

    def _show_person(self, reset_camera: bool) -> None:
        doc = self.document
        person = doc.current_person
        self.people_box.blockSignals(True)
        self.people_box.setCurrentIndex(doc.person)
        self.people_box.blockSignals(False)
        self.image_view.set_people(doc.boxes(), doc.person)
        self.image_view.set_keypoints(person.person.landmarks, person.person.visibility)
        self.maps_panel.set_person(person.crop_rgb, person.landmark_maps, person.dense,
                                   align_corners=person.crop.align_corners)
        it, final = doc.current, person.final
        self.mesh_view.set_body(it.vertices, doc.result.faces, it.joints, doc.result.parents,
                                doc.result.part_labels)
        # The photo goes behind every iteration's body (their depths differ a lot).
        farthest = max(i.image_camera.translation[2] for i in person.iterations)
        self.mesh_view.set_camera(final.image_camera, doc.image,
                                  backdrop_depth=BACKDROP_DEPTH * farthest)
        if reset_camera:
            self.mesh_view.set_view("front")
        self.scrubber.set_count(doc.iteration_count, doc.iteration)
        self.update_info()
        self.show_iteration(doc.iteration)

    def show_iteration(self, index: int, announce: bool = True) -> None:
        """Show iteration ``index`` in every view (the scrubber calls this); ``announce``
        names it and its camera in the status bar (live frames do not: a message per
        frame repaints the window once more)."""
        doc = self.document
        if doc is None or not doc.has_result:
            return
        doc.select_iteration(index)
        if self.scrubber.value != doc.iteration:
            self.scrubber.set_value(doc.iteration)
            return  # the scrubber's signal comes back here
        it = doc.current
        points, depth = doc.projected()
        person = doc.current_person
        final = doc.iteration == len(person.iterations) - 1
        self.image_view.set_mesh(points, doc.result.faces, depth, key=(doc.person, doc.iteration),
                                 fill=person.fill if final else None)
        self.image_view.set_sample_points(doc.sample_points())
        self.mesh_view.update_body(it.vertices, it.joints, it.image_camera.translation)
        self._show_displacement()
        self.maps_panel.set_iteration(doc.iteration, it.pyramid_map, it.sample_points)
        if announce:
            s, tx, ty = it.crop_camera
            fitted = "" if it.fitted_cam is None else f" (fitted; net's s={it.cam[0]:.3f})"
            self.statusBar().showMessage(
                f"{iteration_name(doc.iteration)} \N{MIDDLE DOT} camera s={s:.3f} "
                f"tx={tx:.3f} ty={ty:.3f}{fitted}", 5000)
        self.iteration_shown.emit(doc.iteration)

    def _show_displacement(self) -> None:
        doc = self.document
        if doc is None or not doc.has_result:
            return
        wanted = self.scrubber.movement_box.isChecked()
        if not wanted and not self.mesh_view.displacement_shown:
            return
        moved = doc.displacement_mm() if wanted else None
        self.mesh_view.set_displacement(moved, doc.max_displacement_mm())

    def update_info(self) -> None:
        """Describe the shown person and the timings in the info panel."""
        doc = self.document
        person, result = doc.current_person, doc.result
        error = ("n/a" if person.keypoint_error_px is None
                 else f"{person.keypoint_error_px:.1f} px")
        iou = "n/a" if person.mask_iou is None else f"{person.mask_iou:.2f}"
        timings = ", ".join(f"{k} {v:.0f}" for k, v in self.timings_ms.items())
        self.info_label.setText(
            f"<b>{doc.title}</b> ({result.image_size[0]}\N{MULTIPLICATION SIGN}"
            f"{result.image_size[1]})<br>model {result.model_name} on {result.input_kind} "
            f"{result.input_size} px crops<br>mask IoU {iou} \N{MIDDLE DOT} "
            f"keypoint error {error}<br><small>ms: {timings}</small>")

    def _on_mesh_style(self, filled: bool) -> None:
        self.image_view.set_mesh_style("filled" if filled else "wireframe")
        self.worker.stream_fill = filled  # live frames come with the style's drawing

    def _undo_view(self) -> None:
        if self.mesh_view.can_undo_camera():
            self.mesh_view.undo_camera()

    # ------------------------------------------------------------------ linking
    def _on_3d_hover(self, kind: str, index: int) -> None:
        if kind == "joint" and self.document is not None and self.document.has_result:
            self.image_view.mark_point(self.document.project_joints()[index])
        elif kind == "vertex":
            self.image_view.mark("vertex", index)
        else:
            self.image_view.mark("", -1)

    def _on_2d_hover(self, kind: str, index: int) -> None:
        self.mesh_view.mark(kind if kind == "vertex" else "", index if kind == "vertex" else -1)

    # ------------------------------------------------------------------ export
    def report_error(self, title: str, message: str) -> None:
        """Tell the user without blocking (so scripted runs and tests go on)."""
        self.last_error = message
        box = QMessageBox(QMessageBox.Icon.Warning, title, message, QMessageBox.StandardButton.Ok,
                          self)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()

    def export(self, path: Path, all_iterations: bool) -> list[Path]:
        """Write the current person's current (or every) iteration to ``path``."""
        doc = self.document
        if doc is None or not doc.has_result:
            raise StudioError("nothing to export yet: open a photo and wait for its result")
        iterations = range(doc.iteration_count) if all_iterations else [doc.iteration]
        return export_person(doc.result, doc.person, Path(path), list(iterations))

    def export_dialog(self, all_iterations: bool) -> None:
        filters = ";;".join(f"{label} (*{suffix})" for suffix, label in zip(EXPORT_TYPES, EXPORT_LABELS))
        path, chosen = QFileDialog.getSaveFileName(self, "Export", "mesh.glb", filters)
        if path:
            if not Path(path).suffix:
                path += chosen[chosen.index("(*") + 2:-1]
            self._written(lambda: self.export(Path(path), all_iterations))

    def export_overlay(self, path: Path) -> list[Path]:
        return [export_overlay(Path(path), self.image_view.export_overlay_rgb())]

    def export_overlay_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export overlay image", "overlay.png",
                                              "Images (*.png *.jpg)")
        if path:
            self._written(lambda: self.export_overlay(Path(path)))

    def screenshot_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save screenshot", "studio.png",
                                              "PNG images (*.png)")
        if path:
            self._written(lambda: [save_window_png(self, path)])

    def _written(self, write) -> None:
        try:
            paths = write()
        except (StudioError, OSError) as err:
            self.report_error("Export failed", str(err))
            return
        names = ", ".join(p.name for p in paths[:4]) + (" \N{HORIZONTAL ELLIPSIS}" if len(paths) > 4 else "")
        self.statusBar().showMessage(f"saved {names}", 8000)

    # ------------------------------------------------------------------ misc
    def settings_dialog(self) -> None:
        before = (self.settings.device, self.settings.model_folders)
        dialog = SettingsDialog(self.settings, self)
        if dialog.exec() and (self.settings.device, self.settings.model_folders) != before:
            self.set_model(self.model_name)

    def _about(self) -> None:
        QMessageBox.about(self, APP_TITLE, "<b>Human Mesh Studio</b><br>PyMAF feedback "
                          "iterations in linked 2D and 3D views.")

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 (Qt's name)
        if any(Path(u.toLocalFile()).suffix.lower() in IMAGE_SUFFIXES
               for u in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802 (Qt's name)
        for url in event.mimeData().urls():
            path = Path(url.toLocalFile())
            if path.suffix.lower() in IMAGE_SUFFIXES:
                self.open_file(path)
                event.acceptProposedAction()
                return

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 (Qt's name)
        self.scrubber.stop()
        self.settings.geometry = self.saveGeometry()
        self.settings.sync()
        self.worker_thread.stop()
        self.mesh_view.close_view()
        super().closeEvent(event)
