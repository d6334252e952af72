"""The 3D view: a :class:`VtkCanvas` showing one :class:`BodyScene`.

It only displays what it is given (vertices, joints); the body model lives in
:class:`studio.ui.body.state.BodyState`, outside the view.
"""
from __future__ import annotations

import numpy as np
import pyvista as pv
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import QWidget

from studio.ui.views.body_scene import BodyScene, fit_camera, set_skeleton_visible
from studio.ui.views.widgets import embedded_canvas


class BodyView(QWidget):
    """A VTK view of a body with skeleton and ground toggles and named camera views."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.canvas = embedded_canvas(self)
        self.plotter = self.canvas.plotter
        self.scene: BodyScene | None = None
        self.actors: dict[str, pv.Actor] = {}
        self._view = "front"
        self._closed = False
        # Re-frame on resize until the user moves the camera themselves.
        self._auto_frame = True
        # the style, not the interactor, announces drags
        style = self.canvas.interactor.GetInteractorStyle()
        style.AddObserver("StartInteractionEvent", self._on_user_camera)

    def show_scene(self, scene: BodyScene, skeleton: bool = False, ground: bool = True) -> None:
        """Replace what is shown by ``scene`` and frame it from the front."""
        self.plotter.clear_actors()
        self.scene = scene
        self.actors = scene.add_to(self.plotter, skeleton=skeleton, ground=ground)
        self.set_view("front")

    def update_body(self, vertices: np.ndarray, joints: np.ndarray) -> None:
        """Move the shown body in place (camera unchanged) and redraw."""
        if self.scene is None:
            return
        self.scene.update(vertices, joints)
        self.plotter.renderer.ResetCameraClippingRange()
        self.plotter.render()

    def set_skeleton_visible(self, visible: bool) -> None:
        if self.actors:
            set_skeleton_visible(self.actors, visible)
            self.plotter.render()

    def set_ground_visible(self, visible: bool) -> None:
        if self.actors:
            self.actors["ground"].visibility = visible
            self.plotter.render()

    def set_view(self, view: str) -> None:
        """Frame the body from ``front`` or ``side``."""
        if self.scene is None:
            return
        self._view = view
        self._auto_frame = True
        points = np.asarray(self.scene.mesh.points)
        aspect = max(self.canvas.width(), 1) / max(self.canvas.height(), 1)
        fit_camera(self.plotter.camera, points, view, aspect)
        self.plotter.renderer.ResetCameraClippingRange()
        self.plotter.render()

    def _on_user_camera(self, *_: object) -> None:
        self._auto_frame = False

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 (Qt's name)
        super().resizeEvent(event)
        if self._auto_frame and not self._closed:
            self.set_view(self._view)

    def reset_camera(self) -> None:
        """Frame the body again from the last named view."""
        self.set_view(self._view)

    def close_view(self) -> None:
        """Release VTK's window and interactor now, not at interpreter exit."""
        if not self._closed:
            self._closed = True
            self.actors = {}
            self.canvas.close_canvas()
