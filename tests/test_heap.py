"""Freezing what the studio loaded out of Python's full collections (studio.ui.worker.heap)."""
from __future__ import annotations

import gc
import weakref

from studio.ui.worker import heap


class _Node:
    """An object in a reference cycle: only the cyclic collector frees it."""

    def __init__(self) -> None:
        self.me = self


def test_settle_freezes_survivors_and_the_next_settle_collects_their_garbage():
    try:
        kept = _Node()
        kept_ref = weakref.ref(kept)
        heap.settle()
        assert gc.get_freeze_count() > 0
        later = _Node()  # made after the freeze: collected as usual
        later_ref = weakref.ref(later)
        del kept, later
        gc.collect()
        assert later_ref() is None
        assert kept_ref() is not None  # frozen: full collections skip it
        heap.settle()  # e.g. the next model load: what the last one froze is looked at again
        assert kept_ref() is None
    finally:
        gc.unfreeze()


def _garbage(count: int) -> list[weakref.ref]:
    """``count`` unreachable reference cycles, and weak references to watch them go."""
    refs = []
    for _ in range(count):
        node = _Node()
        refs.append(weakref.ref(node))
    return refs


def test_collect_due_collects_what_the_interpreter_would_and_nothing_before():
    enabled, thresholds = gc.isenabled(), gc.get_threshold()
    try:
        gc.disable()
        gc.collect()
        gc.set_threshold(50, 2, 2)
        refs = _garbage(10)
        assert heap.collect_due() is None  # about 20 new objects: under the threshold
        assert refs[0]() is not None
        generations = []
        for _ in range(16):
            refs = _garbage(60)
            generations.append(heap.collect_due())
            assert all(ref() is None for ref in refs)
        # A young collection counts one for the middle generation, a middle one one for
        # the oldest; a generation is collected once its count passes its threshold (2).
        assert generations == [0, 0, 0, 1] * 3 + [0, 0, 0, 2]
    finally:
        gc.set_threshold(*thresholds)
        if enabled:
            gc.enable()


def test_held_collector_collects_only_on_the_ui_thread(qtbot):
    """Garbage made on another thread waits for the UI thread's timer, however much of it
    there is; releasing the last hold gives automatic collection back."""
    import threading

    collector = heap.UiThreadCollector()
    threads = []

    def note(phase: str, info: dict) -> None:
        if phase == "start":
            threads.append(threading.get_ident())

    enabled = gc.isenabled()
    gc.enable()
    gc.callbacks.append(note)
    try:
        collector.hold()
        collector.hold()
        assert collector.active and not gc.isenabled()
        refs = []
        worker = threading.Thread(target=lambda: refs.extend(_garbage(20 * gc.get_threshold()[0])))
        worker.start()
        worker.join()
        assert threads == [] and refs[0]() is not None  # the worker made it, did not collect
        qtbot.waitUntil(lambda: all(ref() is None for ref in refs), timeout=5000)
        assert set(threads) == {threading.get_ident()}
        collector.release()
        assert collector.active and not gc.isenabled()  # one hold is left
        collector.release()
        assert not collector.active and gc.isenabled()
    finally:
        gc.callbacks.remove(note)
        while collector.active:
            collector.release()
        if not enabled:
            gc.disable()
