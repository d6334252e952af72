"""When the capture thread hands frames to the worker (no thread started: the hand-over
rules alone)."""
from __future__ import annotations

import itertools
import time

import numpy as np
import pytest

from studio.pipeline.sources import Frame
from studio.ui.live.capture import CaptureThread, LiveFrame
from studio.ui.live.stats import LiveStats


class _NoSource:
    description = "no source"
    fps = 30.0


def _capture(in_flight: int) -> tuple[CaptureThread, list[int]]:
    sent: list[int] = []
    capture = CaptureThread(_NoSource(), lambda request, image: sent.append(request),
                            itertools.count(), LiveStats(), in_flight)
    return capture, sent


def _offer(capture: CaptureThread, request: int) -> None:
    """Frame ``request`` becomes the waiting one and is handed over if its time has come."""
    frame = Frame(image=np.zeros((4, 4, 3), np.uint8), index=request, timestamp=0.0)
    with capture._wake:  # noqa: SLF001 (the capture loop does this under its lock)
        capture._waiting = LiveFrame(request, frame, time.perf_counter())  # noqa: SLF001
        capture._send_waiting()  # noqa: SLF001


def test_one_in_flight_waits_for_each_answer() -> None:
    capture, sent = _capture(in_flight=1)
    _offer(capture, 1)
    _offer(capture, 2)
    assert sent == [1]
    capture.answered(1)  # the waiting frame goes in with the answer
    assert sent == [1, 2]


def test_the_next_frame_goes_in_when_the_model_is_done_before_the_answer() -> None:
    capture, sent = _capture(in_flight=1)
    _offer(capture, 1)
    _offer(capture, 2)
    capture.released(1)  # frame 1's fill is still being drawn
    assert sent == [1, 2]
    capture.answered(2)
    assert capture.busy  # frame 1 is not answered yet: an end of stream waits for it
    capture.answered(1)
    assert not capture.busy
    capture.answered(1)  # a second answer changes nothing
    assert sent == [1, 2] and not capture.busy


def test_two_in_flight_start_the_next_detection_one_model_time_later() -> None:
    capture, sent = _capture(in_flight=2)
    _offer(capture, 1)
    _offer(capture, 2)
    assert sent == [1]  # the worker's time is not known yet: nothing overlaps
    capture.released(1)
    capture.answered(1, worker_ms=60.0)
    assert sent == [1, 2]
    _offer(capture, 3)
    assert sent == [1, 2]  # 60 ms after frame 2 went in, not before
    time.sleep(0.08)
    _offer(capture, 3)
    assert sent == [1, 2, 3]
    time.sleep(0.08)
    _offer(capture, 4)
    assert sent == [1, 2, 3]  # both stages busy
    capture.answered(2)
    assert sent == [1, 2, 3, 4] and capture.busy


class _CountingSource:
    """Grabs always succeed; counts the frames decoded."""

    description = "counting source"
    fps = 30.0
    skipped = 0

    def __init__(self) -> None:
        self.grabbed = self.decoded = 0

    def grab(self) -> bool:
        self.grabbed += 1
        return True

    def retrieve(self) -> Frame:
        self.decoded += 1
        return Frame(self.grabbed - 1, 0.0, np.zeros((4, 4, 3), np.uint8))


def test_frames_the_worker_will_not_take_are_grabbed_but_not_decoded() -> None:
    source, sent, stats = _CountingSource(), [], LiveStats()
    capture = CaptureThread(source, lambda request, image: sent.append(request),
                            itertools.count(), stats)
    period = 1 / source.fps
    capture._grab(period)  # noqa: SLF001 (the capture loop's step; no thread here)
    assert sent == [0] and source.decoded == 1  # the worker was free: decoded, taken
    time.sleep(0.15)
    capture.released(0)  # so a frame stays in flight 150 ms or more
    capture.answered(0)
    capture._grab(period)  # noqa: SLF001
    assert sent == [0, 1] and source.decoded == 2
    capture._grab(period)  # noqa: SLF001 (the worker is busy for a while yet)
    capture._grab(period)  # noqa: SLF001 (replaces the one before)
    assert source.decoded == 2 and stats.replaced == 1 and capture.busy
    capture.released(1)
    assert capture._decode_due()  # noqa: SLF001 (the loop now decodes the grabbed frame)
    capture._decode()  # noqa: SLF001
    assert sent == [0, 1, 2] and source.decoded == 3 and source.grabbed == 4


def test_only_one_or_two_in_flight() -> None:
    with pytest.raises(ValueError, match="1 or 2"):
        _capture(in_flight=3)
