"""Images (overlays, masks, screenshots) as PNG or JPEG bytes, through OpenCV."""
from __future__ import annotations

import cv2
import numpy as np

from studio.errors import StudioError

IMAGE_TYPES = (".png", ".jpg", ".jpeg")
_TO_BGR = {3: cv2.COLOR_RGB2BGR, 4: cv2.COLOR_RGBA2BGRA}


def image_bytes(pixels: np.ndarray, suffix: str) -> bytes:
    """uint8 pixels, grey [H,W], RGB [H,W,3] or RGBA [H,W,4], encoded as ``suffix`` says.

    OpenCV wants BGR order; JPEG has no alpha channel, so RGBA loses it there.
    """
    if pixels.dtype != np.uint8 or pixels.ndim not in (2, 3) or (
            pixels.ndim == 3 and pixels.shape[2] not in _TO_BGR):
        raise ValueError(f"expected uint8 grey, RGB or RGBA pixels, got {pixels.dtype} "
                         f"{pixels.shape}")
    suffix = suffix.lower()
    if pixels.ndim == 3 and pixels.shape[2] == 4 and suffix != ".png":
        pixels = pixels[..., :3]
    if pixels.ndim == 3:
        pixels = cv2.cvtColor(pixels, _TO_BGR[pixels.shape[2]])
    ok, encoded = cv2.imencode(suffix, pixels)
    if not ok:
        raise StudioError(f"cannot encode a {suffix} image")
    return encoded.tobytes()
