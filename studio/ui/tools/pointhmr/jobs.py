"""The PointHMR tool's work on the worker thread, without Qt: the built-in PointHMR on the
shown person's proxy maps, keeping what the tool draws (every vertex heat-map, each
transformer block's vertex-to-vertex attention, the meshes) and, in compare mode, the
PyMAF proxy model's mesh on the same maps."""
from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from studio.nets.pointhmr import NUM_JOINTS, PointHMR
from studio.nets.pointhmr_mesh import BLOCK_HOPS, level_indices

PYMAF = "builtin-pymaf-proxy"


@dataclass(frozen=True)
class PointHMRAnalysis:
    """One person through PointHMR (crop coordinates in [-1, 1], x right, y down)."""

    request: int
    heatmaps: np.ndarray  # [V, H, W] float32 probabilities, each summing to 1
    peaks: np.ndarray  # [V, 2] crop coordinates of each heat-map's brightest cell (of
    # the net's own grid, before the x2 up-sampling)
    attention: np.ndarray  # [blocks, V, V] vertex-to-vertex weights (row: the query vertex)
    hops: tuple[int, ...]  # each block's k
    coarse_index: np.ndarray  # [V] the full-mesh vertex behind each coarse vertex
    vertices: np.ndarray  # [7000, 3] PointHMR's mesh (pelvis-centred, camera axes)
    pymaf_vertices: np.ndarray | None  # [7000, 3] PyMAF's on the same maps (compare mode),
    # moved to PointHMR's pelvis
    distances_mm: np.ndarray | None  # [7000] per-vertex distance of the two (compare mode)
    faces: np.ndarray  # [F, 3] of both meshes


@dataclass(frozen=True)
class LoadedPointHMR:
    net: PointHMR
    coarse_index: np.ndarray  # [V] full-mesh vertex of each coarse vertex
    pelvis: np.ndarray  # [7000] the H36M pelvis as a mix of vertices
    faces: np.ndarray  # [F, 3] the full mesh's


class PointHMRSlot:
    """The built-in PointHMR, loaded once on first use (on the worker thread)."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self._loaded: LoadedPointHMR | None = None
        self._lock = threading.Lock()

    def get(self) -> LoadedPointHMR:
        with self._lock:
            if self._loaded is None:
                from studio.body.model import BodyModel
                from studio.body.registry import find_body_model
                from studio.nets import pointhmr_builtin
                from studio.nets.model_names import POINTHMR_FILE

                body = BodyModel(find_body_model("mannequin"))
                self._loaded = LoadedPointHMR(
                    pointhmr_builtin.load(self.path or POINTHMR_FILE, body),
                    level_indices(body.data)[1],
                    pointhmr_builtin.vertex_regressor(body, "h36m17")[0].numpy(),
                    np.asarray(body.data.faces))
            return self._loaded


def peak_points(heatmaps: np.ndarray) -> np.ndarray:
    """[V, 2] crop coordinates (cell centres) of each map's brightest cell."""
    v, h, w = heatmaps.shape
    flat = heatmaps.reshape(v, -1).argmax(1)
    rows, cols = flat // w, flat % w
    return np.stack([(cols + 0.5) / w * 2 - 1, (rows + 0.5) / h * 2 - 1], 1).astype(np.float32)


def analyse(loaded: LoadedPointHMR, maps: np.ndarray, request: int,
            pymaf: object | None = None) -> PointHMRAnalysis:
    """PointHMR on proxy maps [34, S, S] (resized to the net's input when S differs)."""
    net = loaded.net
    x = torch.as_tensor(np.asarray(maps, np.float32))[None]
    size = net.config.input_size
    if x.shape[-1] != size:
        x = F.interpolate(x, size=(size, size), mode="area")
    attention: list[torch.Tensor] = []
    with torch.inference_mode():
        out = net(x, attention)
        other = None if pymaf is None else pymaf.net(x).final.vertices[0].numpy()
    per_block = net.config.layers_per_block
    prefix = 1 + net.config.grid_tokens + NUM_JOINTS
    # the last layer of each block: what that block's mask let through
    blocks = [attention[(b + 1) * per_block - 1][0, prefix:, prefix:] for b in range(4)]
    heat = out["heatmaps"][0].numpy()
    vertices = out["vertices_full"][0].numpy()
    distances = None
    if other is not None:
        other = other - loaded.pelvis @ other + loaded.pelvis @ vertices
        distances = (1000 * np.linalg.norm(vertices - other, axis=1)).astype(np.float32)
    return PointHMRAnalysis(
        request=request, heatmaps=heat, peaks=peak_points(out["heatmap_logits"][0].numpy()),
        attention=torch.stack(blocks).numpy(), hops=BLOCK_HOPS,
        coarse_index=loaded.coarse_index, vertices=vertices, pymaf_vertices=other,
        distances_mm=distances, faces=loaded.faces)


def vertices_peaking_near(peaks: np.ndarray, point: np.ndarray, cells: float,
                          grid: int) -> np.ndarray:
    """Indices of the coarse vertices whose heat-map peaks within ``cells`` cells of
    ``point`` (crop coordinates) on a ``grid``-cell map: the reverse of a vertex's map."""
    distance = np.abs(peaks - np.asarray(point, np.float32)).max(1) * grid / 2
    return np.flatnonzero(distance <= cells)
