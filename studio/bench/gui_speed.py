"""How the studio window feels: time from opening a photo to its result on screen (cold,
then warm), and frames per second while scrubbing the iterations (mesh update and
render in both views, anti-aliasing off). The 2D view keeps each iteration's drawing,
so the first pass over the iterations is reported apart, and each view alone with the
2D drawing made afresh every step. While the worker finds the person and runs the model,
a 5 ms timer on the UI thread measures how long the event loop goes without a turn.

Drives the real window, so it needs a display (``xvfb-run`` on a headless machine).
"""
from __future__ import annotations

import statistics
import time
from pathlib import Path

import torch

from studio.bench.window_harness import TickProbe, bench_window, percentile, wait_until
from studio.errors import StudioError


def _summary(times_ms: list[float]) -> dict[str, float]:
    ordered = sorted(times_ms)
    return {"median_ms": round(statistics.median(ordered), 2),
            "p95_ms": round(percentile(ordered, 95), 2),
            "fps": round(1000.0 / statistics.median(ordered), 1)}


def gui_speed(image: Path | None, sample: str, model: str, rounds: int,
              size: tuple[int, int] = (1440, 900), timeout_s: float = 300.0) -> dict:
    """Open the photo twice (cold: models load; warm) and scrub ``rounds`` times over
    every iteration; each scrub step is timed until both views have drawn it."""
    with bench_window("gui", model, size) as (app, window):
        first: list[float] = []
        loop_gaps: list[dict] = []
        for _ in range(2):
            shown: list[bool] = []
            window.result_shown.connect(lambda: shown.append(True))
            start = time.perf_counter()
            with TickProbe() as probe:
                window.open_file(image) if image is not None else window.open_sample(sample)
                wait_until(app, lambda: bool(shown) or window.failure is not None, timeout_s,
                           "result")
            if window.failure is not None:
                raise StudioError(window.failure[0])
            app.processEvents()
            first.append((time.perf_counter() - start) * 1000.0)
            loop_gaps.append(probe.summary())
            window.result_shown.disconnect()
        doc = window.document
        count = doc.iteration_count
        order = [*range(count), *range(count - 2, 0, -1)]
        both, only_3d, only_2d = [], [], []
        for _ in range(rounds):
            for k in order:
                start = time.perf_counter()
                window.scrubber.set_value(k)
                app.processEvents()  # both views paint here
                both.append((time.perf_counter() - start) * 1000.0)
        for _ in range(rounds):
            for k in order:
                it = doc.current_person.steps()[k]
                start = time.perf_counter()
                window.mesh_view.update_body(it.vertices, it.joints,
                                             it.image_camera.translation)
                app.processEvents()
                only_3d.append((time.perf_counter() - start) * 1000.0)
                points, depth = doc.projected(k)
                start = time.perf_counter()
                window.image_view.set_mesh(points, doc.result.faces, depth)  # not kept
                app.processEvents()
                only_2d.append((time.perf_counter() - start) * 1000.0)
        result = doc.result
        return {
            "benchmark": "gui", "model": result.model_name,
            "image": str(image) if image is not None else f"sample:{sample}",
            "image_size": list(result.image_size), "window": list(size),
            "vertices": int(doc.current.vertices.shape[0]),
            "faces": int(result.faces.shape[0]), "iterations": count,
            "torch_threads": torch.get_num_threads(),
            "thread_choice": window.worker_thread.threads.as_dict(), "anti_aliasing": False,
            "first_result_ms": {"cold": round(first[0], 1), "warm": round(first[1], 1)},
            # the UI thread while the worker loads and runs the model: gaps of a 5 ms timer
            "event_loop_while_model_runs_ms": {"cold": loop_gaps[0], "warm": loop_gaps[1]},
            "worker_stages_ms": {k: round(v, 1) for k, v in result.timings_ms.items()},
            "scrub": _summary(both), "scrub_first_pass": _summary(both[:len(order)]),
            "scrub_3d_only": _summary(only_3d),
            "scrub_2d_only_uncached": _summary(only_2d), "scrub_steps": len(both),
            "platform": app.platformName(),
        }
