"""Scene-aware pose generation: templates, net bounds, Sitcom lines, metrics, the
`studio scene generate` command and a short training run on stand-in scenes."""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from studio.cli import main
from studio.io.sitcom import load_sitcom, parse_line
from studio.nets.scenepose import ScenePoseConfig, ScenePoseNet, roi_align
from studio.nets.scenepose_views import normalise
from studio.pipeline.scenepose import ScenePoseModel, save_scenepose
from studio.synth.scenepose_data import SceneSet, TemplateSet, build_templates, kmeans_poses
from studio.train.scenepose_eval import box_only_poses, evaluate, pose_metrics

# A standing person in box-normalised coordinates (MPII order), for stand-in scenes.
STAND = np.array([[0.05, 0.48], [0.05, 0.25], [0.06, 0.02], [-0.06, 0.02], [-0.05, 0.25],
                  [-0.05, 0.48], [0, 0.02], [0, -0.3], [0, -0.36], [0, -0.47], [0.15, 0.02],
                  [0.13, -0.13], [0.1, -0.3], [-0.1, -0.3], [-0.13, -0.13], [-0.15, 0.02]])
TINY = ScenePoseConfig(templates=4, input_size=64, widths=(8, 8, 16, 16), channels=16, heads=2)


def standin_scenes(n: int, seed: int = 0, size: int = 96) -> SceneSet:
    """Scenes with a floor; half the people stand, half lie (wide, low boxes)."""
    rng = np.random.default_rng(seed)
    images, kps, boxes, classes = [], [], [], []
    for _ in range(n):
        img = np.zeros((size, size, 3), np.uint8)
        floor = int(rng.integers(size // 2, size - 8))
        img[:floor], img[floor:] = rng.integers(60, 200, 3), rng.integers(0, 120, 3)
        lying = bool(rng.random() < 0.5)
        pose = (STAND[:, ::-1] if lying else STAND) + rng.normal(0, 0.02, STAND.shape)
        side = rng.uniform(size * 0.25, size * 0.5)
        cx = rng.uniform(side / 2 + 2, size - side / 2 - 2)
        kp = np.array([cx, floor - side * (0.15 if lying else 0.5)]) + pose * side
        if rng.random() < 0.3:
            kp[int(rng.integers(16))] = -1  # a missing joint
        seen = kp[(kp >= 0).all(1)]
        lo, hi = seen.min(0), seen.max(0)
        pad = (hi - lo) * 0.05
        images.append(img)
        kps.append(kp)
        boxes.append(np.clip(np.r_[lo - pad, hi + pad], 0, size - 1))
        classes.append("lying" if lying else "standing")
    return SceneSet(np.stack(images), np.stack(kps).astype(np.float32),
                    np.stack(boxes).astype(np.float32), np.array(classes))


def tiny_model(seed: int = 0) -> ScenePoseModel:
    data = standin_scenes(60, seed)
    templates = build_templates(data.keypoints, data.boxes, data.heights(), TINY.templates, seed,
                                data.pose_class)
    torch.manual_seed(seed)
    net = ScenePoseNet(TINY, torch.as_tensor(templates.poses), torch.as_tensor(templates.extents))
    return ScenePoseModel(net, templates)


def test_templates_are_deterministic_by_seed_and_mask_missing_joints() -> None:
    data = standin_scenes(80)
    poses = normalise(data.keypoints, data.boxes)
    assert np.isnan(poses).any()  # the stand-in has missing joints
    a, b = kmeans_poses(poses, 5, seed=3), kmeans_poses(poses, 5, seed=3)
    np.testing.assert_array_equal(a, b)
    assert np.isfinite(a).all()  # every joint seen by some member
    assert not np.array_equal(a, kmeans_poses(poses, 5, seed=4))
    t = build_templates(data.keypoints, data.boxes, data.heights(), 4, 0)
    # lying and standing people end in templates of different aspect
    assert t.aspect[:, 0].max() - t.aspect[:, 0].min() > 1.0
    assert t.classes == [] and t.describe(0) == ""  # no classes given


def test_templates_keep_their_members_classes_and_name_them() -> None:
    data = standin_scenes(80)
    t = build_templates(data.keypoints, data.boxes, data.heights(), 4, 0, data.pose_class)
    assert len(t.classes) == 4
    for shares in t.classes:
        assert abs(sum(shares.values()) - 1) < 0.01
        assert list(shares.values()) == sorted(shares.values(), reverse=True)
    # the stand-in's lying people are wide: the widest template is theirs, the narrowest not
    assert t.describe(int(t.aspect[:, 0].argmax())) == "lying"
    assert t.describe(int(t.aspect[:, 0].argmin())) == "standing"
    assert TemplateSet.from_dict(t.to_dict()).classes == t.classes
    mixed = TemplateSet.from_dict({**t.to_dict(), "classes": [
        {"standing": 0.5, "walking": 0.3, "leaning": 0.2}] * 4})
    assert mixed.describe(1) == "standing or walking"
    catch_all = TemplateSet.from_dict({**t.to_dict(), "classes": [
        {"sitting": 0.29, "leaning": 0.26, "walking": 0.23, "standing": 0.22}] * 4})
    assert catch_all.names(0) == [] and not catch_all.of_class("sitting").any()
    assert catch_all.describe(0) == "mixed (sitting, leaning, walking)"
    old = {k: v for k, v in t.to_dict().items() if k != "classes"}  # a file from before
    assert TemplateSet.from_dict(old).describe(0) == ""


def test_roi_align_samples_bin_centres() -> None:
    xs = (2 * torch.arange(9.0) + 1) / 9 - 1  # pixel centres' x in [-1, 1] coordinates
    ramp = xs.expand(9, 9)[None, None]
    out = roi_align(ramp, torch.tensor([[[-0.5, -0.5, 0.5, 0.5]]]), 2)
    # the box [-0.5, 0.5]'s two bins centre at x = -0.25 and 0.25
    assert out.shape == (1, 1, 1, 2, 2)
    np.testing.assert_allclose(out[0, 0, 0].numpy(), [[-0.25, 0.25]] * 2, atol=1e-5)


def test_offsets_and_scales_respect_bounds_and_box_poses_lie_in_the_box() -> None:
    model = tiny_model()
    with torch.no_grad():
        for head in (model.net.scale_head[-1], model.net.offset_head[-1]):
            head.weight.mul_(1000)  # push the heads far past their bounds
            head.bias.fill_(50)
        v = torch.randn(2, 3, TINY.input_size, TINY.input_size)
        out = model.net(v, v, v)
    assert out.offsets.abs().max() <= 0.5 + 1e-6
    assert out.scale.min() >= 0 and out.scale.max() <= 2 + 1e-6
    image = np.random.default_rng(0).integers(0, 255, (120, 200, 3), np.uint8)
    box = np.array([30.0, 20.0, 170.0, 70.0])
    poses = model.generate(image, box=box, top_k=4)
    assert len(poses) == 4
    assert [p.score for p in poses] == sorted((p.score for p in poses), reverse=True)
    for p in poses:
        kp = p.keypoints[(p.keypoints >= 0).all(1)]
        assert (kp >= box[:2] - 1e-3).all() and (kp <= box[2:] + 1e-3).all()


def test_wide_boxes_rank_lying_templates_first() -> None:
    model = tiny_model()
    image = np.zeros((100, 100, 3), np.uint8)
    wide = model.generate(image, box=(10, 60, 90, 80), top_k=1)[0]
    tall = model.generate(image, box=(40, 10, 60, 90), top_k=1)[0]
    aspect = model.templates.aspect[:, 0]
    assert aspect[wide.template] > 0 > aspect[tall.template]


def test_offset_scale_zero_gives_the_bare_templates_stretched_into_the_box() -> None:
    model = tiny_model()
    image = np.random.default_rng(1).integers(0, 255, (100, 120, 3), np.uint8)
    box = np.array([[20.0, 10.0, 70.0, 95.0]])
    model.offset_scale, model.max_stretch = 0.0, math.inf  # box-only stretches freely
    _, bare = model.predict([image], boxes=box)
    order = np.argsort(np.abs(np.log(50 / 85) - model.templates.aspect[:, 0]), kind="stable")
    expect = box_only_poses(model.templates, box)[0]  # templates in box-only's order
    assert np.allclose(bare[0, order], expect, atol=1e-3, equal_nan=True)
    model.offset_scale = 1.0
    _, moved = model.predict([image], boxes=box)
    assert not np.allclose(moved, bare, atol=1e-3, equal_nan=True)


def test_painted_out_scenes_are_seeded_and_change_only_near_the_box() -> None:
    data = standin_scenes(3, size=96)
    a, b = data.painted_out(5), data.painted_out(5)
    assert np.array_equal(a.images, b.images) and a.images.shape == data.images.shape
    assert not np.array_equal(a.images, data.painted_out(6).images)
    assert np.array_equal(a.keypoints, data.keypoints) and np.array_equal(a.boxes, data.boxes)


def test_reframed_scenes_keep_the_person_where_the_picture_shows_it() -> None:
    """A re-cropped scene holds the whole box, at a photo-like aspect, with keypoints
    and box moved and scaled as its pixels were; seeded like the painting."""
    data = standin_scenes(12, size=96)
    data.images[:, :, :] = np.arange(96, dtype=np.uint8)[None, None, :, None] * 2  # x ramp
    a, b = data.reframed(3), data.reframed(3)
    assert all(np.array_equal(x, y) for x, y in zip(a.images, b.images))
    assert any(not np.array_equal(x, y) for x, y in zip(a.images, data.reframed(4).images))
    aspects = np.array([im.shape[1] / im.shape[0] for im in a.images])
    assert all(im.shape[0] == 96 for im in a.images) and len(set(aspects.round(2))) > 3
    assert (aspects > 0.59).all() and (aspects < 1.71).all()
    for im, kp, box, kp0, box0 in zip(a.images, a.keypoints, a.boxes, data.keypoints,
                                     data.boxes):
        assert np.array_equal(kp < 0, kp0 < 0)  # missing stays missing
        seen = (kp >= 0).all(1)
        scale = np.ptp(kp[seen][:, 1]) / np.ptp(kp0[seen][:, 1])
        assert scale >= 1 - 1e-4  # the window is never taller than the scene
        shift = kp[seen][0] - kp0[seen][0] * scale
        assert np.allclose(kp[seen], kp0[seen] * scale + shift, atol=1e-3)
        moved = np.clip(box0 * scale + np.tile(shift, 2), 0, [im.shape[1] - 1, 95] * 2)
        assert np.allclose(box, moved, atol=1e-3)  # clipped to the picture only
        assert (kp[seen] >= box[:2] - 1e-3).all() and (kp[seen] <= box[2:] + 1e-3).all()
        assert box[2] <= im.shape[1] - 1 + 1e-4 and box[3] <= im.shape[0] - 1 + 1e-4
        x = int(kp[seen][0, 0])  # the ramp's value there is where the scene's pixel was
        expect = 2 * (x - shift[0]) / scale
        assert abs(float(im[int(kp[seen][0, 1]), x, 0]) - expect) <= 2 * (1 + 1 / scale) + 1


def test_a_batch_shows_each_picture_at_its_own_width() -> None:
    """Reframed pictures of several widths share a padded tensor, but each is squeezed to
    the net's full view alone, as the same picture given as a photo would be."""
    from studio.nets.scenepose_views import make_views
    from studio.train.scenepose_train import make_batch

    data = standin_scenes(6, size=96)
    batch = make_batch(data, np.arange(6), np.random.default_rng(1), 0.0, reframe=1.0)
    assert len(set(batch.widths)) > 1 and batch.images.shape[-1] == batch.widths.max()
    centres = torch.as_tensor((batch.boxes[:, :2] + batch.boxes[:, 2:]) / 2).float()
    views = batch.views(32, centres)
    i = int(np.argmin(batch.widths))
    alone = make_views(batch.images[i:i + 1, :, :, :int(batch.widths[i])], centres[i:i + 1], 32)
    for v, a in zip(views, alone):
        assert v.shape == (6, 3, 32, 32) and torch.allclose(v[i], a[0])
    padded = make_views(batch.images[i:i + 1], centres[i:i + 1], 32)[0]
    assert not torch.allclose(views[0][i], padded[0])  # padding would have shown


@pytest.mark.parametrize("flag", ["--paint-out", "--reframe"])
def test_eval_refuses_render_only_flags_for_real_photos(tmp_path, capsys, flag) -> None:
    assert main(["eval", "scenepose", "--data", f"real:{tmp_path}", flag]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and flag in err


@pytest.mark.parametrize("option", ["--reframe", "--degrade", "--fill-probability"])
def test_train_refuses_a_share_outside_0_to_1(tmp_path, capsys, option) -> None:
    assert main(["train", "scenepose", "--run-dir", str(tmp_path / "run"), option, "1.5"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and option in err
    assert not (tmp_path / "run").exists()


def test_sitcom_lines_parse_with_missing_joints_negative(tmp_path: Path) -> None:
    values = [f"{10 + i},{20 + i}" for i in range(16)]
    values[3] = "-1,-1"
    pose = parse_line("frames/a.jpg," + ",".join(values) + ",7")
    assert pose.image == "frames/a.jpg" and pose.pose_class == 7
    assert pose.keypoints.shape == (16, 2) and (pose.keypoints[3] == -1).all()
    assert pose.keypoints[0].tolist() == [10, 20]
    spaced = parse_line("b.png " + " ".join(v.replace(",", " ") for v in values) + " 5 5 30")
    assert spaced.pose_class == 30  # a 17th reference point is dropped
    assert spaced.keypoints[15].tolist() == [25, 35]
    for bad in ("a.jpg 1 2 3", "a.jpg " + " ".join(["1"] * 32) + " 31"):
        with pytest.raises(ValueError):
            parse_line(bad)
    import cv2

    cv2.imwrite(str(tmp_path / "a.jpg"), np.zeros((128, 64, 3), np.uint8))
    (tmp_path / "list.txt").write_text("a.jpg," + ",".join(values) + ",7\n")
    data = load_sitcom(tmp_path / "list.txt")
    assert data.images[0].shape == (256, 128, 3)  # resized to the training height
    assert data.keypoints[0, 0].tolist() == [20, 40] and (data.keypoints[0, 3] == -1).all()
    assert (data.boxes[0, :2] <= data.keypoints[0, 0]).all()


def test_metrics_mask_missing_joints_and_baselines_fit_boxes() -> None:
    data = standin_scenes(10)
    gt = np.where(data.keypoints < 0, np.nan, data.keypoints).astype(np.float64)
    m = pose_metrics(gt[:, None], data.keypoints, data.heights())
    assert (m["mse_px"] == 0).all()
    for name, pair in (("pck@0.2", [3, 12]), ("pckh@0.5", [8, 9])):  # no reference: NaN
        seen = (data.keypoints[:, pair] >= 0).all((1, 2))
        assert (m[name][seen] == 1).all() and np.isnan(m[name][~seen]).all()
    shifted = pose_metrics(gt[:, None] + 1000, data.keypoints, data.heights())
    assert np.nanmax(shifted["pck@0.2"]) == 0
    model = tiny_model()
    boxed = box_only_poses(model.templates, data.boxes)
    assert boxed.shape == (10, TINY.templates, 16, 2)
    assert (boxed >= data.boxes[:, None, None, :2] - 1e-6).all()
    table = evaluate(model, data, "box", k=2)
    assert set(table["rows"]) == {"model", "mean_template", "box_only"}
    for row in table["rows"].values():
        assert row["best_of_k"]["pck@0.2"] >= row["top1"]["pck@0.2"]
    for name in ("model", "box_only"):  # all K templates reach at least their first k
        row = table["rows"][name]
        assert row["best_of_all"]["pck@0.2"] >= row["best_of_k"]["pck@0.2"]
    assert "best_of_all" not in table["rows"]["mean_template"]


@pytest.fixture(scope="module")
def weights(tmp_path_factory) -> Path:
    model = tiny_model()
    path = tmp_path_factory.mktemp("scenepose") / "tiny.pt"
    save_scenepose(path, model.net, model.templates, {"note": "untrained, for tests"})
    return path


def test_scene_generate_json_is_sorted_and_has_16_keypoints(weights, tmp_path, capsys) -> None:
    import cv2

    photo = tmp_path / "scene.png"
    cv2.imwrite(str(photo), np.full((90, 160, 3), 128, np.uint8))
    assert main(["scene", "generate", str(photo), "--box", "20,10,80,85", "--top-k", "3",
                 "--model", str(weights), "--json", "--export", str(tmp_path / "p.npz"),
                 "--overlay", str(tmp_path / "o.png")]) == 0
    doc = json.loads(capsys.readouterr().out)
    scores = [p["score"] for p in doc["poses"]]
    assert len(scores) == 3 and scores == sorted(scores, reverse=True)
    for p in doc["poses"]:
        assert isinstance(p["template"], int) and len(p["keypoints"]) == 16
        assert p["class"] in ("standing", "lying", "standing or lying", "lying or standing")
        assert all(len(xy) == 2 for xy in p["keypoints"])
    saved = np.load(tmp_path / "p.npz")
    assert saved["keypoints"].shape == (3, 16, 2)
    assert saved["classes"].tolist() == [p["class"] for p in doc["poses"]]
    assert cv2.imread(str(tmp_path / "o.png")).shape == (90, 160, 3)
    assert main(["scene", "generate", str(photo), "--box", "20,10,80,85", "--class", "lying",
                 "--model", str(weights), "--json"]) == 0
    lying = json.loads(capsys.readouterr().out)["poses"]
    assert lying and all(p["class"] == "lying" for p in lying)
    assert main(["scene", "generate", str(photo), "--box", "20,10,80,85", "--class", "flying",
                 "--model", str(weights)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "lying, standing" in err
    assert main(["scene", "generate", str(photo), "--point", "50,40", "--model", str(weights),
                 "--export", str(tmp_path / "p.json")]) == 0
    assert len(json.loads((tmp_path / "p.json").read_text())["poses"]) == TINY.templates


@pytest.mark.parametrize("box", ["20,10,20,50", "20,10,10,50", "100,10,200,50", "-5,0,10,10",
                                 "1,2,3"])
def test_scene_generate_refuses_bad_boxes_in_one_line(weights, tmp_path, capsys, box) -> None:
    import cv2

    photo = tmp_path / "scene.png"
    cv2.imwrite(str(photo), np.zeros((90, 160, 3), np.uint8))
    assert main(["scene", "generate", str(photo), f"--box={box}", "--model", str(weights),
                 "--export", str(tmp_path / "p.json")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "box" in err
    assert not (tmp_path / "p.json").exists()


@pytest.mark.slow
def test_training_runs_resumes_and_writes_weights(tmp_path: Path) -> None:
    from studio.pipeline.scenepose import load_scenepose
    from studio.train.scenepose_train import (COMPAT_WEIGHTS, OFFSET_SCALES, ScenePoseTrainConfig,
                                              train)

    data = standin_scenes(60, size=96)
    (tmp_path / "run" / "scenes").mkdir(parents=True)
    np.savez(tmp_path / "run" / "scenes" / "shard-0000.npz", images=data.images,
             keypoints=data.keypoints, boxes=data.boxes, pose_class=data.pose_class)
    config = ScenePoseTrainConfig(samples=60, render_size=96, templates=4, input_size=64,
                                  steps=6, batch_size=4, val_samples=6, val_every=3,
                                  checkpoint_every=2, degrade=0.5, reframe=0.5)
    first = train(config, tmp_path / "run", progress=False, stop_after=3)
    assert first.step == 3
    done = train(config, tmp_path / "run", tmp_path / "w.pt", progress=False)
    assert done.step == 6 and len(done.history) == 2
    model = load_scenepose(tmp_path / "w.pt")
    assert model.net.config.templates == 4
    assert model.compat_weight in COMPAT_WEIGHTS  # fit on the validation scenes
    assert model.offset_scale in OFFSET_SCALES


def test_a_scene_folder_from_another_seed_is_refused_and_scene_seed_picks_it(
        tmp_path: Path, monkeypatch, capsys) -> None:
    """Rendered shards are kept and reused, so a folder records the first seed and size it
    was rendered with and refuses others; --scene-seed trains another seed on the same
    scenes (its templates and weights drawn by --seed)."""
    import types

    import studio.synth.scenes as scenes
    from studio.errors import StudioError
    from studio.synth.scenepose_data import render_cache
    from studio.train.scenepose_train import ScenePoseTrainConfig

    drawn = []

    def fake_scene(seed, size):
        drawn.append(seed)
        return types.SimpleNamespace(image=np.full((*size, 3), seed % 256, np.uint8),
                                     keypoints=np.zeros((16, 2)), box=np.zeros(4),
                                     pose_class="standing")

    monkeypatch.setattr(scenes, "make_scene_sample", fake_scene)
    folder = tmp_path / "run" / "scenes"
    render_cache(folder, 3, 50, size=32)
    render_cache(folder, 3, 50, size=32)  # kept: nothing drawn again
    assert drawn == [50, 51, 52]
    assert json.loads((folder / "about.json").read_text()) == {"first_seed": 50, "size": 32}
    for seed, size in ((7, 32), (50, 64)):
        with pytest.raises(StudioError, match="holds scenes from seed 50 at 32 px"):
            render_cache(folder, 3, seed, size=size)
    assert drawn == [50, 51, 52]
    assert ScenePoseTrainConfig(seed=3).first_scene() == 3
    assert ScenePoseTrainConfig(seed=3, scene_seed=50).first_scene() == 50
    assert main(["train", "scenepose", "--run-dir", str(tmp_path / "run"), "--seed", "3",
                 "--samples", "3", "--val-samples", "1", "--render-size", "32"]) == 2
    err = capsys.readouterr().err.strip()
    assert "holds scenes from seed 50" in err and len(err.splitlines()) == 1
    assert sorted(p.name for p in folder.parent.iterdir()) == ["scenes"]


SCENES = (Path(__file__).resolve().parents[2] / "shared" / "data" / "scenes",
          Path("/work/shared/data/scenes"))
SHIPPED = Path(__file__).resolve().parents[1] / "models" / "scenepose"


def test_shipped_weights_reproduce_the_model_cards_real_photo_table(capsys) -> None:
    """The model card's real-photo figures (``eval/real.json``) come back, model and
    baselines alike."""
    folder = next((f for f in SCENES if (f / "labels.json").is_file()), None)
    if folder is None:
        pytest.skip(f"the real scene photos are in neither of {', '.join(map(str, SCENES))}")
    stored = json.loads((SHIPPED / "eval" / "real.json").read_text())
    assert main(["eval", "scenepose", "--data", f"real:{folder}", "--mode", "both",
                 "--json"]) == 0
    got = json.loads(capsys.readouterr().out)
    for mine, theirs in zip(got["tables"], stored["tables"], strict=True):
        for name, row in theirs["rows"].items():
            for k in ("top1", "best_of_k"):
                assert mine["rows"][name][k]["pck@0.2"] == pytest.approx(
                    row[k]["pck@0.2"], abs=1e-3), (mine["mode"], name, k)


def test_a_template_is_stretched_at_most_max_stretch_and_stands_on_the_box_bottom() -> None:
    from studio.nets.scenepose_views import place_in_box

    flat = STAND[:, ::-1] / np.ptp(STAND[:, ::-1], 0)  # spans 1 x 1, centred
    lying = torch.tensor(flat * [1.0, 0.25])[None, None]  # 1 wide, 0.25 high
    extents = torch.tensor([[[1.0, 0.25]]], dtype=torch.float64)
    box = torch.tensor([[100.0, 50.0, 300.0, 250.0]], dtype=torch.float64)  # square
    free = place_in_box(lying, extents, box)[0, 0]
    held = place_in_box(lying, extents, box, max_stretch=2.0)[0, 0]
    assert free[:, 1].max() - free[:, 1].min() > 150  # stretched 4x down: fills the box
    height = held[:, 1].max() - held[:, 1].min()
    width = held[:, 0].max() - held[:, 0].min()
    assert 0.45 < float(height / width) < 0.55  # 0.25 high x 2 / 1 wide
    assert float(held[:, 1].max()) > 240  # on the box's bottom, not floating mid-box
    assert (held >= box[0, :2]).all() and (held <= box[0, 2:]).all()
    # a template whose aspect the box nearly has is placed as before
    upright = torch.tensor(STAND / np.ptp(STAND, 0) * [0.4, 1.0])[None, None]
    ext = torch.tensor([[[0.4, 1.0]]], dtype=torch.float64)
    tall = torch.tensor([[10.0, 10.0, 90.0, 210.0]], dtype=torch.float64)
    torch.testing.assert_close(place_in_box(upright, ext, tall, 2.0),
                               place_in_box(upright, ext, tall))


def test_asking_for_a_class_needs_a_file_that_keeps_them() -> None:
    from studio.errors import StudioError

    model = tiny_model()
    assert model.class_filter(None).all() and model.class_filter("").all()
    assert model.templates.class_names() == ["lying", "standing"]
    older = ScenePoseModel(model.net, TemplateSet.from_dict(
        {k: v for k, v in model.templates.to_dict().items() if k != "classes"}))
    assert older.templates.class_names() == []
    with pytest.raises(StudioError, match="no template classes"):
        older.class_filter("sitting")
