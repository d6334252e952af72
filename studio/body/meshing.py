"""Turning an implicit surface into a clean triangle mesh of a chosen size.

Marching cubes on a fine grid captures thin parts (fingers, ears); quadric decimation
brings the mesh to the target vertex count; tangential relaxation with projection back
onto the implicit surface evens out the triangles and removes the voxel staircase.
Every step is deterministic and independent of the CPU: no step orders faces or vertices
by an unstable sort of tied keys (numpy's default sort breaks ties differently with and
without AVX-512, and quadric decimation depends on the face order).
"""
from __future__ import annotations

import numpy as np
import pyvista as pv
import scipy.sparse as sp
import trimesh
from skimage.measure import marching_cubes

from studio.body.implicit import Field, project_to_surface


def polygonise(field: Field, lo: np.ndarray, hi: np.ndarray, step: float) -> tuple[np.ndarray, np.ndarray]:
    """Marching cubes of the zero level set inside the box [lo, hi]; largest component only."""
    axes = [np.arange(a, b + step, step) for a, b in zip(lo, hi)]
    grid = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1)
    values = field(grid.reshape(-1, 3)).reshape(grid.shape[:3])
    if (values[[0, -1]] <= 0).any() or (values[:, [0, -1]] <= 0).any() or (values[:, :, [0, -1]] <= 0).any():
        raise ValueError("the surface touches the sampling box; enlarge the bounds")
    verts, faces, _, _ = marching_cubes(values, 0.0, spacing=(step,) * 3, allow_degenerate=False)
    mesh = trimesh.Trimesh(verts + np.array([a[0] for a in axes]), faces, process=True)
    return largest_component(np.asarray(mesh.vertices), np.asarray(mesh.faces))


def largest_component(verts: np.ndarray, faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The edge-connected component with the most faces, faces and vertices in input order.

    ``trimesh.Trimesh.split`` would do, but it groups faces with numpy's unstable argsort
    of their component labels, so the faces of one component come out in an order that
    depends on the CPU (AVX-512 or not); here a boolean mask keeps the input order, and
    equal-sized components go to the lowest label.
    """
    adjacency = trimesh.graph.face_adjacency(faces)
    labels = trimesh.graph.connected_component_labels(adjacency, node_count=len(faces))
    keep = labels == np.argmax(np.bincount(labels))
    used = np.zeros(len(verts), bool)
    used[faces[keep]] = True
    index = np.cumsum(used) - 1
    return verts[used], index[faces[keep]]


def decimate(verts: np.ndarray, faces: np.ndarray, target_vertices: int) -> tuple[np.ndarray, np.ndarray]:
    """Quadric-error decimation to about ``target_vertices`` (closed mesh: F = 2V - 4)."""
    poly = pv.PolyData(verts, np.hstack([np.full((len(faces), 1), 3), faces]).ravel())
    reduction = 1.0 - (2 * target_vertices - 4) / len(faces)
    out = poly.decimate(reduction, volume_preservation=True).clean()
    return np.asarray(out.points, np.float64), out.faces.reshape(-1, 4)[:, 1:].astype(np.int64)


def vertex_adjacency(faces: np.ndarray, n: int) -> sp.csr_matrix:
    """Symmetric 0/1 vertex adjacency of a triangle mesh."""
    e = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    a = sp.coo_matrix((np.ones(len(e)), (e[:, 0], e[:, 1])), shape=(n, n)).tocsr()
    a = ((a + a.T) > 0).astype(np.float64)
    return a.tocsr()


def relax(verts: np.ndarray, faces: np.ndarray, field: Field, iterations: int = 8,
          rate: float = 0.5) -> np.ndarray:
    """Even out triangle sizes by tangential umbrella smoothing, staying on the surface."""
    adj = vertex_adjacency(faces, len(verts))
    inv_deg = 1.0 / np.asarray(adj.sum(axis=1)).ravel()
    v = verts.copy()
    for _ in range(iterations):
        n = trimesh.Trimesh(v, faces, process=False).vertex_normals
        lap = (adj @ v) * inv_deg[:, None] - v
        lap -= np.einsum("ij,ij->i", lap, n)[:, None] * n
        v = project_to_surface(field, v + rate * lap)
    return v
