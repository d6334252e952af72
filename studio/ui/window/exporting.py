"""The studio window's File menu writes: meshes and parameters of the shown person, the
overlay image, a screenshot, and what tools export; and how it reports an error or a
notice without blocking."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QMetaObject, Qt
from PySide6.QtWidgets import QFileDialog, QMessageBox

from studio.errors import StudioError
from studio.io.export import EXPORT_TYPES, export_overlay, export_person
from studio.ui.tools.contract import Export
from studio.ui.views.window_capture import save_window_png

EXPORT_LABELS = ("OBJ mesh", "PLY mesh", "GLB mesh with the image camera",
                 "SMPL parameters, AMASS layout")


class ExportCommands:
    """The exporting half of :class:`~studio.ui.window.studio_window.StudioWindow`."""

    def report_error(self, title: str, message: str) -> None:
        """Tell the user without blocking (so scripted runs and tests go on)."""
        self.last_error = message
        box = QMessageBox(QMessageBox.Icon.Warning, title, message, QMessageBox.StandardButton.Ok,
                          self)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()

    def notify(self, title: str, message: str) -> None:
        """Tell the user something that needs no answer: in the status bar and a box
        that blocks nothing (shown once the event loop runs, after the window)."""
        self.last_notice = message
        self.statusBar().showMessage(message, 20000)
        box = QMessageBox(QMessageBox.Icon.Information, title, message,
                          QMessageBox.StandardButton.Ok, self)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.setWindowModality(Qt.WindowModality.NonModal)
        QMetaObject.invokeMethod(box, "show", Qt.ConnectionType.QueuedConnection)

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
        self._save_dialog("Export overlay image", "overlay.png", "Images (*.png *.jpg)",
                          self.export_overlay)

    def screenshot_dialog(self) -> None:
        self._save_dialog("Save screenshot", "studio.png", "PNG images (*.png)",
                          lambda path: [save_window_png(self, path)])

    def export_dialog_for(self, export: Export) -> None:
        """A tool's export (:class:`~studio.ui.tools.contract.Export`)."""
        self._save_dialog(export.label, export.default_name, export.file_filter, export.write)

    def _save_dialog(self, title: str, default_name: str, file_filter: str,
                     write: Callable[[Path], list[Path]]) -> None:
        path, _ = QFileDialog.getSaveFileName(self, title, default_name, file_filter)
        if path:
            self._written(lambda: write(Path(path)))

    def _written(self, write) -> None:
        """Run ``write`` (it returns the paths written); any failure is an error box."""
        try:
            paths = write()
        except (StudioError, OSError) as err:
            self.report_error("Export failed", str(err))
            return
        except Exception as err:  # noqa: BLE001 (a menu action answers with a box, whatever)
            self.report_error("Export failed", f"unexpected error: {type(err).__name__}: {err}")
            return
        names = ", ".join(p.name for p in paths[:4]) + (" \N{HORIZONTAL ELLIPSIS}" if len(paths) > 4 else "")
        self.statusBar().showMessage(f"saved {names}", 8000)
