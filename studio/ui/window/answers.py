"""How the studio window takes the worker's answers to its photo requests: progress,
the decoded photo, the loaded model, the result, a failure or a cancel. Live frames'
answers go to the live tool; tools' jobs' answers to their tools."""
from __future__ import annotations

import time
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import Slot
from PySide6.QtWidgets import QMainWindow

from studio.errors import ModelFileError
from studio.pipeline.people import NoPersonFound
from studio.ui.worker import heap

if TYPE_CHECKING:
    from studio.pipeline.results import FrameResult


class WorkerAnswers(QMainWindow):
    """The answering half of :class:`~studio.ui.window.studio_window.StudioWindow`: a
    ``QMainWindow`` itself, so that Qt runs these slots on the window's (UI) thread (a
    plain mixin's slots ran on the worker's thread, where the worker emits)."""

    def connect_worker(self) -> None:
        """Take the worker's answers (before any tool connects its own)."""
        self._heap_unsettled = False  # a model was loaded since the heap was last settled
        self.worker.image_ready.connect(self._on_image_ready)
        self.worker.progress.connect(self._on_progress)
        self.worker.model_ready.connect(self._on_model_ready)
        for signal in (self.worker.finished, self.worker.failed):  # before the live answers
            signal.connect(self._settle_heap)
        self.worker.finished.connect(self._on_finished)
        self.worker.failed.connect(self._on_failed)
        self.worker.cancelled.connect(self._on_cancelled)

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
        self.model_memory.loaded()

    @Slot()
    def _settle_heap(self, *_: object) -> None:
        """After the first answer of a newly loaded model, freeze what the load left out of
        later full collections (:mod:`studio.ui.worker.heap`). Here, on the UI thread, and
        not in the worker: a collection there deleted Qt objects that were garbage, and
        PySide then deadlocked against the UI thread deleting others."""
        if self._heap_unsettled:
            self._heap_unsettled = False
            heap.settle()

    @Slot(int, str, int)
    def _on_failed(self, request: int, message: str, exit_code: int) -> None:
        if self._current(request):
            if exit_code == ModelFileError.exit_code and self.model_memory.failed(message):
                return  # the remembered model is broken: the default runs instead
            if self.document.path is not None and self.document.image.size <= 3:
                self.settings.remove_recent(self.document.path)  # it could not be read
            self.failure = (message, exit_code)
            self._hide_progress(f"{self.document.title}: {message}")
            if exit_code == NoPersonFound.exit_code:
                # an answer, not a fault (a scene photo has nobody in it): no warning box
                self.last_notice = message
                self.info_label.setText(f"{message}. The Scene poses dock places poses "
                                        "in such a photo.")
            else:
                self.info_label.setText(message)
                self.report_error("Could not process the image", message)
            self.request_failed.emit(message, exit_code)

    @Slot(int)
    def _on_cancelled(self, request: int) -> None:
        if self._current(request):
            self._hide_progress("cancelled", 5000)
            self.info_label.setText("Cancelled. Choose a model or open a photo to run again.")

    @Slot(int, object)
    def _on_finished(self, request: int, result: FrameResult) -> None:
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
            self.people_box.addItem(f"{k}: {x1 - x0:.0f}\N{MULTIPLICATION SIGN}{y1 - y0:.0f} px")
        self.people_box.blockSignals(False)
        self.show_person(reset_camera=True)
        people = f"{doc.people_count} {'person' if doc.people_count == 1 else 'people'}"
        self._hide_progress(f"{doc.title}: {people} in "
                            f"{self.timings_ms['first_result'] / 1000:.1f} s", 10000)
        self.result_shown.emit()
