"""The 3D view of PyMAF results: the mesh where the image camera saw it, with the photo.

Everything is shown in one display frame: camera axes (x right, y down, z away) turned
180 degrees about x, so y is up and the image camera sits at the origin looking down -z,
as a VTK camera does. Bodies are placed at the image camera's translation, so looking
through that camera puts the mesh on the person in the photo backdrop.
"""
from __future__ import annotations

import numpy as np
import pyvista as pv
from PySide6.QtCore import QTimer, Signal
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import QWidget
from vtkmodules.util.numpy_support import vtk_to_numpy
from vtkmodules.vtkCommonCore import VTK_UNSIGNED_CHAR
from vtkmodules.vtkRenderingCore import vtkCellPicker, vtkRenderer

from studio.pipeline.crops import ImageCamera
from studio.ui.views.body_scene import (BodyScene, CoarseSurface, coarse_surface,
                                        set_skeleton_visible)
from studio.ui.views.mesh_camera import CameraPose, MeshCamera
from studio.ui.views.mesh_hover import HOVER_INTERVAL_MS, MeshHover
from studio.ui.views.widgets import embedded_canvas

DISPLAY_AXES = np.array([1.0, -1.0, -1.0])  # camera axes -> display frame (180 deg about x)
BACKDROP_DEPTH = 1.3  # the photo sits this many body depths from the camera
FRUSTUM_COLOR = "#5b6472"
DISPLACEMENT_TITLE = "moved (mm)"
# The colour bar, in view pixels: its left edge this far from the view's right edge, and
# its width (framing keeps the body out of mesh_camera.BAR_SPACE_PX there).
BAR_LEFT_PX, BAR_WIDTH_PX = 78, 22
# The photo and the camera's frustum show when looking through the image camera; in the
# front and side views (framed on the body) the far photo was a thumbnail over the head.
CAMERA_ACTORS = ("backdrop", "frustum")
# While frames stream: a quarter of the pixels (software GL's cost per pixel) and a
# quarter of the body's triangles (its cost per triangle: 6.6 -> 3.0 ms a render).
STREAM_RENDER_SCALE = 0.5
STREAM_REDUCTION = 0.75
# ... and at most ten renders a second, each showing the newest body and photo: the 3D
# view's moves, render and repaint took a third of the UI thread's time per live frame,
# which two cores share with the pipeline (the 2D view follows every frame).
STREAM_RENDER_INTERVAL_S = 0.1


class MeshView(MeshCamera, MeshHover, QWidget):
    """A VTK view of one result's mesh, skeleton, image camera and photo backdrop.

    ``hovered`` tells linked views what is under the mouse: ("vertex", i), ("joint", j)
    or ("", -1); :meth:`mark` shows what a linked view hovers.
    """

    hovered = Signal(str, int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.canvas = embedded_canvas(self)
        self.plotter = self.canvas.plotter
        self.scene: BodyScene | None = None
        self.actors: dict[str, pv.Actor] = {}
        self.camera: ImageCamera | None = None
        self._texture: pv.Texture | None = None
        self._image_size = (1, 1)  # width, height
        self._raw: tuple[np.ndarray, np.ndarray] | None = None  # vertices, joints as given
        self._topology: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None  # faces,
        # parents, part labels of the body shown
        self._points = np.zeros((0, 3), np.float32)  # every vertex, placed (ids as given)
        self._framed: np.ndarray | None = None  # more points (as given) framing keeps in view
        self._streaming = False
        self._coarse: CoarseSurface | None = None  # drawn instead of the body while streaming
        # While streaming, the newest body and photo wait for the next render, however
        # it comes (queued, a paint, a drag, a screenshot).
        self._body_due = False
        self._photo_due: np.ndarray | None = None
        self.plotter.render_window.AddObserver("StartEvent", lambda *_: self._apply_due())
        self.canvas.prepare = self._apply_due
        self._displacement: tuple[np.ndarray, float | None] | None = None  # mm, max shown
        # The shown iteration's own translation; used when looking through the camera, so
        # each iteration lines up with its own projection on the photo.
        self._own_shift: np.ndarray | None = None
        self._backdrop_depth: float | None = None
        self._shown = {"skeleton": False, "ground": True, "backdrop": True, "frustum": True}
        self._mode = "front"  # "front", "side" or "camera"
        self._auto_frame = True  # re-frame on resize until the user moves the camera
        self._undo: list[CameraPose] = []
        self._drag_start: CameraPose | None = None
        self._marked = ("", -1)
        self._hover = ("", -1)
        self._closed = False
        self._tool_meshes: dict[str, tuple[pv.PolyData, dict]] = {}  # tools' actors by key
        self._marker_layer = self._overlay_renderer()
        self._mesh_picker = self._picker()
        self._joint_picker = self._picker()
        self._pending_hover: tuple[float, float] | None = None
        self._hover_timer = QTimer(self)
        self._hover_timer.setSingleShot(True)
        self._hover_timer.setInterval(HOVER_INTERVAL_MS)
        self._hover_timer.timeout.connect(self._hover_pending)
        interactor = self.canvas.interactor
        style = interactor.GetInteractorStyle()  # the style, not the interactor, announces drags
        style.AddObserver("StartInteractionEvent", self._on_drag_start)
        style.AddObserver("EndInteractionEvent", self._on_drag_end)
        interactor.AddObserver("MouseMoveEvent", self._on_mouse_move)
        interactor.AddObserver("LeaveEvent", self._on_leave)

    def _overlay_renderer(self) -> vtkRenderer:
        """A layer drawn over the scene with the same camera: the marker stays visible
        even on a joint inside the body."""
        window = self.plotter.render_window
        window.SetNumberOfLayers(2)
        layer = vtkRenderer()
        layer.SetLayer(1)
        layer.InteractiveOff()
        layer.SetActiveCamera(self.plotter.renderer.GetActiveCamera())
        window.AddRenderer(layer)
        return layer

    @staticmethod
    def _picker() -> vtkCellPicker:
        picker = vtkCellPicker()
        picker.PickFromListOn()  # only the body: never the backdrop, ground or frustum
        return picker

    # -- content ---------------------------------------------------------------------

    def set_body(self, vertices: np.ndarray, faces: np.ndarray, joints: np.ndarray,
                 parents: np.ndarray, part_labels: np.ndarray | None = None,
                 framed: np.ndarray | None = None) -> None:
        """Show a new body (any topology); without ``part_labels`` it is one colour.
        ``framed``: more points (as ``vertices`` are given, e.g. every iteration's
        vertices) that the front and side views keep in frame with the body."""
        labels = np.zeros(len(vertices), np.int64) if part_labels is None else part_labels
        self._raw = (np.asarray(vertices), np.asarray(joints))
        self._framed = None if framed is None else np.asarray(framed).reshape(-1, 3)
        self._topology = (np.asarray(faces), np.asarray(parents), np.asarray(labels))
        self._displacement = None
        self._build_scene()
        self._refresh_frame()

    def _build_scene(self) -> None:
        """The body's actors anew, coarse while streaming; the camera stays."""
        faces, parents, labels = self._topology
        if DISPLACEMENT_TITLE in self.plotter.scalar_bars:
            self.plotter.remove_scalar_bar(DISPLACEMENT_TITLE, render=False)
        self.plotter.clear_actors()
        self._coarse = None
        if self._streaming:
            try:
                self._coarse = coarse_surface(self._raw[0], faces, labels, STREAM_REDUCTION)
            except ValueError:  # a body whose vertices coincide: drawn whole
                pass
        vertices, joints = self._placed(*self._raw)
        self._points = vertices
        parts = None
        if self._coarse is not None:
            kept, parts = self._coarse.vertices, self._coarse.face_parts
            vertices, faces, labels = vertices[kept], self._coarse.faces, labels[kept]
        self.scene = BodyScene.build(vertices, joints, faces, parents, labels, parts)
        self.actors = self.scene.add_to(self.plotter, skeleton=self._shown["skeleton"],
                                        ground=self._shown["ground"])
        self._add_marker()
        for key in self._tool_meshes:
            self._add_tool_mesh(key)
        if self._texture is not None:
            self._add_camera_actors()
        self._mesh_picker.InitializePickList()
        self._mesh_picker.AddPickList(self.actors["mesh"])
        self._joint_picker.InitializePickList()
        self._joint_picker.AddPickList(self.actors["joints"])
        if self._displacement is not None:
            self.set_displacement(*self._displacement)

    def _update_scene(self) -> None:
        """Move the scene's body to ``_raw``, placed (the coarse surface's share of it)."""
        vertices, joints = self._placed(*self._raw)
        self._points = vertices
        self.scene.update(vertices if self._coarse is None else vertices[self._coarse.vertices],
                          joints)

    def update_body(self, vertices: np.ndarray, joints: np.ndarray,
                    translation: np.ndarray | None = None) -> None:
        """Move the shown body in place (same topology, camera unchanged) and redraw once.

        ``translation`` is this body's own camera translation: looking through the image
        camera places the body there; front and side views keep the camera's, so scrubbing
        iterations compares pose and shape rather than jumping in depth.
        """
        if self.scene is None:
            return
        self._raw = (np.asarray(vertices), np.asarray(joints))
        self._own_shift = None if translation is None else np.asarray(translation, np.float64)
        self._body_due = True
        if not self._streaming:
            self._apply_due()
        self._redraw()

    def _apply_due(self) -> bool:
        """Move the body and copy the photo given since the last render (streaming keeps
        them back until a render comes: most frames' are never drawn); True if any was."""
        applied = False
        if self._photo_due is not None:
            photo, self._photo_due = self._photo_due, None
            self._copy_photo(photo)
            applied = True
        if self._body_due and self.scene is not None:
            self._body_due = False
            self._update_scene()
            self._place_marker()
            self.plotter.renderer.ResetCameraClippingRange()
            applied = True
        return applied

    def set_camera(self, camera: ImageCamera, image_rgb: np.ndarray,
                   backdrop_depth: float | None = None) -> None:
        """Place the body at ``camera``'s translation and show the camera and its photo,
        the photo ``backdrop_depth`` metres away (default: a little behind the body)."""
        self.camera = camera
        self._backdrop_depth = backdrop_depth
        self._image_size = (image_rgb.shape[1], image_rgb.shape[0])
        self.update_photo(image_rgb)
        if self.scene is None or self._raw is None:
            return
        self._update_scene()
        self._place_marker()
        self._add_camera_actors()
        self._refresh_frame()

    def update_photo(self, image_rgb: np.ndarray) -> None:
        """Put a new photo on the backdrop (live frames of one camera). A photo of the
        shown one's size is copied into its texture's pixels: a new texture per frame
        cost 2-4 ms of UI thread."""
        rgb = image_rgb[:, :, :3]
        pixels = None if self._texture is None else _texture_pixels(self._texture)
        if pixels is not None and pixels.shape == (rgb.shape[0] * rgb.shape[1], 3):
            if self._streaming:
                self._photo_due = rgb  # copied at the next render
                self._redraw()
            else:
                self._copy_photo(rgb)
            return
        self._photo_due = None
        self._texture = pv.Texture(np.ascontiguousarray(rgb))
        backdrop = self.actors.get("backdrop")
        if backdrop is not None:
            backdrop.texture = self._texture

    def _copy_photo(self, rgb: np.ndarray) -> None:
        """Copy ``rgb`` into the backdrop texture, which has its size."""
        pixels = _texture_pixels(self._texture)
        pixels.reshape(rgb.shape)[:] = rgb[::-1]  # VTK images start at the bottom row
        self._texture.GetInputDataObject(0, 0).Modified()

    def _placed(self, vertices: np.ndarray, joints: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Camera-axes points, translated by the image camera, in the display frame."""
        if self._mode == "camera" and self._own_shift is not None:
            shift = self._own_shift
        else:
            shift = np.zeros(3) if self.camera is None else np.asarray(self.camera.translation)
        vertices, joints = ((np.asarray(p) + shift) * DISPLAY_AXES for p in (vertices, joints))
        return vertices.astype(np.float32), joints.astype(np.float32)

    def _image_corners(self, depth: float) -> np.ndarray:
        """[4,3] the image's corners (top-left, top-right, bottom-right, bottom-left)
        back-projected to ``depth`` metres, in the display frame."""
        assert self.camera is not None
        w, h = self._image_size
        corners = np.array([[0.0, 0.0], [w, 0.0], [w, h], [0.0, h]])
        xy = (corners - np.asarray(self.camera.centre)) / self.camera.focal * depth
        return np.column_stack([xy, np.full(4, depth)]) * DISPLAY_AXES

    def _add_camera_actors(self) -> None:
        """The photo on a plane behind the body, exactly filling the camera's view, and
        the camera's frustum from its centre (the display origin) to that plane."""
        assert self.camera is not None
        depth = self._backdrop_depth or BACKDROP_DEPTH * self.camera.translation[2]
        corners = self._image_corners(depth)
        backdrop = pv.PolyData(corners, faces=[4, 0, 1, 2, 3])
        backdrop.active_texture_coordinates = np.array([[0, 1], [1, 1], [1, 0], [0, 0]],
                                                       np.float32)
        self.actors["backdrop"] = self.plotter.add_mesh(
            backdrop, texture=self._texture, lighting=False, name="backdrop",
            pickable=False, reset_camera=False, render=False)
        lines = [2, 0, 1, 2, 0, 2, 2, 0, 3, 2, 0, 4, 5, 1, 2, 3, 4, 1]
        frustum = pv.PolyData(np.vstack([np.zeros(3), corners]), lines=lines)
        self.actors["frustum"] = self.plotter.add_mesh(
            frustum, color=FRUSTUM_COLOR, line_width=1.5, lighting=False, name="frustum",
            pickable=False, reset_camera=False, render=False)
        self._show_camera_actors()

    def _show_camera_actors(self) -> None:
        """The photo and the frustum as toggled, when looking through the image camera."""
        for name in CAMERA_ACTORS:
            if name in self.actors:
                self.actors[name].visibility = self._shown[name] and self._mode == "camera"

    def framed_points(self) -> np.ndarray:
        """Display-frame points the front and side views keep in frame: the body shown
        and the ``framed`` points given with it."""
        points = np.asarray(self.scene.mesh.points)
        if self._framed is None:
            return points
        return np.vstack([points, self._placed(self._framed, np.zeros((0, 3)))[0]])

    def set_tool_mesh(self, key: str, mesh: pv.PolyData | None, **style: object) -> None:
        """A tool's 3D actor: ``mesh`` in the body's camera frame (as an iteration's
        vertices), placed where the body is, drawn with ``plotter.add_mesh``'s ``style``;
        kept until removed (None) or the view is cleared."""
        if mesh is None:
            self._tool_meshes.pop(key, None)
            actor = self.actors.pop(f"tool:{key}", None)
            if actor is not None:
                self.plotter.remove_actor(actor, render=False)
        else:
            self._tool_meshes[key] = (mesh, style)
            self._add_tool_mesh(key)
        self._redraw()

    def _add_tool_mesh(self, key: str) -> None:
        mesh, style = self._tool_meshes[key]
        placed = mesh.copy()
        placed.points = self._placed(np.asarray(mesh.points), np.zeros((0, 3)))[0]
        self.actors[f"tool:{key}"] = self.plotter.add_mesh(
            placed, name=f"tool:{key}", pickable=False, reset_camera=False, render=False,
            **style)

    def clear(self) -> None:
        """Show nothing (a new photo is on its way); toggles and camera mode stay."""
        if DISPLACEMENT_TITLE in self.plotter.scalar_bars:
            self.plotter.remove_scalar_bar(DISPLACEMENT_TITLE, render=False)
        self.plotter.clear_actors()
        self._marker_layer.RemoveAllViewProps()
        self.scene, self.camera, self._texture, self._raw = None, None, None, None
        self._framed = None
        self._topology, self._coarse, self._displacement = None, None, None
        self._body_due, self._photo_due = False, None
        self._points = np.zeros((0, 3), np.float32)
        self.actors = {}
        self._tool_meshes.clear()
        self._marked = ("", -1)
        self._redraw()

    # -- colouring and toggles -----------------------------------------------------

    @property
    def displacement_shown(self) -> bool:
        """Whether the mesh is coloured by displacement now."""
        return DISPLACEMENT_TITLE in self.plotter.scalar_bars

    def set_displacement(self, mm: np.ndarray | None, max_mm: float | None = None) -> None:
        """Colour the mesh by per-vertex displacement (mm, 0..``max_mm``, default the
        largest); None brings back the part colours."""
        if self.scene is None:
            return
        self._displacement = None if mm is None else (np.asarray(mm, np.float32), max_mm)
        mapper = self.actors["mesh"].mapper
        if mm is None:
            if DISPLACEMENT_TITLE in self.plotter.scalar_bars:
                self.plotter.remove_scalar_bar(DISPLACEMENT_TITLE, render=False)
            mapper.scalar_map_mode = "cell_field"
            mapper.array_name = "part_rgb"
            mapper.color_mode = "direct"
        else:
            mm = np.asarray(mm, np.float32)
            top = float(max_mm) if max_mm is not None else max(float(mm.max()), 1e-3)
            self.scene.mesh.point_data["moved_mm"] = (mm if self._coarse is None
                                                      else mm[self._coarse.vertices])
            mapper.scalar_map_mode = "point_field"
            mapper.array_name = "moved_mm"
            mapper.color_mode = "map"
            if DISPLACEMENT_TITLE not in self.plotter.scalar_bars:
                mapper.lookup_table = pv.LookupTable(cmap="YlOrRd")
                self.plotter.add_scalar_bar(DISPLACEMENT_TITLE, mapper=mapper, n_labels=3,
                                            fmt="%.0f", vertical=True, position_y=0.1,
                                            height=0.5, title_font_size=14,
                                            label_font_size=12,
                                            unconstrained_font_size=True)
                self._place_bar()
            mapper.scalar_range = (0.0, top)
        if self._auto_frame and self._mode != "camera":
            self._apply_mode()  # the body makes room for the bar, or takes it back
        self._redraw()

    def _place_bar(self) -> None:
        """The colour bar at the view's right edge, a fixed size in pixels (its title
        and labels fit whatever the view's width)."""
        if DISPLACEMENT_TITLE in self.plotter.scalar_bars:
            width = max(self.width(), 1)
            bar = self.plotter.scalar_bars[DISPLACEMENT_TITLE]
            bar.SetPosition(max(0.5, 1.0 - BAR_LEFT_PX / width), 0.1)
            bar.SetWidth(min(0.2, BAR_WIDTH_PX / width))

    def set_skeleton_visible(self, visible: bool) -> None:
        self._shown["skeleton"] = visible
        if self.actors:
            set_skeleton_visible(self.actors, visible)
            self._redraw()

    def set_ground_visible(self, visible: bool) -> None:
        self._set_shown("ground", visible)

    def set_backdrop_visible(self, visible: bool) -> None:
        self._set_shown("backdrop", visible)

    def set_frustum_visible(self, visible: bool) -> None:
        self._set_shown("frustum", visible)

    def _set_shown(self, name: str, visible: bool) -> None:
        self._shown[name] = visible
        if name in CAMERA_ACTORS:
            self._show_camera_actors()
            self._redraw()
        elif name in self.actors:
            self.actors[name].visibility = visible
            self._redraw()

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 (Qt's name)
        super().resizeEvent(event)
        self._place_bar()
        if self._auto_frame and not self._closed and self.scene is not None:
            self._apply_mode()

    def _redraw(self) -> None:
        """Ask Qt to paint the view: the widget renders once when it paints, so several
        changes in one event cost one render (``plotter.render()`` would render now and
        again at the paint)."""
        if not self._closed:
            self.canvas.request_render()

    def set_streaming(self, streaming: bool) -> None:
        """While live frames stream, draw a quarter of the pixels (scaled up) and the
        body's coarse surface: both costs of software GL shrink. Pausing draws the whole
        body sharp again. Hover and marks keep the body's own vertex ids."""
        self.canvas.set_render_scale(STREAM_RENDER_SCALE if streaming else 1.0)
        self.canvas.min_render_interval_s = STREAM_RENDER_INTERVAL_S if streaming else 0.0
        if streaming != self._streaming:
            self._streaming = streaming
            self._body_due = False  # the scene is built anew from the newest body below
            self._apply_due()  # the photo kept back
            if self.scene is not None:
                self._build_scene()
                self._redraw()

    def close_view(self) -> None:
        """Release VTK's window and interactor now, not at interpreter exit."""
        if not self._closed:
            self._closed = True
            self._hover_timer.stop()
            self.actors = {}
            self._marker_layer.RemoveAllViewProps()
            self.canvas.close_canvas()


def _texture_pixels(texture: pv.Texture) -> np.ndarray | None:
    """[H*W,3] uint8 view of an RGB texture's pixels (bottom row first); None for other
    layouts."""
    image = texture.GetInputDataObject(0, 0)
    scalars = None if image is None else image.GetPointData().GetScalars()
    if (scalars is None or scalars.GetNumberOfComponents() != 3
            or scalars.GetDataType() != VTK_UNSIGNED_CHAR):
        return None
    return vtk_to_numpy(scalars)
