"""The maps panel on the astronaut's real result: each kind shows the right array, where
the crop geometry puts it, and kinds without data are disabled instead of crashing."""
from __future__ import annotations

import numpy as np
import pytest

from result_fixtures import astronaut_result
from studio.body.joint_sets import MEDIAPIPE33
from studio.ui.tools.maps.panel import (ALL_KEYPOINTS, HEATMAP, KINDS, PART, PART_PROBABILITY,
                                  PYRAMID, U_MAP, crop_to_pixels, pixels_to_crop)


@pytest.fixture(scope="module")
def person():
    return astronaut_result().people[0]


@pytest.fixture
def panel(qtbot, person):
    from studio.ui.tools.maps.panel import MapsPanel

    widget = MapsPanel()
    qtbot.addWidget(widget)
    widget.resize(500, 560)
    widget.show()
    qtbot.waitExposed(widget)
    widget.set_person(person.crop_rgb, person.landmark_maps, person.dense,
                      person.crop.align_corners)
    return widget


def enabled(panel, kind: str) -> bool:
    return panel.kind_box.model().item(KINDS.index(kind)).isEnabled()


@pytest.mark.parametrize("align_corners", [True, False])
def test_crop_pixel_mapping(align_corners):
    size = 64
    j = np.arange(size, dtype=np.float64)
    centres = -1 + 2 * j / (size - 1) if align_corners else -1 + (2 * j + 1) / size
    coords = np.stack([centres, centres[::-1]], axis=1)
    pixels = crop_to_pixels(coords, (size, size), align_corners)
    assert np.allclose(pixels, np.stack([j, j[::-1]], axis=1) + 0.5)
    assert np.allclose(pixels_to_crop(pixels, (size, size), align_corners), coords)


@pytest.mark.gui
def test_left_wrist_heatmap_peaks_at_the_landmark(panel, person):
    panel.set_kind(HEATMAP)
    panel.set_channel(MEDIAPIPE33.index("left_wrist"))
    shown = panel.current_image()
    assert np.array_equal(shown, person.landmark_maps[1 + 15])
    assert np.array_equal(panel.map_item.image, shown.astype(np.float32))
    landmark = person.crop.to_crop(person.person.landmarks[15])
    expected = crop_to_pixels(landmark, shown.shape) - 0.5  # (column, row) of the pixel
    row, col = np.unravel_index(np.argmax(shown), shown.shape)
    assert abs(col - expected[0]) <= 1 and abs(row - expected[1]) <= 1
    assert "left_wrist" in panel.caption.text() and "64x64" in panel.caption.text()
    assert panel.bar.levels()[1] == pytest.approx(shown.max())  # a faint peak stays visible


@pytest.mark.gui
def test_all_keypoints_is_the_max_over_joints(panel, person):
    panel.set_kind(ALL_KEYPOINTS)
    assert np.array_equal(panel.current_image(), person.landmark_maps[1:].max(axis=0))
    assert not panel.channel_box.isEnabled() and panel.channel_box.count() == 0
    assert panel.channel_box.placeholderText()  # says why it is empty, not a blank box


@pytest.mark.gui
def test_pyramid_level_only_after_the_first_iteration(panel, person):
    panel.set_kind(PYRAMID)
    panel.set_iteration(0, None, None)
    assert not enabled(panel, PYRAMID) and panel.current_image() is None
    assert "iteration 0" in panel.caption.text()
    for index in (1, 2, 3):
        it = person.iterations[index]
        panel.set_iteration(index, it.pyramid_map, it.sample_points)
        assert enabled(panel, PYRAMID)
        h, w = it.pyramid_map.shape
        assert panel.current_image().shape == (h, w)
        assert f"{PYRAMID} {index} · {w}x{h}" in panel.caption.text()
        x, y = panel.samples.getData()
        assert len(x) == len(it.sample_points)
        assert np.allclose(np.stack([x, y], 1), crop_to_pixels(it.sample_points, (h, w)))
        # The crop's centre is the map's centre, whatever the map's size.
        rect = panel.photo.mapRectToParent(panel.photo.boundingRect())
        assert (rect.center().x(), rect.center().y()) == pytest.approx((w / 2, h / 2))
    panel.set_kind(HEATMAP)
    assert len(panel.samples.getData()[0]) == 0  # sample points belong to the pyramid


@pytest.mark.gui
def test_dense_kinds(panel, person):
    panel.set_kind(PART)
    assert np.array_equal(panel.current_image(), person.dense.part)
    assert panel.map_item.levels[0] == pytest.approx(-0.5)  # one colour per part index
    panel.set_kind(PART_PROBABILITY)
    panel.set_channel(17)  # 0 is the background, then SMPL's 24 parts
    assert np.array_equal(panel.current_image(), person.dense.part_probability[17])
    assert "left_shoulder" in panel.caption.text()
    panel.set_kind(U_MAP)
    body = person.dense.part > 0
    assert np.isnan(panel.current_image()[~body]).all()
    assert np.array_equal(panel.current_image()[body], person.dense.u[body])


@pytest.mark.gui
def test_without_dense_head_dense_kinds_are_disabled(panel, person):
    panel.set_kind(PART)
    panel.set_person(person.crop_rgb, person.landmark_maps, None)
    assert not enabled(panel, PART) and not enabled(panel, U_MAP)
    assert panel.current_image() is None and "no dense" in panel.caption.text()
    assert enabled(panel, HEATMAP)
    panel.set_kind(HEATMAP)
    assert panel.current_image() is not None


@pytest.mark.gui
def test_clear(panel):
    panel.clear()
    assert panel.current_image() is None and "no person" in panel.caption.text()
    assert not any(enabled(panel, kind) for kind in KINDS)


@pytest.mark.gui
def test_screenshots(panel, person, qtbot):
    it = person.iterations[2]
    panel.set_iteration(2, it.pyramid_map, it.sample_points)
    for kind, name in ((HEATMAP, "heatmap"), (PART, "part"), (PYRAMID, "pyramid")):
        panel.set_kind(kind)
        qtbot.wait(30)
        assert panel.grab().save(f"/tmp/maps_panel_{name}.png")
        shot = panel.graphics.grab().toImage()
        colours = {shot.pixelColor(x, y).rgb()
                   for x in range(0, shot.width(), 10) for y in range(0, shot.height(), 10)}
        assert len(colours) > 50  # the photo and the map, not a grey box


@pytest.mark.gui
def test_streaming_follows_new_maps_at_most_five_times_a_second(panel, person, qtbot):
    from studio.ui.tools.maps.panel import STREAM_REFRESH_MS

    panel.set_kind(ALL_KEYPOINTS)
    panel.set_streaming(True)
    maps = [person.landmark_maps * (k + 2) for k in range(3)]

    def shows(k: int) -> bool:
        return np.array_equal(panel.current_image(), maps[k][1:].max(axis=0))

    panel.set_person(person.crop_rgb, maps[0], person.dense, person.crop.align_corners)
    assert shows(0)  # the first new data shows at once
    for k in (1, 2):  # the next ones wait for the interval; the newest is shown then
        panel.set_person(person.crop_rgb, maps[k], person.dense, person.crop.align_corners)
    assert shows(0)
    qtbot.waitUntil(lambda: shows(2), timeout=4 * STREAM_REFRESH_MS)
    panel.set_person(person.crop_rgb, maps[1], person.dense, person.crop.align_corners)
    panel.set_streaming(False)  # pausing shows what waits, and later data at once
    assert shows(1)
    panel.set_person(person.crop_rgb, maps[0], person.dense, person.crop.align_corners)
    assert shows(0)


@pytest.mark.gui
def test_streaming_keeps_the_colour_scale_while_the_maps_fit_it(panel, person, qtbot):
    """Laying out the colour bar's axis anew costs milliseconds; while streaming, a map
    whose range still fills most of the scale is drawn on it, and pausing makes the
    scale exact again."""
    from studio.ui.tools.maps.panel import STEADY_SCALE, STREAM_REFRESH_MS

    panel.set_kind(ALL_KEYPOINTS)
    peak = float(person.landmark_maps[1:].max())
    set_levels = []
    real = panel.bar.setLevels
    panel.bar.setLevels = lambda *a, **k: (set_levels.append(k["values"]), real(*a, **k))
    panel.set_streaming(True)

    def stream(scale: float) -> None:
        maps = person.landmark_maps * scale
        panel.set_person(person.crop_rgb, maps, person.dense, person.crop.align_corners)
        qtbot.waitUntil(lambda: np.array_equal(panel.current_image(), maps[1:].max(axis=0)),
                        timeout=4 * STREAM_REFRESH_MS)

    def scale() -> tuple[float, float]:
        levels = panel.map_item.getLevels()
        assert tuple(panel.bar.levels()) == pytest.approx(tuple(levels))  # bar and map agree
        return tuple(levels)

    stream(1.0)  # the scale the panel already shows
    assert scale() == pytest.approx((0.0, peak)) and not set_levels
    stream(0.5 * (1 + STEADY_SCALE))  # fits: the scale stays
    assert scale() == pytest.approx((0.0, peak)) and not set_levels
    stream(0.5 * STEADY_SCALE)  # too faint for it: a new scale
    assert scale() == pytest.approx((0.0, 0.5 * STEADY_SCALE * peak)) and len(set_levels) == 1
    stream(1.2)  # beyond it
    assert scale() == pytest.approx((0.0, 1.2 * peak)) and len(set_levels) == 2
    stream(1.1)
    assert scale() == pytest.approx((0.0, 1.2 * peak)) and len(set_levels) == 2
    panel.set_streaming(False)
    assert scale() == pytest.approx((0.0, 1.1 * peak))
