"""Small builders every window shares: a VTK view filling a widget, actions, narrow combo
boxes, and labels for docks: one that elides what does not fit, one that wraps."""
from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence, QResizeEvent
from PySide6.QtWidgets import QComboBox, QLabel, QSizePolicy, QVBoxLayout, QWidget

from studio.ui.views.vtk_canvas import VtkCanvas


def embedded_canvas(host: QWidget) -> VtkCanvas:
    """A VTK canvas filling ``host``."""
    canvas = VtkCanvas(host)
    layout = QVBoxLayout(host)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.addWidget(canvas)
    return canvas


def make_action(parent: QWidget, text: str, slot: Callable,
                shortcut: str | QKeySequence | QKeySequence.StandardKey | None = None,
                checkable: bool = False, checked: bool = False, tip: str = "",
                icon_text: str | None = None) -> QAction:
    """A QAction wired to ``slot``: ``toggled`` for checkable ones, else ``triggered``."""
    action = QAction(text, parent)
    if shortcut:
        action.setShortcut(QKeySequence(shortcut))
    if tip:
        action.setStatusTip(tip)
        action.setToolTip(tip)
    if icon_text:
        action.setIconText(icon_text)
    action.setCheckable(checkable)
    if checkable:
        action.setChecked(checked)
        action.toggled.connect(slot)
    else:
        action.triggered.connect(slot)
    return action


def narrow(box: QComboBox, chars: int = 8) -> QComboBox:
    """``box`` asks for room for ``chars`` characters, not its longest entry (a dock
    holding it then leaves the views their room)."""
    box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
    box.setMinimumContentsLength(chars)
    return box


class WrappingLabel(QLabel):
    """Word-wrapped text that asks for the height of all its lines: a dock does not ask
    a label's height for its width, so lines wrapped past its first height were cut off."""

    def __init__(self, text: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWordWrap(True)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Minimum)
        self.setText(text)

    def setText(self, text: str) -> None:  # noqa: N802 (Qt's name)
        super().setText(text)
        self._fit()

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 (Qt's name)
        super().resizeEvent(event)
        self._fit()

    def _fit(self) -> None:
        self.setMinimumHeight(self.heightForWidth(max(self.width(), 1)))


class ElidedLabel(QLabel):
    """One line of plain text that ends in an ellipsis where the label is too narrow;
    the whole text is its tooltip. It never widens its dock, nor grows a line a dock
    would not make room for."""

    def __init__(self, text: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.setTextFormat(Qt.TextFormat.PlainText)
        self.full_text = ""
        self.set_full_text(text)

    def set_full_text(self, text: str) -> None:
        self.full_text = text
        self.setToolTip(text)
        self._elide()

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 (Qt's name)
        super().resizeEvent(event)
        self._elide()

    def _elide(self) -> None:
        self.setText(self.fontMetrics().elidedText(self.full_text, Qt.TextElideMode.ElideRight,
                                                   max(self.width(), 1)))
