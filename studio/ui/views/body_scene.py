"""The pyvista scene of one body: part-coloured mesh, skeleton, ground grid, framing.

Shared by the off-screen snapshot and the Qt 3D view, so both look the same. Holds
no Qt: meshes are updated in place, so a live view only re-renders.
"""
from __future__ import annotations

import colorsys
from dataclasses import dataclass

import numpy as np
import pyvista as pv
import scipy.sparse as sp
from scipy.spatial import cKDTree

BACKGROUND = "#f4f5f7"
TEXT_COLOR = "#30343b"
BONE_COLOR = "#1f2430"
JOINT_COLOR = "#e8413c"
GROUND_COLOR = "#e4e7ec"
GRID_COLOR = "#b4bcc6"
UP = np.array([0.0, 1.0, 0.0])
# Camera directions (from the body towards the camera), looking slightly down so
# the ground grid reads as a floor.
VIEW_DIRECTIONS = {"front": (0.0, 0.28, 1.0), "side": (1.0, 0.28, 0.0)}
SKELETON_OPACITY = 0.6  # mesh opacity while the skeleton is shown, so joints show through


def part_palette(count: int = 24) -> np.ndarray:
    """``count`` distinct, soft RGB colours (uint8), neighbours far apart in hue."""
    colors = []
    for k in range(count):
        hue = (0.07 + k * 0.618034) % 1.0
        value = 0.88 if k % 2 == 0 else 0.74
        saturation = 0.50 if k % 3 else 0.62
        colors.append(colorsys.hsv_to_rgb(hue, saturation, value))
    return np.round(np.asarray(colors) * 255).astype(np.uint8)


def plain_theme() -> pv.themes.Theme:
    """A theme without anti-aliasing (it costs 3-4x on software GL) and with our colours."""
    theme = pv.themes.Theme()
    theme.anti_aliasing = None
    theme.multi_samples = 1
    theme.background = BACKGROUND
    theme.font.color = TEXT_COLOR
    theme.show_edges = False
    return theme


class VertexNormals:
    """Area-weighted unit vertex normals of one face list, recomputed on every update for
    smooth shading (each live frame, each scrub step). Summing face normals into their
    corners is one sparse product with a vertex-face incidence matrix made once: half the
    time of summing them per update."""

    def __init__(self, faces: np.ndarray, count: int) -> None:
        faces = np.asarray(faces, np.int32)
        self._corners = faces.T.copy()  # [3,F]: contiguous rows gather faster
        face_ids = np.repeat(np.arange(len(faces)), 3)
        self._incidence = sp.csr_matrix(
            (np.ones(faces.size, np.float32), (faces.ravel(), face_ids)),
            shape=(count, len(faces)))

    def __call__(self, vertices: np.ndarray) -> np.ndarray:
        a, b, c = (vertices[corner] for corner in self._corners)
        normals = self._incidence @ np.cross(b - a, c - a)
        length = np.sqrt(np.einsum("ij,ij->i", normals, normals))[:, None]
        return (normals / np.maximum(length, 1e-12)).astype(np.float32)


@dataclass(frozen=True)
class CoarseSurface:
    """A coarser surface of a body whose vertices are some of the body's own: any pose's
    skinned vertices show on it by indexing (``vertices``), with its own ``faces``."""

    vertices: np.ndarray  # [N] indices into the body's vertices
    faces: np.ndarray  # [F,3] indices into ``vertices``
    face_parts: np.ndarray  # [F] the part each face was cut from (its colour)


_coarse_cache: dict[tuple, CoarseSurface] = {}


def coarse_surface(vertices: np.ndarray, faces: np.ndarray, part_labels: np.ndarray,
                   reduction: float) -> CoarseSurface:
    """The body's surface with about ``reduction`` of each part's triangles removed (made
    once per topology, about 60 ms). Software GL's cost per render grows with the
    triangles, so live streams draw this. Each part is decimated on its own with its
    border kept, so the part colours meet along the same straight edges as on the full
    body; VTK's DecimatePro removes vertices and never moves the others, so every kept
    point is exactly one of the body's vertices."""
    faces = np.asarray(faces, np.int64)
    parts = face_parts(faces, part_labels)
    key = (len(vertices), hash(faces.tobytes()), hash(parts.tobytes()), reduction)
    if key not in _coarse_cache:
        points = np.asarray(vertices, np.float64)
        pieces = {part: _decimated_part(points, faces[parts == part], reduction)
                  for part in np.unique(parts)}
        kept, coarse = np.unique(np.concatenate(list(pieces.values())), return_inverse=True)
        piece_parts = np.concatenate([np.full(len(f), part) for part, f in pieces.items()])
        _coarse_cache[key] = CoarseSurface(kept, coarse.reshape(-1, 3), piece_parts)
    return _coarse_cache[key]


def _decimated_part(points: np.ndarray, faces: np.ndarray, reduction: float) -> np.ndarray:
    """One part's faces [F',3] decimated, as indices into ``points``; its border stays."""
    used, local = np.unique(faces, return_inverse=True)
    piece = pv.PolyData(points[used], _faces_vtk(local.reshape(-1, 3))).decimate_pro(
        reduction, preserve_topology=True, boundary_vertex_deletion=False)
    distance, index = cKDTree(points[used]).query(np.asarray(piece.points, np.float64))
    if distance.max() > 1e-9 or len(np.unique(index)) != len(index):
        raise ValueError("decimation moved or merged vertices")
    return used[index][np.asarray(piece.regular_faces, np.int64)]


def _faces_vtk(faces: np.ndarray) -> np.ndarray:
    return np.hstack([np.full((len(faces), 1), 3, np.int64), faces]).ravel()


def face_parts(faces: np.ndarray, part_labels: np.ndarray) -> np.ndarray:
    """The majority part of each face's vertices [F] (the first vertex's on a tie): faces
    coloured by it meet along crisp, straight part borders."""
    l0, l1, l2 = np.asarray(part_labels)[faces].T
    return np.where((l1 == l2) & (l0 != l1), l1, l0)


def fit_camera(camera: pv.Camera, points: np.ndarray, view: str, aspect: float,
               margin: float = 1.08) -> None:
    """Aim ``camera`` along a named view so every point is in frame, whatever the size."""
    direction = np.asarray(VIEW_DIRECTIONS[view], np.float64)
    direction /= np.linalg.norm(direction)
    right = np.cross(UP, direction)
    right /= np.linalg.norm(right)
    up = np.cross(direction, right)
    center = (points.min(axis=0) + points.max(axis=0)) / 2.0
    rel = points - center
    tan_v = np.tan(np.radians(camera.view_angle) / 2.0)
    tan_h = tan_v * aspect
    # A point at depth t towards the camera needs distance >= t + |offset| / tan(half angle).
    need = rel @ direction + np.maximum(np.abs(rel @ up) * margin / tan_v,
                                        np.abs(rel @ right) * margin / tan_h)
    distance = max(float(need.max()), 1e-3)
    camera.focal_point = tuple(center)
    camera.position = tuple(center + direction * distance)
    camera.up = tuple(up)


@dataclass
class BodyScene:
    """Polydata of one body; actors built from it follow :meth:`update` in place."""

    faces: np.ndarray
    parents: np.ndarray
    part_labels: np.ndarray
    mesh: pv.PolyData
    joints: pv.PolyData
    bones: pv.PolyData
    ground: pv.PolyData
    _ball: np.ndarray
    _ground_base: np.ndarray
    _normals: VertexNormals

    @classmethod
    def build(cls, vertices: np.ndarray, joints: np.ndarray, faces: np.ndarray,
              parents: np.ndarray, part_labels: np.ndarray,
              parts: np.ndarray | None = None) -> BodyScene:
        """Scene for a body; sizes (joint balls, ground) scale with the body's height.
        Faces take their part's colour: ``parts`` [F], else :func:`face_parts`."""
        vertices = np.asarray(vertices, np.float32)
        faces = np.asarray(faces, np.int64)
        height = float(np.ptp(vertices[:, 1])) or 1.0
        mesh = pv.PolyData(vertices.copy(), _faces_vtk(faces))
        palette = part_palette(max(24, int(np.max(part_labels)) + 1))
        mesh.cell_data["part_rgb"] = palette[face_parts(faces, part_labels) if parts is None
                                             else parts]
        ball = pv.Sphere(radius=0.018 * height, theta_resolution=12, phi_resolution=8)
        ball_pts = np.asarray(ball.points, np.float32)
        ball_faces = ball.regular_faces
        n = len(joints)
        all_faces = (ball_faces[None] + (np.arange(n) * len(ball_pts))[:, None, None]).reshape(-1, 3)
        balls = pv.PolyData(np.zeros((n * len(ball_pts), 3), np.float32), _faces_vtk(all_faces))
        pairs = [(int(p), j) for j, p in enumerate(parents) if p >= 0]
        lines = np.asarray([[2, p, j] for p, j in pairs], np.int64).ravel()
        bones = pv.PolyData(np.asarray(joints, np.float32).copy(), lines=lines)
        ground = pv.Plane(center=(0, 0, 0), direction=(0, 1, 0), i_size=1.2 * height,
                          j_size=1.2 * height, i_resolution=10, j_resolution=10)
        scene = cls(faces=faces, parents=np.asarray(parents), part_labels=np.asarray(part_labels),
                    mesh=mesh, joints=balls, bones=bones, ground=ground, _ball=ball_pts,
                    _ground_base=np.asarray(ground.points).copy(),
                    _normals=VertexNormals(faces, len(vertices)))
        scene.update(vertices, joints)
        return scene

    def update(self, vertices: np.ndarray, joints: np.ndarray) -> None:
        """Move every piece to a new pose/shape; the ground stays under the feet."""
        vertices = np.asarray(vertices, np.float32)
        joints = np.asarray(joints, np.float32)
        self.mesh.points = vertices
        self.mesh.point_data.active_normals = self._normals(vertices)
        self.joints.points = (joints[:, None, :] + self._ball[None]).reshape(-1, 3)
        self.bones.points = joints
        floor = float(vertices[:, 1].min())
        height = float(np.ptp(vertices[:, 1])) or 1.0
        center = (vertices.min(axis=0) + vertices.max(axis=0)) / 2.0
        offset = np.array([center[0], floor - 0.003 * height, center[2]], np.float32)
        self.ground.points = self._ground_base + offset

    def add_to(self, plotter: pv.BasePlotter, skeleton: bool = True,
               ground: bool = True) -> dict[str, pv.Actor]:
        """Add the scene's actors to the plotter's active renderer."""
        actors = {
            "mesh": plotter.add_mesh(self.mesh, scalars="part_rgb", rgb=True, ambient=0.28,
                                     diffuse=0.72, specular=0.12, specular_power=18,
                                     interpolation="gouraud", name="body_mesh", render=False,
                                     opacity=SKELETON_OPACITY if skeleton else 1.0,
                                     reset_camera=False),
            "joints": plotter.add_mesh(self.joints, color=JOINT_COLOR, ambient=0.3,
                                       name="body_joints", reset_camera=False, render=False),
            "bones": plotter.add_mesh(self.bones, color=BONE_COLOR, line_width=3,
                                      name="body_bones", reset_camera=False, render=False),
            "ground": plotter.add_mesh(self.ground, color=GROUND_COLOR, show_edges=True,
                                       edge_color=GRID_COLOR, lighting=False,
                                       name="ground", reset_camera=False, render=False),
        }
        set_skeleton_visible(actors, skeleton)
        actors["ground"].visibility = ground
        return actors


def set_skeleton_visible(actors: dict[str, pv.Actor], visible: bool) -> None:
    """Show or hide joints and bones; the mesh turns translucent so they show through."""
    actors["joints"].visibility = visible
    actors["bones"].visibility = visible
    actors["mesh"].prop.opacity = SKELETON_OPACITY if visible else 1.0
