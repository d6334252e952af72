"""Finding people with MediaPipe Pose: 33 landmarks, world landmarks and a soft mask each.

Photos (:class:`PersonFinder`): BlazePose's person detector finds everyone at once, on the
whole photo and on overlapping tiles (:mod:`studio.pipeline.person_detector`); MediaPipe
Pose's landmark stage then runs once per person, on a crop turned so that they stand
upright in it, and its landmarks and mask are mapped back to the photo. The detector keys
on faces, so people it misses (facing away) are searched the older way afterwards: found
people are painted over with the photo's mean colour and the photo, then four overlapping
tiles, are searched again until nobody new turns up. Only the "full" landmark model that
the 0.10.21 wheel ships is used (model complexity 1); the other two would be downloaded.
Live streams use MediaPipe's video mode instead, which follows one person from frame to
frame (:class:`TrackingPersonFinder`).
"""
from __future__ import annotations

import atexit
import functools
import os
import time
from dataclasses import dataclass
from typing import Self

import cv2
import numpy as np

from studio.errors import StudioError
from studio.pipeline.images import downscaled
from studio.pipeline.anchors import iou
from studio.pipeline.person_detector import PersonDetector, Roi

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
# The landmark stage's crop, in pixels (MediaPipe's landmark model sees 256 px).
CROP_MIN, CROP_MAX = 256, 512
CROP_FACES = (10, 5)  # crop sides tried, in face-box sides at most (see Roi.capped)
WHOLE_PHOTO = 0.5  # a person whose crop would cover this much of the photo gets the photo
# How far (of the face box's side) the nose of the person the landmark stage finds may lie
# outside the detector's face box; farther, it found a neighbour.
FACE_SLACK = 0.5
# A detected person is real with this many landmarks seen and a confident mask.
MIN_SEEN = 8
# Two finds are one person when the landmarks both see lie this close (median, of height)
SAME_PERSON = 0.1
SAME_MASK = 0.5  # ... or their masks overlap by this IoU


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
    """People in photos: BlazePose's detector for everyone, MediaPipe Pose's landmarks
    per person on an upright crop, and the paint-over search for whom the detector
    missed (see the module doc)."""

    def __init__(self) -> None:
        super().__init__()
        self.detector = PersonDetector()
        self.timings: dict[str, float] = {}  # ms of the last find: detector, landmarks, search

    def find(self, image: np.ndarray, max_people: int = MAX_PEOPLE) -> list[Person]:
        """People in RGB uint8 ``image`` [H,W,3], largest first; may be empty.

        Everyone the detector reports gets the landmark stage (:meth:`_landmarks`) and is
        kept when real (:func:`_real`) and not someone already found (:func:`_same`).
        Then each window of :func:`search_windows` is searched on the photo with the
        found people painted over, until it yields nobody new: such a find must have a
        confident mask, stand upright, must not lie on someone already found, and in a
        tile must not touch the tile's inner edges (someone cut by the tile is found
        whole in another window). Only with nobody found before is MediaPipe's first
        answer on the whole photo trusted that far, and only when real.
        """
        height, width = image.shape[:2]
        work = downscaled(image, DETECT_MAX_SIDE).copy()
        start = time.perf_counter()
        rois = self.detector.rois(work) if max_people > 0 else []
        detected = time.perf_counter()
        people: list[Person] = []
        for roi in rois:
            if any(_covers(p, roi.face) for p in people):
                continue  # a face the detector saw on someone found: their eyes, a hand
            person = self._landmarks(work, roi, rois, (width, height))
            if person is not None and not any(_same(person, p) for p in people):
                people.append(person)
        people = sorted(people, key=lambda p: -p.area)[:max_people]
        landmarked = time.perf_counter()
        self._search(work, people, max_people, (width, height))
        self.timings = {"detector": 1000 * (detected - start),
                        "landmarks": 1000 * (landmarked - detected),
                        "search": 1000 * (time.perf_counter() - landmarked),
                        "detections": float(len(rois))}
        return sorted(people, key=lambda p: -p.area)

    def _search(self, work: np.ndarray, people: list[Person], max_people: int,
                image_size: tuple[int, int]) -> None:
        """The paint-over search, adding to ``people`` (see :meth:`find`)."""
        scale = np.array([work.shape[1] / image_size[0], work.shape[0] / image_size[1]])
        fill = work.reshape(-1, 3).mean(axis=0).astype(np.uint8)
        erased = np.zeros(work.shape[:2], bool)
        for person in people:
            region = _cover(person, image_size)
            erased |= region
            work[region] = fill
        windows = search_windows(work.shape[1], work.shape[0])
        for window in windows:
            while len(people) < max_people:
                person = self._detect(work, window, image_size)
                if person is None:
                    break
                trusted = not people and window == windows[0] and _real(person)
                if not trusted and not _plausible(person, people, erased, window, work.shape,
                                                  scale):
                    break
                people.append(person)
                region = _cover(person, image_size)
                erased |= region
                work[region] = fill

    def _detect(self, work: np.ndarray, window: tuple[int, int, int, int],
                image_size: tuple[int, int]) -> Person | None:
        """MediaPipe's person in ``window`` of the detection image, in full-image terms."""
        x0, y0, x1, y1 = window
        result = self._pose.process(np.ascontiguousarray(work[y0:y1, x0:x1]))
        return _person(result, window, work.shape, image_size)

    def _landmarks(self, work: np.ndarray, roi: Roi, rois: list[Roi],
                   image_size: tuple[int, int]) -> Person | None:
        """The landmark stage for one detection: on the whole photo where the person's
        region covers most of it (as the photo is, unturned and unresampled), else on
        their crop; where that finds nobody or a neighbour, on the crop with the other
        detections' faces painted over (MediaPipe's detector keys on faces), then on a
        closer crop the same two ways."""
        h, w = work.shape[:2]
        region = roi.capped(CROP_FACES[0]).clipped(w, h)
        if region.side ** 2 >= WHOLE_PHOTO * w * h:
            person = _person(self._pose.process(work), (0, 0, w, h), work.shape, image_size)
            if person is not None and _has_face(person, roi, work.shape, image_size) \
                    and _real(person):
                return person
        painted = None
        for faces_across in CROP_FACES:
            region = roi.capped(faces_across).clipped(w, h)
            person = self._crop_landmarks(work, region, image_size)
            if person is None or not _real(person):
                if painted is None:
                    painted = _faces_painted(work, roi, rois)
                person = self._crop_landmarks(painted, region, image_size)
            if person is not None and _real(person):
                return person
        return None

    def _crop_landmarks(self, work: np.ndarray, roi: Roi, image_size: tuple[int, int]
                        ) -> Person | None:
        """MediaPipe Pose on the upright crop of ``roi`` (detection-image pixels), mapped
        back to the photo; None when it finds nobody, or someone whose nose is not in the
        detector's face box (a neighbour)."""
        size = int(np.clip(round(roi.side), CROP_MIN, CROP_MAX))
        affine = roi.affine(size)
        crop = cv2.warpAffine(work, affine, (size, size), flags=cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_CONSTANT)
        result = self._pose.process(crop)
        if result.pose_landmarks is None:
            return None
        points = result.pose_landmarks.landmark
        in_crop = np.array([[p.x, p.y] for p in points]) * size
        back = cv2.invertAffineTransform(affine)
        in_work = in_crop @ back[:, :2].T + back[:, 2]
        if not _in_face(in_work[0], roi.face):
            return None
        landmarks = in_work * (np.array(image_size) / np.array(work.shape[1::-1]))
        visibility = np.array([p.visibility for p in points], np.float64)
        c, s = np.cos(roi.rotation), np.sin(roi.rotation)
        world = np.array([[p.x, p.y, p.z] for p in result.pose_world_landmarks.landmark])
        world[:, :2] = world[:, :2] @ np.array([[c, s], [-s, c]])  # crop axes -> photo axes
        mask = np.zeros(work.shape[:2], np.float32)
        if result.segmentation_mask is not None:
            mask = cv2.warpAffine(result.segmentation_mask.astype(np.float32), back,
                                  (work.shape[1], work.shape[0]), flags=cv2.INTER_LINEAR,
                                  borderMode=cv2.BORDER_CONSTANT)
        extent = _extent(mask, landmarks, visibility, image_size)
        if extent is None:
            return None
        return Person(landmarks=landmarks, visibility=visibility, world_landmarks=world,
                      mask=mask, extent=extent)


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


def _in_face(nose: np.ndarray, face: np.ndarray) -> bool:
    """Whether a nose (detection-image pixels) lies in the detector's face box, grown by
    FACE_SLACK of its side: the landmark stage found the detected person, not a neighbour."""
    pad = FACE_SLACK * max(face[2] - face[0], face[3] - face[1])
    return bool(face[0] - pad <= nose[0] <= face[2] + pad
                and face[1] - pad <= nose[1] <= face[3] + pad)


def _has_face(person: Person, roi: Roi, work_shape: tuple[int, ...],
              image_size: tuple[int, int]) -> bool:
    """:func:`_in_face` for a person in photo coordinates."""
    return _in_face(person.landmarks[0] * np.array(work_shape[1::-1]) / np.array(image_size),
                    roi.face)


def _covers(person: Person, face: np.ndarray) -> bool:
    """Whether a detected face box's centre lies on a found person's mask."""
    x, y = (face[:2] + face[2:]) / 2
    h, w = person.mask.shape
    return bool(0 <= x < w and 0 <= y < h and person.mask[int(y), int(x)] >= MASK_THRESHOLD)


def _faces_painted(work: np.ndarray, roi: Roi, rois: list[Roi]) -> np.ndarray:
    """The detection image with every other detection's face painted over (a face box
    overlapping ``roi``'s is this face found twice and stays)."""
    painted = work.copy()
    fill = work.reshape(-1, 3).mean(axis=0).astype(np.uint8)
    for other in rois:
        if iou(other.face, roi.face[None])[0] == 0:
            _paint_box(painted, other.face, fill)
    return painted


def _paint_box(image: np.ndarray, box: np.ndarray, fill: np.ndarray) -> None:
    """Paint ``box`` (x0, y0, x1, y1, grown by a tenth) over with ``fill``, in place."""
    grow = 0.1 * (box[2:] - box[:2])
    x0, y0 = np.maximum(np.floor(box[:2] - grow), 0).astype(int)
    x1, y1 = np.ceil(box[2:] + grow).astype(int)
    image[y0:max(y0, y1), x0:max(x0, x1)] = fill


def _real(person: Person) -> bool:
    """Enough landmarks seen and a confident mask: not a phantom on a detector's false hit."""
    body = person.mask >= MASK_THRESHOLD
    return bool((person.visibility >= VISIBLE).sum() >= MIN_SEEN and body.any()
                and person.mask[person.mask > 0.05].mean() >= MASK_CONFIDENCE)


def _same(person: Person, other: Person) -> bool:
    """Whether two finds are one person: the landmarks both see nearly coincide, or
    their masks mostly overlap."""
    height = max(person.extent[3] - person.extent[1], other.extent[3] - other.extent[1], 1.0)
    both = (person.visibility >= VISIBLE) & (other.visibility >= VISIBLE)
    if both.sum() >= 3:
        gap = np.median(np.linalg.norm(person.landmarks[both] - other.landmarks[both], axis=1))
        if gap < SAME_PERSON * height:
            return True
    a, b = person.mask >= MASK_THRESHOLD, other.mask >= MASK_THRESHOLD
    union = (a | b).sum()
    return bool(union and (a & b).sum() > SAME_MASK * union)


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
