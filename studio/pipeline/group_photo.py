"""Made group photos for tests and benchmarks: the built-in samples' real people (the
astronaut and Grace Hopper, each in their own photo's frame), pasted side by side at
different sizes, mirrored in turn; larger people stand in the front row (lower), smaller
ones in the back row (higher), as in a posed group. :func:`mannequin_group` stands
rendered mannequins of different heights on one floor instead."""
from __future__ import annotations

import cv2
import numpy as np

from studio.pipeline.samples import astronaut, grace_hopper, mannequin

MANNEQUIN_HEIGHTS = (0.9, 0.6, 0.4, 0.25)  # of the photo's height


def group_photo(count: int, height: int = 720, gap: int = 24
                ) -> tuple[np.ndarray, list[tuple[int, int, int, int]]]:
    """An RGB photo of ``count`` people and each one's frame (x0, y0, x1, y1), largest
    first. One row holds up to 5 people; with more, a back row of smaller people."""
    sources = [astronaut(), grace_hopper()]
    front = min(count, 5)
    rows = [(front, 0.5), (count - front, 0.3)] if count > front else [(front, 0.55)]
    placed: list[tuple[np.ndarray, int, int]] = []
    widths = []
    k = 0
    for row, (n, fraction) in enumerate(rows):
        x = gap
        for _ in range(n):
            source = sources[k % 2] if k % 4 < 2 else sources[k % 2][:, ::-1]
            h = round(height * fraction * (1 - 0.05 * (k % 3)))
            w = round(source.shape[1] * h / source.shape[0])
            picture = cv2.resize(source, (w, h), interpolation=cv2.INTER_AREA)
            y = height - gap - h if row == 0 else gap
            placed.append((picture, x, y))
            x += w + gap
            k += 1
        widths.append(x)
    canvas = np.empty((height, max(widths), 3), np.uint8)
    canvas[:] = np.linspace(150, 210, max(widths))[None, :, None].astype(np.uint8)
    boxes = []
    for picture, x, y in placed:
        h, w = picture.shape[:2]
        canvas[y:y + h, x:x + w] = picture
        boxes.append((x, y, x + w, y + h))
    return canvas, sorted(boxes, key=lambda b: -(b[2] - b[0]) * (b[3] - b[1]))


def _skin(image: np.ndarray) -> np.ndarray:
    """Where the mannequin sample's skin is (red well above blue; its wall is grey)."""
    return image[..., 0].astype(np.int16) - image[..., 2].astype(np.int16) > 25


def mannequin_group(heights: tuple[float, ...] = MANNEQUIN_HEIGHTS,
                    size: tuple[int, int] = (1280, 720), gap: int = 40) -> tuple[np.ndarray, list[tuple[int, int, int, int]]]:
    """An RGB photo of rendered mannequins (the ``mannequin`` sample's figure, cut out)
    standing side by side on one floor, each ``heights[k]`` of the photo's height, and
    their frames (x0, y0, x1, y1) in that order."""
    source = mannequin()
    ys, xs = np.nonzero(_skin(source))
    figure = source[ys.min():ys.max() + 1, xs.min():xs.max() + 1]
    width, height = size
    canvas = np.empty((height, width, 3), np.uint8)
    canvas[:] = np.linspace(90, 150, width)[None, :, None].astype(np.uint8)
    frames, x = [], gap
    for fraction in heights:
        h = round(height * fraction)
        w = round(figure.shape[1] * h / figure.shape[0])
        picture = cv2.resize(figure, (w, h), interpolation=cv2.INTER_AREA)
        y = height - gap // 2 - h
        body = _skin(picture)
        canvas[y:y + h, x:x + w][body] = picture[body]
        frames.append((x, y, x + w, y + h))
        x += w + gap
    if x - gap > width:
        raise ValueError(f"{len(heights)} mannequins of these heights do not fit {width} px")
    return canvas, frames
