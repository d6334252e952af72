"""Painting a placement box's region out of a scene image, the way the real evaluation
photos had their person removed, as a training augmentation.

The real person-removed photos (``data/scenes/masked``) carry a smooth blob where the
person was: a local average of the surroundings with a little grain, over a rounded
region about the size of the person's box. A model trained only on clean renders meets
that blob for the first time at test time. Painting a blob into the clean render *from
the box alone* (never from the person's silhouette) makes training inputs look like the
test inputs without telling the model anything the box does not already say.
"""
from __future__ import annotations

import cv2
import numpy as np


def _region(h: int, w: int, box: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """[H,W] float32 in [0,1]: a rounded blob about the size of ``box``, feathered."""
    x0, y0, x1, y1 = (float(v) for v in box)
    bw, bh = max(x1 - x0, 2.0), max(y1 - y0, 2.0)
    cx = (x0 + x1) / 2 + rng.normal(0, 0.04) * bw
    cy = (y0 + y1) / 2 + rng.normal(0, 0.03) * bh
    rx, ry = bw / 2 * rng.uniform(0.7, 1.0), bh / 2 * rng.uniform(0.9, 1.05)
    power = rng.uniform(2.5, 5.0)  # a superellipse: between an ellipse and a box
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    taper = 1 + rng.uniform(-0.25, 0.25) * (yy - cy) / ry  # wider at the top or bottom
    inside = (np.abs(xx - cx) / (rx * np.maximum(taper, 0.4))) ** power \
        + (np.abs(yy - cy) / ry) ** power
    mask = (inside <= 1).astype(np.float32)
    feather = max(1.0, 0.03 * max(bw, bh))
    return cv2.GaussianBlur(mask, (0, 0), feather)


def paint_out_box(image: np.ndarray, box: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``image`` [H,W,3] uint8 with a smooth fill over a rounded region of ``box``
    (x0, y0, x1, y1 pixels): multi-scale normalised convolution of the surroundings plus
    fine grain taken from beside the box, blended in through a soft seam."""
    h, w = image.shape[:2]
    alpha = _region(h, w, box, rng)
    img = image.astype(np.float32)
    # The fill is smooth: made at a quarter of the size, where the blurs cost little.
    sh, sw = max(8, h // 4), max(8, w // 4)
    small = cv2.resize(img, (sw, sh), interpolation=cv2.INTER_AREA)
    keep = (cv2.resize(alpha, (sw, sh), interpolation=cv2.INTER_AREA) < 0.3).astype(np.float32)
    size = max(float(box[2] - box[0]), float(box[3] - box[1]), 4.0) * sw / w
    fill = np.zeros_like(small)
    weight = np.zeros((sh, sw), np.float32)
    for scale in (0.08, 0.2, 0.5):  # near surroundings first, far ones where those are absent
        sigma = max(0.7, scale * size)
        num = cv2.GaussianBlur(small * keep[..., None], (0, 0), sigma)
        den = cv2.GaussianBlur(keep, (0, 0), sigma)
        take = np.clip(den * 4, 0, 1) * (1 - np.clip(weight, 0, 1))
        fill += num / np.maximum(den, 1e-4)[..., None] * take[..., None]
        weight += take
    fill = fill / np.maximum(weight, 1e-4)[..., None]
    fill = cv2.resize(fill, (w, h), interpolation=cv2.INTER_LINEAR)
    # fine grain from beside the box, clipped so that no edge travels with it
    grain = np.clip(img - cv2.blur(img, (3, 3)), -4, 4)
    shift = int(np.ceil(size * w / sw * rng.uniform(0.6, 1.0))) * (1 if rng.random() < 0.5 else -1)
    fill += np.roll(grain, shift, axis=1) * rng.uniform(0.3, 1.0)
    out = img * (1 - alpha[..., None]) + fill * alpha[..., None]
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def paint_out_scenes(images, boxes: np.ndarray, seed: int) -> list[np.ndarray]:
    """Each image with its box painted out (:func:`paint_out_box`), seeded per scene so a
    validation or test set is painted the same way every time."""
    return [paint_out_box(im, b, np.random.default_rng([seed, i]))
            for i, (im, b) in enumerate(zip(images, boxes))]
