"""PointHMR as a studio tool: its vertex heat-maps linked to the 3D mesh.

For the shown person the built-in PointHMR runs on the worker (on the person's proxy
maps, whichever model the window uses: by itself when the window's model is PointHMR,
after the panel's Run button otherwise). The panel shows all heat-maps (their maximum)
over the crop; hovering or clicking a vertex in the 3D view shows the nearest coarse
vertex's heat-map and its peak, and colours the coarse mesh by that vertex's attention in
the chosen transformer block (the 7 -> 5 -> 3 -> 1-hop neighbourhoods); clicking the
panel lights up the coarse vertices whose heat-maps peak there. Compare mode also runs
the PyMAF proxy model and shows PointHMR's mesh beside the body, coloured by its
per-vertex distance to PyMAF's (drawn over it as a wireframe).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QObject

from studio.ui.tools.contract import Tool, ToolHost, ToolJob
from studio.pipeline.pointhmr_method import NAME as POINTHMR
from studio.ui.tools.pointhmr.jobs import (PYMAF, PointHMRAnalysis, PointHMRSlot, analyse,
                                           vertices_peaking_near)
from studio.ui.tools.pointhmr.panel import PointHMRPanel

if TYPE_CHECKING:
    from studio.ui.document import StudioDocument

ATTENTION_KEY = "pointhmr:attention"
PEAKING_KEY = "pointhmr:peaking"
COMPARE_KEY = "pointhmr:compare"
COMPARE_OTHER_KEY = "pointhmr:compare-pymaf"
COMPARE_SHIFT_M = 0.65  # the compared pair stands this far right of the body
PEAK_CELLS = 0.5  # a click lights up the vertices peaking in the clicked cell


class PointHMRTool(QObject, Tool):
    name = "pointhmr"
    title = "PointHMR"

    def __init__(self, host: ToolHost, slot: PointHMRSlot | None = None) -> None:
        QObject.__init__(self)
        self.host = host
        self.view = PointHMRPanel()
        self.slot = slot or PointHMRSlot()
        self.request = 0
        self.analysis: PointHMRAnalysis | None = None
        self.picked = -1  # coarse vertex
        # Runs by itself when the window's model is PointHMR, or once asked (the Run
        # button) for every person shown after; never on streaming live frames.
        self.follow = False
        self.streaming = False
        self.view.clicked.connect(self.pick_point)
        self.view.block_changed.connect(lambda _: self._draw_attention())
        self.view.compare_toggled.connect(lambda _: self._start())
        self.view.run_requested.connect(self.run_here)
        host.mesh_view.hovered.connect(self._mesh_hovered)

    def panel(self) -> PointHMRPanel:
        return self.view

    # ------------------------------------------------------------------ hooks
    def photo_opened(self, document: StudioDocument) -> None:
        self.request += 1
        self._set_analysis(None)
        self.view.clear()
        if self.follow or self.host.model_name == POINTHMR:
            self.view.set_caption("PointHMR runs when the photo's people are found.")
            self.host.show_panel(self)

    def person_shown(self, document: StudioDocument) -> None:
        if not self.streaming and (self.follow or self.host.model_name == POINTHMR):
            self._start()

    def streaming_changed(self, streaming: bool) -> None:
        self.streaming = streaming

    def run_here(self) -> None:
        """Run PointHMR on the shown person, and on every person shown from now on."""
        self.follow = True
        self._start()

    def iteration_shown(self, document: StudioDocument) -> None:
        self._draw_attention()  # the shown body moved

    def job_finished(self, job: ToolJob, result: object) -> None:
        if isinstance(result, PointHMRAnalysis) and result.request == self.request:
            self._set_analysis(result)

    def job_failed(self, job: ToolJob, message: str) -> None:
        self.view.set_caption(f"{job.label} failed: {message}")

    # ------------------------------------------------------------------ running
    def _start(self) -> None:
        doc = self.host.document
        if doc is None or not doc.has_result:
            return
        person = doc.current_person
        maps = np.asarray(person.landmark_maps, np.float32).reshape(
            -1, *person.landmark_maps.shape[-2:])
        self.view.set_photo(person.crop_rgb)
        self.request += 1
        request, slot = self.request, self.slot
        compare = self.view.compare_box.isChecked()
        self.host.run_job(self, ToolJob(
            run=lambda models: analyse(slot.get(), maps, request, models.get(PYMAF)),
            models=(PYMAF,) if compare else (), result_type=PointHMRAnalysis,
            label="PointHMR"))

    def _set_analysis(self, analysis: PointHMRAnalysis | None) -> None:
        self.analysis = analysis
        self.picked = -1
        for key in (ATTENTION_KEY, PEAKING_KEY, COMPARE_KEY, COMPARE_OTHER_KEY):
            self.host.mesh_view.set_tool_mesh(key, None)
        if analysis is None:
            return
        self.show_all()
        self._draw_compare()

    # ------------------------------------------------------------------ 2D
    def show_all(self) -> None:
        """Every vertex's heat-map at once (their maximum) and every peak."""
        a = self.analysis
        if a is not None:
            self.view.show_map(a.heatmaps.max(0), a.peaks,
                               f"All {len(a.peaks)} vertex heat-maps (maximum) and their "
                               "peaks. Hover or click a vertex in the 3D view, or click "
                               "here to find the vertices peaking at a point.")

    def pick_vertex(self, coarse: int) -> None:
        """Show coarse vertex ``coarse``'s heat-map and peak, and colour its attention."""
        a = self.analysis
        if a is None or not 0 <= coarse < len(a.peaks):
            return
        self.picked = coarse
        heat = a.heatmaps[coarse]
        self.view.show_map(heat, a.peaks[coarse:coarse + 1], self._vertex_caption())
        self.host.mesh_view.set_tool_mesh(PEAKING_KEY, None)
        self._draw_attention()

    def pick_point(self, x: float, y: float) -> None:
        """Light up the coarse vertices whose heat-maps peak at crop point (x, y)."""
        a = self.analysis
        if a is None:
            return
        grid = a.heatmaps.shape[-1] // 2
        found = vertices_peaking_near(a.peaks, np.array([x, y]), PEAK_CELLS, grid)
        self.picked = -1
        self.host.mesh_view.set_tool_mesh(ATTENTION_KEY, None)
        heat = a.heatmaps[found].max(0) if len(found) else np.zeros_like(a.heatmaps[0])
        self.view.show_map(heat, a.peaks[found],
                           f"{len(found)} vertices peak at ({x:+.2f}, {y:+.2f})")
        points = self._shown_vertices()
        if points is None or not len(found):
            self.host.mesh_view.set_tool_mesh(PEAKING_KEY, None)
            return
        import pyvista as pv

        self.host.mesh_view.set_tool_mesh(
            PEAKING_KEY, pv.PolyData(points[a.coarse_index[found]]), color="#ffc21a",
            point_size=12, render_points_as_spheres=True)

    # ------------------------------------------------------------------ 3D
    def _shown_vertices(self) -> np.ndarray | None:
        """The vertices the 3D view shows (any mannequin model's mesh)."""
        doc = self.host.document
        if doc is None or not doc.has_result:
            return None
        vertices = np.asarray(doc.current.vertices)
        a = self.analysis
        return vertices if a is not None and len(vertices) > a.coarse_index.max() else None

    def _mesh_hovered(self, kind: str, index: int) -> None:
        points = self._shown_vertices()
        if kind != "vertex" or points is None or self.analysis is None:
            return
        coarse = points[self.analysis.coarse_index]
        self.pick_vertex(int(np.argmin(((coarse - points[index]) ** 2).sum(1))))

    def _vertex_caption(self, block_text: str = "") -> str:
        a, v = self.analysis, self.picked
        heat = a.heatmaps[v]
        return (f"Vertex {v} of {len(a.peaks)} (mesh vertex {a.coarse_index[v]}): heat-map "
                f"peak {heat.max() * heat.size:.0f}x the uniform level{block_text}")

    def _draw_attention(self) -> None:
        a, points = self.analysis, self._shown_vertices()
        if a is None or points is None or self.picked < 0:
            return
        import pyvista as pv

        block = self.view.block_box.currentIndex()
        weights = a.attention[block, self.picked]
        reached = np.flatnonzero(weights > 0)  # the block's k-hop neighbourhood
        cloud = pv.PolyData(points[a.coarse_index[reached]])
        cloud.point_data["attention"] = weights[reached] / max(float(weights.max()), 1e-12)
        self.host.mesh_view.set_tool_mesh(
            ATTENTION_KEY, cloud, scalars="attention", cmap="plasma", clim=(0.0, 1.0),
            point_size=11, render_points_as_spheres=True, show_scalar_bar=False)
        self.view.set_caption(self._vertex_caption(
            f"; block {block + 1} ({a.hops[block]} hops) attends to {len(reached)} of "
            f"{len(weights)} vertices (brighter: more weight)"))

    def _draw_compare(self) -> None:
        a = self.analysis
        if a is None or a.distances_mm is None:
            return
        import pyvista as pv

        faces = a.faces
        shift = np.array([COMPARE_SHIFT_M, 0.0, 0.0], np.float32)
        cells = np.column_stack([np.full(len(faces), 3), faces]).ravel()
        ours = pv.PolyData(a.vertices + shift, cells)
        ours.point_data["distance (mm)"] = a.distances_mm
        self.host.mesh_view.set_tool_mesh(
            COMPARE_KEY, ours, scalars="distance (mm)", cmap="YlOrRd",
            scalar_bar_args={"title": "to PyMAF (mm)", "n_labels": 3, "fmt": "%.0f",
                             "vertical": True, "position_x": 0.08, "position_y": 0.55,
                             "height": 0.35, "width": 0.05, "title_font_size": 14,
                             "label_font_size": 12,
                             "unconstrained_font_size": True})
        self.host.mesh_view.set_tool_mesh(
            COMPARE_OTHER_KEY, pv.PolyData(a.pymaf_vertices + shift, cells),
            style="wireframe", color="white", opacity=0.35)
        self.view.set_caption(
            f"Compare: PointHMR's mesh (right) coloured by its distance to PyMAF's "
            f"(wireframe): mean {a.distances_mm.mean():.0f} mm, largest "
            f"{a.distances_mm.max():.0f} mm")
