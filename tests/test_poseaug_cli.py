"""``studio poseaug augment``: reproducible 2D-3D pairs per stage from a user's poses;
bad input is one line and exit 2 with nothing written."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from studio.cli import main
from studio.nets import poseaug
from studio.nets.poseaug_skeleton import bone_lengths

T_POSE = np.array([[0, 0, 0], [-.13, 0, 0], [-.13, .45, 0], [-.13, .9, 0], [.13, 0, 0],
                   [.13, .45, 0], [.13, .9, 0], [0, -.25, 0], [0, -.5, 0], [0, -.7, 0],
                   [.18, -.48, 0], [.45, -.48, 0], [.7, -.48, 0], [-.18, -.48, 0],
                   [-.45, -.48, 0], [-.7, -.48, 0]], np.float32)


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    """A training-state file with an augmentor and both discriminators (random, but
    moving poses visibly)."""
    torch.manual_seed(0)
    g = poseaug.PoseAugmentor()
    with torch.no_grad():
        g.RTprocess.w2_T.bias.copy_(torch.tensor([0.0, 0.0, 2.0]))
    path = tmp_path_factory.mktemp("model") / "gan.pth.tar"
    torch.save({"epoch": 1, "model_G": g.state_dict(),
                "model_d3d": poseaug.PoseDiscriminator3D().state_dict(),
                "model_d2d": poseaug.PoseDiscriminator2D().state_dict()}, path)
    return path


@pytest.fixture()
def poses_file(tmp_path) -> Path:
    rng = np.random.default_rng(0)
    poses = T_POSE + rng.normal(0, 0.02, (3, 16, 3)).astype(np.float32)
    np.savez(tmp_path / "in.npz", poses=poses)
    return tmp_path / "in.npz"


def augment(poses_file: Path, model: Path, out: Path, *extra: str) -> int:
    return main(["poseaug", "augment", str(poses_file), "--count", "4", "--model", str(model),
                 "--out", str(out), *extra])


def test_outputs_every_stage_and_repeats_with_the_seed(tmp_path, poses_file, model, capsys):
    assert augment(poses_file, model, tmp_path / "a.npz", "--seed", "5") == 0
    assert augment(poses_file, model, tmp_path / "b.npz", "--seed", "5") == 0
    assert augment(poses_file, model, tmp_path / "c.npz", "--seed", "6") == 0
    a, b, c = (np.load(tmp_path / f"{n}.npz") for n in "abc")
    assert a["poses_rt"].shape == (12, 16, 3) and a["pose_2d_rt"].shape == (12, 16, 2)
    assert a["cameras"].shape == (12, 9) and a["blr"].shape == (12, 9)
    assert a["d3d_scores"].shape == (12, 5) and a["d2d_scores"].shape == (12,)
    assert int(a["seed"]) == 5 and str(a["stages"]) == "ba,bl,rt"
    assert a["moved_to_front"].all()  # root-relative input went to 4.5 m
    for key in a.files:
        np.testing.assert_array_equal(a[key], b[key])
    assert not np.allclose(a["poses_rt"], c["poses_rt"])
    np.testing.assert_allclose(a["pose_2d_rt"], poseaug.project_to_2d(
        torch.from_numpy(a["poses_rt"]), torch.from_numpy(a["cameras"])).numpy(), atol=1e-6)
    np.testing.assert_array_equal(a["source_index"], np.repeat(np.arange(3), 4))


def test_stage_switches_and_strength(tmp_path, poses_file, model, capsys):
    assert augment(poses_file, model, tmp_path / "ba.npz", "--stages", "ba") == 0
    z = np.load(tmp_path / "ba.npz")
    lengths = bone_lengths(torch.from_numpy(z["poses_rt"]))
    source = bone_lengths(torch.from_numpy(z["poses_input"]))
    torch.testing.assert_close(lengths, source, atol=1e-5, rtol=0)
    np.testing.assert_allclose(z["poses_rt"][:, 0], z["poses_input"][:, 0], atol=1e-6)
    assert np.all(z["blr"] == 0) and np.all(z["rot"] == 0)
    assert augment(poses_file, model, tmp_path / "none.npz", "--strength", "0") == 0
    z = np.load(tmp_path / "none.npz")
    np.testing.assert_allclose(z["poses_rt"], z["poses_input"], atol=1e-5)


@pytest.mark.parametrize("payload, message", [
    ({"poses": np.zeros((2, 17, 3))}, "must be [P,16,3]"),
    ({"poses": T_POSE * 1000}, "millimetres"),
    ({"poses": np.full((16, 3), np.nan)}, "finite"),
    ({"a": T_POSE, "b": T_POSE}, "needs an array 'poses'"),
    ({"poses": T_POSE, "cameras": np.zeros(7)}, "'cameras' must be"),
])
def test_bad_input_is_one_line_exit_2_and_nothing_written(tmp_path, model, capsys, payload,
                                                          message):
    np.savez(tmp_path / "bad.npz", **payload)
    assert augment(tmp_path / "bad.npz", model, tmp_path / "out.npz") == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
    assert not (tmp_path / "out.npz").exists()


def test_bad_options_exit_2(tmp_path, poses_file, model, capsys):
    for extra in (["--count", "0"], ["--stages", "ba,zz"], ["--strength", "ba=x"],
                  ["--strength", "rt=2.5"]):
        assert augment(poses_file, model, tmp_path / "o.npz", *extra) == 2
    assert augment(poses_file, model, tmp_path / "o.txt") == 2
    assert main(["poseaug", "augment", str(tmp_path / "missing.npz"), "--count", "1",
                 "--model", str(model), "--out", str(tmp_path / "o.npz")]) == 2
    (tmp_path / "text.npz").write_text("hello")
    assert augment(tmp_path / "text.npz", model, tmp_path / "o.npz") == 2
    assert not (tmp_path / "o.npz").exists()
    assert augment(poses_file, poses_file, tmp_path / "o.npz") == 3  # not a model file


def test_the_model_card_s_training_command_parses_into_the_shipped_recipe():
    """The card's command is how a user remakes the shipped files (a fresh run gave them
    byte for byte): it must stay a valid command for the options as they are now."""
    import re
    import shlex

    from studio.cli import build_parser
    from studio.commands.training_runs import config_from_args
    from studio.train.poseaug_train import RECIPES, PoseAugConfig

    card = (Path(poseaug.BUILTIN_DIR) / "MODEL_CARD.md").read_text()
    training = card[card.index("## Training"):]
    block = re.search(r"```\n(studio train poseaug .*?)```", training, re.S).group(1)
    argv = shlex.split(block.replace("\\\n", " "))[1:]
    args = build_parser().parse_args(argv)
    config = config_from_args(PoseAugConfig, args)
    assert args.half and args.out == Path("models/poseaug")
    assert (config.width, config.epochs, config.cooldown, config.fake_memory) == (1024, 18, 4, 4)
    assert (config.fake_keep, config.blr_limit, config.seed) == (0.8, 0.05, 0)
    assert (config.hardratio_ba_s, config.hardratio_ba, config.hardratio_std_ba) == (1.5, 2.5, 1.0)
    assert (config.hardratio_rt_s, config.hardratio_rt, config.hardratio_std_rt) == \
        (4.25, 4.25, 3.75)
    recipe = build_parser().parse_args(["train", "poseaug", "--run-dir", "RUN", "--recipe",
                                        "shipped", "--seed", "0", "--threads", "1"])
    assert config_from_args(PoseAugConfig, recipe, RECIPES["shipped"]) == config


@pytest.mark.parametrize("argv", [["--fake-keep", "1.0", "--recipe", "shipped"],
                                  ["--recipe", "shipped", "--fake-keep", "1"]])
def test_options_given_beside_a_recipe_win_in_either_order(argv):
    """Even an option given at its default value: the user chose it, the recipe did not."""
    from studio.cli import build_parser
    from studio.commands.training_runs import config_from_args
    from studio.train.poseaug_train import RECIPES, PoseAugConfig

    args = build_parser().parse_args(["train", "poseaug", "--run-dir", "RUN", *argv,
                                      "--no-mix-fakes"])
    config = config_from_args(PoseAugConfig, args, RECIPES[args.recipe])
    assert config.fake_keep == 1.0 and config.mix_fakes is False
    assert config.cooldown == 4 and config.width == 1024  # the recipe's, not given
    plain = build_parser().parse_args(["train", "poseaug", "--run-dir", "RUN"])
    assert config_from_args(PoseAugConfig, plain) == PoseAugConfig()
