"""Camera-like degradations for rendered scenes, so features learnt on crisp, noise-free
renders meet real photos' softness, sensor noise and JPEG blocks in training."""
from __future__ import annotations

import cv2
import numpy as np


def degrade_photo(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``image`` (uint8 [H,W,3]) blurred by a Gaussian of 0.3-1.2 px, with Gaussian sensor
    noise of 0-4 grey levels, then JPEG-compressed at quality 35-90."""
    sigma = rng.uniform(0.3, 1.2)
    out = cv2.GaussianBlur(image, (0, 0), sigma).astype(np.float32)
    out += rng.normal(0.0, rng.uniform(0.0, 4.0), out.shape).astype(np.float32)
    out = np.clip(out, 0, 255).astype(np.uint8)
    ok, buf = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(35, 91))])
    if not ok:  # encoding a valid uint8 image does not fail; keep the blurred one if it does
        return out
    return cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)
