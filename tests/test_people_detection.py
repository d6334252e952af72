"""Everyone in a photo: BlazePose's person detector (anchors, decoding, weighted NMS, tiles
and their merge, the landmark crop) and PersonFinder on made group photos of real people
(the built-in samples pasted side by side) and on photos with nobody in them."""
from __future__ import annotations

import math

import numpy as np
import pytest
from PIL import Image

from studio import cli
from studio.pipeline.anchors import Detection, decode, iou, ssd_anchors, weighted_nms
from studio.pipeline.group_photo import group_photo, mannequin_group
from studio.pipeline.people import PersonFinder
from studio.pipeline.person_detector import PersonDetector, Roi, merge, roi_of, tiles
from studio.pipeline.samples import astronaut
from torch_threads import one_torch_thread  # noqa: F401 (autouse fixture)


@pytest.fixture(scope="module")
def finder():
    with PersonFinder() as f:
        yield f


def _detection(box, keypoints, score, whole=True) -> Detection:
    return Detection(box=np.array(box, float), keypoints=np.array(keypoints, float),
                     score=score, whole=whole)


def test_anchors_match_the_models_outputs() -> None:
    anchors = ssd_anchors()
    assert anchors.shape == (2254, 2)  # 28*28*2 + 14*14*2 + 7*7*6, the model's rows
    np.testing.assert_allclose(anchors[0], anchors[1])  # two anchors per cell
    np.testing.assert_allclose(anchors[0], [0.5 / 28, 0.5 / 28])
    np.testing.assert_allclose(anchors[2], [1.5 / 28, 0.5 / 28])
    np.testing.assert_allclose(anchors[1568], [0.5 / 14, 0.5 / 14])  # stride 16 starts
    tail = anchors[1960:]  # the three stride-32 layers share one 7x7 map, 6 per cell
    np.testing.assert_allclose(tail[:6], np.tile([0.5 / 7, 0.5 / 7], (6, 1)))
    np.testing.assert_allclose(tail[-1], [6.5 / 7, 6.5 / 7])


def test_decode_offsets_boxes_and_keypoints_from_their_anchor() -> None:
    anchors = np.array([[0.25, 0.5], [0.75, 0.75]], np.float32)
    raw = np.zeros((2, 12), np.float32)
    raw[1, :4] = [22.4, -22.4, 44.8, 89.6]  # centre +0.1, -0.1; size 0.2 x 0.4 (of 224)
    raw[1, 4:] = np.arange(8) * 2.24  # keypoint k at anchor + (0.02 k, 0.02 k + 0.01)
    logits = np.array([-3.0, 2.0])  # sigmoid 0.047 (dropped), 0.881
    [d] = decode(raw, logits, anchors)
    assert d.score == pytest.approx(1 / (1 + math.exp(-2)))
    np.testing.assert_allclose(d.box, [0.75, 0.45, 0.95, 0.85], atol=1e-6)
    expected = np.array([0.75, 0.75]) + np.arange(8).reshape(4, 2) * 0.01
    np.testing.assert_allclose(d.keypoints, expected, atol=1e-6)
    assert decode(raw, np.array([1e4, -1e4]), anchors)[0].score == 1.0  # clipped, no overflow


def test_weighted_nms_averages_overlapping_boxes_by_score() -> None:
    a = _detection([0, 0, 10, 10], np.zeros((4, 2)), 0.9)
    b = _detection([1, 1, 11, 11], np.ones((4, 2)), 0.3)
    far = _detection([50, 50, 60, 60], np.zeros((4, 2)), 0.6)
    merged = weighted_nms([b, far, a])
    assert [m.score for m in merged] == [0.9, 0.6]
    np.testing.assert_allclose(merged[0].box, [0.25, 0.25, 10.25, 10.25])
    np.testing.assert_allclose(merged[0].keypoints, np.full((4, 2), 0.25))
    np.testing.assert_allclose(merged[1].box, far.box)
    assert iou(np.array([0, 0, 10, 10.0]), np.array([[5, 0, 15, 10.0]]))[0] == pytest.approx(1 / 3)


def test_tiles_overlap_by_half_and_reach_every_edge() -> None:
    windows = tiles(1000, 600)
    assert {x1 - x0 for x0, _, x1, _ in windows} == {300} == {y1 - y0 for _, y0, _, y1 in windows}
    assert {x0 for x0, *_ in windows} == {0, 150, 300, 450, 600, 700}
    assert {y0 for _, y0, *_ in windows} == {0, 150, 300}
    assert len(tiles(400, 400)) == 9  # 200 px, at 0, 100 and 200 each way
    assert tiles(150, 300) == []  # tiles under MIN_TILE px would only blow up noise


def test_merge_keeps_one_detection_per_person_preferring_whole_views() -> None:
    kp = [[100, 300], [100, 100], [100, 150], [100, 100]]
    whole = _detection([80, 60, 120, 100], kp, 0.7)
    cut = _detection([82, 62, 122, 102], np.array(kp) + [5, 40], 0.95, whole=False)
    shifted = _detection([78, 50, 112, 84], np.array(kp) + [3, 8], 0.8, whole=False)
    other = _detection([380, 60, 420, 100], np.array(kp) + [300, 0], 0.6)
    merged = merge([cut, other, shifted, whole])
    assert len(merged) == 2
    assert merged[0] is whole and merged[1] is other  # the cut view's guess is dropped


def test_roi_is_centred_on_the_hips_and_turns_the_body_upright() -> None:
    box = [0, 0, 10, 10]
    upright = roi_of(_detection(box, [[100, 300], [100, 100], [0, 0], [0, 0]], 0.9))
    assert upright.rotation == pytest.approx(0) and upright.side == pytest.approx(500)
    lying = roi_of(_detection(box, [[300, 100], [500, 100], [0, 0], [0, 0]], 0.9))
    assert lying.rotation == pytest.approx(math.pi / 2)  # head to the right
    m = lying.affine(256)
    hip, head = m @ [300, 100, 1], m @ [500, 100, 1]
    np.testing.assert_allclose(hip, [128, 128])
    np.testing.assert_allclose(head, [128, 128 - 256 / 2.5])  # straight above, in the crop
    capped = Roi(centre=np.array([100.0, 900]), side=2000, rotation=0, score=1,
                 face=np.array([80.0, 60, 120, 100])).capped(10)
    assert capped.side == 400 and capped.centre.tolist() == [100, 180]  # face a quarter down
    clipped = capped.clipped(300, 300)
    assert clipped.side == pytest.approx(300) and clipped.centre.tolist() == [150, 150]


def test_detector_sees_the_astronauts_face() -> None:
    [d] = PersonDetector().detect(astronaut())
    x0, y0, x1, y1 = d.box
    assert 140 < x0 < 225 < x1 < 290 and 100 < y0 < 160 < y1 < 260  # her face, by eye
    assert d.score > 0.7


@pytest.mark.parametrize("count", [3, 7])
def test_group_photo_finds_everyone_largest_first(finder, count) -> None:
    photo, frames = group_photo(count)
    people = finder.find(photo, max_people=10)
    assert len(people) == count
    for x0, y0, x1, y1 in frames:  # one nose in each pasted picture
        assert sum(x0 <= p.landmarks[0, 0] <= x1 and y0 <= p.landmarks[0, 1] <= y1
                   for p in people) == 1
    areas = [p.area for p in people]
    assert areas == sorted(areas, reverse=True)
    front = [p.landmarks[0, 1] > photo.shape[0] / 2 for p in people]
    assert front == sorted(front, reverse=True)  # the front row (larger) before the back
    assert set(finder.timings) >= {"detector", "landmarks", "search"}


def test_rendered_mannequins_of_four_heights_are_all_found_largest_first(finder) -> None:
    photo, frames = mannequin_group()
    people = finder.find(photo, max_people=10)
    assert len(people) == len(frames)
    for person, (x0, y0, x1, y1) in zip(people, frames):  # largest first: frames' order
        px0, py0, px1, py1 = person.extent
        assert x0 - 15 <= px0 and px1 <= x1 + 15 and y0 - 15 <= py0 and py1 <= y1 + 15
        assert (px1 - px0) * (py1 - py0) > 0.6 * (x1 - x0) * (y1 - y0)


def test_max_people_keeps_the_largest(finder) -> None:
    photo, _ = group_photo(7)
    people = finder.find(photo, max_people=10)
    assert [p.extent for p in finder.find(photo, max_people=3)] == [
        p.extent for p in people[:3]]


def test_photos_without_people_have_nobody(finder) -> None:
    from skimage import data

    rng = np.random.default_rng(0)
    for photo in (data.coffee(), data.chelsea(), rng.integers(0, 255, (600, 800, 3), np.uint8)):
        assert finder.find(photo, max_people=10) == []


def test_studio_run_exits_4_on_a_photo_of_nobody(tmp_path, capsys, monkeypatch) -> None:
    from skimage import data

    monkeypatch.setattr(cli, "COMMAND_MODULES", ("run",))
    photo = tmp_path / "coffee.png"
    Image.fromarray(data.coffee()).save(photo)
    code = cli.main(["run", str(photo), "--max-people", "10", "--overlay",
                     str(tmp_path / "o.png")])
    assert code == 4 and "no person found" in capsys.readouterr().err
    assert not (tmp_path / "o.png").exists()


def test_bench_people_reports_ms_per_photo_split_by_part(capsys, monkeypatch) -> None:
    import json

    monkeypatch.setattr(cli, "COMMAND_MODULES", ("bench",))
    code = cli.main(["bench", "people", "--counts", "1,3", "--repeats", "1", "--threads", "1",
                     "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    doc = json.loads(out)
    assert [(r["people"], r["found"]) for r in doc["results"]] == [(1, 1), (3, 3)]
    for r in doc["results"]:
        assert set(r["parts_ms"]) == {"detector", "landmarks", "search"}
        assert r["ms"] >= max(r["parts_ms"].values()) > 0
