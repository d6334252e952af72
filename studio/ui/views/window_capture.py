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

from studio.body.storage import atomic_write_bytes


def grab_window(window: QWidget) -> QImage:
    """The window as shown now (pending 3D renders happen while it paints)."""
    return window.grab().toImage()


def save_window_png(window: QWidget, path: str | os.PathLike) -> Path:
    """Write :func:`grab_window` to a PNG, replacing any old file atomically."""
    path = Path(path)
    buffer = QBuffer()
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    if not grab_window(window).save(buffer, "PNG"):
        raise OSError(f"could not encode the window picture for {path}")
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, bytes(buffer.data()))
    return path
