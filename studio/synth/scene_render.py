"""Rendering a synthetic scene twice, without and with its person, through one depth test.

Room surfaces (floor, walls, ceiling; the ground, distant hills and sky outdoors) are
planes hit analytically by each pixel's ray; furniture boxes and the mannequin go through
the project's rasterizer (:mod:`studio.synth.raster`), which is given -1/z as depth: that is
affine in screen space, so its interpolated z-buffer is exact under perspective. Box pixels
then get their exact depth and surface position from their face's plane, which the
textures need. The person is drawn where it is nearer than the scene, so furniture in
front of it hides it correctly, and both images share every other pixel.

Camera: pinhole, looking along +z of its frame, x right, y down; pixel (u, v) has its
centre at integer coordinates (OpenCV's convention).
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import cv2
import numpy as np
import torch

from studio.synth import raster, shading
from studio.synth.scene_layout import FACE_AXIS, FACE_SIGN, Piece, pieces_mesh
from studio.synth.scene_textures import Material, Textures

NEAR = 0.1
FAR = 1e4


def _rowdot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise dot products of [N,3] arrays (einsum: twice as fast as (a * b).sum(1))."""
    return np.einsum("ij,ij->i", a, b)


@functools.cache
def _pixel_grid(height: int, width: int) -> np.ndarray:
    """[H*W,3] float32 rows (u, v, 1) of every pixel, row-major (shared: do not change)."""
    v, u = np.mgrid[0:height, 0:width].astype(np.float32)
    return np.stack([u, v, np.ones_like(u)], -1).reshape(-1, 3)


@dataclass
class Camera:
    """A pinhole camera: world-to-camera rotation (rows: camera axes in the world),
    position, focal length and image size."""

    rotation: np.ndarray  # [3,3]
    position: np.ndarray  # [3]
    focal: float
    height: int
    width: int

    @staticmethod
    def look(position: np.ndarray, forward: np.ndarray, focal: float, height: int,
             width: int, roll: float = 0.0) -> Camera:
        """A camera at ``position`` looking along ``forward``, its x axis level (y up
        world) turned by ``roll`` radians about the view direction."""
        z = forward / np.linalg.norm(forward)
        x = np.cross(z, np.array([0.0, 1.0, 0.0]))
        x /= np.linalg.norm(x)
        y = np.cross(z, x)
        c, s = math.cos(roll), math.sin(roll)
        x, y = c * x + s * y, c * y - s * x
        return Camera(np.stack([x, y, z]).astype(np.float32), position.astype(np.float32),
                      float(focal), height, width)

    @property
    def centre(self) -> tuple[float, float]:
        return (self.width - 1) / 2.0, (self.height - 1) / 2.0

    def to_camera(self, points: np.ndarray) -> np.ndarray:
        return (points - self.position) @ self.rotation.T

    def project(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """World points [N,3] -> pixels [N,2] and camera depth [N]."""
        c = self.to_camera(points)
        z = c[:, 2]
        cx, cy = self.centre
        safe = np.where(z > 1e-6, z, 1e-6)
        return np.stack([self.focal * c[:, 0] / safe + cx, self.focal * c[:, 1] / safe + cy],
                        1), z

    def rays(self) -> np.ndarray:
        """World directions [H*W,3] through each pixel centre, scaled to unit camera depth."""
        d = _pixel_grid(self.height, self.width).copy()
        cx, cy = self.centre
        d[:, 0] = (d[:, 0] - cx) / self.focal
        d[:, 1] = (d[:, 1] - cy) / self.focal
        return d @ self.rotation

    def raster_points(self, points: np.ndarray) -> tuple[torch.Tensor, int, int, int]:
        """World points -> rasterizer points [1,N,3] (canvas crop coordinates, -1/z) for a
        square canvas of side S holding the image at offset (ox, oy)."""
        s = max(self.height, self.width)
        ox, oy = (s - self.width) // 2, (s - self.height) // 2
        uv, z = self.project(points)
        xy = (uv + np.array([ox, oy], np.float32)) * (2.0 / (s - 1)) - 1.0
        pts = np.concatenate([xy, -1.0 / np.maximum(z, 1e-6)[:, None]], 1)
        return torch.from_numpy(pts.astype(np.float32))[None], s, ox, oy


@dataclass
class Plane:
    """A room surface n . X = c whose front faces along n, with texture axes."""

    normal: np.ndarray
    offset: float
    material: int
    axes: tuple[np.ndarray, np.ndarray]  # world directions of the texture's a and b


@dataclass
class Surfaces:
    """What each pixel sees: camera depth, world point and normal, material, texture
    coordinates; material -1 is sky."""

    depth: np.ndarray  # [N]
    point: np.ndarray  # [N,3]
    normal: np.ndarray  # [N,3]
    material: np.ndarray  # [N] int
    a: np.ndarray  # [N]
    b: np.ndarray  # [N]


def trace_planes(camera: Camera, rays: np.ndarray, planes: list[Plane]) -> Surfaces:
    """The nearest plane in front of each pixel, among planes facing the camera."""
    n = rays.shape[0]
    normals = np.stack([p.normal for p in planes]).astype(np.float32)  # [K,3]
    dist = np.array([p.offset for p in planes], np.float32) - normals @ camera.position
    facing = rays @ normals.T  # [N,K]
    with np.errstate(divide="ignore", invalid="ignore"):
        t = dist / facing
    t[(facing > -1e-6) | (t <= 0)] = FAR
    which = t.argmin(1)
    depth = t[np.arange(n), which]
    sky = depth >= FAR
    point = camera.position + rays * depth[:, None]
    normal = normals[which]
    mats = np.array([p.material for p in planes])
    material = np.where(sky, -1, mats[which])
    axes = np.stack([np.stack(p.axes) for p in planes]).astype(np.float32)  # [K,2,3]
    ab = np.take_along_axis(point @ axes.reshape(-1, 3).T, 2 * which[:, None] + [0, 1], 1)
    a, b = ab[:, 0], ab[:, 1]
    return Surfaces(depth.astype(np.float32), point.astype(np.float32), normal, material,
                    a.astype(np.float32), b.astype(np.float32))


@dataclass
class Decal:
    """A straight strip of another material on the ground (a path or a road)."""

    through: np.ndarray  # [2] a ground point (x, z) on its centre line
    angle: float  # direction of the centre line in the ground plane
    half_width: float
    material: int


def paint_ground(surf: Surfaces, decals: list[Decal]) -> None:
    """Give ground pixels (y = 0, facing up) inside each strip its material (in place)."""
    ground = ground_pixels(surf)
    for d in decals:
        x, z = surf.point[ground, 0] - d.through[0], surf.point[ground, 2] - d.through[1]
        across = np.abs(-math.sin(d.angle) * x + math.cos(d.angle) * z)
        on = ground[across < d.half_width]
        surf.material[on] = d.material


def trace_boxes(camera: Camera, rays: np.ndarray, pieces: list[Piece],
                slots: dict[tuple[int, str], int], surf: Surfaces) -> None:
    """Draw the pieces' boxes into ``surf`` where they are nearer (in place)."""
    verts, faces, mats = pieces_mesh(pieces, slots)
    if not len(faces):
        return
    cam_z = camera.to_camera(verts)[:, 2].reshape(-1, 8)
    keep = cam_z.min(1) > NEAR  # boxes reaching behind the camera are left out
    if not keep.any():
        return
    kept = np.nonzero(keep)[0]
    tri = (kept[:, None] * 12 + np.arange(12)).reshape(-1)
    # Only the kept boxes' corners: the z-buffer's depth range starts at the nearest one.
    pts, s, ox, oy = camera.raster_points(verts.reshape(-1, 8, 3)[kept].reshape(-1, 3))
    local_faces = faces[tri] - 8 * (kept[:, None] - np.arange(len(kept))[:, None]).repeat(12, 0)
    ids = raster.face_ids(pts, torch.from_numpy(local_faces), s, cull_backfaces=True)[0]
    ids = ids[oy:oy + camera.height, ox:ox + camera.width].reshape(-1).numpy()
    pix = np.nonzero(ids >= 0)[0]
    if not len(pix):
        return
    table, face_material = _face_planes(pieces, tri, mats)
    row = table[ids[pix]]  # per pixel: its face's normal, plane offset, texture axes
    normal, d = row[:, 0:3], rays[pix]
    with np.errstate(divide="ignore", invalid="ignore"):
        depth = (row[:, 3] - normal @ camera.position) / _rowdot(normal, d)
    depth = np.where(np.isfinite(depth) & (depth > 0), depth, FAR)
    nearer = depth < surf.depth[pix]
    pix, depth, row, d = pix[nearer], depth[nearer], row[nearer], d[nearer]
    point = camera.position + d * depth[:, None]
    surf.depth[pix] = depth
    surf.point[pix] = point
    surf.normal[pix] = row[:, 0:3]
    surf.material[pix] = face_material[ids[pix]]
    surf.a[pix] = _rowdot(row[:, 4:7], point) - row[:, 7]
    surf.b[pix] = _rowdot(row[:, 8:11], point) - row[:, 11]


def _face_planes(pieces: list[Piece], tri: np.ndarray, box_material: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Per triangle ``tri`` (indices over all boxes, 12 per box): [T,12] float32 rows of
    its world normal n, plane offset c (n . X = c), and texture axes u, v with offsets
    (a = u . X - u0, b = v . X - v0: the box-frame coordinates across the face); and [T]
    materials."""
    rot = np.stack([p.rotation() for p in pieces])
    box_piece = np.concatenate([[i] * len(p.parts) for i, p in enumerate(pieces)])
    origin = np.array([[p.x, 0.0, p.z] for p in pieces], np.float32)[box_piece]
    lo = np.array([q.lo for p in pieces for q in p.parts], np.float32)
    hi = np.array([q.hi for p in pieces for q in p.parts], np.float32)
    box, k = tri // 12, tri % 12
    axis, sign = FACE_AXIS[k], FACE_SIGN[k]
    r, o, rows = rot[box_piece[box]], origin[box], np.arange(len(tri))
    normal = r[rows, :, axis] * sign[:, None]
    level = np.where(sign > 0, hi[box, axis], lo[box, axis])
    u = r[rows, :, np.where(axis == 0, 2, 0)]
    v = r[rows, :, np.where(axis == 1, 2, 1)]
    table = np.concatenate([normal, (_rowdot(normal, o) + level * sign)[:, None],
                            u, _rowdot(u, o)[:, None], v, _rowdot(v, o)[:, None]], 1)
    return table.astype(np.float32), box_material[box]


@dataclass
class Lights:
    """A directional light (sun or main lamp), an ambient level, point lamps and a sky."""

    direction: np.ndarray  # [3] towards the light
    color: np.ndarray  # [3]
    ambient: float
    lamps: list[tuple[np.ndarray, float]]  # (position, strength)
    sky_low: np.ndarray  # [3] sky colour at the horizon
    sky_high: np.ndarray  # [3] at the zenith
    clouds: float = 0.0  # cloud cover, 0..1


def shade_surfaces(surf: Surfaces, rays: np.ndarray, materials: list[Material],
                   textures: Textures, lights: Lights) -> np.ndarray:
    """Linear RGB [N,3]: textured albedo times ambient + Lambert light + lamp falloff."""
    n = len(surf.depth)
    out = np.zeros((n, 3), np.float32)
    sky = surf.material < 0
    if sky.any():
        d = rays[sky]
        up = np.clip(d[:, 1] / np.linalg.norm(d, axis=1), 0, 1)[:, None]
        out[sky] = lights.sky_low + (lights.sky_high - lights.sky_low) * np.sqrt(up)
        if lights.clouds > 0:  # a cloud layer: noise on a plane high above, by ray
            lift = np.maximum(d[:, 1], 0.02)
            cover = textures.fbm(d[:, 0] / lift * 1.5, d[:, 2] / lift * 1.5)
            cover = np.clip((cover - (1 - lights.clouds)) * 3, 0, 1)[:, None]
            out[sky] += (np.float32(0.95) - out[sky]) * cover * np.minimum(up * 8, 1)
    light = lights.ambient + (1 - lights.ambient) * np.clip(surf.normal @ lights.direction, 0, 1)
    lamps = np.zeros_like(light)
    for pos, strength in lights.lamps:
        to = pos - surf.point
        dist2 = _rowdot(to, to)
        lamps += strength * np.clip(_rowdot(surf.normal, to), 0, None) / (np.sqrt(dist2) + 1e-6) \
            / (1 + dist2)
    light = light[:, None] * lights.color + lamps[:, None]
    order = np.argsort(surf.material, kind="stable")
    bounds = np.searchsorted(surf.material[order], np.arange(len(materials) + 1))
    for m, mat in enumerate(materials):
        sel = order[bounds[m]:bounds[m + 1]]
        if not len(sel):
            continue
        albedo = textures.albedo(mat, surf.a[sel], surf.b[sel])
        out[sel] = albedo if mat.emissive else albedo * light[sel]
    return out


class GroundShadows:
    """Shadows the main light casts on the ground, drawn on a grid over the ground plane.

    Each box casts the convex hull of its corners projected along the light onto y = 0;
    a body casts its projected vertices, closed by a small dilation. The grid is blurred
    (soft edges) where something was drawn and read bilinearly at each ground pixel. Only
    the ground receives shadows.
    """

    CELLS = 512

    def __init__(self, centre: np.ndarray, extent: float, light: np.ndarray,
                 softness: float) -> None:
        self.centre, self.extent = np.asarray(centre, np.float32), float(extent)
        self.scale = self.CELLS / (2 * self.extent)  # cells per metre
        self.light = light / max(float(light[1]), 0.2)  # a point at height y moves y * this
        self.sigma = max(1.0, softness * self.scale)
        self.grid = np.zeros((self.CELLS, self.CELLS), np.uint8)

    def _cells(self, points: np.ndarray) -> np.ndarray:
        flat = points[:, [0, 2]] - points[:, 1:2] * self.light[[0, 2]]
        return (flat - self.centre) * self.scale + self.CELLS / 2

    def add_boxes(self, corners: np.ndarray) -> None:
        """Boxes' world corners [B,8,3]."""
        for box in corners:
            if box[:, 1].max() <= 0.02:
                continue  # rugs and paths cast nothing
            hull = cv2.convexHull(np.round(self._cells(box) * 4).astype(np.int32))
            cv2.fillConvexPoly(self.grid, hull, 1, cv2.LINE_8, 2)  # quarter-cell precision

    def add_points(self, points: np.ndarray) -> None:
        """A body's vertices [V,3]."""
        cells = self._cells(points).astype(np.int32)
        ok = ((cells >= 0) & (cells < self.CELLS)).all(1)
        self.grid[cells[ok, 1], cells[ok, 0]] = 1
        self.grid = cv2.dilate(self.grid, np.ones((3, 3), np.uint8))

    def lookup(self, ground: np.ndarray) -> np.ndarray:
        """Shadow amounts in [0,1] at ground points [N,3]."""
        soft = np.zeros(self.grid.shape, np.float32)
        pad = int(3 * self.sigma) + 1
        x, y, w, h = cv2.boundingRect(self.grid)
        if w and h:  # blur only around what was drawn
            x0, y0 = max(0, x - pad), max(0, y - pad)
            x1, y1 = min(self.CELLS, x + w + pad), min(self.CELLS, y + h + pad)
            soft[y0:y1, x0:x1] = cv2.GaussianBlur(self.grid[y0:y1, x0:x1].astype(np.float32),
                                                  (0, 0), self.sigma)
        n = len(ground)
        if not n:
            return np.zeros(0, np.float32)
        cells = np.full((-(-n // 256) * 256, 2), -1.0, np.float32)  # remap wants rows < 32k
        cells[:n] = (ground[:, [0, 2]] - self.centre) * self.scale + self.CELLS / 2 - 0.5
        cells = cells.reshape(-1, 256, 2)
        amount = cv2.remap(soft, cells[..., 0], cells[..., 1], cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        return amount.reshape(-1)[:n]


def ground_pixels(surf: Surfaces, height: float = 1e-3) -> np.ndarray:
    """Indices of the pixels that see the ground plane (facing up, below ``height``)."""
    return np.nonzero((surf.material >= 0) & (surf.normal[:, 1] > 0.99)
                      & (np.abs(surf.point[:, 1]) < height))[0]


def contact_shade(surf: Surfaces, shadows: list[tuple[np.ndarray, np.ndarray, float]]
                  ) -> np.ndarray:
    """[N] factors darkening the floor softly under and around objects: ``shadows`` are
    ((x, z) centre, half extents, strength) of their floor rectangles."""
    out = np.ones(len(surf.depth), np.float32)
    floor = ground_pixels(surf, 0.02)  # rugs too
    if not shadows or not len(floor):
        return out
    x, z = surf.point[floor, 0], surf.point[floor, 2]
    occl = np.ones(len(x), np.float32)
    for centre, half, strength in shadows:
        dx = np.maximum(np.abs(x - centre[0]) - half[0], 0)
        dz = np.maximum(np.abs(z - centre[1]) - half[1], 0)
        occl *= 1 - strength * np.exp(-(dx * dx + dz * dz) * 25)
    out[floor] = occl
    return out


def render_person(camera: Camera, vertices: np.ndarray, faces: torch.Tensor,
                  colors: torch.Tensor, lights: Lights
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The mannequin's linear RGB [H,W,3], camera depth [H,W] (inf off the body) and
    silhouette [H,W] bool."""
    pts, s, ox, oy = camera.raster_points(vertices)
    frags = raster.rasterize(pts, faces, s, cull_backfaces=True)
    cam = torch.from_numpy(camera.to_camera(vertices).astype(np.float32))[None]
    light_cam = torch.from_numpy((camera.rotation @ lights.direction).astype(np.float32))[None]
    # The shader's Lambert term is clamped at 0; the lamps and sky add a flat fill.
    rgb = shading.shade(frags, faces, cam, colors, light_cam,
                        torch.tensor([lights.ambient], dtype=torch.float32))[0]
    sl = (slice(oy, oy + camera.height), slice(ox, ox + camera.width))
    mask = (frags.face_index[0] >= 0)[sl].numpy()
    inv = frags.depth[0][sl].numpy()
    depth = np.where(mask, -1.0 / np.minimum(inv, -1e-6), np.inf)
    fill = 1.0 + 0.5 * sum(strength for _, strength in lights.lamps) / 4
    return rgb[sl].numpy() * lights.color * fill, depth, mask
