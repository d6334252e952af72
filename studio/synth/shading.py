"""Shaded RGB renders of rasterized meshes over cheap random backgrounds.

RGB variants of the nets train on synthetic images, so bodies need shape cues (Lambert
shading from smooth normals) and the background must vary enough that a net cannot
find the body by its backdrop, while costing little next to the rasterizer.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from studio.synth.raster import Fragments, interpolate_at


def vertex_normals(points: Tensor, faces: Tensor) -> Tensor:
    """Area-weighted unit vertex normals [B,V,3] of meshes ``points`` [B,V,3].

    Outward for counter-clockwise faces in a right-handed frame. Works face-major with
    the batch innermost, where gathers and scatter-adds move contiguous rows, and with
    explicit components, which are many times faster on CPU than cross/normalize over
    a strided dimension.
    """
    b, v, _ = points.shape
    rows = points.permute(1, 2, 0).reshape(v, 3 * b)
    corners = rows.index_select(0, faces.view(-1)).view(-1, 3, 3, b)  # [F, corner, xyz, B]
    ax, ay, az = (corners[:, 1] - corners[:, 0]).unbind(1)
    bx, by, bz = (corners[:, 2] - corners[:, 0]).unbind(1)
    face_n = torch.stack([ay * bz - az * by, az * bx - ax * bz, ax * by - ay * bx], 1)
    normals = torch.zeros(v, 3 * b, dtype=points.dtype, device=points.device)
    for k in range(3):
        normals.index_add_(0, faces[:, k], face_n.view(-1, 3 * b))
    nx, ny, nz = normals.view(v, 3, b).unbind(1)
    inv = (nx * nx + ny * ny + nz * nz).clamp_min_(1e-24).rsqrt_()
    return torch.stack([(nx * inv).t(), (ny * inv).t(), (nz * inv).t()], -1)


def shade(frags: Fragments, faces: Tensor, points: Tensor, colors: Tensor, light_dir: Tensor,
          ambient: Tensor, face_part: Tensor | None = None) -> Tensor:
    """Lambert-shaded RGB [B,S,S,3] of the rasterized meshes, 0 on background.

    ``points`` [B,V,3] give the normals, so they must be metric up to one scale per axis
    triple (camera-frame vertices, or crop points scaled alike in x, y and z). ``colors``
    are per vertex [B,V,3] / [V,3], or per part [B,P,3] when ``face_part`` [F] (0-based)
    is given. ``light_dir`` [B,3] points towards the light in the same frame
    ((0, 0, -1) is a light at the camera); ``ambient`` [B] is the unlit fraction.
    """
    b, s = frags.face_index.shape[0], frags.size
    img = frags.pixels // (s * s)
    if face_part is None:
        attr = torch.cat([vertex_normals(points, faces), colors.expand(b, -1, -1)], -1)
        values = interpolate_at(frags, faces, attr)
        normal, albedo = values[:, :3], values[:, 3:]
    else:
        normal = interpolate_at(frags, faces, vertex_normals(points, faces))
        face = frags.face_index.view(-1).index_select(0, frags.pixels)
        part = face_part.index_select(0, face)
        albedo = colors.reshape(-1, 3).index_select(0, img * colors.shape[1] + part)
    light = F.normalize(light_dir, dim=-1).index_select(0, img)
    lambert = ((normal * light).sum(-1) / normal.norm(dim=-1).clamp_min(1e-12)).clamp_(min=0)
    amb = ambient.index_select(0, img)
    out = torch.zeros(b * s * s, 3, dtype=albedo.dtype, device=albedo.device)
    out.index_copy_(0, frags.pixels, albedo * (amb + (1 - amb) * lambert)[:, None])
    return out.view(b, s, s, 3)


def composite(rgb: Tensor, mask: Tensor, background: Tensor) -> Tensor:
    """``rgb`` [B,S,S,3] over ``background`` where ``mask`` [B,S,S] (a silhouette) is 1."""
    return torch.lerp(background, rgb, mask[..., None])


def _unit_grid(n: int, size: int, generator: torch.Generator) -> Tensor:
    """Per image, the pixel positions projected on a random direction: [n,S,S] in about [-1,1]."""
    dev = generator.device
    angle = torch.rand(n, generator=generator, device=dev) * (2 * math.pi)
    axis = torch.linspace(-1, 1, size, device=dev)
    return (angle.cos()[:, None, None] * axis[None, None, :]
            + angle.sin()[:, None, None] * axis[None, :, None]) / math.sqrt(2)


def _colors(n: int, count: int, generator: torch.Generator) -> Tensor:
    return torch.rand(n, count, 3, generator=generator, device=generator.device)


def _gradient(n: int, size: int, generator: torch.Generator) -> Tensor:
    c = _colors(n, 2, generator)
    t = (_unit_grid(n, size, generator) + 1)[..., None] / 2
    return torch.lerp(c[:, None, None, 0], c[:, None, None, 1], t)


def _noise(n: int, size: int, generator: torch.Generator) -> Tensor:
    """Two octaves of smooth colour noise: small random images, summed and upsampled once.

    Channels-last throughout, so the upsampled result is already [n,S,S,3].
    """
    dev = generator.device
    cells = int(torch.randint(2, 7, (1,), generator=generator, device=dev))
    coarse = torch.rand(n, cells, cells, 3, generator=generator, device=dev).permute(0, 3, 1, 2)
    fine = torch.rand(n, 4 * cells, 4 * cells, 3, generator=generator, device=dev)
    fine = fine.permute(0, 3, 1, 2).sub_(0.5).mul_(0.35)
    fine += F.interpolate(coarse, size=fine.shape[-2:], mode="bilinear", align_corners=False)
    img = F.interpolate(fine, size=(size, size), mode="bilinear", align_corners=False)
    return img.permute(0, 2, 3, 1)


def _stripes(n: int, size: int, generator: torch.Generator) -> Tensor:
    dev = generator.device
    c = _colors(n, 2, generator)
    freq = 2 + 10 * torch.rand(n, 1, 1, generator=generator, device=dev)
    phase = 2 * math.pi * torch.rand(n, 1, 1, generator=generator, device=dev)
    wave = torch.sin(math.pi * freq * _unit_grid(n, size, generator) + phase)
    t = torch.sigmoid(4 * wave)[..., None]
    return torch.lerp(c[:, None, None, 0], c[:, None, None, 1], t)


def _blobs(n: int, size: int, generator: torch.Generator, count: int = 5) -> Tensor:
    """A base colour with soft round blobs of other colours.

    Each blob is separable (a column gaussian times a row gaussian), so all of them
    reduce to one batched matrix product.
    """
    dev = generator.device
    c = _colors(n, count + 1, generator)
    centre = torch.rand(n, count, 2, generator=generator, device=dev) * 2 - 1
    radius = 0.1 + 0.4 * torch.rand(n, count, 1, generator=generator, device=dev)
    axis = torch.linspace(-1, 1, size, device=dev)
    gx = torch.exp(-(axis - centre[..., :1]).square() / (2 * radius ** 2))  # [n,k,S]
    gy = torch.exp(-(axis - centre[..., 1:]).square() / (2 * radius ** 2))
    tint = gx[..., None] * (c[:, 1:] - c[:, :1])[:, :, None, :]  # [n,k,S,3]
    blend = torch.bmm(gy.transpose(1, 2), tint.reshape(n, count, size * 3))
    return blend.view(n, size, size, 3) + c[:, None, None, 0]


_KINDS = (_gradient, _noise, _stripes, _blobs)


def random_backgrounds(generator: torch.Generator, batch: int, size: int) -> Tensor:
    """Varied backgrounds [B,S,S,3] in [0,1]: gradients, smooth noise, stripes, blobs.

    Deterministic given ``generator`` (its device is the output's); each image gets one
    kind, then a random contrast and brightness.
    """
    dev = generator.device
    kind = torch.randint(len(_KINDS), (batch,), generator=generator, device=dev)
    out = torch.empty(batch, size, size, 3, device=dev)
    for k, make in enumerate(_KINDS):
        idx = (kind == k).nonzero().squeeze(1)
        if idx.numel():
            out.index_copy_(0, idx, make(idx.numel(), size, generator))
    gain = 0.5 + torch.rand(batch, 1, 1, 1, generator=generator, device=dev)
    bias = 0.3 * torch.rand(batch, 1, 1, 1, generator=generator, device=dev) - 0.15
    # (out - 0.5) * gain + 0.5 + bias, in one pass
    return torch.addcmul(0.5 * (1 - gain) + bias, out, gain).clamp_(0, 1)
