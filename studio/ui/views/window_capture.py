"""Pictures of a whole window, 3D views included.

The 3D views paint ordinary pixels (:class:`studio.ui.views.vtk_canvas.VtkCanvas`), so Qt's own
``grab`` sees everything; this adds the atomic PNG write.
"""
from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QBuffer, QIODevice
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QWidget

from studio.errors import StudioError
from studio.io.output import write_output


def grab_window(window: QWidget) -> QImage:
    """The window as shown now (pending 3D renders happen while it paints)."""
    return window.grab().toImage()


def save_window_png(window: QWidget, path: str | os.PathLike) -> Path:
    """Write :func:`grab_window` to a PNG, replacing any old file atomically (missing
    folders are made); a StudioError naming the file when it cannot be written."""
    path = Path(path)
    buffer = QBuffer()
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    if not grab_window(window).save(buffer, "PNG"):
        raise StudioError(f"{path}: could not encode the window picture")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise StudioError(f"{path}: cannot make its folder ({err.strerror or err})") from err
    write_output(path, bytes(buffer.data()))
    return path
