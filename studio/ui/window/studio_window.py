"""The studio's main window: open a photo, scrub PyMAF's feedback iterations in linked
2D and 3D views, inspect the maps, export.

The window assembles and routes: a :class:`PipelineWorker` (own thread) computes, the
:class:`StudioDocument` holds what is shown and derives the numbers, the views draw, and
the tools (:mod:`studio.ui.tools.contract`, listed in :mod:`studio.ui.window.tool_list`)
add their panels, menus and work. Building the window's own actions and menus
(:mod:`~studio.ui.window.building`), taking the worker's answers
(:mod:`~studio.ui.window.answers`) and exporting (:mod:`~studio.ui.window.exporting`) live
beside it.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QCloseEvent, QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QFileDialog, QMessageBox, QSplitter, QVBoxLayout, QWidget

from studio.pipeline.samples import SAMPLES
from studio.ui.document import StudioDocument
from studio.ui.tools.contract import T, Tool, ToolJob
from studio.ui.views.image_view import ImageView
from studio.ui.views.mesh_view import BACKDROP_DEPTH, MeshView
from studio.ui.views.scrubber import IterationScrubber
from studio.ui.window import building
from studio.ui.window.answers import WorkerAnswers
from studio.ui.window.exporting import ExportCommands
from studio.ui.window.remembered import ModelMemory
from studio.ui.window.settings import SettingsDialog, StudioSettings
from studio.ui.window.tool_list import TOOLS
from studio.ui.window.toolset import ToolSet
from studio.ui.worker.jobs import ModelChoice
from studio.ui.worker.worker import PipelineWorker, WorkerThread

APP_TITLE = "Human Mesh Studio"
IMAGE_FILTER = "Images (*.png *.jpg *.jpeg *.bmp *.tif *.tiff *.webp);;All files (*)"
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
MIN_VIEW_WIDTH = 320
DOCK_WIDTH = 280  # the docks' first width: the 2D and 3D views share the rest evenly


class StudioWindow(ExportCommands, WorkerAnswers):
    """One photo at a time; every model call goes through the worker."""

    result_shown = Signal()  # views show a new result
    request_failed = Signal(str, int)  # message, exit code
    iteration_shown = Signal(int)  # views show another iteration or person

    def __init__(self, settings: StudioSettings | None = None,
                 worker: PipelineWorker | None = None, model: str | None = None,
                 parent: QWidget | None = None, checkpoint: str | None = None,
                 tools: Sequence[Callable[[StudioWindow], Tool]] = TOOLS) -> None:
        super().__init__(parent)
        self.setWindowTitle(APP_TITLE)
        self.resize(1440, 900)
        self.setAcceptDrops(True)
        self.settings = settings or StudioSettings()
        self.document: StudioDocument | None = None
        self.last_error = ""
        self.last_notice = ""
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
        splitter.setSizes([1 << 16, 1 << 16])  # half each, whatever the window's width
        self.splitter = splitter
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(splitter, 1)
        layout.addWidget(self.scrubber)
        self.setCentralWidget(central)

        building.build_status_bar(self)
        self.worker = worker or PipelineWorker()
        # A weights file for the model named by ``model`` (``studio gui --checkpoint``),
        # used while that model is chosen; not remembered.
        self._checkpoint = (model, checkpoint) if model and checkpoint else None
        building.build_actions(self)
        building.build_menus(self)
        building.build_toolbars(self)
        self.model_memory = ModelMemory(self)
        self.set_model(self.model_memory.starting_model(model), rerun=False)
        self.model_box.currentIndexChanged.connect(
            lambda row: self.set_model(self.model_box.itemData(row)))
        self._connect_views()
        self.set_mesh_style(self.filled_action.isChecked())
        self.connect_worker()
        self.worker_thread = WorkerThread(self.worker)
        self.tools = ToolSet(self, self.file_menu, self.exports_end)
        for make in tools:  # their docks come before the Result dock
            self.tools.add(make)
        if self.tools.docks:
            self.tools.docks[0].raise_()  # the first tool's tab in front
        docks = [*self.tools.docks, building.build_result_dock(self)]
        self.resizeDocks(docks, [DOCK_WIDTH] * len(docks), Qt.Orientation.Horizontal)
        if self.settings.geometry is not None:
            self.restoreGeometry(self.settings.geometry)

    def _connect_views(self) -> None:
        self.scrubber.iteration_changed.connect(self.show_iteration)
        self.scrubber.movement_colouring_changed.connect(lambda _: self._show_displacement())
        self.image_view.person_clicked.connect(self.select_person)
        self.image_view.hovered.connect(self._on_2d_hover)
        self.mesh_view.hovered.connect(self._on_3d_hover)

    # ------------------------------------------------------------------ tools
    def tool(self, kind: type[T]) -> T:
        """The window's tool of class ``kind``, made and added if it has none."""
        found = self.tools.get(kind)
        return found if found is not None else self.tools.add(kind)

    def run_job(self, tool: Tool, job: ToolJob) -> int:
        """Run ``tool``'s ``job`` on the worker; the answer goes to the tool."""
        return self.tools.run_job(tool, job)

    def show_panel(self, tool: Tool) -> None:
        """Bring ``tool``'s dock to the front of the tools' tabs."""
        self.tools.show_panel(tool)

    def tell_tools(self, hook: str, *args: object) -> None:
        """Call a :class:`~studio.ui.tools.contract.Tool` event hook on every tool."""
        self.tools.tell(hook, *args)

    def take_document(self, document: StudioDocument) -> None:
        """Make ``document`` (with its result) the window's: its title and timings; the
        caller shows it."""
        self.document = document
        self.timings_ms = dict(document.result.timings_ms)
        self.setWindowTitle(f"{APP_TITLE} \N{EM DASH} {document.title}")

    def set_streaming(self, streaming: bool) -> None:
        """Draw coarser while live frames stream (views and tools)."""
        self.mesh_view.set_streaming(streaming)
        self.image_view.set_streaming(streaming)
        self.tell_tools("streaming_changed", streaming)

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
        self.tell_tools("photo_opened", document)  # live pauses: a photo takes the views
        self._request += 1
        self.failure = None
        self._opened_at = time.perf_counter()
        self.document = document
        self.setWindowTitle(f"{APP_TITLE} \N{EM DASH} {document.title}")
        self.scrubber.set_count(0)
        self.people_box.blockSignals(True)
        self.people_box.clear()
        self.people_box.blockSignals(False)
        self.mesh_view.clear()
        if isinstance(source, np.ndarray):
            self.image_view.set_image(source)
        self._show_progress(f"opening {document.title}", 0.0)
        self.worker.submit(self._request, source, self._choice())

    def _choice(self) -> ModelChoice:
        checkpoint = (self._checkpoint[1] if self._checkpoint is not None
                      and self._checkpoint[0] == self.model_name else None)
        return ModelChoice(name=self.model_name, device=self.settings.device,
                           checkpoint=checkpoint)

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

    def set_refine(self, photos: bool | None = None, live: bool | None = None) -> None:
        """Refine meshes (:mod:`studio.pipeline.refine`) of photos and of live frames from
        now on; a change for photos runs the open photo again."""
        worker = self.worker
        if live is not None:
            worker.refine_live = live
        if photos is not None and photos != worker.refine_photos:
            worker.refine_photos = photos
            self.rerun()
        for action, on in ((self.refine_action, worker.refine_photos),
                           (self.refine_live_action, worker.refine_live)):
            if action.isChecked() != on:
                action.setChecked(on)

    def set_model(self, name: str, rerun: bool = True) -> None:
        """Use model ``name`` (registered name or file) from now on; it is remembered
        once it has loaded (:class:`~studio.ui.window.remembered.ModelMemory`)."""
        self.model_name = name
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

    def choose_model_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Model file", "", "Model files (*.pt *.pth)")
        if path:
            self.set_model(path)

    def cancel(self) -> None:
        """Stop the running request; the photo stays, the last result is dropped."""
        self.worker.cancel(self._request)

    # ------------------------------------------------------------------ showing
    def select_person(self, index: int) -> None:
        if self.document is not None and self.document.select_person(index):
            self.show_person(reset_camera=False)

    def show_person(self, reset_camera: bool) -> None:
        """Show the document's current person in every view (the full path: the 3D
        scene is built anew)."""
        doc = self.document
        person = doc.current_person
        self.people_box.blockSignals(True)
        self.people_box.setCurrentIndex(doc.person)
        self.people_box.blockSignals(False)
        self.image_view.set_people(doc.boxes(), doc.person)
        self.image_view.set_keypoints(person.person.landmarks, person.person.visibility)
        self.tell_tools("person_shown", doc)
        it, final = doc.current, person.final
        self.mesh_view.set_body(it.vertices, doc.result.faces, it.joints, doc.result.parents,
                                doc.result.part_labels,  # every iteration's body in frame
                                framed=np.vstack([i.vertices for i in person.steps()]))
        # The photo goes behind every iteration's body (their depths differ a lot).
        farthest = max(i.image_camera.translation[2] for i in person.steps())
        self.mesh_view.set_camera(final.image_camera, doc.image,
                                  backdrop_depth=BACKDROP_DEPTH * farthest)
        if reset_camera:
            self.mesh_view.set_view("front")
        self.scrubber.set_count(doc.iteration_count, doc.iteration, doc.has_refined,
                                doc.refined_kept)
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
        final = doc.iteration == doc.iteration_count - 1
        self.image_view.set_mesh(points, doc.result.faces, depth, key=(doc.person, doc.iteration),
                                 fill=person.fill if final else None)
        self.image_view.set_sample_points(doc.sample_points())
        self.mesh_view.update_body(it.vertices, it.joints, it.image_camera.translation)
        self._show_displacement()
        self.tell_tools("iteration_shown", doc)
        if announce:
            s, tx, ty = it.crop_camera
            fitted = "" if it.fitted_cam is None else f" (fitted; net's s={it.cam[0]:.3f})"
            self.statusBar().showMessage(
                f"{doc.step_name()} \N{MIDDLE DOT} camera s={s:.3f} "
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
        refine = person.refine
        if refine is not None and refine.iou_before is not None and refine.kept:
            error += (f" (refined from IoU {refine.iou_before:.2f}" + (
                "" if refine.kp_error_before is None
                else f", error {refine.kp_error_before:.1f} px") + ")")
        elif refine is not None and refine.iou_after is not None:
            error += (f" (start kept: the refined mesh had IoU {refine.iou_after:.2f}" + (
                "" if refine.kp_error_after is None
                else f", error {refine.kp_error_after:.1f} px") + ")")
        self.info_label.setText(
            f"<b>{doc.title}</b> ({result.image_size[0]}\N{MULTIPLICATION SIGN}"
            f"{result.image_size[1]})<br>model {result.model_name} on {result.input_kind} "
            f"{result.input_size} px crops<br>mask IoU {iou} \N{MIDDLE DOT} "
            f"keypoint error {error}")
        self.timings_label.set_full_text(f"ms: {timings}")

    def set_mesh_style(self, filled: bool) -> None:
        self.image_view.set_mesh_style("filled" if filled else "wireframe")
        self.worker.stream_fill = filled  # live frames come with the style's drawing

    def undo_view(self) -> None:
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

    # ------------------------------------------------------------------ misc
    def settings_dialog(self) -> None:
        before = (self.settings.device, self.settings.model_folders)
        dialog = SettingsDialog(self.settings, self)
        if dialog.exec() and (self.settings.device, self.settings.model_folders) != before:
            self.set_model(self.model_name)

    def about(self) -> None:
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
