"""The 2D view: the photo with toggleable overlays (person boxes, MediaPipe landmarks, the
projected mesh of one feedback iteration and the points that iteration sampled).

Everything is drawn in image coordinates (x right, y down, pixel ``i`` covering
``[i, i+1)``, as ``studio.pipeline.crops`` defines them), so the pipeline's arrays go in
unchanged. The view only displays arrays; the main window picks them from a FrameResult.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Sequence

import cv2
import numpy as np
import pyqtgraph as pg
from pyqtgraph.GraphicsScene.mouseEvents import MouseClickEvent
from PySide6.QtCore import QEvent, QObject, QPointF, QRectF, Qt, Signal
from PySide6.QtWidgets import QGraphicsRectItem, QVBoxLayout, QWidget
from scipy.spatial import cKDTree

from studio.pipeline.overlay import (MAX_FILL_SIDE, MESH_COLOUR, STREAM_FILL_SIDE, MeshFill,
                                     face_shading, mesh_fill)

OVERLAYS = ("boxes", "keypoints", "mesh", "samples")
# Shown until toggled off; the sampled points are not: on a small person the grid of dots
# buries the mesh (View > Sampled points shows them).
SHOWN_AT_FIRST = ("boxes", "keypoints", "mesh")
MESH_STYLES = ("wireframe", "filled")
MAX_KEPT = 64  # kept drawings (3 per mesh key) before the cache starts over
HOVER_RADIUS_PX = 8  # screen pixels from a vertex
KEYPOINT_RADIUS_PX = 5  # from a landmark: about its drawn dot, so vertices stay reachable
VISIBLE = 0.5  # landmarks seen less surely than this are drawn faded
MESH_OPACITY = 0.5
# MediaPipe Pose's 33-landmark skeleton as its own drawing utilities connect it: face,
# shoulders, arms and hands, torso, legs and feet.
MEDIAPIPE_EDGES = (
    (0, 1), (1, 2), (2, 3), (3, 7), (0, 4), (4, 5), (5, 6), (6, 8), (9, 10),
    (11, 12), (11, 13), (13, 15), (15, 17), (15, 19), (15, 21), (17, 19),
    (12, 14), (14, 16), (16, 18), (16, 20), (16, 22), (18, 20),
    (11, 23), (12, 24), (23, 24),
    (23, 25), (24, 26), (25, 27), (26, 28), (27, 29), (28, 30), (29, 31), (30, 32), (27, 31),
    (28, 32),
)
BOX_COLOUR = (230, 230, 230)
SELECTED_COLOUR = (255, 210, 0)
KEYPOINT_COLOUR = (80, 255, 120)
FADED_COLOUR = (80, 255, 120, 110)
SAMPLE_COLOUR = (0, 230, 255)
MARK_COLOUR = (255, 60, 200)
TOOL_MARKS_Z = 6.5  # tools' marks: over the landmarks, under the hover marker


def unique_edges(faces: np.ndarray) -> np.ndarray:
    """[E,2] each undirected edge of triangles ``faces`` [F,3] once, smaller index first."""
    pairs = np.sort(faces[:, [0, 1, 1, 2, 2, 0]].reshape(-1, 2), axis=1).astype(np.int64)
    n = int(pairs.max()) + 1 if len(pairs) else 1
    codes = np.unique(pairs[:, 0] * n + pairs[:, 1])
    return np.stack([codes // n, codes % n], axis=1)


def _pixel_coords(points: np.ndarray) -> np.ndarray:
    """Image coordinates -> cv2's 4-bit fixed point pixel coordinates."""
    return np.round((np.asarray(points, np.float64) - 0.5) * 16).astype(np.int32)


class ImageView(QWidget):
    """The photo with person boxes, landmarks, mesh and sample points over it; pan and
    zoom with the mouse. Hovering reports the vertex or landmark under the mouse."""

    person_clicked = Signal(int)
    hovered = Signal(str, int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.graphics = pg.GraphicsLayoutWidget()
        self.graphics.setBackground("k")
        self.view = self.graphics.addViewBox(lockAspect=True, invertY=True)
        self.view.disableAutoRange()  # new overlays must not move the user's zoom
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.graphics)

        self.photo = pg.ImageItem(axisOrder="row-major")
        self.mesh_fill = pg.ImageItem(axisOrder="row-major")
        self.mesh_fill.setOpacity(MESH_OPACITY)
        self.mesh_wire = pg.PlotCurveItem(pen=pg.mkPen(MESH_COLOUR + (150,), width=1))
        self.samples = pg.ScatterPlotItem(size=4, pen=None, brush=pg.mkBrush(SAMPLE_COLOUR))
        self.bones = pg.PlotCurveItem(pen=pg.mkPen(KEYPOINT_COLOUR, width=2))
        self.faded_bones = pg.PlotCurveItem(pen=pg.mkPen(FADED_COLOUR, width=1))
        self.landmarks = pg.ScatterPlotItem(size=7, pen=pg.mkPen("k"))
        self.marker = pg.ScatterPlotItem(size=16, pen=pg.mkPen(MARK_COLOUR, width=3), brush=None)
        # One brush each for seen and faded landmarks: a brush per dot made per frame cost
        # about 1.2 ms of a live frame's UI time.
        self._landmark_brushes = (pg.mkBrush(FADED_COLOUR), pg.mkBrush(KEYPOINT_COLOUR))
        self._box_items: list[tuple[QGraphicsRectItem, pg.TextItem]] = []
        self.marks: dict[str, pg.ScatterPlotItem] = {}  # tools' marks by key
        self.mark_bones: dict[str, pg.PlotCurveItem] = {}  # their bones, where given
        for z, item in enumerate((self.photo, self.mesh_fill, self.mesh_wire, self.samples,
                                  self.faded_bones, self.bones, self.landmarks, self.marker)):
            item.setZValue(z)
            self.view.addItem(item)

        self._visible = {name: name in SHOWN_AT_FIRST for name in OVERLAYS}
        self._style = "wireframe"
        self._image: np.ndarray | None = None
        self._boxes: list[tuple[float, float, float, float]] = []
        self._selected = -1
        self._keypoints: np.ndarray | None = None  # [33,2]
        self._visibility: np.ndarray | None = None
        self._keypoint_tree: cKDTree | None = None
        self._mesh: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None  # points, faces, depth
        self._mesh_tree: cKDTree | None = None
        self._fill: MeshFill | None = None
        # Drawn meshes by the caller's key and style: scrubbing revisits a few iterations.
        self._drawn: dict[tuple, object] = {}
        self._fill_side = MAX_FILL_SIDE
        self._mesh_key: Hashable | None = None
        self._sample_points: np.ndarray | None = None
        self._hover: tuple[str, int] = ("", -1)
        self.graphics.scene().sigMouseMoved.connect(self._on_mouse_moved)
        self.graphics.scene().sigMouseClicked.connect(self._on_mouse_clicked)
        self.graphics.viewport().installEventFilter(self)

    # --- content -----------------------------------------------------------------------

    def set_image(self, rgb: np.ndarray, fit: bool = True) -> None:
        """Show a new photo [H,W,3] uint8; the old photo's overlays no longer apply.
        ``fit`` frames it; live frames keep the user's zoom unless their size changes."""
        resized = self.set_frame(rgb)
        self.set_people([], -1)
        self.set_keypoints(None, None)
        self.set_mesh(None, None, None)
        self.set_sample_points(None)
        self.mark("", -1)
        if fit or resized:
            self.fit()

    def set_frame(self, rgb: np.ndarray) -> bool:
        """Swap in the next live frame [H,W,3] uint8 and keep the overlays, which the caller
        replaces next (clearing them first cost a live frame about 2 ms); True if the
        frame's size changed (:meth:`set_image` then frames it)."""
        resized = self._image is None or self._image.shape != rgb.shape
        self._image = np.ascontiguousarray(rgb)
        self._drawn.clear()
        self.photo.setImage(self._image, autoLevels=False, levels=None)
        return resized

    def fit(self) -> None:
        """Frame the whole photo."""
        if self._image is not None:
            h, w = self._image.shape[:2]
            self.view.setRange(QRectF(0, 0, w, h), padding=0.02)

    def set_people(self, boxes: list[tuple[float, float, float, float]], selected: int) -> None:
        """Person boxes (x0, y0, x1, y1), numbered from 0 as ``--person`` counts;
        ``selected`` is highlighted."""
        boxes = [tuple(map(float, b)) for b in boxes]
        restyle = selected != self._selected or len(boxes) != len(self._boxes)
        self._boxes, self._selected = boxes, selected
        # Live frames move the same boxes: items are kept and moved, not made anew.
        while len(self._box_items) > len(boxes):
            for item in self._box_items.pop():
                self.view.removeItem(item)
        while len(self._box_items) < len(boxes):
            rect = QGraphicsRectItem()
            label = pg.TextItem(str(len(self._box_items)), color="k")
            for item in (rect, label):
                item.setZValue(len(OVERLAYS) + 10)
                item.setVisible(self._visible["boxes"])
                self.view.addItem(item)
            self._box_items.append((rect, label))
        for i, ((rect, label), (x0, y0, x1, y1)) in enumerate(zip(self._box_items, boxes)):
            rect.setRect(x0, y0, x1 - x0, y1 - y0)
            label.setPos(x0, y0)
            if restyle:
                colour = SELECTED_COLOUR if i == selected else BOX_COLOUR
                rect.setPen(pg.mkPen(colour, width=3 if i == selected else 1.5))
                label.fill = pg.mkBrush(colour)
                label.update()

    def set_keypoints(self, points: np.ndarray | None, visibility: np.ndarray | None) -> None:
        """MediaPipe's 33 landmarks [33,2] with their visibility [33]; None clears them."""
        if points is None:
            self._keypoints = self._visibility = self._keypoint_tree = None
            for item in (self.bones, self.faded_bones, self.landmarks):
                item.setData([], [])
            return
        self._keypoints = np.asarray(points, np.float64)
        self._visibility = (np.ones(len(points)) if visibility is None
                            else np.asarray(visibility, np.float64))
        self._keypoint_tree = None  # built at the first hover
        edges = np.array(MEDIAPIPE_EDGES)
        seen = (self._visibility[edges] >= VISIBLE).all(axis=1)
        for item, chosen in ((self.bones, edges[seen]), (self.faded_bones, edges[~seen])):
            xy = self._keypoints[chosen].reshape(-1, 2)
            item.setData(xy[:, 0], xy[:, 1], connect="pairs")
        faded, seen = self._landmark_brushes
        brushes = [seen if v >= VISIBLE else faded for v in self._visibility]
        self.landmarks.setData(pos=self._keypoints, brush=brushes)

    def set_mesh(self, points: np.ndarray | None, faces: np.ndarray | None,
                 depth: np.ndarray | None, key: Hashable | None = None,
                 fill: MeshFill | None = None) -> None:
        """The projected mesh: image points [V,2], faces [F,3] and each vertex's depth
        [V] (larger is farther, any unit); None clears it. Called while scrubbing.

        ``key`` names this mesh for the current photo (e.g. person and iteration): its
        drawing is kept and reused when the same key comes back. ``fill`` is its filled
        drawing made elsewhere (live frames': by the worker); used when drawn as finely
        as this view draws now.
        """
        self._mesh_key = key
        if fill is not None and key is not None and fill.max_side == self._fill_side:
            self._drawn[(key, "filled")] = fill
        self._mesh_tree = None  # built at the first hover
        if points is None or faces is None or depth is None:
            self._mesh = None
        else:
            self._mesh = (np.asarray(points, np.float64), np.asarray(faces, np.int64),
                          np.asarray(depth, np.float64))
        self._draw_mesh()

    def _kept(self, what: str, make: Callable[[], object]) -> object:
        """``make()``, or what it gave before for the current mesh key."""
        if self._mesh_key is None:
            return make()
        slot = (self._mesh_key, what)
        if slot not in self._drawn:
            if len(self._drawn) > MAX_KEPT:
                self._drawn.clear()
            self._drawn[slot] = make()
        return self._drawn[slot]

    def set_mesh_style(self, style: str) -> None:
        """"wireframe" (front faces' edges) or "filled" (shaded, half see-through)."""
        if style not in MESH_STYLES:
            raise ValueError(f"unknown mesh style {style!r}; known: {MESH_STYLES}")
        self._style = style
        self._draw_mesh()

    @property
    def mesh_style(self) -> str:
        return self._style

    @property
    def mesh_points(self) -> np.ndarray:
        """The shown mesh's image points [V,2] ([0,2] when there is none)."""
        return np.zeros((0, 2)) if self._mesh is None else self._mesh[0]

    def set_sample_points(self, points: np.ndarray | None) -> None:
        """Image points [N,2] the current iteration sampled features at; None clears."""
        self._sample_points = None if points is None else np.asarray(points, np.float64)
        self.samples.setData(pos=np.zeros((0, 2)) if points is None else self._sample_points)

    def set_marks(self, key: str, points: np.ndarray | None,
                  colour: tuple[int, ...] = MARK_COLOUR, size: float = 10.0,
                  bones: Sequence[tuple[int, int]] | None = None) -> None:
        """A tool's 2D marks: image points [N,2] drawn as dots under ``key`` (one item
        per key, made on first use, kept until removed), joined by lines for the index
        pairs ``bones`` when given (a skeleton); None removes them."""
        item = self.marks.get(key)
        lines = self.mark_bones.pop(key, None)
        if lines is not None:
            self.view.removeItem(lines)
        if points is None:
            if item is not None:
                self.view.removeItem(self.marks.pop(key))
            return
        if item is None:
            item = self.marks[key] = pg.ScatterPlotItem(pen=pg.mkPen("k"))
            item.setZValue(TOOL_MARKS_Z)
            self.view.addItem(item)
        xy = np.asarray(points, np.float64).reshape(-1, 2)
        item.setData(pos=xy, size=size, brush=pg.mkBrush(colour))
        if bones:
            pairs = xy[np.asarray(bones, int).ravel()]
            lines = self.mark_bones[key] = pg.PlotCurveItem(
                pairs[:, 0], pairs[:, 1], connect="pairs", pen=pg.mkPen(colour, width=2))
            lines.setZValue(TOOL_MARKS_Z - 0.01)
            self.view.addItem(lines)

    def _draw_mesh(self) -> None:
        """Build only the current style's item: the other costs time while scrubbing."""
        self._fill = None
        self.mesh_wire.setData([], [])
        self.mesh_fill.clear()
        if self._mesh is not None and self._style == "filled":
            self._fill = self._kept("filled", self._rasterize)
            if self._fill is not None:
                rgba = self._fill.rgba
                self.mesh_fill.setImage(rgba, autoLevels=False, levels=None)
                self.mesh_fill.setRect(QRectF(self._fill.x, self._fill.y, rgba.shape[1],
                                              rgba.shape[0]))
        elif self._mesh is not None:
            xy = self._kept("wireframe", self._wire_segments)
            self.mesh_wire.setData(xy[:, 0], xy[:, 1], connect="pairs", skipFiniteCheck=True)
        self._apply_visibility()

    def _wire_segments(self) -> np.ndarray:
        """[2E,2] end points of the front faces' edges, pair by pair."""
        points, faces, depth = self._mesh
        front, _ = face_shading(points, faces, depth)
        return points[unique_edges(faces[front])].reshape(-1, 2)

    def _rasterize(self) -> MeshFill | None:
        """The filled mesh over the photo's pixels it covers; None if it covers none."""
        if self._image is None:
            return None
        points, faces, depth = self._mesh
        return mesh_fill(points, faces, depth, self._image.shape[1::-1], self._fill_side)

    def set_streaming(self, streaming: bool) -> None:
        """Draw the filled mesh coarser while live frames stream, sharp otherwise."""
        side = STREAM_FILL_SIDE if streaming else MAX_FILL_SIDE
        if side != self._fill_side:
            self._fill_side = side
            self._drawn.clear()
            self._draw_mesh()

    # --- visibility ----------------------------------------------------------------------

    def set_overlay_visible(self, name: str, visible: bool) -> None:
        """Show or hide one of OVERLAYS."""
        if name not in OVERLAYS:
            raise ValueError(f"unknown overlay {name!r}; known: {OVERLAYS}")
        self._visible[name] = bool(visible)
        self._apply_visibility()

    def overlay_visible(self, name: str) -> bool:
        return self._visible[name]

    def _apply_visibility(self) -> None:
        for pair in self._box_items:
            for item in pair:
                item.setVisible(self._visible["boxes"])
        for item in (self.bones, self.faded_bones, self.landmarks):
            item.setVisible(self._visible["keypoints"])
        self.mesh_wire.setVisible(self._visible["mesh"] and self._style == "wireframe")
        self.mesh_fill.setVisible(self._visible["mesh"] and self._style == "filled")
        self.samples.setVisible(self._visible["samples"])

    # --- hover, marks and clicks ---------------------------------------------------------

    def hover_at(self, x: float, y: float) -> tuple[str, int]:
        """What lies under image point (x, y): a shown landmark within KEYPOINT_RADIUS_PX
        screen pixels, else the nearest shown vertex within HOVER_RADIUS_PX; ("", -1) if
        none. ``hovered`` is emitted when the answer changes, and the answer is marked."""
        found = ("", -1)
        for kind, overlay, radius_px in (("keypoint", "keypoints", KEYPOINT_RADIUS_PX),
                                         ("vertex", "mesh", HOVER_RADIUS_PX)):
            tree = self._hover_tree(kind) if self._visible[overlay] else None
            if tree is None:
                continue
            distance, index = tree.query((x, y), distance_upper_bound=radius_px
                                         * self._screen_pixel())
            if math.isfinite(distance):
                found = (kind, int(index))
                break
        if found != self._hover:
            self._hover = found
            self.mark(*found)
            self.hovered.emit(*found)
        return found

    def _hover_tree(self, kind: str) -> cKDTree | None:
        """The search tree over the landmarks or the mesh's points, made when first asked."""
        if kind == "keypoint":
            if self._keypoint_tree is None and self._keypoints is not None:
                self._keypoint_tree = cKDTree(self._keypoints)
            return self._keypoint_tree
        if self._mesh_tree is None and self._mesh is not None:
            self._mesh_tree = self._kept("tree", lambda: cKDTree(self._mesh[0]))
        return self._mesh_tree

    def _screen_pixel(self) -> float:
        """Image units per screen pixel (1 before the view has a size)."""
        size = self.view.viewPixelSize()
        return max(size) if all(math.isfinite(s) and s > 0 for s in size) else 1.0

    def mark(self, kind: str, index: int) -> None:
        """Highlight vertex or keypoint ``index`` (e.g. the one hovered in the 3D view);
        ("", -1) or an index that is not there hides the marker."""
        source = {"vertex": None if self._mesh is None else self._mesh[0],
                  "keypoint": self._keypoints}.get(kind)
        ok = source is not None and 0 <= index < len(source)
        self.mark_point(source[index] if ok else None)

    def mark_point(self, xy: np.ndarray | tuple[float, float] | None) -> None:
        """Highlight an arbitrary image point (e.g. a 3D joint's projection); None hides."""
        self.marker.setData(pos=np.zeros((0, 2)) if xy is None else np.reshape(xy, (1, 2)))

    def marker_position(self) -> np.ndarray | None:
        """The marked image point, None when nothing is marked."""
        x, y = self.marker.getData()
        return None if len(x) == 0 else np.array([x[0], y[0]])

    def _on_mouse_moved(self, scene_pos: QPointF) -> None:
        if self.view.sceneBoundingRect().contains(scene_pos):
            p = self.view.mapSceneToView(scene_pos)
            self.hover_at(p.x(), p.y())

    def _on_mouse_clicked(self, event: MouseClickEvent) -> None:
        """A left click inside a person box selects that person (the smallest box if
        boxes overlap: it is the one the user can only hit there)."""
        if event.button() != Qt.MouseButton.LeftButton or not self._visible["boxes"]:
            return
        p = self.view.mapSceneToView(event.scenePos())
        hits = [((x1 - x0) * (y1 - y0), i) for i, (x0, y0, x1, y1) in enumerate(self._boxes)
                if x0 <= p.x() <= x1 and y0 <= p.y() <= y1]
        if hits:
            self.person_clicked.emit(min(hits)[1])

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """Leaving the view ends any hover."""
        if event.type() == QEvent.Type.Leave and self._hover != ("", -1):
            self._hover = ("", -1)
            self.mark("", -1)
            self.hovered.emit("", -1)
        return super().eventFilter(watched, event)

    # --- export --------------------------------------------------------------------------

    def export_overlay_rgb(self) -> np.ndarray:
        """The photo [H,W,3] uint8 with the shown overlays drawn at its own resolution,
        whatever the zoom (drawn with cv2 from the same arrays as the view)."""
        if self._image is None:
            raise ValueError("no image to export")
        out = self._image.copy()
        if self._visible["mesh"] and self._mesh is not None:
            self._export_mesh(out)
        if self._visible["samples"] and self._sample_points is not None:
            for p in _pixel_coords(self._sample_points):
                cv2.circle(out, tuple(p), 2 * 16, SAMPLE_COLOUR, -1, cv2.LINE_AA, 4)
        if self._visible["keypoints"] and self._keypoints is not None:
            self._export_keypoints(out)
        if self._visible["boxes"]:
            for i, box in enumerate(self._boxes):
                colour = SELECTED_COLOUR if i == self._selected else BOX_COLOUR
                x0, y0, x1, y1 = (round(v) for v in box)
                cv2.rectangle(out, (x0, y0), (x1 - 1, y1 - 1), colour, 2)
                cv2.putText(out, str(i), (x0 + 3, y0 + 16), cv2.FONT_HERSHEY_SIMPLEX, 0.6,
                            colour, 2, cv2.LINE_AA)
        return out

    def _export_mesh(self, out: np.ndarray) -> None:
        if self._style == "filled":
            fill = self._fill
            if fill is None:
                return
            x0, y0, rgba = fill.x, fill.y, fill.rgba
            region = out[y0:y0 + rgba.shape[0], x0:x0 + rgba.shape[1]]
            alpha = rgba[..., 3:] / 255.0 * MESH_OPACITY
            region[:] = np.round(region * (1 - alpha) + rgba[..., :3] * alpha).astype(np.uint8)
        else:
            segments = _pixel_coords(self._wire_segments()).reshape(-1, 2, 2)
            layer = out.copy()
            cv2.polylines(layer, list(segments), False, MESH_COLOUR, 1, cv2.LINE_AA, 4)
            cv2.addWeighted(layer, 0.6, out, 0.4, 0, dst=out)

    def _export_keypoints(self, out: np.ndarray) -> None:
        points = _pixel_coords(self._keypoints)
        seen = self._visibility >= VISIBLE
        faded = tuple(c // 3 for c in KEYPOINT_COLOUR)
        for a, b in MEDIAPIPE_EDGES:
            sure = seen[a] and seen[b]
            cv2.line(out, tuple(points[a]), tuple(points[b]), KEYPOINT_COLOUR if sure else faded,
                     2 if sure else 1, cv2.LINE_AA, 4)
        for p, sure in zip(points, seen):
            cv2.circle(out, tuple(p), 3 * 16, KEYPOINT_COLOUR if sure else faded, -1,
                       cv2.LINE_AA, 4)
