"""Batched triangle rasterizer in plain PyTorch, for rendering training data on the fly.

Synthetic samples are made next to the training loop, often on a small CPU, so the
renderer must not make training data-bound. Every triangle enumerates exactly the pixel
centres of its image-clipped bounding box (nothing wasted on a fixed window, nothing lost
when a close-up makes a triangle large), edge functions keep the covered centres, and
one scatter-min over packed (depth, face) keys is the z-buffer.

Coordinates: x, y are crop coordinates in [-1, 1] (x right, y down, as
``studio.nets.geometry.project_to_crop``); z is camera depth, larger is farther. Pixel
column j has its centre at x = -1 + 2j/(S-1) (row i likewise for y): align_corners=True.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

_EMPTY = torch.iinfo(torch.int64).max
# Barycentric slack: pixel centres exactly on a shared edge go to one of its two faces
# instead of falling into a crack between them.
_EPS = 1e-5


@dataclass
class Fragments:
    """Per-pixel result of :func:`rasterize` for a batch of S x S images.

    ``pixels`` lists the covered pixels (flat indices into B*S*S) so that per-pixel
    work (interpolation, shading) touches only the body, not the background.
    """

    face_index: Tensor  # [B,S,S] long, -1 on background
    bary: Tensor  # [B,S,S,3] barycentrics of the pixel centre, 0 on background
    depth: Tensor  # [B,S,S] interpolated z, 0 on background
    pixels: Tensor  # [P] long, flat indices of pixels with face_index >= 0

    @property
    def size(self) -> int:
        return int(self.face_index.shape[-1])


def _edge_coefficients(xs: Tensor, ys: Tensor, area: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Barycentric i as an affine function c + a*x + b*y of the pixel position.

    ``xs``/``ys`` [3,N] are corner positions relative to the evaluation origin, ``area``
    [N] twice the signed area; each coefficient tensor is [3,N].
    """
    xj, yj = xs[[1, 2, 0]], ys[[1, 2, 0]]
    dx, dy = xs[[2, 0, 1]] - xj, ys[[2, 0, 1]] - yj
    inv = 1.0 / area
    return (dy * xj - dx * yj) * inv, -dy * inv, dx * inv


def _corners(values: Tensor, faces: Tensor) -> Tensor:
    """Per-vertex values [C,B,V] -> per-corner values [C,B,3,F]."""
    c, b, v = values.shape
    return values.reshape(c * b, v).index_select(1, faces.t().reshape(-1)).view(c, b, 3, -1)


@torch.no_grad()
def rasterize(points: Tensor, faces: Tensor, size: int, cull_backfaces: bool = False,
              max_candidates: int = 1 << 18) -> Fragments:
    """Rasterize meshes ``points`` [B,V,3] with shared ``faces`` [F,3] into S x S images;
    see :func:`_zbuffer` for the conventions."""
    zbuf, fbits = _zbuffer(points, faces, size, cull_backfaces, max_candidates)
    return _fragments(zbuf, fbits, faces, points.float().contiguous(), size)


@torch.no_grad()
def face_ids(points: Tensor, faces: Tensor, size: int, cull_backfaces: bool = False
             ) -> Tensor:
    """[B,S,S] long: the nearest face at each pixel centre, -1 on background. What
    :func:`rasterize` gives without barycentrics and depth (a third faster), for
    drawing flat-shaded faces."""
    zbuf, fbits = _zbuffer(points, faces, size, cull_backfaces, 1 << 18)
    ids = torch.where(zbuf == _EMPTY, -1, zbuf & ((1 << fbits) - 1))
    return ids.view(points.shape[0], size, size)


def _zbuffer(points: Tensor, faces: Tensor, size: int, cull_backfaces: bool,
             max_candidates: int) -> tuple[Tensor, int]:
    """The packed (depth, face) z-buffer [B*S*S] and the number of face bits.

    The nearest face wins at each pixel centre. ``cull_backfaces`` drops faces whose
    outward side (counter-clockwise winding, right-handed x-right/y-down/z-away frame)
    points away from the camera: exact for closed meshes seen from outside, and it halves
    the work. Candidate pixels are processed in chunks of at most ``max_candidates``
    (or one triangle's box, if larger): small intermediates stay cache- and allocator-
    friendly, and extreme close-ups cost time, not memory. Not differentiable.
    """
    b, nf, s = points.shape[0], faces.shape[0], size
    half = (s - 1) / 2.0
    pts = points.float()
    pix = torch.stack([(pts[..., 0] + 1) * half, (pts[..., 1] + 1) * half, pts[..., 2]])
    pix[2] -= pix[2].min()  # non-negative depth, as the z-buffer keys need
    corner = _corners(pix, faces)  # [3,B,3,F]: coordinate, image, corner, face
    lo = corner[:2].amin(2).ceil_().clamp_(min=0)  # [2,B,F] first pixel centre in the box
    last = corner[:2].amax(2).floor_().clamp_(max=s - 1).sub_(lo)  # extent - 1
    x, y = corner[0], corner[1]
    area = (x[:, 1] - x[:, 0]) * (y[:, 2] - y[:, 0]) - (y[:, 1] - y[:, 0]) * (x[:, 2] - x[:, 0])
    keep = (torch.minimum(last[0], last[1]) >= 0) & (area < 0 if cull_backfaces else area != 0)
    tri = keep.view(-1).nonzero().squeeze(1)  # kept triangles, indices into B*F

    img, face_id = tri // nf, tri % nf
    steps = torch.arange(3, device=tri.device)
    at = (img * (3 * nf) + face_id) + (steps[:, None, None] * (b * 3 * nf)
                                        + steps[None, :, None] * nf)
    xs, ys, zs = corner.view(-1).index_select(0, at.view(-1)).view(3, 3, -1)
    lo, last = lo.view(2, -1).index_select(1, tri), last.view(2, -1).index_select(1, tri)
    c, a, bc = _edge_coefficients(xs - lo[0], ys - lo[1], area.view(-1).index_select(0, tri))
    depth_plane = torch.stack([(c * zs).sum(0), (a * zs).sum(0), (bc * zs).sum(0)])
    extent = last.int() + 1
    counts = extent[0] * extent[1]
    base = img * (s * s) + lo[1].long() * s + lo[0].long()
    bary_plane = torch.cat([c, a, bc])  # [9,T]
    fbits = max(1, (nf - 1).bit_length())

    zbuf = torch.full((b * s * s,), _EMPTY, dtype=torch.int64, device=points.device)
    for i, j in _chunks(counts, max(max_candidates, s * s)):
        _splat(zbuf, bary_plane[:, i:j], depth_plane[:, i:j], extent[0, i:j], counts[i:j],
               base[i:j], face_id[i:j], fbits, s)
    return zbuf, fbits


def _chunks(counts: Tensor, limit: int) -> list[tuple[int, int]]:
    """Consecutive triangle ranges whose candidate pixels number at most ``limit`` each."""
    total = int(counts.sum()) if counts.numel() else 0
    if total <= limit:
        return [(0, counts.numel())] if total else []
    ends = counts.long().cumsum(0)
    out, lo, done = [], 0, 0
    while lo < counts.numel():
        hi = int(torch.searchsorted(ends, done + limit, right=True))
        out.append((lo, hi))
        done, lo = int(ends[hi - 1]), hi
    return out


def _splat(zbuf: Tensor, bary_plane: Tensor, depth_plane: Tensor, widths: Tensor,
           counts: Tensor, base: Tensor, face_id: Tensor, fbits: int, s: int) -> None:
    """Test every bounding-box pixel of each triangle and min its (depth, face) key in."""
    owner = torch.repeat_interleave(counts)  # triangle of each candidate
    start = counts.cumsum(0, dtype=torch.int32) - counts
    offset = torch.arange(owner.numel(), dtype=torch.int32, device=zbuf.device)
    offset -= start.index_select(0, owner)
    w = widths.index_select(0, owner)
    dy = torch.div(offset, w, rounding_mode="floor")
    dx = offset.sub_(dy * w)
    k = bary_plane.index_select(1, owner)
    fdx, fdy = dx.float(), dy.float()
    low = torch.addcmul(k[0], k[3], fdx).addcmul_(k[6], fdy)
    for i in (1, 2):
        low = torch.minimum(low, torch.addcmul(k[i], k[3 + i], fdx).addcmul_(k[6 + i], fdy))
    hit = (low >= -_EPS).nonzero().squeeze(1)
    owner = owner.index_select(0, hit)
    k = depth_plane.index_select(1, owner)
    depth = torch.addcmul(k[0], k[1], fdx.index_select(0, hit))
    depth = depth.addcmul_(k[2], fdy.index_select(0, hit)).clamp_(min=0)
    # Non-negative floats order like their bit patterns, so (depth bits, face) keys sort
    # by depth first and the face id breaks ties deterministically.
    key = (depth.view(torch.int32).long() << fbits) | face_id.index_select(0, owner)
    local = (dy * s).add_(dx).index_select(0, hit)
    zbuf.scatter_reduce_(0, base.index_select(0, owner).add_(local), key, "amin")


def _fragments(zbuf: Tensor, fbits: int, faces: Tensor, points: Tensor, s: int) -> Fragments:
    """Dense fragments from the z-buffer, barycentrics recomputed at the winning faces.

    Barycentrics are invariant to the crop-to-pixel scaling, so they come straight from
    ``points`` [B,V,3] (float32), as does the depth.
    """
    b, nv, _ = points.shape
    pixels = (zbuf != _EMPTY).nonzero().squeeze(1)
    face = zbuf.index_select(0, pixels) & ((1 << fbits) - 1)
    img = pixels // (s * s)
    row = (pixels % (s * s)) // s
    col = pixels - img * (s * s) - row * s
    corner = (faces.index_select(0, face) + (img * nv)[:, None]).t().reshape(-1)  # [3P]
    xs, ys, zs = points.view(-1, 3).index_select(0, corner).view(3, -1, 3).unbind(2)
    xs = xs - (col.float() * (2.0 / (s - 1)) - 1)
    ys = ys - (row.float() * (2.0 / (s - 1)) - 1)
    area = (xs[1] - xs[0]) * (ys[2] - ys[0]) - (ys[1] - ys[0]) * (xs[2] - xs[0])
    bary = _edge_coefficients(xs, ys, area)[0]  # evaluated at the pixel centre (origin)
    n = b * s * s
    face_index = torch.full((n,), -1, dtype=torch.int64, device=zbuf.device)
    dense_bary = torch.zeros(n, 3, device=zbuf.device)
    depth = torch.zeros(n, device=zbuf.device)
    face_index.index_copy_(0, pixels, face)
    dense_bary.index_copy_(0, pixels, bary.t())
    depth.index_copy_(0, pixels, (bary * zs).sum(0))
    return Fragments(face_index.view(b, s, s), dense_bary.view(b, s, s, 3), depth.view(b, s, s),
                     pixels)


def silhouette(frags: Fragments) -> Tensor:
    """[B,S,S] float mask: 1 where some face covers the pixel centre."""
    return (frags.face_index >= 0).float()


def face_parts(faces: Tensor, vertex_parts: Tensor) -> Tensor:
    """Part [F] of each face: the part two of its corners share, else its first corner's.

    A majority keeps part borders straight along face edges.
    """
    l0, l1, l2 = vertex_parts[faces].unbind(1)
    return torch.where((l1 == l2) & (l0 != l1), l1, l0)


def part_labels(frags: Fragments, face_part: Tensor) -> Tensor:
    """[B,S,S] long: 0 on background, 1 + ``face_part`` (0-based parts [F]) elsewhere."""
    face = frags.face_index.view(-1).index_select(0, frags.pixels)
    out = torch.zeros(frags.face_index.numel(), dtype=torch.int64, device=face.device)
    out.index_copy_(0, frags.pixels, face_part.index_select(0, face) + 1)
    return out.view_as(frags.face_index)


def interpolate_at(frags: Fragments, faces: Tensor, attr: Tensor) -> Tensor:
    """Vertex attributes ``attr`` [V,C] or [B,V,C] interpolated at ``frags.pixels`` -> [P,C]."""
    face = frags.face_index.view(-1).index_select(0, frags.pixels)
    bary = frags.bary.view(-1, 3).index_select(0, frags.pixels)
    corner = faces.index_select(0, face)  # [P,3]
    if attr.dim() == 3:
        s2 = frags.size * frags.size
        corner = corner + (frags.pixels // s2)[:, None] * attr.shape[1]
    rows = attr.reshape(-1, attr.shape[-1]).index_select(0, corner.view(-1))
    v0, v1, v2 = rows.view(-1, 3, attr.shape[-1]).unbind(1)
    w = bary.to(attr.dtype)
    return (v0 * w[:, :1]).addcmul_(v1, w[:, 1:2]).addcmul_(v2, w[:, 2:])


def interpolate(frags: Fragments, faces: Tensor, attr: Tensor) -> Tensor:
    """Vertex attributes [V,C] or [B,V,C] interpolated per pixel -> [B,S,S,C], 0 on background."""
    b, s, _ = frags.face_index.shape
    out = torch.zeros(b * s * s, attr.shape[-1], dtype=attr.dtype, device=attr.device)
    out.index_copy_(0, frags.pixels, interpolate_at(frags, faces, attr))
    return out.view(b, s, s, -1)


def front_view(points: Tensor, reference: Tensor | None = None, fill: float = 0.9) -> Tensor:
    """Orthographic front view of y-up, +z-facing body points [B,N,3] as crop points.

    The camera looks at the body's front (x right, y down, z away: a rotation, so faces
    keep their winding); x, y, z are scaled alike so each ``reference`` (default
    ``points``) fills ``fill`` of the crop along its longer 2D side, centred.
    """
    ref = points if reference is None else reference
    lo, hi = ref[..., :2].amin(1, keepdim=True), ref[..., :2].amax(1, keepdim=True)
    centre = (lo + hi) / 2
    scale = fill * 2 / (hi - lo).amax(-1, keepdim=True).clamp_min(1e-9)
    xy = (points[..., :2] - centre) * scale
    return torch.stack([xy[..., 0], -xy[..., 1], -points[..., 2] * scale[..., 0]], -1)
