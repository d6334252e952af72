"""Frame sources for live capture: a webcam, a video file or a folder of images, behind
one interface, so the capture loop and the GUI's worker never care which one they read.

A damaged frame is skipped and counted in ``skipped``, never fatal: one bad JPEG in a
folder or one undecodable packet in a video must not end a long recording. A source that
stops delivering in the middle (a webcam unplugged, a video file cut short) raises
:class:`SourceLost`, which callers tell apart from the normal end of a file (``read``
returning None).

Reading is two steps, as OpenCV's: :meth:`FrameSource.grab` takes the next frame off
the source (cheap) and :meth:`FrameSource.retrieve` decodes it (most of a read's time:
1.0 of 1.2 ms for a 640x480 MJPEG video). A live stream grabs every frame at the
source's pace, so the camera's buffer never fills with stale frames, but decodes only
the frames the worker takes, about half of them.
"""
from __future__ import annotations

import re
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from studio.errors import StudioError
from studio.pipeline.images import read_image

DEFAULT_FPS = 30.0  # when a container or camera does not say, and for image folders
DEFAULT_RESOLUTION = (640, 480)  # what webcams are asked for unless told otherwise
LOST_AFTER = 10  # consecutive failed reads that mean the source is gone, not one bad frame
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")
SOURCE_FORMS = "webcam:N, video:PATH or folder:PATH"
TEXT_FOURCC = int.from_bytes(b"ansi", "little")  # FFmpeg's codec for text shown as video


class SourceLost(StudioError):
    """The source stopped delivering frames before its end (camera unplugged, file cut
    short or removed); exit status 5 tells scripts this apart from bad input."""

    exit_code = 5


@dataclass
class Frame:
    """One picture from a source."""

    index: int  # position in the stream; skipped frames leave gaps
    timestamp: float  # seconds: stream time for files, time since opening for a webcam
    image: np.ndarray  # [H,W,3] RGB uint8


class FrameSource(ABC):
    """Open, read frames until ``read`` returns None, close; or use ``with`` and iterate.

    ``fps``, ``size`` (width, height) and ``frame_count`` (None when unbounded or unknown)
    are valid after ``open``; ``skipped`` counts damaged frames left out so far. Sources
    implement :meth:`grab` and :meth:`retrieve`; ``read`` is both, damaged frames passed
    over.
    """

    description: str
    fps: float = DEFAULT_FPS
    size: tuple[int, int] = (0, 0)
    frame_count: int | None = None

    def __init__(self) -> None:
        self.skipped = 0

    @abstractmethod
    def open(self) -> None:
        """Start the source; raises StudioError when it cannot be opened."""

    @abstractmethod
    def grab(self) -> bool:
        """Take the next frame off the source without decoding it; False at the end of
        the stream; raises SourceLost. A grabbed frame not retrieved is dropped by the
        next grab."""

    @abstractmethod
    def retrieve(self) -> Frame | None:
        """The frame grabbed last, decoded; None when it is damaged (counted in
        ``skipped``). Call at most once per grab."""

    def read(self) -> Frame | None:
        """The next good frame, or None at the end of the stream; raises SourceLost."""
        while self.grab():
            frame = self.retrieve()
            if frame is not None:
                return frame
        return None

    @abstractmethod
    def close(self) -> None:
        """Release the device or file; safe to call twice."""

    def __enter__(self) -> FrameSource:
        self.open()
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def __iter__(self) -> Iterator[Frame]:
        while (frame := self.read()) is not None:
            yield frame


def bgr_to_rgb(picture: np.ndarray | None) -> np.ndarray | None:
    """An OpenCV frame (BGR, BGRA or grey, uint8) as RGB uint8; None if it is not a
    usable picture (missing, empty or of another type), i.e. a damaged frame."""
    if picture is None or picture.dtype != np.uint8 or picture.size == 0:
        return None
    if picture.ndim == 2:
        return cv2.cvtColor(picture, cv2.COLOR_GRAY2RGB)
    if picture.ndim != 3 or picture.shape[2] not in (3, 4):
        return None
    code = cv2.COLOR_BGR2RGB if picture.shape[2] == 3 else cv2.COLOR_BGRA2RGB
    return cv2.cvtColor(picture, code)


def _retrieve_rgb(cap: Any, grabbed: bool) -> np.ndarray | None:
    """An OpenCV capture's grabbed frame as RGB; None if nothing was grabbed or the
    frame is damaged."""
    if not grabbed:
        return None
    ok, picture = cap.retrieve()
    return bgr_to_rgb(picture) if ok else None


def _rate(value: float) -> float:
    """A capture's reported frame rate, or the default when it reports none (0 or NaN)."""
    return float(value) if np.isfinite(value) and value > 0 else DEFAULT_FPS


CaptureFactory = Callable[[int], Any]  # cv2.VideoCapture, or a stand-in for tests


class WebcamSource(FrameSource):
    """A camera through ``cv2.VideoCapture(index)``, asked for ``resolution`` (the
    camera may pick the nearest it has; ``size`` says what it gave)."""

    def __init__(self, index: int, resolution: tuple[int, int] = DEFAULT_RESOLUTION,
                 capture: CaptureFactory = cv2.VideoCapture) -> None:
        super().__init__()
        self.index = index
        self.resolution = resolution
        self.description = f"webcam {index}"
        self._factory = capture
        self._cap: Any = None
        self._reads = 0
        self._failures = 0
        self._start = 0.0
        self._grabbed: tuple[int, float] | None = None  # index and time of the grabbed frame

    def open(self) -> None:
        cap = self._factory(self.index)
        if not cap.isOpened():
            cap.release()
            raise StudioError(f"{self.description}: cannot open the camera (is it connected "
                              "and not used by another program?)")
        cap.set(cv2.CAP_PROP_FRAME_WIDTH, self.resolution[0])
        cap.set(cv2.CAP_PROP_FRAME_HEIGHT, self.resolution[1])
        self.size = (int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)),
                     int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)))
        self.fps = _rate(cap.get(cv2.CAP_PROP_FPS))
        self._cap, self._reads, self._failures = cap, 0, 0
        self._start = time.monotonic()
        self._grabbed = None

    def grab(self) -> bool:
        """Wait for the camera's next frame; a camera never ends, it can only be lost."""
        if self._cap is None:
            raise StudioError(f"{self.description}: read before open")
        while True:
            ok = self._cap.grab()
            index, self._reads = self._reads, self._reads + 1
            if ok:
                self._grabbed = (index, time.monotonic() - self._start)
                return True
            self._failed()

    def retrieve(self) -> Frame | None:
        grabbed, self._grabbed = self._grabbed, None
        rgb = _retrieve_rgb(self._cap, grabbed is not None)
        if rgb is None:
            self._failed()
            return None
        self._failures = 0
        return Frame(grabbed[0], grabbed[1], rgb)

    def _failed(self) -> None:
        """A glitch (a failed grab or a damaged picture), or a lost camera when
        :data:`LOST_AFTER` come in a row."""
        self.skipped += 1
        self._failures += 1
        if self._failures >= LOST_AFTER:
            raise SourceLost(f"{self.description}: the camera stopped delivering frames "
                             f"({self._failures} failed reads in a row); was it unplugged?")

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None


class VideoSource(FrameSource):
    """A video file; with ``loop`` it starts over at its end, standing in for a camera.

    Timestamps are stream time (index / fps). Reads that fail before the container's
    frame count is reached are damaged frames (skipped) when a good frame follows them;
    :data:`LOST_AFTER` of them in a row mean the file was cut short or removed
    (:class:`SourceLost`); fewer just before the count are the stream's end (containers
    that estimate their frame count from the duration can overstate it a little).
    """

    def __init__(self, path: str | Path, loop: bool = False) -> None:
        super().__init__()
        self.path = Path(path)
        self.loop = loop
        self.description = f"video {self.path}"
        self._cap: cv2.VideoCapture | None = None
        self._length = 0  # the container's frame count; 0 when it does not say
        self._position = 0  # frames consumed in the current pass, damaged ones included
        self._offset = 0  # frames consumed in earlier passes
        self._delivered = 0  # frames delivered in the current pass
        self._failures = 0
        self._grabbed: int | None = None  # the index of the grabbed frame

    def open(self) -> None:
        if not self.path.is_file():
            raise StudioError(f"{self.path}: no such video file")
        cap = cv2.VideoCapture(str(self.path))
        if not cap.isOpened():
            cap.release()
            raise StudioError(f"{self.path}: not a video this studio can decode")
        if int(cap.get(cv2.CAP_PROP_FOURCC)) == TEXT_FOURCC:
            cap.release()  # FFmpeg renders .txt, .nfo, ... files as text "videos"
            raise StudioError(f"{self.path}: not a video (it holds text)")
        self._cap = cap
        self.fps = _rate(cap.get(cv2.CAP_PROP_FPS))
        self.size = (int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)),
                     int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)))
        count = cap.get(cv2.CAP_PROP_FRAME_COUNT)
        self._length = int(count) if np.isfinite(count) and count > 0 else 0
        self.frame_count = None if self.loop or not self._length else self._length
        self._position = self._offset = self._delivered = self._failures = 0
        self._grabbed = None

    def grab(self) -> bool:
        """The next frame (OpenCV decodes a video's packet here and converts it to BGR
        in ``retrieve``); a failed grab before the container's frame count is a damaged
        frame or, many in a row, a file cut short."""
        if self._cap is None:
            raise StudioError(f"{self.description}: read before open")
        while True:
            ok = self._cap.grab()
            self._position += 1
            if ok:
                self.skipped += self._failures  # the failed grabs before it were damaged
                self._failures = 0
                self._delivered += 1
                self._grabbed = self._offset + self._position - 1
                return True
            if self._length and self._position <= self._length:
                self._failures += 1
                if self._failures >= LOST_AFTER:
                    stop = self._position - self._failures
                    raise SourceLost(f"{self.description}: frames stopped at {stop} of "
                                     f"{self._length}; the file was cut short or removed")
                continue
            if not (self.loop and self._delivered):
                return False
            self._rewind()

    def retrieve(self) -> Frame | None:
        index, self._grabbed = self._grabbed, None
        rgb = _retrieve_rgb(self._cap, index is not None)
        if rgb is None:
            self.skipped += 1
            return None
        return Frame(index, index / self.fps, rgb)

    def _rewind(self) -> None:
        """Start the next pass at the first frame."""
        self._offset += self._position - 1  # the failed read past the end is no frame
        self._position = self._delivered = self._failures = 0
        if not self._cap.set(cv2.CAP_PROP_POS_FRAMES, 0):
            self._cap.release()
            self._cap = cv2.VideoCapture(str(self.path))
            if not self._cap.isOpened():
                raise SourceLost(f"{self.description}: the file could not be reopened to loop")

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None


def _natural_key(path: Path) -> list[object]:
    """Sort ``frame2`` before ``frame10``, as numbered frame files are meant."""
    return [int(part) if part.isdigit() else part.lower()
            for part in re.split(r"(\d+)", path.name)]


class FolderSource(FrameSource):
    """The image files in a folder, in natural name order, at a nominal ``fps``; files
    that cannot be decoded are skipped and counted."""

    def __init__(self, folder: str | Path, fps: float = DEFAULT_FPS) -> None:
        super().__init__()
        self.folder = Path(folder)
        self.fps = fps
        self.description = f"folder {self.folder}"
        self._files: list[Path] = []
        self._next = 0  # the file the next grab takes
        self._first: Frame | None = None  # the first frame, decoded by open for its size

    def open(self) -> None:
        if not self.folder.is_dir():
            raise StudioError(f"{self.folder}: no such folder")
        self._files = sorted((p for p in self.folder.iterdir()
                              if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()),
                             key=_natural_key)
        if not self._files:
            raise StudioError(f"{self.folder}: no image files ({', '.join(IMAGE_SUFFIXES)})")
        self.frame_count = len(self._files)
        self._next, self.skipped, self._first = 0, 0, None
        while self._first is None and self.grab():
            self._first = self.retrieve()
        if self._first is None:
            raise StudioError(f"{self.folder}: none of its {len(self._files)} image files "
                              "could be read")
        height, width = self._first.image.shape[:2]
        self.size = (width, height)
        self._next, self.skipped = self._first.index, 0  # the first good file comes again

    def grab(self) -> bool:
        self._next += 1
        return self._next <= len(self._files)

    def retrieve(self) -> Frame | None:
        index = self._next - 1
        if self._first is not None and self._first.index == index:
            frame, self._first = self._first, None
            return frame
        try:
            image = read_image(self._files[index])
        except StudioError:
            self.skipped += 1
            return None
        return Frame(index, index / self.fps, image)

    def close(self) -> None:
        self._first = None


def parse_source(spec: str, loop: bool = False,
                 resolution: tuple[int, int] = DEFAULT_RESOLUTION) -> FrameSource:
    """``webcam:N``, ``video:PATH`` or ``folder:PATH`` as an unopened source; ``loop``
    applies to videos, ``resolution`` to webcams."""
    kind, colon, rest = spec.partition(":")
    if not colon or not rest:
        raise StudioError(f"source {spec!r}: expected {SOURCE_FORMS}")
    if kind == "webcam":
        if not rest.isdigit():
            raise StudioError(f"source {spec!r}: the webcam number must be 0 or more, "
                              "e.g. webcam:0")
        return WebcamSource(int(rest), resolution)
    if kind == "video":
        return VideoSource(rest, loop)
    if kind == "folder":
        return FolderSource(rest)
    raise StudioError(f"source {spec!r}: unknown kind {kind!r}; expected {SOURCE_FORMS}")
