"""Showing live results in the studio window's views at frame rate.

The window's photo path builds the 3D scene anew for every result (new actors, a new
backdrop, the camera framed again): about 200 ms of UI thread per result on software
GL, and the user's 3D camera is reset each time. Live results build the scene once, for
the first result, and after that only move the body and swap the photos in place, so
the event loop stays responsive and the 3D camera stays where the user put it.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import numpy as np

from studio.pipeline.results import FrameResult
from studio.ui.document import StudioDocument
from studio.ui.views.mesh_view import MeshView

if TYPE_CHECKING:
    from studio.ui.tools.contract import ToolHost


@contextmanager
def quiet_renders(view: MeshView) -> Iterator[None]:
    """Inside, ``view`` renders only when Qt paints it: pyvista renders at once for every
    actor added otherwise (eight renders for one new body and its backdrop)."""
    plotter = view.plotter
    before = plotter.suppress_rendering
    plotter.suppress_rendering = True
    try:
        yield
    finally:
        plotter.suppress_rendering = before


class LiveView:
    """Puts live results into ``window``'s document and views."""

    def __init__(self, window: ToolHost) -> None:
        self.window = window
        self.document: StudioDocument | None = None  # the live one, once shown
        self._info_stale = False  # results came since the info panel was written

    @property
    def in_window(self) -> bool:
        """The window shows the live document (not a photo opened since)."""
        return self.document is not None and self.window.document is self.document

    def show(self, image: np.ndarray, result: FrameResult, labels: list[str],
             title: str) -> None:
        """Show frame ``image`` and its ``result``; ``labels`` name its people for the
        person chooser (largest first, as the result has them)."""
        box = self.window.people_box
        if [box.itemText(k) for k in range(box.count())] != labels:  # a repaint otherwise
            box.blockSignals(True)
            box.clear()
            box.addItems(labels)
            box.blockSignals(False)
        if self.in_window:
            self._update(image, result)
        else:
            self._build(image, result, title)
        self.window.result_shown.emit()

    def show_nobody(self, image: np.ndarray) -> None:
        """A frame with nobody found: the photo alone in 2D; 3D keeps the last body."""
        if self.in_window:
            self.window.image_view.set_image(image, fit=False)

    def refresh_info(self) -> None:
        """Rewrite the info panel for the newest result (called a few times a second,
        not per frame: each rewrite repaints the panel)."""
        if self._info_stale and self.in_window:
            self._info_stale = False
            self.window.update_info()

    def _build(self, image: np.ndarray, result: FrameResult, title: str) -> None:
        """The first result: the window's own full path, framing the 3D view."""
        win = self.window
        doc = StudioDocument(image=image, title=title)
        doc.set_result(result)
        self.document = doc
        win.take_document(doc)
        win.image_view.set_image(image)
        with quiet_renders(win.mesh_view):
            win.show_person(reset_camera=True)  # the window's one full path

    def _update(self, image: np.ndarray, result: FrameResult) -> None:
        """A later result: same body topology, so everything is updated in place."""
        win, doc = self.window, self.document
        doc.image = image
        doc.set_result(result)
        win.timings_ms = dict(result.timings_ms)
        self._info_stale = True
        person = doc.current_person
        if win.image_view.set_frame(image):  # the overlays follow, replaced in place
            win.image_view.fit()
        win.image_view.set_people(doc.boxes(), doc.person)
        win.image_view.set_keypoints(person.person.landmarks, person.person.visibility)
        win.tell_tools("person_shown", doc)
        win.mesh_view.update_photo(image)
        win.scrubber.set_count(doc.iteration_count, doc.iteration, doc.has_refined,
                              doc.refined_kept)
        win.show_iteration(doc.iteration, announce=False)  # moves the body in both views
