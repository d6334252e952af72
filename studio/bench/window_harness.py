"""Driving the real studio window from a benchmark: a display check, a window with
throw-away settings (a run never touches the user's), and waiting on the window without
blocking its event loop."""
from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from studio.errors import StudioError


@contextmanager
def bench_window(benchmark: str, model: str, size: tuple[int, int],
                 device: str = "cpu") -> Iterator[tuple]:
    """(application, shown StudioWindow) for ``studio bench <benchmark>``, running models
    on ``device`` (check it with ``resolve_device`` first); closed after."""
    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        raise StudioError(f"studio bench {benchmark} drives the real window and needs a "
                          "display; on a headless machine run it under xvfb-run")
    from PySide6.QtCore import QSettings

    from studio.ui.app import application
    from studio.ui.window.settings import StudioSettings
    from studio.ui.window.studio_window import StudioWindow

    app = application()
    with tempfile.TemporaryDirectory() as tmp:
        settings = StudioSettings(QSettings(str(Path(tmp) / "bench.ini"),
                                            QSettings.Format.IniFormat))
        settings.device = device
        window = StudioWindow(settings=settings, model=model)
        try:
            window.resize(*size)
            window.show()
            app.processEvents()
            yield app, window
        finally:
            window.close()
            app.processEvents()


CHECK_MS = 10  # how often wait_until asks whether it is done
TICK_MS = 5  # the stall probe's timer interval, as the window tests use
LONG_GAP_MS = 20  # gaps of the probe counted as noticeable


class TickProbe:
    """How long the UI event loop goes without a turn: the gaps of a ``TICK_MS`` timer
    between entering and leaving the ``with`` block (the loop must run inside it)."""

    def __init__(self) -> None:
        from PySide6.QtCore import QTimer

        self.ticks: list[float] = []
        self._timer = QTimer()
        self._timer.setInterval(TICK_MS)
        self._timer.timeout.connect(lambda: self.ticks.append(time.perf_counter()))

    def __enter__(self) -> TickProbe:
        self.ticks = [time.perf_counter()]
        self._timer.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._timer.stop()
        self.ticks.append(time.perf_counter())

    def gaps_ms(self) -> list[float]:
        return [(b - a) * 1000.0 for a, b in zip(self.ticks, self.ticks[1:])]

    def summary(self) -> dict[str, float | int]:
        """Longest gap, the gaps' 99th percentile (ms), how many passed LONG_GAP_MS."""
        gaps = self.gaps_ms()
        return {"longest": round(max(gaps), 1), "p99": round(percentile(gaps, 99), 1),
                f"over_{LONG_GAP_MS}": sum(g > LONG_GAP_MS for g in gaps), "ticks": len(gaps)}


def wait_until(app, done: Callable[[], bool], timeout_s: float, what: str) -> None:
    """Run the event loop until ``done()``; a StudioError naming ``what`` after
    ``timeout_s`` seconds, and whatever ``done`` raises.

    A real event loop, as the studio runs, asking ``done`` on a timer: polling
    ``processEvents`` with 1 ms sleeps instead woke the UI thread a thousand times a
    second and took CPU from the pipeline being measured.
    """
    from PySide6.QtCore import QEventLoop, QTimer

    deadline = time.perf_counter() + timeout_s
    loop = QEventLoop()
    outcome: list[BaseException | None] = []

    def check() -> None:
        try:
            if done():
                outcome.append(None)
            elif time.perf_counter() > deadline:
                outcome.append(StudioError(f"no {what} within {timeout_s:.0f} s"))
        except Exception as err:  # noqa: BLE001 (raised again below, outside Qt)
            outcome.append(err)
        if outcome:
            timer.stop()
            loop.quit()

    timer = QTimer()
    timer.setInterval(CHECK_MS)
    timer.timeout.connect(check)
    check()
    if not outcome:
        timer.start()
        loop.exec()
    if outcome[0] is not None:
        raise outcome[0]


def percentile(values: list[float], q: float) -> float:
    """The ``q``-th percentile of ``values`` (nearest rank at or above)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q / 100.0 * len(ordered)))]
