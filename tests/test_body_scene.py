"""The 3D body scene's smooth-shading normals."""
from __future__ import annotations

import numpy as np

from studio.body.registry import MANNEQUIN_PATH
from studio.body.storage import load_body_npz
from studio.ui.body_scene import VertexNormals


def test_vertex_normals_are_the_area_weighted_sums_of_their_faces():
    data = load_body_npz(MANNEQUIN_PATH)
    rng = np.random.default_rng(0)
    vertices = data.v_template + rng.normal(size=data.v_template.shape).astype(np.float32) * 0.003
    tri = vertices[data.faces].astype(np.float64)
    face = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])  # length: twice the area
    expected = np.zeros((len(vertices), 3))
    for corner in range(3):
        np.add.at(expected, data.faces[:, corner], face)
    expected /= np.linalg.norm(expected, axis=1, keepdims=True)
    normals = VertexNormals(data.faces, len(vertices))(vertices)
    assert normals.dtype == np.float32 and normals.shape == vertices.shape
    np.testing.assert_allclose(normals, expected, atol=1e-4)
