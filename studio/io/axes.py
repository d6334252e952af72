"""The one axis change every exporter makes: the pipeline's camera axes (x right, y down,
z away from the camera) to the y-up axes of glTF and BVH (x right, y up, z towards the
viewer), in which a body filmed upright stands upright: half a turn about x, its own
inverse."""
from __future__ import annotations

import numpy as np

TURN_X = np.diag([1.0, -1.0, -1.0])  # as a matrix: y_up = TURN_X @ camera
Y_UP = np.array([1.0, -1.0, -1.0])  # per coordinate: points [..., 3] * Y_UP
HALF_TURN_ABOUT_X = [1.0, 0.0, 0.0, 0.0]  # as a glTF quaternion (x, y, z, w)
