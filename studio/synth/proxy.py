"""Proxy inputs (person mask + 33 keypoint heatmaps) and the noise that makes synthetic
ones look like MediaPipe's output on real photos.

A proxy model never sees pixels, only what MediaPipe Pose reports, so the gap between
synthetic and real proxies is the whole domain gap. Each noise term copies one way
MediaPipe's output differs from the exact projection of the body:

- Position jitter, Gaussian with a per-image sigma of 0.5-2.5% of the person's size:
  landmark error grows with blur, small people and loose clothing.
- Outliers (2% of landmarks, sigma 10% of the size): a landmark snaps to a wrong
  limb or to background clutter.
- Left/right swap of all limb landmarks (3% of images): the classic failure on people
  seen from the back.
- Visibility: MediaPipe reports a score in [0, 1]. Landmarks in view get 0.7-1.0; ones
  behind the body (more than 15 cm behind the surface that covers them) get 0.2-0.7
  and, one time in three, 0; landmarks outside the crop get 0; 3% drop out at random.
  Heatmaps are scaled by the score, exactly as the real pipeline scales them.
- Occluders (25% of images): a box or disc in front of the person removes it from the
  mask and lowers the visibility of landmarks under it, like a table or another person.
- Mask: MediaPipe's segmentation is soft and its border wanders. The silhouette is
  dilated or eroded by 1 px (at 64 px), blurred, its border roughened by low-frequency
  noise, and 10% of images get a spurious blob (a bag, a chair, a second person).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from studio.synth.heatmaps import gaussian_heatmaps

NUM_KEYPOINTS = 33
PROXY_CHANNELS = 1 + NUM_KEYPOINTS
OCCLUDED_DEPTH_M = 0.15
# MediaPipe-33 indices that change places when left and right are confused.
_SWAP = torch.tensor([0, 4, 5, 6, 1, 2, 3, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15, 18, 17, 20,
                      19, 22, 21, 24, 23, 26, 25, 28, 27, 30, 29, 32, 31])


def heatmap_sigma(size: int) -> float:
    """Heatmap width in pixels for an S x S proxy: 2 px at 128, in proportion elsewhere."""
    return 2.0 * size / 128


def proxy_maps(mask: torch.Tensor, points: torch.Tensor, visibility: torch.Tensor) -> torch.Tensor:
    """[B,34,S,S] model input: the mask, then one heatmap per landmark scaled by its
    visibility. ``points`` [B,33,2] are crop coordinates in [-1, 1]."""
    size = mask.shape[-1]
    heat = gaussian_heatmaps(points, torch.ones_like(visibility, dtype=torch.bool), size,
                             heatmap_sigma(size))
    return torch.cat([mask[:, None].float(), heat * visibility[..., None, None]], 1)


def _pixel_lookup(image: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
    """Values [B,K] of ``image`` [B,S,S] at the pixels nearest to ``points`` [B,K,2]."""
    s = image.shape[-1]
    idx = ((points.clamp(-1, 1) + 1) * (s - 1) / 2).round().long()
    flat = idx[..., 1] * s + idx[..., 0]
    return image.reshape(image.shape[0], -1).gather(1, flat)


def observe_keypoints(gen: torch.Generator, points: torch.Tensor, depth: torch.Tensor,
                      depth_map: torch.Tensor, size_of_person: torch.Tensor
                      ) -> tuple[torch.Tensor, torch.Tensor]:
    """Noisy landmarks [B,33,2] and visibility scores [B,33] from exact projections.

    ``depth`` [B,33] is each landmark's camera depth, ``depth_map`` [B,S,S] the rendered
    depth (0 on background), ``size_of_person`` [B] the body's extent in crop units.
    """
    b, k, _ = points.shape
    sigma = (0.005 + 0.02 * torch.rand(b, 1, 1, generator=gen)) * size_of_person[:, None, None]
    noisy = points + torch.randn(b, k, 2, generator=gen) * sigma
    outlier = torch.rand(b, k, 1, generator=gen) < 0.02
    noisy = noisy + outlier * torch.randn(b, k, 2, generator=gen) * 0.1 \
        * size_of_person[:, None, None]
    surface = _pixel_lookup(depth_map, points)
    hidden = (surface > 0) & (surface < depth - OCCLUDED_DEPTH_M)
    inside = (points.abs() <= 1).all(-1)
    vis = 0.7 + 0.3 * torch.rand(b, k, generator=gen)
    vis = torch.where(hidden, 0.2 + 0.5 * torch.rand(b, k, generator=gen), vis)
    lost = (hidden & (torch.rand(b, k, generator=gen) < 1 / 3)) | \
        (torch.rand(b, k, generator=gen) < 0.03) | ~inside
    vis = torch.where(lost, torch.zeros_like(vis), vis)
    swap = torch.rand(b, generator=gen) < 0.03
    noisy = torch.where(swap[:, None, None], noisy[:, _SWAP], noisy)
    vis = torch.where(swap[:, None], vis[:, _SWAP], vis)
    return noisy, vis


def _smooth_noise(gen: torch.Generator, b: int, size: int, cells: int) -> torch.Tensor:
    """[B,S,S] smooth noise in about [-1, 1]: random values on a coarse grid, upsampled."""
    coarse = torch.rand(b, 1, cells, cells, generator=gen) * 2 - 1
    return F.interpolate(coarse, size=(size, size), mode="bicubic", align_corners=True)[:, 0]


def _blur(image: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur of [B,S,S]."""
    radius = max(1, int(3 * sigma))
    t = torch.arange(-radius, radius + 1, dtype=image.dtype)
    kernel = torch.exp(-t ** 2 / (2 * sigma ** 2))
    kernel = kernel / kernel.sum()
    x = image[:, None]
    x = F.conv2d(F.pad(x, (radius, radius, 0, 0), mode="replicate"), kernel.view(1, 1, 1, -1))
    x = F.conv2d(F.pad(x, (0, 0, radius, radius), mode="replicate"), kernel.view(1, 1, -1, 1))
    return x[:, 0]


def _shapes(gen: torch.Generator, b: int, size: int, scale: float) -> torch.Tensor:
    """[B,S,S] masks, each one random box or disc of about ``scale`` of the crop."""
    t = torch.linspace(-1, 1, size)
    yy, xx = torch.meshgrid(t, t, indexing="ij")
    centre = torch.rand(b, 2, generator=gen) * 1.6 - 0.8
    half = scale * (0.5 + torch.rand(b, 2, generator=gen))
    dx = (xx[None] - centre[:, 0, None, None]) / half[:, 0, None, None]
    dy = (yy[None] - centre[:, 1, None, None]) / half[:, 1, None, None]
    disc = torch.rand(b, generator=gen) < 0.5
    inside = torch.where(disc[:, None, None], dx ** 2 + dy ** 2 <= 1,
                         (dx.abs() <= 1) & (dy.abs() <= 1))
    return inside.float()


def observe_mask(gen: torch.Generator, silhouette: torch.Tensor) -> torch.Tensor:
    """A MediaPipe-like soft mask [B,S,S] in [0, 1] from an exact silhouette.

    Distances scale with S (the numbers are for 64 px, where an arm is 2-3 px wide and a
    larger erosion would cut limbs off, which MediaPipe does not do).
    """
    b, size, _ = silhouette.shape
    unit = max(1, round(size / 64))
    x = silhouette[:, None].float()
    radius = torch.randint(-1, 2, (b,), generator=gen)
    k = 2 * unit + 1
    dil = F.max_pool2d(x, k, 1, unit)
    ero = -F.max_pool2d(-x, k, 1, unit)
    grown = torch.where((radius == 1)[:, None, None, None], dil,
                        torch.where((radius == -1)[:, None, None, None], ero, x))[:, 0]
    soft = _blur(grown, unit * (0.5 + 0.5 * torch.rand((), generator=gen).item()))
    ragged = soft + 0.12 * _smooth_noise(gen, b, size, 12)
    mask = torch.sigmoid((ragged - 0.4) * (8 + 12 * torch.rand(b, 1, 1, generator=gen)))
    blob = (torch.rand(b, generator=gen) < 0.1)[:, None, None] * _shapes(gen, b, size, 0.2)
    return torch.maximum(mask, blob * 0.9)


def add_occluders(gen: torch.Generator, mask: torch.Tensor, points: torch.Tensor,
                  visibility: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Cut a random occluder out of a quarter of the masks; landmarks under it fade."""
    b, size, _ = mask.shape
    occluder = (torch.rand(b, generator=gen) < 0.25)[:, None, None] * _shapes(gen, b, size, 0.3)
    covered = _pixel_lookup(occluder, points) > 0
    faded = visibility * torch.rand(b, visibility.shape[1], generator=gen) * 0.5
    return mask * (1 - occluder), torch.where(covered, faded, visibility)
