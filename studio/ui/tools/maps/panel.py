"""The maps panel: what the net was given and what it produced over the crop, as one
chosen 2D map blended over the crop photo, with a colour bar and a caption.

Maps come at several resolutions (the 34 proxy channels at the crop's size, the dense
head's maps and the feature pyramid levels smaller), so each is shown on its own pixel
grid and the photo is placed under it where the crop geometry puts it.
"""
from __future__ import annotations

import functools

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, QTimer
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from studio.body.joint_sets import MEDIAPIPE33, PART_NAMES
from studio.pipeline.results import DenseMaps
from studio.ui.views.widgets import narrow

HEATMAP = "Keypoint heatmap"
ALL_KEYPOINTS = "All keypoints (max)"
MASK = "Person mask"
PART = "Body part (dense)"
U_MAP = "U (dense)"
V_MAP = "V (dense)"
PART_PROBABILITY = "Part probability"
PYRAMID = "Feature pyramid level"
KINDS = (HEATMAP, ALL_KEYPOINTS, MASK, PART, U_MAP, V_MAP, PART_PROBABILITY, PYRAMID)
DENSE_KINDS = (PART, U_MAP, V_MAP, PART_PROBABILITY)
# Kinds that show one channel of many, and the channels' names.
CHANNELS = {HEATMAP: MEDIAPIPE33.names, PART_PROBABILITY: ("background",) + PART_NAMES}
MAP_OPACITY = 0.65
STREAM_REFRESH_MS = 200  # while live frames stream the maps follow at most 5 times a second
# While streaming, a map keeps its colour scale while its range still covers at least
# this much of the scale: setting the colour bar lays its axis out anew (2-13 ms).
STEADY_SCALE = 0.85


def crop_to_pixels(coords: np.ndarray, shape: tuple[int, int],
                   align_corners: bool = True) -> np.ndarray:
    """Crop coordinates [...,2] in [-1, 1] -> continuous pixel coordinates (pixel ``i``
    spans ``[i, i+1)``) of a map of ``shape`` (h, w) over the crop, by the crop's pixel
    convention (see ``studio.pipeline.crops``)."""
    n = np.array([shape[1], shape[0]], np.float64)
    c = np.asarray(coords, np.float64) + 1.0
    return c * (n - 1) / 2 + 0.5 if align_corners else c * n / 2


def pixels_to_crop(pixels: np.ndarray, shape: tuple[int, int],
                   align_corners: bool = True) -> np.ndarray:
    """The inverse of :func:`crop_to_pixels`."""
    n = np.array([shape[1], shape[0]], np.float64)
    p = np.asarray(pixels, np.float64)
    return (p - 0.5) * 2 / (n - 1) - 1 if align_corners else p * 2 / n - 1


@functools.cache
def part_colormap() -> pg.ColorMap:
    """A categorical table for part indices 0..24 (levels -0.5..24.5): background see-
    through, each part its own hue; every stop is doubled so colours never blend. One
    object, so that the colour bar tells it is already shown."""
    colours = [(0, 0, 0, 0)] + [pg.intColor(i, hues=len(PART_NAMES)).getRgb()
                                for i in range(len(PART_NAMES))]
    n = len(colours)
    edges = np.arange(n + 1) / n
    return pg.ColorMap(np.repeat(edges, 2)[1:-1], np.repeat(np.array(colours), 2, axis=0),
                       name="parts")


class MapsPanel(QWidget):
    """One map of the selected person over the crop photo: proxy heatmaps and mask,
    dense correspondences, or the feature pyramid level an iteration sampled."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.kind_box = QComboBox()
        self.kind_box.addItems(KINDS)
        self.channel_box = QComboBox()
        self.channel_box.setPlaceholderText("one map: no channel to pick")
        self.caption = QLabel()
        self.caption.setWordWrap(True)
        self.graphics = pg.GraphicsLayoutWidget()
        self.graphics.setBackground("k")
        self.view = self.graphics.addViewBox(row=0, col=0, lockAspect=True, invertY=True)
        self.view.disableAutoRange()
        self.bar = pg.ColorBarItem(width=15, interactive=False, colorMapMenu=False)
        self.graphics.addItem(self.bar, row=0, col=1)
        self.photo = pg.ImageItem(axisOrder="row-major")
        self.map_item = pg.ImageItem(axisOrder="row-major")
        self.map_item.setOpacity(MAP_OPACITY)
        self.samples = pg.ScatterPlotItem(size=5, pen=pg.mkPen("k"), brush=pg.mkBrush(0, 230, 255))
        for z, item in enumerate((self.photo, self.map_item, self.samples)):
            item.setZValue(z)
            self.view.addItem(item)
        self.bar.setImageItem(self.map_item)

        choices = QHBoxLayout()
        for box in (self.kind_box, self.channel_box):
            choices.addWidget(narrow(box), 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(choices)
        layout.addWidget(self.graphics, 1)
        layout.addWidget(self.caption)

        self._crop: np.ndarray | None = None
        self._landmark_maps: np.ndarray | None = None
        self._dense: DenseMaps | None = None
        self._align_corners = True
        self._iteration = 0
        self._pyramid: np.ndarray | None = None
        self._sample_points: np.ndarray | None = None
        self._channel = {kind: 0 for kind in CHANNELS}
        self._channel[HEATMAP] = MEDIAPIPE33.index("left_wrist")
        self._shown: np.ndarray | None = None
        self._shape: tuple[int, int] | None = None  # the grid the view is fitted to
        self._scale: tuple[pg.ColorMap, tuple[float, float]] | None = None  # the bar's
        # While streaming, new data redraws at once and then at most every
        # STREAM_REFRESH_MS: a redraw and its repaint cost about 6 ms a live frame.
        self._streaming = False
        self._refresh_due = False
        self._throttle = QTimer(self)
        self._throttle.setSingleShot(True)
        self._throttle.setInterval(STREAM_REFRESH_MS)
        self._throttle.timeout.connect(self._refresh_if_due)
        self.kind_box.setCurrentText(ALL_KEYPOINTS)
        self.kind_box.currentIndexChanged.connect(self._kind_changed)
        self.channel_box.currentIndexChanged.connect(self._channel_changed)
        self._kind_changed()

    # --- API -----------------------------------------------------------------------------

    def set_person(self, crop_rgb: np.ndarray, landmark_maps: np.ndarray,
                   dense: DenseMaps | None, align_corners: bool = True) -> None:
        """A new person: the crop photo [S,S,3] uint8, the 34 proxy maps [34,S,S] (mask,
        then MediaPipe's 33 heatmaps) and the dense maps if the net has that head.
        ``align_corners``: the crop's pixel convention (``CropTransform.align_corners``).
        Iteration data is reset; pass it with :meth:`set_iteration`."""
        self._crop = np.ascontiguousarray(crop_rgb)
        self._landmark_maps = np.asarray(landmark_maps)
        self._dense = dense
        self._align_corners = align_corners
        self._iteration, self._pyramid, self._sample_points = 0, None, None
        self._data_changed()

    def set_iteration(self, index: int, pyramid_map: np.ndarray | None,
                      sample_points: np.ndarray | None) -> None:
        """The scrubbed iteration: its pyramid map [h,w] and the crop coordinates [N,2]
        it sampled there (both None at iteration 0, which samples nothing)."""
        self._iteration = index
        self._pyramid = None if pyramid_map is None else np.asarray(pyramid_map)
        self._sample_points = None if sample_points is None else np.asarray(sample_points)
        self._data_changed()

    def set_streaming(self, streaming: bool) -> None:
        """Follow new data at most every STREAM_REFRESH_MS while live frames stream;
        at once otherwise (a paused frame's scrubbing), showing what is waiting."""
        self._streaming = streaming
        if not streaming:
            self._throttle.stop()
            self._refresh_due = self._refresh_due or self._scale is not None  # exact scale
            self._refresh_if_due()

    def set_kind(self, name: str) -> None:
        """Show a kind of map (one of KINDS), also one that is unavailable: its caption
        then says why."""
        self.kind_box.setCurrentIndex(KINDS.index(name))

    def kind(self) -> str:
        return self.kind_box.currentText()

    def set_channel(self, index: int) -> None:
        """The joint (Keypoint heatmap) or part (Part probability, 0 background) shown."""
        self.channel_box.setCurrentIndex(index)

    def current_image(self) -> np.ndarray | None:
        """The 2D map being shown, None when the chosen kind is not available."""
        return self._shown

    def clear(self) -> None:
        """Nobody selected: show nothing."""
        self._crop = self._landmark_maps = self._dense = None
        self._iteration, self._pyramid, self._sample_points = 0, None, None
        self._refresh()

    # --- drawing -------------------------------------------------------------------------

    def _data_changed(self) -> None:
        self._refresh_due = True
        if not self._throttle.isActive():
            self._refresh_if_due()

    def _refresh_if_due(self) -> None:
        if self._refresh_due:
            self._refresh()
            if self._streaming:
                self._throttle.start()

    def _kind_changed(self) -> None:
        """Fill the channel box with the new kind's channels (or empty it) and redraw."""
        names = CHANNELS.get(self.kind(), ())
        self.channel_box.blockSignals(True)
        self.channel_box.clear()
        self.channel_box.addItems(names)
        if names:
            self.channel_box.setCurrentIndex(self._channel[self.kind()])
        self.channel_box.setEnabled(bool(names))
        self.channel_box.blockSignals(False)
        self._refresh()

    def _channel_changed(self, index: int) -> None:
        if self.kind() in CHANNELS and index >= 0:
            self._channel[self.kind()] = index
            self._refresh()

    def _unavailable(self, kind: str) -> str | None:
        """Why ``kind`` cannot be shown now, None when it can."""
        if self._crop is None:
            return "no person selected"
        if kind in DENSE_KINDS and self._dense is None:
            return "this model has no dense correspondence head"
        if kind == PYRAMID and self._pyramid is None:
            return (f"iteration {self._iteration} samples no feature map"
                    + (" (the mean-parameter start)" if self._iteration == 0 else ""))
        return None

    def _chosen(self, kind: str) -> tuple[np.ndarray, str, pg.ColorMap, tuple[float, float]]:
        """The map of ``kind``, its caption title, colour map and levels."""
        inferno, viridis = pg.colormap.get("inferno"), pg.colormap.get("viridis")
        maps, dense = self._landmark_maps, self._dense
        if kind == HEATMAP:
            ch = self._channel[HEATMAP]
            return maps[1 + ch], f"{kind}: {MEDIAPIPE33.names[ch]}", inferno, _peak(maps[1 + ch])
        if kind == ALL_KEYPOINTS:
            heat = maps[1:].max(axis=0)
            return heat, kind, inferno, _peak(heat)
        if kind == MASK:
            return maps[0], kind, viridis, (0.0, 1.0)
        if kind == PART:
            return dense.part, kind, part_colormap(), (-0.5, len(PART_NAMES) + 0.5)
        if kind in (U_MAP, V_MAP):
            # U and V mean nothing on the background: NaN there is drawn see-through.
            uv = np.where(dense.part > 0, dense.u if kind == U_MAP else dense.v, np.nan)
            return uv, kind, viridis, (0.0, 1.0)
        if kind == PART_PROBABILITY:
            ch = self._channel[PART_PROBABILITY]
            title = f"{kind}: {CHANNELS[PART_PROBABILITY][ch]}"
            return dense.part_probability[ch], title, inferno, (0.0, 1.0)
        lo, hi = float(self._pyramid.min()), float(self._pyramid.max())
        return self._pyramid, f"{kind} {self._iteration}", inferno, (lo, max(hi, lo + 1e-6))

    def _refresh(self) -> None:
        """Enable the kinds there is data for and show the chosen one."""
        self._refresh_due = False
        for row, kind in enumerate(KINDS):
            self.kind_box.model().item(row).setEnabled(self._unavailable(kind) is None)
        kind = self.kind()
        reason = self._unavailable(kind)
        self.samples.setData(pos=np.zeros((0, 2)))
        if reason is not None:
            self._shown = None
            self.map_item.clear()
            self.bar.hide()
            self.caption.setText(f"{kind}: {reason}")
            if self._crop is None:
                self.photo.clear()
            else:
                self._place_photo(self._crop.shape[:2])
            return
        shown, title, cmap, levels = self._chosen(kind)
        self._shown = shown
        h, w = shown.shape
        levels = self._colour_scale(cmap, levels)
        self.map_item.setImage(shown.astype(np.float32), autoLevels=False, levels=levels)
        self.bar.show()
        self._place_photo((h, w))
        caption = f"{title} · {w}x{h}"
        if kind == PYRAMID and self._sample_points is not None:
            self.samples.setData(pos=crop_to_pixels(self._sample_points, (h, w),
                                                    self._align_corners))
            caption += f" · {len(self._sample_points)} sample points"
        self.caption.setText(caption)

    def _colour_scale(self, cmap: pg.ColorMap, levels: tuple[float, float]
                      ) -> tuple[float, float]:
        """Set the colour bar to ``cmap`` over ``levels`` and return the levels the map is
        drawn with: while streaming, the bar's current ones if they still fit (the new
        range lies within them and spans at least STEADY_SCALE of them)."""
        if self._streaming and self._scale is not None and self._scale[0] is cmap:
            lo, hi = self._scale[1]
            if lo <= levels[0] and levels[1] <= hi and \
                    levels[1] - levels[0] >= STEADY_SCALE * (hi - lo):
                return lo, hi
        if self._scale is None or self._scale[0] is not cmap:
            self.bar.setColorMap(cmap)
        self.bar.setLevels(values=levels)
        self._scale = (cmap, levels)
        return levels

    def _place_photo(self, shape: tuple[int, int]) -> None:
        """Put the crop photo where it lies on a map grid of ``shape`` (h, w), and frame
        the grid when it changed (a kind of another size was chosen)."""
        size = self._crop.shape[:2]
        corners = crop_to_pixels(pixels_to_crop([(0, 0), (size[1], size[0])], size,
                                                self._align_corners), shape,
                                 self._align_corners)
        (x0, y0), (x1, y1) = corners
        self.photo.setImage(self._crop, autoLevels=False, levels=None)
        self.photo.setRect(QRectF(x0, y0, x1 - x0, y1 - y0))
        if shape != self._shape:
            self._shape = shape
            self.view.setRange(QRectF(0, 0, shape[1], shape[0]), padding=0.02)


def _peak(heat: np.ndarray) -> tuple[float, float]:
    """Levels 0..the map's peak: heatmaps are scaled by visibility, so a barely seen
    landmark's peak may be 0.1 and would vanish on a 0..1 scale."""
    return 0.0, max(float(heat.max()), 1e-6)
