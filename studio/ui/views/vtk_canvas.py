"""A VTK scene rendered off screen and painted into an ordinary widget.

Why not an OpenGL widget (pyvistaqt's ``QtInteractor`` is a ``QOpenGLWidget``): with one
in a window, Qt composes the *whole* window through OpenGL on every repaint. On software
GL (llvmpipe, what CI and many remote desktops have) each composition cost 8-15 ms and
a live frame caused three or four of them, more than the 3D render itself. Rendering
off screen and painting the pixels keeps the rest of the window on Qt's raster backing
store; ``QWidget.grab`` then also sees the 3D view, so screenshots need no special case.

Mouse and wheel events are forwarded to a VTK interactor, so VTK's camera styles,
pickers and observers work as they do in an on-screen view. For live streams,
:meth:`set_render_scale` renders fewer pixels (scaled up when painted) and
``min_render_interval_s`` renders less often.
"""
from __future__ import annotations

import math
import time
from collections.abc import Callable

import numpy as np
import pyvista as pv
from PySide6.QtCore import QEvent, QRect, Qt, QTimer
from PySide6.QtGui import (QEnterEvent, QImage, QMouseEvent, QPainter, QPaintEvent,
                           QResizeEvent, QWheelEvent)
from PySide6.QtWidgets import QSizePolicy, QWidget
from vtkmodules.util.numpy_support import vtk_to_numpy
from vtkmodules.vtkCommonCore import vtkUnsignedCharArray

from studio.ui.views.body_scene import BACKGROUND, plain_theme

_BUTTON_EVENTS = {
    Qt.MouseButton.LeftButton: "LeftButton",
    Qt.MouseButton.RightButton: "RightButton",
    Qt.MouseButton.MiddleButton: "MiddleButton",
}


class VtkCanvas(QWidget):
    """Shows ``self.plotter`` (an off-screen :class:`pyvista.Plotter`).

    ``plotter.render()`` renders now and the widget repaints with the new pixels;
    :meth:`request_render` renders once at the event loop's next turn instead, so several
    changes in one event cost one render, and the render is an event of its own: the
    window's repaint, which waits for every dirty widget, then only copies pixels.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self.setMouseTracking(True)  # hover picking needs moves without a button held
        self.setFocusPolicy(Qt.FocusPolicy.WheelFocus)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(64, 64)
        self._scale = 1.0
        self.plotter = pv.Plotter(off_screen=True, theme=plain_theme(), lighting="light kit",
                                  window_size=self._pixel_size())
        # An off-screen plotter renders only after show(); this one is shown by Qt.
        self.plotter._first_time = False  # noqa: SLF001 (pyvista's own switch)
        self.plotter.set_background(BACKGROUND)
        self.plotter.disable_anti_aliasing()  # 3-4x cheaper on software GL
        self.interactor = self.plotter.iren.interactor
        # pyvista's pointer tracking (a pick per move); before the style adds its own
        self.interactor.RemoveObservers("MouseMoveEvent")
        self.plotter.enable_trackball_style()
        self.plotter.render_window.AddObserver("EndEvent", self._on_rendered)
        self._render_pending = True
        self._render_timer = QTimer(self)  # a real timer, not a posted event: see live.py
        self._render_timer.setSingleShot(True)
        self._render_timer.timeout.connect(self._render_queued_now)
        self.min_render_interval_s = 0.0  # queued renders come at most this often
        # Scene updates kept back for the next render (a view's own; True if it did any):
        # a queued render runs them in an event of their own first.
        self.prepare: Callable[[], bool] | None = None
        self._prepared = False
        self._rendered_at = -math.inf  # time.perf_counter() of the last render
        self._pixels: np.ndarray | None = None  # last read back, rows top to bottom
        self._pixels_stale = True
        self._painting = False
        self._closed = False

    # -- sizes -------------------------------------------------------------------------

    def pixel_ratio(self) -> float:
        """Render-window pixels per widget pixel (screen scaling times render scale)."""
        return self.devicePixelRatioF() * self._scale

    def _pixel_size(self) -> tuple[int, int]:
        ratio = self.pixel_ratio()
        return max(round(self.width() * ratio), 1), max(round(self.height() * ratio), 1)

    def set_render_scale(self, scale: float) -> None:
        """Render ``scale`` times the widget's pixels (1 sharp, 0.5 a quarter of the work)."""
        scale = float(min(max(scale, 0.25), 1.0))
        if scale != self._scale:
            self._scale = scale
            self._resize_window()

    def render_scale(self) -> float:
        return self._scale

    def _resize_window(self) -> None:
        if self._closed:
            return
        width, height = self._pixel_size()
        self.plotter.render_window.SetSize(width, height)
        self.interactor.SetSize(width, height)
        self.interactor.ConfigureEvent()
        self.request_render()

    # -- rendering and painting --------------------------------------------------------

    def request_render(self) -> None:
        """Render once at the event loop's next turn (or at a paint that comes first).

        Within ``min_render_interval_s`` of the last render, the render is left to a
        later request, which live frames make soon; one comes anyway after twice that
        interval. Renders then follow requests at once, in an event of their own,
        instead of on a clock of their own that would run them back to back with the
        window's other work for a frame, a longer wait for input."""
        if self._closed:
            return
        self._render_pending = True
        since = time.perf_counter() - self._rendered_at
        if since >= self.min_render_interval_s:
            self._render_timer.start(1)
        elif not self._render_timer.isActive():
            self._render_timer.start(math.ceil((2 * self.min_render_interval_s - since) * 1000))

    @property
    def render_due(self) -> bool:
        """A requested render has not happened yet."""
        return self._render_pending and not self._closed

    def _render_queued_now(self) -> None:
        """Render what was requested; scene updates kept back for it (``prepare``) run
        first, in an event of their own, so that input gets a turn between the two."""
        if not self.isVisible():  # a hidden view renders when it is painted again
            return
        if self.prepare is not None and not self._prepared and self._render_pending:
            self._prepared = True
            if self.prepare():
                self._render_timer.start(1)
                return
        self._prepared = False
        self.render_if_pending()

    def render_if_pending(self) -> None:
        """Render now what :meth:`request_render` left for the paint: pickers must see
        what will show."""
        if self._render_pending and not self._closed:
            self.plotter.render_window.Render()

    def _on_rendered(self, *_: object) -> None:
        self._render_pending = False
        self._rendered_at = time.perf_counter()
        self._pixels_stale = True
        if not self._painting:
            self.update()

    def _read_pixels(self) -> np.ndarray:
        window = self.plotter.render_window
        width, height = window.GetSize()
        data = vtkUnsignedCharArray()
        window.GetPixelData(0, 0, width - 1, height - 1, 0, data, 0)
        return np.ascontiguousarray(vtk_to_numpy(data).reshape(height, width, 3)[::-1])

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 (Qt's name)
        painter = QPainter(self)
        try:
            if self._closed:
                painter.fillRect(self.rect(), Qt.GlobalColor.black)
                return
            self._painting = True
            try:
                # a paint while a throttled render waits shows the last pixels
                if self._pixels is None or not (self._render_timer.isActive()
                                                and self.min_render_interval_s > 0):
                    self.render_if_pending()
                if self._pixels_stale:
                    self._pixels = self._read_pixels()
                    self._pixels_stale = False
            finally:
                self._painting = False
            height, width = self._pixels.shape[:2]
            image = QImage(self._pixels.data, width, height, 3 * width,
                           QImage.Format.Format_RGB888)
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, self._scale < 1)
            painter.drawImage(QRect(0, 0, self.width(), self.height()), image)
        finally:
            painter.end()

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802
        super().resizeEvent(event)
        self._resize_window()

    # -- input: Qt events to the VTK interactor ----------------------------------------

    def _set_event_info(self, event: QMouseEvent | QWheelEvent, repeat: int = 0) -> None:
        ratio = self.pixel_ratio()
        point = event.position()
        modifiers = event.modifiers()
        self.interactor.SetEventInformationFlipY(
            round(point.x() * ratio), round(point.y() * ratio),
            int(bool(modifiers & Qt.KeyboardModifier.ControlModifier)),
            int(bool(modifiers & Qt.KeyboardModifier.ShiftModifier)), chr(0), repeat, None)

    def _button_event(self, event: QMouseEvent, action: str) -> None:
        name = _BUTTON_EVENTS.get(event.button())
        if name is None or self._closed:
            return
        repeat = int(event.type() == QEvent.Type.MouseButtonDblClick)
        self._set_event_info(event, repeat)
        self.interactor.InvokeEvent(f"{name}{action}Event")

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        self._button_event(event, "Press")

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        self._button_event(event, "Press")

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        self._button_event(event, "Release")

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if not self._closed:
            self._set_event_info(event)
            self.interactor.InvokeEvent("MouseMoveEvent")

    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802
        delta = event.angleDelta().y()
        if delta and not self._closed:
            self._set_event_info(event)
            forward = "MouseWheelForwardEvent" if delta > 0 else "MouseWheelBackwardEvent"
            self.interactor.InvokeEvent(forward)

    def enterEvent(self, event: QEnterEvent) -> None:  # noqa: N802
        if not self._closed:
            self.interactor.InvokeEvent("EnterEvent")

    def leaveEvent(self, event: QEvent) -> None:  # noqa: N802
        if not self._closed:
            self.interactor.InvokeEvent("LeaveEvent")

    # -- lifetime ----------------------------------------------------------------------

    def close_canvas(self) -> None:
        """Release VTK's window and interactor now, not at interpreter exit."""
        if not self._closed:
            self._closed = True
            self.plotter.close()
            self.update()
