"""The keypoint fit (SMPLR): its points on the body, the nets, the noise model, the broad
pose prior, training (a few steps; resume), evaluation and the Python API."""
from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from studio.body import joint_sets
from studio.body.registry import load_body_model
from studio.cli import main
from studio.errors import ModelFileError, StudioError
from studio.nets.smplr import LAYOUTS, SMPLR, encode, fold_batchnorm
from studio.pipeline.keypoint_fit import fit_keypoints, load_smplr, read_smplr_file
from studio.synth import key_poses
from studio.synth.keypoint_noise import NoiseLevel
from studio.synth.pose_prior import JOINT_LIMITS
from studio.synth.smplr_data import make_batch
from studio.synth.smplr_points import (LANDMARK_NAMES, PartialBody, landmark_vertices,
                                       relative_vectors, smplr_points)
from studio.train.smplr_eval import evaluate_level
from studio.train.smplr_train import SMPLRConfig, build, losses, save_weights, train

SHIPPED = Path(__file__).resolve().parents[1] / "models" / "smplr"


@pytest.fixture(scope="module")
def body():
    return load_body_model("mannequin")


@pytest.fixture(scope="module")
def partial(body):
    return PartialBody(body)


def test_partial_body_gives_the_body_models_points(body, partial) -> None:
    gen = torch.Generator().manual_seed(0)
    root, pose = key_poses.sample_broad_poses(gen, 6)
    betas = torch.randn(6, 10, generator=gen)
    joints, sources, landmarks = partial(root, pose, betas)
    full = body(global_orient=root[:, None], body_pose=pose, betas=betas)
    assert torch.allclose(joints, full.joints, atol=1e-5)
    assert torch.allclose(sources, full.points(), atol=1e-5)
    assert torch.allclose(landmarks, full.vertices[:, landmark_vertices(body.data)], atol=1e-5)


def test_landmarks_lie_on_the_named_surfaces(body) -> None:
    ids = landmark_vertices(body.data)
    v = body.data.v_template[ids]
    at = dict(zip(LANDMARK_NAMES, v))
    assert len(set(ids.tolist())) == 18
    assert at["left_chest"][0] > 0.02 and at["right_chest"][0] < -0.02
    assert at["left_thigh_front"][2] > at["left_thigh_back"][2]
    assert at["left_biceps"][2] > at["left_triceps"][2]
    assert at["head_top"][1] == pytest.approx(body.data.v_template[:, 1].max(), abs=0.03)
    assert at["left_foot_top"][1] < -0.9 and at["left_hand_back"][0] > 0.6


def test_tree_vectors_rebuild_the_points() -> None:
    points = torch.randn(3, 41, 3)
    vectors = relative_vectors(points)
    assert torch.allclose(vectors[:, :23][:, 0], points[:, 0])  # left hip hangs off the pelvis
    assert vectors.shape == (3, 41, 3)


@pytest.mark.parametrize("dims", [3, 2])
def test_the_nets_take_every_layout_with_missing_points(dims: int, partial) -> None:
    torch.manual_seed(0)
    net = SMPLR(LAYOUTS, dims, torch.ones(41) * 0.1, hidden=32).eval()
    gen = torch.Generator().manual_seed(1)
    for layout in LAYOUTS:
        batch = make_batch(partial, gen, 4, layout, dims, NoiseLevel(jitter=0.01, missing=0.3))
        assert (~batch.seen).any() and torch.isnan(batch.keypoints[~batch.seen]).all()
        out = net(encode(batch.keypoints, batch.seen, batch.intrinsics), layout)
        assert out.points.shape == (4, 41, 3) and out.betas.shape == (4, 10)
        r = out.rotmat
        assert torch.allclose(r @ r.transpose(-1, -2), torch.eye(3).expand_as(r), atol=1e-5)


def test_folding_batchnorm_keeps_the_outputs(partial) -> None:
    """The inference nets (BatchNorm folded into the Linear layers) give the trained
    nets' outputs to float rounding, with running statistics far from the defaults."""
    torch.manual_seed(0)
    net = SMPLR(("coco17",), 2, torch.ones(41) * 0.1, hidden=32)
    for module in net.modules():
        if isinstance(module, torch.nn.BatchNorm1d):
            module.running_mean.normal_()
            module.running_var.uniform_(0.2, 3.0)
            module.weight.data.normal_()
            module.bias.data.normal_()
    batch = make_batch(partial, torch.Generator().manual_seed(2), 5, "coco17", 2)
    features = encode(batch.keypoints, batch.seen, batch.intrinsics)
    with torch.no_grad():
        before = net.eval()(features, "coco17")
        after = fold_batchnorm(net)(features, "coco17")
    assert not any(isinstance(m, torch.nn.BatchNorm1d) for m in net.modules())
    for a, b in ((before.points, after.points), (before.rotmat, after.rotmat),
                 (before.betas, after.betas)):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)


def test_noise_model_misses_swaps_and_keeps_four_points(partial) -> None:
    gen = torch.Generator().manual_seed(0)
    level = NoiseLevel(jitter=0.0, missing=0.95, swap=1.0)
    batch = make_batch(partial, gen, 64, "coco17", 3, level)
    assert (batch.seen.sum(1) >= 4).all() and batch.seen.float().mean() < 0.5
    clean = make_batch(partial, torch.Generator().manual_seed(0), 64, "coco17", 3, NoiseLevel())
    assert torch.allclose(clean.keypoints, clean.clean, atol=1e-6)


def test_broad_prior_stays_in_the_limits_and_eval_poses_are_separate() -> None:
    gen = torch.Generator().manual_seed(0)
    assert not set(key_poses.EVAL_KEY_POSES) & set(key_poses.TRAIN_KEY_POSES)
    table, _ = key_poses._table(key_poses.TRAIN_KEY_POSES)
    angles = key_poses._perturbed(gen, table, torch.full((len(table),), 20.0))
    assert (angles >= JOINT_LIMITS[..., 0] - 1e-6).all()
    assert (angles <= JOINT_LIMITS[..., 1] + 1e-6).all()
    root, pose = key_poses.sample_broad_poses(gen, 32)
    assert root.shape == (32, 3, 3) and pose.shape == (32, 23, 3, 3)
    root, pose, names = key_poses.eval_key_poses(gen, 20)
    assert names[:2] == list(key_poses.EVAL_KEY_POSES)[:2] and len(names) == 20


def test_training_poses_broaden_the_prior_by_a_rule() -> None:
    """The training-only draws: with no free or turned share they are the broad prior's
    own draws; a free share is uniform within the limits and turned any way (upside down
    too); evaluation and validation key poses draw from separate tables."""
    same = key_poses.sample_training_poses(torch.Generator().manual_seed(3), 16)
    broad = key_poses.sample_broad_poses(torch.Generator().manual_seed(3), 16)
    assert all(torch.equal(a, b) for a, b in zip(same, broad))
    root, pose = key_poses.sample_training_poses(torch.Generator().manual_seed(3), 4000,
                                                 free=1.0)
    assert torch.allclose(root @ root.transpose(1, 2), torch.eye(3).expand(4000, 3, 3),
                          atol=1e-5)
    up = root[:, 1, 1]  # the body's up axis along the world's up
    assert (up < -0.9).float().mean() > 0.03 and abs(up.mean()) < 0.05
    bend = pose[:, key_poses.BODY_JOINTS.index("left_knee")]
    assert torch.acos(bend[:, 1, 1].clamp(-1, 1)).max() > 2.4  # beyond the middle 70%
    _, _, names = key_poses.eval_key_poses(torch.Generator(), 3, poses=key_poses.TRAIN_KEY_POSES)
    assert names == list(key_poses.TRAIN_KEY_POSES)[:3]


def test_mixed_poses_are_parts_of_the_batch_s_other_draws() -> None:
    """A mixed share takes each body part (torso, legs, arms) whole from some draw of the
    batch; the roots and the unmixed poses stay what the same draws give without it."""
    plain_root, plain = key_poses.sample_training_poses(torch.Generator().manual_seed(5), 64,
                                                        free=0.2, turned=0.2)
    root, mixed = key_poses.sample_training_poses(torch.Generator().manual_seed(5), 64,
                                                  free=0.2, turned=0.2, mixed=0.5)
    assert torch.equal(root, plain_root)
    changed = ~(mixed == plain).flatten(1).all(1)
    assert 0.25 < changed.float().mean() < 0.75
    for part in key_poses.BODY_PARTS:
        flat = plain[:, part].flatten(1)
        for b in torch.nonzero(changed).flatten().tolist():
            assert (flat == mixed[b, part].flatten()).all(1).any()  # one draw's whole part
    with pytest.raises(ValueError, match="mixed"):
        SMPLRConfig(mixed_fraction=1.5)


def test_validation_set_is_the_training_and_the_held_out_key_poses(capsys) -> None:
    """Validation holds the training key poses and a third hand-made set that neither
    training nor the evaluation holds, so unseen poses can decide between candidates."""
    held_out = set(key_poses.VALIDATION_KEY_POSES)
    assert len(held_out) == 16
    assert not held_out & set(key_poses.TRAIN_KEY_POSES)
    assert not held_out & set(key_poses.EVAL_KEY_POSES)
    assert main(["eval", "smplr", "--from", "2d", "--layout", "coco17", "--samples", "20",
                 "--validation", "--refine-steps", "0", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["set"] == "validation"
    sets = [r["poses"] for r in doc["rows"]]
    assert set(sets) == {"prior", "train-key-poses", "held-out-key-poses"}
    train_rows = [r for r in doc["rows"] if r["poses"] == "train-key-poses"]
    held_rows = [r for r in doc["rows"] if r["poses"] == "held-out-key-poses"]
    assert list(train_rows[0]["per_pose"]) == list(key_poses.TRAIN_KEY_POSES)[:20]
    assert list(held_rows[0]["per_pose"]) == list(key_poses.VALIDATION_KEY_POSES)
    assert "per_pose" not in doc["rows"][0]


def test_a_few_training_steps_lower_the_loss_and_resume(tmp_path: Path) -> None:
    config = SMPLRConfig(layouts="smpl24", hidden=32, batch_size=32, steps=40, lr=3e-3,
                         free_fraction=0.2, turned_fraction=0.2,
                         val_every=20, val_samples=16, checkpoint_every=10, finetune_from=0.5)
    gen = torch.Generator().manual_seed(7)
    torch.manual_seed(config.seed)
    net, partial = build(config)
    fixed = make_batch(partial, gen, 64, "smpl24", 3, NoiseLevel(jitter=0.01))
    net.eval()
    with torch.no_grad():
        before = losses(net, partial, fixed, "smpl24", True)["total"].item()
    run = tmp_path / "run"
    state = train(config, run, progress=False, stop_after=25)
    assert state.step == 25
    state = train(config, run, tmp_path / "w.pt", progress=False)  # resumes at 25
    assert state.step == 40 and [h["step"] for h in state.history] == [20, 40]
    ckpt = torch.load(run / "checkpoint.pt", weights_only=False)
    net.load_state_dict(ckpt["model"])
    net.eval()
    with torch.no_grad():
        after = losses(net, partial, fixed, "smpl24", True)["total"].item()
    assert after < before
    model = load_smplr("smpl24", 3, path=tmp_path / "w.pt")
    fit = fit_keypoints(fixed.keypoints.numpy(), "smpl24", 3, model=model)
    assert np.isfinite(fit.vertices).all()
    with pytest.raises(ModelFileError, match="not 3D coco17"):
        load_smplr("coco17", 3, path=tmp_path / "w.pt")
    # --init: a new run starts from the weights file (fp16 as shipped), not at random
    tuned = replace(config, steps=1, lr=1e-12, init=str(tmp_path / "w.pt"))
    train(tuned, tmp_path / "tuned", progress=False)
    start = torch.load(tmp_path / "tuned" / "checkpoint.pt", weights_only=False)["model"]
    shipped = read_smplr_file(tmp_path / "w.pt")["state_dict"]
    weight = "denoiser.l2.0.weight"
    torch.testing.assert_close(start[weight], shipped[weight].float(), atol=1e-6, rtol=0)
    with pytest.raises(StudioError, match="architecture"):
        train(replace(tuned, hidden=64), tmp_path / "other", progress=False)


def test_missing_weights_name_the_file_and_where_to_get_them(tmp_path: Path) -> None:
    with pytest.raises(ModelFileError, match="no such weights file"):
        load_smplr("smpl24", 3, path=tmp_path / "none.pt")
    (tmp_path / "bad.pt").write_bytes(b"not torch")
    with pytest.raises(ModelFileError, match="not a readable"):
        load_smplr("smpl24", 3, path=tmp_path / "bad.pt")
    with pytest.raises(StudioError, match="unknown layout"):
        load_smplr("body25", 3)


def test_the_api_checks_its_input() -> None:
    with pytest.raises(StudioError, match="all points are missing"):
        fit_keypoints(np.full((2, 17, 3), np.nan), "coco17", 3)
    with pytest.raises(StudioError, match="layout coco17 has 17"):
        fit_keypoints(np.zeros((1, 16, 3)), "coco17", 3)


def _target_errors(layout: str, dims: int, key_poses: bool, refine_steps: int | None = None
                   ) -> dict[str, float]:
    """Errors at the issue's target noise on a fixed seed (200 samples)."""
    model = load_smplr(layout, dims)
    level = NoiseLevel(jitter=0.015) if dims == 3 else NoiseLevel(jitter=3.0, missing=0.1)
    return evaluate_level(model, layout, 200, 0, level, "key-poses" if key_poses else "prior",
                          refine_steps)


@pytest.mark.parametrize("key_poses", [False, True])
def test_3d_fit_meets_the_targets_on_prior_and_key_poses(key_poses: bool) -> None:
    """The issue's 3D targets (SMPL-24, 15 mm noise): PA-MPJPE <= 25 mm, PA-PVE <= 35 mm,
    with the refinement after the nets (MODEL_CARD.md); the nets alone miss them."""
    errors = _target_errors("smpl24", 3, key_poses)
    assert errors["pa_mpjpe"] <= 25.0 and errors["pa_pve"] <= 35.0, errors
    nets = _target_errors("smpl24", 3, key_poses, refine_steps=0)
    assert nets["pa_mpjpe"] > errors["pa_mpjpe"] + 10, (nets, errors)


# The 2D targets are not met yet (after refinement about 55/61 mm on prior samples,
# 66/71 on key poses; the gap is the lift's depth, see "2D: where the error is" in
# models/smplr/MODEL_CARD.md): the test stays, expected to fail, so that better weights
# show up as XPASS.
@pytest.mark.xfail(reason="shipped 2D SMPLR weights miss the issue's targets (MODEL_CARD.md)",
                   strict=False)
def test_2d_fit_meets_the_targets() -> None:
    errors = _target_errors("coco17", 2, key_poses=False)
    assert errors["pa_mpjpe"] <= 50.0 and errors["pa_pve"] <= 60.0, errors


def test_eval_and_bench_commands_print_json(capsys) -> None:
    assert main(["eval", "smplr", "--from", "3d", "--layout", "mediapipe33", "--samples", "8",
                 "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert {r["poses"] for r in doc["rows"]} == {"prior", "key-poses"}
    assert {"mpjpe", "pa_mpjpe", "pa_pve"} <= set(doc["rows"][0])
    assert main(["bench", "smplr", "--batch-sizes", "1,4", "--repeats", "2", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [r["batch"] for r in doc["rows"]] == [1, 4] and doc["rows"][0]["nets_ms"] > 0


def test_layout_lists_agree() -> None:
    from studio.commands.smplr import LAYOUT_NAMES

    assert LAYOUT_NAMES == LAYOUTS and set(LAYOUTS) <= set(joint_sets.LAYOUTS)
    assert (SHIPPED / "smplr-3d.pt").is_file() and (SHIPPED / "smplr-2d.pt").is_file()


def test_smplr_points_are_pelvis_relative(partial) -> None:
    eye = torch.eye(3).expand(1, 24, 3, 3)
    joints, _, landmarks = partial(eye[:, 0], eye[:, 1:], torch.zeros(1, 10))
    points = smplr_points(joints, landmarks)
    assert torch.allclose(points[:, :23], joints[:, 1:] - joints[:, :1])


@pytest.mark.parametrize("layout", ["smpl24", "coco17", "mediapipe33"])
def test_refinement_body_and_jacobian_are_exact(body, layout: str) -> None:
    """The refinement's keypoint body gives the body model's keypoints, and its analytic
    Jacobian matches finite differences."""
    from studio.pipeline.keypoint_refine import KeypointBody, rodrigues

    rng = np.random.default_rng(5)
    rot = rodrigues(rng.normal(0, 0.4, (2, 24, 3)))
    betas = rng.normal(0, 1, (2, 10))
    with torch.no_grad():
        full = body(global_orient=torch.as_tensor(rot[:, :1]).float(),
                    body_pose=torch.as_tensor(rot[:, 1:]).float(),
                    betas=torch.as_tensor(betas).float()).keypoints(layout).numpy()
    kb = KeypointBody(body, layout)
    kp, jac = kb.jacobian(rot, betas)
    np.testing.assert_allclose(kp, full, atol=1e-5)
    eps, numeric = 1e-6, []
    for i in range(82):
        step = np.zeros((2, 82))
        step[:, i] = eps
        moved = kb(rot @ rodrigues(step[:, :72].reshape(2, 24, 3)), betas + step[:, 72:])
        numeric.append((moved - kp) / eps)
    np.testing.assert_allclose(np.stack(numeric, -1), jac, atol=1e-5)


def test_fast_mesh_and_traced_nets_agree_with_the_body_model_and_eager_nets(body,
                                                                          partial) -> None:
    """The fit's own posing (:class:`FitMesh` on the refinement's chain) gives the body
    model's mesh and keypoint sources; the traced nets give the eager nets' outputs, at
    another batch size than the one traced."""
    from studio.pipeline.keypoint_mesh import FitMesh
    from studio.pipeline.keypoint_refine import KeypointBody, rodrigues

    rng = np.random.default_rng(7)
    rot = rodrigues(rng.normal(0, 0.6, (3, 24, 3)))
    betas = rng.normal(0, 1.5, (3, 10))
    with torch.no_grad():
        rotmat = torch.as_tensor(rot).float()
        want = body(global_orient=rotmat[:, :1], body_pose=rotmat[:, 1:],
                    betas=torch.as_tensor(betas).float())
    got = FitMesh(body)(KeypointBody(body, "coco17"), rot, betas)
    torch.testing.assert_close(got.vertices, want.vertices, atol=2e-6, rtol=0)
    torch.testing.assert_close(got.points(), want.points(), atol=2e-6, rtol=0)
    model = load_smplr("coco17", 2)
    gen = torch.Generator().manual_seed(3)
    for size in (1, 6):
        batch = make_batch(partial, gen, size, "coco17", 2)
        features = encode(batch.keypoints, batch.seen, batch.intrinsics)
        with torch.no_grad():
            eager = model.net(features, "coco17")
        traced = model.nets(features, "coco17")
        torch.testing.assert_close(traced[0], eager.rotmat, atol=1e-6, rtol=0)
        torch.testing.assert_close(traced[1], eager.betas, atol=1e-6, rtol=0)


def test_refinement_pulls_the_fit_onto_the_points(partial) -> None:
    """Exact 3D points: the refined body's keypoints land within millimetres, the nets'
    alone within centimetres; 2D: the refined reprojection error shrinks."""
    from studio.pipeline.keypoint_fit import predict

    for layout, dims in (("smpl24", 3), ("coco17", 2)):
        model = load_smplr(layout, dims)
        batch = make_batch(partial, torch.Generator().manual_seed(6), 32, layout, dims,
                           NoiseLevel())
        errors = []
        for steps in (0, 2):
            rot, betas, trans = predict(model, layout, batch.keypoints, batch.seen,
                                        batch.intrinsics, steps)
            kp = torch.as_tensor(model.keypoint_body(layout)(rot.double().numpy(),
                                                             betas.double().numpy())).float()
            if dims == 3:
                kp = kp - kp.mean(1, keepdim=True) + batch.keypoints.mean(1, keepdim=True)
                errors.append(float((kp - batch.keypoints).norm(dim=-1).mean()))
            else:
                cam = kp + trans[:, None]
                f, c = batch.intrinsics[:, None, :1], batch.intrinsics[:, None, 1:]
                pixels = f * cam[..., :2] / cam[..., 2:] + c
                errors.append(float((pixels - batch.keypoints).norm(dim=-1).mean()))
        assert errors[1] < 0.5 * errors[0], (layout, errors)


def test_a_weight_soup_is_the_files_mean_and_loads(tmp_path: Path, capsys) -> None:
    """`studio train smplr-soup` averages every floating tensor (batch-norm statistics
    too), keeps each file's training facts, loads as a model; files of another
    architecture, a single file or a file that is not weights are one clear line."""
    paths = []
    for seed, hidden in ((1, 32), (2, 32), (3, 64)):
        config = SMPLRConfig(dims=2, layouts="coco17", hidden=hidden, seed=seed)
        torch.manual_seed(seed)
        net, _ = build(config)
        with torch.no_grad():
            for name, buf in net.named_buffers():
                if name.endswith("running_mean"):
                    buf.normal_()
        paths.append(tmp_path / f"w{seed}.pt")
        save_weights(paths[-1], net, config, {"steps": seed})
    out = tmp_path / "soup.pt"
    assert main(["train", "smplr-soup", str(paths[0]), str(paths[1]), "--out", str(out)]) == 0
    soup, a, b = (read_smplr_file(p) for p in (out, paths[0], paths[1]))
    for key, value in soup["state_dict"].items():
        if value.is_floating_point():
            mean = (a["state_dict"][key].float() + b["state_dict"][key].float()) / 2
            assert torch.allclose(value.float(), mean, atol=2e-3), key
    assert [f["steps"] for f in soup["soup_of"]] == [1, 2] and "train_config" not in soup
    model = load_smplr("coco17", 2, path=out)
    assert model.layouts == ("coco17",)
    capsys.readouterr()
    for bad, code in (([paths[0]], 2), ([paths[0], paths[2]], 2), ([paths[0], tmp_path], 3)):
        assert main(["train", "smplr-soup", *map(str, bad), "--out",
                     str(tmp_path / "bad.pt")]) == code
        assert capsys.readouterr().err.count("\n") == 1
    assert not (tmp_path / "bad.pt").exists()
