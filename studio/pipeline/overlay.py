"""Meshes drawn onto the full-resolution photo: shaded overlays, label masks, mask IoU.

Each person's mesh is rasterized only over the image pixels it projects to, at their
own resolution, and pasted in; a photo's size never decides what rendering costs.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
import torch

from studio.pipeline.crops import ImageCamera
from studio.pipeline.people import MASK_THRESHOLD, Person
from studio.synth.raster import face_ids, interpolate_at, rasterize
from studio.synth.shading import vertex_normals

MESH_COLOUR = (150, 190, 255)
OVERLAY_OPACITY = 0.75
MAX_FILL_SIDE = 2048  # the filled 2D mesh is drawn coarser over larger regions (huge photos)
STREAM_FILL_SIDE = 256  # ... and while live frames stream (a third of the time at 640x480)


@dataclass
class RegionRender:
    """A mesh rendered over the image pixels ``[x, x+w) x [y, y+h)`` (w, h: the arrays')."""

    x: int
    y: int
    silhouette: np.ndarray  # [h,w] bool
    shade: np.ndarray  # [h,w] float32 Lambert shading in [0, 1], 0 off the mesh


@dataclass
class MeshFill:
    """A filled, shaded mesh for the 2D view: RGBA over image pixels from (x, y), drawn
    at most ``max_side`` raster pixels along its longer side."""

    x: int
    y: int
    rgba: np.ndarray  # [h,w,4] uint8
    max_side: int


def region_points(uv: np.ndarray, depth: np.ndarray, region: tuple[int, int, int, int],
                  max_side: int | None = None) -> tuple[torch.Tensor, int, float]:
    """Image points ``uv`` [V,2] with ``depth`` [V] (larger is farther, any unit) as the
    rasterizer's points [1,V,3] for drawing over image pixels ``region`` (x0, y0, x1, y1).

    Also returns the square raster's side, which has the region at its top left with one
    raster pixel per image pixel (fewer when the region's longer side exceeds
    ``max_side``), and the image pixels per raster pixel (1.0 unless shrunk).
    """
    x0, y0, x1, y1 = region
    longest = max(x1 - x0, y1 - y0, 2)
    side = longest if max_side is None else min(longest, max_side)
    step = longest / side if side < longest else 1.0
    # The rasterizer's pixel j sits at -1 + 2j/(side-1); its centre is image coordinate
    # x0 + (j + 0.5) * step.
    scale = 2.0 / (side - 1) / step
    points = np.stack([(uv[:, 0] - x0 - 0.5 * step) * scale - 1,
                       (uv[:, 1] - y0 - 0.5 * step) * scale - 1, depth], axis=1)
    return torch.as_tensor(points, dtype=torch.float32)[None], side, step


def render_mesh(vertices: np.ndarray, faces: np.ndarray, camera: ImageCamera,
                image_size: tuple[int, int]) -> RegionRender | None:
    """Rasterize camera-axes ``vertices`` [V,3] as ``camera`` sees them over the image
    pixels they cover; None when the mesh misses the image."""
    width, height = image_size
    uv = camera.project(vertices)
    x0, y0 = max(0, math.floor(uv[:, 0].min())), max(0, math.floor(uv[:, 1].min()))
    x1, y1 = min(width, math.ceil(uv[:, 0].max())), min(height, math.ceil(uv[:, 1].max()))
    if x1 <= x0 or y1 <= y0:
        return None
    camera_points = np.asarray(vertices, np.float64) + np.asarray(camera.translation)
    points, side, _ = region_points(uv, camera_points[:, 2], (x0, y0, x1, y1))
    faces_t = torch.as_tensor(np.asarray(faces), dtype=torch.int64)
    frags = rasterize(points, faces_t, side)
    normals = vertex_normals(torch.as_tensor(camera_points, dtype=torch.float32)[None], faces_t)
    facing = interpolate_at(frags, faces_t, normals[0])[:, 2].abs()  # covered pixels only
    shade = torch.zeros(side * side)
    shade[frags.pixels] = 0.35 + 0.65 * facing
    shade = shade.view(side, side)[:y1 - y0, :x1 - x0].numpy()
    return RegionRender(x=x0, y=y0, silhouette=shade > 0, shade=shade)


def _region(render: RegionRender) -> tuple[slice, slice]:
    h, w = render.silhouette.shape
    return slice(render.y, render.y + h), slice(render.x, render.x + w)


def label_mask(image_size: tuple[int, int], renders: list[RegionRender | None]) -> np.ndarray:
    """[H,W] uint8: 0 background, k+1 where person k's mesh is. People are listed largest
    first and painted in reverse, so where meshes overlap the larger one is on top."""
    if len(renders) > 255:
        raise ValueError("a uint8 label mask holds at most 255 people")
    labels = np.zeros((image_size[1], image_size[0]), np.uint8)
    for k in reversed(range(len(renders))):
        if renders[k] is not None:
            rows, cols = _region(renders[k])
            labels[rows, cols][renders[k].silhouette] = k + 1
    return labels


def draw_overlay(image: np.ndarray, renders: list[RegionRender | None]) -> np.ndarray:
    """A copy of RGB ``image`` with every mesh drawn over it, shaded and half see-through,
    in the same order as :func:`label_mask`."""
    out = image.copy()
    colour = np.asarray(MESH_COLOUR, np.float32)
    for render in reversed(renders):
        if render is None:
            continue
        rows, cols = _region(render)
        patch = out[rows, cols].astype(np.float32)
        mesh = render.shade[..., None] * colour
        alpha = OVERLAY_OPACITY * render.silhouette[..., None]
        out[rows, cols] = np.clip(patch + alpha * (mesh - patch), 0, 255).round().astype(np.uint8)
    return out


def mask_iou(render: RegionRender | None, person: Person, image_size: tuple[int, int]) -> float:
    """IoU of the mesh silhouette and MediaPipe's person mask (at 0.5), compared at full
    image resolution over the window holding both."""
    width, height = image_size
    x0, y0, x1, y1 = person.extent
    wx0, wy0 = max(0, math.floor(x0)), max(0, math.floor(y0))
    wx1, wy1 = min(width, math.ceil(x1)), min(height, math.ceil(y1))
    if render is not None:
        h, w = render.silhouette.shape
        wx0, wy0 = min(wx0, render.x), min(wy0, render.y)
        wx1, wy1 = max(wx1, render.x + w), max(wy1, render.y + h)
    mh, mw = person.mask.shape
    sx, sy = mw / width, mh / height
    # Window pixel (j, i) has its centre at image coordinate (wx0 + j + 0.5, wy0 + i + 0.5).
    to_mask = np.array([[sx, 0.0, sx * (wx0 + 0.5) - 0.5], [0.0, sy, sy * (wy0 + 0.5) - 0.5]])
    person_mask = cv2.warpAffine(person.mask, to_mask, (wx1 - wx0, wy1 - wy0),
                                 flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                                 borderMode=cv2.BORDER_CONSTANT, borderValue=0) >= MASK_THRESHOLD
    mesh = np.zeros_like(person_mask)
    if render is not None:
        h, w = render.silhouette.shape
        mesh[render.y - wy0:render.y - wy0 + h, render.x - wx0:render.x - wx0 + w] = \
            render.silhouette
    union = (mesh | person_mask).sum()
    return float((mesh & person_mask).sum() / union) if union else 0.0


def face_shading(points: np.ndarray, faces: np.ndarray, depth: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Which faces look at the camera [F] bool, and their Lambert shade [F] in [0.35, 1].

    Only image points and depths are known, so depth is brought to pixels by the ratio
    of long 2D edges to long depth steps: a mesh's edges across the view and along it
    are about equally long, whatever the camera or the depth's unit. (Every fourth face
    is enough to tell "long"; this runs for every live frame.)
    """
    corners, z = points[faces], depth[faces]  # [F,3,2], [F,3]
    a, b = corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0]
    az, bz = z[:, 1] - z[:, 0], z[:, 2] - z[:, 0]
    flat = np.hypot(a[:, 0], a[:, 1])
    if not np.isfinite(flat).any():
        return np.zeros(len(faces), bool), np.ones(len(faces))
    sample = slice(None, None, 4) if np.isfinite(flat[::4]).any() else slice(None)
    # nan-aware: points that did not project (NaN) must not spoil everyone's shade
    scale = (np.nanpercentile(flat[sample], 95)
             / max(np.nanpercentile(np.abs(az[sample]), 95), 1e-12))
    az, bz = az * scale, bz * scale
    nx = a[:, 1] * bz - az * b[:, 1]
    ny = az * b[:, 0] - a[:, 0] * bz
    nz = a[:, 0] * b[:, 1] - a[:, 1] * b[:, 0]
    # Outward normals of a counter-clockwise mesh face the camera (z away) when the
    # image-space cross product is negative.
    front = nz < 0
    facing = np.abs(nz) / np.maximum(np.sqrt(nx * nx + ny * ny + nz * nz), 1e-12)
    return front, 0.35 + 0.65 * facing


def rasterize_faces(points: np.ndarray, faces: np.ndarray, depth: np.ndarray,
                    region: tuple[int, int, int, int], max_side: int = MAX_FILL_SIDE
                    ) -> np.ndarray:
    """[h,w,4] uint8 RGBA of the shaded front faces over image pixels ``region``
    (x0, y0, x1, y1), the nearest face at each pixel (a z-buffer: about 5 ms for a
    body filling a 640x480 frame, against 22 ms painting faces one by one). Regions
    longer than ``max_side`` are drawn coarser and scaled up."""
    x0, y0, x1, y1 = region
    w, h = x1 - x0, y1 - y0
    front, shade = face_shading(points, faces, depth)
    keep = np.flatnonzero(front & np.isfinite(points).all(axis=1)[faces].all(axis=1))
    if not len(keep):
        return np.zeros((h, w, 4), np.uint8)
    uv = np.where(np.isfinite(points), points, 0.0)
    raster_points, side, step = region_points(uv, np.nan_to_num(depth), region, max_side)
    ids = face_ids(raster_points, torch.as_tensor(faces[keep]), side)[0].numpy()
    colours = np.zeros((len(keep) + 1, 4), np.uint8)  # row 0: no face, transparent
    colours[1:, :3] = np.outer(shade[keep], MESH_COLOUR).astype(np.uint8)
    colours[1:, 3] = 255
    rgba = colours[ids[:math.ceil(h / step), :math.ceil(w / step)] + 1]
    if step > 1.0:
        rgba = cv2.resize(rgba, (w, h), interpolation=cv2.INTER_NEAREST)
    return rgba


def mesh_fill(points: np.ndarray, faces: np.ndarray, depth: np.ndarray,
              image_size: tuple[int, int], max_side: int = MAX_FILL_SIDE) -> MeshFill | None:
    """The filled mesh of image points [V,2] and depths [V] over the pixels of an image of
    ``image_size`` (width, height) it covers; None if it covers none."""
    finite = points[np.isfinite(points).all(axis=1)]
    if not len(finite):
        return None
    x0, y0 = np.maximum(np.floor(finite.min(axis=0)), 0).astype(int)
    x1, y1 = np.minimum(np.ceil(finite.max(axis=0)), image_size).astype(int)
    if x1 <= x0 or y1 <= y0:
        return None
    rgba = rasterize_faces(points, faces, depth, (x0, y0, x1, y1), max_side)
    return MeshFill(int(x0), int(y0), rgba, max_side)
