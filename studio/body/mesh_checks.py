"""Geometric checks on triangle meshes that trimesh does not offer without extra packages."""
from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree


def self_intersections(verts: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Pairs (edge index, face index) where a mesh edge pierces a non-adjacent triangle.

    Two triangles intersect only if an edge of one crosses the other, so testing every
    edge against the nearby triangles that share none of its vertices finds every
    self-intersection. Broad phase: a k-d tree on triangle centroids.
    """
    edges = np.unique(np.sort(np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]]), axis=1),
                      axis=0)
    tri = verts[faces]
    centroids = tri.mean(axis=1)
    tri_radius = np.linalg.norm(tri - centroids[:, None], axis=2).max()
    mid = verts[edges].mean(axis=1)
    half = np.linalg.norm(verts[edges[:, 0]] - verts[edges[:, 1]], axis=1).max() / 2
    pairs = cKDTree(mid).query_ball_tree(cKDTree(centroids), tri_radius + half)
    ei = np.repeat(np.arange(len(edges)), [len(p) for p in pairs])
    fi = np.concatenate([np.asarray(p, np.int64) for p in pairs])
    shared = (faces[fi][:, :, None] == edges[ei][:, None, :]).any(axis=(1, 2))
    ei, fi = ei[~shared], fi[~shared]
    hit = _segments_cross_triangles(verts[edges[ei, 0]], verts[edges[ei, 1]], tri[fi])
    return np.stack([ei[hit], fi[hit]], axis=1)


def _segments_cross_triangles(p: np.ndarray, q: np.ndarray, tri: np.ndarray, eps: float = 1e-12) -> np.ndarray:
    """Möller-Trumbore test of segments p->q against triangles, vectorised."""
    d = q - p
    e1 = tri[:, 1] - tri[:, 0]
    e2 = tri[:, 2] - tri[:, 0]
    h = np.cross(d, e2)
    a = np.einsum("ij,ij->i", e1, h)
    ok = np.abs(a) > eps
    f = np.where(ok, 1.0 / np.where(ok, a, 1.0), 0.0)
    s = p - tri[:, 0]
    u = f * np.einsum("ij,ij->i", s, h)
    qv = np.cross(s, e1)
    v = f * np.einsum("ij,ij->i", d, qv)
    t = f * np.einsum("ij,ij->i", e2, qv)
    return ok & (u >= 0) & (v >= 0) & (u + v <= 1) & (t > 0) & (t < 1)
