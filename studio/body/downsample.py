"""Mesh down- and up-sampling matrices (SMPL's 6890 -> 1723 -> 431 hierarchy).

PyMAF samples features at the 431 vertices of ``D1 @ D0`` and PointHMR predicts them and
upsamples back through ``U0 @ U1``. The official matrices come from a licensed file, so the
studio builds its own for any closed mesh: vertices kept at each level are a farthest-point
subset under distances along the mesh edges (so the two legs or neighbouring fingers do not
count as close), and every dropped vertex is interpolated from its nearest kept ones.
Everything is deterministic, so regenerated models compare equal byte for byte.
"""
from __future__ import annotations

import math

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import dijkstra
from scipy.spatial import cKDTree

NEIGHBOURS = 3


def _edge_graph(vertices: np.ndarray, faces: np.ndarray) -> sp.csr_matrix:
    """Symmetric sparse graph of the mesh edges weighted by their lengths."""
    edges = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    edges = np.unique(np.sort(edges, axis=1), axis=0)
    lengths = np.linalg.norm(vertices[edges[:, 0]] - vertices[edges[:, 1]], axis=1)
    n = len(vertices)
    graph = sp.coo_matrix((lengths, (edges[:, 0], edges[:, 1])), shape=(n, n))
    return (graph + graph.T).tocsr()


def _farthest_points(graph: sp.csr_matrix, candidates: np.ndarray, count: int,
                     start: int) -> np.ndarray:
    """Greedy farthest-point order of ``count`` vertices among ``candidates``.

    Each new vertex only lowers distances inside its own Voronoi cell, so every Dijkstra
    run is cut off at the current largest distance; that keeps the whole pass near linear.
    """
    nearest = np.full(graph.shape[0], np.inf)
    chosen = [start]
    while True:
        reach = nearest[candidates].max() if len(chosen) > 1 else np.inf
        dist = dijkstra(graph, directed=False, indices=chosen[-1], limit=reach)
        np.minimum(nearest, dist, out=nearest)
        if len(chosen) == count:
            return np.asarray(chosen, np.int64)
        chosen.append(int(candidates[np.argmax(nearest[candidates])]))


def _upsampling(fine: np.ndarray, coarse_idx: np.ndarray) -> sp.csr_matrix:
    """[V_fine, V_coarse]: inverse-distance blend of the nearest kept vertices."""
    coarse = fine[coarse_idx]
    k = min(NEIGHBOURS, len(coarse_idx))
    dist, idx = cKDTree(coarse).query(fine, k=k)
    dist, idx = dist.reshape(len(fine), k), idx.reshape(len(fine), k)
    weights = 1.0 / np.maximum(dist, 1e-12)
    weights /= weights.sum(axis=1, keepdims=True)
    # Kept vertices (and exact duplicates of them) copy their coarse vertex unchanged.
    exact = dist[:, 0] <= 1e-12
    weights[exact] = 0.0
    weights[exact, 0] = 1.0
    idx[coarse_idx] = np.arange(len(coarse_idx))[:, None]
    weights[coarse_idx] = np.eye(1, k)
    rows = np.repeat(np.arange(len(fine)), k)
    up = sp.csr_matrix((weights.ravel().astype(np.float32), (rows, idx.ravel())),
                       shape=(len(fine), len(coarse_idx)))
    up.eliminate_zeros()
    up.sort_indices()
    return up


def build_downsampling(vertices: np.ndarray, faces: np.ndarray,
                       factors: tuple[int, ...] = (4, 4)
                       ) -> tuple[list[sp.csr_matrix], list[sp.csr_matrix]]:
    """Down-sampling ``D_k`` [V_{k+1}, V_k] and up-sampling ``U_k`` [V_k, V_{k+1}] matrices.

    Level k keeps ``ceil(V_k / factors[k])`` vertices; ``D_k @ U_k`` is the identity.
    """
    verts = np.asarray(vertices, np.float64)
    graph = _edge_graph(verts, np.asarray(faces, np.int64))
    # Start at the vertex nearest the centroid: a fixed, pose-independent choice.
    start = int(np.argmin(np.linalg.norm(verts - verts.mean(axis=0), axis=1)))
    current = np.arange(len(verts))
    downs: list[sp.csr_matrix] = []
    ups: list[sp.csr_matrix] = []
    for factor in factors:
        count = math.ceil(len(current) / factor)
        first = start if start in current else int(current[0])
        order = _farthest_points(graph, current, count, first)
        keep = np.sort(order)  # keep the fine mesh's vertex order at every level
        local = np.searchsorted(current, keep)
        downs.append(sp.csr_matrix((np.ones(count, np.float32), (np.arange(count), local)),
                                   shape=(count, len(current))))
        ups.append(_upsampling(verts[current], local))
        current = keep
    return downs, ups
