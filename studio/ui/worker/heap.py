"""Python's cyclic garbage collector in a studio with threads: where and how long it runs.

Where: garbage can hold Qt objects (a closed menu's wrapper in a reference cycle), and
deleting a Qt object off the UI thread can deadlock PySide against the UI thread
deleting others. Automatic collection runs on whichever thread happens to allocate, so
while the studio's own threads run (:data:`ui_thread_collector` is held) it is switched
off and a timer on the UI thread collects in its stead, generation by generation as
the interpreter would.

How long: a full collection walks every object the collector tracks; with torch, VTK,
Qt and MediaPipe loaded that is about 400,000 of them and takes 100-200 ms, a visible
stall in live capture. Objects that exist once the studio and its model are loaded
live as long as they do, so they are frozen out of later collections (:func:`settle`),
which then only look at what streaming creates.
"""
from __future__ import annotations

import gc

from PySide6.QtCore import QCoreApplication, QTimer

COLLECT_EVERY_MS = 100  # cycles live this much longer; each collection stays short


def settle() -> None:
    """Collect the garbage there is now and exempt everything left from later
    collections. Call after a slow setup step (a model load), on the UI thread. It takes
    one full collection (a fifth of a second) and thaws what an earlier call froze
    first, so that what the step replaced (an old model) can still be collected."""
    gc.unfreeze()
    gc.collect()
    gc.freeze()


def collect_due() -> int | None:
    """Collect the oldest generation whose count passed its threshold, as automatic
    collection would have done by now; the generation collected, or None."""
    counts, thresholds = gc.get_count(), gc.get_threshold()
    if thresholds[0] == 0 or counts[0] <= thresholds[0]:
        return None
    generation = 0
    while generation < 2 and counts[generation + 1] > thresholds[generation + 1]:
        generation += 1
    gc.collect(generation)
    return generation


class UiThreadCollector:
    """Moves the cyclic collector onto the UI thread while held (holds nest)."""

    def __init__(self) -> None:
        self._holders = 0
        self._timer: QTimer | None = None
        self._was_enabled = True

    @property
    def active(self) -> bool:
        """Whether collections now run only on the UI thread's timer."""
        return self._holders > 0

    def hold(self) -> None:
        """Collect only on the UI thread until the matching :meth:`release`. Call on the
        UI thread of a running QApplication, before starting threads that allocate."""
        if self._holders == 0:
            self._was_enabled = gc.isenabled()
            gc.disable()
            self._timer = QTimer(QCoreApplication.instance())
            self._timer.setObjectName("ui-thread-garbage-collection")
            self._timer.timeout.connect(collect_due)
            self._timer.start(COLLECT_EVERY_MS)
        self._holders += 1

    def release(self) -> None:
        """End one hold; the last one gives automatic collection back (if it was on)."""
        if self._holders == 0:
            return
        self._holders -= 1
        if self._holders == 0 and self._timer is not None:
            self._timer.stop()
            self._timer.deleteLater()
            self._timer = None
            if self._was_enabled:
                gc.enable()


ui_thread_collector = UiThreadCollector()  # the process's one; the worker thread holds it
