"""Small builders every window shares: a VTK view filling a widget, and actions."""
from __future__ import annotations

from collections.abc import Callable

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QVBoxLayout, QWidget

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
