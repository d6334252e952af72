"""When the capture thread hands frames to the worker (no thread started: the hand-over
rules alone)."""
from __future__ import annotations

import itertools
import time

import numpy as np
import pytest

from studio.pipeline.sources import Frame
from studio.ui.live_capture import CaptureThread, LiveFrame
from studio.ui.live_stats import LiveStats


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
    capture.released(1, model_ms=5.0)  # frame 1's fill is still being drawn
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
    assert sent == [1]  # the model's time is not known yet: nothing overlaps
    capture.released(1, model_ms=60.0)
    capture.answered(1)
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


def test_only_one_or_two_in_flight() -> None:
    with pytest.raises(ValueError, match="1 or 2"):
        _capture(in_flight=3)
