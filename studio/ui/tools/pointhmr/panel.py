"""The PointHMR panel: vertex heat-maps over the person's crop (all of them as their
maximum, or the picked vertex's with its peak), the transformer block whose attention
the 3D view colours, and the compare-with-PyMAF switch.

The view's coordinates are crop coordinates (x right, y down, [-1, 1]); a click there is
sent as ``clicked(x, y)`` so the tool can light up the vertices whose maps peak there.
"""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Signal
from PySide6.QtWidgets import QCheckBox, QComboBox, QLabel, QPushButton, QVBoxLayout, QWidget

from studio.nets.pointhmr_mesh import BLOCK_HOPS

HEAT_OPACITY = 0.7
PEAK_BRUSH = (255, 194, 26)
CROP_RECT = QRectF(-1.0, -1.0, 2.0, 2.0)
MIN_VIEW_HEIGHT = 160  # px: the heat-maps stay readable in a crowded dock column


class PointHMRPanel(QWidget):
    clicked = Signal(float, float)  # crop coordinates
    block_changed = Signal(int)  # 0..3
    compare_toggled = Signal(bool)
    run_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.graphics = pg.GraphicsLayoutWidget()
        self.graphics.setBackground("k")
        self.graphics.setMinimumHeight(MIN_VIEW_HEIGHT)
        self.view = self.graphics.addViewBox(lockAspect=True, invertY=True)
        self.photo = pg.ImageItem(axisOrder="row-major")
        self.heat = pg.ImageItem(axisOrder="row-major")
        self.heat.setOpacity(HEAT_OPACITY)
        self.heat.setColorMap(pg.colormap.get("inferno"))
        self.peaks = pg.ScatterPlotItem(size=9, pen=pg.mkPen("k"), brush=pg.mkBrush(*PEAK_BRUSH))
        for z, item in enumerate((self.photo, self.heat, self.peaks)):
            item.setZValue(z)
            self.view.addItem(item)
        self.view.setRange(CROP_RECT, padding=0.02)
        self.view.scene().sigMouseClicked.connect(self._on_click)
        self.block_box = QComboBox()
        self.block_box.addItems([f"attention of block {b + 1} ({k} hops)"
                                 for b, k in enumerate(BLOCK_HOPS)])
        self.block_box.currentIndexChanged.connect(self.block_changed.emit)
        self.run_button = QPushButton("Run PointHMR on the shown people")
        self.run_button.clicked.connect(self.run_requested.emit)
        self.compare_box = QCheckBox("Compare with PyMAF (per-vertex distance)")
        self.compare_box.toggled.connect(self.compare_toggled.emit)
        self.caption = QLabel("PointHMR's vertex heat-maps show here (by itself with the "
                              "builtin-pointhmr model; otherwise press Run).")
        self.caption.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.graphics, 1)
        layout.addWidget(self.run_button)
        layout.addWidget(self.block_box)
        layout.addWidget(self.compare_box)
        layout.addWidget(self.caption)
        self.shown_map: np.ndarray | None = None  # what the heat layer shows now

    def clear(self) -> None:
        for item in (self.photo, self.heat):
            item.clear()
        self.peaks.setData([])
        self.shown_map = None

    def set_photo(self, crop_rgb: np.ndarray | None) -> None:
        if crop_rgb is None:
            self.photo.clear()
            return
        self.photo.setImage(np.asarray(crop_rgb), autoLevels=False, levels=(0, 255))
        self.photo.setRect(CROP_RECT)

    def show_map(self, heat: np.ndarray, peaks: np.ndarray, caption: str) -> None:
        """``heat`` [H, W] over the crop, ``peaks`` [N, 2] crop coordinates to mark."""
        self.shown_map = np.asarray(heat, np.float32)
        top = float(self.shown_map.max()) or 1.0
        self.heat.setImage(self.shown_map, autoLevels=False, levels=(0.0, top))
        self.heat.setRect(CROP_RECT)
        self.peaks.setData(pos=np.asarray(peaks, np.float64).reshape(-1, 2))
        self.caption.setText(caption)

    def set_caption(self, text: str) -> None:
        self.caption.setText(text)

    def _on_click(self, event: object) -> None:
        point = self.view.mapSceneToView(event.scenePos())
        x, y = point.x(), point.y()
        if -1 <= x <= 1 and -1 <= y <= 1:
            self.clicked.emit(x, y)
