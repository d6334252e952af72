"""Pictures of a whole window, 3D views included.

``QWidget.grab`` cannot see into a VTK widget (it draws with OpenGL on its own), so
each interactor's own render is painted over its place in the grabbed image.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from pyvistaqt import QtInteractor
from PySide6.QtCore import QBuffer, QIODevice, QPoint, QRect
from PySide6.QtGui import QImage, QPainter
from PySide6.QtWidgets import QWidget

from studio.body.storage import atomic_write_bytes


def _to_qimage(rgb: np.ndarray) -> QImage:
    rgb = np.ascontiguousarray(rgb[:, :, :3], dtype=np.uint8)
    h, w = rgb.shape[:2]
    return QImage(rgb.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()


def grab_window(window: QWidget) -> QImage:
    """The window as shown, with every visible VTK view's current render composited in."""
    pixmap = window.grab()
    painter = QPainter(pixmap)
    try:
        for view in window.findChildren(QtInteractor):
            if not view.isVisible() or getattr(view, "_closed", True):
                continue
            view.render()
            frame = view.screenshot(None, return_img=True)
            origin = view.mapTo(window, QPoint(0, 0))
            painter.drawImage(QRect(origin, view.size()), _to_qimage(np.asarray(frame)))
    finally:
        painter.end()
    return pixmap.toImage()


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
