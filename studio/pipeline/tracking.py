"""Who is who across frames: each person found in a frame gets the id of the track whose
box it overlaps most, so a recording follows the same person when several are in view.

People are matched to tracks by box IoU with an optimal assignment (Hungarian), each
track's box pushed ahead by its last motion first, so two people walking past each other
keep their ids. A person nobody matches starts a new track; a track unmatched for more
than ``max_missed`` frames is retired and its id never reused.

:class:`TrackedPerson` is what a tracked person leaves per frame: plain arrays a session
records and a smoother filters.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linear_sum_assignment

from studio.pipeline.crops import ImageCamera
from studio.pipeline.results import PersonResult

MIN_IOU = 0.2  # below this overlap a person is someone new, not a track's next step
MAX_MISSED = 5  # frames a track survives unseen (a missed detection, a brief occlusion)


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of every box in ``a`` [N,4] with every box in ``b`` [M,4] (x0, y0, x1, y1)."""
    a = np.asarray(a, np.float64).reshape(-1, 1, 4)
    b = np.asarray(b, np.float64).reshape(1, -1, 4)
    low, high = np.maximum(a[..., :2], b[..., :2]), np.minimum(a[..., 2:], b[..., 2:])
    inter = np.clip(high - low, 0, None).prod(axis=-1)
    a, b = a[:, 0], b[0]
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)


@dataclass
class Track:
    """A person being followed: the last box seen and how it moved."""

    id: int
    box: np.ndarray  # [4] x0, y0, x1, y1
    velocity: np.ndarray = field(default_factory=lambda: np.zeros(4))  # box change per frame
    missed: int = 0  # frames since last seen
    seen: int = 1  # frames seen in all

    def predicted(self) -> np.ndarray:
        """Where the box should be in the coming frame if it keeps moving as it did."""
        return self.box + self.velocity * (self.missed + 1)


class Tracker:
    """Assigns track ids to each frame's people; feed it every frame, empty ones too."""

    def __init__(self, min_iou: float = MIN_IOU, max_missed: int = MAX_MISSED) -> None:
        self.min_iou = min_iou
        self.max_missed = max_missed
        self.tracks: list[Track] = []
        self.retired: list[int] = []  # ids retired by the last update
        self._next_id = 0

    def update(self, boxes: Sequence[Sequence[float]]) -> list[int]:
        """The track id of each of this frame's ``boxes`` (x0, y0, x1, y1), in order."""
        boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
        ids = [-1] * len(boxes)
        matched: set[int] = set()
        if self.tracks and len(boxes):
            iou = box_iou(np.stack([t.predicted() for t in self.tracks]), boxes)
            for row, col in zip(*linear_sum_assignment(-iou)):
                if iou[row, col] >= self.min_iou:
                    track = self.tracks[row]
                    steps = track.missed + 1
                    track.velocity = (boxes[col] - track.box) / steps
                    track.box, track.missed = boxes[col].copy(), 0
                    track.seen += 1
                    ids[col] = track.id
                    matched.add(row)
        for row, track in enumerate(self.tracks):
            if row not in matched:
                track.missed += 1
        self.retired = [t.id for t in self.tracks if t.missed > self.max_missed]
        self.tracks = [t for t in self.tracks if t.missed <= self.max_missed]
        for col, box in enumerate(boxes):
            if ids[col] < 0:
                self.tracks.append(Track(self._next_id, box.copy()))
                ids[col] = self._next_id
                self._next_id += 1
        return ids


def fixed_camera_translation(camera: ImageCamera, image_size: tuple[int, int],
                             focal: float) -> np.ndarray:
    """[3] the body's translation seen by one fixed camera for the whole video (``focal``
    px, principal point at the image centre) instead of its crop's camera, whose focal and
    centre change with every box: the body keeps its place and size on the image, so a
    person walking across the picture moves across this camera's x axis."""
    t = np.asarray(camera.translation, np.float64)
    centre_offset = np.asarray(camera.centre) - np.asarray(image_size, np.float64) / 2.0
    return np.array([*(t[:2] + centre_offset * t[2] / camera.focal),
                     t[2] * focal / camera.focal])


def default_focal(image_size: tuple[int, int]) -> float:
    """A common webcam's focal length in pixels: the image diagonal (about 53 degrees)."""
    return float(np.hypot(*image_size))


@dataclass
class TrackedPerson:
    """One person in one frame: final-iteration parameters and where they were seen."""

    track_id: int
    box: np.ndarray  # [4] x0, y0, x1, y1 image pixels (MediaPipe's extent)
    pose: np.ndarray  # [72] axis-angle, root first
    betas: np.ndarray  # [10]
    cam: np.ndarray  # [3] weak perspective [s, tx, ty] of the crop placing the mesh
    # (MeshIteration.crop_camera: fitted to MediaPipe's landmarks, else the net's)
    translation: np.ndarray  # [3] metres in the fixed camera (fixed_camera_translation)
    keypoints: np.ndarray  # [33,2] the final body's mediapipe33 points on the image
    landmarks: np.ndarray  # [33,2] MediaPipe's landmarks on the image
    visibility: np.ndarray  # [33] MediaPipe's visibility scores
    timings_ms: dict[str, float] = field(default_factory=dict)

    @classmethod
    def from_result(cls, person: PersonResult, track_id: int, image_size: tuple[int, int],
                    focal: float) -> TrackedPerson:
        final = person.final
        return cls(track_id=track_id, box=np.asarray(person.person.extent, np.float32),
                   pose=final.pose.reshape(72).astype(np.float32),
                   betas=final.betas.astype(np.float32),
                   cam=final.crop_camera.astype(np.float32),
                   translation=fixed_camera_translation(final.image_camera, image_size,
                                                        focal).astype(np.float32),
                   keypoints=np.asarray(person.keypoints, np.float32),
                   landmarks=np.asarray(person.person.landmarks, np.float32),
                   visibility=np.asarray(person.person.visibility, np.float32),
                   timings_ms=dict(person.timings_ms))
