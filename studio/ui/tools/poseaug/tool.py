"""The PoseAug dock as a tool: the shown person's pose augmented on the worker, once asked
(Draw, or a change of the panel's controls) and from then on whenever the person, the
iteration or the controls change (latest request wins; nothing runs for users who never
ask, nor while live frames stream), the picked
sample's stages side by side in the 3D view (fitted bodies and part-coloured bones) and
its final joints on the photo, and File menu exports of the samples (npz, meshes)."""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pyvista as pv

from studio.errors import StudioError
from studio.io.output import write_outputs
from studio.nets.poseaug import BONES
from studio.pipeline.poseaug_samples import (BONE_PART, STAGE_KEYS, SampleSet, mesh_payloads,
                                             npz_bytes, person_samples)
from studio.ui.tools.contract import Export, Tool, ToolHost, ToolJob
from studio.ui.tools.poseaug.panel import IDLE, PoseAugPanel, score_colour

if TYPE_CHECKING:
    from studio.pipeline.results import MeshIteration
    from studio.ui.document import StudioDocument

BODY_STYLE = {"color": "#d8c3a5", "opacity": 0.45, "smooth_shading": True}
BONE_WIDTH = 5.0
MARK_COLOUR = (255, 140, 0)
MIN_SPACING = 0.8  # metres between the stages shown side by side
NOTHING_DRAWN = "no PoseAug samples yet: open a photo and draw them in the PoseAug panel"


def stage_offsets(poses: np.ndarray) -> np.ndarray:
    """[4,3] where each stage of one sample ([4,16,3]) goes, right of the person: one
    pose's width (plus a gap) apart, the first a spacing away."""
    relative = poses - poses[:, :1]
    width = float((relative[..., 0].max(1) - relative[..., 0].min(1)).max())
    spacing = max(MIN_SPACING, width + 0.3)
    return np.array([[spacing * (k + 1), 0.0, 0.0] for k in range(len(poses))])


def bones_mesh(points: np.ndarray, scores: np.ndarray) -> pv.PolyData:
    """A pose's bones as lines, each coloured by its part's score."""
    lines = np.array([[2, a, b] for a, b in BONES]).reshape(-1)
    mesh = pv.PolyData(np.asarray(points, np.float32), lines=lines)
    mesh.cell_data["colour"] = np.array(
        [score_colour(scores[BONE_PART[b]]).getRgb()[:3] for b in range(len(BONES))], np.uint8)
    return mesh


class PoseAugTool(Tool):
    name = "poseaug"
    title = "PoseAug"

    def __init__(self, host: ToolHost) -> None:
        self.host = host
        self.view = PoseAugPanel()
        self.view.settings_changed.connect(self.start)
        self.view.draw_button.clicked.connect(self.start)
        self.view.sample_picked.connect(self.show_sample)
        self._following = False  # asked for samples once: they follow the shown person
        self._source: tuple[MeshIteration, tuple[int, int]] | None = None
        self._job: ToolJob | None = None  # the latest asked for; older answers are dropped
        self._streaming = False
        self._frame_next = False  # frame the 3D view on the next samples shown
        self._keys: list[str] = []  # the 3D view's tool meshes now shown

    def panel(self) -> PoseAugPanel:
        return self.view

    def exports(self) -> Sequence[Export]:
        return (Export("Export PoseAug samples (2D-3D pairs)\N{HORIZONTAL ELLIPSIS}",
                       "poseaug_samples.npz", "NumPy archives (*.npz)", self.write_npz),
                Export("Export PoseAug sample meshes\N{HORIZONTAL ELLIPSIS}",
                       "poseaug_sample.obj", "Meshes (*.obj *.ply *.glb)", self.write_meshes))

    # --- what it hears -------------------------------------------------------------------

    def photo_opened(self, document: StudioDocument) -> None:
        self._source, self._job = None, None
        self._frame_next = True
        self._remove_shown()
        self.view.set_samples(None, "Waiting for the photo's result\N{HORIZONTAL ELLIPSIS}"
                              if self._following else IDLE)

    def person_shown(self, document: StudioDocument) -> None:
        self.iteration_shown(document)

    def iteration_shown(self, document: StudioDocument) -> None:
        width, height = document.image.shape[1], document.image.shape[0]
        self._source = (document.current, (width, height))
        if self._following and not self._streaming:
            self.view.schedule()  # scrubbing passes iterations quickly: draw the last

    def streaming_changed(self, streaming: bool) -> None:
        """Live frames are not augmented while they stream; the paused frame is."""
        self._streaming = streaming
        if self._following and not streaming and self._source is not None:
            self.view.schedule()

    # --- work ----------------------------------------------------------------------------

    def start(self) -> None:
        """Draw samples now, and follow the shown person from now on."""
        self._following = True
        self.draw()

    def draw(self) -> None:
        """Ask the worker for samples of the shown person with the panel's settings."""
        if self._source is None:
            self.view.set_message("No person shown: open a photo first.")
            return
        iteration, size = self._source
        settings = self.view.settings()
        name = self.host.model_name

        def run(models) -> SampleSet:
            try:
                return person_samples(iteration, models[name].body, size, settings)
            except ValueError as err:
                raise StudioError(str(err)) from None

        self._job = ToolJob(run=run, models=(name,), result_type=SampleSet,
                            label="PoseAug samples")
        self.view.set_message(f"Drawing {settings.count} samples (seed {settings.seed})"
                              "\N{HORIZONTAL ELLIPSIS}")
        self.host.run_job(self, self._job)

    def job_finished(self, job: ToolJob, result: object) -> None:
        if job is not self._job:
            return
        s = result.settings
        stages = "+".join(s.stages).upper() or "no stage"
        self.view.set_samples(result, f"{result.count} samples, seed {s.seed}, {stages}; "
                                      f"weights {Path(result.source).name}. Click a row to "
                                      "show it in 3D.")

    def job_failed(self, job: ToolJob, message: str) -> None:
        if job is self._job:
            self.view.set_message(f"PoseAug samples failed: {message}")

    # --- showing a sample ----------------------------------------------------------------

    def show_sample(self, index: int, by_user: bool = False) -> None:
        """Sample ``index``'s stages side by side in 3D, right of the person (fitted bodies
        and part-coloured bones), and its final joints on the photo."""
        samples = self.view.samples
        document = self.host.document
        if samples is None or document is None or not document.has_result:
            return
        self._remove_shown()
        poses = samples.poses[index]
        anchor = np.asarray(document.current.joints[0], np.float64)
        for k, (stage, offset) in enumerate(zip(STAGE_KEYS, stage_offsets(poses))):
            place = anchor + offset - poses[k, 0]
            key = f"{self.name}:{stage}"
            if samples.vertices is not None:
                faces = np.column_stack([np.full(len(samples.faces), 3), samples.faces])
                body = pv.PolyData(samples.vertices[index, k] + place, faces.reshape(-1))
                self.host.mesh_view.set_tool_mesh(f"{key}:body", body, **BODY_STYLE)
                self._keys.append(f"{key}:body")
            self.host.mesh_view.set_tool_mesh(
                f"{key}:bones", bones_mesh(poses[k] + place, samples.d3d[index, k]),
                scalars="colour", rgb=True, line_width=BONE_WIDTH, show_scalar_bar=False)
            self._keys.append(f"{key}:bones")
        self.host.image_view.set_marks(self.name, samples.pixels[index, -1], MARK_COLOUR,
                                       bones=BONES)
        if by_user or self._frame_next:
            self._frame_next = False
            self._frame_shown()

    def _frame_shown(self) -> None:
        """Point the 3D view at the person and the shown samples together."""
        view = self.host.mesh_view
        actors = [view.actors[k] for k in ("mesh", *(f"tool:{k}" for k in self._keys))
                  if k in view.actors]
        if not actors:
            return
        b = np.array([a.GetBounds() for a in actors])
        view.plotter.renderer.ResetCamera(b[:, 0].min(), b[:, 1].max(), b[:, 2].min(),
                                          b[:, 3].max(), b[:, 4].min(), b[:, 5].max())
        view.plotter.render()

    def _remove_shown(self) -> None:
        for key in self._keys:
            self.host.mesh_view.set_tool_mesh(key, None)
        self._keys.clear()
        self.host.image_view.set_marks(self.name, None)

    # --- exports -------------------------------------------------------------------------

    def _drawn(self) -> SampleSet:
        if self.view.samples is None:
            raise StudioError(NOTHING_DRAWN)
        return self.view.samples

    def write_npz(self, path: Path) -> list[Path]:
        """The samples' 2D-3D pairs, cameras, per-stage parameters and seed as one .npz."""
        return write_outputs([(path, npz_bytes(self._drawn()))])

    def write_meshes(self, path: Path) -> list[Path]:
        """Every sample's fitted body at every stage, one file each beside ``path``."""
        try:
            payloads = mesh_payloads(self._drawn(), path)
        except ValueError as err:
            raise StudioError(str(err)) from None
        return write_outputs(payloads)
