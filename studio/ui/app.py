"""Starting the Qt application: the studio window or the body model explorer, either
interactive or scripted (reach a state, save a picture of the window, quit)."""
from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QMainWindow, QMessageBox

from studio.body.model import BodyData
from studio.errors import ModelFileError, StudioError
from studio.pipeline.samples import DEFAULT_SAMPLE
from studio.ui.views.window_capture import save_window_png

STYLE_SHEET = Path(__file__).resolve().parents[2] / "resources" / "style.qss"
# Time for the window to be exposed and drawn once before it is captured.
FIRST_RENDER_DELAY_MS = 300


def load_body_data(spec: str | None) -> BodyData:
    """The body model named by ``spec`` (None: the registry's default)."""
    try:
        registry = importlib.import_module("studio.body.registry")
    except ModuleNotFoundError as err:
        if err.name != "studio.body.registry":
            raise
        raise ModelFileError("no body model registry (studio.body.registry) is installed, "
                             "so no body model can be loaded") from err
    return registry.find_body_model(spec)


def application() -> QApplication:
    """The running QApplication, created (with the studio's look) when there is none."""
    app = QApplication.instance()
    if app is None:
        app = QApplication(sys.argv[:1])
        app.setApplicationName("Human Mesh Studio")
        app.setOrganizationName("Human Mesh Studio")
        app.setStyle("Fusion")
        if STYLE_SHEET.is_file():
            app.setStyleSheet(STYLE_SHEET.read_text(encoding="utf-8"))
    return app


@dataclass
class Script:
    """An unattended run: save the window to ``screenshot`` and/or quit once it is ready."""

    screenshot: Path | None = None
    quit_after: bool = False

    @property
    def unattended(self) -> bool:
        return self.screenshot is not None or self.quit_after


def _finish(app: QApplication, window: QMainWindow, script: Script,
            failure: list[StudioError]) -> None:
    """After one more render, save the picture and quit, as the script asks. A picture
    that cannot be written ends a ``quit_after`` run with the error in ``failure``
    (raised once the event loop is over); otherwise it is said in one line."""
    def done() -> None:
        if script.screenshot is not None:
            try:
                print(f"wrote {save_window_png(window, script.screenshot)}")
            except (StudioError, OSError) as err:
                error = err if isinstance(err, StudioError) else StudioError(
                    f"{script.screenshot}: cannot write the screenshot ({err})")
                if script.quit_after:
                    failure.append(error)
                else:  # the window stays open
                    print(f"studio: error: {error}", file=sys.stderr)
        if script.quit_after:
            window.close()
            app.quit()

    QTimer.singleShot(FIRST_RENDER_DELAY_MS, done)


def _exec(app: QApplication, window: QMainWindow, failure: list[StudioError]) -> None:
    """Run the event loop until the window closes; then raise the first of ``failure``
    (what ended an unattended run)."""
    app.exec()
    window.close()
    window.deleteLater()
    if failure:
        raise failure[0]


def run_body_viewer(model: str | None = None, script: Script | None = None) -> int:
    """The body model explorer. Unattended runs raise model errors for the CLI to print;
    interactive runs show them in a message box."""
    from studio.ui.body.window import BodyWindow

    script = script or Script()
    app = application()
    try:
        data = load_body_data(model)
    except StudioError as err:
        if script.unattended:
            raise
        QMessageBox.critical(None, "Human Mesh Studio", str(err))
        return err.exit_code
    window = BodyWindow(data)
    window.show()
    failure: list[StudioError] = []
    if script.unattended:
        _finish(app, window, script, failure)
    _exec(app, window, failure)
    return 0


@dataclass
class StudioState:
    """Where a scripted studio run should be before its picture is taken."""

    iteration: int | None = None  # None: the final iteration
    person: int = 0
    look_through: bool = False
    movement: bool = False

    def missing(self, people: int, iterations: int) -> str:
        """What of this state a result of ``people`` people with ``iterations``
        iterations each does not have, in one line ('' when it has it all)."""
        if not 0 <= self.person < people:
            found = "1 person was" if people == 1 else f"{people} people were"
            return f"--person {self.person}: {found} found (numbered from 0)"
        if self.iteration is not None and not 0 <= self.iteration < iterations:
            return (f"--iteration {self.iteration}: the result has iterations 0 to "
                    f"{iterations - 1}")
        return ""


def run_studio(image: Path | None = None, sample: str | None = None, model: str | None = None,
               state: StudioState | None = None, script: Script | None = None,
               window_hook: Callable[[QMainWindow], None] | None = None,
               fit_camera: bool = True, checkpoint: Path | None = None,
               max_people: int | None = None, threads: int | None = None) -> int:
    """The studio window on ``image`` (else ``sample``, else the default sample);
    ``fit_camera`` as for :func:`studio.pipeline.single_image.run_person`; ``checkpoint``:
    a weights file for the named ``model``; ``max_people`` and ``threads`` (torch's CPU
    threads) as :class:`~studio.ui.worker.worker.PipelineWorker` takes them.

    Unattended runs wait for the result, go to ``state``, and raise the worker's error
    (with its exit code) if the photo could not be processed, or a StudioError when the
    result has no such person or iteration (interactive runs show the nearest, and say so).
    """
    from studio.ui.window.studio_window import StudioWindow
    from studio.ui.worker.worker import PipelineWorker

    script, state = script or Script(), state or StudioState()
    app = application()
    options = {"max_people": max_people} if max_people else {}
    window = StudioWindow(model=model, checkpoint=str(checkpoint) if checkpoint else None,
                          worker=PipelineWorker(fit_camera=fit_camera, threads=threads,
                                                **options))
    if window_hook is not None:
        window_hook(window)
    window.show()
    failure: list[StudioError] = []

    def on_result() -> None:
        window.result_shown.disconnect(on_result)  # the state is the first result's
        doc = window.document
        missing = state.missing(doc.people_count, doc.iteration_count)
        if missing and script.unattended:
            on_failure(missing, StudioError.exit_code)
            return
        if missing:
            window.notify("Not in this result", f"{missing}; the nearest is shown.")
        window.select_person(min(max(state.person, 0), doc.people_count - 1))
        if state.iteration is not None:
            window.scrubber.set_value(state.iteration)  # clamped
        window.scrubber.movement_box.setChecked(state.movement)
        if state.look_through:
            window.mesh_view.look_through_camera()
        if script.unattended:
            _finish(app, window, script, failure)

    def on_failure(message: str, exit_code: int) -> None:
        if script.unattended:
            error = StudioError(message)
            error.exit_code = exit_code
            failure.append(error)
            window.close()
            app.quit()

    window.result_shown.connect(on_result)
    window.request_failed.connect(on_failure)
    if image is not None:
        window.open_file(image)
    else:
        window.open_sample(sample or DEFAULT_SAMPLE)
    _exec(app, window, failure)
    return 0
