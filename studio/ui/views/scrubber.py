"""The iteration scrubber: a slider over the initial estimate and each feedback
iteration, step buttons, play, and the "colour by movement" switch."""
from __future__ import annotations

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (QCheckBox, QHBoxLayout, QLabel, QSlider, QStyle, QToolButton,
                               QWidget)

from studio.ui.document import iteration_name

PLAY_INTERVAL_MS = 700  # long enough to see each step, short enough to read as motion


class IterationScrubber(QWidget):
    """Emits ``iteration_changed`` whenever the shown iteration changes, by any means."""

    iteration_changed = Signal(int)
    movement_colouring_changed = Signal(bool)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setTickPosition(QSlider.TickPosition.TicksBelow)
        self.slider.setTickInterval(1)
        self.slider.setPageStep(1)
        self.slider.valueChanged.connect(self._on_value)
        self.back_button = self._button(QStyle.StandardPixmap.SP_MediaSeekBackward,
                                        "Previous iteration (Left)", self.step_back)
        self.play_button = self._button(QStyle.StandardPixmap.SP_MediaPlay,
                                        "Play the iterations (Space)", self.toggle_play)
        self.play_button.setCheckable(True)
        self.forward_button = self._button(QStyle.StandardPixmap.SP_MediaSeekForward,
                                           "Next iteration (Right)", self.step_forward)
        self.label = QLabel()
        self.label.setMinimumWidth(190)
        self.movement_box = QCheckBox("Colour by movement")
        self.movement_box.setToolTip("Colour the mesh by how far each vertex moved since the "
                                     "previous iteration (mm)")
        self.movement_box.toggled.connect(self.movement_colouring_changed)
        self._timer = QTimer(self)
        self._timer.setInterval(PLAY_INTERVAL_MS)
        self._timer.timeout.connect(self._advance)

        layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 2, 8, 2)
        for widget in (self.back_button, self.play_button, self.forward_button):
            layout.addWidget(widget)
        layout.addWidget(self.slider, 1)
        layout.addWidget(self.label)
        layout.addWidget(self.movement_box)
        self._refined, self._kept = False, True
        self.set_count(0)

    def _button(self, icon: QStyle.StandardPixmap, tip: str, slot) -> QToolButton:
        button = QToolButton()
        button.setIcon(self.style().standardIcon(icon))
        button.setToolTip(tip)
        button.clicked.connect(slot)
        return button

    def set_count(self, count: int, current: int | None = None, refined: bool = False,
                  kept: bool = True) -> None:
        """Offer iterations 0..count-1 (none: disabled), showing ``current`` (default last);
        ``refined``: the last is the refined step (not ``kept``: it shows the start)."""
        self.stop()
        self._refined, self._kept = refined, kept
        self.setEnabled(count > 0)
        self.slider.blockSignals(True)
        self.slider.setRange(0, max(count - 1, 0))
        self.slider.setValue(count - 1 if current is None else current)
        self.slider.blockSignals(False)
        self._count = count
        self._update_label()

    @property
    def value(self) -> int:
        return self.slider.value()

    def set_value(self, index: int) -> None:
        self.slider.setValue(index)

    def step_back(self) -> None:
        self.slider.setValue(self.slider.value() - 1)

    def step_forward(self) -> None:
        self.slider.setValue(self.slider.value() + 1)

    def toggle_play(self) -> None:
        if self._timer.isActive():
            self.stop()
        elif self._count > 1:
            if self.slider.value() == self.slider.maximum():
                self.slider.setValue(0)
            self._timer.start()
            self.play_button.setChecked(True)
            self.play_button.setIcon(self.style().standardIcon(QStyle.StandardPixmap.SP_MediaPause))

    def stop(self) -> None:
        self._timer.stop()
        self.play_button.setChecked(False)
        self.play_button.setIcon(self.style().standardIcon(QStyle.StandardPixmap.SP_MediaPlay))

    @property
    def playing(self) -> bool:
        return self._timer.isActive()

    def _advance(self) -> None:
        if self.slider.value() >= self.slider.maximum():
            self.stop()
        else:
            self.step_forward()

    def _on_value(self, value: int) -> None:
        self._update_label()
        self.iteration_changed.emit(value)

    def _update_label(self) -> None:
        if self._count == 0:
            self.label.setText("no result yet")
        else:
            value = self.slider.value()
            refined = self._refined and value == self._count - 1
            self.label.setText(f"{value} / {self._count - 1}: "
                               f"{iteration_name(value, refined, self._kept)}")
