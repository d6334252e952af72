"""A studio window for GUI tests: settings in the test's own folder (never the user's),
the shared MediaPipe finder, shown and exposed on the virtual screen."""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import QSettings

from studio.pipeline.people import shared_finder


def studio_window(qtbot, folder: Path, size: tuple[int, int] | None = (1400, 900),
                  tools: Sequence[type] | None = None):
    """A shown :class:`StudioWindow` with settings in ``folder/studio.ini``; ``tools``
    replaces the window's tool list (None: the studio's own)."""
    from studio.ui.window.settings import StudioSettings
    from studio.ui.window.studio_window import StudioWindow
    from studio.ui.worker.worker import PipelineWorker

    settings = StudioSettings(QSettings(str(folder / "studio.ini"), QSettings.Format.IniFormat))
    extra = {} if tools is None else {"tools": tuple(tools)}
    win = StudioWindow(settings=settings, worker=PipelineWorker(finder=shared_finder()), **extra)
    qtbot.addWidget(win)
    if size is not None:
        win.resize(*size)
    win.show()
    qtbot.waitExposed(win)
    return win
