"""Off-screen picture of a body model: front and side views of a few poses in one PNG.

Used to check a body model by eye (and by tests) without opening a window; it needs
no Qt, only pyvista rendering off screen.
"""
from __future__ import annotations

import io
import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pyvista as pv
from PIL import Image

from studio.body.model import BodyData
from studio.body.storage import atomic_write_bytes
from studio.ui.views.body_scene import BodyScene, fit_camera, plain_theme
from studio.ui.body.state import BodyState, Pose, pose_presets

VIEWS = ("front", "side")


def default_poses() -> dict[str, Pose]:
    """The rest pose and one posed example (``walk``, else the first non-rest preset)."""
    presets = pose_presets()
    name = "walk" if "walk" in presets else next((n for n in presets if n != "rest"), "rest")
    return {"rest": {}, name: presets.get(name, {})}


def render_body_grid(data: BodyData, out_path: str | os.PathLike,
                     size: tuple[int, int] = (1600, 1200),
                     poses: Mapping[str, Pose] | None = None, ground: bool = True) -> Path:
    """Render one row per pose (default: rest and walk), front and side, into a PNG.

    The file is replaced atomically, so a reader never sees half an image.
    """
    poses = default_poses() if poses is None else dict(poses)
    if not poses:
        raise ValueError("render_body_grid needs at least one pose")
    out_path = Path(out_path)
    state = BodyState(data)
    rows = len(poses)
    width, height = int(size[0]), int(size[1])
    aspect = (width / len(VIEWS)) / (height / rows)
    plotter = pv.Plotter(off_screen=True, shape=(rows, len(VIEWS)), window_size=[width, height],
                         theme=plain_theme(), border=True, border_color="#d3d7dd", lighting="light kit")
    try:
        for row, (title, pose) in enumerate(poses.items()):
            state.set_pose(pose)
            vertices, joints = state.evaluate()
            scene = BodyScene.build(vertices, joints, state.faces, state.parents,
                                    state.part_labels)
            for col, view in enumerate(VIEWS):
                plotter.subplot(row, col)
                scene.add_to(plotter, skeleton=True, ground=ground)
                plotter.add_text(f"{title} - {view}", position="upper_edge",
                                 font_size=max(8, height // (60 * rows)))
                fit_camera(plotter.camera, np.vstack([vertices, joints]), view, aspect)
                plotter.renderer.ResetCameraClippingRange()
        image = plotter.screenshot(None, return_img=True)
    finally:
        plotter.close()
    buffer = io.BytesIO()
    Image.fromarray(np.asarray(image)[:, :, :3]).save(buffer, format="PNG")
    out_path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(out_path, buffer.getvalue())
    return out_path


def silhouette_fraction(png_path: str | os.PathLike,
                        box: tuple[int, int, int, int] | None = None,
                        tolerance: int = 12) -> float:
    """Fraction of pixels (inside ``box`` = x0, y0, x1, y1) that differ from the background.

    The background is the most common colour on a ring a few pixels inside the edge
    (the edge itself may be a panel border).
    """
    rgb = np.asarray(Image.open(png_path).convert("RGB"), np.int16)
    k = min(4, (min(rgb.shape[:2]) - 1) // 2)
    ring = rgb[k:-k or None, k:-k or None]
    border = np.concatenate([ring[0], ring[-1], ring[:, 0], ring[:, -1]])
    colors, counts = np.unique(border, axis=0, return_counts=True)
    background = colors[int(np.argmax(counts))]
    if box is not None:
        x0, y0, x1, y1 = box
        rgb = rgb[y0:y1, x0:x1]
    differs = np.abs(rgb - background).max(axis=-1) > tolerance
    return float(differs.mean()) if differs.size else 0.0
