"""The body panel: pose preset picker and the shape (beta) sliders."""
from __future__ import annotations

from collections.abc import Iterable

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QComboBox, QFormLayout, QGridLayout, QGroupBox, QLabel,
                               QPushButton, QSlider, QVBoxLayout, QWidget)

from studio.body.model import NUM_BETAS
from studio.ui.body.state import BETA_RANGE

SLIDER_STEPS_PER_UNIT = 100  # sliders are integer; 0.01 per step


class BodyControls(QWidget):
    """Emits what the user picks; it knows nothing about the body model itself."""

    preset_changed = Signal(str)
    beta_changed = Signal(int, float)
    shape_reset = Signal()

    def __init__(self, presets: Iterable[str], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.preset_box = QComboBox()
        self.preset_box.addItems(list(presets))
        self.preset_box.currentTextChanged.connect(self.preset_changed)
        pose_group = QGroupBox("Pose")
        pose_form = QFormLayout(pose_group)
        pose_form.addRow("Preset", self.preset_box)

        shape_group = QGroupBox("Shape")
        grid = QGridLayout(shape_group)
        self.sliders: list[QSlider] = []
        self._value_labels: list[QLabel] = []
        lo, hi = BETA_RANGE
        for k in range(NUM_BETAS):
            slider = QSlider(Qt.Orientation.Horizontal)
            slider.setRange(int(lo * SLIDER_STEPS_PER_UNIT), int(hi * SLIDER_STEPS_PER_UNIT))
            slider.setPageStep(SLIDER_STEPS_PER_UNIT // 2)
            slider.setObjectName(f"beta{k}")
            slider.setToolTip(f"Shape coefficient beta {k} ({lo:+.0f} .. {hi:+.0f})")
            value = QLabel(self._format(0.0))
            value.setMinimumWidth(44)
            value.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            slider.valueChanged.connect(lambda v, k=k: self._on_slider(k, v))
            grid.addWidget(QLabel(f"\N{GREEK SMALL LETTER BETA}{k}"), k, 0)
            grid.addWidget(slider, k, 1)
            grid.addWidget(value, k, 2)
            self.sliders.append(slider)
            self._value_labels.append(value)
        reset = QPushButton("Reset shape")
        reset.clicked.connect(self.reset_shape)
        grid.addWidget(reset, NUM_BETAS, 0, 1, 3)

        self.setMinimumWidth(280)
        layout = QVBoxLayout(self)
        layout.addWidget(pose_group)
        layout.addWidget(shape_group)
        layout.addStretch(1)

    @staticmethod
    def _format(value: float) -> str:
        return f"{value:+.2f}"

    def _on_slider(self, index: int, raw: int) -> None:
        value = raw / SLIDER_STEPS_PER_UNIT
        self._value_labels[index].setText(self._format(value))
        self.beta_changed.emit(index, value)

    def reset_shape(self) -> None:
        """Put every slider back to 0 with one update instead of ten."""
        for slider in self.sliders:
            slider.blockSignals(True)
            slider.setValue(0)
            slider.blockSignals(False)
        for label in self._value_labels:
            label.setText(self._format(0.0))
        self.shape_reset.emit()
