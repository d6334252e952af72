"""The Live menu's exports: the window's last recording, or any recorded session folder,
as an AMASS-style npz, a BVH, an animated GLB or a folder of OBJ frames, written by
:func:`studio.io.motion_export.export_session` on a thread of its own while a
cancellable progress dialog follows it (the window stays live).
"""
from __future__ import annotations

import threading
from pathlib import Path

from PySide6.QtCore import QObject, Qt, QThread, Signal
from PySide6.QtWidgets import QFileDialog, QMenu, QProgressDialog

from studio.errors import StudioError
from studio.io.motion_export import OBJ_FOLDER, check_motion_destination, export_session
from studio.ui.tools.contract import ToolHost
from studio.ui.views.widgets import make_action

ELLIPSIS = "\N{HORIZONTAL ELLIPSIS}"
# Save-dialog filters and what each makes of a name without a suffix.
FILTERS = {"AMASS-style SMPL parameters (*.npz)": ".npz",
           "BVH motion, SMPL skeleton (*.bvh)": ".bvh",
           "Animated GLB with the capture camera (*.glb)": ".glb",
           "Folder of OBJ frames (*)": OBJ_FOLDER}


class ExportCancelled(StudioError):
    """The user cancelled the export (nothing is left behind)."""


class ExportThread(QThread):
    """Runs one :func:`export_session` and reports by signals (queued to the UI)."""

    progressed = Signal(int, int)  # frames done, frames in all
    succeeded = Signal(dict)  # export_session's answer
    failed = Signal(str)  # one line; "" when cancelled

    def __init__(self, session: Path, out: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.session, self.out = session, out
        self.cancel_requested = threading.Event()

    def run(self) -> None:
        try:
            info = export_session(self.session, self.out, progress=self._report)
        except ExportCancelled:
            self.failed.emit("")
        except (StudioError, OSError) as err:
            self.failed.emit(str(err))
        except Exception as err:  # noqa: BLE001 (the window answers with a box, whatever)
            self.failed.emit(f"unexpected error: {type(err).__name__}: {err}")
        else:
            self.succeeded.emit(info)

    def _report(self, done: int, total: int) -> None:
        if self.cancel_requested.is_set() and done < total:  # done: nothing to undo
            raise ExportCancelled("export cancelled")
        self.progressed.emit(done, total)


class RecordingExport(QObject):
    """The Live menu's two export actions and the export running now (if any)."""

    def __init__(self, window: ToolHost) -> None:
        super().__init__(window)
        self.window = window
        self.last_recording: Path | None = None  # what the window recorded last
        self.running: ExportThread | None = None
        self.progress: QProgressDialog | None = None
        self.last_export: dict | None = None  # the last export's answer
        self.export_recording_action = make_action(
            window, f"E&xport recording{ELLIPSIS}", self.export_recording_dialog,
            tip="The last recording as npz, BVH, animated GLB or a folder of OBJ frames")
        self.export_session_action = make_action(
            window, f"Export a session &folder{ELLIPSIS}", self.export_session_dialog,
            tip="A recorded session folder (Record's or `studio capture --record`'s) as "
                "npz, BVH, animated GLB or OBJ frames")
        self.export_recording_action.setEnabled(False)

    def add_to(self, menu: QMenu) -> None:
        menu.addAction(self.export_recording_action)
        menu.addAction(self.export_session_action)

    def recorded(self, folder: Path) -> None:
        """The window finished recording ``folder``: Export recording takes it."""
        self.last_recording = Path(folder)
        self.export_recording_action.setEnabled(True)

    # ------------------------------------------------------------------ dialogs
    def export_recording_dialog(self) -> None:
        if self.last_recording is not None:
            self._ask_destination(self.last_recording)

    def export_session_dialog(self) -> None:
        folder = QFileDialog.getExistingDirectory(self.window, "Session folder to export")
        if folder:
            self._ask_destination(Path(folder))

    def _ask_destination(self, session: Path) -> None:
        path, chosen = QFileDialog.getSaveFileName(
            self.window, "Export motion", str(session.with_name(f"{session.name}.glb")),
            ";;".join(FILTERS))
        if not path:
            return
        fmt = FILTERS.get(chosen)
        if fmt == OBJ_FOLDER:
            path = str(Path(path).with_suffix("")) + "/"
        elif fmt is not None and not Path(path).suffix:
            path += fmt
        self.start(session, path)

    # ------------------------------------------------------------------ running
    def start(self, session: Path, out: str) -> ExportThread | None:
        """Export ``session`` to ``out`` (format by the name) on a thread; the
        destination is checked first (an error box and None when it cannot be)."""
        if self.running is not None:
            self.window.report_error("Export", "an export is running; wait for it or "
                                     "cancel it first")
            return None
        try:
            check_motion_destination(out)
        except StudioError as err:
            self.window.report_error("Export failed", str(err))
            return None
        thread = ExportThread(Path(session), out, self)
        dialog = QProgressDialog(f"Exporting {Path(session).name} to {out}", "Cancel", 0, 0,
                                 self.window)
        dialog.setWindowTitle("Export motion")
        dialog.setWindowModality(Qt.WindowModality.NonModal)
        dialog.setMinimumDuration(0)
        dialog.setAutoClose(False)
        dialog.setAutoReset(False)
        dialog.canceled.connect(thread.cancel_requested.set)
        thread.progressed.connect(self._on_progress)
        thread.succeeded.connect(self._on_succeeded)
        thread.failed.connect(self._on_failed)
        thread.finished.connect(self._on_thread_finished)
        self.running, self.progress = thread, dialog
        dialog.show()
        thread.start()
        return thread

    def cancel(self) -> None:
        """Stop the running export (nothing of it is left) and wait for its thread."""
        thread = self.running
        if thread is not None:
            thread.cancel_requested.set()
            thread.wait()

    def _on_progress(self, done: int, total: int) -> None:
        if self.progress is not None:
            self.progress.setMaximum(max(total, 1))
            self.progress.setValue(done)

    def _on_succeeded(self, info: dict) -> None:
        self.last_export = info
        self.window.statusBar().showMessage(
            f"exported track {info['track']}: {info['frames']} frames at {info['fps']:.1f} "
            f"fps to {info['path']}", 10000)

    def _on_failed(self, message: str) -> None:
        if message:
            self.window.report_error("Export failed", message)
        else:
            self.window.statusBar().showMessage("export cancelled; nothing was written", 8000)

    def _on_thread_finished(self) -> None:
        thread, self.running = self.running, None
        if self.progress is not None:
            self.progress.close()
            self.progress.deleteLater()
            self.progress = None
        if thread is not None:
            thread.deleteLater()
