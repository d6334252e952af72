"""Background threads run below the UI thread, and the threads they start inherit it
(MediaPipe starts its graph threads from the detect thread)."""
from __future__ import annotations

import os
import sys
import threading

import pytest

from studio.ui.worker.thread_priority import BACKGROUND_NICENESS, lower_this_thread

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="per-thread nice is Linux's")


def _nice(native_id: int) -> int:
    return os.getpriority(os.PRIO_PROCESS, native_id)


def test_a_lowered_thread_and_its_children_run_below_the_main_thread():
    main = _nice(os.getpid())
    seen: dict[str, int | bool] = {}

    def child() -> None:
        seen["child"] = _nice(threading.get_native_id())

    def background() -> None:
        seen["lowered"] = lower_this_thread()
        seen["background"] = _nice(threading.get_native_id())
        seen["again"] = lower_this_thread()  # no lower than BACKGROUND_NICENESS below main
        seen["after_again"] = _nice(threading.get_native_id())
        started = threading.Thread(target=child)
        started.start()
        started.join()

    thread = threading.Thread(target=background)
    thread.start()
    thread.join()
    expected = min(main + BACKGROUND_NICENESS, 19)
    assert _nice(os.getpid()) == main  # the UI thread keeps its priority
    assert seen["background"] == seen["after_again"] == seen["child"] == expected
    assert seen["lowered"] is seen["again"] is (expected > main)


def test_nothing_changes_without_niceness():
    assert lower_this_thread(0) is False
    assert _nice(threading.get_native_id()) == _nice(os.getpid())
