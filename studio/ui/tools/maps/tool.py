"""The Maps dock as a tool: it shows the shown person's maps and the shown iteration's
pyramid level, and follows live frames less often."""
from __future__ import annotations

from typing import TYPE_CHECKING

from studio.ui.tools.contract import Tool, ToolHost
from studio.ui.tools.maps.panel import MapsPanel

if TYPE_CHECKING:
    from studio.ui.document import StudioDocument


class MapsTool(Tool):
    name = "maps"
    title = "Maps"

    def __init__(self, host: ToolHost) -> None:
        self.view = MapsPanel()

    def panel(self) -> MapsPanel:
        return self.view

    def photo_opened(self, document: StudioDocument) -> None:
        self.view.clear()

    def person_shown(self, document: StudioDocument) -> None:
        person = document.current_person
        self.view.set_person(person.crop_rgb, person.landmark_maps, person.dense,
                             align_corners=person.crop.align_corners)

    def iteration_shown(self, document: StudioDocument) -> None:
        it = document.current
        self.view.set_iteration(document.iteration, it.pyramid_map, it.sample_points)

    def streaming_changed(self, streaming: bool) -> None:
        self.view.set_streaming(streaming)
