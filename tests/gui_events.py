"""Mouse events delivered straight to a widget: unlike moving the X pointer, they reach
the widget whatever other windows an earlier test left on the virtual screen."""
from __future__ import annotations

from PySide6.QtCore import QEvent, QPoint, QPointF, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QApplication, QWidget


def send_mouse_move(widget: QWidget, pos: QPoint) -> None:
    """A mouse move to widget pixel ``pos``, no button held."""
    event = QMouseEvent(QEvent.Type.MouseMove, QPointF(pos), QPointF(widget.mapToGlobal(pos)),
                        Qt.MouseButton.NoButton, Qt.MouseButton.NoButton,
                        Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(widget, event)
