"""The 3D mesh view's camera: named views (front, side, through the image camera), the
user's drags, and undoing view changes. A part of :class:`~studio.ui.views.mesh_view.MeshView`
(its state is made in ``MeshView.__init__``), kept apart to keep that module small.
"""
from __future__ import annotations

import math

import numpy as np

from studio.ui.views.body_scene import fit_camera

BAR_SPACE_PX = 100  # the colour bar's room at the view's right edge: bar, labels, title

MAX_UNDO = 50
NAMED_VIEW_ANGLE = 30.0  # VTK's default vertical view angle, restored after look-through

CameraPose = tuple[tuple[float, ...], tuple[float, ...], tuple[float, ...], float,
                   tuple[float, ...]]


class MeshCamera:
    """The camera half of :class:`~studio.ui.views.mesh_view.MeshView`."""

    def set_view(self, view: str) -> None:
        """Frame the body from ``front`` (towards the image camera) or ``side``."""
        self._change_camera(view)

    def look_through_camera(self) -> None:
        """See the scene exactly as the image camera did, the photo filling the view."""
        if self.camera is not None:
            self._change_camera("camera")

    @property
    def looking_through(self) -> bool:
        """Whether the view is framed through the image camera (the backdrop shows)."""
        return self._mode == "camera"

    def reset_camera(self) -> None:
        """Frame the body again the last named way (front, side or through the camera)."""
        self._change_camera(self._mode)

    def can_undo_camera(self) -> bool:
        return bool(self._undo)

    def undo_camera(self) -> None:
        """Go back to the camera pose before the last view change or drag."""
        if self._undo:
            self._set_pose(self._undo.pop())
            self._auto_frame = False
            self._redraw()

    def _change_camera(self, mode: str) -> None:
        """Frame by ``mode`` as the user asked: remembered for undo when it moved."""
        if self.scene is None:
            return
        before = self._pose()
        if (mode == "camera") != (self._mode == "camera") and self._raw is not None:
            self._mode = mode
            self._update_scene()  # own or the camera's translation
            self._place_marker()
        self._mode = mode
        self._show_camera_actors()
        self._auto_frame = True
        self._apply_mode()
        self._push_pose(before)
        self._redraw()

    def _refresh_frame(self) -> None:
        """After new content: re-frame unless the user has placed the camera."""
        if self._auto_frame:
            self._apply_mode()
        self.plotter.renderer.ResetCameraClippingRange()
        self._redraw()

    def _apply_mode(self) -> None:
        if self._mode == "camera" and self.camera is not None:
            self._look_through()
        else:
            # Shown, the colour bar keeps the right edge: the body is framed left of it.
            aspect, bar = self._aspect(), 0.0
            if self.displacement_shown:
                bar = min(0.4, BAR_SPACE_PX / max(self.width(), 1))
            camera = self.plotter.camera
            camera.SetWindowCenter(bar, 0.0)  # the view's centre lands at -bar
            camera.view_angle = NAMED_VIEW_ANGLE
            view = "front" if self._mode == "camera" else self._mode
            fit_camera(camera, self.framed_points(), view, aspect * (1.0 - bar))
        self.plotter.renderer.ResetCameraClippingRange()

    def _aspect(self) -> float:
        return max(self.width(), 1) / max(self.height(), 1)

    def _look_through(self) -> None:
        """VTK camera = image camera. The whole photo fits the widget (letterboxed); the
        principal point is shifted off the view's centre by the window centre."""
        assert self.camera is not None
        w, h = self._image_size
        cx, cy = self.camera.centre
        view_w, view_h = max(self.width(), 1), max(self.height(), 1)
        shown_h = max(h, w * view_h / view_w)  # image pixels across the view's height
        scale = view_h / shown_h  # view pixels per image pixel
        camera = self.plotter.camera
        camera.position = (0.0, 0.0, 0.0)
        camera.focal_point = (0.0, 0.0, -float(self.camera.translation[2]))
        camera.up = (0.0, 1.0, 0.0)
        camera.view_angle = math.degrees(2.0 * math.atan(shown_h / 2.0 / self.camera.focal))
        # The optical axis lands at normalised (-wx, -wy); image y runs down, display y up.
        camera.SetWindowCenter(-2.0 * (cx - w / 2.0) * scale / view_w,
                               2.0 * (cy - h / 2.0) * scale / view_h)

    def _pose(self) -> CameraPose:
        camera = self.plotter.camera
        return (camera.GetPosition(), camera.GetFocalPoint(), camera.GetViewUp(),
                camera.GetViewAngle(), camera.GetWindowCenter())

    def _set_pose(self, pose: CameraPose) -> None:
        position, focal_point, up, angle, centre = pose
        camera = self.plotter.camera
        camera.SetPosition(position)
        camera.SetFocalPoint(focal_point)
        camera.SetViewUp(up)
        camera.SetViewAngle(angle)
        camera.SetWindowCenter(*centre)
        self.plotter.renderer.ResetCameraClippingRange()

    def _push_pose(self, before: CameraPose) -> None:
        if not np.allclose(np.hstack(before), np.hstack(self._pose())):
            self._undo = [*self._undo[-(MAX_UNDO - 1):], before]

    def _on_drag_start(self, *_: object) -> None:
        self._drag_start = self._pose()
        self._hover_timer.stop()

    def _on_drag_end(self, *_: object) -> None:
        if self._drag_start is not None:
            before, self._drag_start = self._drag_start, None
            self._auto_frame = False
            self._push_pose(before)
