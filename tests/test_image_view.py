"""The 2D image view on the astronaut's real result: overlays line up with the photo,
toggles hide them, clicks pick people, hovering finds vertices and landmarks, export."""
from __future__ import annotations

import time

import numpy as np
import pytest
from PySide6.QtCore import QPointF, Qt

from gui_events import send_mouse_move
from result_fixtures import astronaut_image, astronaut_result
from studio.pipeline.overlay import rasterize_faces

# A second, made-up person box over the rocket, to tell boxes apart by clicks.
ROCKET_BOX = (380.0, 10.0, 500.0, 300.0)


@pytest.fixture(scope="module")
def result():
    return astronaut_result()


def projected(result, index: int = -1) -> tuple[np.ndarray, np.ndarray]:
    """Image points and depths of an iteration's mesh, as the main window passes them."""
    it = result.people[0].iterations[index]
    return it.image_camera.project(it.vertices), it.vertices[:, 2]


@pytest.fixture
def view(qtbot, result):
    from studio.ui.views.image_view import ImageView

    person = result.people[0]
    widget = ImageView()
    qtbot.addWidget(widget)
    widget.resize(800, 800)
    widget.show()
    qtbot.waitExposed(widget)
    widget.set_image(astronaut_image())
    widget.set_people([person.person.extent, ROCKET_BOX], 0)
    widget.set_keypoints(person.person.landmarks, person.person.visibility)
    points, depth = projected(result)
    widget.set_mesh(points, result.faces, depth)
    widget.set_sample_points(person.crop.to_image(person.final.sample_points))
    widget.fit()
    qtbot.wait(20)
    return widget


def screen_pos(view, x: float, y: float):
    """Viewport position of image point (x, y)."""
    scene = view.view.mapViewToScene(QPointF(x, y))
    return view.graphics.mapFromScene(scene)


def wire_points(view) -> np.ndarray:
    x, y = view.mesh_wire.getData()
    return np.stack([x, y], axis=1)


def among(drawn: np.ndarray, points: np.ndarray) -> bool:
    """Whether every drawn point [N,2] is exactly one of ``points`` [V,2]."""
    return bool(np.isin(drawn.view(np.complex128), points.view(np.complex128)).all())


@pytest.mark.gui
def test_wireframe_draws_the_iteration_given(view, result):
    final = wire_points(view)
    points, depth = projected(result, 1)
    view.set_mesh(points, result.faces, depth)
    first = wire_points(view)
    assert len(final) and len(first) % 2 == 0 and not np.array_equal(final, first)
    assert among(final, projected(result)[0]) and among(first, points)
    assert np.array_equal(view.mesh_points, points)
    # Only front faces' edges: fewer than all of the mesh's edges.
    assert len(first) // 2 < 0.75 * len(result.faces) * 3 / 2
    assert view.mesh_wire.isVisible() and not view.mesh_fill.isVisible()


@pytest.mark.gui
def test_filled_mesh_covers_the_body_far_faces_first(view, result):
    view.set_mesh_style("filled")
    assert view.mesh_fill.isVisible() and not view.mesh_wire.isVisible()
    rgba = view.mesh_fill.image
    rect = view.mesh_fill.mapRectToParent(view.mesh_fill.boundingRect())
    points, depth = projected(result)
    assert rect.left() == pytest.approx(max(0, np.floor(points[:, 0].min())))
    assert rect.top() == pytest.approx(max(0, np.floor(points[:, 1].min())))
    # Under the nearest vertex on the photo (in front of everything there; the mesh runs
    # off the photo's bottom edge) the layer is opaque and shaded.
    height, width = astronaut_image().shape[:2]
    on_photo = (points >= 0).all(axis=1) & (points < (width, height)).all(axis=1)
    nearest = points[on_photo][np.argmin(depth[on_photo])]
    r, c = int(nearest[1] - rect.top()), int(nearest[0] - rect.left())
    assert rgba[r, c, 3] == 255 and rgba[r, c, :3].max() > 0
    assert rgba[0, 0, 3] == 0 or rgba[-1, -1, 3] == 0  # the box's corners are off the body
    assert view.mesh_fill.opacity() == pytest.approx(0.5)


def test_filled_mesh_shows_the_nearer_of_overlapping_faces_and_skips_unprojected_points():
    # Two front-facing triangles over the same pixels, listed far first and near first;
    # a third vertex set is not projected (NaN) and its face is dropped.
    points = np.array([[2, 2], [18, 2], [2, 18], [2, 2], [18, 2], [2, 18],
                       [np.nan, np.nan], [5, 5], [6, 6]], np.float64)
    faces = np.array([[0, 2, 1], [3, 5, 4], [6, 7, 8]])
    region = (0, 0, 20, 20)
    for near in (0, 1):
        depth = np.full(9, 5.0)
        depth[3 * near:3 * near + 3] = 1.0
        depth[3 * (1 - near):3 * (1 - near) + 3] = 9.0
        # Tilt the near face so the two shade apart: its colour must be the one shown.
        depth[3 * near + 1] += 0.5
        rgba = rasterize_faces(points, faces, depth, region)
        assert rgba.shape == (20, 20, 4)
        near_only = rasterize_faces(points, faces[[near]], depth, region)
        inside = near_only[..., 3] == 255
        assert inside.sum() > 50 and (rgba[..., 3] == 255).sum() == inside.sum()
        assert np.array_equal(rgba[inside], near_only[inside])


def test_filled_mesh_of_a_huge_region_is_drawn_coarser_at_full_size():
    points = np.array([[0, 0], [5000, 0], [0, 3000]], np.float64)
    rgba = rasterize_faces(points, np.array([[0, 2, 1]]), np.ones(3), (0, 0, 5000, 3000))
    assert rgba.shape == (3000, 5000, 4)
    assert rgba[100, 100, 3] == 255 and rgba[2900, 4900, 3] == 0


@pytest.mark.gui
@pytest.mark.parametrize("style", ["wireframe", "filled"])
def test_set_mesh_is_fast_enough_to_scrub(view, result, style):
    view.set_mesh_style(style)
    meshes = [projected(result, i) for i in range(len(result.people[0].iterations))]
    times = []
    for points, depth in meshes * 2:
        start = time.perf_counter()
        view.set_mesh(points, result.faces, depth)
        times.append(time.perf_counter() - start)
    # The target is 20 ms; the bound leaves room for a busy machine.
    assert np.median(times) < 0.1


@pytest.mark.gui
def test_toggles_hide_and_show_overlays(view):
    items = {"boxes": [i for pair in view._box_items for i in pair], "keypoints": [view.bones, view.landmarks],
             "mesh": [view.mesh_wire], "samples": [view.samples]}
    assert not view.overlay_visible("samples") and not view.samples.isVisible()  # at first
    view.set_overlay_visible("samples", True)
    for name, shown in items.items():
        assert view.overlay_visible(name) and all(i.isVisible() for i in shown)
        view.set_overlay_visible(name, False)
        assert not view.overlay_visible(name) and not any(i.isVisible() for i in shown)
    view.set_mesh_style("filled")
    assert view.mesh_style == "filled"
    assert not view.mesh_fill.isVisible()  # a style change keeps the mesh hidden
    view.set_overlay_visible("mesh", True)
    assert view.mesh_fill.isVisible()
    with pytest.raises(ValueError):
        view.set_overlay_visible("clouds", True)


@pytest.mark.gui
def test_clicking_a_box_selects_that_person(view, qtbot, result):
    for index, (x0, y0, x1, y1) in enumerate([result.people[0].person.extent, ROCKET_BOX]):
        # Off-centre for the big box: the rocket box does not reach there.
        x, y = (x0 + 0.3 * (x1 - x0), (y0 + y1) / 2) if index == 0 else ((x0 + x1) / 2,
                                                                           (y0 + y1) / 2)
        with qtbot.waitSignal(view.person_clicked, timeout=2000) as blocker:
            qtbot.mouseClick(view.graphics.viewport(), Qt.MouseButton.LeftButton,
                             pos=screen_pos(view, x, y))
        assert blocker.args == [index]
    with qtbot.assertNotEmitted(view.person_clicked):
        qtbot.mouseClick(view.graphics.viewport(), Qt.MouseButton.LeftButton,
                         pos=screen_pos(view, 505, 500))


@pytest.mark.gui
def test_live_frames_keep_and_move_the_box_items(view, result):
    """Live frames move the boxes they already have; the selection restyles them, and a
    frame with fewer people removes the rest."""
    from studio.ui.views.image_view import BOX_COLOUR, SELECTED_COLOUR

    def pen_colours():
        return [rect.pen().color().getRgb()[:3] for rect, _ in view._box_items]

    items = list(view._box_items)
    assert pen_colours() == [SELECTED_COLOUR, BOX_COLOUR]
    moved = [(x0 + 5, y0 + 5, x1 + 5, y1 + 5) for x0, y0, x1, y1 in view._boxes]
    view.set_frame(astronaut_image()[::-1].copy())
    view.set_people(moved, 0)
    assert view._box_items == items
    assert view._box_items[0][0].rect().topLeft().x() == moved[0][0]
    assert view._box_items[1][1].pos().y() == moved[1][1]
    view.set_people(moved, 1)
    assert pen_colours() == [BOX_COLOUR, SELECTED_COLOUR]
    assert view._box_items[1][1].fill.color().getRgb()[:3] == SELECTED_COLOUR
    view.set_people(moved[:1], 0)
    assert view._box_items == items[:1] and items[1][0].scene() is None
    assert len(view.landmarks.getData()[0]) == 33  # set_frame kept the other overlays


def isolated_vertex(view, points: np.ndarray, landmarks: np.ndarray) -> int:
    """A vertex with no landmark within the hover radius (landmarks win ties)."""
    radius = 8 * view._screen_pixel()
    far = np.linalg.norm(points[:, None] - landmarks[None], axis=2).min(axis=1) > radius
    return int(np.flatnonzero(far)[len(np.flatnonzero(far)) // 2])


@pytest.mark.gui
def test_hover_finds_vertices_and_landmarks(view, result):
    seen: list[tuple[str, int]] = []
    view.hovered.connect(lambda kind, index: seen.append((kind, index)))
    points, _ = projected(result)
    landmarks = result.people[0].person.landmarks
    i = isolated_vertex(view, points, landmarks)
    found = view.hover_at(*(points[i] + 0.5 * view._screen_pixel()))
    assert found[0] == "vertex"
    assert np.linalg.norm(points[found[1]] - points[i]) <= view._screen_pixel()
    assert np.allclose(view.marker_position(), points[found[1]])
    assert view.hover_at(505, 20) == ("", -1)  # the rocket: nothing there
    assert view.marker_position() is None
    assert view.hover_at(*landmarks[0]) == ("keypoint", 0)
    assert seen == [found, ("", -1), ("keypoint", 0)]
    # Past a landmark's dot the mesh under it is reachable.
    assert view.hover_at(*(landmarks[0] + (6.5 * view._screen_pixel(), 0)))[0] == "vertex"
    view.set_overlay_visible("keypoints", False)  # hidden landmarks are not hovered
    assert view.hover_at(*landmarks[0])[0] == "vertex"


@pytest.mark.gui
def test_real_mouse_moves_hover(view, qtbot, result):
    nose = result.people[0].person.landmarks[0]
    with qtbot.waitSignal(view.hovered, timeout=5000) as blocker:
        send_mouse_move(view.graphics.viewport(), screen_pos(view, *nose))
    assert blocker.args == ["keypoint", 0]


@pytest.mark.gui
def test_marks_from_elsewhere(view, result):
    points, _ = projected(result)
    view.mark("vertex", 123)
    assert np.allclose(view.marker_position(), points[123])
    view.mark("keypoint", 15)
    assert np.allclose(view.marker_position(), result.people[0].person.landmarks[15])
    view.mark_point((10.0, 20.0))
    assert np.allclose(view.marker_position(), (10.0, 20.0))
    view.mark("", -1)
    assert view.marker_position() is None
    view.mark("vertex", 10**6)  # a stale index from another mesh: no marker, no error
    assert view.marker_position() is None


@pytest.mark.gui
@pytest.mark.parametrize("style", ["wireframe", "filled"])
def test_export_draws_shown_overlays_at_photo_size(view, result, style, tmp_path):
    view.set_mesh_style(style)
    photo = astronaut_image()
    out = view.export_overlay_rgb()
    assert out.shape == photo.shape and out.dtype == np.uint8
    changed = np.abs(out.astype(int) - photo).sum(axis=2) > 0
    points, _ = projected(result)
    inside = np.all((points >= 0) & (points < photo.shape[1::-1]), axis=1)
    cols, rows = points[inside].astype(int).T
    assert changed[rows, cols].mean() > 0.5  # the mesh is drawn where it projects
    assert not changed[350:500, 420:505].any()  # right of every overlay: untouched
    for name in ("boxes", "keypoints", "mesh", "samples"):
        view.set_overlay_visible(name, False)
    assert np.array_equal(view.export_overlay_rgb(), photo)
    for name in ("boxes", "keypoints", "mesh", "samples"):
        view.set_overlay_visible(name, True)


@pytest.mark.gui
@pytest.mark.parametrize("style", ["wireframe", "filled"])
def test_screenshot_shows_photo_and_overlays(view, qtbot, style):
    view.set_mesh_style(style)
    view.mark("keypoint", 0)
    qtbot.wait(50)
    path = f"/tmp/image_view_{style}.png"
    assert view.grab().save(path)
    shot = view.grab().toImage()
    colours = {shot.pixelColor(x, y).rgb() for x in range(0, 800, 20) for y in range(0, 800, 20)}
    assert len(colours) > 100  # a photo, not a grey box


@pytest.mark.gui
def test_new_image_clears_overlays(view):
    view.set_image(np.zeros((100, 200, 3), np.uint8))
    assert len(wire_points(view)) == 0 and view._box_items == []
    assert len(view.landmarks.getData()[0]) == 0 and len(view.samples.getData()[0]) == 0
    assert view.hover_at(50, 50) == ("", -1)
    rect = view.view.viewRect()
    assert rect.contains(QPointF(1, 1)) and rect.contains(QPointF(199, 99))


def test_frames_and_fills_reach_the_screen_without_a_per_pixel_rescale(view, result,
                                                                       monkeypatch):
    """uint8 photos and fills are shown as they are: levels would make pyqtgraph rescale
    every pixel on every paint (0.9 ms a 640x480 frame)."""
    import pyqtgraph.functions as fn

    rescaled = []
    rescale = fn.rescaleData
    monkeypatch.setattr(fn, "rescaleData",
                        lambda data, *a, **k: rescaled.append(data.shape) or rescale(data, *a, **k))
    view.set_mesh_style("filled")
    frame = astronaut_image()[::-1].copy()
    view.set_frame(frame)
    view.photo.render()
    y, x = 123, 321
    assert view.photo.qimage.pixelColor(x, y).getRgb()[:3] == tuple(frame[y, x])
    view.mesh_fill.render()
    rgba = view.mesh_fill.image
    inside = np.argwhere(rgba[..., 3] == 255)[len(np.argwhere(rgba[..., 3] == 255)) // 2]
    colour = view.mesh_fill.qimage.pixelColor(int(inside[1]), int(inside[0])).getRgb()
    assert colour == tuple(rgba[inside[0], inside[1]])
    assert rescaled == []
