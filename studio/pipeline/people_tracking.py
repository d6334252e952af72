"""Who is who across frames: track ids and (optionally) smoothed parameters for each
processed frame's people, for ``studio capture`` and the studio's live mode alike.

Frames are processed out of the source's pace (some are dropped), so the smoother is
given each frame's own timestamp, never a fixed rate.
"""
from __future__ import annotations

from collections.abc import Sequence

from studio.pipeline.results import PersonResult
from studio.pipeline.smoothing import PoseSmoother, SmoothingSettings
from studio.pipeline.sources import Frame
from studio.pipeline.tracking import TrackedPerson, Tracker, default_focal


class PeopleTracker:
    """Feed it every processed frame, empty ones too (a track survives a few misses)."""

    def __init__(self, smoothing: SmoothingSettings = SmoothingSettings(),
                 focal: float | None = None) -> None:
        """``focal``: the fixed camera translations are expressed in (default: each
        frame's own, from its size)."""
        self.tracker = Tracker()
        self.smoother = PoseSmoother(smoothing)
        self.focal = focal

    def update(self, people: Sequence[PersonResult], frame: Frame) -> list[TrackedPerson]:
        """This frame's people with their track ids, in the order given."""
        ids = self.tracker.update([p.person.extent for p in people])
        for track_id in self.tracker.retired:
            self.smoother.forget(track_id)
        size = frame.image.shape[1::-1]
        focal = self.focal or default_focal(size)
        return [self.smoother(TrackedPerson.from_result(p, i, size, focal), frame.timestamp)
                for p, i in zip(people, ids)]
