"""The contract between the studio window and a tool: how a method plugs into the window
without editing it.

A tool is made by the window, ``tool = Tool(host)``, with the window as its
:class:`ToolHost`, in the order of :data:`studio.ui.window.tool_list.TOOLS` (adding a
tool adds a line there). The window then asks it once what it contributes:

- :meth:`Tool.panel`: a widget the window shows in a dock titled :attr:`Tool.title`
  (object name ``<name>_dock``, one tab among the tools' docks; ``host.show_panel(tool)``
  brings it to the front) and keeps as ``window.<name>_panel``;
- :meth:`Tool.menu`: a menu of the tool's actions, put in the menu bar before Model;
- :meth:`Tool.exports`: :class:`Export` entries for the File menu (the window asks for
  the file and reports the outcome).

and tells it, as they happen, about the current photo, person and iteration, which it
reads from the :class:`~studio.ui.document.StudioDocument` it is given:

- :meth:`Tool.photo_opened`: a photo (or a rerun) is on its way; the views are cleared;
- :meth:`Tool.person_shown`: a result's person is shown (a new result, another person, a
  live frame);
- :meth:`Tool.iteration_shown`: the scrubber's iteration is shown;
- :meth:`Tool.streaming_changed`: live frames start or stop streaming (draw coarser).

Work on the worker thread goes through ``host.run_job(tool, job)`` with a
:class:`ToolJob`: a function of the models it names (loaded by the worker, by registry
name, on the window's device), whose result (an instance of ``job.result_type``) comes back
to :meth:`Tool.job_finished` on the UI thread, or its error to :meth:`Tool.job_failed`.

A tool draws 2D marks with ``host.image_view.set_marks(key, points, colour)`` (a skeleton
with ``bones=`` index pairs) and adds 3D actors with
``host.mesh_view.set_tool_mesh(key, mesh, **style)`` (both: None removes).

Every hook has a do-nothing default, so a tool overrides only what it uses; ``Tool`` is
a plain class, so a ``QObject`` can be a tool too (``class T(QObject, Tool)``).
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, Protocol, TypeVar

from studio.ui.worker.jobs import ToolJob

if TYPE_CHECKING:
    from PySide6.QtCore import SignalInstance
    from PySide6.QtWidgets import QComboBox, QMenu, QMenuBar, QStatusBar, QWidget

    from studio.ui.document import StudioDocument
    from studio.ui.views.image_view import ImageView
    from studio.ui.views.mesh_view import MeshView
    from studio.ui.views.scrubber import IterationScrubber
    from studio.ui.window.settings import StudioSettings
    from studio.ui.worker.worker import PipelineWorker

__all__ = ["Export", "Tool", "ToolHost", "ToolJob"]

T = TypeVar("T", bound="Tool")


@dataclass(frozen=True)
class Export:
    """A File menu entry: ``write(path)`` writes the files and returns them (raising
    :class:`~studio.errors.StudioError` or ``OSError`` to fail)."""

    label: str
    default_name: str
    file_filter: str
    write: Callable[[Path], list[Path]]


class ToolHost(Protocol):
    """What a tool may use of the window."""

    document: StudioDocument | None  # the open photo (or live frame) and its result
    image_view: ImageView
    mesh_view: MeshView
    scrubber: IterationScrubber
    people_box: QComboBox
    worker: PipelineWorker
    settings: StudioSettings  # the device models run on, among others
    model_name: str
    timings_ms: dict[str, float]
    result_shown: SignalInstance  # emitted once the views show a new result

    def statusBar(self) -> QStatusBar: ...  # noqa: N802 (Qt's name)

    def menuBar(self) -> QMenuBar: ...  # noqa: N802 (Qt's name)

    def report_error(self, title: str, message: str) -> None: ...  # tell the user, not blocking

    def run_job(self, tool: Tool, job: ToolJob) -> int: ...  # queue a job; its id

    def tool(self, kind: type[T]) -> T: ...  # the window's tool of that class (made if none)

    # Show results of the tool's own (live frames): make ``document`` the window's, show its
    # person in full (3D scene built anew) or one iteration, rewrite the info panel.
    def take_document(self, document: StudioDocument) -> None: ...

    def show_person(self, reset_camera: bool) -> None: ...

    def show_iteration(self, index: int, announce: bool = True) -> None: ...

    def update_info(self) -> None: ...

    def set_streaming(self, streaming: bool) -> None: ...  # views and tools draw coarser

    def tell_tools(self, hook: str, *args: object) -> None: ...  # call a hook on every tool

    def show_panel(self, tool: Tool) -> None: ...  # the tool's dock tab in front


class Tool:
    """A method's contribution to the studio window. Subclasses set :attr:`name` (and
    :attr:`title` when they have a panel), take the host in ``__init__`` and override
    the hooks they need."""

    name: ClassVar[str] = ""  # identifies the tool: ``<name>_dock``, ``window.<name>_panel``
    title: ClassVar[str] = ""  # the dock's title

    # ------------------------------------------------------------ what it contributes
    def panel(self) -> QWidget | None:
        """The widget shown in the tool's dock; None: no dock."""
        return None

    def menu(self) -> QMenu | None:
        """A menu of the tool's actions; None: no menu."""
        return None

    def exports(self) -> Sequence[Export]:
        """What the tool can write, as File menu entries."""
        return ()

    # ------------------------------------------------------------ what it hears
    def photo_opened(self, document: StudioDocument) -> None:
        """A photo is on its way (no result yet)."""

    def person_shown(self, document: StudioDocument) -> None:
        """``document.current_person`` is shown."""

    def iteration_shown(self, document: StudioDocument) -> None:
        """``document.current`` (iteration ``document.iteration``) is shown."""

    def streaming_changed(self, streaming: bool) -> None:
        """Live frames stream (draw coarser and less often) or stopped."""

    def job_finished(self, job: ToolJob, result: object) -> None:
        """``job``'s result, on the UI thread."""

    def job_failed(self, job: ToolJob, message: str) -> None:
        """``job`` raised; ``message`` says why."""

