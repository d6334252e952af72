"""Finding the followed person in live frames on a thread of its own, so that with two
frames in flight (:func:`~studio.ui.live.capture.default_in_flight`) MediaPipe works on
frame N+1 while the worker's net works on frame N, and a frame costs the longer of the
two stages instead of their sum.

Qt-free: frames come in through :meth:`DetectStage.put` and leave through the
``deliver`` callback (the worker queues them for its model) with the people found
attached, in the order they came. Frames asking for the several-people search, or
already stale, pass through untouched: the worker searches or drops them itself.
"""
from __future__ import annotations

import queue
import threading
import traceback
from collections.abc import Callable
from dataclasses import replace

import numpy as np

from studio.errors import StudioError
from studio.pipeline.people import TrackingPersonFinder
from studio.pipeline.single_image import timed
from studio.ui.worker.jobs import Found, ModelChoice, StreamFrame
from studio.ui.worker.thread_priority import lower_this_thread


Deliver = Callable[[int, np.ndarray, ModelChoice, StreamFrame], None]
Failed = Callable[[int, str, int], None]  # request, message for the user, exit code


class DetectStage:
    """Owns MediaPipe's video-mode graph (made on the stage's thread at the first frame,
    restarted for each new stream) and runs it on queued stream frames.

    ``stale(request, stream)`` says whether a frame was superseded meanwhile; ``failed``
    reports a frame whose detection raised, as the worker's ``failed`` signal does.
    """

    def __init__(self, deliver: Deliver, stale: Callable[[int, StreamFrame], bool],
                 failed: Failed) -> None:
        self._deliver = deliver
        self._stale = stale
        self._failed = failed
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._finder: TrackingPersonFinder | None = None
        self._stream: int | None = None  # the stream the finder follows
        self._thread = threading.Thread(target=self._loop, name="live-detect", daemon=True)
        self._thread.start()

    def put(self, request: int, image: np.ndarray, choice: ModelChoice,
            stream: StreamFrame) -> None:
        """Queue stream frame ``request``; it is delivered once its people are found."""
        self._queue.put((request, image, choice, stream))

    def close(self) -> None:
        """Finish the queued frames, free MediaPipe's graph and end the thread."""
        self._queue.put(None)
        self._thread.join()

    def _loop(self) -> None:
        lower_this_thread()  # before MediaPipe's graph threads start: they inherit it
        try:
            while (item := self._queue.get()) is not None:
                self._detect(*item)
        finally:
            if self._finder is not None:
                self._finder.close()

    def _detect(self, request: int, image: np.ndarray, choice: ModelChoice,
                stream: StreamFrame) -> None:
        if stream.several_people or self._stale(request, stream):
            self._deliver(request, image, choice, stream)
            return
        try:
            finder = self._finder_for(stream.stream)
            timings: dict[str, float] = {}
            with timed(timings, "detect"):
                people = finder.find(image)
            found = Found(people, timings)
        except StudioError as err:
            self._failed(request, str(err), err.exit_code)
        except Exception as err:  # noqa: BLE001 (the frame must be answered, whatever happened)
            traceback.print_exc()
            self._failed(request, f"person detection failed: {type(err).__name__}: {err}", 1)
        else:
            self._deliver(request, image, choice, replace(stream, found=found))

    def _finder_for(self, stream: int) -> TrackingPersonFinder:
        if self._finder is None:
            self._finder = TrackingPersonFinder()
        elif self._stream != stream:
            self._finder.reset()
        self._stream = stream
        return self._finder
