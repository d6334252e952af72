"""The studio's document: person and iteration choice, and the numbers the views draw."""
from __future__ import annotations

import copy

import numpy as np
import pytest

from result_fixtures import astronaut_image, astronaut_result
from studio.ui.document import StudioDocument, iteration_name


@pytest.fixture
def doc() -> StudioDocument:
    d = StudioDocument(image=astronaut_image(), title="astronaut")
    d.set_result(astronaut_result())
    return d


def test_a_new_result_shows_the_largest_persons_final_iteration(doc):
    assert doc.person == 0 and doc.iteration == doc.iteration_count - 1 == 3
    assert doc.current is doc.result.people[0].iterations[-1]


def test_iteration_choice_is_clamped_and_reports_change(doc):
    assert doc.select_iteration(1) and doc.iteration == 1
    assert not doc.select_iteration(1)
    assert doc.select_iteration(99) and doc.iteration == 3
    assert doc.select_iteration(-5) and doc.iteration == 0


def test_projection_matches_the_image_camera_and_lies_on_the_person(doc):
    for k in range(doc.iteration_count):
        points, depth = doc.projected(k)
        it = doc.current_person.iterations[k]
        np.testing.assert_allclose(points, it.image_camera.project(it.vertices), atol=1e-3)
        assert (depth > 0).all()
    x0, y0, x1, y1 = doc.current_person.person.extent
    centre = doc.projected()[0].mean(axis=0)
    assert x0 < centre[0] < x1 and y0 < centre[1] < y1


def test_displacement_is_the_vertex_step_in_millimetres(doc):
    assert doc.displacement_mm(0) is None
    its = doc.current_person.iterations
    moved = doc.displacement_mm(2)
    k = int(np.argmax(moved))
    assert moved[k] == pytest.approx(1000 * np.linalg.norm(its[2].vertices[k] - its[1].vertices[k]),
                                     rel=1e-5)
    assert doc.max_displacement_mm() >= moved.max()


def test_sample_points_are_on_the_image_from_the_first_feedback_step(doc):
    doc.select_iteration(0)
    assert doc.sample_points() is None
    doc.select_iteration(1)
    grid = doc.sample_points()
    assert grid.shape == (441, 2)  # the 21x21 grid over the crop
    box = doc.current_person.crop.box
    np.testing.assert_allclose(grid.min(axis=0), [box.x, box.y], atol=1e-6)
    np.testing.assert_allclose(grid.max(axis=0), [box.x + box.size, box.y + box.size], atol=1e-6)


def test_person_choice(doc):
    two = copy.copy(doc.result)
    two.people = [doc.result.people[0], copy.copy(doc.result.people[0])]
    doc.set_result(two)
    doc.select_iteration(1)
    assert not doc.select_person(5) and doc.person == 0
    assert doc.select_person(1) and doc.person == 1 and doc.iteration == 1
    assert len(doc.boxes()) == 2


def test_iteration_names():
    assert iteration_name(0) == "initial estimate"
    assert iteration_name(3) == "feedback iteration 3"
    assert iteration_name(4, refined=True) == "refined"
    assert iteration_name(4, refined=True, kept=False) == "refined (start kept)"


def test_a_refinement_that_lost_to_its_start_is_named_so():
    from studio.pipeline.results import RefineReport

    doc = StudioDocument(image=astronaut_image(), title="astronaut")
    doc.set_result(copy.deepcopy(astronaut_result()))  # the cached result stays as it is
    person = doc.current_person
    if person.refined is None:  # the fixture's result may predate refinement
        person.refined = person.iterations[-1]
    person.refine = RefineReport(steps=3, loss=[1.0, 0.9, 0.8, 0.7], ms=1.0, kept=True)
    last = doc.iteration_count - 1
    assert doc.refined_kept and doc.step_name(last) == "refined"
    person.refine.kept = False
    assert not doc.refined_kept and doc.step_name(last) == "refined (start kept)"


def test_an_iteration_projects_once_for_its_camera_and_vertices():
    """A live frame's fill (drawn by the worker) and the 2D view share one projection;
    a new camera (the camera fit assigns one) or new vertices make a new one."""
    import dataclasses

    it = dataclasses.replace(astronaut_result().people[0].iterations[-1])  # a fresh one
    points, depth = it.projected()
    assert it.projected()[0] is points and not points.flags.writeable
    np.testing.assert_allclose(points, it.image_camera.project(it.vertices), atol=1e-3)
    moved = dataclasses.replace(it.image_camera, translation=(0.1, 0.0, 10.0))
    it.image_camera = moved
    again, deeper = it.projected()
    np.testing.assert_allclose(again, moved.project(it.vertices), atol=1e-3)
    np.testing.assert_allclose(deeper, it.vertices[:, 2] + 10.0, atol=1e-5)
    it.vertices = it.vertices * 1.1
    np.testing.assert_allclose(it.projected()[0], moved.project(it.vertices), atol=1e-3)
