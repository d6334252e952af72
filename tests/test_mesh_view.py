"""The 3D result view on the astronaut's real result: placement, look-through alignment
with the photo, in-place updates, displacement colours, hover picking, marker, undo."""
from __future__ import annotations

import time

import cv2
import numpy as np
import pytest

from gui_events import send_mouse, send_mouse_move
from result_fixtures import astronaut_image, astronaut_result

VIEW_SIZE = (800, 600)
DISPLAY_AXES = np.array([1.0, -1.0, -1.0])  # the view's frame: camera axes turned about x


@pytest.fixture(scope="module")
def result():
    return astronaut_result()


@pytest.fixture(scope="module")
def part_labels():
    from studio.body.registry import load_mannequin

    return load_mannequin().part_labels


@pytest.fixture
def view(qtbot, result, part_labels):
    """The view showing the first feedback iteration with the final camera and photo."""
    from studio.ui.views.mesh_view import MeshView

    person = result.people[0]
    first = person.iterations[1]
    widget = MeshView()
    qtbot.addWidget(widget)
    widget.resize(*VIEW_SIZE)
    widget.show()
    qtbot.waitExposed(widget)
    widget.set_body(first.vertices, result.faces, first.joints, result.parents, part_labels)
    widget.set_camera(person.final.image_camera, astronaut_image())
    yield widget
    widget.close_view()


def _displayed(points: np.ndarray, camera) -> np.ndarray:
    return (points + np.asarray(camera.translation)) * DISPLAY_AXES


def _to_widget(view, image_points: np.ndarray) -> np.ndarray:
    """Image pixels -> widget pixels when the photo is fitted, centred, into the view."""
    w, h = view._image_size
    view_w, view_h = view.width(), view.height()
    scale = view_h / max(h, w * view_h / view_w)
    return (image_points - [w / 2, h / 2]) * scale + [view_w / 2, view_h / 2]


def _shot(view) -> np.ndarray:
    view.plotter.render()
    return np.asarray(view.plotter.screenshot(None, return_img=True))[:, :, :3]


def _foreground(image: np.ndarray) -> np.ndarray:
    from studio.ui.views.body_scene import BACKGROUND

    background = np.array([int(BACKGROUND[i:i + 2], 16) for i in (1, 3, 5)])
    return np.abs(image.astype(int) - background).max(axis=2) > 12


def _box_iou(a: np.ndarray, b: np.ndarray) -> float:
    (ay, ax), (by, bx) = np.nonzero(a), np.nonzero(b)
    a0, a1 = np.array([ax.min(), ay.min()]), np.array([ax.max(), ay.max()]) + 1
    b0, b1 = np.array([bx.min(), by.min()]), np.array([bx.max(), by.max()]) + 1
    inter = np.prod(np.clip(np.minimum(a1, b1) - np.maximum(a0, b0), 0, None))
    return float(inter / (np.prod(a1 - a0) + np.prod(b1 - b0) - inter))


@pytest.mark.gui
def test_body_is_placed_at_the_camera_translation(view, result):
    person = result.people[0]
    camera = person.final.image_camera
    np.testing.assert_allclose(view.actors["mesh"].mapper.dataset.points,
                               _displayed(person.iterations[1].vertices, camera), atol=1e-4)
    names = {"mesh", "joints", "bones", "ground", "backdrop", "frustum", "marker"}
    assert names <= set(view.actors)


@pytest.mark.gui
def test_backdrop_fills_the_image_seen_from_the_camera(view, result):
    camera = result.people[0].final.image_camera
    corners = np.asarray(view.actors["backdrop"].mapper.dataset.points) * DISPLAY_AXES
    behind = corners[:, 2] / camera.translation[2]
    np.testing.assert_allclose(behind, 1.3, atol=1e-6)  # behind the body
    seen = camera.focal * corners[:, :2] / corners[:, 2:] + np.asarray(camera.centre)
    w, h = result.image_size
    np.testing.assert_allclose(seen, [[0, 0], [w, 0], [w, h], [0, h]], atol=1e-3)
    assert view.actors["backdrop"].texture is not None
    frustum = np.asarray(view.actors["frustum"].mapper.dataset.points)
    np.testing.assert_allclose(frustum[0], 0.0)  # the camera centre
    np.testing.assert_allclose(frustum[1:] * DISPLAY_AXES, corners, atol=1e-6)


@pytest.mark.gui
def test_update_body_moves_the_mesh_in_place(view, result):
    person = result.people[0]
    camera = person.final.image_camera
    actor = view.actors["mesh"]
    before = np.array(actor.mapper.dataset.points)
    view.mark("vertex", 100)
    view.update_body(person.final.vertices, person.final.joints)
    after = np.asarray(view.actors["mesh"].mapper.dataset.points)
    assert view.actors["mesh"] is actor
    assert np.abs(after - before).max() > 1e-2
    np.testing.assert_allclose(after, _displayed(person.final.vertices, camera), atol=1e-4)
    np.testing.assert_allclose(view.actors["bones"].mapper.dataset.points,
                               _displayed(person.final.joints, camera), atol=1e-4)
    np.testing.assert_allclose(view.actors["marker"].position, after[100], atol=1e-5)


@pytest.mark.gui
def test_toggles(view):
    actors = view.actors
    assert not actors["joints"].visibility and actors["mesh"].prop.opacity == 1.0
    view.set_skeleton_visible(True)
    assert actors["joints"].visibility and actors["bones"].visibility
    assert actors["mesh"].prop.opacity < 1.0
    assert not actors["backdrop"].visibility and not actors["frustum"].visibility  # front
    view.look_through_camera()  # the photo and the frustum show through the camera
    for name, toggle in (("ground", view.set_ground_visible),
                         ("backdrop", view.set_backdrop_visible),
                         ("frustum", view.set_frustum_visible)):
        assert actors[name].visibility
        toggle(False)
        assert not actors[name].visibility
        toggle(True)
        assert actors[name].visibility


@pytest.mark.gui
def test_displacement_colours_and_scalar_bar(view, result):
    person = result.people[0]
    view.set_view("front")
    plain = _shot(view)
    mm = np.linalg.norm(person.final.vertices - person.iterations[1].vertices, axis=1) * 1000
    view.set_displacement(mm, None)
    assert "moved (mm)" in view.plotter.scalar_bars
    assert view.actors["mesh"].mapper.scalar_range == pytest.approx((0.0, float(mm.max())))
    coloured = _shot(view)
    body = _foreground(plain)
    assert np.abs(coloured.astype(int) - plain)[body].mean() > 20
    view.set_displacement(None, None)
    assert "moved (mm)" not in view.plotter.scalar_bars
    assert np.abs(_shot(view).astype(int) - plain).max(axis=2).mean() < 1.0


@pytest.mark.gui
def test_front_view_is_drawn(view):
    view.set_view("front")
    image = _shot(view)
    cv2.imwrite("/tmp/mesh_view_front.png", image[:, :, ::-1])
    body = _foreground(image)
    assert 0.05 < body.mean() < 0.9  # the body, not a blank or filled view
    assert len(np.unique(image[body].reshape(-1, 3) // 32, axis=0)) > 8  # part colours


@pytest.mark.gui
def test_look_through_puts_the_mesh_on_the_person(view, result, qtbot):
    final = result.people[0].final
    view.update_body(final.vertices, final.joints)
    view.look_through_camera()
    cv2.imwrite("/tmp/mesh_view_camera.png", _shot(view)[:, :, ::-1])
    for name in ("backdrop", "frustum", "ground"):
        view.actors[name].visibility = False
    for size in (VIEW_SIZE, (420, 640)):  # wider, then taller than the photo: follows resizes
        view.resize(*size)
        qtbot.waitUntil(lambda: tuple(view.plotter.render_window.GetSize()) == size)
        rendered = _foreground(_shot(view))
        projected = np.zeros_like(rendered, np.uint8)
        triangles = _to_widget(view, final.image_camera.project(final.vertices))[result.faces]
        for triangle in np.round(triangles * 16).astype(np.int32):  # one by one: no even-odd holes
            cv2.fillConvexPoly(projected, triangle, 1, shift=4)
        projected = projected.astype(bool)
        assert _box_iou(rendered, projected) > 0.95
        assert (rendered & projected).sum() / (rendered | projected).sum() > 0.95


@pytest.mark.gui
def test_update_photo_shows_the_new_frame_in_place(view):
    """Live frames copy into the backdrop's texture; a frame of another size makes a new
    one. Seen through the camera, the backdrop is the photo, upright."""
    view.look_through_camera()
    for name in ("mesh", "joints", "bones", "ground", "frustum", "marker"):
        view.actors[name].visibility = False
    photo = astronaut_image()
    h, w = photo.shape[:2]
    frame = np.zeros_like(photo)
    frame[: h // 2] = (250, 20, 20)  # red above, blue below
    frame[h // 2:] = (20, 20, 250)
    texture = view.actors["backdrop"].texture
    view.update_photo(frame)
    assert view.actors["backdrop"].texture is texture  # the same texture, new pixels
    shot = _shot(view).astype(int)
    top, bottom = _to_widget(view, np.array([[w / 2, h / 4], [w / 2, 3 * h / 4]])).astype(int)
    assert shot[top[1], top[0], 0] > 200 and shot[top[1], top[0], 2] < 60
    assert shot[bottom[1], bottom[0], 2] > 200 and shot[bottom[1], bottom[0], 0] < 60
    view.update_photo(cv2.resize(frame[::-1], (w // 2, h // 2)))  # another camera size
    assert view.actors["backdrop"].texture is not texture
    shot = _shot(view).astype(int)
    assert shot[top[1], top[0], 2] > 200 and shot[bottom[1], bottom[0], 0] > 200


@pytest.mark.gui
def test_hover_picks_vertices_joints_and_nothing(view, result):
    final = result.people[0].final
    view.update_body(final.vertices, final.joints)
    view.look_through_camera()
    seen = []
    view.hovered.connect(lambda kind, index: seen.append((kind, index)))
    on_screen = _to_widget(view, final.image_camera.project(final.vertices))
    chest = _to_widget(view, final.image_camera.project(final.joints[9]))
    kind, index = view.hover_at(*chest)
    assert kind == "vertex" and seen == [(kind, index)]
    assert np.linalg.norm(on_screen[index] - chest) < 15
    assert final.vertices[index, 2] < final.joints[9, 2]  # the front of the chest
    assert view.hover_at(*_to_widget(view, np.array([10.0, 10.0]))) == ("", -1)  # not the photo
    assert seen[-1] == ("", -1)
    view.set_skeleton_visible(True)
    assert view.hover_at(*chest) == ("joint", 9)
    assert seen[-1] == ("joint", 9)


@pytest.mark.gui
def test_mark_places_and_hides_the_marker(view, result):
    marker = view.actors["marker"]
    assert not marker.visibility
    view.mark("vertex", 1234)
    assert marker.visibility
    np.testing.assert_allclose(marker.position, view.actors["mesh"].mapper.dataset.points[1234],
                               atol=1e-5)
    view.mark("joint", 20)
    np.testing.assert_allclose(marker.position, view.actors["bones"].mapper.dataset.points[20],
                               atol=1e-5)
    view.mark("", -1)
    assert not marker.visibility


@pytest.mark.gui
def test_camera_undo(view):
    camera = view.plotter.camera
    assert not view.can_undo_camera()
    front = camera.position
    view.set_view("side")
    side = camera.position
    assert np.linalg.norm(np.subtract(side, front)) > 0.1
    view.look_through_camera()
    np.testing.assert_allclose(camera.position, 0.0, atol=1e-9)
    view.undo_camera()
    np.testing.assert_allclose(camera.position, side)
    view.undo_camera()
    np.testing.assert_allclose(camera.position, front)
    assert not view.can_undo_camera()
    # A drag by the user (the interactor style's start/end events) is remembered too.
    style = view.plotter.iren.interactor.GetInteractorStyle()
    style.InvokeEvent("StartInteractionEvent")
    camera.Azimuth(40)
    style.InvokeEvent("EndInteractionEvent")
    assert view.can_undo_camera()
    view.undo_camera()
    np.testing.assert_allclose(camera.position, front)


@pytest.mark.gui
def test_mouse_moves_emit_hover(view, qtbot):
    from PySide6.QtCore import QPoint

    view.set_view("front")
    middle = QPoint(view.width() // 2, view.height() // 3)  # the chest in the front view
    with qtbot.waitSignal(view.hovered, timeout=5000) as blocker:
        send_mouse_move(view.canvas, middle)
    assert blocker.args[0] == "vertex" and blocker.args[1] >= 0
    with qtbot.waitSignal(view.hovered, timeout=5000) as blocker:
        send_mouse_move(view.canvas, QPoint(5, 5))
    assert blocker.args == ["", -1]



@pytest.mark.gui
def test_qt_grab_sees_the_3d_view(view):
    """The view paints ordinary pixels, so Qt's own grab (screenshots) shows the body."""
    view.set_view("front")
    rendered = _shot(view)
    from PySide6.QtGui import QImage

    image = view.grab().toImage().convertToFormat(QImage.Format.Format_RGB888)
    rows = np.frombuffer(image.constBits(), np.uint8).reshape(image.height(), -1)
    grabbed = rows[:, :3 * image.width()].reshape(image.height(), image.width(), 3)
    assert grabbed.shape == rendered.shape
    assert _foreground(grabbed).mean() > 0.05
    assert np.abs(grabbed.astype(int) - rendered).max(axis=2).mean() < 2.0


@pytest.mark.gui
def test_streaming_draws_a_coarse_body_at_half_resolution_and_picks_alike(view, result):
    """While live frames stream, a quarter of the pixels and of the triangles; hover,
    marks and displacement keep the body's own vertex ids, and pausing restores all."""
    from studio.ui.views.mesh_view import STREAM_REDUCTION

    view.set_view("front")
    x, y = view.width() / 2, view.height() / 3  # the chest
    sharp = view.hover_at(x, y)
    full_cells = view.scene.mesh.n_cells
    full_points = np.array(view.scene.mesh.points)
    view.set_streaming(True)
    assert tuple(view.plotter.render_window.GetSize()) == (view.width() // 2,
                                                           view.height() // 2)
    # about the reduction asked for (each part keeps its border, so a little more)
    assert ((1 - STREAM_REDUCTION) * full_cells <= view.scene.mesh.n_cells
            < 1.1 * (1 - STREAM_REDUCTION) * full_cells)
    # the coarse surface's points are the body's own, placed the same way
    kept = view._coarse.vertices  # noqa: SLF001
    np.testing.assert_array_equal(np.asarray(view.scene.mesh.points), full_points[kept])
    coarse = view.hover_at(x, y)
    assert sharp[0] == coarse[0] == "vertex"
    assert np.linalg.norm(full_points[sharp[1]] - full_points[coarse[1]]) < 0.05  # metres
    view.mark("vertex", 1234)  # any vertex of the body, kept or not
    np.testing.assert_allclose(view.actors["marker"].position, full_points[1234], atol=1e-5)
    moved = np.arange(len(full_points), dtype=np.float32)
    view.set_displacement(moved)
    np.testing.assert_array_equal(view.scene.mesh.point_data["moved_mm"], moved[kept])
    later = result.people[0].final
    view.update_body(later.vertices, later.joints)
    assert view.scene.mesh.n_cells < full_cells
    assert _foreground(_shot(view)).mean() > 0.05

    view.set_streaming(False)
    assert tuple(view.plotter.render_window.GetSize()) == (view.width(), view.height())
    assert view.scene.mesh.n_cells == full_cells
    assert view.displacement_shown  # the colouring survives the switch
    np.testing.assert_array_equal(view.scene.mesh.point_data["moved_mm"], moved)
    np.testing.assert_allclose(view.actors["marker"].position,
                               np.asarray(view.scene.mesh.points)[1234], atol=1e-5)


@pytest.mark.gui
def test_a_mouse_drag_turns_the_camera_and_can_be_undone(view):
    from PySide6.QtCore import QPoint, Qt

    view.set_view("front")
    before = np.array(view.plotter.camera.position)
    start = QPoint(view.width() // 2, view.height() // 2)
    send_mouse(view.canvas, "press", start, Qt.MouseButton.LeftButton)
    for dx in (20, 60, 120):
        send_mouse(view.canvas, "move", start + QPoint(dx, 0), Qt.MouseButton.LeftButton)
    send_mouse(view.canvas, "release", start + QPoint(120, 0), Qt.MouseButton.LeftButton)
    assert np.linalg.norm(np.array(view.plotter.camera.position) - before) > 0.1
    assert view.can_undo_camera()
    view.undo_camera()
    np.testing.assert_allclose(view.plotter.camera.position, before)


@pytest.mark.gui
def test_streaming_renders_at_most_every_interval_showing_the_newest_body(view, result,
                                                                         qtbot):
    """Live frames come faster than the 3D view renders while streaming: bodies and
    photos given between two renders wait, the next render shows the newest, and
    pausing shows it at once."""
    from studio.ui.views.mesh_view import STREAM_RENDER_INTERVAL_S, _texture_pixels

    renders: list[float] = []
    window = view.plotter.render_window
    window.AddObserver("EndEvent", lambda *_: renders.append(time.perf_counter()))
    view.set_streaming(True)
    qtbot.waitUntil(lambda: not view.canvas.render_due)
    iterations = result.people[0].iterations
    texture = _texture_pixels(view.actors["backdrop"].texture)
    photo = astronaut_image()
    start = len(renders)
    began = time.perf_counter()
    for k in range(12):  # a body every 20 ms, about 240 ms in all
        it = iterations[k % len(iterations)]
        view.update_body(it.vertices, it.joints)
        view.update_photo(np.full_like(photo, 10 * k))
        qtbot.wait(20)
    last = iterations[11 % len(iterations)]
    elapsed = time.perf_counter() - began
    drawn = renders[start:]
    assert 1 <= len(drawn) <= elapsed / STREAM_RENDER_INTERVAL_S + 1
    assert all(b - a >= 0.9 * STREAM_RENDER_INTERVAL_S for a, b in zip(drawn, drawn[1:]))
    qtbot.waitUntil(lambda: not view.canvas.render_due)
    kept = view._coarse.vertices  # noqa: SLF001
    placed = _displayed(last.vertices, view.camera)
    np.testing.assert_allclose(np.asarray(view.scene.mesh.points), placed[kept], atol=1e-5)
    assert (texture == 110).all()
    # a body given just before pausing is shown by the pause, not left waiting
    final = result.people[0].final
    view.update_body(final.vertices, final.joints)
    view.set_streaming(False)
    np.testing.assert_allclose(np.asarray(view.scene.mesh.points),
                               _displayed(final.vertices, view.camera), atol=1e-5)


def test_a_streaming_render_moves_the_body_in_an_event_before_it(view, result, qtbot):
    """Moving the body and copying the photo kept back for a render, then the render: two
    events of the UI thread, with a turn of the event loop between them, not one."""
    events: list[str] = []
    canvas = view.canvas
    view.plotter.render_window.AddObserver("StartEvent", lambda *_: events.append("render"))
    prepare, queued = canvas.prepare, canvas._render_queued_now  # noqa: SLF001

    def logged_prepare() -> bool:
        moved = prepare()
        events.append("moved" if moved else "nothing due")
        return moved

    def logged_event() -> None:
        events.append("event")
        queued()

    canvas.prepare = logged_prepare
    canvas._render_timer.timeout.disconnect()  # noqa: SLF001
    canvas._render_timer.timeout.connect(logged_event)  # noqa: SLF001
    view.set_streaming(True)
    qtbot.waitUntil(lambda: not canvas.render_due)
    final = result.people[0].final
    qtbot.wait(200)  # past the streaming render interval
    events.clear()
    view.update_body(final.vertices, final.joints)
    view.update_photo(astronaut_image())
    qtbot.waitUntil(lambda: not canvas.render_due)
    assert events == ["event", "moved", "event", "render"]
    kept = view._coarse.vertices  # noqa: SLF001
    np.testing.assert_allclose(np.asarray(view.scene.mesh.points),
                               _displayed(final.vertices, view.camera)[kept], atol=1e-5)
