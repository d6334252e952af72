"""The PoseAug panel: the sampling controls, every sample's stages as 2D skeletons on the
photo's frame (original -> BA -> BL -> RT, one row per sample, bones coloured by the 3D
discriminator's part scores), and a table of the final poses' part and 2D scores.

Clicking a row (of the skeletons or of the table) picks that sample; the tool shows it
large in the 3D view. Scores are LSGAN's raw outputs: about 1 looks real, about 0 looks
augmented; colours run red (0 or less) through yellow to green (1 or more).
"""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (QAbstractItemView, QCheckBox, QDoubleSpinBox, QGraphicsItem,
                               QGraphicsRectItem, QGridLayout, QHBoxLayout, QLabel, QPushButton, QScrollArea, QSpinBox,
                               QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget)

from studio.nets.poseaug import BONES, PART_NAMES, STAGES
from studio.pipeline.poseaug_samples import (BONE_PART, STAGE_KEYS, STAGE_TITLES,
                                             SampleSet, SampleSettings)
from studio.ui.views.widgets import WrappingLabel

MAX_COUNT = 32
MAX_SEED = 2**31 - 1
SETTLE_MS = 250  # controls or the shown iteration changed: draw once still this long
GAP = 0.12  # between the stage cells and rows, as a share of a cell's size
ROW_PX = 110  # a sample row's height on screen
MARGIN = 0.5  # a cell shows at most this much (of the photo's size) around the photo
IDLE = "Draw augments the shown person's pose with PoseAug."
SHORT_PARTS = ("L arm", "R arm", "R leg", "L leg", "torso")
FRAME_PEN = pg.mkPen(90, 90, 90)
PICKED_PEN = pg.mkPen(255, 140, 0, width=2)
PICKED_MARK = "\N{BLACK RIGHT-POINTING TRIANGLE} "


def score_colour(score: float) -> QColor:
    """Red at 0 (or less), yellow at 0.5, green at 1 (or more)."""
    return QColor.fromHsvF(float(np.clip(score, 0.0, 1.0)) / 3.0, 0.85, 0.9)


class PoseAugPanel(QWidget):
    """Controls, skeletons and scores; :attr:`settings_changed` (and the Draw button) ask
    for new samples and :attr:`sample_picked` tells which one to show large (and whether
    the user chose it)."""

    settings_changed = Signal()
    sample_picked = Signal(int, bool)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.count_box = QSpinBox()
        self.count_box.setRange(1, MAX_COUNT)
        self.count_box.setValue(SampleSettings.count)
        self.count_box.setToolTip("How many augmentations to draw")
        self.seed_box = QSpinBox()
        self.seed_box.setRange(0, MAX_SEED)
        self.seed_box.setToolTip("The same seed draws the same samples")
        self.draw_button = QPushButton("Draw")
        self.draw_button.setToolTip("Augment the shown person's pose; from then on the samples "
                                    "follow the person, the iteration and these settings")
        self.next_button = QPushButton("New seed")
        self.next_button.clicked.connect(lambda: self.seed_box.setValue(
            (self.seed_box.value() + 1) % (MAX_SEED + 1)))
        top = QHBoxLayout()
        for label, widget in (("Samples", self.count_box), ("Seed", self.seed_box)):
            top.addWidget(QLabel(label))
            top.addWidget(widget)
        top.addWidget(self.next_button)
        top.addStretch(1)
        top.addWidget(self.draw_button)

        stages = QGridLayout()
        self.stage_boxes: dict[str, QCheckBox] = {}
        self.strength_boxes: dict[str, QDoubleSpinBox] = {}
        tips = {"ba": "bone angles", "bl": "bone lengths", "rt": "rotation and translation"}
        for column, stage in enumerate(STAGES):
            check = QCheckBox(STAGE_TITLES[stage])
            check.setChecked(True)
            check.setToolTip(f"Apply the {tips[stage]} stage")
            strength = QDoubleSpinBox()
            strength.setRange(0.0, 2.0)
            strength.setSingleStep(0.1)
            strength.setValue(1.0)
            strength.setToolTip(f"Strength of the {tips[stage]} stage (1: the augmentor's own)")
            check.toggled.connect(strength.setEnabled)
            stages.addWidget(check, 0, 2 * column)
            stages.addWidget(strength, 0, 2 * column + 1)
            self.stage_boxes[stage], self.strength_boxes[stage] = check, strength

        self.caption = WrappingLabel(IDLE)
        self.graphics = pg.GraphicsLayoutWidget()
        self.graphics.setBackground("k")
        self.scroll = QScrollArea()  # rows keep a readable height; the list scrolls
        self.scroll.setWidgetResizable(True)
        self.scroll.setWidget(self.graphics)
        self.scroll.setMinimumHeight(ROW_PX * 2)
        self.view = self.graphics.addViewBox(lockAspect=True, invertY=True, enableMouse=False)
        self.view.setMenuEnabled(False)
        self.graphics.scene().sigMouseClicked.connect(self._clicked)
        self.table = QTableWidget(0, len(SHORT_PARTS) + 1)
        self.table.setHorizontalHeaderLabels([*SHORT_PARTS, "2D"])
        self.table.setToolTip("The final poses' 3D discriminator part scores and 2D score "
                              "(about 1 looks real, about 0 augmented)")
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        # No selection highlight: it would hide the picked row's score colours; its
        # header says it is picked.
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.table.horizontalHeader().setMinimumSectionSize(36)
        self.table.horizontalHeader().setDefaultSectionSize(48)
        self.table.verticalHeader().setDefaultSectionSize(20)
        self.table.cellClicked.connect(lambda row, _column: self.pick(row, True))

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addLayout(stages)
        layout.addWidget(self.caption)
        layout.addWidget(self.scroll, 3)
        layout.addWidget(self.table, 2)

        self._settle = QTimer(self)
        self._settle.setSingleShot(True)
        self._settle.setInterval(SETTLE_MS)
        self._settle.timeout.connect(self.settings_changed)
        for box in (self.count_box, self.seed_box, *self.strength_boxes.values()):
            box.valueChanged.connect(self._settle.start)
        for check in self.stage_boxes.values():
            check.toggled.connect(self._settle.start)
        self.samples: SampleSet | None = None
        self.picked = 0
        self._frame: QRectF | None = None  # one stage's cell: its size in photo pixels
        self._pick_box = QGraphicsRectItem()
        self._pick_box.setPen(PICKED_PEN)

    # --- API -----------------------------------------------------------------------------

    def settings(self) -> SampleSettings:
        """What the controls ask for (stages switched off are left out)."""
        stages = tuple(s for s in STAGES if self.stage_boxes[s].isChecked())
        return SampleSettings(count=self.count_box.value(), seed=self.seed_box.value(),
                              stages=stages,
                              strength={s: self.strength_boxes[s].value() for s in STAGES})

    def schedule(self) -> None:
        """Ask for new samples (:attr:`settings_changed`) once changes have settled."""
        self._settle.start()

    def set_samples(self, samples: SampleSet | None, caption: str = "") -> None:
        """Show ``samples`` (None: nothing) and pick the first."""
        self.samples = samples
        self.picked = 0
        self.caption.setText(caption)
        self._draw()
        self._fill_table()
        if samples is not None:
            self.pick(0)

    def set_message(self, text: str) -> None:
        """Say something (a failure, what is being drawn) without changing the samples."""
        self.caption.setText(text)

    def pick(self, index: int, by_user: bool = False) -> None:
        """Pick sample ``index``: highlighted here, announced by :attr:`sample_picked`."""
        if self.samples is None or not 0 <= index < self.samples.count:
            return
        self.picked = index
        self._place_pick_box()
        centre = self._cell(index, 0) + QPointF(0, self._frame.height() / 2)
        shown = self.graphics.mapFromScene(self.view.mapViewToScene(centre))
        self.scroll.ensureVisible(shown.x(), shown.y(), 0, ROW_PX // 2)
        self.table.setVerticalHeaderLabels([f"{PICKED_MARK if i == index else ''}#{i}"
                                            for i in range(self.samples.count)])
        self.sample_picked.emit(index, by_user)

    # --- drawing -------------------------------------------------------------------------

    def _cell(self, row: int, column: int) -> QPointF:
        """Top-left corner of a sample's stage cell, in the view's coordinates."""
        f = self._frame
        return QPointF(column * f.width() * (1 + GAP), row * f.height() * (1 + GAP))

    def _draw(self) -> None:
        """Every sample's stages as skeletons in cells that hold the photo's frame (grey)
        and every projected joint, so nothing is cut off or overlaps."""
        self.view.clear()
        samples = self.samples
        if samples is None:
            self.graphics.setMinimumHeight(0)
            return
        self.graphics.setMinimumHeight(int(ROW_PX * (samples.count + 0.4)))
        width, height = samples.image_size
        joints = samples.pixels.reshape(-1, 2)
        size = np.array([width, height], np.float64)
        lo = np.clip(np.nanmin(joints, 0), -MARGIN * size, 0.0)
        hi = np.clip(np.nanmax(joints, 0), size, (1 + MARGIN) * size)
        self._frame = QRectF(0, 0, *(hi - lo))
        for column, key in enumerate(STAGE_KEYS):
            title = pg.TextItem(STAGE_TITLES[key], color="w", anchor=(0.5, 0.0))
            corner = self._cell(0, column)
            title.setPos(corner.x() + self._frame.width() / 2, corner.y())
            self.view.addItem(title)
        for row in range(samples.count):
            for column in range(len(STAGE_KEYS)):
                corner = np.array([self._cell(row, column).x(), self._cell(row, column).y()])
                cell = QGraphicsRectItem(*corner, self._frame.width(), self._frame.height())
                cell.setPen(Qt.PenStyle.NoPen)
                cell.setFlag(QGraphicsItem.GraphicsItemFlag.ItemClipsChildrenToShape)
                self.view.addItem(cell)
                photo = QGraphicsRectItem(*(corner - lo), width, height, cell)
                photo.setPen(FRAME_PEN)
                self._draw_skeleton(cell, samples.pixels[row, column] - lo + corner,
                                    samples.d3d[row, column])
        self.view.addItem(self._pick_box)
        last = self._cell(samples.count - 1, len(STAGE_KEYS) - 1)
        self.view.setRange(QRectF(0, -0.1 * self._frame.height(), last.x() + self._frame.width(),
                                  last.y() + 1.1 * self._frame.height()), padding=0.02)

    @staticmethod
    def _draw_skeleton(cell: QGraphicsRectItem, points: np.ndarray, scores: np.ndarray) -> None:
        """One pose's bones [16,2] (view coordinates) in its cell, each coloured by its
        part's score."""
        for part in range(len(PART_NAMES)):
            bones = [BONES[b] for b in range(len(BONES)) if BONE_PART[b] == part]
            xy = points[np.array(bones).reshape(-1)]
            curve = pg.PlotCurveItem(xy[:, 0], xy[:, 1], connect="pairs",
                                     pen=pg.mkPen(score_colour(scores[part]), width=2))
            curve.setParentItem(cell)

    def _place_pick_box(self) -> None:
        if self._frame is None:
            return
        corner = self._cell(self.picked, 0)
        width = self._cell(0, len(STAGE_KEYS) - 1).x() + self._frame.width()
        pad = GAP / 3 * self._frame.height()
        self._pick_box.setRect(corner.x() - pad, corner.y() - pad, width + 2 * pad,
                               self._frame.height() + 2 * pad)

    def _fill_table(self) -> None:
        samples = self.samples
        self.table.blockSignals(True)
        self.table.setRowCount(0 if samples is None else samples.count)
        if samples is not None:
            final = len(STAGE_KEYS) - 1
            for row in range(samples.count):
                scores = [*samples.d3d[row, final], samples.d2d[row, final]]
                for column, score in enumerate(scores):
                    item = QTableWidgetItem(f"{score:.2f}")
                    item.setBackground(QBrush(score_colour(score)))
                    item.setForeground(QBrush(QColor("black")))
                    item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
                    self.table.setItem(row, column, item)
        self.table.blockSignals(False)

    # --- picking -------------------------------------------------------------------------

    def _clicked(self, event) -> None:
        if self.samples is None or self._frame is None:
            return
        point = self.view.mapSceneToView(event.scenePos())
        row = int(point.y() // (self._frame.height() * (1 + GAP)))
        if 0 <= row < self.samples.count and point.x() >= 0:
            self.pick(row, True)
