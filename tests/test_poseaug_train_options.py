"""``studio train poseaug``'s diagnostic options: the hand-made "views" recipe, stopping
after a phase, picking by source validation, mode seeking on the RT stage, and resuming
a run made before an option existed (tiny runs, seconds)."""
from __future__ import annotations

import json
import shutil
from dataclasses import asdict
from pathlib import Path

import pytest
import torch

from studio.cli import main
from studio.nets.poseaug_skeleton import bone_lengths, project_to_2d
from studio.synth.poseaug_data import load_or_make, view_groups
from studio.train.poseaug_eval import evaluate
from studio.nets.poseaug_files import load_official, read_file
from studio.train.poseaug_losses import HUBER_DELTA, huber_joint_loss, mpjpe_loss
from studio.train.poseaug_train import WEIGHT_FILES, FakePool, PoseAugConfig, data_folder, \
    off_source_views, recall_fakes, rt_spread, same_settings, train, valid_samples, \
    view_augment, write_weights

TINY = dict(train_samples=512, width=64, batch_size=128, pretrain_epochs=1, epochs=3,
            warmup=1, pool_size=256)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    """The tiny runs' training pairs, made once."""
    folder = tmp_path_factory.mktemp("data")
    load_or_make(folder, "source", TINY["train_samples"], 0)
    return folder


@pytest.fixture(scope="module")
def source(data_dir):
    return load_or_make(data_dir, "source", TINY["train_samples"], 0).tensors()


def stop_at_gan_epoch(config: PoseAugConfig, folder: Path, epoch: int) -> None:
    """Start the run in ``folder`` and interrupt it as the PoseAug phase logs ``epoch``
    (the epoch before it is the last one saved)."""
    def log(line):
        if '"gan"' in line and json.loads(line)["epoch"] == epoch:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(config, folder, log=log)


def run_dir(tmp_path: Path, data_dir: Path) -> Path:
    """A fresh run folder holding the shared training pairs."""
    shutil.copytree(data_dir, data_folder(tmp_path / "run"))
    return tmp_path / "run"


def test_views_recipe_turns_people_round_lays_some_down_and_spreads_depth(source):
    poses, cameras, _ = source
    out = view_augment(poses, torch.Generator().manual_seed(0), rotate=0.3)
    again = view_augment(poses, torch.Generator().manual_seed(0), rotate=0.3)
    assert torch.equal(out, again)
    ratio = bone_lengths(out - out[:, :1]) / bone_lengths(poses - poses[:, :1])
    assert ratio.min() > 0.8 - 1e-4 and ratio.max() < 1.2 + 1e-4
    assert out[:, 0, 2].min() >= 2.5 and out[:, 0, 2].max() <= 7.5
    # the root stays on its line of sight: same place in the picture
    assert torch.allclose(out[:, 0, :2] / out[:, 0, 2:], poses[:, 0, :2] / poses[:, 0, 2:],
                          atol=1e-5)
    share = {k: float(v.float().mean()) for k, v in view_groups(out).items()}
    assert 0.3 < share["upright_back"] < 0.6 and 0.15 < share["not_upright"] < 0.5
    upright = view_augment(poses, torch.Generator().manual_seed(0), rotate=0.0)
    assert float(view_groups(upright)["not_upright"].float().mean()) < share["not_upright"]
    assert valid_samples(out, project_to_2d(out, cameras)).float().mean() > 0.95


def test_until_stops_after_a_phase_and_eval_scores_what_is_there(tmp_path, data_dir, capsys):
    config = PoseAugConfig(random_recipe="views", real_passes=2, **TINY)
    lines = []
    train(config, run_dir(tmp_path, data_dir), tmp_path / "out", log=lines.append,
          until="random")
    assert [json.loads(x)["phase"] for x in lines][-1] == "random" and len(lines) == 7
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(
        [WEIGHT_FILES["source-only"], WEIGHT_FILES["random"]])
    result = evaluate(tmp_path / "out", 32, 0, tmp_path / "cache")
    assert set(result["variants"]) == {"source-only", "random"}
    assert set(result["random_change_percent"]) == {"source_vs_source-only",
                                                    "target_vs_source-only"}
    assert "poseaug_change_percent" not in result
    assert main(["eval", "poseaug", "--weights", str(tmp_path / "run"), "--samples", "8"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "mlp-source-only.pth.tar" in err


def test_mode_seeking_and_source_val_pick(tmp_path, data_dir):
    config = PoseAugConfig(gloss_factorms=0.05, val_samples=64, pick="source-val", **TINY)
    lines = []
    state = train(config, run_dir(tmp_path, data_dir), None, log=lines.append)
    entries = [json.loads(x) for x in lines]
    gan = [e["gan"] for e in entries if "gan" in e]
    assert len(gan) == 3 and all(0 < g["rot_spread"] < 2 for g in gan)
    picked = {e["phase"]: e for e in entries if "picked_epoch" in e}
    assert set(picked) == {"source-only", "random", "poseaug"}
    assert picked["poseaug"]["picked_epoch"] > config.warmup  # once PoseAug's pairs train
    for phase, e in picked.items():
        scores = [x["source_val_mpjpe"] for x in entries
                  if x["phase"] == phase and "epoch" in x and
                  (phase != "poseaug" or x["epoch"] > config.warmup)]
        assert e["source_val_mpjpe"] == pytest.approx(min(scores), abs=0.01)
        best = state["best"][phase]["model"]
        assert all(torch.equal(best[k], state["done"][phase][k]) for k in best)
    with pytest.raises(ValueError, match="source-val"):
        PoseAugConfig(pick="source-val")
    with pytest.raises(ValueError, match="random-recipe"):
        PoseAugConfig(random_recipe="wild")


def test_a_checkpoint_from_before_an_option_existed_still_resumes():
    stored = PoseAugConfig().__dict__.copy()
    del stored["gloss_factorms"], stored["pick"]
    assert same_settings(stored, PoseAugConfig(), phase=3, epoch=5)
    assert not same_settings(stored, PoseAugConfig(gloss_factorms=0.1), phase=3, epoch=5)
    assert not same_settings({**stored, "width": 1024}, PoseAugConfig())


def test_a_phase_s_own_settings_may_change_until_it_starts():
    stored = PoseAugConfig().__dict__.copy()
    gan = PoseAugConfig(gloss_factorms=0.1, d2d_turn=0.5)
    recipe = PoseAugConfig(random_recipe="views")
    assert same_settings(stored, gan, phase=3, epoch=0)  # the first three phases done
    assert not same_settings(stored, gan, phase=3, epoch=1)  # PoseAug under way
    assert same_settings(stored, recipe, phase=2, epoch=0)
    assert not same_settings(stored, recipe, phase=3, epoch=0)
    assert not same_settings(stored, PoseAugConfig(width=1024), phase=3, epoch=0)


def test_same_settings_give_the_same_weights_whatever_ran_before(tmp_path, data_dir):
    """Each phase seeds its own initial weights: two runs in one process (torch's global
    random state moved on in between) give identical estimators and augmentors."""
    config = PoseAugConfig(**{**TINY, "epochs": 1, "warmup": 0})
    first = train(config, run_dir(tmp_path / "a", data_dir), log=lambda line: None)
    torch.rand(1000)
    second = train(config, run_dir(tmp_path / "b", data_dir), log=lambda line: None)
    for part in ("pretrain", "source-only", "random", "poseaug"):
        for key, value in first["done"][part].items():
            assert torch.equal(value, second["done"][part][key]), (part, key)
    for key, value in first["done"]["gan"]["g"].items():
        assert torch.equal(value, second["done"]["gan"]["g"][key]), key


@pytest.mark.parametrize("size", [8, 3])
def test_fake_pool_swaps_about_half_into_distinct_slots_and_loses_nothing(size):
    """Once full, each sample the discriminator sees is either new or a stored one it
    replaced, and every new sample is either seen or stored (none lost, none doubled),
    also with a pool smaller than the batch."""
    gen = torch.Generator().manual_seed(0)
    pool = FakePool(size)
    assert torch.equal(pool(torch.arange(size, dtype=torch.float32)[:, None], gen),
                       torch.arange(size, dtype=torch.float32)[:, None])
    swapped = 0
    for step in range(1, 40):
        before = pool.items.clone()
        batch = (torch.arange(6, dtype=torch.float32) + 100 * step)[:, None]
        out = pool(batch, gen)
        assert len(pool.items) == size
        together = torch.cat([out, pool.items]).flatten().sort().values
        assert torch.equal(together, torch.cat([batch, before]).flatten().sort().values)
        swapped += int((out != batch).sum())
    assert 0.3 < swapped / (39 * min(6, size)) < 0.7


def test_half_writes_float16_files_that_load_as_float32(tmp_path, data_dir):
    config = PoseAugConfig(**{**TINY, "epochs": 1, "warmup": 0})
    state = train(config, run_dir(tmp_path, data_dir), log=lambda line: None)
    full = write_weights(state, tmp_path / "full")
    half = write_weights(state, tmp_path / "half", half=True)
    for a, b in zip(full, half):
        assert b.stat().st_size < 0.6 * a.stat().st_size
    sd = read_file(tmp_path / "half" / WEIGHT_FILES["poseaug"])["model_pos"]
    assert all(v.dtype == torch.float16 for v in sd.values() if v.is_floating_point())
    model = load_official(tmp_path / "half" / WEIGHT_FILES["poseaug"])
    assert all(p.dtype == torch.float32 for p in model.parameters())


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message without CUDA")
def test_cuda_without_cuda_is_one_clear_line(tmp_path, capsys):
    assert main(["train", "poseaug", "--run-dir", str(tmp_path / "run"), "--device",
                 "cuda"]) == 2
    assert "CUDA is not available" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_translation_mode_seeking_measures_only_what_the_translation_noise_moves(source):
    """``rt_spread`` per part: zero for a translation that ignores its noise, positive for
    the rotation; a run with only translation seeking logs its spread and the depth's."""
    from studio.nets.poseaug_augmentor import NOISE, PoseAugmentor

    torch.manual_seed(0)
    g = PoseAugmentor().eval()
    with torch.no_grad():
        g.RTprocess.w1_T.weight[:, -NOISE:] = 0  # the translation no longer sees its noise
    poses = source[0][:32]
    noise = {f"noise_{k}": torch.randn(32, NOISE) for k in ("ba", "bl", "rot", "trans")}
    with torch.no_grad():
        out = g(poses, **noise)
        assert float(rt_spread(g, poses, out, noise, "trans")) == pytest.approx(0, abs=1e-6)
        assert float(rt_spread(g, poses, out, noise, "rot")) > 0


def test_translation_mode_seeking_run_logs_its_spread(tmp_path, data_dir):
    config = PoseAugConfig(gloss_factorms_trans=0.05, **TINY)
    lines = []
    train(config, run_dir(tmp_path, data_dir), None, log=lines.append)
    gan = [json.loads(x)["gan"] for x in lines if '"gan"' in x]
    assert all(g["trans_spread"] > 0 and g["depth_std"] >= 0 and "rot_spread" not in g
               for g in gan)


def test_recall_fakes_draws_across_epochs_without_repeats():
    memory = [(torch.full((10, 16, 3), float(e)), torch.full((10, 16, 2), float(e)))
              for e in range(3)]
    poses, pose_2d = recall_fakes(memory, 10, torch.Generator().manual_seed(0))
    assert poses.shape == (10, 16, 3) and torch.equal(poses[:, :, :2], pose_2d)
    assert len(set(poses[:, 0, 0].tolist())) > 1  # from more than one epoch


def test_poseaug_epochs_and_fake_memory_run_and_resume(tmp_path, data_dir):
    """The PoseAug phase runs its own number of epochs; with a memory of past epochs'
    samples a run stopped mid-phase and resumed ends with the same weights as one that
    never stopped."""
    config = PoseAugConfig(**{**TINY, "epochs": 2, "poseaug_epochs": 3, "fake_memory": 2})
    lines = []
    whole = train(config, run_dir(tmp_path / "a", data_dir), log=lines.append)
    assert sum('"gan"' in x for x in lines) == 3
    folder = run_dir(tmp_path / "b", data_dir)
    stop_at_gan_epoch(config, folder, 2)
    resumed = train(config, folder, log=lambda line: None)
    for key, value in whole["done"]["poseaug"].items():
        assert torch.equal(value, resumed["done"]["poseaug"][key]), key
    with pytest.raises(ValueError, match="fake-memory"):
        PoseAugConfig(fake_memory=0)
    with pytest.raises(ValueError, match="warmup"):
        PoseAugConfig(epochs=12, poseaug_epochs=2, warmup=2)


def test_gan_warmup_trains_the_augmentor_first_and_resumes(tmp_path, data_dir):
    """With --gan-warmup the augmentor and discriminators train alone first: those epochs
    leave the estimator's weights as the pretrain left them and count for --warmup, the
    estimator still gets all its epochs (and its learning-rate decay) afterwards, and a
    run stopped in the warm-up and resumed ends with the same weights."""
    config = PoseAugConfig(**{**TINY, "epochs": 2, "gan_warmup": 2, "warmup": 1})
    lines = []
    whole = train(config, run_dir(tmp_path / "a", data_dir), log=lines.append)
    gan = [json.loads(x) for x in lines if '"gan"' in x]
    assert [e["epoch"] for e in gan] == [1, 2, 3, 4]
    assert [e.get("gan_warmup", False) for e in gan] == [True, True, False, False]
    assert all("real_loss" not in e and "fake_loss" not in e for e in gan[:2])
    assert gan[1]["gan"]["feedback"] > 0  # feedback from the pretrained estimator
    assert all("real_loss" in e and "fake_loss" in e for e in gan[2:])
    folder = run_dir(tmp_path / "b", data_dir)
    stop_at_gan_epoch(config, folder, 2)  # in the warm-up
    stopped = torch.load(folder / "checkpoint.pt", weights_only=False)
    weights = {k: v for k, v in stopped["current"]["model"].items() if "running" not in k
               and "num_batches" not in k}
    pretrain = stopped["done"]["pretrain"]
    assert all(torch.equal(v, pretrain[k]) for k, v in weights.items())
    resumed = train(config, folder, log=lambda line: None)
    for key, value in whole["done"]["poseaug"].items():
        assert torch.equal(value, resumed["done"]["poseaug"][key]), key
    with pytest.raises(ValueError, match="gan-warmup"):
        PoseAugConfig(gan_warmup=-1)


def test_mixed_batches_hold_both_kinds_and_keep_the_step_count(tmp_path, data_dir, capsys,
                                                               monkeypatch):
    """--mix-fakes trains the estimator on one shuffled epoch of the augmented pairs and
    the real passes' copies of the real ones: after the warm-up every PoseAug epoch logs
    one mixed loss instead of separate augmented and real ones, and the flag reaches the
    command line."""
    from studio.train import poseaug_train

    sizes = []
    original = poseaug_train.estimator_pass

    def counting(model, opt, poses, pose_2d, batch, gen, loss_name="mse"):
        sizes.append(len(poses))
        return original(model, opt, poses, pose_2d, batch, gen, loss_name)

    config = PoseAugConfig(**{**TINY, "mix_fakes": True, "real_passes": 2})
    lines = []
    monkeypatch.setattr(poseaug_train, "estimator_pass", counting)
    train(config, run_dir(tmp_path, data_dir), log=lines.append)
    gan = [json.loads(x) for x in lines if '"gan"' in x]
    assert "mixed_loss" not in gan[0] and "real_loss" in gan[0]  # warm-up: real only
    assert all("mixed_loss" in e and "fake_loss" not in e and "real_loss" not in e
               for e in gan[1:])
    assert sizes[-1] > 2 * TINY["train_samples"]  # the fakes and two real copies
    with pytest.raises(SystemExit):
        main(["train", "poseaug", "--help"])
    assert "--mix-fakes" in capsys.readouterr().out


def test_feedback_in_eval_mode_leaves_the_estimator_s_statistics_alone(tmp_path, data_dir):
    """With --feedback-eval the augmentor's epoch scores the estimator with its running
    statistics, so they come out of the epoch unchanged; in training mode (official) the
    feedback's batches move them."""
    from studio.train.poseaug_train import GANParts, _estimator, gan_pass

    data = load_or_make(data_dir, "source", TINY["train_samples"], 0).tensors()
    moved = {}
    for flag in (False, True):
        config = PoseAugConfig(**{**TINY, "feedback_eval": flag})
        torch.manual_seed(0)
        model = _estimator(config)
        parts = GANParts(config, data[0][:, 0].mean(0))
        before = {k: v.clone() for k, v in model.state_dict().items() if "running" in k}
        gan_pass(config, parts, model, data, config.warmup + 1, torch.Generator().manual_seed(0))
        after = model.state_dict()
        moved[flag] = any(not torch.equal(v, after[k]) for k, v in before.items())
    assert moved == {False: True, True: False}


def test_averaged_estimators_keep_the_last_epochs_and_resume(tmp_path, data_dir):
    """With --average-last N each estimator is the mean of its last N epochs' parameters
    (batch-norm statistics recomputed on the source pairs); its last-epoch weights are
    what the same run without averaging ends with, written beside it to compare; a run
    stopped inside the averaged epochs and resumed ends the same."""
    plain = train(PoseAugConfig(**TINY), run_dir(tmp_path / "plain", data_dir),
                  log=lambda line: None)
    config = PoseAugConfig(**{**TINY, "average_last": 2})
    second: dict = {}

    def keep(line):  # the checkpoint on disk holds the epoch before the logged one
        entry = json.loads(line)
        if entry.get("phase") == "source-only" and entry["epoch"] == TINY["epochs"]:
            second.update(torch.load(folder / "checkpoint.pt", weights_only=False)
                          ["current"]["model"])

    folder = run_dir(tmp_path / "avg", data_dir)
    averaged = train(config, folder, out=tmp_path / "out", log=keep)
    for variant in ("source-only", "random", "poseaug"):
        for key, value in plain["done"][variant].items():
            assert torch.equal(value, averaged["last"][variant][key]), (variant, key)
    last, done = averaged["last"]["source-only"], averaged["done"]["source-only"]
    weights = [k for k in done if k.endswith("weight")]
    for key in weights:
        assert torch.allclose(done[key], (second[key] + last[key]) / 2), key
    _, _, pose_2d = load_or_make(data_dir, "source", TINY["train_samples"], 0).tensors()
    first = pose_2d.reshape(-1, 32) @ done["w1.weight"].T + done["w1.bias"]
    assert torch.allclose(done["batch_norm1.running_mean"], first.mean(0), atol=1e-5)
    assert not torch.allclose(last["batch_norm1.running_mean"], first.mean(0), atol=1e-5)
    assert (tmp_path / "out" / "last-epoch" / WEIGHT_FILES["poseaug"]).is_file()
    resumed_dir = run_dir(tmp_path / "resumed", data_dir)
    stop_at_gan_epoch(config, resumed_dir, 3)  # inside the averaged epochs
    resumed = train(config, resumed_dir, log=lambda line: None)
    for key, value in averaged["done"]["poseaug"].items():
        assert torch.equal(value, resumed["done"]["poseaug"][key]), key
    with pytest.raises(ValueError, match="average-last"):
        PoseAugConfig(average_last=2, pick="source-val", val_samples=8)


def assert_resumes_in_the_cooldown(config: PoseAugConfig, finished: dict, tmp_path: Path,
                                   data_dir: Path) -> None:
    """A run of ``config`` stopped as its cool-down starts (the checkpoint then holds the
    last augmented epoch and its fake memory) and resumed ends with ``finished``'s
    PoseAug weights."""
    def stop(line):
        if json.loads(line).get("cooldown"):
            raise KeyboardInterrupt

    resumed_dir = run_dir(tmp_path / "resumed", data_dir)
    with pytest.raises(KeyboardInterrupt):
        train(config, resumed_dir, log=stop)
    resumed = train(config, resumed_dir, log=lambda line: None)
    for key, value in finished["done"]["poseaug"].items():
        assert torch.equal(value, resumed["done"]["poseaug"][key]), key


def test_cooldown_ends_the_poseaug_estimator_on_real_passes_and_resumes(tmp_path, data_dir):
    """With --cooldown N the PoseAug phase's last N epochs train the estimator on the
    source pairs alone (no augmentor epoch, no augmented pass); the epochs before them
    are the plain run's, and a run stopped in the cool-down and resumed ends the same."""
    plain_lines, lines = [], []
    plain = train(PoseAugConfig(**TINY), run_dir(tmp_path / "plain", data_dir),
                  log=plain_lines.append)
    config = PoseAugConfig(**{**TINY, "cooldown": 1})
    folder = run_dir(tmp_path / "cool", data_dir)
    cooled = train(config, folder, log=lines.append)
    gan = [json.loads(x) for x in lines if json.loads(x)["phase"] == "poseaug"]
    assert [("gan" in e, "fake_loss" in e, e.get("cooldown", False)) for e in gan] == [
        (True, False, False), (True, True, False), (False, False, True)]
    assert gan[:2] == [json.loads(x) | {"seconds": e["seconds"]} for x, e in zip(
        [x for x in plain_lines if json.loads(x)["phase"] == "poseaug"][:2], gan[:2])]
    assert any(not torch.equal(v, cooled["done"]["poseaug"][k])
               for k, v in plain["done"]["poseaug"].items())
    for key, value in plain["done"]["random"].items():
        assert torch.equal(value, cooled["done"]["random"][key]), key

    assert_resumes_in_the_cooldown(config, cooled, tmp_path, data_dir)
    with pytest.raises(ValueError, match="cooldown"):
        PoseAugConfig(**{**TINY, "cooldown": 2})  # 3 epochs, warmup 1: none augmented
    assert main(["train", "poseaug", "--run-dir", str(tmp_path / "bad"), "--cooldown",
                 "-1"]) == 2
    assert not (tmp_path / "bad").exists()


def test_off_source_views_keep_people_seen_from_behind_or_not_upright(source):
    """What the cool-down rehearses: the source's own view (upright, front seen) is
    dropped; a person turned round or laid down is kept, with its 2D row."""
    poses, cameras, _ = source
    assert bool(view_groups(poses[:4])["upright_front"].all())
    root = poses[:4, :1]
    turned = (poses[:4] - root) @ torch.diag(torch.tensor([-1.0, 1.0, -1.0])) + root
    laid = (poses[:4] - root) @ torch.tensor([[1.0, 0, 0], [0, 0, 1], [0, -1, 0]]) + root
    mixed = torch.cat([poses[:4], turned, laid])
    pose_2d = project_to_2d(mixed, cameras[:4].repeat(3, 1))
    kept3, kept2 = off_source_views(mixed, pose_2d)
    assert torch.equal(kept3, torch.cat([turned, laid]))
    assert torch.equal(kept2, pose_2d[4:])


def test_cooldown_rehearse_replays_remembered_off_source_pairs_and_resumes(tmp_path,
                                                                          data_dir):
    """--cooldown-rehearse: each cool-down epoch logs how many remembered augmented pairs
    it rehearsed (the off-source share of one epoch's draw) and trains on them when they
    fill a batch; the epochs before are the plain cool-down run's, a run stopped in the
    cool-down resumes to the same weights, and the option needs a cool-down."""
    settings = {**TINY, "cooldown": 1, "rotation_start": 1.0}
    plain_lines, lines = [], []
    plain = train(PoseAugConfig(**settings), run_dir(tmp_path / "plain", data_dir),
                  log=plain_lines.append)
    config = PoseAugConfig(**settings, cooldown_rehearse=True)
    rehearsed = train(config, run_dir(tmp_path / "rehearse", data_dir), log=lines.append)
    gan = [json.loads(x) for x in lines if json.loads(x)["phase"] == "poseaug"]
    plain_gan = [json.loads(x) for x in plain_lines if json.loads(x)["phase"] == "poseaug"]
    assert gan[:2] == [e | {"seconds": g["seconds"]} for e, g in zip(plain_gan[:2], gan[:2])]
    last = gan[2]
    drawn = round(TINY["train_samples"] * gan[1]["gan"]["valid"])  # the last epoch's pairs
    assert last["cooldown"] and 0 < last["rehearsed"] < drawn
    assert ("fake_loss" in last) == (last["rehearsed"] >= TINY["batch_size"])
    assert "fake_loss" not in plain_gan[2]
    assert any(not torch.equal(v, rehearsed["done"]["poseaug"][k])
               for k, v in plain["done"]["poseaug"].items())

    assert_resumes_in_the_cooldown(config, rehearsed, tmp_path, data_dir)
    with pytest.raises(ValueError, match="cooldown-rehearse"):
        PoseAugConfig(**TINY, cooldown_rehearse=True)
    assert main(["train", "poseaug", "--run-dir", str(tmp_path / "bad"),
                 "--cooldown-rehearse"]) == 2
    assert not (tmp_path / "bad").exists()


def test_mpjpe_loss_is_the_mean_joint_distance_and_pulls_every_joint_alike():
    """--pose-loss mpjpe: the mean Euclidean joint error (what the test scores), whose
    gradient per joint has the same length whatever its error, unlike MSE's."""
    target = torch.zeros(2, 16, 3)
    pred = target.clone()
    pred[0, 0] = torch.tensor([0.3, 0.4, 0.0])  # 0.5 m off
    pred[1, 5] = torch.tensor([0.0, 0.0, 0.05])  # 0.05 m off
    pred.requires_grad_(True)
    loss = mpjpe_loss(pred, target)
    assert loss.item() == pytest.approx((0.5 + 0.05) / 32, abs=2e-4)  # + the sqrt's epsilon
    loss.backward()
    far, near = pred.grad[0, 0].norm(), pred.grad[1, 5].norm()
    assert far.item() == pytest.approx(near.item(), rel=1e-3)
    pred.grad = None
    torch.nn.functional.mse_loss(pred, target).backward()
    assert pred.grad[0, 0].norm() > 9 * pred.grad[1, 5].norm()


def test_huber_loss_pulls_like_mse_near_and_like_the_joint_distance_far():
    """--pose-loss huber: a joint off by less than 0.1 m pulls in proportion to its error
    (as under MSE), one off by more pulls with unit length (as under the joint
    distance); the value is continuous at 0.1 m."""
    target = torch.zeros(1, 16, 3)
    pred = target.clone()
    pred[0, 0] = torch.tensor([0.3, 0.4, 0.0])  # 0.5 m off
    pred[0, 5] = torch.tensor([0.0, 0.0, 0.05])  # 0.05 m off
    pred[0, 9] = torch.tensor([0.0, 0.02, 0.0])  # 0.02 m off
    pred.requires_grad_(True)
    loss = huber_joint_loss(pred, target)
    expected = (0.5 - HUBER_DELTA / 2 + 0.5 * 0.05 ** 2 / HUBER_DELTA +
                0.5 * 0.02 ** 2 / HUBER_DELTA) / 16
    assert loss.item() == pytest.approx(expected, abs=1e-5)
    loss.backward()
    grads = pred.grad[0].norm(dim=-1) * 16
    assert grads[0].item() == pytest.approx(1.0, rel=1e-3)
    assert grads[5].item() == pytest.approx(0.05 / HUBER_DELTA, rel=1e-3)
    assert grads[5].item() == pytest.approx(2.5 * grads[9].item(), rel=1e-3)
    edge = torch.zeros(1, 1, 3)
    below, above = edge.clone(), edge.clone()
    below[0, 0, 2], above[0, 0, 2] = HUBER_DELTA - 1e-6, HUBER_DELTA + 1e-6
    assert huber_joint_loss(below, edge).item() == pytest.approx(
        huber_joint_loss(above, edge).item(), abs=1e-5)


def test_pose_loss_trains_every_estimator_with_it_and_is_checked(tmp_path, data_dir,
                                                                monkeypatch):
    """Every phase's estimator trains with the chosen loss and with no other, the setting
    is part of the run (another loss cannot resume it) and a bad name is one line, exit
    2, nothing written."""
    from studio.train import poseaug_train

    calls = dict.fromkeys(poseaug_train.POSE_LOSSES, 0)

    def counted(name, criterion):
        def call(pred, target):
            calls[name] += 1
            return criterion(pred, target)
        return call

    for name, criterion in list(poseaug_train.POSE_LOSSES.items()):
        monkeypatch.setitem(poseaug_train.POSE_LOSSES, name, counted(name, criterion))
    lines = []
    folder = run_dir(tmp_path, data_dir)
    train(PoseAugConfig(**{**TINY, "pose_loss": "mpjpe"}), folder, log=lines.append)
    assert calls.pop("mpjpe") > 0 and not any(calls.values())
    entries = [json.loads(x) for x in lines if "phase" in json.loads(x)]
    assert {e["phase"] for e in entries} == {"pretrain", "source-only", "random", "poseaug"}
    with pytest.raises(ValueError, match="other settings"):
        train(PoseAugConfig(**TINY), folder, log=lambda line: None)
    with pytest.raises(ValueError, match="pose-loss"):
        PoseAugConfig(**{**TINY, "pose_loss": "l1"})
    with pytest.raises(SystemExit) as stop:  # argparse's one line for a bad choice
        main(["train", "poseaug", "--run-dir", str(tmp_path / "bad"), "--pose-loss", "l1"])
    assert stop.value.code == 2
    assert not (tmp_path / "bad").exists()


def test_most_plausible_keeps_the_best_scored_share_of_the_valid_pairs():
    """--fake-keep F: of the valid pairs, the share F (rounded up) whose least real part
    the 3D discriminator scores highest; invalid pairs never come back, and the score is
    the articulation's alone (a pose turned over scores as it did upright)."""
    from studio.nets.poseaug_discriminators import PoseDiscriminator3D
    from studio.train.poseaug_train import most_plausible

    torch.manual_seed(0)
    d3d = PoseDiscriminator3D()
    poses = torch.randn(10, 16, 3) * 0.3
    ok = torch.tensor([True] * 8 + [False] * 2)
    kept = most_plausible(d3d, poses, ok, 0.5)
    assert int(kept.sum()) == 4 and not kept[8:].any()
    score = d3d(poses).min(1).values.detach()
    assert score[kept].min() >= score[:8][~kept[:8]].max()
    assert torch.equal(most_plausible(d3d, poses, ok, 1.0), ok)
    assert int(most_plausible(d3d, poses, ok, 0.3).sum()) == 3  # 2.4 rounded up
    turned = poses @ torch.tensor([[1.0, 0, 0], [0, 0, -1], [0, 1, 0]])  # laid down
    assert torch.allclose(d3d(turned), d3d(poses), atol=1e-4)
    none = torch.zeros(10, dtype=torch.bool)
    assert not most_plausible(d3d, poses, none, 0.8).any()


def test_fake_keep_logs_the_kept_share_resumes_and_checks_its_value(tmp_path, data_dir):
    """A run with --fake-keep logs each PoseAug epoch's kept share beside the valid one
    (the estimator's augmented pass is that much smaller), the option is the PoseAug
    phase's own (it may change until the phase starts) and a bad value is refused."""
    lines = []
    train(PoseAugConfig(**{**TINY, "fake_keep": 0.5}), run_dir(tmp_path, data_dir),
          log=lines.append)
    gan = [json.loads(x)["gan"] for x in lines if '"gan"' in x]
    assert all(g["kept"] == pytest.approx(g["valid"] / 2, abs=0.02) for g in gan)
    plain = []
    train(PoseAugConfig(**TINY), run_dir(tmp_path / "plain", data_dir), log=plain.append)
    assert all("kept" not in json.loads(x)["gan"] for x in plain if '"gan"' in x)
    stored, keeping = asdict(PoseAugConfig(**TINY)), PoseAugConfig(**{**TINY, "fake_keep": 0.5})
    assert same_settings(stored, keeping, phase=3, epoch=0)
    assert not same_settings(stored, keeping, phase=3, epoch=1)
    for bad in (0.0, 1.5):
        with pytest.raises(ValueError, match="fake-keep"):
            PoseAugConfig(**{**TINY, "fake_keep": bad})
    assert main(["train", "poseaug", "--run-dir", str(tmp_path / "bad"), "--fake-keep",
                 "0"]) == 2
    assert not (tmp_path / "bad").exists()
