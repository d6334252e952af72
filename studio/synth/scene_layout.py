"""Furniture as composites of boxes, and the room around a placed person.

Every object of a synthetic scene is a set of oriented boxes (a chair is a seat slab, four
legs and a backrest), which is enough for a pose model to learn where seats, beds and
tables are, renders cheaply with the project's rasterizer, and gives exact contact tests
(a sitting person's hips on the seat top, no limb inside a table).

World frame: metres, y up, the floor at y = 0. A piece is built in its own frame (x across,
y up, its front towards +z, centred on x = z = 0) and placed by a yaw about y and a floor
position.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

# Unit cube corners (bit 0: x, bit 1: y, bit 2: z) and its 12 triangles, wound so that
# (b - a) x (c - a) points out of the cube, as the body mesh's faces are.
_CORNERS = np.array([[(i >> 0) & 1, (i >> 1) & 1, (i >> 2) & 1] for i in range(8)], np.float32)
_QUADS = ((0, 4, 6, 2), (1, 3, 7, 5), (0, 1, 5, 4), (2, 6, 7, 3), (0, 2, 3, 1), (4, 5, 7, 6))
FACE_AXIS = np.repeat(np.array([0, 0, 1, 1, 2, 2]), 2)  # per triangle: the axis of its normal
FACE_SIGN = np.repeat(np.array([-1.0, 1, -1, 1, -1, 1], np.float32), 2)


def _cube_triangles() -> np.ndarray:
    tris = []
    for q in _QUADS:
        for t in ((q[0], q[1], q[2]), (q[0], q[2], q[3])):
            a, b, c = _CORNERS[list(t)]
            centre = (a + b + c) / 3 - 0.5
            if np.dot(np.cross(b - a, c - a), centre) < 0:
                t = (t[0], t[2], t[1])
            tris.append(t)
    return np.array(tris, np.int64)


CUBE_FACES = _cube_triangles()


@dataclass
class Part:
    """One box of a piece, in the piece's frame, with a material slot of the piece."""

    lo: tuple[float, float, float]
    hi: tuple[float, float, float]
    slot: str  # "frame", "cushion", "top", "accent", ...


@dataclass
class Piece:
    """A placed object: boxes in its own frame, a yaw and a floor position (x, z)."""

    kind: str
    parts: list[Part]
    yaw: float = 0.0
    x: float = 0.0
    z: float = 0.0
    roles: dict[str, str] = field(default_factory=dict)  # slot -> material role

    def rotation(self) -> np.ndarray:
        c, s = np.cos(self.yaw), np.sin(self.yaw)
        return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]], np.float32)

    def to_world(self, p: np.ndarray) -> np.ndarray:
        """Points [N,3] of the piece's frame in the world."""
        return p @ self.rotation().T + np.array([self.x, 0.0, self.z], np.float32)

    def to_local(self, p: np.ndarray) -> np.ndarray:
        return (p - np.array([self.x, 0.0, self.z], np.float32)) @ self.rotation()

    def footprint(self) -> np.ndarray:
        """[4,2] world (x, z) corners of the floor rectangle under all its boxes."""
        lo = np.min([p.lo for p in self.parts], 0)
        hi = np.max([p.hi for p in self.parts], 0)
        rect = np.array([[lo[0], 0, lo[2]], [hi[0], 0, lo[2]], [hi[0], 0, hi[2]],
                         [lo[0], 0, hi[2]]], np.float32)
        return self.to_world(rect)[:, [0, 2]]

    def height(self) -> float:
        return float(max(p.hi[1] for p in self.parts))


def penetration(piece: Piece, points: np.ndarray, tolerance: float = 0.015) -> int:
    """How many world ``points`` [N,3] lie deeper than ``tolerance`` inside the piece's boxes."""
    local = piece.to_local(points)
    inside = np.zeros(len(points), bool)
    for p in piece.parts:
        lo, hi = np.asarray(p.lo) + tolerance, np.asarray(p.hi) - tolerance
        inside |= np.all((local > lo) & (local < hi), axis=1)
    return int(inside.sum())


def pieces_mesh(pieces: list[Piece], slots: dict[tuple[int, str], int]
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All boxes as one mesh: vertices [8N,3] (world), faces [12N,3], per box its
    material index [N] (from ``slots``: (piece index, slot) -> material)."""
    verts, faces, mats = [], [], []
    for i, piece in enumerate(pieces):
        for part in piece.parts:
            lo, hi = np.asarray(part.lo, np.float32), np.asarray(part.hi, np.float32)
            faces.append(CUBE_FACES + 8 * len(verts))
            verts.append(piece.to_world(lo + _CORNERS * (hi - lo)))
            mats.append(slots[(i, part.slot)])
    if not verts:
        return np.zeros((0, 3), np.float32), np.zeros((0, 3), np.int64), np.zeros(0, np.int64)
    return np.concatenate(verts), np.concatenate(faces), np.array(mats)
