"""Photo-like framings of rendered scenes.

Renders are square and frame the room around the person; photos come in other aspects
(0.63 to 1.64 among the development photos) and are often cropped closer. The net's full
view squeezes any picture to a square and its crops of image height get black edges on a
tall one (:func:`studio.nets.scenepose_views.make_views`), which a square render never
shows it. A render re-cropped to a window of another aspect that still holds the person's
box, scaled back to its height, shows it both.
"""
from __future__ import annotations

import math

import cv2
import numpy as np

ASPECTS = (0.6, 1.7)  # window width / height, drawn log-uniformly


def reframe(image: np.ndarray, keypoints: np.ndarray, box: np.ndarray,
            rng: np.random.Generator, aspects: tuple[float, float] = ASPECTS
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``image`` (uint8 [H,W,3]) cropped to a window of random aspect and size holding
    ``box`` [4] (x0, y0, x1, y1) and scaled to height H, with its ``keypoints`` [16,2]
    (negative = missing, kept so) and box moved along. A box too large for the drawn
    aspect leaves the scene as it was (nothing is cut off the person)."""
    h, w = image.shape[:2]
    aspect = math.exp(rng.uniform(math.log(aspects[0]), math.log(aspects[1])))
    bw, bh = float(box[2] - box[0]), float(box[3] - box[1])
    low, high = max(bh, bw / aspect), min(float(h), w / aspect)
    if low > high:
        return image, keypoints, box
    win_h = rng.uniform(low, high)
    win_w = aspect * win_h
    x0 = rng.uniform(max(0.0, box[2] - win_w), min(float(box[0]), w - win_w))
    y0 = rng.uniform(max(0.0, box[3] - win_h), min(float(box[1]), h - win_h))
    scale = h / win_h
    out_w = max(1, round(win_w * scale))
    matrix = np.array([[scale, 0, -x0 * scale], [0, scale, -y0 * scale]], np.float64)
    out = cv2.warpAffine(image, matrix, (out_w, h), flags=cv2.INTER_LINEAR,
                         borderMode=cv2.BORDER_REPLICATE)
    origin = np.array([x0, y0])
    seen = (np.asarray(keypoints) >= 0).all(-1, keepdims=True)
    moved = np.where(seen, (keypoints - origin) * scale, -1.0).astype(keypoints.dtype)
    new_box = (np.asarray(box, np.float64) - np.tile(origin, 2)) * scale
    new_box = np.clip(new_box, 0, [out_w - 1, h - 1, out_w - 1, h - 1]).astype(box.dtype)
    return out, moved, new_box
