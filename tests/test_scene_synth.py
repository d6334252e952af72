"""The synthetic scene generator for scene-aware pose generation: deterministic samples,
labels that agree with the render, and people that sit on their seats."""
from __future__ import annotations

import numpy as np
import pytest

from studio.synth import scene_people
from studio.synth.scene_layout import penetration
from studio.synth.scenes import build_scene, make_scene_batch, make_scene_sample


@pytest.fixture(scope="module")
def samples():
    return {s: make_scene_sample(s) for s in range(6)}


def test_same_seed_same_sample(samples):
    again = make_scene_sample(3)
    ref = samples[3]
    assert np.array_equal(again.image, ref.image)
    assert np.array_equal(again.with_person, ref.with_person)
    assert np.array_equal(again.keypoints, ref.keypoints)
    assert np.array_equal(again.box, ref.box)
    assert not np.array_equal(samples[2].image, ref.image)


def test_shapes_and_types(samples):
    for s in samples.values():
        assert s.image.shape == s.with_person.shape == (256, 256, 3)
        assert s.image.dtype == s.with_person.dtype == np.uint8
        assert s.keypoints.shape == (16, 2) and s.keypoints.dtype == np.float32
        assert s.box.shape == (4,) and s.box.dtype == np.float32
        assert s.pose_class in scene_people.POSE_CLASSES
        assert s.scene_kind in ("indoor", "outdoor")
        assert s.focal_length > 0
    wide = make_scene_sample(0, (120, 200))
    assert wide.image.shape == (120, 200, 3)
    assert (wide.box[[0, 2]] <= 199).all() and (wide.box[[1, 3]] <= 119).all()


def test_keypoints_lie_in_the_box(samples):
    for s in samples.values():
        placed = (s.keypoints >= 0).all(1)
        assert placed.sum() >= 12
        kp = s.keypoints[placed]
        x0, y0, x1, y1 = s.box
        assert x0 < x1 and y0 < y1
        assert (kp[:, 0] >= x0).all() and (kp[:, 0] <= x1).all()
        assert (kp[:, 1] >= y0).all() and (kp[:, 1] <= y1).all()


def test_person_changes_only_its_box(samples):
    """The two renders differ around the person (and its floor shadow), nowhere else."""
    for s in samples.values():
        diff = np.abs(s.with_person.astype(int) - s.image.astype(int)).max(-1) > 40
        x0, y0, x1, y1 = s.box
        pad = 10  # JPEG blocks and the contact shadow around the feet
        ys, xs = np.nonzero(diff)
        assert len(ys) > 50
        outside = (xs < x0 - pad) | (xs > x1 + pad) | (ys < y0 - pad) | (ys > y1 + pad)
        assert outside.mean() < 0.01


def _sitters(count: int):
    found, seed = [], 0
    while len(found) < count and seed < 400:
        scene, _ = build_scene(seed)
        p = scene.person
        if p.pose_class == "sitting" and p.support not in ("floor",):
            found.append(p)
        seed += 1
    return found


def test_sitting_hips_on_the_seat():
    """In 3D: the seat top is at the buttocks, the hip joints a little above it and over
    the seat, the feet on the floor (or a step), and no limb inside the furniture."""
    sitters = _sitters(6)
    assert len(sitters) == 6
    body = scene_people.mannequin()
    seat_parts = np.isin(np.asarray(body.data.part_labels), scene_people.SEAT_PARTS)
    for p in sitters:
        top = p.seat_height
        hips = p.hips
        assert 0.03 < hips[:, 1].mean() - top < 0.2, (p.support, hips, top)
        near = np.linalg.norm(p.vertices[:, [0, 2]] - hips[:, [0, 2]].mean(0), axis=1) < 0.15
        buttocks = p.vertices[seat_parts & near, 1].min()
        assert abs(buttocks - top) < 0.02, (p.support, buttocks, top)
        support = p.pieces[0]
        local = support.to_local(hips)
        tops = [q for q in support.parts if abs(q.hi[1] - top) < 1e-4]
        assert tops, f"no box of the {support.kind} has its top at the seat height"
        over = [((local[:, 0] > q.lo[0]) & (local[:, 0] < q.hi[0]) & (local[:, 2] > q.lo[2] - 0.1)
                 & (local[:, 2] < q.hi[2])).all() for q in tops]
        assert any(over)
        assert penetration(support, p.vertices) <= 0.004 * len(p.vertices)


def test_every_pose_class_can_be_placed():
    rng = np.random.default_rng(0)
    for cls in scene_people.POSE_CLASSES:
        for outdoor in (False, True):
            p = scene_people.place_person(rng, outdoor, cls)
            assert p.vertices[:, 1].min() > -0.02  # nobody under the floor
            assert p.keypoints.shape == (16, 3)


def test_batch_matches_single_samples():
    batch = make_scene_batch([7, 8], workers=2)
    assert [b.pose_class for b in batch] == [make_scene_sample(s).pose_class for s in (7, 8)]
    assert np.array_equal(batch[1].image, make_scene_sample(8).image)


def test_synth_scenes_command(tmp_path, monkeypatch, capsys):
    from studio import cli

    monkeypatch.setattr(cli, "COMMAND_MODULES", ("synth",))
    out = tmp_path / "scenes"
    assert cli.main(["synth", "scenes", "--count", "2", "--seed", "5", "--size", "96,128",
                     "--out", str(out), "--json"]) == 0
    with np.load(out / "scenes.npz") as data:
        assert data["images"].shape == data["with_person"].shape == (2, 96, 128, 3)
        assert data["keypoints"].shape == (2, 16, 2) and list(data["seeds"]) == [5, 6]
        assert np.array_equal(data["keypoints"][1], make_scene_sample(6, (96, 128)).keypoints)
    assert (out / "contact_sheet.png").stat().st_size > 1000
    capsys.readouterr()
    assert cli.main(["synth", "scenes", "--count", "0", "--out", str(tmp_path / "x")]) == 2
    assert "--count" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_paint_out_box_fills_only_the_box(samples):
    from studio.synth.scene_paint import paint_out_box

    s = samples[1]
    a = paint_out_box(s.image, s.box, np.random.default_rng(4))
    b = paint_out_box(s.image, s.box, np.random.default_rng(4))
    assert np.array_equal(a, b) and a.shape == s.image.shape and a.dtype == np.uint8
    change = np.abs(a.astype(int) - s.image.astype(int)).max(-1)
    x0, y0, x1, y1 = s.box
    m = 0.15 * max(x1 - x0, y1 - y0)
    ys, xs = np.mgrid[0:a.shape[0], 0:a.shape[1]]
    far = (xs < x0 - m) | (xs > x1 + m) | (ys < y0 - m) | (ys > y1 + m)
    assert change[far].max() <= 2
    inside = (xs > x0) & (xs < x1) & (ys > y0) & (ys < y1)
    assert change[inside].mean() > change[far].mean() + 1


def test_furniture_in_front_hides_the_person():
    """One depth test: a wall between camera and person hides it, one behind does not."""
    import torch

    from studio.synth import scene_furniture as furn
    from studio.synth.scene_render import (Camera, Lights, Plane, render_person, trace_boxes,
                                           trace_planes)

    person = scene_people.place_person(np.random.default_rng(1), False, "standing")
    centre = (person.vertices.min(0) + person.vertices.max(0)) / 2
    eye = centre + np.array([0.0, 0.0, 4.0], np.float32)
    cam = Camera.look(eye, centre - eye, 150.0, 96, 96)
    body = scene_people.mannequin()
    faces = torch.as_tensor(body.data.faces)
    colors = torch.full((1, body.data.num_vertices, 3), 0.5)
    rays = cam.rays()
    floor = [Plane(np.array([0.0, 1.0, 0.0], np.float32), 0.0, 0, (np.eye(3)[0], np.eye(3)[2]))]
    grey = np.full(3, 0.5, np.float32)
    lights = Lights(np.array([0.0, 1.0, 0.0], np.float32), np.ones(3, np.float32), 0.4, [],
                    grey, grey)
    _, depth, mask = render_person(cam, person.vertices, faces, colors, lights)
    assert mask.sum() > 100
    for z, hidden in ((centre[2] + 2.0, True), (centre[2] - 1.0, False)):
        wall = furn.panel("wall", -3, 3, z - 0.1, z, 3.0)
        surf = trace_planes(cam, rays, floor)
        trace_boxes(cam, rays, [wall], {(0, "frame"): 0}, surf)
        visible = (depth.reshape(-1) < surf.depth) & mask.reshape(-1)
        assert (visible.sum() == 0) if hidden else (visible.sum() == mask.sum())


def test_ground_shadows_fall_away_from_the_light():
    from studio.synth.scene_render import GroundShadows

    light = np.array([0.5, 0.8, 0.0], np.float32)  # the sun towards +x
    shadows = GroundShadows(np.zeros(2), 10.0, light, 0.02)
    box = np.array([[[x, y, z] for x in (0, 1) for y in (0, 1) for z in (0, 1)]], np.float32)
    shadows.add_boxes(box)
    ground = np.array([[-0.5, 0, 0.5], [0.5, 0, 0.5], [1.5, 0, 0.5]], np.float32)
    amount = shadows.lookup(ground)
    assert amount[0] > 0.9 and amount[1] > 0.9 and amount[2] < 0.1  # cast towards -x
    assert shadows.lookup(np.zeros((0, 3), np.float32)).shape == (0,)  # no ground in view


def test_degrade_photo_softens_and_is_seeded(samples):
    from studio.synth.photo_degrade import degrade_photo

    image = samples[0].image
    a = degrade_photo(image, np.random.default_rng(3))
    b = degrade_photo(image, np.random.default_rng(3))
    assert a.shape == image.shape and a.dtype == np.uint8
    np.testing.assert_array_equal(a, b)
    # blurred: less high-frequency energy than the render, same picture on average
    def detail(im):
        return float(np.abs(np.diff(im.astype(np.float64), axis=1)).mean())
    assert detail(a) < detail(image)
    assert abs(float(a.mean()) - float(image.mean())) < 3.0
