"""The worker thread that owns the models: it decodes photos, finds people and runs the
mesh regressor, and answers by signal, so the UI thread never waits on a model.

Requests carry increasing ids. A newer request makes older ones stale: the worker drops
them at its next stage boundary (latest wins), and a cancel does the same for one id.
Frames of one live stream do not supersede each other (the capture thread keeps at most
two in flight); they pass through a :class:`~studio.ui.worker.detect_stage.DetectStage` that
finds the person in one frame while the model runs on the one before.
"""
from __future__ import annotations

import threading
import traceback
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from PySide6.QtCore import QMetaObject, QObject, Qt, QThread, Signal, Slot

from studio.errors import StudioError
from studio.nets.model_registry import LoadedModel, load_model
from studio.pipeline.images import read_image
from studio.pipeline.overlay import STREAM_FILL_SIDE
from studio.pipeline.people import MAX_PEOPLE, PersonFinder
from studio.pipeline.single_image import run_image, run_people
from studio.pipeline.threads import apply_threads
from studio.ui.worker import heap
from studio.ui.worker.detect_stage import DetectStage
from studio.ui.worker.jobs import ModelChoice, StreamFrame, ToolJob
from studio.ui.worker.thread_priority import lower_this_thread

ModelLoader = Callable[[str, str, str | None], LoadedModel]


class Cancelled(Exception):
    """Raised inside the worker when its request was cancelled or superseded."""


class PipelineWorker(QObject):
    """Lives in its own QThread; every slot runs there."""

    image_ready = Signal(int, object)  # request id, decoded RGB image
    progress = Signal(int, str, float)  # request id, stage, fraction done
    model_ready = Signal(str, str)  # model name, one-line description
    # stream request id: its model is done and the next frame may start (its fill is
    # drawn meanwhile); emitted before ``finished``
    released = Signal(int)
    finished = Signal(int, object)  # request id, FrameResult
    failed = Signal(int, str, int)  # request id, message for the user, CLI exit code
    cancelled = Signal(int)  # request id
    job_finished = Signal(int, object)  # job request id, the ToolJob's result
    job_failed = Signal(int, str)  # job request id, message for the user

    # request id, Path or image, ModelChoice, StreamFrame or None
    _process = Signal(int, object, object, object)
    _job = Signal(int, object, str)  # job request id, ToolJob, device

    def __init__(self, loader: ModelLoader | None = None,
                 finder: PersonFinder | None = None, fit_camera: bool = True,
                 max_people: int = MAX_PEOPLE, threads: int | None = None) -> None:
        """``loader(name, device, checkpoint)`` loads models (default: the registry);
        ``finder`` is borrowed and left open, else the worker makes and closes its own;
        ``fit_camera`` as for :func:`studio.pipeline.single_image.run_person`;
        ``max_people``: at most this many people per photo; ``threads``: torch's CPU
        threads (None: :class:`WorkerThread` chooses)."""
        super().__init__()
        self.fit_camera = fit_camera
        # refinement (studio.pipeline.refine): on for photos, off for live frames
        self.refine_photos, self.refine_live = True, False
        self.max_people = max_people
        self.threads = threads
        self.stream_fill = True  # draw live frames' filled 2D mesh (the view shows it filled)
        self._loader = loader or (lambda name, device, checkpoint:
                                  load_model(name, device, checkpoint))
        self._finder = finder
        self._owns_finder = finder is None
        self._detect: DetectStage | None = None  # made at the first stream frame
        self._model: LoadedModel | None = None
        self._choice: ModelChoice | None = None
        self._job_models: dict[ModelChoice, LoadedModel] = {}  # tools' jobs' models
        self._latest: tuple = ("photo", 0)  # what a request must be not to be stale
        self._cancelled: set[int] = set()
        self._lock = threading.Lock()
        self._process.connect(self._run)
        self._job.connect(self._run_job)

    # ------------------------------------------------------------ called from the UI thread
    def submit(self, request: int, source: Path | np.ndarray, choice: ModelChoice,
               stream: StreamFrame | None = None) -> None:
        """Queue ``source`` (a file or an RGB array; ``stream`` if it is a live frame);
        older requests become stale, except earlier frames of the same stream."""
        with self._lock:
            self._latest = self._key(request, stream)
            if stream is not None and self._detect is None:
                self._detect = DetectStage(self._process.emit, self._stale, self.failed.emit)
            detect = self._detect  # shutdown may clear it meanwhile
        if stream is None:
            self._process.emit(request, source, choice, stream)
        else:
            detect.put(request, source, choice, stream)

    def submit_job(self, request: int, job: ToolJob, device: str = "cpu") -> None:
        """Run a tool's ``job`` after the requests queued before it; it answers with
        ``job_finished`` or ``job_failed``. Jobs never make photo or live requests stale."""
        self._job.emit(request, job, device)

    def abandon(self) -> None:
        """Make every queued or running request stale (the window is closing)."""
        with self._lock:
            self._latest = ("abandoned",)

    def cancel(self, request: int) -> None:
        """Stop ``request`` at its next stage boundary."""
        with self._lock:
            self._cancelled.add(request)

    @staticmethod
    def _key(request: int, stream: StreamFrame | None) -> tuple:
        return ("photo", request) if stream is None else ("stream", stream.stream)

    def _stale(self, request: int, stream: StreamFrame | None) -> bool:
        """Cancelled, or superseded by a newer photo or another stream (any thread)."""
        with self._lock:
            return request in self._cancelled or self._key(request, stream) != self._latest

    # ------------------------------------------------------------ in the worker thread
    def _check(self, request: int, stream: StreamFrame | None) -> None:
        if self._stale(request, stream):
            raise Cancelled

    def _ensure_model(self, choice: ModelChoice, request: int) -> LoadedModel:
        if self._model is None or self._choice != choice:
            self.progress.emit(request, f"loading {choice.name}", 0.05)
            self._model = None  # free the old weights before loading new ones
            self._model = self._loader(choice.name, choice.device, choice.checkpoint)
            self._model.traced = True  # the worker runs many crops, next to the UI thread
            self._choice = choice
            source = self._model.source
            self.model_ready.emit(self._model.name,
                                  f"{self._model.name} ({self._model.input_kind}, "
                                  f"{self._model.input_size} px) from {source}")
        return self._model

    def _photo_finder(self) -> PersonFinder:
        if self._finder is None:
            self._finder = PersonFinder()
        return self._finder

    @Slot(int, object, object, object)
    def _run(self, request: int, source: Path | np.ndarray, choice: ModelChoice,
             stream: StreamFrame | None) -> None:
        try:
            self._check(request, stream)
            if isinstance(source, np.ndarray):
                image = source
            else:
                self.progress.emit(request, f"reading {Path(source).name}", 0.0)
                image = read_image(source)
            self.image_ready.emit(request, image)
            self._check(request, stream)
            model = self._ensure_model(choice, request)
            self._check(request, stream)

            def report(stage: str, fraction: float) -> None:
                self._check(request, stream)
                self.progress.emit(request, stage, fraction)

            options = {"progress": report, "overlay": stream is None,
                       "fit_camera": self.fit_camera,
                       "refine": self.refine_photos if stream is None else self.refine_live,
                       "fill_side": (STREAM_FILL_SIDE if stream is not None and self.stream_fill
                                     else None),
                       "model_done": (None if stream is None else
                                      lambda: self.released.emit(request))}
            found = None if stream is None else stream.found
            with torch.inference_mode():
                if found is None:
                    result = run_image(model, image, self._photo_finder(), self.max_people,
                                       **options)
                else:
                    result = run_people(model, image, found.people, found.timings_ms,
                                        **options)
            self._check(request, stream)
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

    @Slot(int, object, str)
    def _run_job(self, request: int, job: ToolJob, device: str) -> None:
        try:
            models = {name: self._job_model(ModelChoice(name, device)) for name in job.models}
            with torch.inference_mode():
                result = job.run(models)
            if not isinstance(result, job.result_type):
                raise StudioError(f"{job.label} gave a {type(result).__name__}, not the "
                                  f"{job.result_type.__name__} it promised")
        except StudioError as err:
            self.job_failed.emit(request, str(err))
        except Exception as err:  # noqa: BLE001 (a worker must answer, whatever happened)
            traceback.print_exc()
            self.job_failed.emit(request, f"{job.label}: {type(err).__name__}: {err}")
        else:
            self.job_finished.emit(request, result)

    def _job_model(self, choice: ModelChoice) -> LoadedModel:
        """The photo's model when it is the one asked for, else one loaded for jobs."""
        if self._model is not None and self._choice == choice:
            return self._model
        if choice not in self._job_models:
            self._job_models[choice] = self._loader(choice.name, choice.device, None)
        return self._job_models[choice]

    @Slot()
    def shutdown(self) -> None:
        """Release the models and the person finders (each in the thread that made it)."""
        if self._finder is not None and self._owns_finder:
            self._finder.close()
            self._finder = None
        with self._lock:
            detect, self._detect = self._detect, None
        if detect is not None:
            detect.close()
        self._model = None
        self._job_models.clear()


class WorkerThread(QObject):
    """Starts a :class:`PipelineWorker` in its own thread and stops it cleanly. While it
    runs, garbage is collected on the UI thread only (:mod:`studio.ui.worker.heap`)."""

    def __init__(self, worker: PipelineWorker, threads: int | None = None) -> None:
        super().__init__()
        self.worker = worker
        self.thread = QThread()
        self.thread.setObjectName("pipeline-worker")
        worker.moveToThread(self.thread)
        # Leave one core to the UI; torch's thread count is process-wide.
        self.threads = apply_threads(threads or worker.threads or 0, reserved=1)
        heap.ui_thread_collector.hold()
        self.thread.started.connect(lower_this_thread, Qt.ConnectionType.DirectConnection)
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
        heap.ui_thread_collector.release()
