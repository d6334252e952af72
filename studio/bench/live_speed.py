"""How live capture feels in the real studio window: processed frames per second,
latency from reading a frame to its result on screen (p50, p95), frames dropped
because a newer one came first, the longest the UI event loop went without a turn
(a 5 ms timer's largest gap), and how much the process's memory grew.

Everything is measured after the first result (model loading and building the 3D
scene are one-off costs); latency percentiles cover the last 1024 results. Drives the
real window, so it needs a display (``xvfb-run`` on a headless machine).
"""
from __future__ import annotations

import os
import resource
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch

from studio.errors import StudioError
from studio.pipeline.sources import parse_source

TICK_MS = 5  # the stall probe's timer interval, as the window tests use
DEFAULT_MODEL = "builtin-pymaf-proxy"


def rss_mb() -> float:
    """The process's resident memory now (MiB); the peak where /proc is missing."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def _wait(app, done: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.perf_counter() + timeout_s
    while not done():
        if time.perf_counter() > deadline:
            raise StudioError(f"live bench: no {what} within {timeout_s:.0f} s")
        app.processEvents()
        time.sleep(0.001)


def live_speed(source: str, frames: int, model: str = DEFAULT_MODEL,
               size: tuple[int, int] = (1440, 900), timeout_s: float = 600.0) -> dict:
    """Stream ``source`` (``video:PATH`` loops) in the studio window until ``frames``
    frames were processed after the first result; returns the measurements."""
    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        raise StudioError("studio bench live drives the real window and needs a display; "
                          "on a headless machine run it under xvfb-run")
    from PySide6.QtCore import QSettings, QTimer

    from studio.ui.app import application
    from studio.ui.live import LiveController
    from studio.ui.settings import StudioSettings
    from studio.ui.studio_window import StudioWindow

    app = application()
    stream = parse_source(source, loop=True)
    with tempfile.TemporaryDirectory() as tmp:
        settings = StudioSettings(QSettings(str(Path(tmp) / "bench.ini"),
                                            QSettings.Format.IniFormat))
        window = StudioWindow(settings=settings, model=model)
        live = LiveController.of(window)
        ticks: list[float] = []
        timer = QTimer()
        timer.setInterval(TICK_MS)
        timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
        try:
            window.resize(*size)
            window.show()
            app.processEvents()
            live.start(stream)

            stats = live.stats

            def streaming() -> bool:
                if live.state != "streaming":
                    raise StudioError(f"live bench: the source {live.state} "
                                      f"({window.last_error or 'no message'})")
                return True

            _wait(app, lambda: streaming() and bool(stats.latencies_ms), timeout_s,
                  "first result")
            app.processEvents()
            stats.latencies_ms.clear()
            start = {"read": stats.read, "processed": stats.processed, "dropped": stats.dropped,
                     "no_person": stats.no_person}
            memory_before = rss_mb()
            began = time.perf_counter()
            ticks.append(began)
            timer.start()
            _wait(app, lambda: streaming() and stats.processed >= start["processed"] + frames,
                  timeout_s, f"{frames} processed frames")
            timer.stop()
            elapsed = time.perf_counter() - began
            memory_after = rss_mb()
            latencies = list(stats.latencies_ms)
            gaps = [b - a for a, b in zip(ticks, ticks[1:])]
            processed = stats.processed - start["processed"]
            return {
                "benchmark": "live", "source": source,
                "source_description": stream.description, "source_fps": round(stream.fps, 2),
                "frame_size": list(stream.size), "model": model, "window": list(size),
                "frames": {"read": stats.read - start["read"], "processed": processed,
                           "dropped": stats.dropped - start["dropped"],
                           "corrupt": stats.corrupt,
                           "no_person": stats.no_person - start["no_person"]},
                "elapsed_s": round(elapsed, 2),
                "processed_fps": round(processed / elapsed, 2),
                "latency_ms": {"p50": _percentile(latencies, 50),
                               "p95": _percentile(latencies, 95)},
                "max_ui_stall_ms": round(max(gaps) * 1000.0, 1),
                "ui_ticks": len(gaps),
                "rss_mb": {"after_first_result": round(memory_before, 1),
                           "end": round(memory_after, 1),
                           "growth": round(memory_after - memory_before, 1)},
                "torch_threads": torch.get_num_threads(), "platform": app.platformName(),
            }
        finally:
            timer.stop()
            window.close()
            app.processEvents()


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q / 100.0 * len(ordered)))], 1)


def live_table(doc: dict) -> str:
    """The readable form of :func:`live_speed`'s document."""
    frames, latency, memory = doc["frames"], doc["latency_ms"], doc["rss_mb"]
    return "\n".join([
        f"live capture of {doc['source_description']} ({doc['source_fps']} fps) in a "
        f"{doc['window'][0]}x{doc['window'][1]} window, model {doc['model']}",
        f"processed {frames['processed']} of {frames['read']} frames read in "
        f"{doc['elapsed_s']} s: {doc['processed_fps']} fps; dropped {frames['dropped']}, "
        f"corrupt {frames['corrupt']}, nobody found {frames['no_person']}",
        f"latency p50 {latency['p50']} ms, p95 {latency['p95']} ms; longest UI stall "
        f"{doc['max_ui_stall_ms']} ms",
        f"memory {memory['after_first_result']} -> {memory['end']} MiB "
        f"({memory['growth']:+} MiB)"])
