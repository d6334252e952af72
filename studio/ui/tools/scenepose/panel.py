"""The scene-pose dock: place the box (or a point), how many poses, the ranked list
(hover highlights a skeleton, a click lifts it to a body), and what the last request
did."""
from __future__ import annotations

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (QComboBox, QHBoxLayout, QLabel, QListWidget, QListWidgetItem,
                               QPushButton, QSpinBox, QVBoxLayout, QWidget)

from studio.pipeline.scenepose import RANK_COLOURS, GeneratedPose
from studio.ui.tools.scenepose.jobs import ModelChoices


class ScenePosePanel(QWidget):
    place_requested = Signal()
    point_requested = Signal()
    top_k_changed = Signal(int)
    class_changed = Signal(str)  # "" for any class
    hovered = Signal(int)   # rank under the mouse, -1 none
    picked = Signal(int)    # rank clicked
    shown = Signal()        # the dock became visible

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.place_button = QPushButton("Place box on photo")
        self.place_button.setToolTip("Put a placement box on the photo; drag and resize it "
                                     "and the poses follow")
        self.point_button = QPushButton("Place point")
        self.point_button.setToolTip("Ask with a point instead (the paper's way: the model "
                                     "also picks each pose's size); drag it and the poses "
                                     "follow")
        self.top_k = QSpinBox()
        self.top_k.setRange(1, 14)
        self.top_k.setValue(5)
        self.top_k.setPrefix("top ")
        self.pose_class = QComboBox()
        self.pose_class.addItem("any pose", "")
        self.pose_class.setToolTip("Only poses of this class (what the template's training "
                                   "people were doing); the list fills once the model is "
                                   "loaded")
        self.list = QListWidget()
        self.list.setMouseTracking(True)
        self.status = QLabel("Open a scene photo, then place a box.")
        self.status.setWordWrap(True)
        row = QHBoxLayout()
        row.addWidget(self.place_button, 1)
        row.addWidget(self.point_button)
        row.addWidget(self.pose_class)
        row.addWidget(self.top_k)
        layout = QVBoxLayout(self)
        layout.addLayout(row)
        layout.addWidget(self.list, 1)
        layout.addWidget(self.status)
        self.place_button.clicked.connect(self.place_requested)
        self.point_button.clicked.connect(self.point_requested)
        self.top_k.valueChanged.connect(self.top_k_changed)
        self.pose_class.currentIndexChanged.connect(
            lambda _: self.class_changed.emit(self.chosen_class()))
        self.list.itemEntered.connect(lambda item: self.hovered.emit(self.list.row(item)))
        self.list.itemClicked.connect(lambda item: self.picked.emit(self.list.row(item)))
        self.list.viewport().installEventFilter(self)

    def showEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        super().showEvent(event)
        QTimer.singleShot(0, self._announce_if_seen)

    def _announce_if_seen(self) -> None:
        """``shown``, once the layout has settled, only if the dock is really on screen
        (a window's first show passes through docks that end up behind another tab)."""
        if self.isVisible() and not self.visibleRegion().isEmpty():
            self.shown.emit()

    def has_choices(self) -> bool:
        """Whether the model's classes are listed yet."""
        return self.pose_class.count() > 1

    def eventFilter(self, watched, event) -> bool:  # noqa: N802 (Qt's name)
        if event.type() == event.Type.Leave:
            self.hovered.emit(-1)
        return False

    def chosen_class(self) -> str:
        return self.pose_class.currentData() or ""

    def set_choices(self, choices: ModelChoices) -> None:
        """What the model offers: up to ``choices.templates`` poses, of its classes."""
        if choices.templates:
            self.top_k.setMaximum(choices.templates)
        class_names = choices.class_names
        shown = tuple(self.pose_class.itemData(i) for i in range(1, self.pose_class.count()))
        if shown != class_names:
            self.pose_class.blockSignals(True)  # the choice stays; no new request
            chosen = self.chosen_class()
            while self.pose_class.count() > 1:
                self.pose_class.removeItem(1)
            for name in class_names:
                self.pose_class.addItem(name, name)
            self.pose_class.setCurrentIndex(max(0, self.pose_class.findData(chosen)))
            self.pose_class.blockSignals(False)

    def set_poses(self, poses: list[GeneratedPose]) -> None:
        self.list.clear()
        for rank, pose in enumerate(poses):
            item = QListWidgetItem(f"{rank + 1}. {pose.label()}   score {pose.score:.3f}")
            item.setForeground(QColor(*RANK_COLOURS[rank % len(RANK_COLOURS)]))
            item.setData(Qt.ItemDataRole.UserRole, rank)
            self.list.addItem(item)

    def set_status(self, text: str) -> None:
        self.status.setText(text)
