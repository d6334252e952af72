"""Live capture in the studio window: a video file or a webcam streamed through the
pipeline worker and shown as results arrive; pause (the last result stays and can be
scrubbed), recording to a session folder, and reconnecting a source that vanished.

Three threads, none waiting on another: the capture thread reads frames at the
source's pace and keeps the worker fed (:mod:`studio.ui.live.capture`), the worker runs
the models, and the UI thread tracks, records and shows each answer. Live requests
have ids of their own, so the window ignores their answers and progress.

Live capture is a tool (:mod:`studio.ui.tools.contract`): it contributes the Live menu
and a status-bar readout, pauses when a photo is opened, and shows its frames through
the window's host methods.
"""
from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from dataclasses import asdict, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Slot
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QFileDialog, QLabel, QMenu

from studio.errors import StudioError
from studio.io.session import SessionWriter, check_new_session
from studio.pipeline.people import NoPersonFound
from studio.pipeline.people_tracking import PeopleTracker
from studio.pipeline.results import FrameResult
from studio.pipeline.smoothing import SmoothingSettings
from studio.pipeline.sources import FrameSource, parse_source
from studio.pipeline.tracking import TrackedPerson, default_focal
from studio.ui.live.capture import LIVE_REQUESTS, CaptureThread, LiveFrame, default_in_flight
from studio.ui.live.recording_export import RecordingExport
from studio.ui.live.stats import LiveStats
from studio.ui.live.view import LiveView
from studio.ui.tools.contract import Tool, ToolHost
from studio.ui.views.widgets import make_action
from studio.ui.worker.jobs import ModelChoice, StreamFrame

if TYPE_CHECKING:
    import numpy as np

    from studio.ui.document import StudioDocument

STATUS_INTERVAL_MS = 500
VIDEO_FILTER = "Videos (*.mp4 *.avi *.mov *.mkv *.webm *.m4v);;All files (*)"


class LiveController(QObject, Tool):
    """Adds a Live menu and a status-bar readout to ``window`` and runs live capture in
    its views. Stops with the window (it watches the window's close event).

    ``state`` is "idle", "streaming", "paused", "ended", "lost" or "failed".
    ``session_writer`` makes the recording's writer (tests give one whose disk fills).
    """

    name = "live"

    def __init__(self, window: ToolHost) -> None:
        super().__init__(window)
        self.window = window
        self.worker = window.worker
        self.stats = LiveStats()
        self.smoothing = SmoothingSettings()
        self.session_writer: Callable[..., SessionWriter] = SessionWriter
        self.source: FrameSource | None = None
        self.state = "idle"
        self.recording: Path | None = None  # the session folder being recorded
        self._writer: SessionWriter | None = None  # made at the first recorded frame
        self._capture: CaptureThread | None = None
        self._requests = itertools.count(LIVE_REQUESTS)
        self._streams = itertools.count(1)
        self._stream = StreamFrame(0)  # what the worker is told about the frames it gets
        # The newest answer waiting to be drawn: frame, result (None: nobody), people.
        self._pending: tuple[LiveFrame, FrameResult | None, list[TrackedPerson]] | None = None
        self._choice = self._window_choice()
        self._people = PeopleTracker(self.smoothing)
        self._body = ""  # the body model of the latest result, for the session's meta
        self.in_flight = default_in_flight()  # frames overlapping in the worker's stages
        self.view = LiveView(window)

        self.status_label = QLabel()
        self.status_label.setToolTip("Live capture: results per second, latency from "
                                     "reading a frame to its result on screen, frames "
                                     "dropped because a newer one came first")
        self.status_label.hide()
        window.statusBar().addPermanentWidget(self.status_label)
        self._timer = QTimer(self)
        self._timer.setInterval(STATUS_INTERVAL_MS)
        self._timer.timeout.connect(self._refresh_status)
        self.live_menu = self._build_menu()

        self.worker.finished.connect(self._on_finished)
        self.worker.failed.connect(self._on_failed)
        self.worker.cancelled.connect(self._on_cancelled)
        # Connected after the queued slots above, so an answer is queued for the UI
        # before the capture thread, woken here, can report the source's end or loss.
        for signal in (self.worker.finished, self.worker.failed, self.worker.cancelled):
            signal.connect(self._on_answered, Qt.ConnectionType.DirectConnection)
        self.worker.released.connect(self._on_released, Qt.ConnectionType.DirectConnection)
        window.installEventFilter(self)
        self._update_actions()

    @classmethod
    def of(cls, window: ToolHost) -> LiveController:
        """``window``'s controller, made and attached on first use."""
        return window.tool(cls)

    # ------------------------------------------------------------------ as a tool
    def menu(self) -> QMenu:
        return self.live_menu

    def photo_opened(self, document: StudioDocument) -> None:
        self.set_paused(True)  # a photo takes the views; Live > Pause resumes

    def _build_menu(self) -> QMenu:
        win = self.window
        self.open_video_action = make_action(
            win, "Open &video\N{HORIZONTAL ELLIPSIS}", self.open_video_dialog,
            "Ctrl+Shift+O", tip="Stream a video file (looping) through the model")
        self.webcam_action = make_action(win, "&Webcam", lambda: self.start_spec("webcam:0"),
                                         tip="Stream the first webcam through the model")
        self.pause_action = make_action(win, "&Pause", self.set_paused, "Ctrl+Shift+P",
                                        checkable=True, tip="Stop taking frames; the last "
                                        "result stays and its iterations can be scrubbed")
        self.record_action = make_action(win, "&Record\N{HORIZONTAL ELLIPSIS}",
                                         self._on_record_toggled, "Ctrl+R", checkable=True,
                                         tip="Record every processed frame's people to a "
                                         "new session folder")
        self.stop_action = make_action(win, "&Stop", self.stop, "Ctrl+.",
                                       tip="Close the source; the last result stays")
        self.reconnect_action = make_action(win, "Re&connect", self.reconnect,
                                            tip="Open the lost source again")
        self.smooth_action = make_action(win, "S&mooth recorded poses", self.set_smoothing,
                                         checkable=True, tip="One-Euro filter over each "
                                         "track's pose, shape and position in recordings")
        self.several_action = make_action(
            win, "Follow se&veral people", self.set_several_people, checkable=True,
            tip="Search every frame for everyone in view (several times slower); "
            "otherwise MediaPipe follows the one person it found first")
        menu = QMenu("&Live", win)
        for action in (self.open_video_action, self.webcam_action, None, self.pause_action,
                       self.record_action, self.stop_action, self.reconnect_action, None,
                       self.several_action, self.smooth_action, None):
            menu.addSeparator() if action is None else menu.addAction(action)
        self.exporter = RecordingExport(win)  # recordings out as npz, BVH, GLB, OBJ frames
        self.exporter.add_to(menu)
        return menu

    # ------------------------------------------------------------------ control
    @property
    def busy(self) -> bool:
        """A frame is being processed or waits for the worker."""
        return self._capture is not None and self._capture.busy

    def open_video_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self.window, "Open video", "", VIDEO_FILTER)
        if path:
            self.start_spec(f"video:{path}")

    def start_spec(self, spec: str) -> None:
        """Stream ``webcam:N``, ``video:PATH`` (looping) or ``folder:PATH``."""
        try:
            self.start(parse_source(spec, loop=True))
        except StudioError as err:
            self.window.report_error("Live capture", str(err))

    def start(self, source: FrameSource) -> None:
        """Stream ``source`` (not yet opened) into the window, from fresh counts."""
        self.stop()
        self.source = source
        self.stats = LiveStats()
        self._people = PeopleTracker(self.smoothing)
        self._start_capture()

    def reconnect(self) -> None:
        """Open the source again after it was lost or ended; counts go on."""
        if self.source is not None and self.state in ("lost", "ended", "failed"):
            self._end_capture()
            self._start_capture()

    def set_paused(self, paused: bool) -> None:
        """Stop or go on submitting frames; the source stays open."""
        if self._capture is None or self.state not in ("streaming", "paused"):
            return
        self._capture.set_paused(paused)
        self._set_state("paused" if paused else "streaming")

    def stop(self) -> None:
        """Close the source and the recording; the last drawn result stays in the window."""
        self._end_capture()
        self._pending = None
        self.stop_recording()
        if self.state in ("streaming", "paused"):
            self._set_state("idle")

    def set_smoothing(self, enabled: bool) -> None:
        """Smooth the people recorded from now on (the views show raw results)."""
        self.smoothing = SmoothingSettings(enabled=enabled)
        self._people.smoother.settings = self.smoothing

    @property
    def several_people(self) -> bool:
        """Each frame is searched for everyone, instead of following one person."""
        return self._stream.several_people

    def set_several_people(self, enabled: bool) -> None:
        """Search each frame for everyone (from the next frame on), or follow one person."""
        self._stream = replace(self._stream, several_people=enabled)

    def _start_capture(self) -> None:
        self._choice = self._window_choice()
        self._stream = replace(self._stream, stream=next(self._streams))
        capture = CaptureThread(self.source, self._submit, self._requests, self.stats,
                                self.in_flight)
        capture.lost.connect(self._on_lost)
        capture.ended.connect(self._on_ended)
        capture.failed.connect(self._on_source_failed)
        self._capture = capture
        self._set_state("streaming")
        capture.start()

    def _end_capture(self) -> None:
        capture, self._capture = self._capture, None
        if capture is not None:
            capture.stop()

    def _window_choice(self) -> ModelChoice:
        return ModelChoice(name=self.window.model_name, device=self.window.settings.device)

    def _submit(self, request: int, image: np.ndarray) -> None:
        """In the capture thread: the model chosen when the last result came."""
        self.worker.submit(request, image, self._choice, self._stream)

    # ------------------------------------------------------------------ recording
    def start_recording(self, folder: Path) -> None:
        """Record each processed frame's tracked people into the new session ``folder``
        (checked now; its files are written as frames come)."""
        if self._capture is None:
            raise StudioError("start a video or webcam before recording")
        check_new_session(folder)
        self.stop_recording()
        self.recording = Path(folder)
        self._set_record_checked(True)
        self._refresh_status()

    def stop_recording(self) -> Path | None:
        """Write what is buffered and close the session; returns its folder (None when
        nothing was recording)."""
        folder, writer = self.recording, self._writer
        self.recording, self._writer = None, None
        self._set_record_checked(False)
        if writer is not None:
            try:
                writer.close()
            except StudioError as err:
                self.window.report_error("Recording stopped", str(err))
            else:
                self.window.statusBar().showMessage(
                    f"recorded {writer.frames} frames in {folder}", 10000)
                self.exporter.recorded(folder)
        self._refresh_status()
        return folder

    def record_dialog(self) -> None:
        parent = QFileDialog.getExistingDirectory(self.window, "Record sessions into")
        if not parent:
            self._set_record_checked(False)
            return
        folder = Path(parent) / f"session-{datetime.now():%Y%m%d-%H%M%S}"
        try:
            self.start_recording(folder)
        except StudioError as err:
            self._set_record_checked(False)
            self.window.report_error("Cannot record", str(err))

    def _on_record_toggled(self, on: bool) -> None:
        if on and self.recording is None:
            self.record_dialog()
        elif not on and self.recording is not None:
            self.stop_recording()

    def _set_record_checked(self, on: bool) -> None:
        _set_checked_quietly(self.record_action, on)

    def _record(self, live: LiveFrame, people: list[TrackedPerson],
                timings: dict[str, float]) -> None:
        if self.recording is None:
            return
        frame = live.frame
        try:
            if self._writer is None:
                size = frame.image.shape[1::-1]
                meta = {"source": self.source.description, "model": self._choice.name,
                        "body": self._body, "image_size": list(size),
                        "focal": default_focal(size), "smoothing": asdict(self.smoothing)}
                self._writer = self.session_writer(self.recording, self.source.fps, meta)
            self._writer.append(frame.index, frame.timestamp, people, timings)
        except StudioError as err:  # a full disk: what was written stays readable
            self._writer = None
            self.stop_recording()
            self.window.report_error("Recording stopped", str(err))

    @property
    def recorded(self) -> int:
        """Frames recorded into the current session so far."""
        return 0 if self._writer is None else self._writer.frames

    # ------------------------------------------------------------------ answers
    def _on_released(self, request: int) -> None:
        """In the worker thread, as a frame's model is done: the next frame may start."""
        capture = self._capture
        if capture is not None:
            capture.released(request)

    def _on_answered(self, request: int, *answer: object) -> None:
        """In the worker thread, as it answers: the capture thread may submit again."""
        capture = self._capture
        if capture is not None:
            result = answer[0] if answer and isinstance(answer[0], FrameResult) else None
            capture.answered(request, None if result is None else sum(
                ms for stage, ms in result.timings_ms.items() if stage != "detect"))

    def _take(self, request: int) -> LiveFrame | None:
        return None if self._capture is None else self._capture.take(request)

    def _shows(self) -> bool:
        """Answers go to the window while streaming, or while paused if the window
        still shows the live frame (a photo opened since keeps the window)."""
        return self.state == "streaming" or self.view.in_window

    @Slot(int, object)
    def _on_finished(self, request: int, result: FrameResult) -> None:
        live = self._take(request)
        if live is None:
            return
        self.stats.processed += 1
        self._body = result.body_name
        people = self._people.update(result.people, live.frame)
        self._record(live, people, result.timings_ms)
        self._show_soon(live, result, people)
        self._choice = self._window_choice()

    @Slot(int, str, int)
    def _on_failed(self, request: int, message: str, exit_code: int) -> None:
        live = self._take(request)
        if live is None:
            return
        self.stats.processed += 1
        if exit_code == NoPersonFound.exit_code:
            self.stats.no_person += 1
            self._record(live, self._people.update([], live.frame), {})
            self._show_soon(live, None, [])
            return
        self.stop()
        self._set_state("failed")
        self.window.report_error("Live capture stopped", message)

    def _show_soon(self, live: LiveFrame, result: FrameResult | None,
                   people: list[TrackedPerson]) -> None:
        """Draw this answer at the event loop's next turn, unless a newer one comes
        first: answers that queued up while the views were drawing replace each other,
        so the views never fall behind the stream (every answer is still tracked and
        recorded)."""
        if not self._shows():
            return
        if self._pending is None:
            # 1 ms, not 0: a zero timer is a posted event, and posted events (this draw,
            # the repaint, the 3D render) would run back to back without letting timers
            # or input in between
            QTimer.singleShot(1, self._show_pending)
        else:
            self.stats.superseded += 1
        self._pending = (live, result, people)

    def _show_pending(self) -> None:
        if self._pending is None:
            return
        (live, result, people), self._pending = self._pending, None
        if not self._shows():
            return
        if result is None:
            self.view.show_nobody(live.frame.image)
            return
        labels = [f"{k}: track {p.track_id}" for k, p in enumerate(people)]
        self.view.show(live.frame.image, result, labels, f"live: {self.source.description}")
        self.stats.shown(live.read_at, time.perf_counter())

    @Slot(int)
    def _on_cancelled(self, request: int) -> None:
        if self._take(request) is not None:  # a photo's request came first
            self.stats.cancelled += 1

    def _on_lost(self, message: str) -> None:
        folder, frames = self.recording, self.recorded
        self.stop_recording()
        self._set_state("lost")
        kept = f"\n\nThe recording is kept: {frames} frames in {folder}." if frames else ""
        self.window.statusBar().showMessage(f"live source lost: {message}")
        self.window.report_error("Live source lost", f"{message}{kept}\n\nChoose Live "
                                 "\N{BLACK RIGHT-POINTING SMALL TRIANGLE} Reconnect to "
                                 "try again.")

    def _on_ended(self) -> None:
        self.stop_recording()
        self._set_state("ended")
        self.window.statusBar().showMessage(f"{self.source.description}: end of the source",
                                            10000)

    def _on_source_failed(self, message: str) -> None:
        self.stop_recording()
        self._set_state("failed")
        self.window.report_error("Live capture", message)

    # ------------------------------------------------------------------ status
    def _set_state(self, state: str) -> None:
        self.state = state
        streaming = state == "streaming"  # coarser views while frames stream
        self.window.set_streaming(streaming)
        if state in ("streaming", "paused"):
            self._timer.start()
        else:
            self._timer.stop()
        _set_checked_quietly(self.pause_action, state == "paused")
        self._update_actions()
        self._refresh_status()

    def _update_actions(self) -> None:
        active = self.state in ("streaming", "paused")
        self.pause_action.setEnabled(active)
        self.record_action.setEnabled(active or self.recording is not None)
        self.stop_action.setEnabled(active)
        self.reconnect_action.setEnabled(self.state in ("lost", "ended", "failed"))

    def _refresh_status(self) -> None:
        self.view.refresh_info()
        if self.state == "idle" and not self.stats.read:
            self.status_label.hide()
            return
        text = self.stats.text(time.perf_counter())
        if self.recording is not None:
            text += f" \N{MIDDLE DOT} \N{BLACK CIRCLE} rec {self.recorded}"
        if self.state != "streaming":
            text += f" \N{MIDDLE DOT} {self.state}"
        self.status_label.setText(text)
        self.status_label.show()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt's name)
        if watched is self.window and event.type() == QEvent.Type.Close:
            self.stop()
            self.exporter.cancel()
        return False


def _set_checked_quietly(action: QAction, on: bool) -> None:
    """Show ``action`` checked or not without running what toggling it does."""
    action.blockSignals(True)
    action.setChecked(on)
    action.blockSignals(False)
