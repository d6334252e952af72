"""The 3D mesh view's hovering and marker: picking the vertex or joint under the mouse
(throttled), and a marker on what a linked view hovers, drawn over the body. A part of
:class:`~studio.ui.views.mesh_view.MeshView` (its state is made in ``MeshView.__init__``),
kept apart to keep that module small.
"""
from __future__ import annotations

import numpy as np
import pyvista as pv

HOVER_INTERVAL_MS = 40  # pick at most this often while the mouse moves
MARKER_COLOR = "#ffc21a"


class MeshHover:
    """The hover and marker half of :class:`~studio.ui.views.mesh_view.MeshView`."""

    def hover_at(self, x: float, y: float) -> tuple[str, int]:
        """Pick what is under widget pixel (x, y), emit ``hovered`` if it changed, return it."""
        ratio = self.canvas.pixel_ratio()
        height = self.plotter.render_window.GetSize()[1]
        return self._hover_display(x * ratio, height - 1 - y * ratio)

    def _on_mouse_move(self, interactor: object, _event: str) -> None:
        """Remember where the mouse is; pick there when the throttle timer fires."""
        if self._drag_start is None:
            self._pending_hover = interactor.GetEventPosition()
            if not self._hover_timer.isActive():
                self._hover_timer.start()

    def _on_leave(self, *_: object) -> None:
        self._hover_timer.stop()
        self._emit_hover(("", -1))

    def _hover_pending(self) -> None:
        """Pick at the last mouse position. The interactor's event position is measured
        against the widget's height, which the render window's may lag behind until the
        next paint, so it goes back to widget pixels and through :meth:`hover_at`."""
        if self._pending_hover is not None and not self._closed:
            ratio = self.canvas.pixel_ratio()
            x, y = self._pending_hover
            self.hover_at(x / ratio, self.canvas.height() - 1 - y / ratio)

    def _hover_display(self, x: float, y: float) -> tuple[str, int]:
        hit = self._pick(x, y)
        self._emit_hover(hit)
        return hit

    def _emit_hover(self, hit: tuple[str, int]) -> None:
        if hit != self._hover:
            self._hover = hit
            self.hovered.emit(*hit)

    def _pick(self, x: float, y: float) -> tuple[str, int]:
        """Joints first while the skeleton shows (they sit inside the mesh), then the mesh;
        VTK display coordinates (y up)."""
        if self.scene is None:
            return "", -1
        self.canvas.render_if_pending()  # a change not painted yet: pick what will show
        renderer = self.plotter.renderer
        if self._shown["skeleton"] and self._joint_picker.Pick(x, y, 0.0, renderer):
            per_joint = self.scene.joints.n_points // self.scene.bones.n_points
            return "joint", self._joint_picker.GetPointId() // per_joint
        if self._mesh_picker.Pick(x, y, 0.0, renderer):
            if self._coarse is None:
                return "vertex", self._mesh_picker.GetPointId()
            # the body's vertex nearest the hit, not the coarse triangle's corner
            hit = np.asarray(self._mesh_picker.GetPickPosition(), np.float32)
            return "vertex", int(np.argmin(((self._points - hit) ** 2).sum(axis=1)))
        return "", -1

    def marked(self) -> tuple[str, int]:
        """What :meth:`mark` last highlighted."""
        return self._marked

    def mark(self, kind: str, index: int) -> None:
        """Highlight a vertex or joint (what a linked view hovers); ("", -1) hides it."""
        self._marked = (kind, index)
        self._place_marker()
        self._redraw()

    def _add_marker(self) -> None:
        assert self.scene is not None
        height = float(np.ptp(self.scene.mesh.points[:, 1])) or 1.0
        ball = pv.Sphere(radius=0.022 * height, theta_resolution=16, phi_resolution=12)
        marker = pv.Actor(mapper=pv.DataSetMapper(ball))
        marker.prop.color = MARKER_COLOR
        marker.prop.ambient = 0.4
        self._marker_layer.RemoveAllViewProps()
        self._marker_layer.AddActor(marker)
        self.actors["marker"] = marker
        self._place_marker()

    def _place_marker(self) -> None:
        """Put the marker on the marked vertex or joint (following the body as it moves)."""
        if self.scene is None:
            return
        kind, index = self._marked
        points = {"vertex": self._points, "joint": self.scene.bones.points}.get(kind)
        visible = points is not None and 0 <= index < len(points)
        marker = self.actors["marker"]
        marker.visibility = visible
        if visible:
            marker.position = tuple(float(v) for v in points[index])
