"""Saving the shown mesh (OBJ, PLY, GLB) through trimesh, with part colours."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from studio.body.storage import atomic_write_bytes
from studio.errors import StudioError
from studio.io.meshes import mesh_bytes
from studio.ui.views.body_scene import part_palette

MESH_FORMATS = {".obj": "Wavefront OBJ", ".ply": "Stanford PLY", ".glb": "glTF binary"}


def export_mesh(path: str | os.PathLike, vertices: np.ndarray, faces: np.ndarray,
                part_labels: np.ndarray | None = None) -> Path:
    """Write the mesh in the format its suffix names; the file is replaced atomically."""
    path = Path(path)
    kind = path.suffix.lower()
    if kind not in MESH_FORMATS:
        raise StudioError(f"cannot export {path.name}: use one of {', '.join(MESH_FORMATS)}")
    colors = None
    if part_labels is not None:
        palette = part_palette(max(24, int(np.max(part_labels)) + 1))
        colors = np.hstack([palette[part_labels], np.full((len(part_labels), 1), 255, np.uint8)])
    atomic_write_bytes(path, mesh_bytes(vertices, faces, kind, colors))
    return path
