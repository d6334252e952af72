"""PoseAug's synthetic source/target distributions and the training run (tiny)."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from studio.body.registry import load_body_model
from studio.nets import poseaug
from studio.synth.poseaug_data import load_or_make, make_set
from studio.synth.smplr_points import PartialBody
from studio.train.poseaug_eval import evaluate
from studio.train.poseaug_train import WEIGHT_FILES, PoseAugConfig, train


@pytest.fixture(scope="module")
def body() -> PartialBody:
    return PartialBody(load_body_model("mannequin"))


@pytest.fixture(scope="module")
def sets(body) -> dict:
    return {kind: make_set(kind, 400, 0, body) for kind in ("source", "target")}


def test_sets_repeat_with_the_seed_and_project_consistently(body, sets):
    again = make_set("source", 400, 0, body)
    np.testing.assert_array_equal(again.poses, sets["source"].poses)
    other = make_set("source", 400, 1, body)
    assert not np.allclose(other.poses, sets["source"].poses)
    for data in sets.values():
        p, c, x = data.tensors()
        torch.testing.assert_close(poseaug.project_to_2d(p, c), x)
        assert p.shape == (400, 16, 3) and (p[..., 2] > 1.0).all()


def test_source_is_narrow_and_target_broad(sets):
    def upright(p):  # head above the hip in the image (y down)
        return float(np.mean(p[:, 9, 1] < p[:, 0, 1] - 0.3))

    def facing(p):  # the right hip on the image's left: the front is seen
        return float(np.mean(p[:, 1, 0] < p[:, 4, 0]))

    src, tgt = sets["source"].poses, sets["target"].poses
    assert upright(src) > 0.99 and upright(tgt) < 0.95
    assert facing(src) > 0.95 and 0.3 < facing(tgt) < 0.7
    src_depth, tgt_depth = src[:, 0, 2], tgt[:, 0, 2]
    assert 3.4 < src_depth.min() and src_depth.max() < 5.7
    assert tgt_depth.min() < 3.0 and tgt_depth.max() > 6.0
    height = lambda p: np.ptp(p[:, :, 1], axis=1)  # noqa: E731
    assert height(tgt).min() < 0.8 * height(src).min()  # sitting, crouching, lying


def test_tiny_training_run_writes_official_files_and_resumes(tmp_path):
    config = PoseAugConfig(train_samples=512, width=64, batch_size=128, pretrain_epochs=1,
                           epochs=2, warmup=1, pool_size=256)
    lines = []
    state = train(config, tmp_path / "run", tmp_path / "out", log=lines.append)
    phases = [json.loads(line)["phase"] for line in lines]
    assert phases == ["pretrain", "source-only", "source-only", "random", "random",
                      "poseaug", "poseaug"]
    assert "fake_loss" in json.loads(lines[-1])  # after the warm-up PoseAug's pairs train
    for name in WEIGHT_FILES.values():
        assert (tmp_path / "out" / name).is_file()
    gan = tmp_path / "out" / WEIGHT_FILES["gan"]
    for part, kind in (("augmentor", "augmentor"), ("d3d", "d3d"), ("d2d", "d2d"),
                       ("pose", "mlp")):
        assert poseaug.load_official(gan, part=part).kind == kind
    again = train(config, tmp_path / "run", None, log=lines.append)  # resumes: nothing left
    assert len(lines) == 7 and again["phase"] == state["phase"]
    with pytest.raises(ValueError, match="other settings"):
        train(PoseAugConfig(train_samples=512, width=32), tmp_path / "run")
    result = evaluate(tmp_path / "out", 64, 0, tmp_path / "cache")
    assert set(result["variants"]) == {"source-only", "random", "poseaug"}
    assert all(v[k]["mpjpe"] > 0 for v in result["variants"].values()
               for k in ("source", "target"))


def test_cached_sets_reload(tmp_path):
    made = load_or_make(tmp_path, "target", 50, 3)
    again = load_or_make(tmp_path, "target", 50, 3)
    np.testing.assert_array_equal(made.poses, again.poses)
    assert (tmp_path / "target-50-3.npz").is_file()


def test_a_held_out_shape_source_keeps_everything_but_the_bodies(body, sets, tmp_path):
    """The source with five other body shapes: the same poses' joint angles, cameras and
    draws, other bone lengths; cached apart from the usual source."""
    from studio.synth.poseaug_data import HELD_OUT_SHAPE_SEED

    other = make_set("source", 400, 0, body, shape_seed=HELD_OUT_SHAPE_SEED)
    np.testing.assert_array_equal(other.cameras, sets["source"].cameras)

    def thigh(p: np.ndarray) -> np.ndarray:  # right hip to right knee, metres
        return np.round(np.linalg.norm(p[:, 2] - p[:, 1], axis=-1), 4)

    usual, held = set(thigh(sets["source"].poses)), set(thigh(other.poses))
    assert len(usual) <= 5 and len(held) <= 5 and not usual & held
    load_or_make(tmp_path, "source", 50, 3, shape_seed=HELD_OUT_SHAPE_SEED)
    assert (tmp_path / f"source-50-3-shapes{HELD_OUT_SHAPE_SEED}.npz").is_file()
    assert not (tmp_path / "source-50-3.npz").exists()


def test_shipped_weights_reproduce_the_stored_check(tmp_path, capsys):
    from pathlib import Path

    from studio.cli import main

    folder = Path(poseaug.BUILTIN_DIR)
    stored = json.loads((folder / "eval" / "check.json").read_text())
    assert main(["eval", "poseaug", "--samples", str(stored["samples"]), "--seed",
                 str(stored["seed"]), "--cache", str(tmp_path), "--json"]) == 0
    got = json.loads(capsys.readouterr().out)
    for variant, sets in stored["variants"].items():
        for kind, errors in sets.items():
            for metric, value in errors.items():
                assert got["variants"][variant][kind][metric] == pytest.approx(value, abs=0.5)


def test_eval_takes_a_held_out_shape_source_on_request(tmp_path, capsys):
    from studio.cli import main

    assert main(["eval", "poseaug", "--samples", "16", "--source-shapes", "held-out",
                 "--cache", str(tmp_path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["source_shape_seed"] == 1007
    assert len(list(tmp_path.glob("source-16-1000-shapes1007.npz"))) == 1


def test_d2d_real_views_mirror_about_the_root_and_scale_within_bounds():
    from studio.train.poseaug_train import d2d_real_views

    x = torch.rand(64, 16, 2) * 0.5 - 0.25
    gen = torch.Generator().manual_seed(0)
    torch.testing.assert_close(d2d_real_views(x, 0.0, 1.0, gen), x)
    flipped = d2d_real_views(x, 1.0, 1.0, gen)
    torch.testing.assert_close(flipped[..., 1], x[..., 1])
    torch.testing.assert_close(flipped[..., 0] - x[:, :1, 0], -(x[..., 0] - x[:, :1, 0]))
    scaled = d2d_real_views(x, 0.0, 1.6, gen)
    ratio = (scaled - scaled[:, :1]).norm(dim=-1).sum(-1) / (x - x[:, :1]).norm(dim=-1).sum(-1)
    assert ratio.min() >= 1 / 1.6 - 1e-5 and ratio.max() <= 1.6 + 1e-5
    assert ratio.max() - ratio.min() > 0.3


def test_d2d_turned_views_keep_the_pose_and_change_only_the_viewpoint(sets):
    from studio.train.poseaug_train import d2d_turned_views

    poses, cameras, pose_2d = sets["source"].tensors()
    gen = torch.Generator().manual_seed(0)
    torch.testing.assert_close(d2d_turned_views(poses, cameras, pose_2d, 0.0, 0.45, 0.0, gen),
                               pose_2d)
    turned = d2d_turned_views(poses, cameras, pose_2d, 1.0, 0.0, 0.0, gen)
    # turned about the root: the root stays where it was
    torch.testing.assert_close(turned[:, 0], pose_2d[:, 0])
    back = (turned[:, 1, 0] > turned[:, 4, 0]).float().mean()
    assert 0.3 < back < 0.7  # about half the people now show their back
    rotated = d2d_turned_views(poses, cameras, pose_2d, 0.0, 0.0, 1.0, gen)
    assert not torch.allclose(rotated, turned)
    with pytest.raises(ValueError, match="d2d-turn"):
        PoseAugConfig(d2d_turn=0.7, d2d_rotate=0.5)

