"""Rigging a closed body surface: skinning weights, vertex joint regressors, part UVs.

Generic over any mesh with a 24-joint SMPL tree, so the mannequin builder stays a list
of design decisions rather than algorithms.
"""
from __future__ import annotations

import numpy as np
from scipy.optimize import lsq_linear
from scipy.spatial import cKDTree

from studio.body.meshing import vertex_adjacency


def children_of(parents: np.ndarray) -> list[list[int]]:
    kids: list[list[int]] = [[] for _ in parents]
    for j, p in enumerate(parents):
        if p >= 0:
            kids[p].append(j)
    return kids


def skinning_weights(faces: np.ndarray, labels: np.ndarray, parents: np.ndarray,
                     iterations: int, keep: float = 0.5) -> np.ndarray:
    """Smooth LBS weights [V,24] from hard part labels by diffusion over the surface.

    Diffusion blends weights across each joint over a band that grows with
    ``iterations``; each vertex then keeps only its own joint, the parent and the
    children, like SMPL, so no weight leaks to distant bones through the surface.
    """
    n, nj = len(labels), len(parents)
    adj = vertex_adjacency(faces, n)
    walk = adj.multiply(1.0 / np.asarray(adj.sum(axis=1))).tocsr()
    w = np.zeros((n, nj))
    w[np.arange(n), labels] = 1.0
    for _ in range(iterations):
        w = keep * w + (1.0 - keep) * (walk @ w)
    allowed = np.zeros((nj, nj), bool)
    kids = children_of(parents)
    for j in range(nj):
        allowed[j, j] = True
        if parents[j] >= 0:
            allowed[j, parents[j]] = True
        allowed[j, kids[j]] = True
    w *= allowed[labels]
    w[w < 1e-4] = 0.0
    return w / w.sum(axis=1, keepdims=True)


def vertex_regressor(verts: np.ndarray, targets: np.ndarray, neighbours: int = 48,
                     smooth: float = 1e-3, tolerance: float = 5e-4) -> np.ndarray:
    """Rows of non-negative vertex weights [K,V] (summing to 1) reproducing ``targets``.

    Each target is expressed through its nearest surface vertices, so the regressed
    point follows the surface when shape components change the body. Deep joints
    (pelvis, hips) need a wider ring of vertices around them: the neighbourhood doubles
    until the target is reproduced within ``tolerance`` metres.
    """
    tree = cKDTree(verts)
    out = np.zeros((len(targets), len(verts)))
    for k, t in enumerate(targets):
        count = neighbours
        while True:
            _, idx = tree.query(t, min(count, len(verts)))
            idx = np.sort(idx)
            a = np.vstack([verts[idx].T, np.ones(len(idx)), np.sqrt(smooth) * np.eye(len(idx))])
            b = np.concatenate([t, [1.0], np.sqrt(smooth) * np.full(len(idx), 1.0 / len(idx))])
            w = lsq_linear(a, b, bounds=(0.0, 1.0), method="bvls").x
            w /= w.sum()
            if np.linalg.norm(w @ verts[idx] - t) < tolerance or count >= len(verts):
                break
            count *= 2
        out[k, idx] = w
    return out


def closest_on_segments(p: np.ndarray, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For points [N,3] and per-point segments a,b [N,3]: closest points and parameters in [0,1]."""
    ab = b - a
    s = np.einsum("ij,ij->i", p - a, ab) / np.maximum(np.einsum("ij,ij->i", ab, ab), 1e-12)
    s = np.clip(s, 0.0, 1.0)
    return a + s[:, None] * ab, s


def part_uv(verts: np.ndarray, labels: np.ndarray, seg_a: np.ndarray, seg_b: np.ndarray,
            up: np.ndarray) -> np.ndarray:
    """Per-part cylindrical UV in [0,1]: U around the part's bone, V along it.

    ``seg_a``/``seg_b`` [24,3] are each part's axis; ``up`` [24,3] a reference direction
    perpendicular-ish to it that fixes where U starts.
    """
    uv = np.zeros((len(verts), 2))
    for j in np.unique(labels):
        m = labels == j
        axis = seg_b[j] - seg_a[j]
        axis = axis / np.linalg.norm(axis)
        e1 = up[j] - (up[j] @ axis) * axis
        e1 /= np.linalg.norm(e1)
        e2 = np.cross(axis, e1)
        q = verts[m] - seg_a[j]
        t = q @ axis
        ang = np.arctan2(q @ e2, q @ e1)
        uv[m, 0] = (ang + np.pi) / (2 * np.pi)
        span = max(t.max() - t.min(), 1e-9)
        uv[m, 1] = (t - t.min()) / span
    return uv
