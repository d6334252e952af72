"""Reading a live source on its own thread and keeping the pipeline worker fed.

The worker has two stages for stream frames, person detection and the model, each on
its own thread, so up to two frames are in flight: one being detected, one in the
model. Submitting every frame instead would queue them up without end. The newest
frame read meanwhile waits; a newer frame replaces a waiting one (counted as dropped).
A frame goes in at once when nothing is in flight, and otherwise one worker time
(model and fill) after the previous one: its detection then ends about when the
worker is free, so frames do not sit finished between the stages and go stale.
Overlapping the stages needs spare cores: on two, both stages slowed down so much that
latency doubled for 10% more frames, so there one frame is in flight
(:func:`default_in_flight`). A frame stops counting as in flight when its model is
done (:meth:`CaptureThread.released`), so the next one is detected while its 2D fill
is drawn. Reading never waits for the worker, and the UI thread is not involved.

Every frame is grabbed at the source's pace, but decoded only when it will likely go to
the worker, i.e. when the worker should be ready for it before the next frame replaces
it (from how long frames stayed in flight so far); the worker then takes it at once
when it is ready. A frame grabbed but not decoded is decoded when the worker turns
out to be ready first (a webcam's grab, which blocks, may delay that).
"""
from __future__ import annotations

import os
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QThread, Signal

from studio.errors import StudioError
from studio.pipeline.sources import Frame, FrameSource, SourceLost
from studio.ui.live.stats import LiveStats
from studio.ui.worker.thread_priority import lower_this_thread

# Live request ids start here, far above the window's own (one per photo opened), so
# the window ignores live answers and the two never share an id.
LIVE_REQUESTS = 1 << 30
TIME_WEIGHT = 0.2  # of the newest frame in the running mean times
DECODE_MARGIN_S = 0.005  # decode a grabbed frame if the worker may be ready this soon
# after the next grab

Submit = Callable[[int, np.ndarray], None]  # (request id, RGB image) -> the worker


def default_in_flight() -> int:
    """Frames with the worker at once: one per stage (detection, model) where there are
    cores to run both stages and the UI side by side, else one."""
    return 2 if (os.cpu_count() or 1) >= 4 else 1


@dataclass(frozen=True)
class LiveFrame:
    """A frame handed to the worker, with when it was read (``time.perf_counter``)."""

    request: int
    frame: Frame
    read_at: float


class CaptureThread(QThread):
    """Reads ``source`` at its own pace (``fps``; a webcam's reads block until then) and
    submits frames, up to ``in_flight`` (1 or 2) at a time. Call :meth:`released` when
    a request's model is done and :meth:`answered` whenever the worker answers one (from
    any thread), and :meth:`take` to get an answered request's frame."""

    lost = Signal(str)  # the source stopped delivering: SourceLost's message
    ended = Signal()  # the end of a video or folder
    failed = Signal(str)  # the source could not be opened or read

    def __init__(self, source: FrameSource, submit: Submit, requests: Iterator[int],
                 stats: LiveStats, in_flight: int = 1) -> None:
        super().__init__()
        if in_flight not in (1, 2):
            raise ValueError(f"in_flight must be 1 or 2, not {in_flight}")
        self.in_flight = in_flight
        self.setObjectName("live-capture")
        self.source = source
        self._submit = submit
        self._requests = requests
        self._stats = stats
        self._wake = threading.Condition()
        self._waiting: LiveFrame | None = None  # decoded, for the worker's next turn
        self._grabbed: float | None = None  # when a grabbed, not decoded frame came
        self._next_grab = 0.0  # when the next frame will be grabbed
        self._in_flight: dict[int, float] = {}  # submitted, model not done: when it went in
        self._unanswered: set[int] = set()  # submitted, not answered yet
        self._submitted_at = 0.0  # when the newest frame in flight went in
        self._worker_s: float | None = None  # running mean of the worker's time per frame
        self._stage_s: float | None = None  # running mean of submission to release
        self._sent: dict[int, LiveFrame] = {}  # submitted, not yet taken
        self._paused = False
        self._stopping = False

    # ------------------------------------------------------------ any thread
    @property
    def busy(self) -> bool:
        """A frame is in the worker or waiting for it."""
        with self._wake:
            return (bool(self._unanswered) or self._waiting is not None
                    or self._grabbed is not None)

    def released(self, request: int) -> None:
        """``request``'s model is done; its answer follows. The waiting frame may go in
        now."""
        with self._wake:
            if request in self._in_flight:
                self._stage_s = _mean(self._stage_s,
                                      time.perf_counter() - self._in_flight[request])
            self._free(request)

    def answered(self, request: int, worker_ms: float | None = None) -> None:
        """The worker finished, failed or dropped ``request``: it is free again, and the
        waiting frame goes in now if it has not already. ``worker_ms``: how long the
        worker spent on it (model and fill), when it finished it."""
        with self._wake:
            if worker_ms is not None:
                self._worker_s = _mean(self._worker_s, worker_ms / 1000.0)
            self._unanswered.discard(request)
            self._free(request)
            self._wake.notify()  # a drain may be waiting for this answer

    def _free(self, request: int) -> None:
        """``request`` leaves the stages (the lock is held)."""
        if self._in_flight.pop(request, None) is not None:
            self._send_waiting()
            self._wake.notify()

    def take(self, request: int) -> LiveFrame | None:
        """The frame of a submitted ``request`` (once); None if it is not this thread's."""
        with self._wake:
            return self._sent.pop(request, None)

    def set_paused(self, paused: bool) -> None:
        """Stop or go on reading; pausing drops the waiting frame (those in flight are
        still answered)."""
        with self._wake:
            self._paused = paused
            if paused:
                self._drop_waiting()
            self._wake.notify()

    def stop(self) -> None:
        """End reading, close the source and wait for the thread."""
        with self._wake:
            self._stopping = True
            self._wake.notify()
        self.wait()

    # ------------------------------------------------------------ the capture thread
    def run(self) -> None:
        lower_this_thread()
        try:
            self.source.open()
            lost = self._read_until_end()
            self._drain(lost is None)
        except StudioError as err:
            self.failed.emit(str(err))
            return
        except Exception as err:  # noqa: BLE001 (the UI must hear of it, whatever happened)
            traceback.print_exc()
            self.failed.emit(f"{self.source.description}: unexpected error: "
                             f"{type(err).__name__}: {err}")
            return
        finally:
            self.source.close()
        if lost is not None:
            self.lost.emit(lost)
        elif not self._stopping:
            self.ended.emit()

    def _read_until_end(self) -> str | None:
        """Read until the source ends or :meth:`stop`; SourceLost's message if it was lost."""
        period = 1.0 / self.source.fps
        self._next_grab = time.perf_counter()
        try:
            while True:
                with self._wake:
                    self._send_waiting()
                    if self._stopping:
                        return None
                    decode = self._decode_due()
                    now = time.perf_counter()
                    if not decode and (self._paused or self._next_grab > now):
                        self._wake.wait(None if self._paused else self._next_grab - now)
                        continue
                if decode:
                    self._decode()
                elif not self._grab(period):
                    return None
        except SourceLost as err:
            return str(err)

    def _grab(self, period: float) -> bool:
        """Grab the next frame and decode it if the worker will likely take it; False
        at the source's end."""
        if not self.source.grab():
            return False
        now = time.perf_counter()
        with self._wake:
            self._stats.read += 1
            self._stats.corrupt = self.source.skipped
            self._drop_waiting()  # a newer frame replaces it
            self._next_grab = max(self._next_grab + period, now)  # behind: on at once
            if self._paused:  # paused during the grab
                self._stats.replaced += 1
                return True
            self._grabbed = now
            likely = self._likely_taken()
        if likely:
            self._decode()
        return True

    def _decode(self) -> None:
        """Decode the grabbed frame into the waiting one (the lock is not held: decoding
        takes a millisecond or more)."""
        frame = self.source.retrieve()
        with self._wake:
            grabbed_at, self._grabbed = self._grabbed, None
            self._stats.corrupt = self.source.skipped
            if frame is None or grabbed_at is None:  # damaged, or dropped by a pause
                return
            self._waiting = LiveFrame(next(self._requests), frame, grabbed_at)
            self._send_waiting()

    def _drain(self, readable: bool) -> None:
        """Let the worker answer the waiting frame and those in flight, so their
        results reach the UI before the end or the loss is reported. A frame grabbed
        but not decoded is decoded if the source is still ``readable`` (not lost)."""
        if not readable:
            with self._wake:
                if self._grabbed is not None:
                    self._grabbed = None
                    self._stats.replaced += 1
        while True:
            with self._wake:
                self._send_waiting()
                if self._stopping or not (self._waiting is not None or self._unanswered
                                          or self._grabbed is not None):
                    return
                if not self._decode_due():
                    self._wake.wait()
                    continue
            self._decode()

    def _send_at(self) -> float:
        """When the waiting frame may go in (``time.perf_counter``; the lock is held):
        now if nothing is in flight, one worker time after the newest in flight if a
        stage is free, never while both are busy or before the worker time is known."""
        if not self._in_flight:
            return 0.0
        if len(self._in_flight) >= self.in_flight or self._worker_s is None:
            return float("inf")
        return self._submitted_at + self._worker_s

    def _decode_due(self) -> bool:
        """A grabbed frame is not decoded and the worker is ready for it (lock held)."""
        return (self._grabbed is not None and not self._paused
                and time.perf_counter() >= self._send_at())

    def _likely_taken(self) -> bool:
        """Whether the worker should be ready for the grabbed frame before the next grab
        replaces it (lock held): when a stage frees as expected from the stage times."""
        ready = self._send_at()
        if ready == float("inf") and self._stage_s is not None and self._in_flight:
            ready = min(self._in_flight.values()) + self._stage_s
        return ready < self._next_grab + DECODE_MARGIN_S

    def _send_waiting(self) -> None:
        """Submit the waiting frame if its time has come (the lock is held)."""
        if self._waiting is None or self._paused:
            return
        now = time.perf_counter()
        if now < self._send_at():
            return
        live, self._waiting = self._waiting, None
        self._submitted_at = now
        self._in_flight[live.request] = now
        self._unanswered.add(live.request)
        self._sent[live.request] = live
        self._submit(live.request, live.frame.image)

    def _drop_waiting(self) -> None:
        """Drop the waiting frame, decoded or only grabbed (the lock is held)."""
        if self._waiting is not None or self._grabbed is not None:
            self._waiting, self._grabbed = None, None
            self._stats.replaced += 1


def _mean(mean: float | None, value: float) -> float:
    """A running mean that follows the newest values (:data:`TIME_WEIGHT`)."""
    return value if mean is None else (1 - TIME_WEIGHT) * mean + TIME_WEIGHT * value
