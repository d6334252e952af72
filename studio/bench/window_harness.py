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
