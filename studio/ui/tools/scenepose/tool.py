"""Scene-aware pose generation as a studio tool: a placement box (pyqtgraph ROI) or a
point (the paper's ask, sizes predicted; a pyqtgraph target) on the photo; as it moves,
poses regenerate on the worker (debounced; only the newest answer is shown, the UI never
waits); the top-k are drawn as skeletons and listed with their
scores; hovering an entry highlights its skeleton, clicking lifts it to a body through
the keypoint fit, shown in the 3D view in the photo's camera frame; File menu entries
export the poses (JSON/npz) and the lifted body (OBJ/PLY/GLB)."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QObject, QRectF, QTimer

from studio.body.joint_sets import MPII16
from studio.errors import StudioError
from studio.pipeline.scenepose import RANK_COLOURS, check_box, check_point, poses_bytes
from studio.ui.tools.contract import Export, Tool, ToolHost, ToolJob
from studio.ui.tools.scenepose.jobs import (GeneratedPoses, LiftedBody, ModelChoices, ModelSlot,
                                            choices, generate, lift)
from studio.ui.tools.scenepose.panel import ScenePosePanel

if TYPE_CHECKING:
    from studio.ui.document import StudioDocument

DEBOUNCE_MS = 150
BOX_COLOUR = (255, 255, 255)
BODY_COLOUR = "#e8b04a"
SKELETON_Z = 50


class ScenePoseTool(QObject, Tool):
    name = "scenepose"
    title = "Scene poses"

    def __init__(self, host: ToolHost, weights: Path | None = None) -> None:
        QObject.__init__(self)
        self.host = host
        self.view = ScenePosePanel()
        self.slot = ModelSlot(weights)
        self.roi: pg.RectROI | None = None
        self.marker: pg.TargetItem | None = None  # the point, when asked with one
        self.request = 0
        self.result: GeneratedPoses | None = None
        self.body: LiftedBody | None = None
        self.looked_through = False  # the 3D view has been put over this photo once
        self.hover = -1
        self.skeletons: list[pg.PlotCurveItem] = []
        self.timer = QTimer(self)
        self.timer.setSingleShot(True)
        self.timer.setInterval(DEBOUNCE_MS)
        self.timer.timeout.connect(self.request_poses)
        self.view.place_requested.connect(lambda: self.place_box())
        self.view.point_requested.connect(lambda: self.place_point())
        self.view.top_k_changed.connect(lambda _: self.request_poses())
        self.view.class_changed.connect(lambda _: self.request_poses())
        self.view.hovered.connect(self.highlight)
        self.view.picked.connect(self.pick)
        self.view.shown.connect(self.request_choices)
        self.asked_choices = False  # the model's classes were asked for once

    def panel(self) -> ScenePosePanel:
        return self.view

    def exports(self) -> list[Export]:
        return [Export("Scene poses (keypoints)...", "scene_poses.json",
                       "Keypoints (*.json *.npz)", self.write_poses),
                Export("Scene pose body (mesh)...", "scene_pose.obj",
                       "Meshes (*.obj *.ply *.glb)", self.write_body)]

    # ------------------------------------------------------------------ the box
    def _image(self) -> np.ndarray | None:
        doc = self.host.document
        return doc.image if doc is not None and doc.image.size > 3 else None

    def photo_opened(self, document: StudioDocument) -> None:
        self.clear()

    def clear(self) -> None:
        self.timer.stop()
        self.request += 1  # answers still on their way are stale
        self._remove_box()
        self._remove_marker()
        self._show(None)
        self._set_body(None)
        self.looked_through = False
        self.view.set_status("Place a box (or a point) on the photo.")

    def _remove_box(self) -> None:
        if self.roi is not None:
            self.host.image_view.view.removeItem(self.roi)
            self.roi = None

    def _remove_marker(self) -> None:
        if self.marker is not None:
            self.host.image_view.view.removeItem(self.marker)
            self.marker = None

    def _photo_size(self) -> tuple[int, int] | None:
        """(width, height) of the open photo, or None after saying one is needed."""
        image = self._image()
        if image is None:
            self.view.set_status("Open a scene photo first.")
            return None
        return image.shape[1], image.shape[0]

    def _put_on_photo(self, item: pg.GraphicsObject, moved) -> None:
        """Show a new box or point above the skeletons; its moves re-ask after the
        debounce, and it asks once now."""
        item.setZValue(SKELETON_Z + 1)
        moved.connect(lambda _: self.timer.start())
        self.host.image_view.view.addItem(item)
        self.request_poses()

    def place_box(self, box: tuple[float, float, float, float] | None = None) -> None:
        """Put the box on the photo (default: a person-sized box in the middle)."""
        if (size := self._photo_size()) is None:
            return
        w, h = size
        if box is None:
            box = (w * 0.4, h * 0.25, w * 0.6, h * 0.85)
        self._remove_marker()  # one way of asking at a time
        if self.roi is None:
            self.roi = pg.RectROI((box[0], box[1]), (box[2] - box[0], box[3] - box[1]),
                                  pen=pg.mkPen(BOX_COLOUR, width=2), maxBounds=QRectF(0, 0, w, h))
            self.roi.addScaleHandle((0, 0), (1, 1))
            self.roi.addScaleHandle((1, 0), (0, 1))
            self.roi.addScaleHandle((0, 1), (1, 0))
            self._put_on_photo(self.roi, self.roi.sigRegionChanged)
        else:
            self.set_box(box)

    def set_box(self, box: tuple[float, float, float, float]) -> None:
        """Move and resize the box (as a drag does); poses follow after the debounce."""
        assert self.roi is not None
        self.roi.setPos((box[0], box[1]), update=False)
        self.roi.setSize((box[2] - box[0], box[3] - box[1]))

    def place_point(self, point: tuple[float, float] | None = None) -> None:
        """Ask with a point instead of a box (default: the middle of the photo, a little
        low); the box goes, and the poses follow the point as it is dragged."""
        if (size := self._photo_size()) is None:
            return
        w, h = size
        if point is None:
            point = (w * 0.5, h * 0.6)
        self._remove_box()
        if self.marker is None:
            self.marker = pg.TargetItem(pos=point, size=16, movable=True,
                                        pen=pg.mkPen(BOX_COLOUR, width=2))
            self._put_on_photo(self.marker, self.marker.sigPositionChanged)
        else:
            self.set_point(point)

    def set_point(self, point: tuple[float, float]) -> None:
        """Move the point (as a drag does); poses follow after the debounce."""
        assert self.marker is not None
        self.marker.setPos(point)

    def point(self) -> tuple[float, float] | None:
        if self.marker is None:
            return None
        pos = self.marker.pos()
        return (float(pos.x()), float(pos.y()))

    def box(self) -> tuple[float, float, float, float] | None:
        if self.roi is None:
            return None
        (x, y), (bw, bh) = self.roi.pos(), self.roi.size()
        return (float(x), float(y), float(x + bw), float(y + bh))

    def request_choices(self) -> None:
        """Load the model on the worker once the dock shows, so its classes can be chosen
        before the first box (and the first box does not wait for the load)."""
        if self.asked_choices or self.view.has_choices():
            return
        self.asked_choices = True
        slot = self.slot
        self.host.run_job(self, ToolJob(run=lambda models: choices(slot),
                                        result_type=ModelChoices, label="scene-pose model"))

    def request_poses(self) -> None:
        image, box, point = self._image(), self.box(), self.point()
        if image is None or (box is None and point is None):
            return
        size = (image.shape[1], image.shape[0])
        try:
            box = None if box is None else tuple(check_box(box, size))
            point = None if point is None else tuple(check_point(point, size))
        except StudioError as err:
            self.view.set_status(str(err))
            return
        self.request += 1
        request, top_k, slot = self.request, self.view.top_k.value(), self.slot
        pose_class = self.view.chosen_class()
        self.view.set_status("generating...")
        self.host.run_job(self, ToolJob(
            run=lambda models: generate(slot, request, image, top_k, pose_class, box, point),
            result_type=GeneratedPoses, label="scene poses"))

    # ------------------------------------------------------------------ results
    def job_finished(self, job: ToolJob, result: object) -> None:
        if isinstance(result, GeneratedPoses):
            if result.request == self.request:
                self.view.set_choices(result.choices)
                self._show(result)
                (kind, values), = result.where().items()
                sizes = " (sizes predicted)" if kind == "point" else ""
                self.view.set_status(f"{len(result.poses)} poses for the {kind} "
                                     f"{','.join(f'{v:.0f}' for v in values)}{sizes}; click "
                                     "one to see it as a body")
        elif isinstance(result, ModelChoices):
            self.view.set_choices(result)
        elif isinstance(result, LiftedBody) and self.result is not None:
            self._set_body(result)
            self.view.set_status(f"pose {result.rank + 1} lifted to a body")

    def job_failed(self, job: ToolJob, message: str) -> None:
        self.view.set_status(f"{job.label} failed: {message}")

    def _show(self, result: GeneratedPoses | None) -> None:
        self.result = result
        self.hover = -1
        self.view.set_poses([] if result is None else result.poses)
        view = self.host.image_view.view
        count = 0 if result is None else len(result.poses)
        while len(self.skeletons) > count:
            view.removeItem(self.skeletons.pop())
        while len(self.skeletons) < count:
            item = pg.PlotCurveItem(connect="pairs")
            item.setZValue(SKELETON_Z)
            view.addItem(item)
            self.skeletons.append(item)
        self._draw()

    def _draw(self) -> None:
        if self.result is None:
            return
        for rank, (item, pose) in enumerate(zip(self.skeletons, self.result.poses)):
            kp = pose.keypoints
            pairs = [(c, p) for c, p in MPII16.bones if (kp[c] >= 0).all() and (kp[p] >= 0).all()]
            xy = kp[np.array(pairs).ravel()] if pairs else np.zeros((0, 2))
            item.setData(xy[:, 0], xy[:, 1])
            colour = RANK_COLOURS[rank % len(RANK_COLOURS)]
            lit = self.hover in (-1, rank)
            width = 4 if rank == self.hover else (2.5 if rank == 0 else 1.5)
            item.setPen(pg.mkPen(colour + ((255,) if lit else (50,)), width=width))
            item.setZValue(SKELETON_Z + (10 if rank == self.hover else -rank * 0.01))

    def highlight(self, rank: int) -> None:
        """Hovering a list entry: its skeleton drawn thick, the others faded."""
        if rank != self.hover:
            self.hover = rank
            self._draw()

    def pick(self, rank: int) -> None:
        """Lift the pose of ``rank`` to a body on the worker."""
        image = self._image()
        if self.result is None or image is None or not 0 <= rank < len(self.result.poses):
            return
        pose = self.result.poses[rank]
        size = (image.shape[1], image.shape[0])
        self.view.set_status(f"lifting pose {rank + 1} to a body...")
        self.host.run_job(self, ToolJob(
            run=lambda models: lift(rank, pose.keypoints, size, pose.classes),
            result_type=LiftedBody, label="keypoint fit"))

    def _set_body(self, body: LiftedBody | None) -> None:
        """Show the lifted body: with no person's result, as the 3D view's body seen
        through the photo's camera (backdrop and look-through work; the first body on a
        photo turns the view to look through it, so the body stands in the photo where
        the box is; Undo view goes back); over a person's result, as this tool's extra
        mesh in that result's camera frame."""
        import pyvista as pv

        self.body = body
        mesh_view = self.host.mesh_view
        if body is None:
            mesh_view.set_tool_mesh(self.name, None)
            return
        doc = self.host.document
        image = self._image()
        if image is not None and (doc is None or not doc.has_result):
            from studio.body.joint_sets import SMPL24_PARENTS
            from studio.pipeline.crops import ImageCamera

            t = np.asarray(body.translation, np.float32)
            mesh_view.set_body(body.vertices - t, body.faces, body.joints - t,
                               np.array(SMPL24_PARENTS))
            focal, cx, cy = (float(v) for v in body.intrinsics)
            mesh_view.set_camera(ImageCamera(focal, (cx, cy), tuple(float(v) for v in t)),
                                 image)
            if not self.looked_through:
                mesh_view.look_through_camera()
                self.looked_through = True
            return
        shift = np.zeros(3) if mesh_view.camera is None else mesh_view.camera.translation
        vertices = body.vertices - np.asarray(shift, np.float32)  # the view adds it back
        faces = np.column_stack([np.full(len(body.faces), 3), body.faces]).ravel()
        mesh_view.set_tool_mesh(self.name, pv.PolyData(vertices, faces), color=BODY_COLOUR,
                                smooth_shading=True)

    # ------------------------------------------------------------------ exports
    def write_poses(self, path: Path) -> list[Path]:
        from studio.io.output import write_output

        image = self._image()
        if self.result is None or image is None:
            raise StudioError("no generated poses to export: place a box or a point on a "
                              "photo first")
        if path.suffix.lower() not in (".json", ".npz"):
            raise StudioError(f"{path.name}: use .json or .npz")
        payload = poses_bytes(self.result.poses, path.suffix, (image.shape[1], image.shape[0]),
                              self.result.where())
        write_output(path, payload)
        return [path]

    def write_body(self, path: Path) -> list[Path]:
        from studio.io.meshes import MESH_TYPES, mesh_bytes
        from studio.io.output import write_output

        if self.body is None:
            raise StudioError("no lifted body to export: click a generated pose first")
        if path.suffix.lower() not in MESH_TYPES:
            raise StudioError(f"{path.name}: use {', '.join(MESH_TYPES)}")
        write_output(path, mesh_bytes(self.body.vertices, self.body.faces, path.suffix))
        return [path]
