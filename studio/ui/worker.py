"""The worker thread that owns the models: it decodes photos, finds people and runs the
mesh regressor, and answers by signal, so the UI thread never waits on a model.

Requests carry increasing ids. A newer request makes older ones stale: the worker drops
them at its next stage boundary (latest wins), and a cancel does the same for one id.
"""
from __future__ import annotations

import os
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PySide6.QtCore import QMetaObject, QObject, Qt, QThread, Signal, Slot

from studio.errors import StudioError
from studio.nets.model_registry import LoadedModel, load_model
from studio.pipeline.images import read_image
from studio.pipeline.people import PersonFinder, TrackingPersonFinder
from studio.pipeline.single_image import run_image

ModelLoader = Callable[[str, str, str | None], LoadedModel]


class Cancelled(Exception):
    """Raised inside the worker when its request was cancelled or superseded."""


@dataclass(frozen=True)
class StreamFrame:
    """Marks a request as a frame of live stream ``stream`` (frames come in order).

    Stream frames follow one person with MediaPipe's video mode, which a new stream id
    restarts, unless ``several_people`` asks for the photo search on every frame (all
    people, several times slower); and they skip the overlay the views draw anyway.
    """

    stream: int
    several_people: bool = False


@dataclass(frozen=True)
class ModelChoice:
    """Which model the worker should use, and where."""

    name: str
    device: str = "cpu"
    checkpoint: str | None = None


class PipelineWorker(QObject):
    """Lives in its own QThread; every slot runs there."""

    image_ready = Signal(int, object)  # request id, decoded RGB image
    progress = Signal(int, str, float)  # request id, stage, fraction done
    model_ready = Signal(str, str)  # model name, one-line description
    finished = Signal(int, object)  # request id, FrameResult
    failed = Signal(int, str, int)  # request id, message for the user, CLI exit code
    cancelled = Signal(int)  # request id

    # request id, Path or image, ModelChoice, StreamFrame or None
    _process = Signal(int, object, object, object)

    def __init__(self, loader: ModelLoader | None = None,
                 finder: PersonFinder | None = None, fit_camera: bool = True) -> None:
        """``loader(name, device, checkpoint)`` loads models (default: the registry);
        ``finder`` is borrowed and left open, else the worker makes and closes its own;
        ``fit_camera`` as for :func:`studio.pipeline.single_image.run_person`."""
        super().__init__()
        self.fit_camera = fit_camera
        self._loader = loader or (lambda name, device, checkpoint:
                                  load_model(name, device, checkpoint))
        self._finder = finder
        self._owns_finder = finder is None
        self._tracking: TrackingPersonFinder | None = None
        self._stream: int | None = None  # the stream the tracking finder follows
        self._model: LoadedModel | None = None
        self._choice: ModelChoice | None = None
        self._latest = 0
        self._cancelled: set[int] = set()
        self._lock = threading.Lock()
        self._process.connect(self._run)

    # ------------------------------------------------------------ called from the UI thread
    def submit(self, request: int, source: Path | np.ndarray, choice: ModelChoice,
               stream: StreamFrame | None = None) -> None:
        """Queue ``source`` (a file or an RGB array; ``stream`` if it is a live frame);
        older requests become stale."""
        with self._lock:
            self._latest = request
        self._process.emit(request, source, choice, stream)

    def abandon(self) -> None:
        """Make every queued or running request stale (the window is closing)."""
        with self._lock:
            self._latest = -1

    def cancel(self, request: int) -> None:
        """Stop ``request`` at its next stage boundary."""
        with self._lock:
            self._cancelled.add(request)

    # ------------------------------------------------------------ in the worker thread
    def _check(self, request: int) -> None:
        with self._lock:
            if request in self._cancelled or request != self._latest:
                raise Cancelled

    def _ensure_model(self, choice: ModelChoice, request: int) -> LoadedModel:
        if self._model is None or self._choice != choice:
            self.progress.emit(request, f"loading {choice.name}", 0.05)
            self._model = None  # free the old weights before loading new ones
            self._model = self._loader(choice.name, choice.device, choice.checkpoint)
            self._choice = choice
            source = self._model.source
            self.model_ready.emit(self._model.name,
                                  f"{self._model.name} ({self._model.input_kind}, "
                                  f"{self._model.input_size} px) from {source}")
        return self._model

    def _finder_for(self, stream: StreamFrame | None) -> PersonFinder | TrackingPersonFinder:
        """The photo search, or MediaPipe following one person through ``stream``."""
        if stream is None or stream.several_people:
            if self._finder is None:
                self._finder = PersonFinder()
            return self._finder
        if self._tracking is None:
            self._tracking = TrackingPersonFinder()
        elif self._stream != stream.stream:
            self._tracking.reset()
        self._stream = stream.stream
        return self._tracking

    @Slot(int, object, object, object)
    def _run(self, request: int, source: Path | np.ndarray, choice: ModelChoice,
             stream: StreamFrame | None) -> None:
        try:
            self._check(request)
            if isinstance(source, np.ndarray):
                image = source
            else:
                self.progress.emit(request, f"reading {Path(source).name}", 0.0)
                image = read_image(source)
            self.image_ready.emit(request, image)
            self._check(request)
            model = self._ensure_model(choice, request)
            self._check(request)
            finder = self._finder_for(stream)

            def report(stage: str, fraction: float) -> None:
                self._check(request)
                self.progress.emit(request, stage, fraction)

            with torch.inference_mode():
                result = run_image(model, image, finder, progress=report,
                                   overlay=stream is None, fit_camera=self.fit_camera)
            self._check(request)
        except Cancelled:
            self.cancelled.emit(request)
        except StudioError as err:
            self.failed.emit(request, str(err), err.exit_code)
        except MemoryError:
            self.failed.emit(request, "out of memory while processing the image", 1)
        except Exception as err:  # noqa: BLE001 (a worker must answer, whatever happened)
            traceback.print_exc()
            self.failed.emit(request, f"unexpected error: {type(err).__name__}: {err}", 1)
        else:
            self.finished.emit(request, result)
        finally:
            with self._lock:
                self._cancelled.discard(request)

    @Slot()
    def shutdown(self) -> None:
        """Release the models and the person finder (in the thread that made them)."""
        if self._finder is not None and self._owns_finder:
            self._finder.close()
            self._finder = None
        if self._tracking is not None:
            self._tracking.close()
            self._tracking = None
        self._model = None


class WorkerThread(QObject):
    """Starts a :class:`PipelineWorker` in its own thread and stops it cleanly."""

    def __init__(self, worker: PipelineWorker, threads: int | None = None) -> None:
        super().__init__()
        self.worker = worker
        self.thread = QThread()
        self.thread.setObjectName("pipeline-worker")
        worker.moveToThread(self.thread)
        # Leave one core to the UI; torch's thread count is process-wide.
        torch.set_num_threads(threads or max(1, (os.cpu_count() or 2) - 1))
        self.thread.start()

    def stop(self) -> None:
        """Make any running request stale, release the models in their own thread, and
        end the thread (a request ends at its next stage boundary first)."""
        if not self.thread.isRunning():
            return
        self.worker.abandon()
        QMetaObject.invokeMethod(self.worker, "shutdown",
                                 Qt.ConnectionType.BlockingQueuedConnection)
        self.thread.quit()
        self.thread.wait()
