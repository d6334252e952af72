"""Reading photographs robustly: any common file becomes an upright RGB uint8 array.

Photos arrive turned (EXIF orientation), grey, with alpha, with 16 bits per channel,
damaged or cut short, or far larger than detection needs. Pillow decodes them because,
unlike OpenCV, it refuses truncated files instead of returning a half-grey picture.

Photos of more than :data:`MAX_PIXELS` pixels are read downscaled to at most that many
(JPEGs decoded at a half, quarter or eighth of their size, which also spares the
memory); results are then in the downscaled picture's pixels, and
:func:`read_image_sized` tells the size on disk. Only files past Pillow's
decompression-bomb limit (twice ``Image.MAX_IMAGE_PIXELS``, about 179 million pixels)
are refused.
"""
from __future__ import annotations

import io
import math
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from studio.errors import StudioError

MIN_SIDE = 16  # below this no detector can find a person; refuse with a clear message
# Larger photos are read downscaled to this many pixels (a 48-megapixel phone photo is not).
MAX_PIXELS = 50_000_000


def read_image(path: str | Path) -> np.ndarray:
    """The image file as RGB uint8 [H,W,3], upright by its EXIF orientation (downscaled
    to :data:`MAX_PIXELS` when larger)."""
    return read_image_sized(path)[0]


def read_image_sized(path: str | Path, max_pixels: int = MAX_PIXELS
                     ) -> tuple[np.ndarray, tuple[int, int]]:
    """:func:`read_image`, and the upright photo's size on disk (width, height): the
    returned picture is smaller when the photo has more than ``max_pixels`` pixels."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as err:
        raise StudioError(f"{path}: cannot read the image ({err.strerror or err})") from err
    return decode_image_sized(data, str(path), max_pixels)


def decode_image(data: bytes, name: str = "image") -> np.ndarray:
    """Encoded bytes -> RGB uint8 [H,W,3]; ``name`` labels error messages."""
    return decode_image_sized(data, name)[0]


def _fitted(size: tuple[int, int], max_pixels: int) -> tuple[int, int]:
    """``size`` scaled down (aspect kept) to at most ``max_pixels`` pixels."""
    scale = math.sqrt(max_pixels / (size[0] * size[1]))
    return max(1, math.floor(size[0] * scale)), max(1, math.floor(size[1] * scale))


def _draft_size(size: tuple[int, int], max_pixels: int) -> tuple[int, int]:
    """The size to ask of a JPEG decoder (which scales by 1/2, 1/4 or 1/8 and gives at
    least the size asked) so the picture comes out with at most ``max_pixels`` pixels."""
    for k in (2, 4, 8):
        if (size[0] // k) * (size[1] // k) <= max_pixels:
            return size[0] // k, size[1] // k
    return size[0] // 8, size[1] // 8


def decode_image_sized(data: bytes, name: str = "image", max_pixels: int = MAX_PIXELS
                       ) -> tuple[np.ndarray, tuple[int, int]]:
    """:func:`decode_image`, and the upright picture's full size (width, height); pictures
    of more than ``max_pixels`` pixels come back downscaled to at most that many."""
    if not data:
        raise StudioError(f"{name}: not an image (the file is empty)")
    try:
        with warnings.catch_warnings():
            # Between Pillow's warning and its hard limit a photo is only big: read it
            # downscaled below. Past the limit Pillow raises DecompressionBombError.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            picture = Image.open(io.BytesIO(data))
            size = picture.size
            if size[0] * size[1] > max_pixels:
                picture.draft(picture.mode, _draft_size(size, max_pixels))  # JPEG only
            picture.load()
    except UnidentifiedImageError as err:
        raise StudioError(f"{name}: not an image file this studio can decode") from err
    except Image.DecompressionBombError as err:
        raise StudioError(f"{name}: too large to decode safely ({err}); downscale it to at "
                          f"most {2 * Image.MAX_IMAGE_PIXELS} pixels first") from err
    except (OSError, SyntaxError, ValueError) as err:
        raise StudioError(f"{name}: damaged or truncated image ({err})") from err
    decoded = picture.size
    picture = ImageOps.exif_transpose(picture)
    if picture.size != decoded:  # turned a quarter
        size = size[::-1]
    rgb = _to_rgb8(picture)
    height, width = rgb.shape[:2]
    if width * height > max_pixels:
        rgb = downscaled(rgb, max(_fitted((width, height), max_pixels)))
        height, width = rgb.shape[:2]
    if min(width, height) < MIN_SIDE:
        raise StudioError(f"{name}: image too small ({width}x{height} px); people can only "
                          f"be found in images at least {MIN_SIDE} px on each side")
    return rgb, size


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
    import cv2

    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)
