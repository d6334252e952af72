"""The scene-pose dock: place the box, how many poses, the ranked list (hover highlights
a skeleton, a click lifts it to a body), and what the last request did."""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (QHBoxLayout, QLabel, QListWidget, QListWidgetItem, QPushButton,
                               QSpinBox, QVBoxLayout, QWidget)

from studio.pipeline.scenepose import RANK_COLOURS, GeneratedPose


class ScenePosePanel(QWidget):
    place_requested = Signal()
    top_k_changed = Signal(int)
    hovered = Signal(int)   # rank under the mouse, -1 none
    picked = Signal(int)    # rank clicked

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.place_button = QPushButton("Place box on photo")
        self.place_button.setToolTip("Put a placement box on the photo; drag and resize it "
                                     "and the poses follow")
        self.top_k = QSpinBox()
        self.top_k.setRange(1, 14)
        self.top_k.setValue(5)
        self.top_k.setPrefix("top ")
        self.list = QListWidget()
        self.list.setMouseTracking(True)
        self.status = QLabel("Open a scene photo, then place a box.")
        self.status.setWordWrap(True)
        row = QHBoxLayout()
        row.addWidget(self.place_button, 1)
        row.addWidget(self.top_k)
        layout = QVBoxLayout(self)
        layout.addLayout(row)
        layout.addWidget(self.list, 1)
        layout.addWidget(self.status)
        self.place_button.clicked.connect(self.place_requested)
        self.top_k.valueChanged.connect(self.top_k_changed)
        self.list.itemEntered.connect(lambda item: self.hovered.emit(self.list.row(item)))
        self.list.itemClicked.connect(lambda item: self.picked.emit(self.list.row(item)))
        self.list.viewport().installEventFilter(self)

    def eventFilter(self, watched, event) -> bool:  # noqa: N802 (Qt's name)
        if event.type() == event.Type.Leave:
            self.hovered.emit(-1)
        return False

    def set_poses(self, poses: list[GeneratedPose]) -> None:
        self.list.clear()
        for rank, pose in enumerate(poses):
            item = QListWidgetItem(f"{rank + 1}. {pose.label()}   score {pose.score:.3f}")
            item.setForeground(QColor(*RANK_COLOURS[rank % len(RANK_COLOURS)]))
            item.setData(Qt.ItemDataRole.UserRole, rank)
            self.list.addItem(item)

    def set_status(self, text: str) -> None:
        self.status.setText(text)
