"""The 3D body scene's smooth-shading normals."""
from __future__ import annotations

import numpy as np

from studio.body.registry import MANNEQUIN_PATH
from studio.body.storage import load_body_npz
from studio.ui.views.body_scene import VertexNormals


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


def test_coarse_surface_keeps_the_body_s_own_vertices_its_part_borders_and_stays_closed():
    import pyvista as pv

    from studio.ui.views.body_scene import coarse_surface, face_parts

    data = load_body_npz(MANNEQUIN_PATH)
    coarse = coarse_surface(data.v_template, data.faces, data.part_labels, 0.75)
    assert len(coarse.faces) < 0.4 * len(data.faces)
    assert len(np.unique(coarse.vertices)) == len(coarse.vertices)
    assert coarse.faces.min() == 0 and coarse.faces.max() == len(coarse.vertices) - 1
    surface = pv.PolyData(data.v_template[coarse.vertices],
                          np.hstack([np.full((len(coarse.faces), 1), 3), coarse.faces]).ravel())
    open_edges = surface.extract_feature_edges(boundary_edges=True, feature_edges=False,
                                               manifold_edges=False, non_manifold_edges=False)
    assert open_edges.n_cells == 0
    # every border between two parts survives: its edges are edges of the coarse surface
    full = _border_edges(data.faces, face_parts(data.faces, data.part_labels))
    assert full and full == _border_edges(coarse.vertices[coarse.faces], coarse.face_parts)
    # made once per topology: another pose of the same body gets the same surface
    assert coarse_surface(data.v_template + 0.1, data.faces, data.part_labels, 0.75) is coarse


def _border_edges(faces: np.ndarray, parts: np.ndarray) -> set[tuple[int, int]]:
    """Edges (sorted vertex pairs) whose two faces belong to different parts."""
    owner: dict[tuple[int, int], set[int]] = {}
    for face, part in zip(faces.tolist(), parts.tolist()):
        for a, b in ((face[0], face[1]), (face[1], face[2]), (face[2], face[0])):
            owner.setdefault((min(a, b), max(a, b)), set()).add(part)
    return {edge for edge, seen in owner.items() if len(seen) > 1}
