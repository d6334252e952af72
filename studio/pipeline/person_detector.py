"""BlazePose's person detector for everyone in a photo, and the aligned crop per person.

The MediaPipe wheel ships the detector (``modules/pose_detection/pose_detection.tflite``,
224x224 input); MediaPipe's legacy Pose keeps only its best detection, so it is run here
through LiteRT (``ai-edge-litert``: 9 ms per input on one thread, against 25 ms for the
same layers in torch). It keys on faces and expects a person to fill much of its input,
so a photo is searched whole (large people) and in overlapping square tiles of half its
shorter side (small people); the detections of all windows are merged by weighted
non-maximum suppression in photo pixels.

Each detection gives a region of interest as MediaPipe's pose landmark stage makes it:
centred on the hip centre, as wide as 1.25 times the full-body circle's diameter, and
turned so that the body stands upright in it (from the hip centre towards the point on
the full-body circle).
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from studio.pipeline.anchors import (INPUT_SIZE, MIN_SCORE, Detection, decode, iou, ssd_anchors,
                                     weighted_nms)

TILE_FRACTION = 0.5  # tile side, of the photo's shorter side
MIN_TILE = 96  # px; smaller tiles (of small photos) would only blow up noise
TILE_OVERLAP = 0.5  # tiles step by half their side
ROI_SCALE = 1.25  # MediaPipe's pose landmark ROI: 1.25 times the full-body circle
TILE_SCORE = 0.6  # tiles see more clutter; a tile's detection must score this much
MERGE_IOU = 0.3
MAX_FACES = 10  # a landmark crop spans at most this many face-box sides (a standing person ~9)


def model_path() -> Path:
    """The detector's .tflite file inside the installed MediaPipe wheel."""
    import mediapipe

    return Path(mediapipe.__file__).parent / "modules" / "pose_detection" / "pose_detection.tflite"


@functools.cache
def _anchors() -> np.ndarray:
    return ssd_anchors()


@dataclass
class Roi:
    """A person's square region in photo pixels: centre, side and rotation (radians;
    0 = upright, positive turns the crop's axes clockwise in the photo); ``face`` is the
    detector's face box (x0, y0, x1, y1), which tells this person from neighbours."""

    centre: np.ndarray
    side: float
    rotation: float
    score: float
    face: np.ndarray

    def affine(self, size: int) -> np.ndarray:
        """2x3 matrix taking photo pixels to the upright ``size`` x ``size`` crop."""
        c, s = math.cos(self.rotation), math.sin(self.rotation)
        m = np.array([[c, s], [-s, c]]) * (size / self.side)
        return np.hstack([m, (size / 2 - m @ self.centre)[:, None]])

    def capped(self, faces: float = MAX_FACES) -> Roi:
        """This region at most ``faces`` face-box sides across, slid along the body's axis
        so the face stays a quarter of the way down: where the detector guessed a body
        far larger than what shows (hidden legs), the crop keeps what shows large enough
        for the landmark stage."""
        face_side = float(max(self.face[2] - self.face[0], self.face[3] - self.face[1]))
        side = min(self.side, faces * face_side)
        if side >= self.side:
            return self
        down = np.array([-math.sin(self.rotation), math.cos(self.rotation)])  # crop's y axis
        centre = (self.face[:2] + self.face[2:]) / 2 + down * side / 4
        return Roi(centre=centre, side=side, rotation=self.rotation, score=self.score,
                   face=self.face)

    def clipped(self, width: int, height: int) -> Roi:
        """This region shrunk to the square around its part inside the photo (a person
        seen to the waist has the hidden legs' share of the crop left out), keeping its
        rotation; unchanged when it lies inside."""
        half = self.side / 2 * (abs(math.cos(self.rotation)) + abs(math.sin(self.rotation)))
        x0, y0 = np.maximum(self.centre - half, 0)
        x1, y1 = np.minimum(self.centre + half, (width, height))
        if x1 <= x0 or y1 <= y0:
            return self
        shrink = min(1.0, max(x1 - x0, y1 - y0) / (2 * half))
        return Roi(centre=np.array([(x0 + x1) / 2, (y0 + y1) / 2]), side=self.side * shrink,
                   rotation=self.rotation, score=self.score, face=self.face)


def roi_of(detection: Detection, scale: float = ROI_SCALE) -> Roi:
    """MediaPipe's landmark ROI for a detection in photo pixels."""
    hip, body = detection.keypoints[0], detection.keypoints[1]
    radius = float(np.linalg.norm(body - hip))
    angle = math.pi / 2 - math.atan2(-(body[1] - hip[1]), body[0] - hip[0])
    angle = (angle + math.pi) % (2 * math.pi) - math.pi
    return Roi(centre=hip.astype(np.float64), side=2 * radius * scale, rotation=angle,
               score=detection.score, face=detection.box.astype(np.float64))


def tiles(width: int, height: int, fraction: float = TILE_FRACTION,
          overlap: float = TILE_OVERLAP) -> list[tuple[int, int, int, int]]:
    """Overlapping square tiles (x0, y0, x1, y1) of ``fraction`` of the shorter side,
    stepping by ``1 - overlap`` of their side and reaching every edge; none where they
    would be smaller than MIN_TILE pixels."""
    side = round(fraction * min(width, height))
    if side < MIN_TILE:
        return []
    step = max(1, round(side * (1 - overlap)))

    def starts(length: int) -> list[int]:
        last = max(0, length - side)
        return sorted({*range(0, last, step), last})

    return [(x, y, x + side, y + side) for y in starts(height) for x in starts(width)]


def merge(detections: list[Detection], threshold: float = MERGE_IOU) -> list[Detection]:
    """Detections from overlapping windows (photo pixels) as one per person, best first.

    A window that cuts a person's body makes the detector guess the hidden part, so
    detections seen whole come first, then by score; one whose face box overlaps a kept
    one by more than ``threshold`` IoU, or whose hip centre lies close to a kept one's at
    nearly the same body size with its face inside the kept face box, is that person again.
    """
    kept: list[Detection] = []
    for d in sorted(detections, key=lambda d: (not d.whole, -d.score)):
        if kept and iou(d.box, np.array([k.box for k in kept])).max() > threshold:
            continue
        if not any(_same_body(d, k) for k in kept):
            kept.append(d)
    return sorted(kept, key=lambda d: -d.score)


def _same_body(d: Detection, other: Detection) -> bool:
    radius = np.linalg.norm(d.keypoints[1] - d.keypoints[0])
    other_radius = np.linalg.norm(other.keypoints[1] - other.keypoints[0])
    close = np.linalg.norm(d.keypoints[0] - other.keypoints[0]) < 0.25 * other_radius
    face_inside = (other.box[0] <= (d.box[0] + d.box[2]) / 2 <= other.box[2]
                   and other.box[1] <= (d.box[1] + d.box[3]) / 2 <= other.box[3])
    return bool(close and face_inside and 0.6 < radius / max(other_radius, 1e-9) < 1.6)


def _inside_window(d: Detection, window: tuple[int, int, int, int],
                   size: tuple[int, int]) -> bool:
    """Whether the window holds the detection's full-body circle (the photo's own edges
    do not count as cuts)."""
    radius = np.linalg.norm(d.keypoints[1] - d.keypoints[0])
    (x, y), (x0, y0, x1, y1) = d.keypoints[0], window
    return ((x0 == 0 or x - radius >= x0) and (y0 == 0 or y - radius >= y0)
            and (x1 == size[0] or x + radius <= x1) and (y1 == size[1] or y + radius <= y1))


class PersonDetector:
    """BlazePose's person detector on a photo's whole and its tiles (see module doc)."""

    def __init__(self, threads: int = 1) -> None:
        from ai_edge_litert.interpreter import Interpreter  # only when people are searched

        self._net = Interpreter(model_path=str(model_path()), num_threads=threads)
        self._net.allocate_tensors()
        self._input = self._net.get_input_details()[0]["index"]
        outputs = sorted(self._net.get_output_details(), key=lambda o: -o["shape"][-1])
        self._raw, self._logits = outputs[0]["index"], outputs[1]["index"]

    def run(self, square: np.ndarray, min_score: float = MIN_SCORE) -> list[Detection]:
        """Detections in an RGB uint8 image, letterboxed to the input; coordinates are
        pixels of ``square``'s own frame."""
        h, w = square.shape[:2]
        side = max(h, w)
        scale = INPUT_SIZE / side
        nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
        x0, y0 = (INPUT_SIZE - nw) // 2, (INPUT_SIZE - nh) // 2
        tensor = np.zeros((INPUT_SIZE, INPUT_SIZE, 3), np.float32)
        small = cv2.resize(square, (nw, nh), interpolation=cv2.INTER_AREA if scale < 1
                           else cv2.INTER_LINEAR)
        tensor[y0:y0 + nh, x0:x0 + nw] = small.astype(np.float32) / 127.5 - 1.0
        self._net.set_tensor(self._input, tensor[None])
        self._net.invoke()
        found = decode(self._net.get_tensor(self._raw)[0], self._net.get_tensor(self._logits)[0],
                       _anchors(), min_score)
        offset, to_pixels = np.array([x0, y0]) / INPUT_SIZE, INPUT_SIZE / scale
        for d in found:
            d.box = (d.box - np.tile(offset, 2)) * to_pixels
            d.keypoints = (d.keypoints - offset) * to_pixels
        return found

    def detect(self, image: np.ndarray) -> list[Detection]:
        """Everyone the detector sees in RGB uint8 ``image``: the whole photo and its tiles,
        merged (photo pixels, best first)."""
        height, width = image.shape[:2]
        found = weighted_nms(self.run(image))
        for x0, y0, x1, y1 in tiles(width, height):
            if (x1 - x0, y1 - y0) == (width, height):
                continue
            for d in weighted_nms(self.run(image[y0:y1, x0:x1], TILE_SCORE)):
                d.box = d.box + np.array([x0, y0, x0, y0])
                d.keypoints = d.keypoints + np.array([x0, y0])
                d.whole = _inside_window(d, (x0, y0, x1, y1), (width, height))
                found.append(d)
        return merge(found)

    def rois(self, image: np.ndarray) -> list[Roi]:
        """Landmark regions of everyone :meth:`detect` finds, best first."""
        return [roi_of(d) for d in self.detect(image)]
