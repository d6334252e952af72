"""Mouse events delivered straight to a widget: unlike moving the X pointer, they reach
the widget whatever other windows an earlier test left on the virtual screen."""
from __future__ import annotations

from PySide6.QtCore import QEvent, QPoint, QPointF, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QApplication, QWidget


def send_mouse_move(widget: QWidget, pos: QPoint) -> None:
    """A mouse move to widget pixel ``pos``, no button held."""
    send_mouse(widget, "move", pos, Qt.MouseButton.NoButton)


def send_mouse(widget: QWidget, kind: str, pos: QPoint, button: Qt.MouseButton) -> None:
    """A "press", "move" (with ``button`` held) or "release" at widget pixel ``pos``."""
    event_type = {"press": QEvent.Type.MouseButtonPress, "move": QEvent.Type.MouseMove,
                  "release": QEvent.Type.MouseButtonRelease}[kind]
    held = Qt.MouseButton.NoButton if kind == "release" else button
    changed = Qt.MouseButton.NoButton if kind == "move" else button
    event = QMouseEvent(event_type, QPointF(pos), QPointF(widget.mapToGlobal(pos)), changed,
                        held, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(widget, event)
