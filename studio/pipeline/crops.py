"""Square crops around people and the one transform that ties crop and image together.

Conventions (every function here keeps them, so landmarks, masks, crops and cameras agree):

- Image coordinates are continuous pixels with pixel ``i`` covering ``[i, i+1)``, so its
  centre is ``i + 0.5`` (MediaPipe's normalised landmarks times the image size).
- A crop covers the square image box ``[x, x + size] x [y, y + size]``. Crop coordinate
  ``c`` in [-1, 1] (PyMAF's, as :func:`studio.nets.geometry.project_to_crop` returns)
  is image coordinate ``x + (c + 1) / 2 * size``: -1 and 1 are the box's edges.
- Crop pixel ``j`` of an S-pixel crop sits at ``c = -1 + 2j / (S - 1)`` for the built-in
  nets (``align_corners``: their renderer and heatmaps put pixel centres there) and at
  ``c = -1 + (2j + 1) / S`` for the official net (SPIN/PyMAF's resize-the-box crops).
  Only where pixels sample the box differs; the crop <-> image mapping does not.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
import torch

from studio.nets.backbones import IMAGENET_MEAN, IMAGENET_STD
from studio.nets.geometry import CROP_SIZE, FOCAL_LENGTH, weak_perspective_to_translation
from studio.synth.proxy import proxy_maps

BOX_MARGIN = 1.25  # the middle of the margins the built-in nets were trained on (1.1-1.4)


@dataclass(frozen=True)
class CropBox:
    """A square region of the image in continuous pixel coordinates: corner and side."""

    x: float
    y: float
    size: float


def square_box(extent: tuple[float, float, float, float],
               margin: float = BOX_MARGIN) -> CropBox:
    """The square centred on a person's extent (x0, y0, x1, y1), its side the extent's
    longer side times ``margin``: how the training crops frame people."""
    x0, y0, x1, y1 = extent
    side = max(x1 - x0, y1 - y0, 1.0) * margin
    return CropBox(x=(x0 + x1 - side) / 2, y=(y0 + y1 - side) / 2, size=side)


@dataclass(frozen=True)
class CropTransform:
    """An S x S crop of ``box``: maps points both ways and resamples arrays into it."""

    box: CropBox
    size: int
    align_corners: bool = True

    def to_crop(self, points: np.ndarray) -> np.ndarray:
        """Image coordinates [...,2] -> crop coordinates."""
        corner = np.array([self.box.x, self.box.y])
        return (np.asarray(points, np.float64) - corner) * (2.0 / self.box.size) - 1.0

    def to_image(self, coords: np.ndarray) -> np.ndarray:
        """Crop coordinates [...,2] -> image coordinates."""
        corner = np.array([self.box.x, self.box.y])
        return corner + (np.asarray(coords, np.float64) + 1.0) * (self.box.size / 2.0)

    def _pixel_step(self) -> tuple[float, float]:
        """Crop coordinate of crop pixel j is ``step * j + first``."""
        s = self.size
        return (2.0 / (s - 1), -1.0) if self.align_corners else (2.0 / s, -1.0 + 1.0 / s)

    def source_matrix(self, source_shape: tuple[int, int],
                      image_size: tuple[int, int]) -> np.ndarray:
        """[2,3] affine from crop pixel indices (j, i) to pixel indices of an array of
        ``source_shape`` (h, w) covering the whole image of ``image_size`` (W, H) (e.g. a
        downscaled detection mask), as ``cv2.warpAffine`` with WARP_INVERSE_MAP wants."""
        sx, sy = source_shape[1] / image_size[0], source_shape[0] / image_size[1]
        step, first = self._pixel_step()
        half = self.box.size / 2.0
        return np.array([
            [sx * half * step, 0.0, sx * (self.box.x + (first + 1) * half) - 0.5],
            [0.0, sy * half * step, sy * (self.box.y + (first + 1) * half) - 0.5]])

    def warp(self, source: np.ndarray, image_size: tuple[int, int]) -> np.ndarray:
        """``source`` (the whole image, at any resolution) resampled into the crop.

        Shrinking first averages whole blocks of source pixels (area filter) down to at
        most 2 source pixels per crop pixel, so large photos do not alias; bilinear
        sampling does the rest. Crop pixels looking outside the image are 0.
        """
        matrix = self.source_matrix(source.shape[:2], image_size)
        h, w = source.shape[:2]
        factor = max(1, int(min(matrix[0, 0], matrix[1, 1])))
        steps = np.arange(self.size)
        xs, ys = matrix[0, 0] * steps + matrix[0, 2], matrix[1, 1] * steps + matrix[1, 2]
        inside_x, inside_y = (xs >= -0.5) & (xs <= w - 0.5), (ys >= -0.5) & (ys <= h - 0.5)
        if not inside_x.any() or not inside_y.any():
            return np.zeros((self.size, self.size, *source.shape[2:]), source.dtype)
        # Only the source under the box, a block wider each side, is shrunk; the last
        # partial block is completed with copies of the image's edge.
        c0, r0 = max(0, math.floor(xs[0]) - factor), max(0, math.floor(ys[0]) - factor)
        c1, r1 = min(w, math.ceil(xs[-1]) + factor + 1), min(h, math.ceil(ys[-1]) + factor + 1)
        region = source[r0:r1, c0:c1]
        if factor > 1:
            pad_r, pad_c = -(r1 - r0) % factor, -(c1 - c0) % factor
            region = cv2.copyMakeBorder(region, 0, pad_r, 0, pad_c, cv2.BORDER_REPLICATE)
            region = cv2.resize(region, (region.shape[1] // factor, region.shape[0] // factor),
                                interpolation=cv2.INTER_AREA)
        # Block k of the shrunk region is centred on region pixel factor*k + (factor-1)/2.
        local = matrix.copy()
        local[:, 2] -= (c0 + (factor - 1) / 2, r0 + (factor - 1) / 2)
        local /= factor
        crop = cv2.warpAffine(region, local, (self.size, self.size),
                              flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                              borderMode=cv2.BORDER_REPLICATE)
        crop[~inside_y] = 0  # outside the image: black, as PyMAF pads
        crop[:, ~inside_x] = 0
        return crop


@dataclass(frozen=True)
class ImageCamera:
    """The perspective camera that draws a crop camera's view onto the whole image.

    ``project`` of camera-axes points (x right, y down, z away) gives image coordinates;
    it equals the crop camera's projection mapped through the crop box, exactly.
    """

    focal: float  # pixels
    centre: tuple[float, float]  # principal point, image coordinates (the box centre)
    translation: tuple[float, float, float]  # metres, added to the points

    def project(self, points: np.ndarray) -> np.ndarray:
        """Points [...,3] -> image coordinates [...,2]."""
        p = np.asarray(points, np.float64) + np.asarray(self.translation)
        return self.focal * p[..., :2] / p[..., 2:] + np.asarray(self.centre)


def image_camera(cam: np.ndarray, box: CropBox) -> ImageCamera:
    """The full-image camera of weak-perspective crop camera ``cam`` = [s, tx, ty]: the
    nets' focal 5000 px on a 224 px crop, scaled to the box's side in image pixels."""
    t = weak_perspective_to_translation(torch.as_tensor(cam, dtype=torch.float64)[None])[0]
    half = box.size / 2.0
    return ImageCamera(focal=FOCAL_LENGTH * box.size / CROP_SIZE,
                       centre=(box.x + half, box.y + half),
                       translation=tuple(float(v) for v in t))


def normalised_rgb(crop: np.ndarray) -> torch.Tensor:
    """RGB uint8 crop [S,S,3] -> ImageNet-normalised [1,3,S,S] float32."""
    x = torch.from_numpy(np.ascontiguousarray(crop)).permute(2, 0, 1).float() / 255
    mean = torch.tensor(IMAGENET_MEAN)[:, None, None]
    std = torch.tensor(IMAGENET_STD)[:, None, None]
    return ((x - mean) / std)[None]


def proxy_input(mask_crop: np.ndarray, landmarks: np.ndarray, visibility: np.ndarray,
                transform: CropTransform) -> torch.Tensor:
    """[1,34,S,S] proxy maps as the built-in proxy net was trained on them: the soft
    person mask in the crop, and landmark heatmaps scaled by visibility, 0 for landmarks
    outside the crop. ``landmarks`` [33,2] are image coordinates."""
    points = transform.to_crop(landmarks)
    inside = (np.abs(points) <= 1.0).all(axis=1)
    score = np.where(inside, visibility, 0.0)
    return proxy_maps(torch.as_tensor(mask_crop, dtype=torch.float32)[None],
                      torch.as_tensor(points, dtype=torch.float32)[None],
                      torch.as_tensor(score, dtype=torch.float32)[None])
