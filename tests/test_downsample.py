"""Mesh downsampling: sizes, interpolation rows, D @ U = I, reproducibility."""
from __future__ import annotations

import math

import numpy as np
import pytest
import trimesh
from scipy.spatial import cKDTree

from studio.body.downsample import build_downsampling


@pytest.fixture(scope="module")
def mesh() -> trimesh.Trimesh:
    sphere = trimesh.creation.icosphere(subdivisions=3)  # 642 vertices: not a multiple of 4
    sphere.vertices *= [0.3, 0.9, 0.2]
    return sphere


@pytest.fixture(scope="module")
def matrices(mesh):
    return build_downsampling(mesh.vertices, mesh.faces)


def test_sizes_are_ceil_quarter(mesh, matrices) -> None:
    downs, ups = matrices
    sizes = [len(mesh.vertices)]
    for d, u in zip(downs, ups):
        sizes.append(math.ceil(sizes[-1] / 4))
        assert d.shape == (sizes[-1], sizes[-2]) and u.shape == (sizes[-2], sizes[-1])
    assert sizes == [642, 161, 41]


def test_down_rows_select_one_vertex(matrices) -> None:
    for d in matrices[0]:
        assert np.all(np.diff(d.indptr) == 1) and np.all(d.data == 1.0)
        assert len(np.unique(d.indices)) == d.shape[0]


def test_up_rows_are_convex_and_identity_on_kept(matrices) -> None:
    for d, u in zip(*matrices):
        np.testing.assert_allclose(np.asarray(u.sum(axis=1)).ravel(), 1.0, atol=1e-6)
        assert u.data.min() >= 0.0 and np.diff(u.indptr).max() <= 3
        np.testing.assert_array_equal((d @ u).toarray(), np.eye(d.shape[0]))


def test_kept_vertices_cover_the_mesh(mesh, matrices) -> None:
    kept = matrices[0][0].indices
    gaps, _ = cKDTree(mesh.vertices[kept]).query(mesh.vertices)
    edge = mesh.edges_unique_length.mean()
    assert gaps.max() < 3.0 * edge


def test_upsampling_reproduces_smooth_fields(mesh, matrices) -> None:
    d, u = matrices[0][0], matrices[1][0]
    coarse = d @ mesh.vertices
    error = np.linalg.norm(u @ coarse - mesh.vertices, axis=1)
    assert error.max() < mesh.edges_unique_length.mean()


def test_deterministic(mesh, matrices) -> None:
    again = build_downsampling(mesh.vertices.copy(), mesh.faces.copy())
    for a, b in zip(matrices[0] + matrices[1], again[0] + again[1]):
        for attr in ("data", "indices", "indptr"):
            np.testing.assert_array_equal(getattr(a, attr), getattr(b, attr))
