"""Finding people with MediaPipe Pose: 33 landmarks, world landmarks and a soft mask each.

MediaPipe Pose reports one person per call, so several people are found one after the
other: each found person is painted over with the photo's mean colour and the photo is
searched again, until nobody new turns up; then four overlapping tiles are searched the
same way, where small people look larger to MediaPipe's detector. Only the "full"
landmark model that the 0.10.21 wheel ships is used (model complexity 1); the other two
would be downloaded. Live streams use MediaPipe's video mode instead, which follows one
person from frame to frame (:class:`TrackingPersonFinder`).
"""
from __future__ import annotations

import atexit
import functools
import os
from dataclasses import dataclass
from typing import Self

import cv2
import numpy as np

from studio.errors import StudioError
from studio.pipeline.images import downscaled

DETECT_MAX_SIDE = 1280  # larger photos are searched downscaled (landmarks stay exact)
MAX_PEOPLE = 5
VISIBLE = 0.5  # a landmark with this visibility or more counts as seen
MASK_THRESHOLD = 0.5
# A "new" person lying mostly on a painted-over one, or mostly inside a found person's
# extent, is (a leftover of) that person found again.
REPEAT_OVERLAP = 0.5
# Mean soft-mask value over a detection's mask; real people score 0.88-0.95 here, phantom
# people MediaPipe sees in painted-over photos (a model rocket: 0.68) score lower.
MASK_CONFIDENCE = 0.8
TILE = 0.6


class NoPersonFound(StudioError):
    """The photo was read but nobody is in it; exit status 4 tells scripts apart."""

    exit_code = 4


@dataclass
class Person:
    """One person as MediaPipe Pose saw them, in full-image coordinates (see crops.py)."""

    landmarks: np.ndarray  # [33,2] image coordinates, mediapipe33 order
    visibility: np.ndarray  # [33] MediaPipe's visibility scores in [0, 1]
    world_landmarks: np.ndarray  # [33,3] metres, hip-centred, MediaPipe's axes (y down)
    mask: np.ndarray  # [h,w] float32 soft mask over the whole (detection-sized) image
    extent: tuple[float, float, float, float]  # x0, y0, x1, y1: mask and seen landmarks

    @property
    def area(self) -> float:
        """Area of the extent in image pixels: what people are sorted by."""
        x0, y0, x1, y1 = self.extent
        return (x1 - x0) * (y1 - y0)


def _extent(mask: np.ndarray, landmarks: np.ndarray, visibility: np.ndarray,
            image_size: tuple[int, int]) -> tuple[float, float, float, float] | None:
    """Bounding box of the mask united with that of the seen landmarks; None if neither."""
    boxes = []
    inside = mask >= MASK_THRESHOLD
    rows = np.flatnonzero(inside.any(axis=1))  # a fifth of the time of np.nonzero(inside)
    if rows.size:
        cols = np.flatnonzero(inside.any(axis=0))
        sx, sy = image_size[0] / mask.shape[1], image_size[1] / mask.shape[0]
        boxes.append((cols[0] * sx, rows[0] * sy, (cols[-1] + 1) * sx, (rows[-1] + 1) * sy))
    seen = landmarks[visibility >= VISIBLE]
    if len(seen):
        boxes.append((*seen.min(axis=0), *seen.max(axis=0)))
    if not boxes:
        return None
    b = np.array(boxes, np.float64)
    return (float(b[:, 0].min()), float(b[:, 1].min()), float(b[:, 2].max()),
            float(b[:, 3].max()))


def search_windows(width: int, height: int) -> list[tuple[int, int, int, int]]:
    """Image regions (x0, y0, x1, y1) searched in turn: the whole image, then four
    overlapping corner tiles of 60% of each side, where MediaPipe's 224 px detector
    sees small people twice as large."""
    tw, th = round(TILE * width), round(TILE * height)
    tiles = [(x, y, x + tw, y + th) for y in (0, height - th) for x in (0, width - tw)]
    return [(0, 0, width, height), *tiles]


class _PoseGraph:
    """One MediaPipe Pose graph (slow to make), kept and reused; close it when done (or
    use the finder as a context manager). Only the "full" landmark model that the wheel
    ships is asked for (model complexity 1); the others would be downloaded."""

    static_image_mode = True

    def __init__(self) -> None:
        self._pose = self._make_pose()

    def _make_pose(self) -> object:
        os.environ.setdefault("GLOG_minloglevel", "2")  # MediaPipe's info lines, not errors
        from mediapipe.python.solutions import pose  # slow import, only when needed

        return pose.Pose(static_image_mode=self.static_image_mode, model_complexity=1,
                         enable_segmentation=True)

    def close(self) -> None:
        """Free MediaPipe's graph; the finder cannot be used afterwards."""
        self._pose.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


class PersonFinder(_PoseGraph):
    """People in photos: MediaPipe Pose on single images, searched several times."""

    def find(self, image: np.ndarray, max_people: int = MAX_PEOPLE) -> list[Person]:
        """People in RGB uint8 ``image`` [H,W,3], largest first; may be empty.

        Each window of :func:`search_windows` is searched until it yields nobody new.
        MediaPipe's first answer on the whole image is trusted; later ones must have a
        confident mask (phantoms on painted-over photos have soft, doubtful ones), stand
        upright, must not lie on someone already found, and in a tile must not touch the
        tile's inner edges (someone cut by the tile is found whole in another window).
        """
        height, width = image.shape[:2]
        work = downscaled(image, DETECT_MAX_SIDE).copy()
        scale = np.array([work.shape[1] / width, work.shape[0] / height])
        fill = work.reshape(-1, 3).mean(axis=0).astype(np.uint8)
        erased = np.zeros(work.shape[:2], bool)
        people: list[Person] = []
        windows = search_windows(work.shape[1], work.shape[0])
        for window in windows:
            while len(people) < max_people:
                person = self._detect(work, window, (width, height))
                if person is None:
                    break
                trusted = not people and window == windows[0]
                if not trusted and not _plausible(person, people, erased, window, work.shape,
                                                  scale):
                    break
                people.append(person)
                region = _cover(person, (width, height))
                erased |= region
                work[region] = fill
        return sorted(people, key=lambda p: -p.area)

    def _detect(self, work: np.ndarray, window: tuple[int, int, int, int],
                image_size: tuple[int, int]) -> Person | None:
        """MediaPipe's person in ``window`` of the detection image, in full-image terms."""
        x0, y0, x1, y1 = window
        result = self._pose.process(np.ascontiguousarray(work[y0:y1, x0:x1]))
        return _person(result, window, work.shape, image_size)


class TrackingPersonFinder(_PoseGraph):
    """MediaPipe Pose in its video mode, for live streams: it follows one person from
    frame to frame, running its person detector only when it lost them, which makes a
    frame about four times cheaper than :class:`PersonFinder`'s search (24 against
    94 ms for a 640x480 frame on one core). Frames must come in order; :meth:`reset`
    before another stream."""

    static_image_mode = False

    def reset(self) -> None:
        """Forget the followed person (a new stream starts)."""
        self._pose.close()
        self._pose = self._make_pose()

    def find(self, image: np.ndarray, max_people: int = 1) -> list[Person]:
        """The followed person in the next frame, RGB uint8 [H,W,3]; empty if nobody is
        there. ``max_people`` is accepted for :class:`PersonFinder`'s signature; MediaPipe
        follows one person."""
        if max_people < 1:
            return []
        height, width = image.shape[:2]
        work = np.ascontiguousarray(downscaled(image, DETECT_MAX_SIDE))
        window = (0, 0, work.shape[1], work.shape[0])
        person = _person(self._pose.process(work), window, work.shape, (width, height))
        return [] if person is None else [person]


def _person(result: object, window: tuple[int, int, int, int], work_shape: tuple[int, ...],
            image_size: tuple[int, int]) -> Person | None:
    """A MediaPipe Pose answer for ``window`` of the detection image as a :class:`Person`
    in full-image coordinates; None when it found nobody (or nothing of them)."""
    if result.pose_landmarks is None:
        return None
    x0, y0, x1, y1 = window
    points = result.pose_landmarks.landmark
    in_window = np.array([[p.x * (x1 - x0) + x0, p.y * (y1 - y0) + y0] for p in points])
    landmarks = in_window * (np.array(image_size) / np.array(work_shape[1::-1]))
    visibility = np.array([p.visibility for p in points], np.float64)
    world = np.array([[p.x, p.y, p.z] for p in result.pose_world_landmarks.landmark],
                     np.float64)
    mask = np.zeros(work_shape[:2], np.float32)
    if result.segmentation_mask is not None:
        mask[y0:y1, x0:x1] = result.segmentation_mask
    extent = _extent(mask, landmarks, visibility, image_size)
    if extent is None:
        return None
    return Person(landmarks=landmarks, visibility=visibility, world_landmarks=world,
                  mask=mask, extent=extent)


def _inside_fraction(inner: tuple[float, ...], outer: tuple[float, ...]) -> float:
    """How much of box ``inner`` (x0, y0, x1, y1) lies in box ``outer``."""
    w = max(0.0, min(inner[2], outer[2]) - max(inner[0], outer[0]))
    h = max(0.0, min(inner[3], outer[3]) - max(inner[1], outer[1]))
    area = (inner[2] - inner[0]) * (inner[3] - inner[1])
    return w * h / area if area > 0 else 1.0


def _upright(person: Person) -> bool:
    """Nose above the shoulders, and shoulders above the hips where the hips are seen.

    Phantoms in painted-over photos are often upside down; so, rarely, are real people
    (a handstand), who are then only found when they are MediaPipe's first answer.
    """
    y, seen = person.landmarks[:, 1], person.visibility >= VISIBLE
    shoulders, hips = (y[11] + y[12]) / 2, (y[23] + y[24]) / 2
    return y[0] < shoulders and (not seen[[23, 24]].all() or shoulders < hips)


def _plausible(person: Person, found: list[Person], erased: np.ndarray,
               window: tuple[int, int, int, int], work_shape: tuple[int, ...],
               scale: np.ndarray) -> bool:
    """Whether a detection after the first is a new, real person (see PersonFinder.find)."""
    body = person.mask >= MASK_THRESHOLD
    if not body.any() or person.mask[person.mask > 0.05].mean() < MASK_CONFIDENCE:
        return False
    if not _upright(person):
        return False
    if (body & erased).sum() > REPEAT_OVERLAP * body.sum() or any(
            _inside_fraction(person.extent, other.extent) > REPEAT_OVERLAP for other in found):
        return False
    x0, y0, x1, y1 = np.array(person.extent) * np.tile(scale, 2)
    h, w = work_shape[:2]
    wx0, wy0, wx1, wy1 = window
    return not ((wx0 > 0 and x0 <= wx0 + 2) or (wy0 > 0 and y0 <= wy0 + 2)
                or (wx1 < w and x1 >= wx1 - 2) or (wy1 < h and y1 >= wy1 - 2))


def _cover(person: Person, image_size: tuple[int, int]) -> np.ndarray:
    """Detection-image pixels to paint over so that this person is not found again: the
    mask and the hull of the seen landmarks, grown by 5% of the person's extent."""
    h, w = person.mask.shape
    region = (person.mask >= 0.25).astype(np.uint8)
    scale = np.array([w / image_size[0], h / image_size[1]])
    seen = person.landmarks[person.visibility >= VISIBLE] * scale
    if len(seen) >= 3:
        cv2.fillConvexPoly(region, cv2.convexHull(seen.astype(np.int32)), 1)
    x0, y0, x1, y1 = person.extent
    grow = max(1, round(0.05 * max(x1 - x0, y1 - y0) * scale.max()))
    region = cv2.dilate(region, np.ones((2 * grow + 1, 2 * grow + 1), np.uint8))
    return region.astype(bool)


@functools.cache
def shared_finder() -> PersonFinder:
    """The process's one finder, closed when the interpreter exits."""
    finder = PersonFinder()
    atexit.register(finder.close)
    return finder
