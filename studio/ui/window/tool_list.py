"""The tools the studio window is assembled with, in order (:mod:`studio.ui.tools.contract`):
adding a method's tool adds a line here, not code in the window."""
from __future__ import annotations

from studio.ui.live.controller import LiveController
from studio.ui.tools.maps.tool import MapsTool
from studio.ui.tools.pointhmr.tool import PointHMRTool
from studio.ui.tools.poseaug.tool import PoseAugTool
from studio.ui.tools.scenepose.tool import ScenePoseTool

# Live first: a photo being opened pauses live frames before the other tools hear of it.
TOOLS = (LiveController, MapsTool, ScenePoseTool, PointHMRTool, PoseAugTool)
