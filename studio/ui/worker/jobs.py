"""What the worker is asked to do, without Qt: which model (:class:`ModelChoice`), whether
a request is a live stream's frame (:class:`StreamFrame`), who the detect stage found in
it (:class:`Found`), and a tool's own work (:class:`ToolJob`). The worker and its detect
stage both import these, and neither imports the other's module for them.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from studio.pipeline.people import Person

if TYPE_CHECKING:
    from studio.nets.model_registry import LoadedModel


@dataclass(frozen=True)
class Found:
    """Who the detect stage found in a frame, and its timing (``detect``, ms)."""

    people: list[Person]
    timings_ms: dict[str, float]


@dataclass(frozen=True)
class StreamFrame:
    """Marks a request as a frame of live stream ``stream`` (frames come in order).

    Stream frames follow one person with MediaPipe's video mode, which a new stream id
    restarts, unless ``several_people`` asks for the photo search on every frame (all
    people, several times slower); they skip the full-resolution overlay, and the worker
    draws the 2D view's filled mesh for them (coarse, as the view draws while streaming).
    ``found`` is set by the detect stage on the way to the model.
    """

    stream: int
    several_people: bool = False
    found: Found | None = None


@dataclass(frozen=True)
class ModelChoice:
    """Which model the worker should use, and where."""

    name: str
    device: str = "cpu"
    checkpoint: str | None = None


@dataclass(frozen=True)
class ToolJob:
    """Work a tool asks of the worker thread (:mod:`studio.ui.tools.contract`).

    ``run(models)`` runs there, given the models named in ``models`` loaded by the worker
    (registry names or files, on the window's device) as ``{name: LoadedModel}``; it
    returns an instance of ``result_type``, which the tool gets back on the UI thread.
    Inputs (the photo, a person) travel in ``run``'s closure.
    """

    run: Callable[[Mapping[str, LoadedModel]], object]
    models: tuple[str, ...] = ()
    result_type: type = object
    label: str = "tool job"  # names the job in error messages
