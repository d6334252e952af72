"""Reading photographs robustly: any common file becomes an upright RGB uint8 array.

Photos arrive turned (EXIF orientation), grey, with alpha, with 16 bits per channel,
damaged or cut short, or far larger than detection needs. Pillow decodes them because,
unlike OpenCV, it refuses truncated files instead of returning a half-grey picture.
"""
from __future__ import annotations

import io
import warnings
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from studio.errors import StudioError

MIN_SIDE = 16  # below this no detector can find a person; refuse with a clear message


def read_image(path: str | Path) -> np.ndarray:
    """The image file as RGB uint8 [H,W,3], upright by its EXIF orientation."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as err:
        raise StudioError(f"{path}: cannot read the image ({err.strerror or err})") from err
    return decode_image(data, str(path))


def decode_image(data: bytes, name: str = "image") -> np.ndarray:
    """Encoded bytes -> RGB uint8 [H,W,3]; ``name`` labels error messages."""
    if not data:
        raise StudioError(f"{name}: not an image (the file is empty)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            picture = Image.open(io.BytesIO(data))
            picture.load()
    except UnidentifiedImageError as err:
        raise StudioError(f"{name}: not an image file this studio can decode") from err
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as err:
        raise StudioError(f"{name}: too large to decode safely ({err})") from err
    except (OSError, SyntaxError, ValueError) as err:
        raise StudioError(f"{name}: damaged or truncated image ({err})") from err
    picture = ImageOps.exif_transpose(picture)
    rgb = _to_rgb8(picture)
    height, width = rgb.shape[:2]
    if min(width, height) < MIN_SIDE:
        raise StudioError(f"{name}: image too small ({width}x{height} px); people can only "
                          f"be found in images at least {MIN_SIDE} px on each side")
    return rgb


def _to_rgb8(picture: Image.Image) -> np.ndarray:
    """Any Pillow mode as RGB uint8: 16-bit grey keeps its high byte, alpha is dropped."""
    if picture.mode.startswith("I;16") or picture.mode == "I":
        grey = (np.clip(np.asarray(picture, np.int64), 0, 65535) >> 8).astype(np.uint8)
        return np.ascontiguousarray(np.repeat(grey[..., None], 3, axis=2))
    if picture.mode == "P" and "transparency" in picture.info:
        picture = picture.convert("RGBA")  # Pillow warns when palette alpha is dropped directly
    return np.asarray(picture.convert("RGB"), np.uint8).copy()


def downscaled(image: np.ndarray, max_side: int) -> np.ndarray:
    """``image`` shrunk (area filter) so its longer side is at most ``max_side``; callers
    relate the two pixel grids through the shapes, which rounding keeps exact."""
    height, width = image.shape[:2]
    scale = max_side / max(height, width)
    if scale >= 1.0:
        return image
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)
