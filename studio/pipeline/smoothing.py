"""Temporal smoothing of per-frame estimates, so live meshes do not jitter.

The One-Euro filter (Casiez, Roussel and Vogel, CHI 2012) is a low-pass filter whose
cutoff rises with the signal's speed: slow, jittery motion is smoothed hard, fast motion
follows with little lag. ``min_cutoff`` (Hz) sets the smoothing at rest, ``beta`` how
fast the cutoff rises with speed, ``d_cutoff`` (Hz) the smoothing of the speed estimate.

Rotations are filtered as unit quaternions kept on one hemisphere from frame to frame:
axis-angle jumps where the angle crosses pi (v and -v(2pi-|v|)/|v| are one rotation), so
averaging axis-angle numbers would blend two distant vectors into a wrong rotation.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
from scipy.spatial.transform import Rotation

from studio.pipeline.tracking import TrackedPerson


def smoothing_factor(cutoff: np.ndarray | float, dt: float) -> np.ndarray | float:
    """Exponential smoothing weight of a new sample for a first-order low-pass filter
    with ``cutoff`` Hz sampled every ``dt`` seconds."""
    tau = 1.0 / (2.0 * np.pi * cutoff)
    return 1.0 / (1.0 + tau / dt)


class OneEuroFilter:
    """One-Euro filter over arrays of any fixed shape, element by element."""

    def __init__(self, min_cutoff: float = 1.0, beta: float = 0.0,
                 d_cutoff: float = 1.0) -> None:
        self.min_cutoff, self.beta, self.d_cutoff = min_cutoff, beta, d_cutoff
        self._value: np.ndarray | None = None
        self._speed: np.ndarray | None = None
        self._time = 0.0

    def reset(self) -> None:
        """Forget the past: the next sample passes unchanged."""
        self._value = self._speed = None

    def __call__(self, value: np.ndarray, t: float) -> np.ndarray:
        """The filtered ``value`` observed at time ``t`` seconds (increasing)."""
        value = np.asarray(value, np.float64)
        if self._value is None:
            self._value, self._speed, self._time = value.copy(), np.zeros_like(value), t
            return value.copy()
        dt = t - self._time
        if dt <= 0:  # no time has passed: nothing new to weigh
            return self._value.copy()
        speed = (value - self._value) / dt
        self._speed += smoothing_factor(self.d_cutoff, dt) * (speed - self._speed)
        cutoff = self.min_cutoff + self.beta * np.abs(self._speed)
        self._value = self._value + smoothing_factor(cutoff, dt) * (value - self._value)
        self._time = t
        return self._value.copy()


@dataclass(frozen=True)
class SmoothingSettings:
    """Off by default: smoothing trades a little lag for steadiness, a choice per use."""

    enabled: bool = False
    min_cutoff: float = 1.0  # Hz
    beta: float = 0.5
    d_cutoff: float = 1.0  # Hz


class _TrackFilters:
    """One person's filters: pose quaternions, betas, crop camera and translation."""

    def __init__(self, settings: SmoothingSettings) -> None:
        def make() -> OneEuroFilter:
            return OneEuroFilter(settings.min_cutoff, settings.beta, settings.d_cutoff)

        self.pose, self.betas, self.cam, self.translation = make(), make(), make(), make()
        self.last_quats: np.ndarray | None = None


class PoseSmoother:
    """Smooths each tracked person's parameters over time, one filter set per track id."""

    def __init__(self, settings: SmoothingSettings = SmoothingSettings()) -> None:
        self.settings = settings
        self._tracks: dict[int, _TrackFilters] = {}

    def forget(self, track_id: int) -> None:
        """Drop a retired track's filters."""
        self._tracks.pop(track_id, None)

    def __call__(self, person: TrackedPerson, t: float) -> TrackedPerson:
        """``person`` with smoothed pose, betas, camera and translation (itself when off)."""
        if not self.settings.enabled:
            return person
        filters = self._tracks.setdefault(person.track_id, _TrackFilters(self.settings))
        quats = Rotation.from_rotvec(person.pose.reshape(24, 3).astype(np.float64)).as_quat()
        if filters.last_quats is not None:  # the same rotation on the previous hemisphere
            quats *= np.where((quats * filters.last_quats).sum(1, keepdims=True) < 0, -1, 1)
        smoothed = filters.pose(quats, t)
        smoothed /= np.linalg.norm(smoothed, axis=1, keepdims=True)
        filters.last_quats = smoothed
        pose = Rotation.from_quat(smoothed).as_rotvec().reshape(72)
        return dataclasses.replace(
            person, pose=pose.astype(np.float32),
            betas=filters.betas(person.betas, t).astype(np.float32),
            cam=filters.cam(person.cam, t).astype(np.float32),
            translation=filters.translation(person.translation, t).astype(np.float32))
