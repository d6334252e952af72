"""Starting the Qt application: load the body model, open the window, maybe capture it."""
from __future__ import annotations

import importlib
import sys
from pathlib import Path

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QMessageBox

from studio.body.model import BodyData
from studio.errors import ModelFileError, StudioError
from studio.ui.main_window import APP_TITLE, MainWindow
from studio.ui.window_capture import save_window_png

STYLE_SHEET = Path(__file__).resolve().parents[2] / "resources" / "style.qss"
# Time for the window to be exposed and drawn once before it is captured.
FIRST_RENDER_DELAY_MS = 300


def load_body_data(spec: str | None) -> BodyData:
    """The body model named by ``spec`` (None: the registry's default)."""
    try:
        registry = importlib.import_module("studio.body.registry")
    except ModuleNotFoundError as err:
        if err.name != "studio.body.registry":
            raise
        raise ModelFileError("no body model registry (studio.body.registry) is installed, "
                             "so no body model can be loaded") from err
    return registry.find_body_model(spec)


def application() -> QApplication:
    """The running QApplication, created (with the studio's look) when there is none."""
    app = QApplication.instance()
    if app is None:
        app = QApplication(sys.argv[:1])
        app.setApplicationName(APP_TITLE)
        app.setStyle("Fusion")
        if STYLE_SHEET.is_file():
            app.setStyleSheet(STYLE_SHEET.read_text(encoding="utf-8"))
    return app


def run_gui(model: str | None = None, image: Path | None = None,
            screenshot: Path | None = None, quit_after: bool = False) -> int:
    """Open the main window; with ``screenshot`` save it after the first render.

    Unattended runs (screenshot or quit) raise model errors for the CLI to print;
    interactive runs show them in a message box.
    """
    app = application()
    try:
        data = load_body_data(model)
    except StudioError as err:
        if screenshot is not None or quit_after:
            raise
        QMessageBox.critical(None, APP_TITLE, str(err))
        return err.exit_code
    window = MainWindow(data)
    if image is not None:
        note = f"{image}: opening images is not supported yet; showing the body model only"
        print(f"studio: note: {note}", file=sys.stderr)
        window.statusBar().showMessage(note, 10000)
    window.show()

    def after_first_render() -> None:
        if screenshot is not None:
            print(f"wrote {save_window_png(window, screenshot)}")
        if quit_after:
            window.close()
            app.quit()

    if screenshot is not None or quit_after:
        QTimer.singleShot(FIRST_RENDER_DELAY_MS, after_first_render)
    app.exec()
    window.close()
    window.deleteLater()
    return 0
