"""The off-screen body grid: size, a visible body in every panel, framing at any scale."""
from __future__ import annotations

import dataclasses
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from body_fixtures import make_stick_body
from studio.ui.body.snapshot import render_body_grid, silhouette_fraction


def _quadrants(width: int, height: int) -> list[tuple[int, int, int, int]]:
    w, h = width // 2, height // 2
    return [(0, 0, w, h), (w, 0, width, h), (0, h, w, height), (w, h, width, height)]


@pytest.fixture(scope="module")
def body():
    return make_stick_body()


def test_grid_has_size_and_a_body_in_every_panel(body, tmp_path):
    out = render_body_grid(body, tmp_path / "grid.png", size=(800, 600), ground=False)
    assert out == tmp_path / "grid.png"
    assert Image.open(out).size == (800, 600)
    for box in _quadrants(800, 600):
        assert silhouette_fraction(out, box) > 0.02, box
    assert [p.name for p in tmp_path.iterdir()] == ["grid.png"]  # no temp file left behind


def test_default_grid_with_ground(body, tmp_path):
    out = render_body_grid(body, tmp_path / "grid.png", size=(640, 480))
    assert Image.open(out).size == (640, 480)
    for box in _quadrants(640, 480):
        assert silhouette_fraction(out, box) > 0.02, box


@pytest.mark.parametrize("scale", [0.05, 20.0])
def test_framing_fits_any_body_size(body, tmp_path, scale):
    scaled = dataclasses.replace(body, v_template=body.v_template * scale,
                                 shapedirs=body.shapedirs * scale)
    out = render_body_grid(scaled, tmp_path / "grid.png", size=(480, 360), ground=False)
    for box in _quadrants(480, 360):
        assert 0.02 < silhouette_fraction(out, box) < 0.6, box


def test_silhouette_fraction_counts_non_background(tmp_path):
    rgb = np.full((100, 200, 3), 240, np.uint8)
    rgb[20:40, 50:100] = (200, 30, 30)
    Image.fromarray(rgb).save(tmp_path / "s.png")
    assert silhouette_fraction(tmp_path / "s.png") == pytest.approx(1000 / 20000)
    assert silhouette_fraction(tmp_path / "s.png", (50, 20, 100, 40)) == pytest.approx(1.0)


def test_snapshot_needs_no_qt():
    code = ("import sys, studio.ui.body.snapshot, studio.ui.body.mesh_export; "
            "sys.exit('PySide6' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
