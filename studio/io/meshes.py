"""Meshes as OBJ, PLY or GLB bytes, through trimesh: one encoder for every exporter."""
from __future__ import annotations

import numpy as np

MESH_TYPES = (".obj", ".ply", ".glb")


def mesh_bytes(vertices: np.ndarray, faces: np.ndarray, suffix: str,
               vertex_colors: np.ndarray | None = None) -> bytes:
    """The mesh encoded as ``suffix`` (one of :data:`MESH_TYPES`) says, unprocessed so
    vertex order and count stay the body model's."""
    import trimesh  # loaded only when a mesh is written

    mesh = trimesh.Trimesh(np.asarray(vertices, np.float64), faces, vertex_colors=vertex_colors,
                           process=False)
    payload = mesh.export(file_type=suffix.lower()[1:])
    return payload.encode() if isinstance(payload, str) else payload
