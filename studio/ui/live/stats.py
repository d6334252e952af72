"""Live capture's numbers: frames read, processed, dropped and damaged, the processed
frame rate, and the latency from reading a frame to its result on screen.

Qt-free, so the status bar and the benchmark read the same numbers. Only recent
latencies and result times are kept: a live session may run for hours.

Writers: the capture thread counts ``read``, ``replaced`` and ``corrupt``; the UI thread
everything else. Each counter has one writer, so plain ints are enough.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import numpy as np

FPS_SPAN_S = 2.0  # the frame rate shown is measured over this recent span
RECENT = 1024  # latencies kept for the percentiles


@dataclass
class LiveStats:
    """Counts since the source was started (a reconnect keeps counting)."""

    read: int = 0
    processed: int = 0  # frames the worker answered: a result or nobody found
    replaced: int = 0  # frames a newer one replaced before the worker took them
    cancelled: int = 0  # frames the worker dropped for a photo opened meanwhile
    corrupt: int = 0  # damaged frames the source skipped
    no_person: int = 0
    superseded: int = 0  # answers a newer one replaced before they were drawn
    latencies_ms: deque[float] = field(default_factory=lambda: deque(maxlen=RECENT))
    _shown_at: deque[float] = field(default_factory=deque, repr=False)

    @property
    def dropped(self) -> int:
        """Frames read but never processed."""
        return self.replaced + self.cancelled

    def shown(self, read_at: float, now: float) -> None:
        """A result is on screen at ``now`` for the frame read at ``read_at``
        (``time.perf_counter`` seconds)."""
        self.latencies_ms.append((now - read_at) * 1000.0)
        self._shown_at.append(now)
        self._forget_before(now)

    def _forget_before(self, now: float) -> None:
        while self._shown_at and self._shown_at[0] < now - FPS_SPAN_S:
            self._shown_at.popleft()

    def fps(self, now: float) -> float:
        """Results shown per second over the last :data:`FPS_SPAN_S` seconds."""
        self._forget_before(now)
        if len(self._shown_at) < 2:
            return 0.0
        return (len(self._shown_at) - 1) / max(self._shown_at[-1] - self._shown_at[0], 1e-9)

    def latency_ms(self, percentile: float = 50.0) -> float | None:
        """A percentile of the recent latencies; None before the first result."""
        if not self.latencies_ms:
            return None
        return float(np.percentile(np.fromiter(self.latencies_ms, float), percentile))

    def text(self, now: float) -> str:
        """The status bar's line, e.g. "12.3 fps · latency 85 ms · dropped 4"."""
        latency = self.latency_ms()
        parts = [f"{self.fps(now):.1f} fps",
                 "latency \N{EN DASH}" if latency is None else f"latency {latency:.0f} ms",
                 f"dropped {self.dropped}"]
        if self.corrupt:
            parts.append(f"corrupt {self.corrupt}")
        return " \N{MIDDLE DOT} ".join(parts)
