"""How live capture feels in the real studio window: processed (and drawn) frames per
second, latency from reading a frame to its result on screen (p50, p95), each stage's
median time (detection, crop, net, camera fit, 2D fill), frames dropped because a newer
one came first, the longest the UI event loop went without a turn (a 5 ms timer's
largest gap; also the gaps' 99th percentile and how many passed 20 ms, steadier figures
to compare runs by), how much the process's memory grew, and Python's garbage
collections meanwhile (how many, the longest, and how many ran off the UI thread, which
the studio prevents: see :mod:`studio.ui.worker.heap`).

Everything is measured after the first result (model loading and building the 3D
scene are one-off costs); latency percentiles cover the last 1024 results. Drives the
real window, so it needs a display (``xvfb-run`` on a headless machine).
"""
from __future__ import annotations

import gc
import os
import resource
import threading
import time
from pathlib import Path

import torch

from studio.bench.window_harness import LONG_GAP_MS, TickProbe, bench_window, percentile, wait_until
from studio.errors import StudioError
from studio.pipeline.sources import parse_source

DEFAULT_MODEL = "builtin-pymaf-proxy"


def rss_mb() -> float:
    """The process's resident memory now (MiB); the peak where /proc is missing."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


class CollectionLog:
    """Python's garbage collections while it is entered: count per generation, the
    longest (ms) and how many ran on a thread other than the UI (main) thread."""

    def __init__(self) -> None:
        self.counts = [0, 0, 0]
        self.longest_ms = 0.0
        self.off_ui_thread = 0
        self._started: float | None = None

    def __enter__(self) -> CollectionLog:
        gc.callbacks.append(self._note)
        return self

    def __exit__(self, *_: object) -> None:
        gc.callbacks.remove(self._note)

    def _note(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._started = time.perf_counter()
            return
        if self._started is not None:
            self.longest_ms = max(self.longest_ms, (time.perf_counter() - self._started) * 1e3)
        self.counts[info["generation"]] += 1
        self.off_ui_thread += threading.current_thread() is not threading.main_thread()

    def summary(self) -> dict:
        return {"collections": list(self.counts), "longest_ms": round(self.longest_ms, 1),
                "off_ui_thread": self.off_ui_thread}


def live_speed(source: str, frames: int, model: str = DEFAULT_MODEL,
               size: tuple[int, int] = (1440, 900), timeout_s: float = 600.0,
               in_flight: int | None = None, device: str = "cpu", draw: bool = True) -> dict:
    """Stream ``source`` (``video:PATH`` loops) in the studio window until ``frames``
    frames were processed after the first result, the models on ``device``; returns
    the measurements. ``in_flight`` overrides how many frames overlap in the worker's
    stages; without ``draw`` results are not drawn after the first, which leaves the
    pipeline's own cost to the UI thread (reading, tracking, hand-offs)."""
    from PySide6.QtCore import Qt

    from studio.ui.live.controller import LiveController

    stream = parse_source(source, loop=True)
    with bench_window("live", model, size, device) as (app, window):
        live = LiveController.of(window)
        if in_flight is not None:
            live.in_flight = in_flight
        stages: dict[str, list[float]] = {}  # each measured frame's stage times (ms)
        measuring = threading.Event()

        def note_stages(_request: int, result: object) -> None:
            if measuring.is_set():
                for stage, ms in getattr(result, "timings_ms", {}).items():
                    stages.setdefault(stage, []).append(ms)

        live.worker.finished.connect(note_stages, Qt.ConnectionType.DirectConnection)
        probe = TickProbe()
        live.start(stream)

        stats = live.stats

        def streaming() -> bool:
            if live.state != "streaming":
                raise StudioError(f"live bench: the source {live.state} "
                                  f"({window.last_error or 'no message'})")
            return True

        wait_until(app, lambda: streaming() and bool(stats.latencies_ms), timeout_s,
                   "first live result")
        # the 3D view's first render of it builds the streaming scene (one-off)
        canvas = window.mesh_view.canvas
        wait_until(app, lambda: not canvas.render_due, timeout_s, "first live 3D render")
        app.processEvents()
        if not draw:
            live.view.show = lambda *_: None
            wait_until(app, lambda: not canvas.render_due, timeout_s, "last drawn result")
        stats.latencies_ms.clear()
        start = {"read": stats.read, "processed": stats.processed, "dropped": stats.dropped,
                 "no_person": stats.no_person, "superseded": stats.superseded}
        memory_before = rss_mb()
        began = time.perf_counter()
        measuring.set()
        with CollectionLog() as collections, probe:
            wait_until(app, lambda: (streaming()
                                     and stats.processed >= start["processed"] + frames),
                       timeout_s, f"{frames} processed live frames")
        measuring.clear()
        elapsed = time.perf_counter() - began
        memory_after = rss_mb()
        latencies = list(stats.latencies_ms)
        gaps = probe.summary()
        processed = stats.processed - start["processed"]
        return {
            "benchmark": "live", "source": source,
            "source_description": stream.description, "source_fps": round(stream.fps, 2),
            "frame_size": list(stream.size), "model": model, "device": device,
            "window": list(size),
            "frames": {"read": stats.read - start["read"], "processed": processed,
                       "dropped": stats.dropped - start["dropped"],
                       "corrupt": stats.corrupt,
                       "no_person": stats.no_person - start["no_person"],
                       "not_drawn": stats.superseded - start["superseded"]},
            "elapsed_s": round(elapsed, 2),
            "processed_fps": round(processed / elapsed, 2),
            "drawn_fps": round((processed - stats.superseded + start["superseded"])
                               / elapsed, 2) if draw else 0.0,
            "in_flight": live.in_flight, "drawing": draw,
            "latency_ms": {"p50": _percentile(latencies, 50),
                           "p95": _percentile(latencies, 95)},
            "max_ui_stall_ms": gaps["longest"],
            "stage_ms_p50": {stage: _percentile(times, 50)
                             for stage, times in stages.items()},
            "ui_ticks": gaps["ticks"],
            "ui_gaps_ms": {"p99": gaps["p99"],
                           f"over_{LONG_GAP_MS}": gaps[f"over_{LONG_GAP_MS}"]},
            "rss_mb": {"after_first_result": round(memory_before, 1),
                       "end": round(memory_after, 1),
                       "growth": round(memory_after - memory_before, 1)},
            "garbage_collections": collections.summary(),
            "torch_threads": torch.get_num_threads(),
            "thread_choice": window.worker_thread.threads.as_dict(),
            "platform": app.platformName(),
        }


def compare_live_speed(source: str, frames: int, models: list[str], **options: object) -> dict:
    """:func:`live_speed` for each of ``models`` in turn, same source and window, in one
    process: absolute fps only compare within one run."""
    runs = [live_speed(source, frames, model, **options) for model in models]
    return {"benchmark": "live-compare", "source": source,
            "processed_fps": {doc["model"]: doc["processed_fps"] for doc in runs},
            "runs": runs}


def compare_table(doc: dict) -> str:
    """The readable form of :func:`compare_live_speed`'s document."""
    return "\n\n".join([*(live_table(run) for run in doc["runs"]),
                         "processed fps, same run: " + ", ".join(
                             f"{name} {fps}" for name, fps in doc["processed_fps"].items())])


def _percentile(values: list[float], q: float) -> float | None:
    return round(percentile(values, q), 1) if values else None


def live_table(doc: dict) -> str:
    """The readable form of :func:`live_speed`'s document."""
    frames, latency, memory = doc["frames"], doc["latency_ms"], doc["rss_mb"]
    collections, gaps = doc["garbage_collections"], doc["ui_gaps_ms"]
    long_gaps = gaps[f"over_{LONG_GAP_MS}"]
    return "\n".join([
        f"live capture of {doc['source_description']} ({doc['source_fps']} fps) in a "
        f"{doc['window'][0]}x{doc['window'][1]} window, model {doc['model']} on "
        f"{doc['device']}" + ("" if doc["drawing"] else " (results not drawn)"),
        f"processed {frames['processed']} of {frames['read']} frames read in "
        f"{doc['elapsed_s']} s: {doc['processed_fps']} fps ({doc['drawn_fps']} drawn, "
        f"{doc['in_flight']} in flight); dropped {frames['dropped']}, "
        f"corrupt {frames['corrupt']}, nobody found {frames['no_person']}, "
        f"processed but not drawn (a newer result came first) {frames['not_drawn']}",
        "median stage times: " + ", ".join(f"{stage} {ms} ms"
                                           for stage, ms in doc["stage_ms_p50"].items()),
        f"latency p50 {latency['p50']} ms, p95 {latency['p95']} ms; longest UI stall "
        f"{doc['max_ui_stall_ms']} ms (p99 {gaps['p99']} ms, {long_gaps} over "
        f"{LONG_GAP_MS} ms)",
        f"memory {memory['after_first_result']} -> {memory['end']} MiB "
        f"({memory['growth']:+} MiB)",
        f"garbage collections by generation {collections['collections']}, longest "
        f"{collections['longest_ms']} ms, {collections['off_ui_thread']} off the UI thread"])
