"""SSD anchors, box decoding and weighted non-maximum suppression for BlazePose's person
detector, written from the options of MediaPipe's pose detection graph.

The detector answers per anchor: a face box (x, y, w, h offsets from the anchor) and four
alignment keypoints (hip centre, a point on the full-body circle, shoulder centre, a point
on the upper-body circle), plus a score logit. Everything here is in coordinates
normalised to the detector's square input, [0, 1] across.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

INPUT_SIZE = 224
# MediaPipe's SsdAnchorsCalculator options for pose_detection (224 px model).
MIN_SCALE, MAX_SCALE = 0.1484375, 0.75
STRIDES = (8, 16, 32, 32, 32)
ANCHOR_OFFSET = 0.5
NUM_KEYPOINTS = 4
SCORE_CLIP = 100.0
MIN_SCORE = 0.5
NMS_IOU = 0.3


@dataclass
class Detection:
    """One person the detector saw: ``box`` (x0, y0, x1, y1, of the face) and
    ``keypoints`` [4,2] in one coordinate frame (normalised input or photo pixels);
    ``whole`` is False where the window it was found in cuts its full-body circle."""

    box: np.ndarray
    keypoints: np.ndarray
    score: float
    whole: bool = True


def ssd_anchors(input_size: int = INPUT_SIZE, strides: tuple[int, ...] = STRIDES,
                min_scale: float = MIN_SCALE, max_scale: float = MAX_SCALE) -> np.ndarray:
    """Anchor centres [N,2] (x, y) in the order the model emits them.

    Layers that share a stride share one feature map; each layer adds two anchors per
    cell (aspect ratio 1 at its scale, and one at the geometric mean of its scale and the
    next: an interpolated scale). The anchors have a fixed size of 1, so only the centres
    and their count per cell matter.
    """
    centres = []
    layer = 0
    while layer < len(strides):
        per_cell = 0
        last = layer
        while last < len(strides) and strides[last] == strides[layer]:
            per_cell += 2
            last += 1
        side = -(-input_size // strides[layer])  # ceil
        ys, xs = np.meshgrid(np.arange(side), np.arange(side), indexing="ij")
        cell = np.stack([(xs + ANCHOR_OFFSET) / side, (ys + ANCHOR_OFFSET) / side], -1)
        centres.append(np.repeat(cell.reshape(-1, 2), per_cell, axis=0))
        layer = last
    return np.concatenate(centres).astype(np.float32)


def decode(raw: np.ndarray, logits: np.ndarray, anchors: np.ndarray,
           min_score: float = MIN_SCORE, input_size: int = INPUT_SIZE) -> list[Detection]:
    """The detector's raw outputs ([N,12] boxes and keypoints, [N] or [N,1] logits) as
    detections scoring at least ``min_score``, in normalised input coordinates."""
    scores = 1.0 / (1.0 + np.exp(-np.clip(logits.reshape(-1).astype(np.float64), -SCORE_CLIP,
                                              SCORE_CLIP)))
    keep = np.flatnonzero(scores >= min_score)
    # [k, 6, 2]: box centre, box size, 4 keypoints
    values = raw[keep].reshape(len(keep), 2 + NUM_KEYPOINTS, 2) / input_size
    centres = anchors[keep][:, None, :]
    centre, size = values[:, 0] + centres[:, 0], values[:, 1]
    points = values[:, 2:2 + NUM_KEYPOINTS] + centres
    boxes = np.concatenate([centre - size / 2, centre + size / 2], axis=1)
    return [Detection(box=boxes[i], keypoints=points[i], score=float(scores[k]))
            for i, k in enumerate(keep)]


def iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Intersection over union of ``box`` (x0, y0, x1, y1) with each row of ``boxes``."""
    w = np.clip(np.minimum(box[2], boxes[:, 2]) - np.maximum(box[0], boxes[:, 0]), 0, None)
    h = np.clip(np.minimum(box[3], boxes[:, 3]) - np.maximum(box[1], boxes[:, 1]), 0, None)
    inter = w * h
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    return inter / np.maximum(area + areas - inter, 1e-12)


def weighted_nms(detections: list[Detection], threshold: float = NMS_IOU) -> list[Detection]:
    """MediaPipe's weighted non-maximum suppression: the best remaining detection gathers
    every one whose box overlaps it by more than ``threshold`` IoU; the group becomes one
    detection with the score-weighted mean box and keypoints and the best one's score.
    Best first."""
    remaining = sorted(detections, key=lambda d: -d.score)
    merged = []
    while remaining:
        boxes = np.array([d.box for d in remaining])
        group = iou(remaining[0].box, boxes) > threshold
        group[0] = True
        members = [d for d, g in zip(remaining, group) if g]
        weights = np.array([d.score for d in members])
        weights = weights / weights.sum()
        merged.append(Detection(
            box=np.einsum("k,kc->c", weights, np.array([d.box for d in members])),
            keypoints=np.einsum("k,kpc->pc", weights, np.array([d.keypoints for d in members])),
            score=remaining[0].score))
        remaining = [d for d, g in zip(remaining, group) if not g]
    return merged
